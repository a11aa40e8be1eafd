/**
 * One worker of bench/workers-layers (worker.ts, thread-local, the slab
 * layer) started REPS times, each on a fresh shared heap, and its time
 * printed: the "memkit, 1 worker" row alone, to profile it (`node
 * --cpu-prof` writes one profile per thread).
 *
 * Run: `npx tsx bench/workers-layers/one.ts` (OPS=n ops, REPS=n runs).
 *
 * @module
 */
import { Worker } from 'node:worker_threads';
import { BuddyAllocator, Memory, SlabCache } from '../../src/index.js';
import { controlBytes } from '../ring.js';

const OPS = Number(process.env.OPS ?? 4_000_000);
const REPS = Number(process.env.REPS ?? 3);

for (let r = 0; r < REPS; r++) {
  const memory = Memory.create({ bytes: 64 << 20, shared: true });
  new SlabCache(new BuddyAllocator({ memory, pageSize: 4096 }), { name: 'bench', size: 64 });
  const control = new SharedArrayBuffer(controlBytes(0));
  const ctl = new Int32Array(control);
  const w = new Worker(new URL('./worker.mjs', import.meta.url), {
    workerData: { heap: memory.buffer, control, layer: 'slab', mode: 'local', index: 0, ops: OPS, global: false },
  });
  const next = <T>(): Promise<T> =>
    new Promise<T>((res, rej) => {
      w.once('message', res);
      w.once('error', rej);
    });
  await next<unknown>();
  const done = next<{ ms: number }>();
  Atomics.store(ctl, 0, 1);
  Atomics.notify(ctl, 0);
  const { ms } = await done;
  await w.terminate();
  console.log(`1 worker: ${ms.toFixed(1)} ms, ${(OPS / ms / 1000).toFixed(2)} M ops/s`);
}
