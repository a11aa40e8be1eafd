/**
 * The recover and detach calls of the worker life cycle (BuddyAllocator,
 * SlabCache, Arena) under bad arguments: a typed error naming the argument,
 * the buffer byte-identical; and on a memory that holds no such layer, a
 * HeapCorruptionError, not a write somewhere.
 */
import { describe, expect, it } from 'vitest';
import {
  Arena,
  BuddyAllocator,
  HeapCorruptionError,
  InvalidArgumentError,
  Memory,
  SlabCache,
} from '../../src/index.js';

const BAD_SLOTS: unknown[] = [
  0,
  -1,
  1.5,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  32,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  '1',
  1n,
  null,
  undefined,
  { valueOf: () => 1 },
  [1],
  true,
];

function heaps() {
  const memory = Memory.create({ bytes: 1 << 20, shared: true });
  const buddy = new BuddyAllocator({ memory, pageSize: 1024 });
  new SlabCache(buddy, { name: 'obj', size: 32 });
  const arena = new Arena({ bytes: 4096, shared: true });
  return { memory, arena };
}

describe.each([
  ['BuddyAllocator', BuddyAllocator.recover, false],
  ['SlabCache', SlabCache.recover, false],
  ['Arena', Arena.recover, true],
] as const)('%s.recover', (_name, recover, onArena) => {
  it('a bad slot: InvalidArgumentError naming slot, nothing changed', () => {
    const { memory, arena } = heaps();
    const m = onArena ? arena.memory : memory;
    const before = Uint8Array.from(m.u8);
    for (const slot of BAD_SLOTS) {
      let err: unknown;
      try {
        recover(m, slot as number);
      } catch (e) {
        err = e;
      }
      expect(err, String(slot)).toBeInstanceOf(InvalidArgumentError);
      expect((err as InvalidArgumentError).argument).toBe('slot');
    }
    expect(Buffer.compare(m.u8, before)).toBe(0);
  });

  it('not a Memory: InvalidArgumentError naming memory', () => {
    for (const bad of [null, undefined, {}, new SharedArrayBuffer(64), 1, 'x']) {
      let err: unknown;
      try {
        recover(bad as Memory, 1);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as InvalidArgumentError).argument).toBe('memory');
    }
  });

  it('a memory without that layer: HeapCorruptionError, the memory unchanged', () => {
    const m = Memory.create({ bytes: 1 << 16, shared: true });
    const before = Uint8Array.from(m.u8);
    expect(() => recover(m, 1)).toThrow(HeapCorruptionError);
    expect(Buffer.compare(m.u8, before)).toBe(0);
  });

  it('a slot that is not joined and holds nothing: false, nothing changed', () => {
    const { memory, arena } = heaps();
    const m = onArena ? arena.memory : memory;
    const before = Uint8Array.from(m.u8);
    expect(recover(m, 5)).toBe(false);
    expect(Buffer.compare(m.u8, before)).toBe(0);
  });
});

describe('detach', () => {
  it('gives the slot back once; the maker and unshared instances have none to give', () => {
    const { memory, arena } = heaps();
    const b = BuddyAllocator.attach(memory);
    const c = SlabCache.attach(memory);
    const a = Arena.attach(arena.memory);
    expect(memory.u32[12]).toBe((1 << b.slot) | (1 << c.workerSlot));
    b.detach();
    c.detach();
    a.detach();
    b.detach();
    expect(memory.u32[12]).toBe(0);
    expect(arena.memory.u32[12]).toBe(0);
    const plain = new BuddyAllocator({ pages: 8 });
    const copy = BuddyAllocator.attach(plain.memory!);
    expect(copy.slot).toBe(0);
    copy.detach(); // nothing joined: nothing to give back
    expect(plain.memory!.u32[12]).toBe(0);
  });
});
