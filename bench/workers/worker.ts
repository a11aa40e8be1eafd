/**
 * One worker of `npm run bench -- workers`: the workloads of native.c on a
 * Kmalloc heap shared through a SharedArrayBuffer, written as a user would
 * (Kmalloc.attach, kmalloc, kfree).
 *
 * Control words (i32): 0 = go (the main thread sets it to 1 and notifies);
 * ring r of a producer/consumer pair at RING0 + r * (RING + 2): head, tail, slots.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Kmalloc, Memory } from '../../src/index.js';

export const WINDOW = 1024;
export const RING = 4096;
export const RING0 = 4;
export const WARM_UP = 300_000;

const { heap, control, mode, index, ops } = workerData as {
  heap: SharedArrayBuffer;
  control: SharedArrayBuffer;
  mode: 'local' | 'producer' | 'consumer';
  index: number;
  ops: number;
};
const k = Kmalloc.attach(Memory.wrap(heap));
const ctl = new Int32Array(control);
const u8 = k.memory.u8;
let seed = (12345 + index * 7919) >>> 0;
function next(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
}

/** `ops` allocs and frees, each worker keeping a window of WINDOW blocks. */
function local(ops: number): void {
  const win = new Float64Array(WINDOW);
  for (let i = 0; i < ops; i += 2) {
    const s = next() & (WINDOW - 1);
    if (win[s] !== 0) k.kfree(win[s]!);
    const p = k.kmalloc(16 + (next() % 497));
    u8[p] = 1;
    win[s] = p;
  }
  for (let s = 0; s < WINDOW; s++) if (win[s] !== 0) k.kfree(win[s]!);
}

local(WARM_UP); // the JIT's warm-up, untimed (as in a long-running program)
parentPort!.postMessage('ready');
Atomics.wait(ctl, 0, 0);
const t0 = performance.now();
if (mode === 'local') {
  local(ops);
} else {
  const r = RING0 + (index >> 1) * (RING + 2);
  if (mode === 'producer') {
    for (let i = 0; i < ops; i++) {
      const p = k.kmalloc(16 + (next() % 497));
      u8[p] = 1;
      const h = ctl[r]!;
      while (h - Atomics.load(ctl, r + 1) >= RING) Atomics.wait(ctl, r + 1, Atomics.load(ctl, r + 1), 1);
      ctl[r + 2 + (h & (RING - 1))] = p;
      Atomics.store(ctl, r, h + 1);
      Atomics.notify(ctl, r);
    }
  } else {
    for (let i = 0; i < ops; i++) {
      const t = ctl[r + 1]!;
      while (Atomics.load(ctl, r) === t) Atomics.wait(ctl, r, t, 1);
      k.kfree(ctl[r + 2 + (t & (RING - 1))]! >>> 0);
      Atomics.store(ctl, r + 1, t + 1);
      Atomics.notify(ctl, r + 1);
    }
  }
}
parentPort!.postMessage({ ms: performance.now() - t0 });
