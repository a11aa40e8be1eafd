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

/** A worker that joins, allocates blocks of every tier and parks (`hold`: with the heap lock taken); killed. */
async function deadWorker(memory: Memory, hold: boolean): Promise<{ slot: number; blocks: number[] }> {
  const w = new Worker(new URL('./fixtures/holder-worker.mjs', import.meta.url), {
    workerData: { heap: memory.buffer, hold },
  });
  const got = await new Promise<{ slot: number; blocks: number[] }>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  await w.terminate();
  return got;
}

/** Stress workers (fixtures/stress-worker.ts), one per seed; `done()` counts those finished. */
function stressWorkers(
  memory: Memory,
  control: SharedArrayBuffer,
  seeds: number[],
  ops: number,
  maxSize: number,
): { results: Promise<Result[]>; done: () => number } {
  let finished = 0;
  const results = seeds.map((seed) => {
    const w = new Worker(new URL('./fixtures/stress-worker.mjs', import.meta.url), {
      workerData: { heap: memory.buffer, control, slots: 16, ops, seed, maxSize, handover: 30 },
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
  return { results: Promise.all(results), done: () => finished };
}

/**
 * After the others finished: frees what waits in the exchange, checks that only the dead
 * worker's blocks are live, frees them (remote frees into its abandoned pages) and checks
 * that the heap is back to its fresh footprint.
 */
function endCheck(k: Kmalloc, control: SharedArrayBuffer, blocks: number[], fresh: number): void {
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
}

it('Kmalloc.recover releases the lock of a worker killed while holding it; the others finish intact', async () => {
  const memory = Memory.create({ bytes: 16 << 20, shared: true });
  const k = new Kmalloc({ memory });
  const fresh = k.footprint();
  const { slot, blocks } = await deadWorker(memory, true);
  const control = new SharedArrayBuffer((8 + 3 * 16) * 4);
  const others = stressWorkers(memory, control, [1, 2], 2000, 4096);
  await new Promise((r) => setTimeout(r, 500));
  expect(others.done()).toBe(0); // blocked on the dead worker's lock

  expect(() => Kmalloc.recover(memory, 0)).toThrow(InvalidArgumentError); // slot 0 is the heap's maker
  expect(Kmalloc.recover(memory, slot)).toBe(true);
  const results = await others.results;
  expect(results.flatMap((r) => r.problems)).toEqual([]);
  expect(results.map((r) => r.ops)).toEqual([2000, 2000]);
  // The dead worker's pages were handed over (abandoned): its blocks stayed allocated.
  endCheck(k, control, blocks, fresh);
});

it('Kmalloc.recover while the other workers keep allocating: a parked dead worker and an idle slot, nothing corrupted', async () => {
  // The others run on through the recover (it holds no lock of theirs): class pages, per-worker
  // TLSF heaps, large blocks and the buddy's lists change under it. Recover reads what it checks
  // under the lock that guards it (a buddy state read bare once threw "count disagrees with head").
  const memory = Memory.create({ bytes: 32 << 20, shared: true });
  const k = new Kmalloc({ memory });
  const fresh = k.footprint();
  const { slot, blocks } = await deadWorker(memory, false);
  const control = new SharedArrayBuffer((8 + 3 * 16) * 4);
  const others = stressWorkers(memory, control, [3, 4], 30_000, 1 << 20);
  // Let them get going, then recover the dead one, and an idle slot again and again, while they run.
  await new Promise((r) => setTimeout(r, 200));
  expect(Kmalloc.recover(memory, slot)).toBe(false); // it held no lock
  let calls = 0;
  while (others.done() < 2 && calls < 20_000) {
    expect(Kmalloc.recover(memory, 30)).toBe(false); // nobody joined slot 30
    calls++;
    if ((calls & 63) === 0) await new Promise((r) => setImmediate(r));
  }
  const results = await others.results;
  expect(results.flatMap((r) => r.problems)).toEqual([]);
  expect(results.map((r) => r.ops)).toEqual([30_000, 30_000]);
  expect(calls).toBeGreaterThan(100); // the recovers overlapped the run
  endCheck(k, control, blocks, fresh);
});
