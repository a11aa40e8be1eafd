/**
 * `heap.stats()`: counters kept in the heap's state block, and pause-time
 * percentiles over the ring of the last pauses.
 *
 * @module
 */
import { unhandedBytes } from './blocks.js';
import type { HeapState } from './state.js';
import {
  F_ALLOCATED,
  F_CREDIT,
  F_CYCLES,
  F_FREED,
  F_ISSUED,
  F_LIVE,
  F_LIVE_OBJS,
  F_OBJ_FREED,
  F_OVERFLOWS,
  F_PAUSE_MAX,
  F_PAUSE_SUM,
  F_THRESHOLD,
  FLAG_INCREMENTAL,
  S_FLAGS,
  S_PAUSES,
  S_PCAP,
  S_PCOUNT,
} from './layout.js';

/** Pause times of the collector, in milliseconds. */
export interface PauseStats {
  /** Pauses recorded (each `collect()`, each `step()`, each automatic run). */
  count: number;
  /** Longest pause ever. */
  maxMs: number;
  /** Median of the last 1024 pauses. */
  p50Ms: number;
  /** 99th percentile of the last 1024 pauses. */
  p99Ms: number;
  /** Sum of all pauses. */
  totalMs: number;
}

/** What `heap.stats()` returns. */
export interface HeapStats {
  /** Completed collection cycles. */
  collections: number;
  /** Collector pause times, in milliseconds. */
  pauses: PauseStats;
  /** Bytes allocated for objects, all time (headers included). */
  bytesAllocated: number;
  /** Bytes of objects freed by the collector, all time. */
  bytesFreed: number;
  /** Objects freed, all time. */
  objectsFreed: number;
  /** Bytes of objects that survived the last complete sweep. */
  liveBytes: number;
  /** Objects that survived the last complete sweep. */
  liveObjects: number;
  /** Allocation between two cycles (max(minThreshold, live * growthFactor)). */
  threshold: number;
  /** Times marking found its mark stack full and unable to grow, and rescanned the heap instead. */
  markStackOverflows: number;
  /** The collector's phase now. */
  phase: 'idle' | 'mark' | 'sweep';
  /** True in incremental mode. */
  incremental: boolean;
  /**
   * Root handles made outside any scope and not released yet (named
   * globals not counted). A number that keeps growing is a leak of roots.
   */
  rootHandles: number;
}

/** Value at quantile q (0..1) of sorted values (nearest rank). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

/** The recorded pause times of the last (up to 1024) pauses, ms, oldest first. */
export function pauseRing(st: HeapState): Float64Array {
  const u32 = st.v.u32;
  const s = st.s;
  const count = u32[s + S_PCOUNT]!;
  const cap = u32[s + S_PCAP]!;
  const n = Math.min(count, cap);
  const base = u32[s + S_PAUSES]! >>> 3;
  const ring = st.v.f64.slice(base, base + n);
  if (count <= cap) return ring;
  const k = count % cap;
  const out = new Float64Array(n);
  out.set(ring.subarray(k), 0);
  out.set(ring.subarray(0, k), n - k);
  return out;
}

/** `heap.stats()`. */
export function heapStats(heap: HeapState): HeapStats {
  const c = (i: number): number => heap.counter(i);
  const ring = pauseRing(heap).sort();
  return {
    collections: c(F_CYCLES),
    pauses: {
      count: heap.word(S_PCOUNT),
      maxMs: c(F_PAUSE_MAX),
      p50Ms: quantile(ring, 0.5),
      p99Ms: quantile(ring, 0.99),
      totalMs: c(F_PAUSE_SUM),
    },
    // Blocks are charged whole when allocation starts in them: subtract the
    // slots of the current blocks not handed out yet.
    bytesAllocated: c(F_ALLOCATED) + c(F_ISSUED) - c(F_CREDIT) - unhandedBytes(heap),
    bytesFreed: c(F_FREED),
    objectsFreed: c(F_OBJ_FREED),
    liveBytes: c(F_LIVE),
    liveObjects: c(F_LIVE_OBJS),
    threshold: c(F_THRESHOLD),
    markStackOverflows: c(F_OVERFLOWS),
    phase: heap.phaseName(),
    incremental: (heap.word(S_FLAGS) & FLAG_INCREMENTAL) !== 0,
    rootHandles: heap.unscopedRootSlots() - heap.globalSlots.size,
  };
}
