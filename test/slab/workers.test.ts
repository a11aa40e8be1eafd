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
});
