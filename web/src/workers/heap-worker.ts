/**
 * One worker of the workers view: joins the shared Kmalloc heap and runs a
 * workload one op at a time, as far as the page's budget allows, recording
 * what it does in its lane of the stats area (protocol.ts).
 *
 * Workloads:
 * - local: a window of up to 48 of its own blocks (8 B to 4 KiB,
 *   log-uniform; one in twelve 2 to 16 KiB), each freed by the worker that
 *   allocated it;
 * - handoff: every block is stamped and handed to the next worker on a ring,
 *   which checks the stamp and frees it (a remote free), then sends the owner
 *   a notice so the owner's record of its live blocks catches up;
 * - mixed: local, with one free in four replaced by a handoff.
 *
 * Each heap call is timed (performance.now() around it) and the heap lock
 * word is peeked before it (was it held by somebody else?).
 */
import {
  CMD_DIE_HOLDING,
  F_CALL_SINCE,
  F_HEAP_MS,
  F_MAX_CALL_MS,
  F_OPS_PER_S,
  F_RUN_MS,
  G_DELAY,
  G_GEN,
  G_LANES,
  G_WORKLOAD,
  HAND_CAP,
  L_ALIVE,
  L_ALLOCS,
  L_BAD,
  L_BUDGET,
  L_CALLS,
  L_CMD,
  L_CONTENDED,
  L_FREES,
  L_HANDED,
  L_LAST_ADDR,
  L_LAST_OP,
  L_LAST_PEER,
  L_LAST_SIZE,
  L_LIVE_BLOCKS,
  L_LIVE_BYTES,
  L_OOM,
  L_OPS,
  L_ORPHAN,
  L_RECV,
  L_RECV_FROM,
  L_SENT,
  L_SENT_TO,
  L_SLOT,
  L_STATE,
  LANE_F64,
  MAX_LANES,
  NOTE_CAP,
  OP_ALLOC,
  OP_FREE,
  OP_HAND,
  OP_IDLE,
  OP_REMOTE_FREE,
  S_FAILED,
  S_HOLDING,
  S_IN_HEAP,
  S_PARKED,
  S_RUNNING,
  UNLIMITED,
  W_HANDOFF,
  W_LOCAL,
  W_MIXED,
  type WorkerReport,
  type WorkerStart,
  handRing,
  laneWord,
  noteRing,
  ringCount,
  ringPush,
  ringTake,
} from './protocol.js';
import { type WorkerHeap, holdHeapLock, joinHeap, lockTakenByOther } from './source.js';

const post = (m: WorkerReport): void => (self as unknown as Worker).postMessage(m);

/** Blocks a worker keeps live at most (its own, plus those it handed away). */
const WINDOW = 48;

function start(job: WorkerStart): void {
  const ctl = new Int32Array(job.ctl);
  const f64 = new Float64Array(job.f64);
  const owners = new Uint8Array(job.owners);
  const lane = job.lane;
  const L = (w: number): number => laneWord(lane, w);
  const F = lane * LANE_F64;
  let h: WorkerHeap;
  try {
    h = joinHeap(job.heap);
  } catch (e) {
    Atomics.store(ctl, L(L_STATE), S_FAILED);
    post({ kind: 'failed', lane, message: (e as Error).message });
    return;
  }
  const k = h.k;
  const u32 = h.memory.u32;
  Atomics.store(ctl, L(L_SLOT), h.slot);

  let seed = (job.seed >>> 0) | 1;
  const rand = (n: number): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const randomSize = (): number => {
    const bits = rand(12) === 0 ? 11 + rand(3) : 3 + rand(9); // 8 B .. 4 KiB, one in twelve 2 .. 16 KiB
    return (1 << bits) + rand(1 << bits);
  };
  const add = (w: number, n: number): void => void Atomics.add(ctl, L(w), n);
  const last = (op: number, addr: number, size: number, peer: number): void => {
    Atomics.store(ctl, L(L_LAST_OP), op);
    Atomics.store(ctl, L(L_LAST_ADDR), addr | 0);
    Atomics.store(ctl, L(L_LAST_SIZE), size);
    Atomics.store(ctl, L(L_LAST_PEER), peer);
  };

  // The heap calls, each timed and with the lock peeked first.
  const enterHeap = (): number => {
    if (lockTakenByOther(h)) add(L_CONTENDED, 1);
    add(L_CALLS, 1);
    Atomics.store(ctl, L(L_STATE), S_IN_HEAP);
    const t = performance.now();
    f64[F + F_CALL_SINCE] = performance.timeOrigin + t;
    return t;
  };
  const leaveHeap = (t: number): void => {
    const dt = performance.now() - t;
    f64[F + F_CALL_SINCE] = 0;
    f64[F + F_HEAP_MS] = f64[F + F_HEAP_MS]! + dt;
    if (dt > f64[F + F_MAX_CALL_MS]!) f64[F + F_MAX_CALL_MS] = dt;
    Atomics.store(ctl, L(L_STATE), S_RUNNING);
  };
  const kmalloc = (size: number): number => {
    const t = enterHeap();
    try {
      return k.kmalloc(size);
    } finally {
      leaveHeap(t);
    }
  };
  const kfree = (addr: number): void => {
    owners[addr >>> 3] = 0; // before the free: once freed, another worker may get the address
    const t = enterHeap();
    try {
      k.kfree(addr);
    } finally {
      leaveHeap(t);
    }
  };

  // Own blocks still held here (not handed away): address and size.
  const mine: number[] = [];
  const entry = new Int32Array(3);
  const stampOf = (addr: number, size: number): number => (Math.imul(addr, 0x9e3779b1) ^ size ^ (lane << 28)) | 0;

  /** Alloc one block and record it; -1 when the heap is full. */
  const allocOne = (): number => {
    const size = randomSize();
    let p: number;
    try {
      p = kmalloc(size);
    } catch (e) {
      if ((e as Error).name !== 'OutOfMemoryError') throw e;
      add(L_OOM, 1);
      return -1;
    }
    owners[p >>> 3] = lane + 1;
    add(L_ALLOCS, 1);
    add(L_LIVE_BLOCKS, 1);
    add(L_LIVE_BYTES, size);
    mine.push(p, size);
    last(OP_ALLOC, p, size, -1);
    return p;
  };

  const freeOwn = (): void => {
    const i = rand(mine.length >> 1) << 1;
    const p = mine[i]!;
    const size = mine[i + 1]!;
    mine[i] = mine[mine.length - 2]!;
    mine[i + 1] = mine[mine.length - 1]!;
    mine.length -= 2;
    kfree(p);
    add(L_FREES, 1);
    add(L_LIVE_BLOCKS, -1);
    add(L_LIVE_BYTES, -size);
    last(OP_FREE, p, size, -1);
  };

  const alive = (j: number): boolean => Atomics.load(ctl, laneWord(j, L_ALIVE)) === 1;
  const lanes = (): number => Atomics.load(ctl, G_LANES);

  /** The next live worker after this one, or -1. */
  const target = (): number => {
    const n = lanes();
    for (let d = 1; d < n; d++) {
      const j = (lane + d) % n;
      if (alive(j)) return j;
    }
    return -1;
  };

  /** Hands one of its own blocks to the next worker; false when it cannot. */
  const handOne = (): boolean => {
    const to = target();
    if (to < 0 || mine.length === 0) return false;
    const r = handRing(lane, to);
    if (ringCount(ctl, r) >= HAND_CAP) return false;
    const i = rand(mine.length >> 1) << 1;
    const p = mine[i]!;
    const size = mine[i + 1]!;
    const stamp = stampOf(p, size);
    u32[p >>> 2] = stamp; // the payload the taker checks
    ringPush(ctl, r, HAND_CAP, p, size, stamp);
    mine[i] = mine[mine.length - 2]!;
    mine[i + 1] = mine[mine.length - 1]!;
    mine.length -= 2;
    add(L_HANDED, 1);
    last(OP_HAND, p, size, to);
    return true;
  };

  /** Takes a block another worker handed here and frees it (a remote free); false when none. */
  const takeOne = (): boolean => {
    const n = lanes();
    for (let d = 1; d < n; d++) {
      const from = (lane + n - d) % n;
      const r = handRing(from, lane);
      if (ringCount(ctl, r) === 0) continue;
      // The owner's notice ring must have room (when the owner is alive to collect it).
      const ownerAlive = alive(from);
      const nr = noteRing(lane, from);
      if (ownerAlive && ringCount(ctl, nr) >= NOTE_CAP) continue;
      ringTake(ctl, r, HAND_CAP, entry);
      const p = entry[0]! >>> 0;
      const size = entry[1]!;
      if ((u32[p >>> 2]! | 0) !== entry[2]) add(L_BAD, 1);
      kfree(p);
      add(L_SENT, 1);
      add(L_SENT_TO + from, 1);
      if (ownerAlive) ringPush(ctl, nr, NOTE_CAP, p, size, 0, 2);
      else add(L_ORPHAN, 1);
      last(OP_REMOTE_FREE, p, size, from);
      return true;
    }
    return false;
  };

  /** Collects the notices of its blocks freed by others. */
  const collect = (): void => {
    const n = lanes();
    for (let from = 0; from < n; from++) {
      if (from === lane) continue;
      const r = noteRing(from, lane);
      while (ringTake(ctl, r, NOTE_CAP, entry, 2)) {
        add(L_RECV, 1);
        add(L_RECV_FROM + from, 1);
        add(L_LIVE_BLOCKS, -1);
        add(L_LIVE_BYTES, -entry[1]!);
      }
    }
  };

  const liveBlocks = (): number => Atomics.load(ctl, L(L_LIVE_BLOCKS));

  /** One op of the workload. */
  const op = (): void => {
    const w = Atomics.load(ctl, G_WORKLOAD);
    if (w === W_LOCAL || (w === W_MIXED && rand(4) !== 0)) {
      // Two allocs for one free until the window is full: the heap fills up to it, then holds steady.
      if (mine.length === 0 || (liveBlocks() < WINDOW && rand(3) !== 0)) {
        if (allocOne() < 0 && mine.length > 0) freeOwn();
      } else freeOwn();
      return;
    }
    if (w === W_HANDOFF) {
      // Alternate: take a handed block (a remote free), else make one and hand it on.
      if (rand(2) === 0 && takeOne()) return;
      if (liveBlocks() < WINDOW && (mine.length === 0 || rand(2) === 0) && allocOne() >= 0) return;
      if (handOne() || takeOne()) return;
      if (mine.length > 0) freeOwn();
      else last(OP_IDLE, 0, 0, -1);
      return;
    }
    // mixed, the handoff quarter
    if (takeOne() || handOne()) return;
    if (mine.length > 0) freeOwn();
    else allocOne();
  };

  const dieHolding = (): void => {
    holdHeapLock(h);
    Atomics.store(ctl, L(L_STATE), S_HOLDING);
    post({ kind: 'holding', lane, slot: h.slot });
    Atomics.wait(ctl, L(L_CMD), CMD_DIE_HOLDING); // until terminated
  };

  // ops/s over the last half second of running
  let winOps = 0;
  let winMs = 0;
  const loop = (): void => {
    for (;;) {
      if (Atomics.load(ctl, L(L_CMD)) === CMD_DIE_HOLDING) return dieHolding();
      collect();
      const gen = Atomics.load(ctl, G_GEN);
      const budget = Atomics.load(ctl, L(L_BUDGET));
      if (budget <= 0) {
        Atomics.store(ctl, L(L_STATE), S_PARKED);
        // Parked: wake on the page's signal, or now and then to collect notices.
        Atomics.wait(ctl, G_GEN, gen, 50);
        continue;
      }
      Atomics.store(ctl, L(L_STATE), S_RUNNING);
      // A batch at full speed, one op at a time when slowed down.
      const delay = Atomics.load(ctl, G_DELAY);
      const batch = delay > 0 ? 1 : Math.min(64, budget);
      const t0 = performance.now();
      let done = 0;
      for (; done < batch; done++) {
        if (budget !== UNLIMITED && Atomics.sub(ctl, L(L_BUDGET), 1) <= 0) {
          Atomics.store(ctl, L(L_BUDGET), 0);
          break;
        }
        op();
        add(L_OPS, 1);
        if (done % 16 === 15) collect();
      }
      const dt = performance.now() - t0;
      f64[F + F_RUN_MS] = f64[F + F_RUN_MS]! + dt;
      winOps += done;
      winMs += dt + Math.max(delay, 0);
      if (winMs >= 500 || delay > 0) {
        f64[F + F_OPS_PER_S] = (winOps * 1000) / winMs;
        winOps = 0;
        winMs = 0;
      }
      if (delay > 0) Atomics.wait(ctl, G_GEN, Atomics.load(ctl, G_GEN), delay);
    }
  };
  post({ kind: 'ready', lane, slot: h.slot });
  try {
    loop();
  } catch (e) {
    Atomics.store(ctl, L(L_STATE), S_FAILED);
    post({ kind: 'failed', lane, message: `${(e as Error).name}: ${(e as Error).message}` });
  }
}

self.onmessage = (e: MessageEvent<WorkerStart>): void => {
  if (e.data.lane < 0 || e.data.lane >= MAX_LANES) return;
  start(e.data);
};
