/**
 * A worker dies while it holds the heap lock: the others block until the
 * thread that saw it die calls Kmalloc.recover, then finish with nothing
 * corrupted. And a recover while the others keep running reads what it checks under its lock.
 */
import { Worker } from 'node:worker_threads';
import { expect, it } from 'vitest';
import { InvalidArgumentError, Kmalloc, Memory } from '../../src/index.js';

interface Result {
  problems: string[];
  ops: number;
}

it('Kmalloc.recover releases the lock of a worker killed while holding it; the others finish intact', async () => {
  const memory = Memory.create({ bytes: 16 << 20, shared: true });
  const k = new Kmalloc({ memory });
  const fresh = k.footprint();
  const holder = new Worker(new URL('./fixtures/holder-worker.mjs', import.meta.url), {
    workerData: { heap: memory.buffer },
  });
  const { slot, blocks } = await new Promise<{ slot: number; blocks: number[] }>((resolve, reject) => {
    holder.once('message', resolve);
    holder.once('error', reject);
  });
  await holder.terminate();

  const control = new SharedArrayBuffer((8 + 3 * 16) * 4);
  let finished = 0;
  const others = [1, 2].map((seed) => {
    const w = new Worker(new URL('./fixtures/stress-worker.mjs', import.meta.url), {
      workerData: { heap: memory.buffer, control, slots: 16, ops: 2000, seed, maxSize: 4096, handover: 30 },
    });
    return new Promise<Result>((resolve, reject) => {
      w.once('message', (m: Result) => {
        finished++;
        void w.terminate();
        resolve(m);
      });
      w.once('error', reject);
    });
  });
  await new Promise((r) => setTimeout(r, 500));
  expect(finished).toBe(0); // blocked on the dead worker's lock

  expect(() => Kmalloc.recover(memory, 0)).toThrow(InvalidArgumentError); // slot 0 is the heap's maker
  expect(Kmalloc.recover(memory, slot)).toBe(true);
  const results = await Promise.all(others);
  expect(results.flatMap((r) => r.problems)).toEqual([]);
  expect(results.map((r) => r.ops)).toEqual([2000, 2000]);
  const ctl = new Int32Array(control);
  for (let s = 0; s < 16; s++) if (ctl[8 + 3 * s] === 2) k.kfree(ctl[8 + 3 * s + 1]! >>> 0);
  // The dead worker's pages were handed over (abandoned): its blocks stayed allocated, and
  // freeing them now (remote frees into abandoned pages) leaves nothing behind.
  k.checkInvariants();
  let live = 0;
  k.forEachBlock(() => live++);
  expect(live).toBe(blocks.length);
  for (const b of blocks) k.kfree(b);
  k.checkInvariants();
  k.shrink();
  expect(k.footprint()).toBe(fresh);
});

it('Kmalloc.recover while the other workers keep allocating: a parked dead worker and an idle slot, nothing corrupted', async () => {
  // The others run on through the recover (it holds no lock of theirs): class pages, per-worker
  // TLSF heaps, large blocks and the buddy's lists change under it. Recover reads what it checks
  // under the lock that guards it (a buddy state read bare once threw "count disagrees with head").
  const memory = Memory.create({ bytes: 32 << 20, shared: true });
  const k = new Kmalloc({ memory });
  const fresh = k.footprint();
  const parked = new Worker(new URL('./fixtures/holder-worker.mjs', import.meta.url), {
    workerData: { heap: memory.buffer, hold: false },
  });
  const { slot, blocks } = await new Promise<{ slot: number; blocks: number[] }>((resolve, reject) => {
    parked.once('message', resolve);
    parked.once('error', reject);
  });
  await parked.terminate();

  const control = new SharedArrayBuffer((8 + 3 * 16) * 4);
  let finished = 0;
  const others = [3, 4].map((seed) => {
    const w = new Worker(new URL('./fixtures/stress-worker.mjs', import.meta.url), {
      workerData: { heap: memory.buffer, control, slots: 16, ops: 30_000, seed, maxSize: 1 << 20, handover: 30 },
    });
    return new Promise<Result>((resolve, reject) => {
      w.once('message', (m: Result) => {
        finished++;
        void w.terminate();
        resolve(m);
      });
      w.once('error', reject);
    });
  });
  // Let them get going, then recover the dead one, and an idle slot again and again, while they run.
  await new Promise((r) => setTimeout(r, 200));
  expect(Kmalloc.recover(memory, slot)).toBe(false); // it held no lock
  let calls = 0;
  while (finished < 2 && calls < 20_000) {
    expect(Kmalloc.recover(memory, 30)).toBe(false); // nobody joined slot 30
    calls++;
    if ((calls & 63) === 0) await new Promise((r) => setImmediate(r));
  }
  const results = await Promise.all(others);
  expect(results.flatMap((r) => r.problems)).toEqual([]);
  expect(results.map((r) => r.ops)).toEqual([30_000, 30_000]);
  expect(calls).toBeGreaterThan(0);
  const ctl = new Int32Array(control);
  for (let s = 0; s < 16; s++) if (ctl[8 + 3 * s] === 2) k.kfree(ctl[8 + 3 * s + 1]! >>> 0);
  k.checkInvariants();
  let live = 0;
  k.forEachBlock(() => live++);
  expect(live).toBe(blocks.length); // the dead worker's blocks stay allocated, nothing else
  for (const b of blocks) k.kfree(b);
  k.checkInvariants();
  k.shrink();
  expect(k.footprint()).toBe(fresh);
});
