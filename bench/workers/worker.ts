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
 * 1 = the global lock; ring r of a producer/consumer pair at RING0 + r * RING_WORDS:
 * head, tail, consumer sleeping, producer sleeping (each on a 64-byte line of its
 * own), then the slots.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Kmalloc, Memory } from '../../src/index.js';
import { lock, unlock } from '../../src/memory/lock.js';

export const WINDOW = 1024;
export const RING = 4096;
export const RING0 = 16;
/** Words of one producer/consumer ring: head, tail, two sleeping flags (16 words apart), the slots. */
export const RING_WORDS = RING + 64;
const TAIL = 16;
const C_SLEEPS = 32;
const P_SLEEPS = 48;
const SLOTS = 64;
/** Each side publishes its index once per this many blocks (and before it sleeps or ends). */
const PUBLISH = 16;
/** A sleeping side of a ring is woken once this many slots are ready for it. */
const WAKE_BATCH = 256;
export const WARM_UP = 1_000_000;

const { heap, control, mode, index, ops, global, maxSize } = workerData as {
  heap: SharedArrayBuffer;
  control: SharedArrayBuffer;
  mode: 'local' | 'producer' | 'consumer';
  index: number;
  ops: number;
  global: boolean;
  /** Sizes are 16 B .. maxSize, uniform. */
  maxSize: number;
};
const SPAN = maxSize - 15;
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

/** `ops` allocs and frees, each worker keeping a window of WINDOW blocks (still live at the end). */
function local(ops: number, win: Float64Array): void {
  for (let i = 0; i < ops; i += 2) {
    const s = next() & (WINDOW - 1);
    if (win[s] !== 0) kfree(win[s]!);
    const p = kmalloc(16 + (next() % SPAN));
    u8[p] = 1;
    win[s] = p;
  }
}

function release(win: Float64Array): void {
  for (let s = 0; s < WINDOW; s++) if (win[s] !== 0) kfree(win[s]!);
  win.fill(0);
}

const win = new Float64Array(WINDOW);
local(WARM_UP, win); // the JIT's warm-up, untimed (as in a long-running program)
release(win);
parentPort!.postMessage('ready');
Atomics.wait(ctl, 0, 0);
const t0 = performance.now();
let footprint = 0;
if (mode === 'local') {
  local(ops, win);
  footprint = k.footprint(); // with this worker's window still live (the others' too, if still running)
  release(win);
} else {
  // Ring words: head, tail, consumer sleeping, producer sleeping (a cache line each), then
  // RING slots. Each side keeps the other's index as last seen and reads it again only when
  // that says full (producer) or empty (consumer), and publishes its own once per PUBLISH
  // blocks: the index lines move between the cores once per batch, not once per block
  // (FastForward / Lamport-with-caching). A side sleeps (Atomics.wait, 1 ms at most) only
  // after a short spin, and the other side wakes it only when its flag says it sleeps and a
  // batch of WAKE_BATCH slots is ready. The same ring for every contender (and native.c).
  const r = RING0 + (index >> 1) * RING_WORDS;
  if (mode === 'producer') {
    let tail = 0; // the consumer's index as last seen
    for (let h = 0; h < ops; h++) {
      const p = kmalloc(16 + (next() % SPAN));
      u8[p] = 1;
      if (h - tail >= RING) {
        Atomics.store(ctl, r, h); // all made so far: the consumer may be waiting for them
        tail = Atomics.load(ctl, r + TAIL);
        for (let spin = 0; h - tail >= RING; spin++) {
          if (spin >= 100) {
            Atomics.store(ctl, r + P_SLEEPS, 1);
            if (h - Atomics.load(ctl, r + TAIL) >= RING) Atomics.wait(ctl, r + TAIL, tail, 1);
            Atomics.store(ctl, r + P_SLEEPS, 0);
          }
          tail = Atomics.load(ctl, r + TAIL);
        }
      }
      ctl[r + SLOTS + (h & (RING - 1))] = p;
      if ((h & (PUBLISH - 1)) === PUBLISH - 1 || h === ops - 1) {
        Atomics.store(ctl, r, h + 1);
        if ((h & (WAKE_BATCH - 1)) === WAKE_BATCH - 1 && Atomics.load(ctl, r + C_SLEEPS) !== 0) Atomics.notify(ctl, r);
      }
    }
    Atomics.notify(ctl, r);
  } else {
    let head = 0; // the producer's index as last seen
    for (let t = 0; t < ops; t++) {
      if (t === head) {
        Atomics.store(ctl, r + TAIL, t); // all freed so far: the producer may be waiting for room
        head = Atomics.load(ctl, r);
        for (let spin = 0; head === t; spin++) {
          if (spin >= 100) {
            Atomics.store(ctl, r + C_SLEEPS, 1);
            if (Atomics.load(ctl, r) === t) Atomics.wait(ctl, r, t, 1);
            Atomics.store(ctl, r + C_SLEEPS, 0);
          }
          head = Atomics.load(ctl, r);
        }
      }
      kfree(ctl[r + SLOTS + (t & (RING - 1))]! >>> 0);
      if ((t & (PUBLISH - 1)) === PUBLISH - 1) {
        Atomics.store(ctl, r + TAIL, t + 1);
        if ((t & (WAKE_BATCH - 1)) === WAKE_BATCH - 1 && Atomics.load(ctl, r + P_SLEEPS) !== 0)
          Atomics.notify(ctl, r + TAIL);
      }
    }
  }
}
parentPort!.postMessage({ ms: performance.now() - t0, footprint });
