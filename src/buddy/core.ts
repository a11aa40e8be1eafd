/**
 * What the buddy's helper files (pcp.ts, check.ts, grow.ts) see of an
 * allocator: the cached indices of its state and the free-list steps they
 * build on. {@link BuddyAllocator} implements it; the members are
 * marked internal there (not in the published types). Declared here, below the
 * class, so that the helpers import no file that imports them (no cycle).
 *
 * @module
 */
import type { Memory } from '../memory/memory.js';

/** An allocator as its helper functions use it. */
export interface BuddyCore {
  /** The Memory the pages live in; `null` in offsets-only mode. */
  readonly memory: Memory | null;
  /** The Memory the state lives in. */
  readonly state: Memory;
  readonly pageSize: number;
  readonly base: number;
  readonly maxOrder: number;
  readonly maxPages: number;
  /** The instance's worker slot. */
  readonly slot: number;
  /** u32 index of the control block. */
  readonly w: number;
  /** i32 index of links[0]. */
  readonly links: number;
  /** u8 index of info[0]. */
  readonly info: number;
  /** i32 index of the lock word when the state is shared, else -1. */
  readonly lockAt: number;
  /** i32 index of this slot's per-worker list entry, or -1 (no lists of its own). */
  readonly pcpAt: number;
  /** i32 index of the per-worker list table, or -1 when the state has none. */
  readonly pcpTable: number;
  /** Pages a worker keeps on its lists before it gives `pcpBatch` back. */
  readonly pcpHigh: number;
  /** Pages' worth of blocks a refill takes, and a give-back returns. */
  readonly pcpBatch: number;
  /** The claim word value this instance last held its slot's entry with (-1: none yet). */
  pcpMine: number;
  /** The claim the pending release microtask frees (0: none pending). */
  claimHeld: number;
  /** Frees `claimHeld` (bound to the instance once: a microtask callback). */
  readonly releaseClaim: () => void;
  /** Pages managed now (synced). */
  readonly pages: number;
  /** Free pages now, cached ones included. */
  readonly freePages: number;
  /** Takes a free block of `order`, marks it allocated with length `n`; its page index, or -1. */
  takeBlock(order: number, n: number): number;
  /** As takeBlock, but splits the largest free block (pcp.ts's refills: runs far apart); -1 if none of `order` or more. */
  takeFromLargest(order: number, n: number): number;
  /** Gives back pages [p + n, p + 2^order) of a block just taken (their buddies lie inside it). */
  trimTail(p: number, order: number, n: number): void;
  /** __free_one_page: merges page p's block of `order` with free buddies and lists it. */
  freeBlock(i32: Int32Array, u8: Uint8Array, p: number, order: number): void;
  /** Takes the buddy lock (shared memory only). */
  enter(): void;
  /** Releases the buddy lock. */
  leave(): void;
}

/**
 * The order of the largest block that starts at page q, is aligned to its
 * size, ends by `end` and is at most 2^cap pages: how a run of pages is cut
 * into buddy blocks (seeding, growth, exact allocations).
 */
export function alignedOrder(q: number, end: number, cap: number): number {
  let k = q === 0 ? cap : Math.min(31 - Math.clz32(q & -q), cap);
  while (q + (1 << k) > end) k--;
  return k;
}

/** x rounded up to a multiple of a. */
export function alignUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}
