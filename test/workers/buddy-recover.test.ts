/**
 * A worker dies while it holds the lock of a buddy, a slab cache or a shared
 * arena (it takes it on purpose): the other workers block until the thread
 * that saw it die calls X.recover(memory, slot), then finish with nothing
 * corrupted, and the layer ends as a fresh one. And a recover while another
 * worker churns the buddy reads the buddy's state under its lock.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { Arena, BuddyAllocator, InvalidArgumentError, Kmalloc, Memory, SlabCache } from '../../src/index.js';
import { B_PCP_OFF, PCP_WORDS } from '../../src/buddy/layout.js';
import { H_WORKERS, HeaderSlot, readSlot } from '../../src/memory/header.js';
import { type Result, drainExchange, makeHeap, runWorker } from './buddy-harness.js';

/** Pages on the per-worker lists of `slot` (read from the buddy's table: its lock may be held). */
function heldBy(memory: Memory, slot: number): number {
  const table = memory.u32[(readSlot(memory, HeaderSlot.Buddy) >>> 2) + B_PCP_OFF]! >>> 2;
  const e = table + slot * PCP_WORDS;
  return memory.i32[e + 1]! + 2 * memory.i32[e + 3]!;
}

const RECOVER = { buddy: BuddyAllocator.recover, slab: SlabCache.recover, arena: Arena.recover };

describe.each(['buddy', 'slab', 'arena'] as const)(
  '%s: a worker killed while holding the lock',
  (kind: 'buddy' | 'slab' | 'arena') => {
    it(`${kind}.recover releases it; the others finish intact`, async () => {
      const h = makeHeap(kind);
      const joinedBefore = h.memory.u32[H_WORKERS]!;
      const holder = new Worker(new URL('./fixtures/buddy-layers-holder.mjs', import.meta.url), {
        workerData: { heap: h.memory.buffer, kind },
      });
      const { slot } = await new Promise<{ slot: number }>((resolve, reject) => {
        holder.once('message', resolve);
        holder.once('error', reject);
      });
      await holder.terminate();
      expect(slot).toBeGreaterThanOrEqual(1);
      if (kind === 'buddy') expect(heldBy(h.memory, slot)).toBeGreaterThan(0); // its lists hold pages

      const control = new SharedArrayBuffer((8 + 3 * 16) * 4);
      new Int32Array(control)[2] = 2;
      let finished = 0;
      const others = [1, 2].map((seed) =>
        runWorker(kind, h.memory.buffer as SharedArrayBuffer, control, seed, 2000, 0, 16).done.then((r: Result) => {
          finished++;
          return r;
        }),
      );
      await new Promise((r) => setTimeout(r, 1500));
      expect(finished).toBe(0); // blocked on the dead worker's lock

      const recover = RECOVER[kind];
      expect(() => recover(h.memory, 0)).toThrow(InvalidArgumentError); // slot 0 is the maker's
      expect(recover(h.memory, slot)).toBe(true);
      if (kind === 'buddy') expect(heldBy(h.memory, slot)).toBe(0); // given back
      expect(recover(h.memory, slot)).toBe(false); // nothing left to release
      const results = await Promise.all(others);
      expect(results.flatMap((r) => r.problems)).toEqual([]);
      expect(results.map((r) => r.ops)).toEqual([2000, 2000]);
      h.memory.sync();
      expect(h.memory.u32[H_WORKERS]).toBe(joinedBefore); // the dead worker's slot was freed too
      drainExchange(h, control, 16);
      h.check();
      h.expectFresh();
    });
  },
);

it('recover reads the buddy state under the buddy lock: another worker churning it never makes it throw', async () => {
  // Kmalloc.recover and BuddyAllocator.recover of a slot nobody holds, again and again, while a
  // worker rewrites the buddy's free-list heads and counts under its lock. Read without the lock,
  // a head and its count disagree now and then, and recover threw a HeapCorruptionError.
  const memory = Memory.create({ bytes: 16 << 20, shared: true });
  const k = new Kmalloc({ memory });
  const fresh = k.footprint();
  const stop = new SharedArrayBuffer(4);
  const w = new Worker(new URL('./fixtures/buddy-churn.mjs', import.meta.url), {
    workerData: { heap: memory.buffer, stop },
  });
  const ops = new Promise<number>((resolve, reject) => {
    w.on('message', (m: unknown) => {
      if (typeof m === 'number') resolve(m);
    });
    w.once('error', reject);
  });
  await new Promise<void>((resolve) => w.once('message', () => resolve()));
  const idle = 20; // a slot nobody joined
  let calls = 0;
  const until = Date.now() + 1500;
  try {
    while (Date.now() < until) {
      expect(Kmalloc.recover(memory, idle)).toBe(false);
      expect(BuddyAllocator.recover(memory, idle)).toBe(false);
      calls += 2;
    }
  } finally {
    Atomics.store(new Int32Array(stop), 0, 1);
  }
  expect(await ops).toBeGreaterThan(1000);
  await w.terminate();
  expect(calls).toBeGreaterThan(100);
  k.checkInvariants();
  k.shrink();
  expect(k.footprint()).toBe(fresh);
});
