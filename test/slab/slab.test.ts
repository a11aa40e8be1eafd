import { describe, expect, it } from 'vitest';
import {
  BuddyAllocator,
  DoubleFreeError,
  HeapCorruptionError,
  InvalidArgumentError,
  InvalidFreeError,
  OutOfMemoryError,
  SlabCache,
} from '../../src/index.js';

const make = (size = 64, extra: Partial<ConstructorParameters<typeof SlabCache>[1]> = {}) => {
  const buddy = new BuddyAllocator({ pages: 64 });
  const cache = new SlabCache(buddy, { name: 'test', size, ...extra });
  return { buddy, cache };
};

describe('SlabCache as on the slides', () => {
  it('alloc returns the first free object; free pushes it on the front of the free list', () => {
    const { cache } = make(64);
    const a = cache.alloc();
    const b = cache.alloc();
    expect(b - a).toBe(64); // a new slab's freelist runs in address order
    const slab = a; // the first object starts the slab
    cache.free(a);
    expect(cache.freeObjects(slab)[0]).toBe(a); // pushed on the front
    expect(cache.alloc()).toBe(a); // and handed out first
  });

  it('moves slabs between partial, full and empty lists', () => {
    const { cache } = make(1024); // 4 objects per 4 KiB slab
    expect(cache.objectsPerSlab).toBe(4);
    const objs = [0, 1, 2].map(() => cache.alloc());
    expect(cache.stats()).toMatchObject({ partialSlabs: 1, fullSlabs: 0, emptySlabs: 0, activeObjects: 3 });
    objs.push(cache.alloc());
    expect(cache.stats()).toMatchObject({ partialSlabs: 0, fullSlabs: 1 });
    const fifth = cache.alloc(); // a second slab
    expect(cache.stats()).toMatchObject({ partialSlabs: 1, fullSlabs: 1, slabs: 2 });
    cache.free(objs[0]!); // full -> partial
    expect(cache.stats()).toMatchObject({ partialSlabs: 2, fullSlabs: 0 });
    cache.free(fifth); // partial -> empty: another partial slab remains, so it goes back to the buddy
    expect(cache.stats()).toMatchObject({ partialSlabs: 1, emptySlabs: 0, slabs: 1 });
    for (const o of objs.slice(1)) cache.free(o); // the last slab empties: kept (minEmpty 1) for the next alloc
    expect(cache.stats()).toMatchObject({ partialSlabs: 0, emptySlabs: 1, slabs: 1, activeObjects: 0 });
    expect(cache.shrink()).toBe(1);
    expect(cache.stats().slabs).toBe(0);
  });

  it('free finds the slab of an object in a multi-page slab by address arithmetic', () => {
    const { cache } = make(3000, { order: 2 }); // 4-page slabs, 5 objects
    const objs = Array.from({ length: 5 }, () => cache.alloc());
    for (const o of objs.reverse()) cache.free(o);
    expect(cache.stats().activeObjects).toBe(0);
  });

  it('runs ctor once per object when a slab is made', () => {
    const seen: number[] = [];
    const buddy = new BuddyAllocator({ pages: 16 });
    const cache = new SlabCache(buddy, {
      name: 'ctor',
      size: 256,
      ctor: (a) => {
        seen.push(a);
        buddy.memory!.u32[a >> 2] = 0xc0ffee;
      },
    });
    const a = cache.alloc();
    expect(seen.length).toBe(cache.objectsPerSlab);
    expect(buddy.memory!.u32[a >> 2]).toBe(0xc0ffee);
    cache.free(a);
    const again = cache.alloc();
    expect(buddy.memory!.u32[again >> 2]).toBe(0xc0ffee); // the free pointer lives outside the object
    expect(seen.length).toBe(cache.objectsPerSlab);
  });

  it('allocBulk is all or nothing; freeBulk frees', () => {
    const buddy = new BuddyAllocator({ pages: 8 });
    const cache = new SlabCache(buddy, { name: 'bulk', size: 512 });
    const out = new Uint32Array(100); // more than the 8 pages hold
    expect(() => cache.allocBulk(100, out)).toThrow(OutOfMemoryError);
    expect(cache.stats().activeObjects).toBe(0);
    expect(cache.allocBulk(8, out)).toBe(8);
    expect(new Set(out.subarray(0, 8)).size).toBe(8);
    cache.freeBulk(out, 8);
    expect(cache.stats().activeObjects).toBe(0);
  });

  it('prints a /proc/slabinfo row', () => {
    const { cache } = make(96);
    cache.alloc();
    expect(cache.slabinfoRow()).toBe(
      'test                   1     42     96   42    1 : tunables    0    0    0 : slabdata      1      1      0',
    );
  });

  it('out of memory leaves the cache usable', () => {
    const buddy = new BuddyAllocator({ pages: 8 });
    const cache = new SlabCache(buddy, { name: 'oom', size: 1024, order: 0 });
    const objs: number[] = [];
    for (;;) {
      try {
        objs.push(cache.alloc());
      } catch (e) {
        expect(e).toBeInstanceOf(OutOfMemoryError);
        break;
      }
    }
    expect(objs.length % 4).toBe(0);
    const before = JSON.stringify(cache.stats());
    expect(() => cache.alloc()).toThrow(OutOfMemoryError);
    expect(JSON.stringify(cache.stats())).toBe(before);
    cache.free(objs[0]!);
    expect(cache.alloc()).toBe(objs[0]);
  });
});

describe('bad input: the typed error, and the cache unchanged', () => {
  const state = (c: SlabCache) => JSON.stringify(c.stats()) + Buffer.from(c.memory.u8).toString('base64');

  it('double free: "Object already free"', () => {
    const { cache } = make(64);
    const a = cache.alloc();
    cache.alloc();
    cache.free(a);
    const before = JSON.stringify(cache.stats());
    expect(() => cache.free(a)).toThrow(DoubleFreeError);
    expect(() => cache.free(a)).toThrow(/Object already free/);
    expect(JSON.stringify(cache.stats())).toBe(before);
  });

  it('interior and foreign pointers: "Invalid object pointer"', () => {
    const { buddy, cache } = make(64);
    const a = cache.alloc();
    const other = new SlabCache(buddy, { name: 'other', size: 64 });
    const b = other.alloc();
    const before = state(cache);
    expect(() => cache.free(a + 8)).toThrow(/Invalid object pointer/);
    expect(() => cache.free(b)).toThrow(InvalidFreeError);
    expect(() => cache.free(0)).toThrow(InvalidFreeError);
    expect(() => cache.free(1 << 30)).toThrow(InvalidFreeError);
    expect(state(cache)).toBe(before);
    cache.free(a);
  });

  it('a slot of a new slab that was never handed out is not an object yet', () => {
    const { cache } = make(64);
    const a = cache.alloc();
    const before = JSON.stringify(cache.stats());
    expect(() => cache.free(a + 64 * 40)).toThrow(/never allocated/);
    expect(cache.isAllocated(a + 64 * 40)).toBe(false);
    expect(JSON.stringify(cache.stats())).toBe(before);
    // the freelist is built lazily, but every slot is still handed out exactly once
    const all = new Set([a]);
    for (let i = 1; i < cache.objectsPerSlab; i++) all.add(cache.alloc());
    expect(all.size).toBe(cache.objectsPerSlab);
    expect(cache.stats()).toMatchObject({ slabs: 1, fullSlabs: 1 });
  });

  it('bad sizes and alignments', () => {
    const buddy = new BuddyAllocator({ pages: 16 });
    for (const size of [0, -1, 1.5, NaN, Infinity]) {
      expect(() => new SlabCache(buddy, { name: 'x', size })).toThrow(InvalidArgumentError);
    }
    expect(() => new SlabCache(buddy, { name: 'x', size: 8, align: 12 })).toThrow(InvalidArgumentError);
    expect(() => new SlabCache(new BuddyAllocator({ pages: 4, offsetsOnly: true }), { name: 'x', size: 8 })).toThrow(
      InvalidArgumentError,
    );
  });
});

describe('debug checks (the cases of slub_kunit)', () => {
  const dbg = () => make(64, { debug: true });

  it('right red zone overwritten', () => {
    const { cache } = dbg();
    const a = cache.alloc();
    cache.memory.u8[a + 64] = 0x12; // one byte past the object
    expect(() => cache.free(a)).toThrow(HeapCorruptionError);
    expect(() => cache.free(a)).toThrow(/test: Right Redzone overwritten/);
  });

  it('left red zone overwritten', () => {
    const { cache } = dbg();
    const a = cache.alloc();
    cache.memory.u8[a - 1] = 0x12;
    expect(() => cache.free(a)).toThrow(/Left Redzone overwritten/);
  });

  it('poison overwritten (use after free), caught on the next alloc', () => {
    const { cache } = dbg();
    const a = cache.alloc();
    cache.free(a);
    expect(cache.memory.u8[a]).toBe(0x6b);
    expect(cache.memory.u8[a + 63]).toBe(0xa5);
    cache.memory.u8[a + 10] = 0; // write after free
    expect(() => cache.alloc()).toThrow(/Poison overwritten in free object/);
  });

  it('free pointer corrupted, caught on alloc', () => {
    const { cache } = dbg();
    const a = cache.alloc();
    const b = cache.alloc();
    cache.free(b);
    cache.free(a); // freelist: a -> b -> ...
    const fpAddr = a - cache.objOffset + cache.fpOffset; // after the object and its right red zone
    cache.memory.u32[fpAddr >> 2] = cache.memory.u32[fpAddr >> 2]! ^ 0x40; // flip a bit of the stored pointer
    // taking a reads its corrupt pointer: caught before it is followed
    expect(() => cache.alloc()).toThrow(HeapCorruptionError);
    expect(() => cache.alloc()).toThrow(/test: Freepointer corrupt in object 0x[0-9a-f]+/);
    expect(cache.stats().activeObjects).toBe(0); // nothing was handed out
  });

  it('double free', () => {
    const { cache } = dbg();
    const a = cache.alloc();
    cache.free(a);
    expect(() => cache.free(a)).toThrow(/Object already free/);
  });

  it('hardened free pointers are stored encoded', () => {
    const { cache } = make(64, { debug: { hardened: true } });
    const a = cache.alloc();
    const b = cache.alloc();
    cache.free(b);
    cache.free(a); // a's free pointer holds b, encoded
    expect(cache.memory.u32[a >> 2]).not.toBe(b); // not the plain address
    expect(cache.alloc()).toBe(a);
    expect(cache.alloc()).toBe(b);
  });
});
