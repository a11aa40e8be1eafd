/**
 * Per-worker active slabs, in one thread: two instances attached to one
 * cache in a shared Memory each hold a worker slot, so each allocates from
 * its own active slab; a free of the other's object goes on that slab's
 * remote-free list, which the owner takes back when its freelist runs dry.
 * (test/workers/slab-stress.test.ts runs the same with real workers.)
 */
import { describe, expect, it } from 'vitest';
import { BuddyAllocator, DoubleFreeError, Memory, SlabCache } from '../../src/index.js';
import { H_WORKERS } from '../../src/memory/header.js';

function setup() {
  const memory = Memory.create({ bytes: 1 << 20, shared: true });
  const buddy = new BuddyAllocator({ memory, pageSize: 1024 });
  const cache = new SlabCache(buddy, { name: 'obj', size: 40, minEmpty: 0 });
  const fresh = buddy.freeCounts();
  const a = SlabCache.attach(memory, { name: 'obj' });
  const b = SlabCache.attach(memory, { name: 'obj' });
  return { memory, buddy, cache, fresh, a, b };
}

function slabOf(cache: SlabCache, addr: number): number {
  return addr - ((addr - cache.buddy.base) % (cache.buddy.pageSize << cache.order));
}

describe('SlabCache per-worker active slabs', () => {
  it('each worker allocates from its own slab; remote frees come back to the owner', () => {
    const { memory, buddy, cache, fresh, a, b } = setup();
    expect(a.workerSlot).not.toBe(b.workerSlot);
    const perSlab = a.objectsPerSlab;
    const fromA = Array.from({ length: perSlab }, () => a.alloc());
    const fromB = Array.from({ length: 3 }, () => b.alloc());
    const slabA = slabOf(a, fromA[0]!);
    expect(fromA.every((p) => slabOf(a, p) === slabA)).toBe(true); // one active slab, filled
    expect(fromB.every((p) => slabOf(b, p) !== slabA)).toBe(true); // b has its own
    expect(a.stats().slabs).toBe(2); // both active slabs are counted
    expect(a.stats().activeObjects).toBe(perSlab + 3);
    cache.checkInvariants();

    // b frees half of a's objects: they go on a's slab's remote list, not to b
    const half = fromA.splice(0, perSlab >> 1);
    for (const p of half) b.free(p);
    for (const p of half) expect(a.isAllocated(p)).toBe(false);
    expect(() => b.free(half[0]!)).toThrow(DoubleFreeError); // a second free of one on the remote list
    expect(() => a.free(half[1]!)).toThrow(DoubleFreeError); // also from the owner
    // a's slab is full locally: its next allocs take the remote list back, in the same slab
    const again = Array.from({ length: half.length }, () => a.alloc());
    expect(new Set(again)).toEqual(new Set(half));
    expect(again.every((p) => slabOf(a, p) === slabA)).toBe(true);
    const next = a.alloc(); // now it needs a new slab
    expect(slabOf(a, next)).not.toBe(slabA);
    cache.checkInvariants();

    for (const p of [...fromA, ...again, next]) (p % 2 === 0 ? a : b).free(p);
    for (const p of fromB) a.free(p);
    // objects freed by the other worker may wait on remote lists: they are not counted as in use
    expect(a.stats().activeObjects).toBe(0);
    a.detach();
    b.detach();
    a.detach(); // idempotent
    expect(cache.stats().activeObjects).toBe(0);
    expect(memory.u32[H_WORKERS]).toBe(0);
    cache.checkInvariants();
    cache.shrink();
    expect(cache.stats().slabs).toBe(0);
    expect(buddy.freeCounts()).toEqual(fresh);
  });

  it('recover gives a dead worker its slot back and puts its active slab back on a list', () => {
    const { memory, buddy, cache, fresh, a, b } = setup();
    const kept = [a.alloc(), a.alloc()];
    const mine = b.alloc();
    b.free(mine); // b's active slab is empty, still b's
    expect(cache.stats().slabs).toBe(2);
    // b "dies": recover takes its slab back (empty: to the buddy) and frees its slot
    expect(SlabCache.recover(memory, b.workerSlot)).toBe(false); // it held no lock
    expect(memory.u32[H_WORKERS]).toBe(1 << a.workerSlot);
    expect(cache.stats().slabs).toBe(1);
    cache.checkInvariants();
    for (const p of kept) cache.free(p); // freed by the maker: a remote free to a's slab
    a.detach();
    cache.shrink();
    expect(cache.stats().slabs).toBe(0);
    expect(buddy.freeCounts()).toEqual(fresh);
  });

  it('a free into a full slab of its own while the active slab is dry makes that slab the active one', () => {
    const { buddy, cache, fresh, a, b } = setup();
    const per = a.objectsPerSlab;
    const objs = Array.from({ length: 3 * per }, () => a.alloc()); // three full slabs, the last one active
    const slabs = [0, 1, 2].map((i) => slabOf(a, objs[i * per]!));
    expect(new Set(slabs).size).toBe(3);
    // b frees one of the active slab's objects: it waits on that slab's remote list
    const remote = objs[2 * per]!;
    b.free(remote);
    // a frees into its first slab (full): the active slab has nothing on its freelist, so the
    // first slab becomes the active one, and the next alloc is the object just freed
    a.free(objs[0]!);
    cache.checkInvariants();
    expect(a.alloc()).toBe(objs[0]);
    // again into the second slab, twice: the second free leaves the active one alone
    a.free(objs[per]!);
    a.free(objs[per + 1]!);
    cache.checkInvariants();
    const got = [a.alloc(), a.alloc()];
    expect(new Set(got)).toEqual(new Set([objs[per], objs[per + 1]]));
    // every slab of a's is full locally now: the next alloc finds the remote free on the old
    // active slab (switchActive's walk), not a new slab
    const made = cache.stats().slabsMade;
    expect(a.alloc()).toBe(remote);
    expect(cache.stats().slabsMade).toBe(made);
    const fresher = a.alloc(); // then a new slab
    expect(slabs).not.toContain(slabOf(a, fresher));
    cache.checkInvariants();
    const live = [...objs.filter((p) => p !== objs[per + 2]), fresher];
    a.free(objs[per + 2]!);
    expect(() => a.free(objs[per + 2]!)).toThrow(DoubleFreeError);
    for (const p of live) (p % 3 === 0 ? b : a).free(p);
    expect(cache.stats().activeObjects).toBe(0);
    a.detach();
    b.detach();
    cache.checkInvariants();
    cache.shrink();
    expect(buddy.freeCounts()).toEqual(fresh);
  });

  it('the window loop of bench/workers-layers switches no active slab on alloc in steady state', () => {
    // each step frees a random object of a window of live ones and allocates one: the free
    // into a full slab of its own while the active one is dry makes it active (no list walk)
    const { cache, a } = setup();
    const proto = SlabCache.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
    const switchActive = proto.switchActive!;
    let walks = 0;
    proto.switchActive = function (this: unknown, ...args: unknown[]) {
      walks++;
      return switchActive.apply(this, args);
    };
    try {
      const win = new Array<number>(64).fill(0);
      let seed = 12345;
      for (let i = 0; i < 20_000; i++) {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        const s = (seed >>> 16) & 63;
        if (win[s] !== 0) a.free(win[s]!);
        if (i === 1000) walks = 0; // the warm-up took slabs
        win[s] = a.alloc();
      }
      expect(walks).toBe(0);
      expect(cache.stats().activeObjects).toBe(64);
      cache.checkInvariants();
    } finally {
      proto.switchActive = switchActive;
    }
  });
});
