/**
 * One worker of `npm run bench -- workers-layers`: a SlabCache or a
 * BuddyAllocator shared through a SharedArrayBuffer, used as a user would
 * (`X.attach`, alloc, free, `detach`), optionally with one global lock
 * (control word 1) around every call: the naive design.
 *
 * Control words (i32): 0 = go (the main thread sets it to 1 and notifies);
 * 1 = the global lock; then the producer/consumer rings (bench/ring.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BuddyAllocator, Memory, SlabCache } from '../../src/index.js';
import { lock, unlock } from '../../src/memory/lock.js';
import { consume, produce } from '../ring.js';
import { WARM_UP } from '../workers.js';

export const WINDOW = 256;
const GLOBAL = 1;

const { heap, control, layer, mode, index, ops, global } = workerData as {
  heap: SharedArrayBuffer;
  control: SharedArrayBuffer;
  layer: 'slab' | 'buddy';
  mode: 'local' | 'producer' | 'consumer';
  index: number;
  ops: number;
  global: boolean;
};
const memory = Memory.wrap(heap);
const ctl = new Int32Array(control);
let alloc: () => number;
let free: (a: number) => void;
let detach: () => void;
let slot: number;
if (layer === 'slab') {
  const c = SlabCache.attach(memory);
  alloc = () => c.alloc();
  free = (a) => c.free(a);
  detach = () => c.detach();
  slot = c.workerSlot;
} else {
  const b = BuddyAllocator.attach(memory);
  alloc = () => b.allocPages(1);
  free = (a) => b.free(a);
  detach = () => b.detach();
  slot = b.slot;
}
if (global) {
  const a0 = alloc;
  const f0 = free;
  alloc = () => {
    lock(ctl, GLOBAL, slot);
    try {
      return a0();
    } finally {
      unlock(ctl, GLOBAL, slot);
    }
  };
  free = (a) => {
    lock(ctl, GLOBAL, slot);
    try {
      f0(a);
    } finally {
      unlock(ctl, GLOBAL, slot);
    }
  };
}
const u8 = memory.u8;
let seed = (12345 + index * 7919) >>> 0;
function next(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
}

/** `ops` allocs and frees, each worker keeping a window of WINDOW blocks. */
function local(n: number): void {
  const win = new Float64Array(WINDOW);
  for (let i = 0; i < n; i += 2) {
    const s = next() & (WINDOW - 1);
    if (win[s] !== 0) free(win[s]!);
    const p = alloc();
    u8[p] = 1;
    win[s] = p;
  }
  for (let s = 0; s < WINDOW; s++) if (win[s] !== 0) free(win[s]!);
}

local(Math.min(ops, WARM_UP)); // the JIT's warm-up, untimed (as bench/workers/worker.ts)
parentPort!.postMessage('ready');
Atomics.wait(ctl, 0, 0);
const t0 = performance.now();
if (mode === 'local') {
  local(ops);
} else {
  // The ring (bench/ring.ts) is the same for every contender (and for bench/workers).
  const pair = index >> 1;
  if (mode === 'producer')
    produce(ctl, pair, ops, () => {
      const p = alloc();
      u8[p] = 1;
      return p;
    });
  else consume(ctl, pair, ops, free);
}
const ms = performance.now() - t0;
detach();
parentPort!.postMessage({ ms });
