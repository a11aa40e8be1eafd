/**
 * One worker of `npm run bench -- workers-layers`: a SlabCache or a
 * BuddyAllocator shared through a SharedArrayBuffer, used as a user would
 * (`X.attach`, alloc, free, `detach`), optionally with one global lock
 * (control word 1) around every call: the naive design.
 *
 * Control words (i32): 0 = go (the main thread sets it to 1 and notifies);
 * 1 = the global lock; ring r of a producer/consumer pair at
 * RING0 + r * (RING + 2): head, tail, slots.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BuddyAllocator, Memory, SlabCache } from '../../src/index.js';
import { lock, unlock } from '../../src/memory/lock.js';

export const WINDOW = 256;
export const RING = 4096;
export const RING0 = 4;
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

local(Math.min(ops, 100_000)); // the JIT's warm-up, untimed
parentPort!.postMessage('ready');
Atomics.wait(ctl, 0, 0);
const t0 = performance.now();
if (mode === 'local') {
  local(ops);
} else {
  const r = RING0 + (index >> 1) * (RING + 2);
  if (mode === 'producer') {
    for (let i = 0; i < ops; i++) {
      const p = alloc();
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
      free(ctl[r + 2 + (t & (RING - 1))]! >>> 0);
      Atomics.store(ctl, r + 1, t + 1);
      Atomics.notify(ctl, r + 1);
    }
  }
}
const ms = performance.now() - t0;
detach();
parentPort!.postMessage({ ms });
