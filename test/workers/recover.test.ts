/**
 * A worker dies while it holds the heap lock: the others block until the
 * thread that saw it die calls Kmalloc.recover, then finish with nothing
 * corrupted.
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
