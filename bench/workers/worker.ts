/**
 * One worker of `npm run bench -- workers`: the workloads of native.c on a
 * Kmalloc heap shared through a SharedArrayBuffer, written as a user would
 * (Kmalloc.attach, kmalloc, kfree).
 *
 * With `global`, every kmalloc and kfree is taken under one lock word of
 * the control buffer (src/memory/lock.ts): the naive design, one lock around
 * every call, as a contender.
 *
 * Control words (i32): 0 = go (the main thread sets it to 1 and notifies);
 * 1 = the global lock; then the producer/consumer rings (bench/ring.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Kmalloc, Memory } from '../../src/index.js';
import { lock, unlock } from '../../src/memory/lock.js';
import { consume, produce } from '../ring.js';
import { WARM_UP, remainder } from '../workers.js';

export const WINDOW = 1024;
const {
  heap,
  control,
  mode,
  index,
  ops,
  global,
  maxSize,
  minSize = 16,
} = workerData as {
  heap: SharedArrayBuffer;
  control: SharedArrayBuffer;
  mode: 'local' | 'producer' | 'consumer' | 'spin';
  index: number;
  ops: number;
  global: boolean;
  /** Sizes are minSize .. maxSize, uniform. */
  maxSize: number;
  /** Smallest size (default 16 B). */
  minSize?: number;
};
const SPAN = maxSize - minSize + 1;
if (!(SPAN >= 1 && SPAN < 2 ** 15)) throw new Error(`bench worker: size span ${SPAN} must be in [1, 2^15)`);
const k = Kmalloc.attach(Memory.wrap(heap));
const ctl = new Int32Array(control);
const GLOBAL_LOCK = 1;
const me = index + 1; // the lock's owner id: any id distinct per worker

function kmalloc(size: number): number {
  if (!global) return k.kmalloc(size);
  lock(ctl, GLOBAL_LOCK, me);
  const p = k.kmalloc(size);
  unlock(ctl, GLOBAL_LOCK, me);
  return p;
}

function kfree(p: number): void {
  if (!global) return k.kfree(p);
  lock(ctl, GLOBAL_LOCK, me);
  k.kfree(p);
  unlock(ctl, GLOBAL_LOCK, me);
}
const u8 = k.memory.u8;
let seed = (12345 + index * 7919) >>> 0;
function next(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
}

/** `next() % SPAN`, in int32 arithmetic (see remainder). */
function nextBelowSpan(): number {
  return remainder(next(), SPAN);
}

/** `ops` allocs and frees, each worker keeping a window of WINDOW blocks (still live at the end). */
function local(ops: number, win: Float64Array): void {
  for (let i = 0; i < ops; i += 2) {
    const s = next() & (WINDOW - 1);
    if (win[s] !== 0) kfree(win[s]!);
    const p = kmalloc(minSize + nextBelowSpan());
    u8[p] = 1;
    win[s] = p;
  }
}

/**
 * The thread-local loop with no allocator: the same PRNG calls, window reads and
 * writes, and a byte written in the shared buffer per step (at an address from the
 * window's own arithmetic). What 1, 2 and 4 workers do with that on this machine is
 * the ceiling of any allocator's scaling here (V8's background threads included).
 */
function spin(ops: number, win: Float64Array, scratch: number): void {
  const mask = (1 << 20) - 1;
  for (let i = 0; i < ops; i += 2) {
    const s = next() & (WINDOW - 1);
    const p = ((win[s]! + minSize + nextBelowSpan()) * 16) & mask;
    u8[scratch + p] = 1;
    win[s] = p;
  }
}

/** The producer's block: a random size, its first byte written (as a user would). */
function made(): number {
  const p = kmalloc(minSize + nextBelowSpan());
  u8[p] = 1;
  return p;
}

function release(win: Float64Array): void {
  for (let s = 0; s < WINDOW; s++) if (win[s] !== 0) kfree(win[s]!);
  win.fill(0);
}

const win = new Float64Array(WINDOW);
const scratch = mode === 'spin' ? k.kmalloc(1 << 20) : 0; // spin's bytes: a block of this worker's own
if (mode === 'spin') spin(WARM_UP, win, scratch);
else {
  local(WARM_UP, win); // the JIT's warm-up, untimed (as in a long-running program)
  release(win);
}
parentPort!.postMessage('ready');
Atomics.wait(ctl, 0, 0);
const t0 = performance.now();
let footprint = 0;
if (mode === 'spin') {
  spin(ops, win, scratch);
  k.kfree(scratch);
} else if (mode === 'local') {
  local(ops, win);
  footprint = k.footprint(); // with this worker's window still live (the others' too, if still running)
  release(win);
} else {
  // The ring (bench/ring.ts) is the same for every contender.
  const pair = index >> 1;
  if (mode === 'producer') produce(ctl, pair, ops, made);
  else consume(ctl, pair, ops, kfree);
}
parentPort!.postMessage({ ms: performance.now() - t0, footprint });
