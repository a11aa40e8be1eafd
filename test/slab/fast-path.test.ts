/**
 * The unshared fast path of SlabCache.alloc/free (a partial slab's freelist
 * popped and pushed in the method itself, everything else handed to the
 * general path) and its grid check without a division (a multiply by the
 * stride's odd inverse, then a rotate: onStride). Each refusal must leave
 * the buffer byte-identical; each accepted free must be undone by an alloc.
 */
import { describe, expect, it } from 'vitest';
import { BuddyAllocator, DoubleFreeError, InvalidArgumentError, InvalidFreeError, SlabCache } from '../../src/index.js';

/** The class name of what `f` throws ('' when it returns). */
function refusal(f: () => void): string {
  try {
    f();
  } catch (e) {
    return (e as Error).constructor.name;
  }
  return '';
}

const bytes = (b: BuddyAllocator) => Buffer.from(new Uint8Array(b.memory!.buffer).slice(0));

// Strides: powers of two, odd multiples of 8, a large odd factor, one past a page (order 1).
const SIZES = [8, 24, 40, 48, 64, 72, 96, 136, 200, 1000, 2056, 4104];

describe('SlabCache fast path: the grid check (onStride) against a division', () => {
  for (const size of SIZES) {
    it(`size ${size}: every interior address of a live object is refused, state unchanged`, () => {
      const buddy = new BuddyAllocator({ pages: 64 });
      const cache = new SlabCache(buddy, { name: `g${size}`, size });
      const stride = cache.stride;
      // Three live objects on one partial slab (the fast path's case), when the slab holds more than 3.
      const objs = [cache.alloc(), cache.alloc(), cache.alloc()];
      const before = bytes(buddy);
      const offsets = new Set<number>([1, 2, 4, 7, 8, stride - 8, stride - 1, stride >> 1, stride + 8]);
      for (let i = 0; i < 40; i++) offsets.add(1 + (((i * 2654435761) >>> 0) % (stride - 1)));
      for (const a of objs) {
        for (const d of offsets) {
          const addr = a + d;
          // addr + stride (d = stride) is the next object: skip the starts of live or free objects
          if ((addr - objs[0]!) % stride === 0) continue;
          expect(() => cache.free(addr), `free(${addr}) = obj + ${d}`).toThrow(InvalidFreeError);
        }
        for (const bad of [a + 0.5, a - 0.5, a + 2 ** 32, -a, a + 2 ** 53]) {
          expect(
            refusal(() => cache.free(bad)),
            `free(${bad})`,
          ).toMatch(/^(InvalidArgumentError|InvalidFreeError)$/);
        }
      }
      expect(bytes(buddy).equals(before)).toBe(true);
      for (const a of objs) cache.free(a);
      cache.checkInvariants();
      expect(cache.stats().activeObjects).toBe(0);
    });
  }

  it('random whole-number addresses that are no live object start are refused, state unchanged', () => {
    // The check is private; free() of rel = slot offsets inside a slab exercises it above.
    // Here: whole-number addresses far outside any slab must still be refused by the range check.
    const buddy = new BuddyAllocator({ pages: 16 });
    const cache = new SlabCache(buddy, { name: 'r', size: 48 });
    const a = cache.alloc();
    cache.alloc();
    const before = bytes(buddy);
    let seed = 7;
    for (let i = 0; i < 2000; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const addr = seed;
      if (addr >= a && (addr - a) % cache.stride === 0 && addr < a + 2 * cache.stride) continue;
      expect(() => cache.free(addr)).toThrow(/Invalid object pointer|never allocated|already free/);
    }
    expect(bytes(buddy).equals(before)).toBe(true);
  });
});

describe('SlabCache fast path: refusals and list moves', () => {
  it('a double free, a never-allocated slot and a non-number are refused with the state unchanged', () => {
    const buddy = new BuddyAllocator({ pages: 16 });
    const cache = new SlabCache(buddy, { name: 'd', size: 64 });
    const a = cache.alloc();
    const b = cache.alloc();
    cache.free(b);
    const before = bytes(buddy);
    expect(() => cache.free(b)).toThrow(DoubleFreeError);
    // slots past the first EXTEND_SLOTS (16) have never been put on the freelist
    expect(() => cache.free(a + 40 * cache.stride)).toThrow(/never allocated/);
    for (const bad of ['1', null, undefined, { valueOf: () => a }, [a], 10n, true, Number.NaN, -0.5]) {
      expect(() => cache.free(bad as unknown as number)).toThrow(InvalidArgumentError);
    }
    expect(bytes(buddy).equals(before)).toBe(true);
    cache.free(a);
    cache.checkInvariants();
  });

  it('pairs, fills and drains go through the fast and the general path and keep the lists right', () => {
    const buddy = new BuddyAllocator({ pages: 64 });
    const cache = new SlabCache(buddy, { name: 'f', size: 64 });
    const per = cache.objectsPerSlab;
    const live: number[] = [];
    let seed = 3;
    for (let step = 0; step < 6000; step++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const r = seed % 100;
      if (r < 55 || live.length === 0) {
        const p = cache.alloc();
        expect(live.includes(p)).toBe(false);
        new Uint32Array(buddy.memory!.buffer, p, 2).set([p, ~p >>> 0]); // a payload in the free-pointer words
        live.push(p);
      } else {
        const i = seed % live.length;
        const p = live[i]!;
        const w = new Uint32Array(buddy.memory!.buffer, p, 2);
        expect([w[0], w[1]]).toEqual([p, ~p >>> 0]);
        live.splice(i, 1);
        cache.free(p);
      }
      if (step % 500 === 0) cache.checkInvariants();
    }
    expect(cache.stats().activeObjects).toBe(live.length);
    expect(cache.stats().slabs).toBeGreaterThan(2); // it crossed slab boundaries (full and empty moves)
    for (const p of live) cache.free(p);
    cache.shrink();
    cache.checkInvariants();
    expect(cache.stats().slabs).toBe(0);
    expect(per).toBe(64);
  });
});
