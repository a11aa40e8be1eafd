import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, InvalidFreeError, OutOfMemoryError } from '../../src/errors/index.js';
import { createThingAllocator } from '../../src/peers/thing.js';
import { ALLOCATORS, allocatorNames, createAllocator } from '../../src/trace/allocators.js';
import { parseTrace } from '../../src/trace/trace.js';
import { replay } from '../../src/trace/replay.js';

describe('ThingAllocator (@thi.ng/malloc MemPool)', () => {
  it('usableSize is the block minus its 8-byte header; footprint is top', async () => {
    const a = await createThingAllocator(1 << 16);
    const f0 = a.footprint();
    const p = a.alloc(100);
    expect(a.usableSize(p)).toBe(104);
    expect(a.footprint()).toBe(f0 + 112);
    const q = a.alloc(1);
    expect(a.usableSize(q)).toBe(8);
    a.free(q);
    expect(a.footprint()).toBe(f0 + 112); // top block freed: top goes back
    a.free(p);
    expect(a.footprint()).toBe(f0);
  });

  it('typed errors: unknown free, bad size, out of memory', async () => {
    const a = await createThingAllocator(0); // 1 MiB pool
    const p = a.alloc(16);
    expect(() => a.free(p + 8)).toThrow(InvalidFreeError);
    expect(() => a.alloc(-1)).toThrow(InvalidArgumentError);
    expect(() => a.alloc(1.5)).toThrow(InvalidArgumentError);
    expect(() => a.alloc(1 << 21)).toThrow(OutOfMemoryError);
    a.free(p);
  });
});

describe('allocator registry', () => {
  it('names the built-in allocators; unknown names are an InvalidArgumentError', async () => {
    expect(allocatorNames()).toEqual(expect.arrayContaining(['kmalloc', 'buddy', 'thing', 'tlsf']));
    for (const n of allocatorNames()) expect(ALLOCATORS[n]!.description.length).toBeGreaterThan(10);
    await expect(createAllocator('nope', 1000)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('every registered allocator that loads replays a small fuzzed trace, verified', async () => {
    const ops: string[] = [];
    const live: number[] = [];
    let next = 0;
    let seed = 7;
    const rnd = (n: number): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
    while (ops.length < 5000) {
      const k = rnd(10);
      if (k < 5 || live.length === 0) { ops.push(`a ${next} ${1 + (rnd(4) === 0 ? rnd(20000) : rnd(200))}`); live.push(next++); }
      else if (k < 8) { const j = rnd(live.length); ops.push(`f ${live[j]}`); live.splice(j, 1); }
      else ops.push(`r ${live[rnd(live.length)]} ${1 + rnd(3000)}`);
    }
    const t = parseTrace(`0\n${next}\n${ops.length}\n1\n${ops.join('\n')}\n`, 'fuzz.rep');
    for (const name of allocatorNames()) {
      let a;
      try {
        a = await createAllocator(name, 1 << 20);
      } catch (e) {
        // A peer whose build artefact is missing (tlsf.wasm) is skipped, loudly.
        console.warn(`skipping ${name}: ${(e as Error).message}`);
        continue;
      }
      const r = replay(t, a);
      expect(r.violation, name).toBeNull();
      expect(r.verified, name).toBe(true);
      expect(r.failures, name).toBe(0);
    }
  });
});
