/**
 * The control block of a {@link Kmalloc} heap in the buffer (kmalloc.ts,
 * pages.ts and remote.ts keep hot-path copies of these constants:
 * scripts/layout-copies.ts).
 *
 * The slab space's page table (slab/layout.ts owns the descriptor and draws
 * its fields), the TLSF control block and this control block are all in the
 * buffer; the header slot `HeaderSlot.Kmalloc` points at it.
 * ```
 *   word  0 lock | 1 magic 'KMAL' | 2 largeBlocks | 3 largePages | 4 metaPages
 *         5 slab space region | 6 class count | 7 maxClass | 8 TLSF region
 *         9 free-tag key | 10 flags (1 = debug, 2 = thread_free table) | 11 version (7)
 *        12 NO_PAGE (always 0)
 *        13 largeAbove
 *        16 .. 16+n-1           slot 0's cur[class]: descriptor word index of the current page
 *        14 hotPages: buddy pages of the classes promoted for their rate (CW_CHURN)
 *        16+n .. 16+10n-1       per class: size, stride, buddy pages per page, objects
 *                               per page, pages made, pages given back, wait, promoteAt,
 *                               churn (promotion: CW_WAIT below)
 *        C = 16+10n rounded up to 16 words (a 64-byte line); L = n rounded up to 16:
 *        C .. C+31L-1           cur[] of worker slots 1..31, L words each (whole lines:
 *                               no two workers' tables share a cache line)
 *        C+31L .. C+31L+31      reclaim[slot]: FULL pages a remote free gave back (0 = none)
 *        C+31L+32 .. +n-1       abandoned[class]: pages whose worker left (0 = none)
 *        (next 64-byte line)    slot 0's curFree[class], L words: the free list of its
 *                               current page of the class, which the slot alone pops and
 *                               pushes (SLUB's per-CPU freelist; "The current page" in
 *                               kmalloc.ts)
 *        (next 64-byte line)    with flag 2 (a shared memory): the medium area (medium.ts,
 *                               MEDIUM_WORDS): region[slot] of each slot's TLSF heap (slot
 *                               0's is word 8's), then remote[slot], one 64-byte line each,
 *                               whose other 15 words are the slot's large-block cache
 *                               (large-cache.ts)
 *        (after it)             with flag 2: curFree[] of worker slots 1..31, L + SLOT_GAP
 *                               words each (two idle lines between two slots' tables)
 *        (after it)             with flag 2: the thread_free table, 8 words
 *                               per buddy page, word d - pageTable holding descriptor d's
 *                               thread_free (FLAG_REMOTE_TABLE; else descriptor word 7)
 * ```
 *
 * @module
 */
import { MAX_WORKERS } from '../memory/lock.js';
import { P_THREAD_FREE } from '../slab/layout.js';
import { MEDIUM_WORDS } from './medium.js';

export const KMALLOC_MAGIC = 0x4c414d4b;
/** 8 (4 Dec 2026): SLOT_GAP between the curFree tables of slots 1..31; 7 had them abut. */
export const KMALLOC_VERSION = 8;
/** The heap lock (src/memory/lock.ts), held around every public method when the memory is shared. */
export const K_LOCK = 0;
export const K_MAGIC = 1;
export const K_LARGE_BLOCKS = 2;
export const K_LARGE_PAGES = 3;
export const K_META_PAGES = 4;
export const K_SPACE = 5;
export const K_CLASSES = 6;
export const K_MAX_CLASS = 7;
export const K_TLSF = 8;
export const K_KEY = 9;
export const K_FLAGS = 10;
export const K_VERSION = 11;
export const K_LARGE_ABOVE = 13;
/** A word that is always 0: `cur[class]` of a class with no page points here. */
export const K_NO_PAGE = 12;
/** cur[class] starts here; the class table follows it. */
export const K_CUR = 16;
/** Words per class in the class table: size, stride, pages, objects, pages made, pages freed, wait, promoteAt, churn. */
export const CLASS_WORDS = 9;
export const CW_MADE = 4;
export const CW_FREED = 5;
/**
 * Promotion (the `promoteAfter` option): while a class's `wait` word is not 0 its
 * sizes go to the TLSF tier, and each of its blocks there counts down `wait`
 * (a free counts it up again, never above CW_PROMOTE_AT); at 0 the class takes
 * pages of its own for good. A heuristic count: a realloc in place or a block
 * TLSF did not split may count in a neighbouring class, which moves only when
 * a class is promoted, never where a block is.
 *
 * A class with few blocks live but many allocations is promoted for its rate:
 * every CHURN_ALLOCS of its TLSF allocations (`churn` counts them down) it is,
 * if the pages of all classes so promoted (K_HOT_PAGES) would still be at most
 * 1/HOT_SHARE of the heap's footprint. Its page's waste is then within that share.
 */
export const CW_WAIT = 6;
export const CW_PROMOTE_AT = 7;
export const CW_CHURN = 8;
/** Control word: buddy pages of the classes promoted for their allocation rate. */
export const K_HOT_PAGES = 14;
/** TLSF allocations of a waiting class between two looks at promoting it for its rate. */
export const CHURN_ALLOCS = 256;
/** Classes promoted for their rate hold at most 1/HOT_SHARE of the footprint in pages (at promotion). */
export const HOT_SHARE = 32;
export const FLAG_DEBUG = 1;
/**
 * The heap keeps its pages' thread_free words in a table of their own (a
 * shared memory): word `d - pageTable` of the table is page descriptor d's,
 * so the words the owner writes on every alloc and free (free, used) and the
 * word other workers compareExchange on every remote free are on different
 * cache lines. Without it thread_free is word P_THREAD_FREE of the descriptor.
 */
export const FLAG_REMOTE_TABLE = 2;

/**
 * u32 index of worker slot `slot`'s cur[] table: slot 0's at K_CUR (where it
 * was before workers had pages of their own), the others after the class table.
 */
export function curTable(k: number, n: number, slot: number): number {
  return slot === 0 ? k + K_CUR : k + curTables(n) + (slot - 1) * line(n);
}

/**
 * Word offset of slot 1's cur[] table: on a 64-byte line, as is every
 * slot's table (each takes whole lines), so that one worker's page changes
 * never take the line another worker reads on every alloc and free.
 */
function curTables(n: number): number {
  return line(K_CUR + (1 + CLASS_WORDS) * n);
}

/** `words` rounded up to whole 64-byte lines (16 words). */
function line(words: number): number {
  return (words + 15) & ~15;
}

/** u32 index of reclaim[0] (one word per worker slot). */
export function reclaimTable(k: number, n: number): number {
  return k + curTables(n) + (MAX_WORKERS - 1) * line(n);
}

/** u32 index of abandoned[0] (one word per class). */
export function abandonedTable(k: number, n: number): number {
  return reclaimTable(k, n) + MAX_WORKERS;
}

/**
 * Idle words between two worker slots' curFree tables (two 64-byte lines).
 * Every alloc and free writes its slot's table; with the tables abutting,
 * two workers on adjacent slots ran the thread-local loop of `npm run
 * bench -- workers` at 0.86x the ops per CPU-second of two workers on
 * slots 1 and 3, and 0.89x of two workers with a heap each (16 M ops a
 * worker, medians of 7 alternating rounds, 4 Dec), though no word is
 * written by both. Most likely the hardware prefetchers, which fetch lines
 * next to the ones a core touches (Intel's spatial prefetcher completes
 * 128-byte pairs), kept pulling a neighbour's table line into the other
 * core. With this gap the three measured the same within 2%
 * (bench/scratch/slots.ts, git-ignored; docs/workers.md has the figures).
 */
const SLOT_GAP = 32;

/** Words from one worker slot's curFree table to the next one's (slots 1..31). */
function curFreeStride(n: number): number {
  return line(n) + SLOT_GAP;
}

/** u32 index of the thread_free table (FLAG_REMOTE_TABLE): after the control words, on a 64-byte line. */
export function remoteTable(k: number, n: number): number {
  return mediumTable(k, n) + MEDIUM_WORDS + (MAX_WORKERS - 1) * curFreeStride(n);
}

/** Page descriptor d's thread_free word is `d + threadFreeDelta(...)`. */
export function threadFreeDelta(u32: Uint32Array, k: number, n: number, pageTable: number): number {
  return (u32[k + K_FLAGS]! & FLAG_REMOTE_TABLE) !== 0 ? remoteTable(k, n) - pageTable : P_THREAD_FREE;
}

/** u32 index of the medium area (medium.ts: per-slot TLSF regions, remote lists; FLAG_REMOTE_TABLE only). */
export function mediumTable(k: number, n: number): number {
  return k + line(controlWords(n));
}

/**
 * u32 index of worker slot `slot`'s curFree[] table, on whole 64-byte lines
 * (no two slots' tables share a line): slot 0's at the end of the control
 * block, the others' after the medium area, which only a heap laid out
 * shared (FLAG_REMOTE_TABLE in the flags at `u32[k + K_FLAGS]`) has; -1 for
 * them on any other heap (it has no slot but 0).
 */
export function curFreeTable(u32: Uint32Array, k: number, n: number, slot: number): number {
  if (slot === 0) return k + line(abandonedTable(0, n) + n);
  if ((u32[k + K_FLAGS]! & FLAG_REMOTE_TABLE) === 0) return -1;
  return mediumTable(k, n) + MEDIUM_WORDS + (slot - 1) * curFreeStride(n);
}

/** Words of a control block with `n` classes. */
export function controlWords(n: number): number {
  return line(abandonedTable(0, n) + n) + line(n);
}
