/**
 * What kmalloc's helper files (debug.ts, check.ts, inspect.ts, pages.ts,
 * remote.ts) see of a heap: the cached indices and geometry they read, the
 * lock they take, and what they call back.
 * {@link Kmalloc} implements it (the members not public are marked internal
 * there). Declared here, below the class, so that the helpers import no file
 * that imports them (no cycle).
 *
 * @module
 */
import type { BuddyAllocator } from '../buddy/index.js';
import type { Memory } from '../memory/index.js';
import type { SlabSpace } from '../slab/index.js';
import type { TlsfHeap } from '../tlsf/index.js';

/**
 * What the helpers call of a shared heap's per-slot TLSF heaps (MediumHeaps,
 * medium.ts, which is internal: the published types must not name it).
 */
export interface MediumCore {
  /** This slot's heap (made on first use; `held`: the heap lock is held). */
  ownHeap(held?: boolean): TlsfHeap;
  /** Calls `visit(slot, heap)` for every slot's heap there is. */
  forEachHeap(visit: (s: number, heap: TlsfHeap) => void): void;
  /** The blocks on slot `s`'s remote list (frees not yet taken in). */
  remoteBlocks(s: number): Set<number>;
  /** Checks every slot's heap not in `skip`; `bad` throws. */
  checkAll(skip: number, bad: (what: string, word: number) => never, pageTable: number): void;
}

/** A heap as its helper functions use it. */
export interface KmallocCore {
  /** The buddy allocator underneath. */
  readonly buddy: BuddyAllocator;
  /** The Memory the heap lives in. */
  readonly memory: Memory;
  /** True when the debug checks are on. */
  readonly debug: boolean;
  /** Class sizes, ascending. */
  readonly classSizes: readonly number[];
  /** The one TLSF heap of an unshared heap (K_TLSF); on a shared one slot 0's, opened by slot 0 only. */
  readonly heap0: TlsfHeap;
  /** The per-slot TLSF heaps of a heap laid out shared; null otherwise. */
  readonly med: MediumCore | null;
  /** The slab space whose page table the heap's pages are described in. */
  readonly space: SlabSpace;
  /** u32 index of the control block. */
  readonly k: number;
  /** u32 index of this slot's cur[0]: per class, the head of its page queue (the current page). */
  readonly cur: number;
  /** u32 index of this slot's curFree[0]: per class, the free list of its current page (this slot's alone). */
  readonly cf: number;
  /** u32 index of the always-0 word (an empty queue). */
  readonly noPage: number;
  /** Size classes. */
  readonly nClasses: number;
  /** Per class: bytes per slot. */
  readonly stride: Int32Array;
  /** Per class: objects * stride, the slots' end in a page. */
  readonly span: Int32Array;
  /** Per class: buddy pages per class page. */
  readonly pagesOf: Int32Array;
  /** Offset of a block in its slot (the left red zone with debug, else 0). */
  readonly objOffset: number;
  /** The free-tag key of the heap. */
  readonly key: number;
  /** u32 index of the page table. */
  readonly pt: number;
  /** Address of the buddy's page 0. */
  readonly base: number;
  /** log2 of a page's bytes. */
  readonly shift: number;
  /** Bytes of a buddy page. */
  readonly pageSize: number;
  /** u32 index of the heap lock when the memory is shared, else -1. */
  readonly lockAt: number;
  /** u32 index of reclaim[slot]: this slot's FULL pages that got a remote free (linked by P_PREV). */
  readonly reclaimAt: number;
  /** u32 index of abandoned[0]. */
  readonly abandonedAt: number;
  /** This instance's worker slot. */
  readonly slot: number;
  /** Page descriptor d's thread_free word is `d + tfDelta`. */
  readonly tfDelta: number;
  /** Byte address of the page whose head descriptor is `d`. */
  pageAddr(d: number): number;
  /** Throws HeapCorruptionError unless `d`, link `step` of class `cls`'s list whose head word is `list`, is a page of the class. */
  checkQueued(d: number, cls: number, step: number, list: number): void;
  /** Class whose current page reapCurrent looks at first (a rotation: pages.ts). */
  reapNext: number;
  /** The most buddy pages in use seen by reapCurrent (its walk runs near this peak only). */
  peakPages: number;
  /** Per class: the sole current page reapCurrent last found empty (0 = none). */
  readonly idleSeen: Uint32Array;
  /** Before pages are taken from the buddy: gives back empty current pages (reapCurrent) and this slot's spare TLSF chunk. */
  releaseIdle(): void;
  /** Takes the heap lock on a shared memory (re-entrant within the instance); nothing otherwise. */
  enter(): void;
  /** Releases what `enter` took. */
  leave(): void;
}
