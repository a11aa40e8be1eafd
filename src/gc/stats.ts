/**
 * `heap.stats()`: counters kept in the heap's state block, and pause-time
 * percentiles over the ring of the last pauses.
 *
 * @module
 */
import { unhandedBytes } from './blocks.js';
import type { ManagedHeap } from './heap.js';
import {
  F_ALLOCATED, F_CREDIT, F_CYCLES, F_FREED, F_ISSUED, F_LIVE, F_LIVE_OBJS,
  F_OBJ_FREED, F_OVERFLOWS, F_PAUSE_MAX, F_PAUSE_SUM, F_THRESHOLD, S_PCOUNT,
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
}

/** Value at quantile q (0..1) of sorted values (nearest rank). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

/** @internal */
export function heapStats(heap: ManagedHeap): HeapStats {
  const c = (i: number): number => heap.counter(i);
  const ring = heap.pauses().sort();
  return {
    collections: c(F_CYCLES),
    pauses: {
      count: heap.stateWord(S_PCOUNT),
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
    phase: heap.phase,
    incremental: heap.incremental,
  };
}
