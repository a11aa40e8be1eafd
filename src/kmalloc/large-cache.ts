/**
 * Per-worker caches of freed large blocks (a shared heap only): jemalloc's
 * tcache for large sizes, the kernel's per-CPU page lists for blocks of a
 * few pages.
 *
 * Why. On a shared heap a large block (whole buddy pages: a medium size that
 * pages fit within 1/32, or a size above `largeAbove`) is taken from and given
 * back to the buddy under the buddy lock. Two workers allocating 4-32 KiB
 * blocks (about one in ten of them takes pages) spent most of their time
 * waiting on that lock: 1.3x-1.4x the ops/s of one worker, where a heap per
 * worker did 2x (docs/workers.md). Now a worker keeps up to LC_ENTRIES of its
 * freed large blocks of at most LC_MAX_PAGES pages (LC_BUDGET_PAGES in all)
 * and serves an allocation of exactly that many pages from them: no lock,
 * no atomic operation, and no buddy split or merge.
 *
 * State: words 1..15 of slot s's remote line in the medium area
 * (medium.ts: `remoteHead(m, s)`, whose word 0 is the slot's remote list):
 * ```
 *   +1 + 2i   address of cached block i (0 = empty), i < LC_ENTRIES
 *   +2 + 2i   its pages
 *   +15       pages cached in all (at most LC_BUDGET_PAGES)
 * ```
 * A cached block stays allocated in the buddy and counted in K_LARGE_BLOCKS
 * and K_LARGE_PAGES (so a free into the cache and an allocation from it touch
 * no shared counter; `largeStats` subtracts the cached ones); its first page
 * descriptor has INFO 0 (no owner: a free of it, a second free, is refused as
 * not allocated) and P_FREELIST its pages.
 *
 * Who touches a slot's cache: its worker, with plain reads and writes and no
 * lock (as it does its own TLSF heap); anyone else only while nobody holds the
 * slot, under the heap lock: `Kmalloc.recover` of a dead worker, `shrink` and
 * `checkInvariants`. A worker's `detach` and `shrink` give its cache back to
 * the buddy, and so does an allocation that finds no pages (then it retries).
 *
 * @module
 */
import { HeapCorruptionError, hex } from '../errors/index.js';
import { MAX_WORKERS } from '../memory/lock.js';
import type { KmallocCore } from './core.js';
import { K_LARGE_BLOCKS, K_LARGE_PAGES, mediumTable } from './layout.js';
import { remoteHead } from './medium.js';

/** Blocks a slot's cache holds at most. */
export const LC_ENTRIES = 7;
/** Largest block a cache takes, in pages (64 KiB with 4 KiB pages). */
export const LC_MAX_PAGES = 16;
/** Pages a slot's cache holds at most, in all (256 KiB with 4 KiB pages). */
export const LC_BUDGET_PAGES = 64;
/** Word of the pages cached in all, from the cache's first word. */
const LC_TOTAL = 14;
/** P_FREELIST, P_INFO and P_UNUSED of a page descriptor (slab/layout.ts). */
const P_FREELIST = 0;
const P_INFO = 1;
const P_UNUSED = 4;

/** u32 index of slot `slot`'s cache (its first entry's address word); `k`, `n`: the control block, classes. */
export function largeCacheAt(k: number, n: number, slot: number): number {
  return remoteHead(mediumTable(k, n), slot) + 1;
}

/**
 * The entry of the cache at `at` that holds a block of exactly `pages` pages
 * (its word offset from `at`: the address word; the pages word follows), or -1.
 */
export function cacheFind(u32: Uint32Array, at: number, pages: number): number {
  if (u32[at + LC_TOTAL] === 0) return -1;
  for (let i = 0; i < 2 * LC_ENTRIES; i += 2) if (u32[at + i + 1] === pages && u32[at + i] !== 0) return i;
  return -1;
}

/** Empties entry `i` of the cache at `at` (its block is the caller's now). */
export function cacheDrop(u32: Uint32Array, at: number, i: number): void {
  u32[at + LC_TOTAL] = u32[at + LC_TOTAL]! - u32[at + i + 1]!;
  u32[at + i] = 0;
  u32[at + i + 1] = 0;
}

/**
 * Puts freed block `addr` of `pages` pages (its descriptor's INFO already 0,
 * P_FREELIST its pages) in the cache at `at`; false when it does not fit.
 */
export function cachePut(u32: Uint32Array, at: number, addr: number, pages: number): boolean {
  if (pages > LC_MAX_PAGES || u32[at + LC_TOTAL]! + pages > LC_BUDGET_PAGES) return false;
  for (let i = 0; i < 2 * LC_ENTRIES; i += 2) {
    if (u32[at + i] === 0) {
      u32[at + i] = addr;
      u32[at + i + 1] = pages;
      u32[at + LC_TOTAL] = u32[at + LC_TOTAL]! + pages;
      return true;
    }
  }
  return false;
}

/**
 * Gives every block in slot `slot`'s cache back to the buddy (its worker, or
 * anyone while nobody holds the slot, under the heap lock). Returns the pages.
 */
export function flushLargeCache(c: KmallocCore, slot: number): number {
  const at = largeCacheAt(c.k, c.nClasses, slot);
  let freed = 0;
  for (let i = 0; i < 2 * LC_ENTRIES; i += 2) {
    c.memory.sync();
    const u32 = c.memory.u32;
    const addr = u32[at + i]!;
    if (addr === 0) continue;
    const pages = u32[at + i + 1]!;
    // Checked before anything changes: a damaged entry must not send a write or a free anywhere.
    const d = cachedDescriptor(u32, c, c.buddy.pages, addr, pages);
    if (d < 0)
      throw new HeapCorruptionError(
        `kmalloc: slot ${slot}'s large-block cache holds ${hex(addr)} (${pages} pages), which is no cached block`,
        (at + i) * 4,
      );
    u32[at + i] = 0;
    u32[at + i + 1] = 0;
    u32[at + LC_TOTAL] = u32[at + LC_TOTAL]! - pages;
    u32[d + P_FREELIST] = 0;
    u32[d + P_UNUSED] = 0; // the large block's check word (kmalloc.ts, largeTag)
    c.buddy.free(addr);
    const i32 = c.memory.i32; // the buddy may have seen the memory grow: fresh views
    Atomics.sub(i32, c.k + K_LARGE_BLOCKS, 1);
    Atomics.sub(i32, c.k + K_LARGE_PAGES, pages);
    freed += pages;
  }
  return freed;
}

/** True when `addr` is a block in some slot's cache (badFree: a double free). */
export function inLargeCaches(c: KmallocCore, addr: number): boolean {
  const u32 = c.memory.u32;
  for (let s = 0; s < MAX_WORKERS; s++) {
    const at = largeCacheAt(c.k, c.nClasses, s);
    for (let i = 0; i < 2 * LC_ENTRIES; i += 2) if (u32[at + i] === addr) return true;
  }
  return false;
}

/** Blocks and pages held in every slot's cache (for `largeStats`). */
export function cachedTotals(c: KmallocCore): { blocks: number; pages: number } {
  const u32 = c.memory.u32;
  let blocks = 0;
  let pages = 0;
  for (let s = 0; s < MAX_WORKERS; s++) {
    const at = largeCacheAt(c.k, c.nClasses, s);
    for (let i = 0; i < 2 * LC_ENTRIES; i += 2) {
      if (u32[at + i] !== 0) {
        blocks++;
        pages += u32[at + i + 1]!;
      }
    }
  }
  return { blocks, pages };
}

/** Where a heap's pages are (a Kmalloc, or its parts at attach). */
export interface PageGeometry {
  /** Address of page 0. */
  readonly base: number;
  readonly pageSize: number;
  /** u32 index of the page table. */
  readonly pt: number;
}

/**
 * The descriptor (u32 index) of `addr` when it can be a cached block of
 * `pages` pages: 1..LC_MAX_PAGES pages at a page of the heap (`heapPages`
 * pages now) whose descriptor has INFO 0 and P_FREELIST `pages`; else -1.
 * What allocLarge checks before it hands a cached block out, and checkLargeCache of every entry.
 */
export function cachedDescriptor(
  u32: Uint32Array,
  g: PageGeometry,
  heapPages: number,
  addr: number,
  pages: number,
): number {
  const off = addr - g.base;
  if (off < 0 || off % g.pageSize !== 0 || pages < 1 || pages > LC_MAX_PAGES || off / g.pageSize + pages > heapPages)
    return -1;
  const d = g.pt + (off / g.pageSize) * 8;
  return u32[d + P_INFO] === 0 && u32[d + P_FREELIST] === pages ? d : -1;
}

/**
 * Checks the cache at `at` (slot `slot`'s): every entry empty (both words 0)
 * or a cached block ({@link cachedDescriptor}), no block twice (`seen`), and
 * the total right. `bad` throws. Returns the blocks it holds.
 */
export function checkLargeCache(
  u32: Uint32Array,
  at: number,
  g: PageGeometry,
  heapPages: number,
  slot: number,
  bad: (what: string, word: number) => never,
  seen: Set<number>,
): number {
  let total = 0;
  let blocks = 0;
  for (let i = 0; i < 2 * LC_ENTRIES; i += 2) {
    const addr = u32[at + i]!;
    const pages = u32[at + i + 1]!;
    if (addr === 0) {
      if (pages !== 0) bad(`slot ${slot}'s large-block cache: entry ${i >> 1} has pages but no block`, at + i + 1);
      continue;
    }
    if (cachedDescriptor(u32, g, heapPages, addr, pages) < 0 || seen.has(addr))
      bad(
        `slot ${slot}'s large-block cache: entry ${i >> 1} (${hex(addr)}, ${pages} pages) is no cached block (or listed twice)`,
        at + i,
      );
    seen.add(addr);
    total += pages;
    blocks++;
  }
  if (u32[at + LC_TOTAL] !== total)
    bad(`slot ${slot}'s large-block cache: total ${u32[at + LC_TOTAL]!}, entries ${total}`, at + LC_TOTAL);
  return blocks;
}
