/**
 * Kmalloc: the general-purpose allocator (lecture: "Slab Allocator Usage";
 * kernel: mm/slab_common.c), built as mimalloc builds its fast path.
 *
 *   alloc(size):  size <= maxClass (64 B)   ->  a size-class page (below)
 *                 size <= largeAbove (the   ->  the TLSF heap (medium sizes share
 *                 most a TLSF chunk holds)      one free space), unless whole
 *                                              pages waste at most size / 32
 *                 larger                    ->  buddy pages, exactly enough
 *   free(addr):   the page descriptor of addr's page names the owner (a
 *                 class page, a TLSF chunk, a large block), so no size is needed.
 *
 * ## Size-class pages (the small tier; mimalloc's pages, SLUB's slabs)
 *
 * Sizes up to 64 B come in 8-byte classes, then (with a larger maxClass) 8
 * classes per doubling (at most 12.5% apart). Each class has a queue of pages (1 or more buddy pages
 * each) whose head is the class's *current* page; its descriptor index sits
 * in `cur[class]`, one word per class in the control block. A page keeps its
 * free blocks on lists (free-list sharding):
 *
 *   free         blocks given back to the page when it stops being current
 *   local_free   what the owner's free pushes on while the page is not current:
 *                `next(b) = local_free; local_free = b; used--`
 *   thread_free  frees from other workers, pushed with one compareExchange,
 *                taken by the owner in one exchange (see "Many workers")
 *
 * ## The current page (SLUB's kmem_cache_cpu freelist)
 *
 * The current page's free blocks that alloc pops live not in its descriptor
 * but in `curFree[class]`, a table of the worker slot's own (layout.ts: on
 * 64-byte lines no other slot's words share). While a page is current, the
 * blocks on curFree count as *used* in its P_USED (the page is "frozen", as
 * SLUB says): so the common alloc and free read and write only the slot's
 * own line and the block, and never the page descriptor, which other
 * workers read when they free into the page (a remote free reads its INFO
 * and `unused` words; with the owner writing `free` and `used` beside them
 * on every alloc, that cache line moved between cores on every operation).
 *
 *   alloc:  class = table[(size + 7) >> 3]; b = curFree[class]; if b != 0
 *           and b's free tag holds: curFree[class] = next(b), clear the tag.
 *   free:   page = (addr - base) >> pageShift; head = page - delta (a field
 *           of the descriptor, so no branch for multi-page pages); check the
 *           address is on the page's grid; if head is cur[class], push on
 *           curFree[class] (an alloc/free pair never leaves the fast path),
 *           else push on local_free and used-- (countOut).
 *
 * Everything else, the generic path (allocSmall), runs only when curFree is
 * empty: refill() moves the page's `free` or `local_free` list there whole
 * (with one list non-empty every slot carved so far then counts as used: no
 * walk), else collectCurrent() takes its thread_free in one exchange, else
 * it extends the page by some never-used slots, else the page is FULL: off
 * the queue, try the next; else a page from reclaim, the abandoned list or
 * the buddy. flushCurrent() gives curFree back to the page's `free` list
 * (`used` -= its length) whenever the page stops being current (a new head
 * is queued, the head is taken off) and before anything that reads `used`
 * as the page's truth (shrink, detach, recover). A free that makes a page
 * that is not current empty gives it back (unless it is the spare after the
 * current one) or, of a FULL page, queues it again. With no current page,
 * `cur[class]` points at a word that is always 0 and curFree[class] is 0.
 *
 * A free block holds `next` in its first word and `next ^ key` in its second
 * (the free tag; `key` is random per heap). alloc checks the tag of the block
 * it pops (a use-after-free write into a free block gives
 * HeapCorruptionError, never a wild address) and clears it; free sees a
 * block whose tag matches as probably free and confirms by walking the page's
 * lists (O(1) unless the block really is free, or its data looks like a tag).
 *
 * With `debug`, class pages get other owner values (OWNER_CLASS_DEBUG + c),
 * so the fast paths never see them (zero cost when off): slots are then
 * `| link, tag / 0xcc red zone (8) | object | 0xcc red zone (8) |`, a free
 * object is poisoned (0x6b .. 0xa5) and its right zone is 0xbb, and every free
 * walks the lists for a double free.
 *
 * ## Many workers (docs/workers.md)
 *
 * Lock order (acyclic; the lock words are K_LOCK here and the buddy's,
 * taken with src/memory/lock.ts):
 *   1. the kmalloc heap lock, K_LOCK (an unshared heap's one TLSF heap takes
 *      this same word when used directly, and Kmalloc calls the TLSF
 *      `*Locked` methods under it);
 *   2. under it: the buddy's own lock, if the buddy has one (BuddyAllocator).
 *   No lock is held while a worker works on its own pages or its own TLSF
 *   heap: the class-page fast paths, its medium alloc/free and remote frees
 *   take none (remote frees use Atomics only); a chunk refill of its TLSF
 *   heap takes the buddy lock alone (medium.ts).
 *
 * Every worker slot (0: the heap's maker; 1..31: attach on a shared memory)
 * has a cur[] table of its own, so a worker allocates only from pages whose
 * heap byte (bits 24..31 of P_INFO, on every page of the class page) is its
 * slot, and frees into them with plain reads and writes, as on an unshared
 * heap. A free of a block on another slot's page (or an abandoned one)
 * pushes it on that page's thread_free with one compareExchange; the owner
 * takes the whole list with one exchange in the generic path (before
 * extending, before marking the page FULL). `used` counts a block on
 * thread_free as used until then, so only the owner writes `used`.
 *
 * FULL pages and remote frees: the owner takes a page with no free block
 * off its queue, sets FULL in P_USED, then TF_FULL in thread_free with a
 * compareExchange from 0 (if a remote free came meanwhile, the page is
 * queued again and collected). The first remote free that sees TF_FULL
 * takes the heap lock, clears it in its push and pushes the page on
 * reclaim[owner] with a compareExchange (linked by P_PREV, which the owner
 * leaves alone while the page is FULL; the lock keeps the owner's slot from
 * being abandoned meanwhile). The owner takes its whole reclaim list with one
 * exchange, without the lock (a stack that only its owner pops, and only
 * whole, has no ABA problem), when its queue of that class runs dry, before
 * adopting or taking a new page. A
 * free by the owner into its own FULL page clears TF_FULL itself (then it
 * queues the page) or finds it cleared (then the page is on its reclaim
 * list: left to reclaim()).
 *
 * Abandoned pages: `detach` (and `Kmalloc.recover` for a dead worker), under
 * the heap lock, collects each of the slot's pages; an empty one goes back to
 * the buddy, any other gets heap byte HEAP_ABANDONED and joins
 * abandoned[class] (P_NEXT / P_PREV). Frees into it keep going to its
 * thread_free; any worker that needs a page of that class first looks at the
 * first ADOPT_SCAN abandoned pages (gives back the empty ones, adopts the
 * first with a free block), and `shrink` gives back every empty one.
 *
 * Medium sizes (above maxClass, 4 KiB by default on a shared memory, up to
 * largeAbove) on a shared heap: a TLSF heap per worker slot, its chunks'
 * pages carrying the slot in the heap byte; the owner allocates and frees
 * without a lock, other workers' frees go on the slot's remote list (one
 * compareExchange) and the owner drains it before its next medium call (see
 * medium.ts). Class pages come from the buddy under the heap lock; TLSF
 * chunks and large blocks under the buddy lock alone (a large block's free
 * claims it with one compareExchange of its descriptor: see freeLarge).
 *
 * Invariants (Kmalloc.checkInvariants checks them all): a class page's slots
 * are each on exactly one of free / local_free / thread_free / its owner's
 * curFree (the current page only) / the never-used tail, or handed out;
 * `used` counts those handed out plus those on thread_free and curFree;
 * curFree[class] of a slot is empty when cur[class] is NO_PAGE; the heap
 * byte is a joined slot or HEAP_ABANDONED; a page of slot s is on s's queue
 * of its class iff it is not FULL, and a FULL one has TF_FULL set xor is on
 * reclaim[s] (exactly once); an abandoned page is on
 * its class's abandoned list and neither FULL nor TF_FULL; `cur[class]` of a
 * slot is its queue head (or NO_PAGE), and a slot that is not joined has
 * empty queues and an empty reclaim list.
 *
 * State: the slab space's page table, the TLSF control block, and kmalloc's
 * control block, all in the buffer; layout.ts draws the control block.
 *
 * Files: this one holds the class, its fast paths and a class's generic path
 * (allocSmall); the slow paths are free functions over KmallocCore (core.ts)
 * in pages.ts (a class page's life and queue), remote.ts (remote frees,
 * reclaim, abandoned pages), debug.ts, check.ts, inspect.ts and create.ts.
 *
 *
 * @module
 */
import { H_WORKERS } from '../memory/header.js';
import { MAX_WORKERS, leaveWorker, lockMemory, unlock } from '../memory/lock.js';
import type { BuddyAllocator } from '../buddy/index.js';
import { detachBuddyUnder } from '../buddy/attach.js';
import {
  DoubleFreeError,
  HeapCorruptionError,
  InvalidFreeError,
  MemkitError,
  OutOfMemoryError,
  argumentError,
  describe,
  hex,
} from '../errors/index.js';
import type { ByteAllocator, Memory } from '../memory/index.js';
import type { SlabSpace } from '../slab/index.js';
import type { TlsfHeap } from '../tlsf/index.js';
import { T_CHUNK_PAGES } from '../tlsf/layout.js';
import { MediumHeaps } from './medium.js';
import { checkHeap } from './check.js';
import { type KmallocOptions, type KmallocState, attachHeap, createState, openState, recoverSlot } from './create.js';
import {
  KmallocCache,
  forEachBlock,
  forEachClassPage,
  forEachTlsfChunk,
  freeBlocksOf,
  largeStats,
  pageOwner,
  pagesMadeFreed,
  slabinfo,
} from './inspect.js';
import { RED_ZONE, badFree, checkRedZones, poisonSlot } from './debug.js';
import {
  classOfHead,
  enqueueHead,
  flushCurrent,
  newPage,
  onLists,
  pageFreed,
  refill,
  releasePage,
  reapCurrent,
  take,
  unqueue,
} from './pages.js';
import {
  abandonSlot,
  adopt,
  collect,
  collectCurrent,
  freeRemote,
  pushRemote,
  reclaim,
  unlinkAbandoned,
} from './remote.js';
import { classTable } from './classes.js';
import { abandonedTable, curFreeTable, curTable, mediumTable, reclaimTable, threadFreeDelta } from './layout.js';
import {
  LC_MAX_PAGES,
  cacheDrop,
  cacheFind,
  cachePut,
  cachedDescriptor,
  flushLargeCache,
  largeCacheAt,
} from './large-cache.js';

// Hot-path copies of layout constants: V8 reads an imported binding through its module cell on
// every use, and alloc/free are made of such reads. scripts/layout-copies.ts writes them; npm test
// checks they match (test/house/layout-copies.test.ts).
// layout-copies from '../slab/layout.js' (generated by scripts/layout-copies.ts: edit the layout, then `npm run layout`)
const PAGE_SHIFT = 3;
const P_FREELIST = 0;
const P_INFO = 1;
const P_NEXT = 2;
const P_UNUSED = 4;
const P_LOCAL_FREE = 5;
const P_USED = 6;
const USED_FULL = 0x10000;
const USED_MASK = 0xffff;
const OWNER_MASK = 0xffff;
const OWNER_CLASS = 0x8000;
const OWNER_CLASS_DEBUG = 0xc000;
const OWNER_TLSF = 0xfffe;
const OWNER_LARGE = 0xffff;
const HEAD_DELTA_MASK = 0xff;
const HEAP_SHIFT = 24;
const TF_FULL = 1;
// end layout-copies
// layout-copies from './layout.js' (generated by scripts/layout-copies.ts: edit the layout, then `npm run layout`)
const K_LOCK = 0;
const K_LARGE_BLOCKS = 2;
const K_LARGE_PAGES = 3;
const K_META_PAGES = 4;
const K_CLASSES = 6;
const K_MAX_CLASS = 7;
const K_TLSF = 8;
const K_KEY = 9;
const K_FLAGS = 10;
const K_LARGE_ABOVE = 13;
const K_NO_PAGE = 12;
const K_CUR = 16;
const CLASS_WORDS = 9;
const CW_WAIT = 6;
const CW_PROMOTE_AT = 7;
const CW_CHURN = 8;
const K_HOT_PAGES = 14;
const CHURN_ALLOCS = 256;
const HOT_SHARE = 32;
const FLAG_DEBUG = 1;
const FLAG_REMOTE_TABLE = 2;
// end layout-copies

/**
 * The layout words and fields of the two inlined fast paths (alloc, free) as
 * a const enum, so they compile to literals: a module `const` costs V8 a
 * context-slot load and a hole check per use in bytecode, which count
 * against its budget for inlining free (460 bytecode bytes) into the caller.
 * test/kmalloc/fastpath.test.ts checks them against slab/layout.ts.
 */
// biome-ignore lint/suspicious/noConstEnum: inlined as literals by tsc and esbuild (the point of it)
export const enum HotKmalloc {
  PAGE_SHIFT = 3,
  P_FREELIST = 0,
  P_INFO = 1,
  P_UNUSED = 4,
  P_LOCAL_FREE = 5,
  P_USED = 6,
  USED_MASK = 0xffff,
  // biome-ignore lint/suspicious/noDuplicateEnumValues: two fields of the descriptor, both 16 bits wide
  OWNER_MASK = 0xffff,
  OWNER_CLASS = 0x8000,
  OWNER_TLSF = 0xfffe,
  HEAD_DELTA_MASK = 0xff,
  HEAP_SHIFT = 24,
}
/** An owner field of no kmalloc tier (for badFree of a block freed under our feet). */
const OWNER_NONE_VALUE = 0;
/** A medium size goes to whole pages when they waste at most size >> PAGE_FIT_SHIFT (1/32)... */
const PAGE_FIT_SHIFT = 5;
/**
 * ...and it is at least pageSize << PAGE_FIT_MIN_SHIFT (4 pages), or a whole number of
 * pages: below that TLSF serves every size. A pair of 2-page allocs and frees through the
 * buddy took 255-294 ns, through TLSF 60-64 ns (8,032 against 7,900 B, one process), and
 * TLSF wastes at most 22 B; a whole number of pages wastes nothing as pages.
 */
const PAGE_FIT_MIN_SHIFT = 2;
// What locate() finds at an address.
const NOT_A_BLOCK = 0;
const LIVE_BLOCK = 1;
const FREE_BLOCK = 2;

// The names this module exported before create.ts and inspect.ts were split off.
export type { KmallocOptions } from './create.js';
export { KmallocCache } from './inspect.js';

/**
 * kmalloc over size-class pages, a TLSF heap and a buddy allocator.
 *
 * @example
 * ```ts
 * import { Kmalloc } from 'memkit';
 * const k = new Kmalloc({ bytes: 1 << 20 });
 * const p = k.kmalloc(40);        // from the kmalloc-40 size class
 * k.ksize(p);                     // 40
 * const q = k.krealloc(p, 5000);  // moves to the TLSF tier, content kept
 * k.kfree(q);
 * ```
 */
export class Kmalloc implements ByteAllocator {
  /** Name in reports. */
  readonly name = 'kmalloc';
  /** The buddy allocator underneath. */
  readonly buddy: BuddyAllocator;
  /** The Memory the heap lives in. */
  readonly memory: Memory;
  /** The size classes seen as caches, ascending. */
  readonly caches: readonly KmallocCache[];
  /** Class sizes, ascending. */
  readonly classSizes: readonly number[];
  /** Largest size served by a size-class page. */
  readonly maxClass: number;
  /**
   * The TLSF heap of the sizes (maxClass, largeAbove]: on a shared heap this
   * worker slot's own (made on first use), used without a lock by this worker only.
   */
  get tlsf(): TlsfHeap {
    return this.med === null ? this.heap0 : this.med.ownHeap();
  }
  /** Sizes above this go to buddy pages (the TLSF heap serves (maxClass, largeAbove]). */
  readonly largeAbove: number;
  /** True when the debug checks are on. */
  readonly debug: boolean;

  // Derived from the control block (hot-path copies; the buffer is the truth).
  /** @internal The one TLSF heap of an unshared heap (K_TLSF); on a shared one slot 0's, opened by slot 0 only. */
  readonly heap0: TlsfHeap;
  /** @internal The per-slot TLSF heaps (src/kmalloc/medium.ts) of a heap laid out shared; null otherwise. */
  readonly med: MediumHeaps | null;
  /** @internal */
  readonly space: SlabSpace;
  /** @internal u32 index of the control block. */
  readonly k: number;
  /** @internal u32 index of this slot's cur[0]: per class, the head of its page queue (the current page). */
  readonly cur: number;
  /** @internal u32 index of this slot's curFree[0]: per class, the free list of its current page (this slot's alone). */
  readonly cf: number;
  /** @internal u32 index of the always-0 word. */
  readonly noPage: number;
  /** @internal */
  readonly nClasses: number;
  /** u32 index of class 0's words in the class table (CLASS_WORDS per class). */
  private readonly classWords: number;
  /**
   * (size + 7) >> 3 -> class | log2(its page's buddy pages) << 8: alloc's fast path checks
   * the popped block is on the current page with no table of its own (see alloc).
   */
  private readonly table: Uint16Array;
  /** @internal */
  readonly stride: Int32Array;
  private readonly inverse: Float64Array; // inverseOf(stride): floor(rel * inverse) = floor(rel / stride), see onSlot
  /** @internal objects * stride: the slots' end in a page. */
  readonly span: Int32Array;
  /** @internal */
  readonly pagesOf: Int32Array;
  /** @internal */
  readonly objOffset: number;
  private readonly fastMax: number; // maxClass, or -1 with debug (every small size takes the slow path)
  /** @internal */
  readonly key: number;
  /** @internal */
  readonly pt: number;
  /** @internal */
  readonly base: number;
  /** @internal */
  readonly shift: number;
  /** @internal */
  readonly pageSize: number;
  private readonly pageMask: number;
  private readonly maxPages: number;
  /** Pages of the buddy's largest block (2 ** maxOrder: a power on every large alloc showed as 6.5% of a profile). */
  private readonly maxBlockPages: number;
  // Many workers (docs/workers.md): a worker's class pages and TLSF heap are its own (no lock); large
  // blocks take the buddy lock alone; page refills and the hand-over lists below take the heap lock.
  /** @internal u32 index of the heap lock (word K_LOCK of the control block) when the memory is shared, else -1. */
  readonly lockAt: number;
  /** @internal u32 index of reclaim[this.slot]: this worker's FULL pages that got a remote free (linked by P_PREV). */
  readonly reclaimAt: number;
  /** @internal u32 index of abandoned[0]: per class, the pages whose worker left (linked by P_NEXT / P_PREV). */
  readonly abandonedAt: number;
  /** @internal This instance's worker slot: 0 for the thread that made the heap, 1..31 for one that attached. */
  readonly slot: number;
  /** @internal Page descriptor d's thread_free word is `d + tfDelta` (FLAG_REMOTE_TABLE). */
  readonly tfDelta: number;
  /** u32 index of this slot's large-block cache (large-cache.ts) on a shared heap, else -1. */
  private readonly lcAt: number;
  /** Nesting of enter() in this instance (the lock is re-entrant for its holder: realloc calls alloc). */
  private depth = 0;

  /**
   * Creates a kmalloc heap: `{ bytes }` (optionally `maxBytes`), `{ memory }` or `{ buddy }`.
   *
   * @throws InvalidArgumentError on bad options.
   */
  constructor(options?: KmallocOptions);
  /** @internal attach's path: the state is already in the buffer. */
  constructor(options: KmallocOptions, state: KmallocState);
  constructor(options: KmallocOptions = {}, state?: KmallocState) {
    const st = state ?? createState(options);
    const { buddy, space, tlsf, k } = st;
    const memory = buddy.memory!;
    memory.sync();
    const u32 = memory.u32;
    const n = u32[k + K_CLASSES]!;
    this.buddy = buddy;
    this.memory = memory;
    this.space = space;
    this.heap0 = tlsf as TlsfHeap; // null only with med (a shared heap's other slots)
    this.k = k;
    this.cur = curTable(k, n, st.slot);
    this.cf = curFreeTable(u32, k, n, st.slot);
    this.noPage = k + K_NO_PAGE;
    this.nClasses = n;
    this.idleSeen = new Uint32Array(n);
    this.classWords = k + K_CUR + n;
    this.reclaimAt = reclaimTable(k, n) + st.slot;
    this.abandonedAt = abandonedTable(k, n);
    this.debug = (u32[k + K_FLAGS]! & FLAG_DEBUG) !== 0;
    this.tfDelta = threadFreeDelta(u32, k, n, space.pageTable);
    this.objOffset = this.debug ? RED_ZONE : 0;
    this.key = u32[k + K_KEY]! | 0;
    this.pt = space.pageTable;
    this.base = buddy.base;
    this.shift = buddy.pageShift;
    this.pageSize = buddy.pageSize;
    this.pageMask = buddy.pageSize - 1;
    this.maxPages = buddy.maxPages;
    this.maxBlockPages = 2 ** buddy.maxOrder;
    const sizes: number[] = [];
    this.stride = new Int32Array(n);
    this.inverse = new Float64Array(n);
    this.span = new Int32Array(n);
    this.pagesOf = new Int32Array(n);
    const caches: KmallocCache[] = [];
    for (let c = 0; c < n; c++) {
      const w = k + K_CUR + n + c * CLASS_WORDS;
      const size = u32[w]!;
      const stride = u32[w + 1]!;
      sizes.push(size);
      this.stride[c] = stride;
      this.inverse[c] = inverseOf(stride);
      this.pagesOf[c] = u32[w + 2]!;
      this.span[c] = u32[w + 3]! * stride;
      caches.push(new KmallocCache(this, c, size, stride, u32[w + 2]!, u32[w + 3]!, this.objOffset));
    }
    this.classSizes = sizes;
    this.caches = caches;
    this.maxClass = u32[k + K_MAX_CLASS]!;
    this.largeAbove = u32[k + K_LARGE_ABOVE]!;
    this.fastMax = this.debug ? -1 : this.maxClass;
    const byClass = classTable(sizes);
    this.table = new Uint16Array(byClass.length);
    for (let i = 0; i < byClass.length; i++) {
      const c = byClass[i]!;
      // A class page is one buddy block: 2^o pages from its head (newPage's allocPages).
      this.table[i] = c | ((32 - Math.clz32(this.pagesOf[c]! - 1)) << 8);
    }
    this.lockAt = memory.shared ? k + K_LOCK : -1;
    this.slot = st.slot;
    this.lcAt = (u32[k + K_FLAGS]! & FLAG_REMOTE_TABLE) !== 0 ? largeCacheAt(k, n, st.slot) : -1;
    if ((u32[k + K_FLAGS]! & FLAG_REMOTE_TABLE) !== 0) {
      // Per-slot TLSF heaps (medium.ts); their control regions count as metadata.
      const med = new MediumHeaps(
        memory,
        buddy,
        space,
        mediumTable(k, n),
        st.slot,
        this.key,
        u32[(u32[k + K_TLSF]! >>> 2) + T_CHUNK_PAGES]!,
        (on) => (on ? this.enter() : this.leave()),
        (pages) => {
          const w = this.memory.u32;
          w[k + K_META_PAGES] = w[k + K_META_PAGES]! + pages;
        },
      );
      if (tlsf !== null) med.adopt(0, tlsf);
      this.med = med;
    } else {
      this.med = null;
      tlsf!.shareLock(k + K_LOCK, st.slot); // k.tlsf used directly takes the heap lock too
    }
  }

  /**
   * Opens a second instance over the kmalloc heap in `memory` (a
   * SharedArrayBuffer from another worker, or a copy of the buffer).
   *
   * @throws MemkitError if the Memory holds no kmalloc heap.
   *
   * @example
   * ```ts
   * const k = new Kmalloc({ bytes: 1 << 20 });
   * const p = k.kmalloc(32);
   * const copy = Kmalloc.attach(Memory.wrap(k.memory.buffer.slice(0))); // a copy of the buffer
   * copy.isAllocated(p); // true
   * ```
   */
  static attach(memory: Memory): Kmalloc {
    return attachHeap(memory, (k, slot) => Kmalloc.open(memory, k, slot));
  }

  /** attach's checks and construction, on the control block at u32 index `k`. */
  private static open(memory: Memory, k: number, slot: number): Kmalloc {
    const st = openState(memory, k, slot);
    const heap = new Kmalloc({}, st);
    heap.med?.checkAll(
      st.busy,
      (what, word) => {
        throw new HeapCorruptionError(`kmalloc: damaged medium heaps: ${what}`, word * 4);
      },
      st.space.pageTable,
    );
    return heap;
  }

  // ------------------------------------------------------------ fast paths

  /**
   * Allocates `size` bytes (0 gives a unique smallest block, as malloc(0)).
   *
   * @throws InvalidArgumentError if size is not a whole number in [0, 2^32).
   * @throws OutOfMemoryError when no page can be had.
   * @throws HeapCorruptionError when a free block was written to after its free.
   *
   * @example
   * ```ts
   * const k = new Kmalloc({ bytes: 1 << 20 });
   * const p = k.alloc(100);
   * k.usableSize(p); // 104
   * ```
   */
  alloc(size: number): number {
    if (typeof size !== 'number') return this.allocOther(size); // a BigInt, a string...: no arithmetic on it
    if (size <= this.fastMax && size >>> 0 === size) {
      const mem = this.memory;
      mem.sync();
      const u32 = mem.u32;
      const e = this.table[(size + 7) >>> 3]!;
      const cls = e & 0xff;
      const f = this.cf + cls;
      const b = u32[f]!; // curFree[cls]: the current page's free list, this slot's own line (0: empty)
      if (b !== 0) {
        const a = b >>> 2;
        const next = u32[a]!;
        // The block's free tag (a use-after-free write fails it), and the block on the current
        // page: its page index less the page's head's, below the page's 2^(e >> 8) buddy pages
        // (a damaged curFree word naming another page's free block, whose tag is good, fails
        // that: the other page would hand the block out again). No page descriptor is read or
        // written: its `used` counts the blocks on curFree.
        if (
          (u32[a + 1]! ^ next) === this.key &&
          (((b - this.base) >>> this.shift) - ((u32[this.cur + cls]! - this.pt) >>> PAGE_SHIFT)) >>> (e >>> 8) === 0
        ) {
          u32[f] = next;
          u32[a + 1] = 0; // a live block carries no free tag
          return b;
        }
      }
      return this.allocSmall(cls, size);
    }
    return this.allocOther(size); // medium and large sizes, bad sizes, debug heaps
  }

  /**
   * Frees a block from alloc/realloc.
   *
   * @throws InvalidFreeError / DoubleFreeError; the heap is unchanged then.
   *
   * @example
   * ```ts
   * const k = new Kmalloc({ bytes: 1 << 20 });
   * const p = k.alloc(40);
   * k.free(p);
   * k.isAllocated(p); // false
   * ```
   */
  free(addr: number): void {
    // Kept under V8's limit for inlining a function (460 bytecode bytes; 445 as tsx and the build
    // compile it on node 20: `node --print-bytecode --print-bytecode-filter=free`), and as small as
    // can be, since what V8 inlines into one caller shares a budget of 920 bytes (alloc is 225,
    // memory.sync 39; a candidate must fit 1.2x its size: test/kmalloc/inlining.test.ts): locals
    // for fields, literals for layout words (HotKmalloc), the slot test as one float multiply
    // (onSlot; an imul-and-rotate test was 50 bytes more); every other case is freeRest's. Above
    // the limit free is a call: the 64 B pair ran 0.7x.
    if (typeof addr !== 'number') return this.freeOther(addr);
    const mem = this.memory;
    mem.sync();
    const u32 = mem.u32;
    const off = addr - this.base;
    const pg = off >>> this.shift; // off < 0 gives a pg past maxPages: the buffer ends below 2^32
    if (addr >>> 0 === addr && pg < this.maxPages) {
      const info = u32[this.pt + (pg << HotKmalloc.PAGE_SHIFT) + HotKmalloc.P_INFO]!;
      // owner - OWNER_CLASS when the owner is OWNER_CLASS + c, else 0x8000 or more: the owner
      // (low 16 bits) moved to the top, its bit 15 flipped (-2^31 is a pooled constant: the
      // 0xffff and 0x8000 of the plain form take 20 bytes of free's bytecode budget), moved back.
      const cls = ((info << 16) ^ -0x80000000) >>> 16;
      if (cls < this.nClasses) {
        const head = pg - ((info >>> 16) & HotKmalloc.HEAD_DELTA_MASK); // the head page of a multi-page page
        const h = this.pt + (head << HotKmalloc.PAGE_SHIFT);
        const rel = off - ((head << this.shift) >>> 0); // unsigned: a heap may pass 2 GiB
        // A slot's start (onSlot, inline: rel × inverse truncated is rel's slot index, times the
        // stride it is rel only at a slot's start), below `unused` (which never passes the last
        // slot's end), on this worker's page.
        if (
          ((rel * this.inverse[cls]!) | 0) * this.stride[cls]! === rel &&
          addr < u32[h + HotKmalloc.P_UNUSED]! &&
          info >>> HotKmalloc.HEAP_SHIFT === this.slot
        ) {
          const a = addr >>> 2;
          const key = this.key;
          if ((u32[a + 1]! ^ u32[a]!) === key) return this.freeSuspect(h, addr);
          // The current page takes the block straight back on curFree, this slot's own
          // line, with `used` unchanged (SLUB's per-CPU freelist); any other page
          // collects it on `local_free`, counted out of `used`.
          const local = h + HotKmalloc.P_LOCAL_FREE;
          const list = u32[this.cur + cls] === h ? this.cf + cls : local;
          const lf = u32[list]!;
          u32[a] = lf;
          u32[a + 1] = lf ^ key;
          u32[list] = addr;
          if (list === local) this.countOut(h, cls);
          return;
        }
      } else if (info === HotKmalloc.OWNER_TLSF) {
        return this.freeTlsf(addr); // INFO of an unshared TLSF chunk's page (a shared one's names its slot)
      }
    }
    this.freeRest(addr);
  }

  /** free's other cases: another worker's page, a TLSF block on a shared heap, a large block, a bad address. */
  private freeRest(addr: number): void {
    const off = addr - this.base;
    const pg = off >>> this.shift;
    if (addr >>> 0 === addr && off >= 0 && pg < this.maxPages) {
      const u32 = this.memory.u32;
      const d = this.pt + (pg << PAGE_SHIFT);
      const info = u32[d + P_INFO]!;
      if (info === OWNER_TLSF && this.med === null) return this.freeTlsf(addr); // INFO of a TLSF page: the owner alone
      const cls = (info & OWNER_MASK) - OWNER_CLASS;
      if (cls >>> 0 < this.nClasses) {
        const h = d - (((info >>> 16) & HEAD_DELTA_MASK) << PAGE_SHIFT);
        const rel = addr - this.pageAddr(h);
        // Another worker's page (or an abandoned one): its thread_free list.
        if (
          addr < u32[h + P_UNUSED]! &&
          onSlot(rel, this.inverse[cls]!, this.stride[cls]!) &&
          info >>> HEAP_SHIFT !== this.slot
        )
          return freeRemote(this, h, addr, addr);
      } else if ((info & OWNER_MASK) === OWNER_TLSF && this.med !== null) {
        return this.med.free(addr, info >>> HEAP_SHIFT); // its slot's heap: no lock, or a remote free
      } else if ((info & OWNER_MASK) === OWNER_LARGE && (off & this.pageMask) === 0) {
        return this.freeLarge(addr, pg);
      }
    }
    this.freeOther(addr);
  }

  // ------------------------------------------------ size-class pages, slow

  /** alloc's generic path for class `cls`: the current page's `free` list is empty (or damaged). */
  private allocSmall(cls: number, size: number): number {
    const mem = this.memory;
    mem.checkLive(); // a detached buffer reads undefined, which sends alloc here
    for (;;) {
      const u32 = mem.u32;
      const d = u32[this.cur + cls]!;
      if (d !== this.noPage) {
        this.checkQueued(d, cls, 0, this.cur + cls); // a damaged cur[cls] would send refill or take anywhere
        if (u32[this.cf + cls] === 0 && !refill(this, d, cls)) {
          if (u32[d + this.tfDelta] !== 0) {
            collectCurrent(this, d, cls); // other workers' frees, taken in one exchange
            continue;
          }
          // No free block: the page is full. Off the queue first, then TF_FULL tells the
          // first remote free, which hands it back on reclaim[owner] (and so writes P_PREV).
          unqueue(this, cls, d);
          u32[d + P_USED] = u32[d + P_USED]! | USED_FULL;
          // (thread_free is 0 here; unshared, nothing can change it: a plain write, see clearFullFlag.)
          if (this.lockAt < 0) u32[d + this.tfDelta] = TF_FULL;
          else if (Atomics.compareExchange(mem.i32, d + this.tfDelta, 0, TF_FULL) !== 0) {
            // A remote free came in between: keep the page, collect it next round.
            u32[d + P_USED] = u32[d + P_USED]! & ~USED_FULL;
            enqueueHead(this, cls, d);
          }
          continue;
        }
        return take(this, cls) + this.objOffset;
      }
      // A class not yet promoted (promoteAfter) lives on the TLSF tier.
      if (u32[this.classWords + cls * CLASS_WORDS + CW_WAIT] !== 0) {
        const p = this.allocWaiting(cls, size);
        if (p !== 0) return p;
      }
      // No page queued: full pages that remote frees gave back, an abandoned page, a new page.
      if (this.detached) this.gone(); // its slot is given back: no page may become the slot's
      if (u32[this.reclaimAt] !== 0 && reclaim(this)) continue;
      if (u32[this.abandonedAt + cls] !== 0 && adopt(this, cls)) continue;
      this.newPageOrFlush(cls, size);
    }
  }

  /** A new page for class `cls`; when the buddy has none, this worker's cached large blocks go back first. */
  private newPageOrFlush(cls: number, size: number): void {
    try {
      newPage(this, cls, size);
    } catch (e) {
      if (!(e instanceof OutOfMemoryError) || this.lcAt < 0 || flushLargeCache(this, this.slot) === 0) throw e;
      newPage(this, cls, size);
    }
  }

  /**
   * alloc of a class that waits for promotion: a TLSF block, counted down
   * from the class's `wait` word (at 0 the class takes pages from now on).
   * Returns 0 when no TLSF chunk can be had (the class is promoted then).
   */
  private allocWaiting(cls: number, size: number): number {
    const w = this.classWords + cls * CLASS_WORDS;
    const p = this.heap0.tryAllocLocked(size); // a class waits only on an unshared heap (promoteAfter)
    const u32 = this.memory.u32; // after the alloc: taking a chunk may have grown the buffer
    if (p === 0) {
      u32[w + CW_WAIT] = 0; // no chunk to be had: pages serve the class
      return 0;
    }
    u32[w + CW_WAIT] = u32[w + CW_WAIT]! - 1;
    const churn = u32[w + CW_CHURN]! - 1;
    u32[w + CW_CHURN] = churn === 0 ? CHURN_ALLOCS : churn;
    if (churn === 0) {
      // Promoted for its rate if all such classes' pages stay within 1/HOT_SHARE of the footprint.
      const hot = u32[this.k + K_HOT_PAGES]! + this.pagesOf[cls]!;
      if (hot * HOT_SHARE <= this.footprintPages()) {
        u32[this.k + K_HOT_PAGES] = hot;
        u32[w + CW_WAIT] = 0;
      }
    }
    return p;
  }

  /**
   * free of a block on a page whose INFO is OWNER_TLSF (slot 0's chunks; on an
   * unshared heap, every TLSF chunk): on an unshared heap, counts it back
   * into its class's `wait` while the class waits for promotion. The block's
   * size is read first and counted after the free, which refuses a bad address
   * with nothing changed.
   */
  private freeTlsf(addr: number): void {
    if (this.med !== null) return this.freeRest(addr); // slot 0's TLSF pages on a shared heap
    const size = this.tlsfPayload(addr);
    this.heap0.freeLocked(addr);
    if (size <= this.maxClass) this.countBack(size);
  }

  /**
   * Payload bytes of the TLSF block at `addr` by its header's size word (BH_SIZE), read
   * unchecked: callers use it only after TLSF has accepted `addr` (a refused address
   * throws first), so a wrong read never counts.
   */
  private tlsfPayload(addr: number): number {
    return (this.memory.u32[(addr >>> 2) - 2]! & ~7) - 8;
  }

  /** Buddy pages the heap holds for blocks (its footprint in pages: metadata pages aside). */
  private footprintPages(): number {
    return this.buddy.pages - this.buddy.freePages - this.memory.u32[this.k + K_META_PAGES]!;
  }

  /** A TLSF block of `size` payload bytes left its class: counts it back while the class waits. */
  private countBack(size: number): void {
    const u32 = this.memory.u32;
    const w = this.classWords + (this.table[(size + 7) >>> 3]! & 0xff) * CLASS_WORDS + CW_WAIT;
    const v = u32[w]!;
    if (v !== 0 && v < u32[w + (CW_PROMOTE_AT - CW_WAIT)]!) u32[w] = v + 1;
  }

  // ---------------------------------------- pages and workers (pages.ts, remote.ts)

  /**
   * A block of page `h` went on its local_free (free of a page that is not
   * current, or freeSuspect's confirmed free): one less used, and what follows.
   */
  private countOut(h: number, cls: number): void {
    const u32 = this.memory.u32;
    const w = u32[h + HotKmalloc.P_USED]! - 1;
    u32[h + HotKmalloc.P_USED] = w;
    if ((w - 1) >>> 0 >= HotKmalloc.USED_MASK) pageFreed(this, h, cls, w); // now empty, or was FULL
  }

  /** @internal Byte address of the page whose head descriptor is `d`. */
  pageAddr(d: number): number {
    return this.base + ((((d - this.pt) >>> PAGE_SHIFT) << this.shift) >>> 0);
  }

  /** free of a block whose words look like a free block's: a double free, or live data that looks like a tag. */
  private freeSuspect(h: number, slot: number): void {
    if (onLists(this, h, slot))
      throw new DoubleFreeError(`kfree(${hex(slot)}): block already free (double free)`, slot);
    this.pushFree(h, slot);
  }

  /** Pushes `slot` on page `h`'s local_free list and counts it out. */
  private pushFree(h: number, slot: number): void {
    const u32 = this.memory.u32;
    const cls = classOfHead(this, h);
    const lf = u32[h + P_LOCAL_FREE]!;
    u32[slot >>> 2] = lf;
    u32[(slot >>> 2) + 1] = lf ^ this.key;
    u32[h + P_LOCAL_FREE] = slot;
    this.countOut(h, cls);
  }

  // locate()'s results (fields, so that no object is made per call). Small
  // integers only: a field that once holds a heap number (an address read from
  // a Float64Array, say) changes representation, which deprecates Kmalloc's
  // hidden class and deoptimizes alloc and free (seen with --trace-generalization
  // when the slot was kept here too: its callers compute it from the address).
  private locH = 0;
  private locCls = 0;

  /**
   * For an address in a class page: LIVE when `addr` is a handed-out
   * block's address, FREE when it is a free block's, NOT_A_BLOCK otherwise
   * (not on the grid, never handed out, not a class page). Leaves the head
   * descriptor and class in locH and locCls (the slot is `addr - objOffset`).
   */
  private locate(addr: number): number {
    if (typeof addr !== 'number' || addr >>> 0 !== addr) return NOT_A_BLOCK;
    const off = addr - this.base;
    const pg = off >>> this.shift;
    if (!(off >= 0 && pg < this.maxPages)) return NOT_A_BLOCK;
    this.memory.sync();
    const u32 = this.memory.u32;
    const d = this.pt + (pg << PAGE_SHIFT);
    const info = u32[d + P_INFO]!;
    const own = info & OWNER_MASK;
    if (own < OWNER_CLASS || own >= OWNER_TLSF) return NOT_A_BLOCK;
    const cls = own >= OWNER_CLASS_DEBUG ? own - OWNER_CLASS_DEBUG : own - OWNER_CLASS;
    if (cls >= this.nClasses) return NOT_A_BLOCK;
    const h = d - (((info >>> 16) & HEAD_DELTA_MASK) << PAGE_SHIFT);
    const slot = addr - this.objOffset;
    const rel = slot - this.pageAddr(h);
    if (rel < 0 || !onSlot(rel, this.inverse[cls]!, this.stride[cls]!) || slot >= u32[h + P_UNUSED]!)
      return NOT_A_BLOCK;
    this.locH = h;
    this.locCls = cls;
    const a = slot >>> 2;
    return (u32[a + 1]! ^ u32[a]!) === this.key && onLists(this, h, slot) ? FREE_BLOCK : LIVE_BLOCK;
  }

  // ------------------------------------------------------------ debug (debug.ts)

  /** Debug free of a live block at `slot`: red zones intact, then poison and push. */
  private freeDebug(h: number, cls: number, slot: number): void {
    checkRedZones(this, cls, slot);
    poisonSlot(this, cls, slot);
    if (this.memory.u32[h + P_INFO]! >>> HEAP_SHIFT !== this.slot) return pushRemote(this, h, slot);
    this.pushFree(h, slot);
  }

  // ------------------------------------------------ medium, large, errors

  /**
   * alloc for sizes the fast path does not take: medium sizes (TLSF, unless whole
   * pages would waste at most 1/32 of the size), large ones, debug small sizes, a
   * bad size. Out of alloc so that alloc stays small (V8 inlines it into the caller,
   * in one budget with free and the caller's other calls).
   */
  private allocOther(size: number): number {
    if (typeof size === 'number' && size <= this.largeAbove && size > this.maxClass && size >>> 0 === size) {
      const waste = -size & this.pageMask; // whole pages' waste: 0 for a whole number of pages
      if (waste !== 0 && (size < this.pageSize << PAGE_FIT_MIN_SHIFT || waste << PAGE_FIT_SHIFT > size)) {
        const p = this.med === null ? this.heap0.tryAllocLocked(size) : this.med.alloc(size);
        if (p !== 0) return p;
        // No TLSF chunk to be had (a heap smaller than a chunk): exact pages serve it.
      }
      return this.allocLarge(size);
    }
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 0 || size >= 2 ** 32) {
      throw argumentError('size', 'a whole number in [0, 2^32)', size);
    }
    if (size <= this.maxClass) {
      this.memory.sync();
      return this.allocSmall(this.table[(size + 7) >>> 3]! & 0xff, size);
    }
    return this.allocLarge(size);
  }

  /**
   * Exact buddy pages for `size`. No heap lock: the buddy takes its own, the
   * block's descriptor is this worker's until it hands the address out, and
   * the large-block counters change with Atomics (see {@link freeLarge}).
   */
  private allocLarge(size: number): number {
    if (this.detached) this.gone();
    const pages = Math.ceil(size / this.pageSize);
    if (pages > this.maxBlockPages) {
      throw new OutOfMemoryError(
        `kmalloc: ${size} bytes is more than the largest block (${this.pageSize * this.maxBlockPages} bytes)`,
        size,
      );
    }
    if (this.lcAt >= 0 && pages <= LC_MAX_PAGES) {
      this.memory.sync();
      const i = cacheFind(this.memory.u32, this.lcAt, pages);
      if (i >= 0) return this.fromCache(i, pages);
    }
    this.releaseIdle();
    let addr: number;
    try {
      addr = this.buddy.allocPagesExact(pages);
    } catch (e) {
      if (!(e instanceof OutOfMemoryError)) throw e;
      // This worker's cached large blocks go back first (they may merge), then once more.
      if (this.lcAt < 0 || flushLargeCache(this, this.slot) === 0)
        throw new OutOfMemoryError(`kmalloc: no ${pages} free pages for ${size} bytes`, size);
      return this.allocLarge(size);
    }
    const pg = (addr - this.base) >>> this.shift;
    this.memory.sync(); // taking pages may have grown (and replaced) the buffer
    const u32 = this.memory.u32;
    const i32 = this.memory.i32;
    const d = this.pt + (pg << PAGE_SHIFT);
    u32[d + P_FREELIST] = pages; // a large block's word 0: its pages (free needs no buddy lookup)
    u32[d + P_UNUSED] = largeTag(addr, pages, this.key); // word 4: what free checks (largeTag)
    const shared = this.lockAt >= 0;
    // The first page only: an interior page has no owner.
    if (shared) Atomics.store(i32, d + P_INFO, OWNER_LARGE);
    else i32[d + P_INFO] = OWNER_LARGE;
    addWord(i32, this.k + K_LARGE_BLOCKS, 1, shared);
    addWord(i32, this.k + K_LARGE_PAGES, pages, shared);
    return addr;
  }

  /**
   * allocLarge's block from entry `i` of this worker's cache (large-cache.ts): checked to be a
   * cached block of `pages` pages (a damaged cache word must not hand out any
   * other address), then marked a large block again. No lock, no counter.
   */
  private fromCache(i: number, pages: number): number {
    const u32 = this.memory.u32;
    const addr = u32[this.lcAt + i]!;
    const d = cachedDescriptor(u32, this, this.buddy.pages, addr, pages);
    if (d < 0)
      throw new HeapCorruptionError(
        `kmalloc: this worker's large-block cache holds ${hex(addr)} (${pages} pages), which is no cached block`,
        (this.lcAt + i) * 4,
      );
    cacheDrop(u32, this.lcAt, i);
    Atomics.store(this.memory.i32, d + P_INFO, OWNER_LARGE);
    return addr;
  }

  /** free for what the fast path does not take: debug pages, suspects, large blocks, bad addresses. */
  private freeOther(addr: number): void {
    if (typeof addr !== 'number') throw argumentError('addr', 'an address (a whole number in [0, 2^32))', addr);
    if (addr >>> 0 !== addr) throw new InvalidFreeError(`kfree(${describe(addr)}): not an address`, addr);
    // A detached buffer reads undefined, which sends free here through freeRest: say so, not "not a block".
    this.memory.checkLive();
    const pg = this.space.pageOf(addr);
    const own = this.space.ownerOf(pg);
    if (own >= OWNER_CLASS_DEBUG && own < OWNER_TLSF) {
      const at = this.locate(addr);
      if (at === NOT_A_BLOCK) throw new InvalidFreeError(`kfree(${hex(addr)}): not the start of a block`, addr);
      if (at === FREE_BLOCK) throw new DoubleFreeError(`kfree(${hex(addr)}): block already free (double free)`, addr);
      return this.freeDebug(this.locH, this.locCls, addr - this.objOffset);
    }
    if (own === OWNER_LARGE && ((addr - this.base) & (this.pageSize - 1)) === 0) return this.freeLarge(addr, pg);
    this.enter();
    try {
      this.badFree(addr, own);
    } finally {
      this.leave();
    }
  }

  /**
   * Gives large block `addr` (first page `pg`) back to the buddy, with no heap
   * lock: one compareExchange of its descriptor's INFO word from OWNER_LARGE
   * to 0 claims it, so of two workers freeing it at once exactly one goes on
   * (the other finds no large block there: a double free). The descriptor is
   * cleared before the pages go back: once they are the buddy's, another
   * worker may take them and mark them as its own.
   */
  private freeLarge(addr: number, pg: number): void {
    const mem = this.memory;
    mem.sync();
    const d = this.pt + (pg << PAGE_SHIFT);
    const shared = this.lockAt >= 0;
    if (!claimLarge(mem.i32, d + P_INFO, shared)) {
      this.enter();
      try {
        return this.badFree(addr, OWNER_NONE_VALUE); // freed meanwhile, or never a large block
      } finally {
        this.leave();
      }
    }
    const pages = mem.u32[d + P_FREELIST]!;
    if (mem.u32[d + P_UNUSED] !== largeTag(addr, pages, this.key)) {
      // A descriptor that says "large block" but was not made one by allocLarge (a damaged INFO
      // word of a class page, say, whose first block is page-aligned), or whose pages word was
      // damaged: the pages must not go to the buddy. The claim is undone: the heap as it was.
      if (shared) Atomics.store(mem.i32, d + P_INFO, OWNER_LARGE);
      else mem.i32[d + P_INFO] = OWNER_LARGE;
      mem.checkLive();
      throw new HeapCorruptionError(
        `kfree(${hex(addr)}): its page descriptor says a large block of ${pages} pages, but its check word does not`,
        (d + P_UNUSED) * 4,
      );
    }
    // Into this worker's cache when it has room (INFO is 0 now, P_FREELIST keeps the pages).
    if (this.lcAt >= 0 && !this.detached && cachePut(mem.u32, this.lcAt, addr, pages)) return;
    mem.u32[d + P_FREELIST] = 0;
    mem.u32[d + P_UNUSED] = 0;
    this.buddy.free(addr);
    const i32 = this.memory.i32; // the buddy may have seen the memory grow: fresh views
    addWord(i32, this.k + K_LARGE_BLOCKS, -1, shared);
    addWord(i32, this.k + K_LARGE_PAGES, -pages, shared);
  }

  /** The error of a bad free (debug.ts); under the heap lock. */
  private badFree(addr: number, own: number): never {
    return badFree(this, addr, own);
  }

  // ------------------------------------------------------------- the rest

  /**
   * Resizes a block: in place when `size` fits its usable size and uses at
   * least half of it (TLSF blocks also grow in place into a free neighbour),
   * else moves it (content kept up to the smaller size). `realloc(0, n)`
   * allocates; `realloc(p, 0)` frees and returns 0. On OutOfMemoryError the
   * old block is untouched.
   *
   * @throws InvalidFreeError for an address that is not a live block;
   * InvalidArgumentError for a bad size (the heap is unchanged then).
   *
   * @example
   * ```ts
   * const k = new Kmalloc({ bytes: 1 << 20 });
   * let p = k.alloc(40);
   * p = k.realloc(p, 2000); // moves to a larger block, the 40 bytes kept
   * k.realloc(p, 0);        // frees it: 0
   * ```
   */
  realloc(addr: number, size: number): number {
    // The common case inline: a live block of a size class (not debug) moves to
    // another class or stays. classUsable makes free's checks (grid, bound, tag),
    // before anything changes; the general path (locate) is for everything else.
    // Sizes 1..maxClass: (size - 1) >>> 0 is below fastMax (-1 with debug: never).
    if (
      typeof addr === 'number' &&
      typeof size === 'number' &&
      (size - 1) >>> 0 < this.fastMax &&
      size >>> 0 === size
    ) {
      const usable = this.classUsable(addr);
      if (usable !== 0) {
        if (size <= usable && size * 2 >= usable) return addr;
        const fresh = this.alloc(size);
        this.move(addr, fresh, Math.min(usable, size));
        this.free(addr);
        return fresh;
      }
    }
    return this.reallocRest(addr, size);
  }

  /** Copies n bytes from block `from` to block `to`, both with usable sizes >= n rounded up to 8. */
  private move(from: number, to: number, n: number): void {
    const mem = this.memory; // synced by the alloc of `to`
    if (n <= 256) {
      // Small moves word by word (copyWithin's call costs more than the copy). Usable
      // sizes are multiples of 8, so rounding n up to 4 stays inside both blocks.
      const u32 = mem.u32;
      for (let i = 0, f = from >>> 2, t = to >>> 2, words = (n + 3) >>> 2; i < words; i++) u32[t + i] = u32[f + i]!;
    } else {
      mem.u8.copyWithin(to, from, from + n);
    }
  }

  /**
   * The class size of `addr` when it is a live block on a size-class page of
   * this heap (any worker's; debug classes excluded), else 0: realloc's
   * inline case. A block whose free tag checks out may be free: 0 (the
   * general path looks at the lists).
   */
  private classUsable(addr: number): number {
    const mem = this.memory;
    mem.sync();
    const u32 = mem.u32;
    const off = addr - this.base;
    const pg = off >>> this.shift;
    if (addr >>> 0 !== addr || off < 0 || pg >= this.maxPages) return 0;
    const info = u32[this.pt + (pg << PAGE_SHIFT) + P_INFO]!;
    const cls = ((info << 16) ^ -0x80000000) >>> 16; // as in free
    if (cls >= this.nClasses) return 0;
    const head = pg - ((info >>> 16) & HEAD_DELTA_MASK);
    const h = this.pt + (head << PAGE_SHIFT);
    const rel = off - ((head << this.shift) >>> 0);
    const stride = this.stride[cls]!;
    if (!onSlot(rel, this.inverse[cls]!, stride) || addr >= u32[h + P_UNUSED]!) return 0;
    const a = addr >>> 2;
    return (u32[a + 1]! ^ u32[a]!) === this.key ? 0 : stride;
  }

  /** realloc's other cases: TLSF and large blocks, sizes past the class tier, 0, bad arguments, debug heaps. */
  private reallocRest(addr: number, size: number): number {
    if (addr === 0) return this.alloc(size);
    if (typeof size !== 'number' || size >>> 0 !== size)
      throw argumentError('size', 'a whole number in [0, 2^32)', size);
    if (typeof addr !== 'number' || addr >>> 0 !== addr)
      throw typeof addr === 'number'
        ? new InvalidFreeError(`krealloc(${describe(addr)}): not an address`, addr)
        : argumentError('addr', 'an address (a whole number in [0, 2^32))', addr);
    let usable: number;
    const mem = this.memory;
    mem.syncChecked();
    const off = addr - this.base;
    const pg = off >>> this.shift;
    const info =
      addr >>> 0 === addr && off >= 0 && pg < this.maxPages ? mem.u32[this.pt + (pg << PAGE_SHIFT) + P_INFO]! : 0;
    const own = info & OWNER_MASK;
    if (own >= OWNER_CLASS && own < OWNER_CLASS_DEBUG) {
      if (this.locate(addr) !== LIVE_BLOCK)
        throw new InvalidFreeError(`krealloc(${hex(addr)}): not a block allocated by kmalloc`, addr);
      usable = this.classSizes[this.locCls]!;
    } else if (
      own === OWNER_TLSF &&
      size > this.maxClass &&
      size <= this.largeAbove &&
      (this.med === null || info >>> HEAP_SHIFT === this.slot)
    ) {
      // In place when it fits or the next block is free (another slot's block moves: below).
      if (this.med !== null) return this.med.realloc(addr, size);
      const was = this.tlsfPayload(addr); // counted only if reallocLocked accepts addr
      const p = this.heap0.reallocLocked(addr, size);
      if (was <= this.maxClass) this.countBack(was); // a block of a waiting class grew out of it
      return p;
    } else {
      usable = this.usableSize(addr);
    }
    if (size === 0) {
      this.free(addr);
      return 0;
    }
    if (size <= usable && size * 2 >= usable) return addr;
    const fresh = this.alloc(size);
    this.move(addr, fresh, Math.min(usable, size));
    this.free(addr);
    return fresh;
  }

  /** @internal Class of the first current page {@link reapCurrent} looks at next. */
  reapNext = 0;
  /** @internal The most buddy pages in use this instance has seen before taking pages ({@link reapCurrent}). */
  peakPages = 0;
  /** @internal Per class, the sole current page {@link reapCurrent} last found empty. */
  readonly idleSeen: Uint32Array;

  /**
   * @internal Before taking pages from the buddy: gives back this worker's
   * empty current pages (reapCurrent says which), and its spare TLSF chunk.
   */
  releaseIdle(): void {
    reapCurrent(this);
    if (this.med === null) this.heap0.shrinkLocked();
    else this.med.own?.shrinkLocked();
  }

  /**
   * Bytes usable at `addr` (its class size, its TLSF block's payload, or its pages for a large block).
   *
   * @throws InvalidFreeError if `addr` is not an allocated block start.
   *
   * @example
   * ```ts
   * const k = new Kmalloc({ bytes: 1 << 20 });
   * k.usableSize(k.alloc(33));     // 40: the kmalloc-40 class
   * k.usableSize(k.alloc(100000)); // 102400: a large block of 25 pages of 4096 bytes
   * ```
   */
  usableSize(addr: number): number {
    if (typeof addr === 'number') {
      const n = this.classUsable(addr); // a live block of a size class (debug ones excluded): its size
      if (n !== 0) return n;
    }
    this.memory.checkLive();
    const pg = this.space.pageOf(addr);
    const own = this.space.ownerOf(pg);
    if (own >= OWNER_CLASS && own < OWNER_TLSF) {
      if (this.locate(addr) === LIVE_BLOCK) return this.classSizes[this.locCls]!;
    } else if (own === OWNER_TLSF && this.med !== null) {
      // Any slot's block, read without a lock (medium.ts).
      const n = this.med.usable(addr, this.memory.u32[this.pt + (pg << PAGE_SHIFT) + P_INFO]! >>> HEAP_SHIFT);
      if (n >= 0) return n;
    } else if (own === OWNER_TLSF || own === OWNER_LARGE) {
      const n = this.usableLocked(addr, own);
      if (n >= 0) return n;
    }
    throw new InvalidFreeError(
      `ksize(${typeof addr === 'number' ? hex(addr) : describe(addr)}): not a block allocated by kmalloc`,
      typeof addr === 'number' ? addr : NaN,
    );
  }

  /** usableSize of a TLSF or large block under the heap lock; -1 when `addr` is not one. */
  private usableLocked(addr: number, own: number): number {
    this.enter();
    try {
      if (own === OWNER_TLSF) return this.heap0.isAllocatedLocked(addr) ? this.heap0.usableSizeLocked(addr) : -1;
      if (
        ((addr - this.base) & (this.pageSize - 1)) === 0 &&
        this.space.ownerOf(this.space.pageOf(addr)) === OWNER_LARGE
      )
        return this.buddy.blockPages(addr) * this.pageSize;
      return -1;
    } finally {
      this.leave();
    }
  }

  /**
   * Bytes taken from the buddy now: pages held by size classes, TLSF chunks and large blocks.
   *
   * @example
   * ```ts
   * const k = new Kmalloc({ bytes: 1 << 20 });
   * k.footprint();  // 0: no page taken yet
   * k.alloc(100000);
   * k.footprint();  // 102400: the large block's 25 pages
   * ```
   */
  footprint(): number {
    this.enter();
    try {
      this.memory.syncChecked();
      return this.footprintPages() * this.pageSize;
    } finally {
      this.leave();
    }
  }

  /** The byte view of the heap. */
  get bytes(): Uint8Array {
    this.memory.syncChecked(); // a buffer detached under the heap: named, not an empty view
    return this.memory.u8;
  }

  /**
   * True when `addr` is the start of a live block.
   *
   * @throws InvalidArgumentError unless `addr` is a whole number in [0, 2^32).
   *
   * @example
   * ```ts
   * const k = new Kmalloc({ bytes: 1 << 20 });
   * const p = k.alloc(16);
   * k.isAllocated(p);     // true
   * k.isAllocated(p + 8); // false: inside the block, not its start
   * ```
   */
  isAllocated(addr: number): boolean {
    this.memory.checkLive(); // not a `false`: the heap is gone
    // Not a `false` either: a string, a BigInt, NaN, a fraction is no address at all (as every layer's isAllocated).
    if (typeof addr !== 'number' || addr >>> 0 !== addr)
      throw argumentError('addr', 'an address (a whole number in [0, 2^32))', addr);
    try {
      this.usableSize(addr);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * This instance's worker slot: 0 for the thread that made the heap (and on
   * an unshared memory), 1..31 for a worker that joined with {@link Kmalloc.attach}.
   *
   * @example
   * ```ts
   * import { Kmalloc, Memory } from 'memkit';
   * const memory = Memory.create({ bytes: 1 << 20, shared: true });
   * const maker = new Kmalloc({ memory });
   * using worker = Kmalloc.attach(memory); // as a worker would
   * console.log(maker.workerSlot, worker.workerSlot); // 0 1
   * ```
   */
  get workerSlot(): number {
    return this.slot;
  }

  /**
   * The worker slot whose own size-class page holds `addr` (per-worker pages on
   * a shared heap; always 0 on an unshared one), or -1 when `addr` is on no
   * class page (a TLSF block, a large block, a free page, outside the heap) or
   * on a page abandoned by a worker that left, waiting to be adopted. For
   * inspection (the visualizer's workers view); O(1), reads one descriptor.
   *
   * @example
   * ```ts
   * import { Kmalloc, Memory } from 'memkit';
   * const memory = Memory.create({ bytes: 1 << 20, shared: true });
   * const maker = new Kmalloc({ memory });
   * using worker = Kmalloc.attach(memory);
   * const p = worker.kmalloc(48);
   * console.log(maker.pageOwner(p), maker.pageOwner(maker.kmalloc(5000))); // 1 -1
   * ```
   */
  pageOwner(addr: number): number {
    return pageOwner(this, addr);
  }

  /**
   * Calls `visit(addr, usableSize)` for every live block (class blocks, TLSF blocks, then large blocks); the blocks are listed first, so `visit` may alloc and free.
   *
   * @example
   * ```ts
   * const k = new Kmalloc({ bytes: 1 << 20 });
   * k.alloc(24); k.alloc(5000);
   * let blocks = 0;
   * k.forEachBlock(() => blocks++);
   * blocks; // 2
   * ```
   */
  forEachBlock(visit: (addr: number, usableSize: number) => void): void {
    forEachBlock(this, this.caches, visit);
  }

  /**
   * Calls `visit(addr, slot)` for every chunk the medium tier's TLSF heaps
   * hold: on a shared heap each worker slot's heap (`slot` its owner), on an
   * unshared one the one heap (`slot` 0). Makes no heap.
   *
   * @example
   * ```ts
   * import { Kmalloc } from 'memkit';
   * const k = new Kmalloc({ bytes: 1 << 20 });
   * k.kfree(k.kmalloc(1000)); // the TLSF heap takes its first chunk
   * let chunks = 0;
   * k.forEachTlsfChunk(() => chunks++);
   * console.log(chunks >= 1); // true
   * ```
   */
  forEachTlsfChunk(visit: (addr: number, slot: number) => void): void {
    forEachTlsfChunk(this, visit);
  }

  /** @internal Pages of class `cls` taken from and given back to the buddy since the heap was made. */
  pagesMadeFreed(cls: number): { slabsMade: number; slabsFreed: number } {
    return pagesMadeFreed(this, cls);
  }

  /** @internal Calls `visit(pageAddr, used, full)` for each page of class `cls`, in address order. */
  forEachClassPage(cls: number, visit: (addr: number, used: number, full: boolean) => void): void {
    forEachClassPage(this, cls, visit);
  }

  /** @internal Addresses of the free blocks of class `cls`'s page at `pageAddr` (lists, then never-used slots). */
  freeBlocksOf(cls: number, pageAddr: number): number[] {
    return freeBlocksOf(this, cls, pageAddr);
  }

  /**
   * Gives back to the buddy: this worker's empty pages (after taking in the
   * frees other workers made into them), the empty abandoned pages, the
   * TLSF heap's spare chunk, and (on a shared heap) the large blocks this
   * worker keeps for reuse. Returns the pages freed.
   *
   * @example
   * ```ts
   * const k = new Kmalloc({ bytes: 1 << 20 });
   * k.free(k.alloc(40)); // the kmalloc-40 page is empty now
   * k.shrink();          // 1: that page goes back to the buddy
   * ```
   */
  shrink(): number {
    if (this.detached) this.gone();
    this.enter();
    try {
      this.memory.syncChecked();
      const held = this.memory.u32[H_WORKERS]! | 1 | (1 << this.slot);
      let pages = this.med === null ? this.heap0.shrinkLocked() : this.med.shrink(held);
      if (this.lcAt >= 0) {
        // This worker's cached large blocks, and those of every slot nobody holds.
        for (let s = 0; s < MAX_WORKERS; s++)
          if (s === this.slot || (held & (1 << s)) === 0) pages += flushLargeCache(this, s);
      }
      let u32 = this.memory.u32;
      if (u32[this.reclaimAt] !== 0) reclaim(this);
      for (let cls = 0; cls < this.nClasses; cls++) {
        let steps = 0;
        if (u32[this.cur + cls] !== this.noPage) this.checkQueued(u32[this.cur + cls]!, cls, 0, this.cur + cls);
        flushCurrent(this, this.slot, cls); // the current page's curFree back on it: `used` is its truth again
        for (let d = u32[this.cur + cls]!; d !== this.noPage && d !== 0; ) {
          this.checkQueued(d, cls, steps++, this.cur + cls);
          const next = u32[d + P_NEXT]!;
          collect(this, d);
          if ((u32[d + P_USED]! & USED_MASK) === 0) {
            unqueue(this, cls, d);
            releasePage(this, d, cls);
            pages += this.pagesOf[cls]!;
            u32 = this.memory.u32;
          }
          d = next;
        }
        steps = 0;
        for (let d = u32[this.abandonedAt + cls]!; d !== 0; ) {
          this.checkQueued(d, cls, steps++, this.abandonedAt + cls);
          const next = u32[d + P_NEXT]!;
          collect(this, d);
          if ((u32[d + P_USED]! & USED_MASK) === 0) {
            unlinkAbandoned(this, cls, d);
            releasePage(this, d, cls);
            pages += this.pagesOf[cls]!;
            u32 = this.memory.u32;
          }
          d = next;
        }
      }
      return pages;
    } finally {
      this.leave();
    }
  }

  /**
   * @internal The check of a page queue's `step`-th link `d` (the list of class `cls` whose
   * head word is `list`) before shrink, allocSmall or reapCurrent follow it: the head
   * descriptor of a class page of `cls`, within the page table, and no more links than pages
   * (a loop). A damaged word would send collect and release anywhere.
   */
  checkQueued(d: number, cls: number, step: number, list: number): void {
    const rel = d - this.pt;
    const u32 = this.memory.u32;
    const own = (this.debug ? OWNER_CLASS_DEBUG : OWNER_CLASS) + cls;
    if (
      rel < 0 ||
      (rel & ((1 << PAGE_SHIFT) - 1)) !== 0 ||
      rel >>> PAGE_SHIFT >= this.maxPages ||
      step > this.maxPages ||
      (u32[d + P_INFO]! & 0xffffff) !== own
    )
      throw new HeapCorruptionError(
        `kmalloc: damaged page queue of class ${cls} (link ${step}: ${hex(d * 4)} is no page of the class)`,
        list * 4,
      );
  }

  /**
   * Checks the whole heap and throws a HeapCorruptionError naming the first
   * broken invariant: the buddy's and the TLSF heap's, then for every class
   * page its free, local_free and thread_free lists (disjoint, on the grid,
   * below `unused`, free-tagged; `used` = slots handed out, remote frees
   * included), its heap byte (a joined worker slot or abandoned), and that it
   * sits on exactly the list its state says (see "Pages and lists" at the top
   * of this file); the per-slot cur[] tables and reclaim lists, the abandoned
   * lists, and the page and large-block counters. O(pages + blocks). On a
   * shared memory it holds the heap lock, but workers' own pages change
   * without it: call it when no worker is allocating.
   *
   * @example
   * ```ts
   * const k = new Kmalloc({ bytes: 1 << 20 });
   * k.free(k.alloc(40));
   * k.checkInvariants(); // throws a HeapCorruptionError if the heap is damaged
   * ```
   */
  checkInvariants(): void {
    this.enter();
    try {
      checkHeap(this);
    } finally {
      this.leave();
    }
  }

  /**
   * `/proc/slabinfo` version 2.1: header, column line, one row per size class (largest first, as the kernel lists them).
   *
   * @example
   * ```ts
   * const k = new Kmalloc({ bytes: 1 << 20 });
   * k.alloc(40);
   * k.slabinfo().split('\n')[0]; // 'slabinfo - version: 2.1'
   * ```
   */
  slabinfo(): string {
    return slabinfo(this, this.caches);
  }

  /**
   * Counters of the large blocks.
   *
   * @example
   * ```ts
   * const k = new Kmalloc({ bytes: 1 << 20 });
   * k.alloc(100000);
   * k.largeStats(); // { blocks: 1, pages: 25 }
   * ```
   */
  largeStats(): {
    /** Large blocks (sizes above `largeAbove`) allocated and not freed; those kept in workers' caches are not counted. */
    blocks: number;
    /** Buddy pages those blocks take (each block: `ceil(size / pageSize)` pages). */
    pages: number;
  } {
    return largeStats(this);
  }

  // ------------------------------------------------------------ workers

  /** @internal Takes the heap lock on a shared memory (re-entrant within this instance); nothing otherwise. */
  enter(): void {
    if (this.lockAt >= 0 && this.depth++ === 0) lockMemory(this.memory, this.lockAt, this.slot);
  }

  /** @internal Releases what {@link enter} took. */
  leave(): void {
    if (this.lockAt >= 0 && --this.depth === 0) unlock(this.memory.i32, this.lockAt, this.slot);
  }

  /**
   * Leaves the heap: hands this worker's class pages over (empty ones go
   * back to the buddy; pages with live blocks become abandoned, adopted by
   * the next worker that needs a page of their class, and frees into them
   * stay correct) and gives the worker slot back (see
   * {@link Kmalloc.recover} for a worker that could not). Blocks stay
   * allocated; the instance must not be used after. A second call does nothing.
   *
   * @example
   * ```ts
   * const memory = Memory.create({ bytes: 1 << 20, shared: true });
   * const k = new Kmalloc({ memory });
   * const worker = Kmalloc.attach(memory); // as a worker would: takes slot 1
   * const p = worker.kmalloc(48);
   * worker.detach(); // p stays allocated; slot 1 is free again
   * ```
   */
  detach(): void {
    if (this.lockAt < 0 || this.slot === 0 || this.detached) return;
    this.enter();
    try {
      abandonSlot(this, this.slot);
      flushLargeCache(this, this.slot); // its cached large blocks back to the buddy
      this.med?.leave(); // its remote frees taken in, its spare chunk back; the heap stays with the slot
    } finally {
      this.leave();
    }
    detachBuddyUnder(this.buddy); // this slot's per-worker buddy pages go back
    this.detached = true;
    if (this.med !== null) {
      // Its medium heap stays with the slot, for the next worker that joins it: no longer ours.
      this.med.own = null;
      this.med.closed = true;
    }
    leaveWorker(this.memory.i32, H_WORKERS, this.slot);
  }

  /** True once {@link detach} ran. */
  private detached = false;

  /** The error of a call that would take pages or a heap for a detached instance's slot. */
  private gone(): never {
    throw new MemkitError('kmalloc: this instance has detached from the heap (its worker slot is given back)');
  }

  /** `using k = Kmalloc.attach(memory)` detaches at the end of the block. */
  [Symbol.dispose](): void {
    this.detach();
  }

  /**
   * Releases what a worker that died without {@link Kmalloc.detach} held in
   * the heap in `memory`: the heap lock, if its slot held it, and the slot.
   * Call it from the thread that saw the worker exit. Blocks the worker
   * allocated stay allocated (others may use them). Returns true if the dead
   * worker held the lock.
   *
   * @throws InvalidArgumentError if `slot` is not a worker slot (1..31).
   * @throws HeapCorruptionError if `memory` holds no kmalloc heap.
   *
   * @example
   * ```ts
   * const memory = Memory.create({ bytes: 1 << 20, shared: true });
   * const k = new Kmalloc({ memory });
   * const w = Kmalloc.attach(memory);      // a worker's instance
   * Kmalloc.recover(memory, w.workerSlot); // that worker died: false (it held no lock)
   * k.checkInvariants();
   * ```
   */
  static recover(memory: Memory, slot: number): boolean {
    return recoverSlot(memory, slot, (k) => {
      const dead = Kmalloc.open(memory, k, slot);
      dead.depth = 1; // the lock is held
      abandonSlot(dead, slot);
      if (dead.lcAt >= 0) flushLargeCache(dead, slot);
    });
  }

  // -------------------------------------------------------- kernel names

  /**
   * kmalloc(size): {@link alloc}.
   *
   * @example
   * ```ts
   * const k = new Kmalloc({ bytes: 1 << 20 });
   * const p = k.kmalloc(64);
   * k.ksize(p); // 64
   * ```
   */
  kmalloc(size: number): number {
    return this.alloc(size);
  }

  /**
   * kzalloc(size): alloc and zero the usable bytes.
   *
   * @example
   * ```ts
   * const k = new Kmalloc({ bytes: 1 << 20 });
   * const p = k.kzalloc(40);
   * k.bytes[p]; // 0, as every one of its 40 bytes
   * ```
   */
  kzalloc(size: number): number {
    const p = this.alloc(size);
    this.memory.u8.fill(0, p, p + this.usableSize(p));
    return p;
  }

  /**
   * kfree(addr): {@link free}; kfree(0) does nothing, as in the kernel.
   *
   * @example
   * ```ts
   * const k = new Kmalloc({ bytes: 1 << 20 });
   * k.kfree(k.kmalloc(32));
   * k.kfree(0); // does nothing
   * ```
   */
  kfree(addr: number): void {
    if (addr !== 0) this.free(addr);
  }

  /**
   * krealloc(addr, size): {@link realloc}.
   *
   * @example
   * ```ts
   * const k = new Kmalloc({ bytes: 1 << 20 });
   * const p = k.krealloc(0, 32); // as kmalloc(32)
   * const q = k.krealloc(p, 64); // a larger block, the 32 bytes kept
   * k.ksize(q); // 64
   * ```
   */
  krealloc(addr: number, size: number): number {
    return this.realloc(addr, size);
  }

  /**
   * ksize(addr): {@link usableSize}.
   *
   * @example
   * ```ts
   * const k = new Kmalloc({ bytes: 1 << 20 });
   * k.ksize(k.kmalloc(50)); // 56: the kmalloc-56 class
   * ```
   */
  ksize(addr: number): number {
    return this.usableSize(addr);
  }
}

/** A class's `inverse` word: (1 + 2^-30) / stride (see {@link onSlot}). */
export function inverseOf(stride: number): number {
  return (1 + 2 ** -30) / stride;
}

/**
 * True when offset `rel` (0 <= rel < 2^30) of a class page is a slot's start:
 * rel = m * stride + r with 0 <= r < stride; rel * (1 + 2^-30) / stride is
 * m + r / stride + (m + r / stride) * 2^-30, whose integer part is m exactly
 * while (m + 1) * stride < 2^30 (the last term stays under the (stride - r) /
 * stride left to the next integer), so m * stride === rel iff r = 0. One float
 * multiply, a truncation and an integer multiply: no division (`rel % stride`
 * on a rel not known to be an int32 is a float modulo). free's fast path has
 * this inline (its bytecode budget); the other paths call it.
 */
export function onSlot(rel: number, inverse: number, stride: number): boolean {
  return ((rel * inverse) | 0) * stride === rel;
}

/**
 * `i32[w] += delta`: with `Atomics.add` on a shared memory (other workers change the
 * word too), a plain add on an unshared one (V8 calls a builtin for every Atomics
 * operation: a large alloc and free made five such calls, 11% of a profile).
 */
function addWord(i32: Int32Array, w: number, delta: number, shared: boolean): void {
  if (shared) Atomics.add(i32, w, delta);
  else i32[w] = i32[w]! + delta;
}

/**
 * The check word of a large block (word 4 of its first page's descriptor): its
 * address and pages, keyed by the heap's random key. A descriptor whose INFO
 * word was damaged into OWNER_LARGE, or whose pages word was, fails it with
 * odds of about 2^-32, as a free tag does.
 */
function largeTag(addr: number, pages: number, key: number): number {
  return (pages ^ Math.imul(addr, key | 1)) >>> 0;
}

/**
 * Claims large block descriptor word `w` (INFO) for a free: OWNER_LARGE -> 0, true if
 * it was OWNER_LARGE. One compareExchange on a shared memory (of two workers freeing
 * the block at once exactly one claims it); a plain read and write on an unshared one.
 */
function claimLarge(i32: Int32Array, w: number, shared: boolean): boolean {
  if (shared) return Atomics.compareExchange(i32, w, OWNER_LARGE, 0) === OWNER_LARGE;
  if (i32[w] !== OWNER_LARGE) return false;
  i32[w] = 0;
  return true;
}
