/**
 * The control and stats area shared by the workers view (the page) and its
 * Web Workers (heap-worker.ts): plain Int32Array / Float64Array words over
 * SharedArrayBuffers, no memkit internals (those are in source.ts).
 *
 * Every lane (one worker) owns its counters: only that worker writes them,
 * with `Atomics.store` / `Atomics.add`; the page reads them at each frame.
 * The page owns the control words (budget, command, alive).
 *
 * ```
 *  i32 (ctl):  0 gen (bumped + notified by the page: wake up, look again)
 *              1 delay: ms a worker sleeps after each op (0 = full speed)
 *              2 lanes in use      3 workload (W_LOCAL, W_HANDOFF, W_MIXED)
 *              LANE0 + lane * LANE_WORDS: the lane's words (L_* below)
 *              RINGS: the rings, ring(from, to) at RINGS + (from * MAX_LANES + to) * RING_WORDS
 *  f64:        lane * LANE_F64: F_* below
 * ```
 * A ring is single-producer single-consumer: words 0 head (next to read,
 * written by the consumer), 1 tail (next to write, written by the producer),
 * then HAND_CAP entries of 3 words (addr, size, stamp) for blocks handed from
 * `from` to `to`; then 2 more words (head, tail) and NOTE_CAP entries of 2
 * words (addr, size): notices of `from`'s frees of `to`'s blocks, collected
 * by `to`.
 */

/** Most workers the view runs. */
export const MAX_LANES = 4;

export const G_GEN = 0;
export const G_DELAY = 1;
export const G_LANES = 2;
export const G_WORKLOAD = 3;

export const W_LOCAL = 0;
export const W_HANDOFF = 1;
export const W_MIXED = 2;

export const LANE0 = 8;
export const LANE_WORDS = 48;
/** Ops the lane may still do; UNLIMITED = run. The page sets it, the worker counts it down. */
export const L_BUDGET = 0;
/** Page's command: CMD_NONE, CMD_DIE_HOLDING (take the heap lock, report, wait to be killed). */
export const L_CMD = 1;
/** Worker's state: S_* below. */
export const L_STATE = 2;
/** The worker's slot in the heap (Kmalloc.attach gives it). */
export const L_SLOT = 3;
export const L_OPS = 4;
export const L_ALLOCS = 5;
/** Frees of its own blocks. */
export const L_FREES = 6;
/** Remote frees done: frees of blocks another worker allocated. */
export const L_SENT = 7;
/** Notices of its blocks freed by others, collected. */
export const L_RECV = 8;
export const L_LIVE_BLOCKS = 9;
export const L_LIVE_BYTES = 10;
/** Heap calls that found the heap lock held by somebody else. */
export const L_CONTENDED = 11;
export const L_CALLS = 12;
/** Blocks handed to another worker (put on a ring). */
export const L_HANDED = 13;
/** Payloads found damaged when a handed block was taken. */
export const L_BAD = 14;
/** Remote frees of a block whose owner is dead (no notice sent). */
export const L_ORPHAN = 15;
/** 1 while the worker runs, 0 once the page saw it terminated (the page writes it). */
export const L_ALIVE = 16;
/** Out-of-memory refusals. */
export const L_OOM = 17;
/** The last op: kind (OP_*), address, size, peer lane (-1 none). */
export const L_LAST_OP = 18;
export const L_LAST_ADDR = 19;
export const L_LAST_SIZE = 20;
export const L_LAST_PEER = 21;
/** Remote frees sent to owner lane j: L_SENT_TO + j. */
export const L_SENT_TO = 24;
/** Notices collected from lane j: L_RECV_FROM + j. */
export const L_RECV_FROM = 28;

export const UNLIMITED = 0x7fffffff;

export const CMD_NONE = 0;
export const CMD_DIE_HOLDING = 1;

export const S_STARTING = 0;
export const S_PARKED = 1;
export const S_RUNNING = 2;
/** Inside a heap call (waiting for the lock, or working under it). */
export const S_IN_HEAP = 3;
/** Holds the heap lock on purpose, waiting to be terminated. */
export const S_HOLDING = 4;
/** Terminated by the page (written by the page). */
export const S_DEAD = 5;
export const S_FAILED = 6;

export const OP_NONE = 0;
export const OP_ALLOC = 1;
export const OP_FREE = 2;
export const OP_HAND = 3;
export const OP_REMOTE_FREE = 4;
export const OP_IDLE = 5;

/** f64 words per lane. */
export const LANE_F64 = 8;
/** ms spent inside heap calls (kmalloc / kfree), summed per call. */
export const F_HEAP_MS = 0;
/** ms the worker ran ops (heap calls and its own work). */
export const F_RUN_MS = 1;
/** ops per second over the last ~half second of running. */
export const F_OPS_PER_S = 2;
/** performance.timeOrigin + now() when the current heap call began; 0 when in none. */
export const F_CALL_SINCE = 3;
/** The longest single heap call, ms. */
export const F_MAX_CALL_MS = 4;

export const HAND_CAP = 32;
export const NOTE_CAP = 96;
const HAND_WORDS = 2 + HAND_CAP * 3;
const NOTE_WORDS = 2 + NOTE_CAP * 2;
export const RING_WORDS = HAND_WORDS + NOTE_WORDS;
export const RINGS = LANE0 + MAX_LANES * LANE_WORDS;
export const CTL_WORDS = RINGS + MAX_LANES * MAX_LANES * RING_WORDS;

/** i32 index of lane `lane`'s word `w`. */
export function laneWord(lane: number, w: number): number {
  return LANE0 + lane * LANE_WORDS + w;
}

/** i32 index of the hand ring from `from` to `to`. */
export function handRing(from: number, to: number): number {
  return RINGS + (from * MAX_LANES + to) * RING_WORDS;
}

/** i32 index of the notice ring of `from`'s frees of `to`'s blocks. */
export function noteRing(from: number, to: number): number {
  return handRing(from, to) + HAND_WORDS;
}

/** Entries waiting on the ring at `r` (hand or notice). */
export function ringCount(ctl: Int32Array, r: number): number {
  return Atomics.load(ctl, r + 1) - Atomics.load(ctl, r);
}

/** Puts one entry of `n` words on the ring at `r` (capacity `cap`); false when full. Producer only. */
export function ringPush(ctl: Int32Array, r: number, cap: number, a: number, b: number, c = 0, n = 3): boolean {
  const head = Atomics.load(ctl, r);
  const tail = Atomics.load(ctl, r + 1);
  if (tail - head >= cap) return false;
  const at = r + 2 + (tail % cap) * n;
  ctl[at] = a;
  ctl[at + 1] = b;
  if (n > 2) ctl[at + 2] = c;
  Atomics.store(ctl, r + 1, tail + 1); // publishes the entry
  return true;
}

/** Takes one entry off the ring at `r` into `out` (n words); false when empty. Consumer only. */
export function ringTake(ctl: Int32Array, r: number, cap: number, out: Int32Array, n = 3): boolean {
  const head = Atomics.load(ctl, r);
  if (Atomics.load(ctl, r + 1) === head) return false;
  const at = r + 2 + (head % cap) * n;
  for (let i = 0; i < n; i++) out[i] = ctl[at + i]!;
  Atomics.store(ctl, r, head + 1);
  return true;
}

/** What the page tells a worker when it starts it. */
export interface WorkerStart {
  heap: SharedArrayBuffer;
  ctl: SharedArrayBuffer;
  f64: SharedArrayBuffer;
  owners: SharedArrayBuffer;
  lane: number;
  seed: number;
}

/** What a worker posts back. */
export type WorkerReport =
  | { kind: 'ready'; lane: number; slot: number }
  | { kind: 'holding'; lane: number; slot: number }
  | { kind: 'failed'; lane: number; message: string };
