/**
 * Batched remote frees (kmalloc.ts, PEND_ENTRIES): a free into another
 * worker's class page waits on the freer's pending chain of that page and is
 * published on the page's thread_free list with one compareExchange once the
 * chain is full, its entry is needed, or the freer takes a page, shrinks,
 * detaches or is recovered. Instances in one thread stand for workers; one
 * that is never used again stands for a worker that died between operations.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { DoubleFreeError, HeapCorruptionError, Kmalloc, Memory } from '../../src/index.js';

/** A shared heap, its maker and `n` attached instances (worker slots 1..n). */
function heap(n: number, bytes = 8 << 20) {
  const memory = Memory.create({ bytes, shared: true });
  const k0 = new Kmalloc({ memory, maxClass: 512 });
  const fresh = k0.buddy.freeCounts();
  const ks = Array.from({ length: n }, () => Kmalloc.attach(Memory.wrap(memory.buffer)));
  return { memory, k0, ks, fresh };
}

/** u32 indices of the words of the heap that hold `value`, outside the block at `value` itself. */
function wordsHolding(k: Kmalloc, value: number): number[] {
  const u32 = k.memory.u32;
  const out: number[] = [];
  for (let i = 0; i < u32.length; i++) if (u32[i] === value && (i < value >>> 2 || i >= (value >>> 2) + 2)) out.push(i);
  return out;
}

/** Everything freed by the maker, every worker gone: the buddy is a fresh heap's. */
function endsFresh(k0: Kmalloc, live: Iterable<number>, fresh: number[]): void {
  for (const p of live) k0.free(p);
  k0.checkInvariants();
  let blocks = 0;
  k0.forEachBlock(() => blocks++);
  expect(blocks).toBe(0);
  k0.shrink();
  k0.checkInvariants();
  expect(k0.footprint()).toBe(0);
  expect(k0.buddy.freeCounts()).toEqual(fresh);
}

describe('Kmalloc batched remote frees', () => {
  it("wait on the freer's chain (free, not yet reusable by the owner) until the chain is full, then come back to the owner", () => {
    const { k0, ks, fresh } = heap(1);
    const [k1] = ks as [Kmalloc];
    const cache = k0.caches.find((c) => c.size === 64)!;
    const per = cache.objectsPerSlab;
    const first = Array.from({ length: per }, () => k0.alloc(64)); // page P1, every slot handed out
    const batch = first.slice(0, 32); // a chain of 64 B blocks holds 32
    for (const p of batch.slice(0, 31)) k1.free(p);
    for (const p of batch.slice(0, 31)) expect(k0.isAllocated(p)).toBe(false);
    expect(cache.stats()).toMatchObject({ activeObjects: per - 31, slabs: 1 });
    k0.checkInvariants();
    // P1 looks full to its owner: the next block comes from a new page P2, and P1 waits (FULL).
    const second = [k0.alloc(64)];
    expect(first).not.toContain(second[0]);
    expect(cache.stats()).toMatchObject({ slabs: 2, fullSlabs: 1 });
    k1.free(batch[31]!); // the 32nd: the chain goes on P1's thread_free, which hands P1 back
    k0.checkInvariants();
    while (second.length < per) second.push(k0.alloc(64)); // P2 fills up
    expect(second.every((p) => !first.includes(p))).toBe(true);
    const back = k0.alloc(64); // no page left queued: the reclaimed P1 serves, from the batch
    expect(batch).toContain(back);
    expect(cache.stats().slabs).toBe(2);
    k1.detach();
    endsFresh(k0, [...first.slice(32), ...second, back], fresh);
  });

  it('a second free of a block on a pending chain is a DoubleFreeError, by the freer, another worker or the owner, the heap unchanged', () => {
    const { k0, ks, fresh } = heap(2);
    const [k1, k2] = ks as [Kmalloc, Kmalloc];
    const blocks = [24, 64, 200, 512].flatMap((size) => Array.from({ length: 6 }, () => k0.alloc(size)));
    const pending = blocks.filter((_, i) => i % 3 === 0);
    for (const p of pending) k1.free(p);
    for (const p of pending) {
      const before = Buffer.from(k0.memory.u8);
      for (const k of [k1, k2, k0]) expect(() => k.free(p), `${k.workerSlot} frees ${p}`).toThrow(DoubleFreeError);
      expect(Buffer.compare(Buffer.from(k0.memory.u8), before)).toBe(0);
    }
    k0.checkInvariants();
    k1.detach();
    k2.detach();
    endsFresh(
      k0,
      blocks.filter((p) => !pending.includes(p)),
      fresh,
    );
  });

  it("detach publishes the worker's pending chains", () => {
    const { k0, ks, fresh } = heap(1);
    const [k1] = ks as [Kmalloc];
    const blocks = [8, 48, 100, 300, 512].flatMap((size) => Array.from({ length: 10 }, () => k0.alloc(size)));
    for (const p of blocks.slice(0, 25)) k1.free(p);
    k1.detach(); // with 25 frees pending
    k0.checkInvariants(); // slot 1 is free: its chains must be empty
    endsFresh(k0, blocks.slice(25), fresh);
  });

  it('so does taking a page from the buddy (a worker that mostly allocates does not hold them long)', () => {
    const { k0, ks, fresh } = heap(1);
    const [k1] = ks as [Kmalloc];
    const per = k0.caches.find((c) => c.size === 64)!.objectsPerSlab;
    const first = Array.from({ length: per }, () => k0.alloc(64)); // P1 all handed out
    const batch = first.slice(0, 5);
    for (const p of batch) k1.free(p); // pending (a chain of 64 B blocks holds 32)
    const second = [k0.alloc(64)]; // P1 FULL, P2 current
    const own = k1.alloc(40); // k1's first page of that class: its chains are published first
    while (second.length < per) second.push(k0.alloc(64));
    const back = k0.alloc(64);
    expect(batch).toContain(back); // P1 came back to k0 through the published chain
    k1.free(own);
    k1.detach();
    endsFresh(k0, [...first.slice(5), ...second, back], fresh);
  });

  it('recover of a worker that died with frees pending publishes them', () => {
    const { memory, k0, ks, fresh } = heap(1);
    const [k1] = ks as [Kmalloc];
    const blocks = [16, 64, 256, 512].flatMap((size) => Array.from({ length: 12 }, () => k0.alloc(size)));
    for (const p of blocks.slice(0, 30)) k1.free(p);
    Kmalloc.recover(memory, k1.workerSlot); // k1 is never used again
    k0.checkInvariants();
    for (const p of blocks.slice(0, 30)) expect(k0.isAllocated(p)).toBe(false);
    const k2 = Kmalloc.attach(Memory.wrap(memory.buffer)); // takes the slot back, with no chain left
    expect(k2.workerSlot).toBe(k1.workerSlot);
    k2.detach();
    endsFresh(k0, blocks.slice(30), fresh);
  });

  it('recover does not publish a chain twice (a worker that died after publishing it, before clearing its head word)', () => {
    const { memory, k0, ks, fresh } = heap(1);
    const [k1] = ks as [Kmalloc];
    const blocks = Array.from({ length: 40 }, () => k0.alloc(64));
    const x = blocks[0]!;
    k1.free(x);
    const words = wordsHolding(k0, x);
    expect(words.length).toBe(1); // the chain's head word
    const w = words[0]!;
    for (const p of blocks.slice(1, 32)) k1.free(p); // 32 pending: published, the head word cleared
    expect(memory.u32[w]).toBe(0);
    memory.u32[w] = x; // as if it died between the two
    expect(() => k0.checkInvariants()).toThrow(HeapCorruptionError); // x on thread_free and on a chain
    Kmalloc.recover(memory, k1.workerSlot);
    expect(memory.u32[w]).toBe(0);
    k0.checkInvariants();
    endsFresh(k0, blocks.slice(32), fresh);
  });

  it('a damaged chain is named by checkInvariants; recover drops it (its blocks stay allocated and can be freed again), corrupting nothing', () => {
    const { memory, k0, ks, fresh } = heap(1);
    const [k1] = ks as [Kmalloc];
    const blocks = Array.from({ length: 8 }, () => k0.alloc(200));
    const x = blocks[0]!;
    k1.free(x);
    const [w] = wordsHolding(k0, x) as [number];
    memory.u32[w] = x + 8; // an interior address
    expect(() => k0.checkInvariants()).toThrow(/pending chain/);
    Kmalloc.recover(memory, k1.workerSlot);
    expect(memory.u32[w]).toBe(0);
    k0.checkInvariants();
    expect(k0.isAllocated(x)).toBe(true); // leaked, not lost: still counted, and freeable
    endsFresh(k0, blocks, fresh);
  });

  it('a worker thread terminated with frees pending: recover publishes them', async () => {
    const { memory, k0, ks, fresh } = heap(0, 16 << 20);
    const blocks = [8, 40, 128, 512].flatMap((size) => Array.from({ length: 20 }, () => k0.alloc(size)));
    const given = blocks.filter((_, i) => i % 2 === 0);
    const w = new Worker(new URL('../workers/fixtures/pending-worker.mjs', import.meta.url), {
      workerData: { heap: memory.buffer, blocks: given },
    });
    const { slot } = await new Promise<{ slot: number }>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    await w.terminate();
    expect(ks.length).toBe(0);
    Kmalloc.recover(memory, slot);
    k0.checkInvariants();
    for (const p of given) expect(k0.isAllocated(p)).toBe(false);
    endsFresh(
      k0,
      blocks.filter((_, i) => i % 2 !== 0),
      fresh,
    );
  });
});
