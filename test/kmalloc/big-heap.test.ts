/**
 * A 3 GiB heap: blocks of every tier at addresses past 2^31, where a page
 * number shifted left overflows a 32-bit int (it did, in free and in
 * giving pages back). Unshared and shared (an attached instance too).
 */
import { describe, expect, it } from 'vitest';
import { Kmalloc, Memory } from '../../src/index.js';

const GIB = 2 ** 30;

function exercise(k: Kmalloc, other: Kmalloc): void {
  const fresh = k.footprint();
  // A large block of most of the low 2 GiB first, so the blocks after it lie above 2^31.
  const big = k.kmalloc(2 * GIB - (64 << 20));
  const sizes = [8, 24, 64, 100, 512, 1000, 4096, 5000, 20_000, 70_000, 300_000];
  const blocks: Array<[number, number]> = [];
  for (let i = 0; i < 600; i++) {
    const size = sizes[i % sizes.length]!;
    const p = (i % 2 === 0 ? k : other).kmalloc(size);
    k.memory.sync();
    k.memory.u8.fill(i & 0xff, p, p + size);
    blocks.push([p, size]);
  }
  for (const size of sizes)
    expect(
      blocks.some(([p, s]) => s === size && p >= 2 ** 31),
      `a ${size} B block past 2^31`,
    ).toBe(true);
  k.checkInvariants();
  blocks.forEach(([p, size], i) => {
    k.memory.sync();
    expect(k.memory.u8.subarray(p, p + size).every((b) => b === (i & 0xff))).toBe(true);
    (i % 3 === 0 ? other : k).kfree(p); // some by the other instance: remote frees on a shared heap
  });
  k.kfree(big);
  if (other !== k) other.detach();
  k.shrink();
  k.checkInvariants();
  expect(k.footprint()).toBe(fresh);
}

describe('a 3 GiB heap', () => {
  it('unshared: blocks of every tier past 2^31 are freed, checked and given back', () => {
    const k = new Kmalloc({ memory: Memory.create({ bytes: 3 * GIB }) });
    exercise(k, k);
  });
  it('shared, with an attached instance: the same, with remote frees', () => {
    const memory = Memory.create({ bytes: 3 * GIB, shared: true });
    const k = new Kmalloc({ memory });
    exercise(k, Kmalloc.attach(Memory.wrap(memory.buffer)));
  });
});
