/**
 * SlabCache beyond hardening.test.ts's argument gate: addresses of the wrong
 * kind (another cache's object, an interior one, a slab's first byte under
 * red zones, a free page, a raw buddy page, the page past the heap), ctors
 * and forEachSlab callbacks that throw or re-enter, attach with contradicting
 * or odd names and ids, and a damaged lock word. Each refused call is a
 * MemkitError and leaves the bytes (or the stats) as they were.
 */
import { describe, expect, it } from 'vitest';
import {
  BuddyAllocator,
  HeapCorruptionError,
  InvalidArgumentError,
  InvalidFreeError,
  MemkitError,
  Memory,
  OutOfMemoryError,
  SlabCache,
} from '../../src/index.js';

const bytes = (m: Memory) => Buffer.from(m.u8.slice());
const MODES = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
] as const;
function buddyFor(shared: boolean, pages = 64): BuddyAllocator {
  return shared
    ? new BuddyAllocator({ memory: Memory.create({ bytes: (pages + 8) * 4096, shared: true }), pageSize: 4096 })
    : new BuddyAllocator({ pages });
}

describe('SlabCache: addresses of the wrong kind', () => {
  for (const [shared, debug] of MODES) {
    it(`shared=${shared} debug=${debug}: free / freeBulk / isAllocated / freeObjects refuse each, nothing changed`, () => {
      const buddy = buddyFor(shared);
      const a = new SlabCache(buddy, { name: 'a', size: 48, debug });
      const b = new SlabCache(buddy, { name: 'b', size: 48 });
      const rz = new SlabCache(buddy, { name: 'rz', size: 48, debug: { redZone: true } });
      const oa = [a.alloc(), a.alloc(), a.alloc()];
      const ob = b.alloc();
      rz.alloc();
      const slabs: number[] = [];
      a.forEachSlab((s) => slabs.push(s));
      const rzSlabs: number[] = [];
      rz.forEachSlab((s) => rzSlabs.push(s));
      const raw = buddy.allocPages(1);
      const freePage = buddy.allocPages(1);
      buddy.free(freePage);
      const m = buddy.memory!;
      const ps = buddy.pageSize;
      const wrong: Array<[string, number]> = [
        ["another cache's object", ob],
        ['an interior address', oa[0]! + 4],
        ['one past the object grid', slabs[0]! + a.objectsPerSlab * a.stride],
        ['the last word of the slab', slabs[0]! + (1 << a.order) * ps - 4],
        ["a red-zone slab's first byte", rzSlabs[0]!],
        ['a free page', freePage],
        ['a raw buddy page', raw],
        ['the page past the heap', buddy.base + buddy.maxPages * ps],
        ['the last byte of the buffer', m.byteLength - 1],
        ['the memkit header', 0],
      ];
      const before = bytes(m);
      const stats = JSON.stringify([a.stats(), b.stats(), rz.stats()]);
      for (const [label, x] of wrong) {
        for (const [name, call] of [
          ['free', () => a.free(x)],
          ['freeBulk', () => a.freeBulk([oa[1]!, x])],
          ['freeObjects', () => a.freeObjects(x)],
        ] as const) {
          let err: unknown;
          try {
            call();
          } catch (e) {
            err = e;
          }
          expect(err, `${name}(${label})`).toBeInstanceOf(
            name === 'freeObjects' ? InvalidArgumentError : InvalidFreeError,
          );
        }
        expect(a.isAllocated(x), label).toBe(false);
      }
      expect(() => rz.free(rzSlabs[0]!)).toThrow(InvalidFreeError);
      expect(bytes(m).equals(before)).toBe(true);
      expect(JSON.stringify([a.stats(), b.stats(), rz.stats()])).toBe(stats);
      for (const c of [a, b, rz]) c.checkInvariants();
    });
  }
});

describe('SlabCache: ctors and callbacks that throw or re-enter', () => {
  for (const [shared, debug] of MODES) {
    it(`shared=${shared} debug=${debug}: a ctor that throws leaves no slab behind (the pages go back to the buddy)`, () => {
      const buddy = buddyFor(shared);
      let n = 0;
      let fail = -1;
      const c = new SlabCache(buddy, {
        name: 'ct',
        size: 64,
        debug,
        ctor: () => {
          if (n++ === fail) throw new Error('ctor failed');
        },
      });
      c.alloc(); // the slab space and one slab
      const free = buddy.freePages;
      const stats = JSON.stringify(c.stats());
      fail = n + 3;
      const rest = c.objectsPerSlab - 1;
      expect(() => {
        for (let i = 0; i <= rest; i++) c.alloc();
      }).toThrow('ctor failed');
      c.checkInvariants();
      expect(buddy.freePages).toBe(free);
      expect(c.stats().slabs).toBe(1);
      expect(c.stats().activeObjects).toBe(1 + rest);
      void stats;
      // allocBulk needing three new slabs, the ctor failing on the second: all or nothing
      const live = c.stats();
      fail = n + c.objectsPerSlab + 5;
      expect(() => c.allocBulk(3 * c.objectsPerSlab, new Uint32Array(3 * c.objectsPerSlab))).toThrow('ctor failed');
      c.checkInvariants();
      expect(buddy.freePages).toBe(free);
      expect(c.stats()).toEqual(live);
      fail = -1;
      expect(c.alloc()).toBeGreaterThan(0);
      c.checkInvariants();
    });

    it(`shared=${shared} debug=${debug}: a ctor that allocates from its own cache gets a MemkitError and leaks nothing`, () => {
      const buddy = buddyFor(shared, 64);
      const c: SlabCache = new SlabCache(buddy, { name: 'rec', size: 64, debug, ctor: () => void c.alloc() });
      const other = new SlabCache(buddy, { name: 'other', size: 64 });
      other.alloc();
      const free = buddy.freePages;
      expect(() => c.alloc()).toThrow(MemkitError);
      c.checkInvariants();
      expect(buddy.freePages).toBe(free);
      expect(c.stats().slabs).toBe(0);
    });

    it(`shared=${shared} debug=${debug}: forEachSlab with a callback that throws, allocates or frees mid-walk`, () => {
      const buddy = buddyFor(shared);
      const c = new SlabCache(buddy, { name: 'walk', size: 500, debug });
      const objs = Array.from({ length: 20 }, () => c.alloc());
      expect(() =>
        c.forEachSlab(() => {
          throw new Error('visitor');
        }),
      ).toThrow('visitor');
      // the lock (shared) was let go: the next calls go on
      c.free(objs.pop()!);
      let visits = 0;
      c.forEachSlab(() => {
        visits++;
        objs.push(c.alloc(), c.alloc());
      });
      expect(visits).toBeGreaterThan(0);
      expect(visits).toBeLessThan(64);
      c.forEachSlab((s) => {
        for (const o of objs.splice(0, 3)) c.free(o);
        c.shrink();
        void s;
      });
      c.checkInvariants();
      for (const o of objs) c.free(o);
      c.checkInvariants();
      expect(c.stats().activeObjects).toBe(0);
    });
  }
});

describe('SlabCache.attach: names and ids', () => {
  const world = () => {
    const buddy = new BuddyAllocator({ pages: 64 });
    new SlabCache(buddy, { name: 'a', size: 48 }).alloc();
    new SlabCache(buddy, { name: 'b', size: 64 }).alloc();
    new SlabCache(buddy, { name: 'x'.repeat(100), size: 64 });
    new SlabCache(buddy, { name: '', size: 64 });
    return buddy.memory!;
  };
  it('an id and a name that name two different caches: InvalidArgumentError naming id (name used to win silently)', () => {
    const m = world();
    const before = bytes(m);
    expect(() => SlabCache.attach(m, { id: 0, name: 'b' })).toThrow(InvalidArgumentError);
    expect(SlabCache.attach(m, { id: 1, name: 'b' }).name).toBe('b');
    expect(bytes(m).equals(before)).toBe(true);
  });
  it('names that are no cache: InvalidArgumentError naming name; an id past the caches: HeapCorruptionError', () => {
    const m = world();
    const before = bytes(m);
    for (const name of ['A', 'a ', 'a\u0000', '\ud800', 'b'.repeat(10000), 'x'.repeat(101)]) {
      expect(() => SlabCache.attach(m, { name }), JSON.stringify(name.slice(0, 10))).toThrow(InvalidArgumentError);
    }
    for (const id of [4, 5, 63]) expect(() => SlabCache.attach(m, { id })).toThrow(HeapCorruptionError);
    expect(SlabCache.attach(m, { name: '' }).id).toBe(3);
    expect(bytes(m).equals(before)).toBe(true);
  });
  it('attach to a memory with no slab space, no header, a detached buffer: typed errors', () => {
    const buddy = new BuddyAllocator({ pages: 16 });
    expect(() => SlabCache.attach(buddy.memory!)).toThrow(HeapCorruptionError);
    expect(() => SlabCache.attach(Memory.create({ bytes: 4096 }))).toThrow(MemkitError);
    expect(() => SlabCache.attach(Memory.create({ bytes: 0 }))).toThrow(MemkitError);
    const ab = new ArrayBuffer(1 << 16);
    const m = Memory.wrap(ab);
    structuredClone(ab, { transfer: [ab] });
    expect(() => SlabCache.attach(m)).toThrow(MemkitError);
  });
});

describe('SlabCache on a shared memory: a damaged lock word', () => {
  for (const v of [0xffffffff, 0x7fffffff, 0x40000000, 1000, 0x40000]) {
    it(`lock word ${v}: HeapCorruptionError from every locking call, not a hang`, () => {
      const buddy = buddyFor(true);
      const c = new SlabCache(buddy, { name: 'l', size: 48, debug: true });
      const a = c.alloc();
      c.memory.u32[c.c] = v;
      const before = bytes(c.memory);
      for (const call of [
        () => c.alloc(),
        () => c.free(a),
        () => c.shrink(),
        () => c.stats(),
        () => SlabCache.attach(c.memory),
      ]) {
        expect(call).toThrow(HeapCorruptionError);
      }
      expect(bytes(c.memory).equals(before)).toBe(true);
    });
  }
  it('OutOfMemoryError is still what a full buddy gives', () => {
    const c = new SlabCache(buddyFor(true, 32), { name: 'full', size: 4000 });
    expect(() => {
      for (;;) c.alloc();
    }).toThrow(OutOfMemoryError);
  });
});
