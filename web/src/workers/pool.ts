/**
 * The workers view's Web Workers: 2 to 4 module workers (heap-worker.ts) on
 * one Kmalloc heap in a SharedArrayBuffer, driven through the control words
 * of protocol.ts (run, pause, one op each, slow mode), their counters read
 * back, a worker terminated while it holds the heap lock and recovered with
 * `Kmalloc.recover`, and the heap checked once the workers are parked.
 */
import {
  CMD_DIE_HOLDING,
  CTL_WORDS,
  F_CALL_SINCE,
  F_HEAP_MS,
  F_MAX_CALL_MS,
  F_OPS_PER_S,
  F_RUN_MS,
  G_DELAY,
  G_GEN,
  G_LANES,
  G_WORKLOAD,
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
  S_DEAD,
  S_PARKED,
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
} from './protocol.js';
import {
  type HeapPicture,
  type NoPicture,
  type SharedHeap,
  checkPicture,
  createHeap,
  lockHolder,
  recoverSlot,
  snapshot,
} from './source.js';

/** The workloads, by URL id. */
export const WORKLOADS = {
  local: W_LOCAL,
  handoff: W_HANDOFF,
  mixed: W_MIXED,
} as const;
export type WorkloadId = keyof typeof WORKLOADS;

/** One lane's counters, as the page shows them. */
export interface LaneStats {
  lane: number;
  slot: number;
  state: number;
  alive: boolean;
  recovered: boolean;
  ops: number;
  allocs: number;
  frees: number;
  sent: number;
  received: number;
  orphans: number;
  handed: number;
  liveBlocks: number;
  liveBytes: number;
  calls: number;
  contended: number;
  bad: number;
  oom: number;
  heapMs: number;
  runMs: number;
  opsPerSec: number;
  maxCallMs: number;
  /** ms the current heap call has lasted (0: in none). */
  inCallMs: number;
  lastOp: number;
  lastAddr: number;
  lastSize: number;
  lastPeer: number;
  /** sentTo[j]: remote frees of lane j's blocks done by this lane. */
  sentTo: number[];
  /** receivedFrom[j]: notices collected from lane j. */
  receivedFrom: number[];
  /** Notices of this lane's blocks freed by others, not collected yet. */
  pendingIn: number;
}

/** What {@link WorkerPool.check} found. */
export interface CheckReport {
  ok: boolean;
  problems: string[];
  sent: number;
  received: number;
  orphans: number;
  /** Notices still on rings (only ever to a dead worker once drained). */
  pending: number;
  liveBlocks: number;
  /** Live blocks per lane, as the heap holds them. */
  blocksByLane: number[];
  /** Live blocks the heap holds with no owner recorded. */
  unowned: number;
}

const HEAP_BYTES = 1 << 20;

export class WorkerPool {
  readonly heap: SharedHeap;
  readonly ctl: Int32Array;
  readonly f64: Float64Array;
  readonly owners: Uint8Array;
  readonly lanes: number;
  private readonly workers: Array<Worker | null> = [];
  private readonly recovered: boolean[] = [];
  private readonly holding = new Map<number, () => void>();
  /** Messages of workers that failed. */
  readonly failures: string[] = [];

  constructor(lanes: number, workload: WorkloadId) {
    this.lanes = Math.max(2, Math.min(MAX_LANES, lanes));
    this.heap = createHeap(HEAP_BYTES);
    this.ctl = new Int32Array(new SharedArrayBuffer(CTL_WORDS * 4));
    this.f64 = new Float64Array(new SharedArrayBuffer(MAX_LANES * LANE_F64 * 8));
    this.owners = new Uint8Array(new SharedArrayBuffer(this.heap.memory.byteLength >>> 3));
    this.ctl[G_LANES] = this.lanes;
    this.ctl[G_WORKLOAD] = WORKLOADS[workload];
    for (let l = 0; l < this.lanes; l++) this.ctl[laneWord(l, L_SLOT)] = -1;
  }

  /**
   * Starts the workers: all of them load at once, then they join the heap
   * one after the other (each takes its slot before the next joins, so each
   * can tell which slot is its own). They start parked.
   */
  async start(): Promise<void> {
    const readies: Array<{ ready: Promise<void>; go: () => void }> = [];
    for (let lane = 0; lane < this.lanes; lane++) {
      const w = new Worker(new URL('./heap-worker.ts', import.meta.url), {
        type: 'module',
        name: `heap-worker-${lane}`,
      });
      this.workers.push(w);
      this.recovered.push(false);
      Atomics.store(this.ctl, laneWord(lane, L_ALIVE), 1);
      const ready = new Promise<void>((resolve, reject) => {
        w.onmessage = (e: MessageEvent<WorkerReport>) => {
          const m = e.data;
          if (m.kind === 'ready') resolve();
          else if (m.kind === 'holding') this.holding.get(m.lane)?.();
          else if (m.kind === 'failed') {
            this.failures.push(`worker ${m.lane}: ${m.message}`);
            reject(new Error(m.message));
          }
        };
        w.onerror = (e) => {
          this.failures.push(`worker ${lane}: ${e.message}`);
          reject(new Error(e.message));
        };
      });
      const job: WorkerStart = {
        heap: this.heap.memory.buffer as SharedArrayBuffer,
        ctl: this.ctl.buffer as SharedArrayBuffer,
        f64: this.f64.buffer as SharedArrayBuffer,
        owners: this.owners.buffer as SharedArrayBuffer,
        lane,
        seed: 0x5eed + lane * 7919,
      };
      ready.catch(() => {}); // awaited below, in order; a later worker may fail first
      readies.push({ ready, go: () => w.postMessage(job) });
    }
    for (const r of readies) {
      r.go();
      await r.ready;
    }
  }

  private wake(): void {
    Atomics.add(this.ctl, G_GEN, 1);
    Atomics.notify(this.ctl, G_GEN);
  }

  /** ms each worker waits after an op (0: full speed). */
  setDelay(ms: number): void {
    Atomics.store(this.ctl, G_DELAY, ms);
    this.wake();
  }

  run(): void {
    for (let l = 0; l < this.lanes; l++) Atomics.store(this.ctl, laneWord(l, L_BUDGET), UNLIMITED);
    this.wake();
  }

  pause(): void {
    for (let l = 0; l < this.lanes; l++) Atomics.store(this.ctl, laneWord(l, L_BUDGET), 0);
    this.wake();
  }

  /** One more op for each live worker. */
  step(): void {
    for (let l = 0; l < this.lanes; l++) {
      const w = laneWord(l, L_BUDGET);
      if (Atomics.load(this.ctl, w) !== UNLIMITED) Atomics.add(this.ctl, w, 1);
    }
    this.wake();
  }

  get running(): boolean {
    for (let l = 0; l < this.lanes; l++) if (Atomics.load(this.ctl, laneWord(l, L_BUDGET)) === UNLIMITED) return true;
    return false;
  }

  /** The heap slot holding the lock now, or -1. */
  lockHolder(): number {
    return lockHolder(this.heap);
  }

  /** The lane whose worker has heap slot `slot`, or -1 (the page is slot 0). */
  laneOfSlot(slot: number): number {
    for (let l = 0; l < this.lanes; l++) if (this.ctl[laneWord(l, L_SLOT)] === slot) return l;
    return -1;
  }

  stats(lane: number): LaneStats {
    const c = this.ctl;
    const g = (w: number): number => Atomics.load(c, laneWord(lane, w));
    const f = (w: number): number => this.f64[lane * LANE_F64 + w]!;
    const since = f(F_CALL_SINCE);
    const sentTo: number[] = [];
    const receivedFrom: number[] = [];
    let pendingIn = 0;
    for (let j = 0; j < this.lanes; j++) {
      sentTo.push(g(L_SENT_TO + j));
      receivedFrom.push(g(L_RECV_FROM + j));
      if (j !== lane) pendingIn += ringCount(c, noteRing(j, lane));
    }
    return {
      lane,
      slot: g(L_SLOT),
      state: g(L_STATE),
      alive: g(L_ALIVE) === 1,
      recovered: this.recovered[lane] === true,
      ops: g(L_OPS),
      allocs: g(L_ALLOCS),
      frees: g(L_FREES),
      sent: g(L_SENT),
      received: g(L_RECV),
      orphans: g(L_ORPHAN),
      handed: g(L_HANDED),
      liveBlocks: g(L_LIVE_BLOCKS),
      liveBytes: g(L_LIVE_BYTES),
      calls: g(L_CALLS),
      contended: g(L_CONTENDED),
      bad: g(L_BAD),
      oom: g(L_OOM),
      heapMs: f(F_HEAP_MS),
      runMs: f(F_RUN_MS),
      opsPerSec: f(F_OPS_PER_S),
      maxCallMs: f(F_MAX_CALL_MS),
      inCallMs: since === 0 ? 0 : Math.max(0, performance.timeOrigin + performance.now() - since),
      lastOp: g(L_LAST_OP),
      lastAddr: g(L_LAST_ADDR) >>> 0,
      lastSize: g(L_LAST_SIZE),
      lastPeer: g(L_LAST_PEER),
      sentTo,
      receivedFrom,
      pendingIn,
    };
  }

  /** Blocks on the hand ring from `from` to `to`. */
  handedInFlight(from: number, to: number): number {
    return ringCount(this.ctl, handRing(from, to));
  }

  /**
   * Terminates lane `lane`'s worker without detaching, at its worst
   * moment between two ops: it takes the heap lock, says so, and the page
   * kills it. Resolves with its heap slot.
   */
  terminateHolding(lane: number): Promise<number> {
    const w = this.workers[lane];
    if (w === null || w === undefined) return Promise.reject(new Error(`worker ${lane} is not running`));
    return new Promise<number>((resolve) => {
      this.holding.set(lane, () => {
        this.holding.delete(lane);
        w.terminate();
        this.workers[lane] = null;
        Atomics.store(this.ctl, laneWord(lane, L_ALIVE), 0);
        Atomics.store(this.ctl, laneWord(lane, L_STATE), S_DEAD);
        resolve(this.ctl[laneWord(lane, L_SLOT)]!);
      });
      Atomics.store(this.ctl, laneWord(lane, L_CMD), CMD_DIE_HOLDING);
      this.wake();
    });
  }

  /** `Kmalloc.recover(memory, slot)` for a terminated lane; true when it held the lock. */
  recover(lane: number): boolean {
    if (this.workers[lane] !== null || this.recovered[lane] === true)
      throw new Error(`worker ${lane} was not terminated`);
    const held = recoverSlot(this.heap, this.ctl[laneWord(lane, L_SLOT)]!);
    this.recovered[lane] = true;
    return held;
  }

  /** True when lane `lane` was terminated and not recovered yet. */
  needsRecovery(lane: number): boolean {
    return this.workers[lane] === null && this.recovered[lane] !== true;
  }

  /**
   * Pauses and waits until every live worker is parked and has collected
   * its notices (the remote frees are drained). Rejects after `ms`.
   */
  async settle(ms = 5000): Promise<void> {
    this.pause();
    const until = performance.now() + ms;
    for (;;) {
      let quiet = true;
      for (let l = 0; l < this.lanes && quiet; l++) {
        const s = this.stats(l);
        if (!s.alive) continue;
        if (s.state !== S_PARKED || s.pendingIn > 0) quiet = false;
      }
      // Parked twice in a row, 60 ms apart: nothing is between two ops.
      if (quiet) {
        await new Promise((r) => setTimeout(r, 60));
        let still = true;
        for (let l = 0; l < this.lanes; l++) {
          const s = this.stats(l);
          if (s.alive && (s.state !== S_PARKED || s.pendingIn > 0)) still = false;
        }
        if (still) return;
      }
      if (performance.now() > until) throw new Error('the workers did not settle');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** A picture of the heap now (see source.ts). */
  picture(ms?: number): HeapPicture | NoPicture {
    return snapshot(this.heap, this.owners, ms);
  }

  /**
   * Settles the workers, then checks the heap and the workers' accounts:
   * the heap's own invariants (source.ts: checkPicture), every live block
   * owned by a worker, each worker's count of its live blocks equal to the
   * heap's (less the remote frees it has not heard of), the remote frees
   * sent equal to those received (plus those to dead workers), no damaged
   * payload.
   */
  async check(): Promise<CheckReport> {
    await this.settle();
    const p = this.picture(500);
    const problems: string[] = [];
    const blocksByLane = new Array<number>(this.lanes).fill(0);
    let unowned = 0;
    let liveBlocks = 0;
    if ('reason' in p) {
      problems.push(
        p.reason === 'locked'
          ? `the heap lock is held by slot ${p.holder}: no picture (recover that worker first)`
          : `the heap copy does not open: ${p.message}`,
      );
    } else {
      problems.push(...checkPicture(p));
      liveBlocks = p.blocks.length;
      for (const b of p.blocks) {
        if (b.lane >= 0 && b.lane < this.lanes) blocksByLane[b.lane]!++;
        else unowned++;
      }
      if (unowned > 0) problems.push(`${unowned} live blocks with no owner recorded`);
    }
    const all = Array.from({ length: this.lanes }, (_, l) => this.stats(l));
    let sent = 0;
    let received = 0;
    let orphans = 0;
    let pending = 0;
    for (const s of all) {
      sent += s.sent;
      received += s.received;
      orphans += s.orphans;
      pending += s.pendingIn;
      if (s.bad > 0) problems.push(`worker ${s.lane}: ${s.bad} handed blocks had a damaged payload`);
      if (s.alive && s.pendingIn > 0) problems.push(`worker ${s.lane}: ${s.pendingIn} notices not collected`);
      // Its blocks the heap still holds = its count, less remote frees of its blocks it has not collected.
      let unheard = 0;
      for (const o of all) unheard += o.sentTo[s.lane]! - s.receivedFrom[o.lane]!;
      if (!('reason' in p) && blocksByLane[s.lane] !== s.liveBlocks - unheard)
        problems.push(
          `worker ${s.lane}: the heap holds ${blocksByLane[s.lane]} of its blocks, it counts ${s.liveBlocks} less ${unheard} not heard of`,
        );
      for (const o of all) {
        if (o.lane === s.lane) continue;
        const inFlight = ringCount(this.ctl, noteRing(o.lane, s.lane));
        if (s.alive && o.sentTo[s.lane]! !== s.receivedFrom[o.lane]! + inFlight)
          problems.push(
            `remote frees ${o.lane} → ${s.lane}: ${o.sentTo[s.lane]} sent, ${s.receivedFrom[o.lane]} received, ${inFlight} on the ring`,
          );
      }
    }
    if (sent !== received + orphans + pending)
      problems.push(`remote frees: ${sent} sent, ${received} received, ${orphans} to dead owners, ${pending} pending`);
    return { ok: problems.length === 0, problems, sent, received, orphans, pending, liveBlocks, blocksByLane, unowned };
  }

  /** Terminates every worker (the heap is thrown away with the pool). */
  dispose(): void {
    for (const w of this.workers) w?.terminate();
    this.workers.fill(null);
  }
}
