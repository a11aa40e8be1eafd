/**
 * A TLSF heap (two-level segregated fit; Masmano, Ripoll, Crespo, Real:
 * "TLSF: a new dynamic memory allocator for real-time systems", 2004) over
 * chunks of buddy pages: kmalloc's allocator for medium sizes, where slab
 * caches of fixed sizes waste memory in partly filled slabs.
 *
 *   alloc(size):  s = size + header, rounded to 8. Round s up to the next
 *                 list boundary (mapping_search), find the first non-empty
 *                 list at or above it with two bitmap scans (clz32), and
 *                 serve s bytes from the END of its head block H: H stays a
 *                 free block of the rest (when >= MIN_BLOCK), on the same
 *                 list if the rest still maps there. No list: the spare
 *                 chunk, or a new chunk from the buddy.
 *   free(addr):   merge at once with a free right neighbour (size) and a
 *                 free left neighbour (prevSize boundary tag), put the
 *                 result on its list (mapping_insert). A chunk that is now one
 *                 free block is empty: keep it as the spare, or give it back
 *                 to the buddy when there is a spare already.
 *   realloc:      shrink in place (the tail becomes free), grow in place
 *                 into a free right neighbour, else move.
 *
 * Invariants (checked by `checkInvariants()` in the tests):
 *   T1  The blocks of each chunk tile it from its start to its sentinel; each
 *       block's prevSize is the size of the block left of it (0 for the first).
 *   T2  No two free blocks are adjacent (merging is immediate).
 *   T3  A block is free <=> it is on list mapping_insert(size); bit sl of
 *       slMaps[fl] <=> list (fl, sl) non-empty; bit fl of flMap <=> slMaps[fl] != 0.
 *       Every list member but the head has an exact prev link (a head's is
 *       stale: popping a head does not write to the next block).
 *   T4  At most one chunk is wholly free, and `spare` is its block (else 0);
 *       chunks = bits set in the chunk map; usedBlocks / usedBytes count the
 *       used blocks and their sizes.
 *
 * Construction: `new TlsfHeap(buddy, options)` checks the options, then
 * writes a control structure; `TlsfHeap.attach(memory)` reads one and checks
 * every word against the buffer and the buddy, then T1-T4. Both resolve a
 * {@link TlsfState} and hand it to the one constructor.
 *
 * Many workers: on a shared memory every public method takes the heap's
 * lock word (T_LOCK of the control structure; src/memory/lock.ts), so one
 * TlsfHeap may be used from several workers (`TlsfHeap.attach(memory)` in
 * each joins a worker slot; `detach()` leaves; `TlsfHeap.recover` releases
 * the lock of one that died). Lock order: this lock, then under it the
 * buddy's (chunks come from the buddy while it is held). A TlsfHeap under a
 * Kmalloc takes Kmalloc's heap lock instead ({@link TlsfHeap.shareLock}),
 * and Kmalloc calls the `*Locked` methods while it holds it.
 *
 * All state lives in the buffer (see layout.ts): the control structure in a
 * region taken from the buddy, the headers inside the chunks. Views are read
 * from `memory` after `sync()` at the start of each public operation and
 * again after anything that may grow the memory (taking a chunk).
 *
 * Where the code is: this file holds the class, its fast paths (allocate,
 * freeLocked, release) and the list operations they inline; free functions
 * over the heap (`TlsfCore`, core.ts) hold the rest: chunk growth and
 * release and the quick lists' flush (chunks.ts), the invariant checks and
 * badFree's diagnosis (check.ts), the options, construction and attach's
 * check of the control words (create.ts). None of them imports this file.
 * A fast path that calls one keeps a one-line private method (badFree,
 * releaseChunk), so its bytecode stays as it was.
 *
 * @module
 */
import { BuddyAllocator } from '../buddy/index.js';
import { attachBuddyUnder, detachBuddyUnder, recoverBuddyUnder } from '../buddy/attach.js';
import { HeapCorruptionError, InvalidArgumentError, argumentError, checkOptions, hex } from '../errors/index.js';
import { HeaderSlot, Memory, readSlot, type ByteAllocator } from '../memory/index.js';
import { H_WORKERS } from '../memory/header.js';
import { lockMemory, breakLock, joinWorker, leaveWorker, unlock } from '../memory/lock.js';
import { TLSF_MAGIC, T_LOCK, T_MAGIC, crossesJoined, joinAt, maxBlockSize, quickAt } from './layout.js';
import { badFree, checkHeap, chunksOf, runsOf } from './check.js';
import { addChunk, checkNextChunk, flushQuick, releaseChunk, releaseWide, scanExact } from './chunks.js';
import { type TlsfAttachOptions, type TlsfOptions, TlsfState, createHeap, resolveHeap } from './create.js';

// The names this module exported before check.ts and create.ts were split off (kept: other layers may import them from here).
export { mapping } from './check.js';
export type { TlsfAttachOptions, TlsfOptions } from './create.js';

// Hot-path copies of layout constants: V8 reads an imported binding through its module cell on
// every use, and alloc/free are made of such reads. scripts/layout-copies.ts writes them; npm test
// checks they match (test/house/layout-copies.test.ts).
// layout-copies from './layout.js' (generated by scripts/layout-copies.ts: edit the layout, then `npm run layout`)
const BLOCK_HEADER_BYTES = 8;
const FREE = 1;
const QUICK = 4;
const SIZE_MASK = -8; // ~7
const MIN_BLOCK = 16;
const SENTINEL_BYTES = 8;
const T_CHUNKS = 4;
const T_SPARE = 5;
const T_USED_BLOCKS = 6;
const T_USED_BYTES = 7;
const T_CHUNK_MAP = 776; // T_HEADS + FL_COUNT * SL_COUNT
const T_Q_BYTES = 12;
const Q_LISTS = 96; // Q_FL * SL_COUNT
const Q_WORDS = 2;
// end layout-copies

/**
 * The layout words of the hot paths (allocate, freeLocked, headerOf and the list
 * operations) as a const enum, so they compile to literals: a module `const` costs
 * V8 a context-slot load and a hole check per use in bytecode, which count against
 * its budget for inlining unlink, link and push into alloc and free.
 * test/tlsf/tlsf.test.ts checks them against layout.ts.
 */
// biome-ignore lint/suspicious/noConstEnum: inlined as literals by tsc and esbuild (the point of it)
export const enum HotTlsf {
  BLOCK_HEADER_BYTES = 8,
  BH_TAG = 1,
  BH_NEXT_FREE = 2,
  BH_PREV_FREE = 3,
  // biome-ignore lint/suspicious/noDuplicateEnumValues: different fields of the layout
  FREE = 1,
  PREV_FREE = 2,
  SIZE_MASK = -8,
  MIN_BLOCK = 16,
  SL_BITS = 5,
  SL_COUNT = 32,
  SB_SHIFT = 8,
  SB_SIZE = 256,
  FL_COUNT = 23,
  T_FL_MAP = 2,
  T_SPARE = 5,
  T_USED_BLOCKS = 6,
  T_USED_BYTES = 7,
  T_SL_MAPS = 16,
  T_HEADS = 40,
  T_CHUNK_MAP = 776,
  QUICK = 4,
  T_Q_BYTES = 12,
  Q_FL = 3,
  Q_MAX = 1024,
  Q_DEPTH = 8,
}

/** A snapshot of a {@link TlsfHeap}'s counters. */
export interface TlsfStats {
  /** Chunks held from the buddy. */
  chunks: number;
  /** Bytes of those chunks (= footprint()). */
  footprint: number;
  /** Used blocks. */
  usedBlocks: number;
  /** Bytes of the used blocks, headers included. */
  usedBytes: number;
  /** Bytes in free blocks, headers included. */
  freeBytes: number;
  /** Chunks kept wholly free for reuse (0 or 1). */
  spareChunks: number;
}

/**
 * A TLSF heap over chunks of buddy pages: O(1) alloc and free with good fit,
 * 8-byte header per block, free space shared by all sizes up to `maxSize`.
 *
 * @example
 * ```ts
 * const buddy = new BuddyAllocator({ pages: 1024 });
 * const heap = new TlsfHeap(buddy);
 * const p = heap.alloc(3000);      // 8-aligned, usableSize(p) >= 3000
 * const q = heap.realloc(p, 5000); // grows in place if the next block is free
 * heap.free(q);                    // the chunk is empty again: kept as the spare
 * heap.shrink();                   // gives it back to the buddy
 * ```
 */
export class TlsfHeap implements ByteAllocator {
  /** Name in reports. */
  readonly name = 'tlsf-heap';
  /** The buddy allocator the chunks come from. */
  readonly buddy: BuddyAllocator;
  /** The Memory the heap lives in. */
  readonly memory: Memory;
  /** Byte offset of the control structure (pass it to {@link TlsfHeap.attach}). */
  readonly region: number;
  /** Buddy pages per chunk. */
  readonly chunkPages: number;
  /** Bytes per chunk. */
  readonly chunkBytes: number;
  /** Largest size alloc serves: a chunk minus the block header and the sentinel. */
  readonly maxSize: number;

  /** @internal u32 index of the control structure. */
  readonly c: number;
  /** @internal Address of the buddy's page 0 (chunk slot 0). */
  readonly base: number;
  private readonly chunkShift: number;
  private readonly chunkMask: number; // chunkBytes - 1
  /** @internal Chunk slots of the chunk map. */
  readonly maxChunks: number;
  /** @internal Size of the one free block of an empty chunk. */
  readonly whole: number;
  /** @internal Odd multiplier keying the prevSize tags (see layout.ts). */
  readonly key: number;
  /** @internal u32 index of the join map (bit i: chunk i runs on from chunk i - 1). */
  readonly j: number;
  /** @internal u32 index of the quick-list table: list i's head at q + 2i, its count at q + 2i + 1. */
  readonly q: number;
  /** @internal Bound on the bytes of the quick lists (T_Q_LIMIT). */
  readonly qLimit: number;
  /** @internal {@link TlsfOptions.onChunk}, or null. */
  readonly onChunk: ((addr: number, pages: number, added: boolean) => void) | null;
  /**
   * Many workers: u32 index of the lock word the public methods take on a
   * shared memory (word T_LOCK of the control structure, or the lock of the
   * Kmalloc this heap serves: see {@link TlsfHeap.shareLock}); -1 unshared.
   */
  private lockAt = -1;
  /** The worker slot this instance locks as (0: the heap's maker; an attach on a shared memory joins one). */
  private slot = 0;
  /** Nesting of enter() (re-entrant within this instance: forEachBlock's visit may alloc). */
  private depth = 0;

  /** @internal The one construction path: from a resolved state (see {@link TlsfState}). */
  constructor(state: TlsfState);
  /**
   * Creates an empty heap on `buddy`: takes a region for the control
   * structure now, chunks on the first allocations.
   *
   * @throws InvalidArgumentError for a bad buddy (or an offsets-only one) or
   * option; nothing is changed then.
   * @throws OutOfMemoryError if the buddy has no room for the control structure.
   */
  constructor(buddy: BuddyAllocator, options?: TlsfOptions);
  constructor(buddy: BuddyAllocator | TlsfState, options?: TlsfOptions) {
    const s = buddy instanceof TlsfState ? buddy : createHeap(buddy, options);
    // `1 << chunkShift`, not `2 ** chunkShift` (chunkShift <= MAX_CHUNK_SHIFT = 30): a power
    // computed at run time is a HeapNumber, and fields first stored one (chunkBytes, chunkMask,
    // whole, maxSize) are kept as boxed doubles, read on the hot paths as a load, a float
    // compare or a conversion each (%DebugPrint shows them as <HeapNumber 65536.0>).
    const chunkBytes = 1 << s.chunkShift;
    this.buddy = s.buddy;
    this.memory = s.memory;
    this.region = s.region;
    this.chunkPages = s.chunkPages;
    this.chunkBytes = chunkBytes;
    this.c = s.region >>> 2;
    this.base = s.buddy.base;
    this.chunkShift = s.chunkShift;
    this.chunkMask = chunkBytes - 1;
    this.maxChunks = s.maxChunks;
    this.whole = chunkBytes - SENTINEL_BYTES;
    this.maxSize = maxBlockSize(chunkBytes);
    this.key = s.key | 0;
    this.j = this.c + joinAt(s.maxChunks);
    this.q = this.c + quickAt(s.maxChunks);
    this.qLimit = s.quickBytes;
    this.onChunk = s.onChunk;
    if (s.memory.shared) this.lockAt = this.c + T_LOCK;
  }

  // ------------------------------------------------------------ workers

  /** Takes the heap's lock on a shared memory (re-entrant within this instance). */
  private enter(): void {
    if (this.lockAt >= 0 && this.depth++ === 0) lockMemory(this.memory, this.lockAt, this.slot);
  }

  /** Releases what {@link enter} took. */
  private leave(): void {
    if (this.lockAt >= 0 && --this.depth === 0) unlock(this.memory.i32, this.lockAt, this.slot);
  }

  /**
   * @internal Kmalloc: this heap's public methods take lock word `index`
   * (Kmalloc's heap lock) as worker slot `slot`; Kmalloc itself calls the
   * `*Locked` methods while it holds that lock.
   */
  shareLock(index: number, slot: number): void {
    this.lockAt = this.memory.shared ? index : -1;
    this.slot = slot;
  }

  /**
   * Leaves the heap: gives back the worker slot a `TlsfHeap.attach` on a
   * shared memory took. The instance must not be used after.
   *
   * @example
   * ```ts
   * const memory = Memory.create({ bytes: 1 << 20, shared: true });
   * const heap = new TlsfHeap(new BuddyAllocator({ memory }));
   * const mine = TlsfHeap.attach(memory); // as a worker would: takes a slot
   * mine.free(mine.alloc(100));
   * mine.detach();                        // the slot is free again
   * ```
   */
  detach(): void {
    detachBuddyUnder(this.buddy); // this slot's per-worker buddy pages go back
    if (this.joined) {
      this.joined = false;
      leaveWorker(this.memory.i32, H_WORKERS, this.slot);
    }
  }

  /** `using heap = TlsfHeap.attach(memory)` detaches at the end of the block. */
  [Symbol.dispose](): void {
    this.detach();
  }

  /** True when this instance joined a worker slot of its own (TlsfHeap.attach on a shared memory). */
  private joined = false;

  /**
   * Releases the lock of the TLSF heap at `at` (default: the first one made
   * in `memory`) if worker slot `slot`, which died without detaching, held
   * it, and gives the slot back. Returns true if it held the lock. For a
   * TlsfHeap under a Kmalloc, call {@link Kmalloc.recover} instead.
   *
   * @throws HeapCorruptionError when no TLSF heap is there.
   *
   * @example
   * ```ts
   * const memory = Memory.create({ bytes: 1 << 20, shared: true });
   * const heap = new TlsfHeap(new BuddyAllocator({ memory }));
   * TlsfHeap.attach(memory);     // a worker's instance: the first one takes slot 1
   * TlsfHeap.recover(memory, 1); // that worker died: false (it held no lock)
   * heap.checkInvariants();
   * ```
   */
  static recover(memory: Memory, slot: number, at?: number): boolean {
    if (typeof slot !== 'number' || !Number.isInteger(slot) || slot < 1 || slot > 31)
      throw argumentError('slot', 'a worker slot in [1, 31]', slot);
    if (!(memory instanceof Memory)) throw argumentError('memory', 'a Memory', memory);
    if (at !== undefined && (typeof at !== 'number' || at >>> 0 !== at))
      throw argumentError('at', 'an address (a whole number in [0, 2^32))', at);
    memory.sync();
    const region = at ?? readSlot(memory, HeaderSlot.Tlsf);
    const c = region >>> 2;
    if (
      region === 0 ||
      (region & 3) !== 0 ||
      c + T_CHUNK_MAP > memory.u32.length ||
      memory.u32[c + T_MAGIC] !== TLSF_MAGIC
    )
      throw new HeapCorruptionError(`no TLSF heap at ${hex(region)}`, region);
    const broke = breakLock(memory.i32, c + T_LOCK, slot);
    recoverBuddyUnder(memory, slot); // it may have died inside a chunk refill, under the buddy lock
    if ((memory.u32[H_WORKERS]! & (1 << slot)) !== 0) leaveWorker(memory.i32, H_WORKERS, slot);
    return broke;
  }

  /**
   * Opens the heap already laid out in `memory` (another worker's
   * SharedArrayBuffer, or a copy of the buffer): its buddy is found through
   * the memkit header, the control structure at `options.at` (default: the
   * first TLSF heap made in the Memory). The state is checked first (an
   * fsck: every control word against the buffer and the buddy, every chunk
   * of the chunk map an allocated buddy block inside the buffer, then
   * {@link checkInvariants}), O(blocks).
   *
   * @throws HeapCorruptionError (with the address of the bad word) when no
   * TLSF heap is there or its state is damaged.
   * @throws InvalidArgumentError for a bad `memory` or option.
   *
   * @example
   * ```ts
   * import { BuddyAllocator, Memory, TlsfHeap } from 'memkit';
   * const heap = new TlsfHeap(new BuddyAllocator({ pages: 256 }));
   * const p = heap.alloc(1000);
   * const copy = TlsfHeap.attach(Memory.wrap(heap.memory.buffer.slice(0)));
   * copy.usableSize(p); // 1000
   * ```
   */
  static attach(memory: Memory, options?: TlsfAttachOptions): TlsfHeap;
  /** @internal For Kmalloc.attach: the heap at `region` of an attached buddy. */
  static attach(buddy: BuddyAllocator, region: number, options?: Pick<TlsfOptions, 'onChunk'>): TlsfHeap;
  static attach(
    where: Memory | BuddyAllocator,
    b?: TlsfAttachOptions | number,
    c?: Pick<TlsfOptions, 'onChunk'>,
  ): TlsfHeap {
    if (where instanceof BuddyAllocator) {
      if (typeof b !== 'number' || b >>> 0 !== b)
        throw argumentError('region', 'an address (a whole number in [0, 2^32))', b);
      return TlsfHeap.attachUnlocked(where, b, TlsfHeap.checkOnChunk(c?.onChunk));
    }
    if (!(where instanceof Memory)) throw argumentError('memory', 'a Memory', where);
    const o = checkOptions(b as TlsfAttachOptions | undefined, 'options', ['at', 'onChunk']);
    if (o.at !== undefined && (typeof o.at !== 'number' || o.at >>> 0 !== o.at))
      throw argumentError('at', 'an address (a whole number in [0, 2^32))', o.at);
    const cb = TlsfHeap.checkOnChunk(o.onChunk);
    const memory = where;
    memory.sync();
    const region = o.at ?? readSlot(memory, HeaderSlot.Tlsf);
    const open = (slot: number): TlsfHeap => {
      const buddy = attachBuddyUnder(memory, 'TLSF heap', slot); // the buddy shares this heap's slot
      if (region === 0)
        throw new HeapCorruptionError('no TLSF heap in this Memory (header slot empty)', 16 + 4 * HeaderSlot.Tlsf);
      return TlsfHeap.attachUnlocked(buddy, region, cb);
    };
    const w = region >>> 2;
    if (
      !memory.shared ||
      region === 0 ||
      (region & 3) !== 0 ||
      w + T_CHUNK_MAP > memory.u32.length ||
      memory.u32[w + T_MAGIC] !== TLSF_MAGIC
    ) {
      return open(0); // unshared, or no heap there (open throws the fsck's error)
    }
    // Another worker may be changing the heap (and taking chunks from the buddy under its
    // lock): join, then attach the buddy, read and check the heap, all under the heap's lock.
    const slot = joinWorker(memory.i32, H_WORKERS);
    lockMemory(memory, w + T_LOCK, slot);
    let heap: TlsfHeap;
    try {
      heap = open(slot);
    } catch (e) {
      unlock(memory.i32, w + T_LOCK, slot);
      leaveWorker(memory.i32, H_WORKERS, slot);
      throw e;
    }
    unlock(memory.i32, w + T_LOCK, slot);
    heap.slot = slot;
    heap.joined = true;
    return heap;
  }

  private static checkOnChunk(onChunk: unknown): TlsfState['onChunk'] {
    if (onChunk !== undefined && typeof onChunk !== 'function') throw argumentError('onChunk', 'a function', onChunk);
    return (onChunk as TlsfState['onChunk'] | undefined) ?? null;
  }

  /** attach's checks and construction (the caller holds the heap's lock, or the memory is not shared). */
  private static attachUnlocked(buddy: BuddyAllocator, region: number, onChunk: TlsfState['onChunk']): TlsfHeap {
    const heap = new TlsfHeap(resolveHeap(buddy, region, onChunk));
    heap.checkInvariantsLocked();
    return heap;
  }

  // ------------------------------------------------------------ fast paths

  /**
   * Allocates `size` bytes, 8-byte aligned.
   *
   * @throws InvalidArgumentError unless size is a whole number in [1, maxSize].
   * @throws OutOfMemoryError when no free block fits and the buddy has no chunk.
   *
   * @example
   * ```ts
   * const heap = new TlsfHeap(new BuddyAllocator({ pages: 256 }));
   * const p = heap.alloc(1000); // 8-aligned
   * heap.usableSize(p);         // 1000
   * ```
   */
  alloc(size: number): number {
    if (this.lockAt < 0) return this.allocate(size, true);
    this.enter();
    try {
      return this.allocate(size, true);
    } finally {
      this.leave();
    }
  }

  /**
   * As {@link alloc}, but returns 0 instead of throwing OutOfMemoryError (so
   * a caller can fall back to another allocator without a try/catch).
   *
   * @throws InvalidArgumentError unless size is a whole number in [1, maxSize].
   *
   * @example
   * ```ts
   * const heap = new TlsfHeap(new BuddyAllocator({ pages: 128 }));
   * heap.tryAlloc(heap.maxSize); // an address: the buddy has room for one chunk
   * heap.tryAlloc(heap.maxSize); // 0, not an OutOfMemoryError: no room for a second
   * ```
   */
  tryAlloc(size: number): number {
    if (this.lockAt < 0) return this.allocate(size, false);
    this.enter();
    try {
      return this.allocate(size, false);
    } finally {
      this.leave();
    }
  }

  /** @internal {@link tryAlloc} for a caller that holds this heap's lock (Kmalloc). */
  tryAllocLocked(size: number): number {
    return this.allocate(size, false);
  }

  private allocate(size: number, orThrow: boolean): number {
    if (typeof size !== 'number' || !(size >= 1 && size <= this.maxSize) || (size | 0) !== size)
      return this.badSize(size);
    const mem = this.memory;
    mem.sync();
    const u32 = mem.u32;
    const c = this.c;
    const s = (size + 15) & HotTlsf.SIZE_MASK; // payload rounded to 8, plus the header
    // mapping_search: the first list whose every block holds s bytes.
    let fl = 0;
    let sl = s >>> 3;
    if (s >= HotTlsf.SB_SIZE) {
      const r = s + (1 << (31 - Math.clz32(s) - HotTlsf.SL_BITS)) - 1;
      const t = 31 - Math.clz32(r);
      sl = (r >>> (t - HotTlsf.SL_BITS)) ^ HotTlsf.SL_COUNT;
      fl = t - HotTlsf.SB_SHIFT + 1;
      if (fl >= HotTlsf.FL_COUNT) return this.allocSlow(size, s, orThrow);
    }
    if (fl < HotTlsf.Q_FL) {
      // A quick list of the request's ceiling class: every block on it fits (layout.ts).
      const qi = this.q + (((fl << HotTlsf.SL_BITS) + sl) << 1);
      const Q = u32[qi]!;
      if (Q !== 0) {
        const qh = Q >>> 2;
        const hq = u32[qh]!;
        const qx = Q + (hq & HotTlsf.SIZE_MASK);
        // A quick block of this heap: its QUICK bit, its chunk, and its size in the next block's tag.
        if (
          (hq & HotTlsf.QUICK) === 0 ||
          !this.inHeap(u32, Q) ||
          (u32[(qx >>> 2) + HotTlsf.BH_TAG]! ^ Math.imul(qx, this.key)) !== (hq & HotTlsf.SIZE_MASK)
        )
          return this.badQuick(Q, qi);
        // Only a block TLSF would hand out whole too (what is left over could not be a block):
        // the waste stays TLSF's. Always so below 512 B.
        if ((hq & HotTlsf.SIZE_MASK) - s < HotTlsf.MIN_BLOCK) {
          u32[qh] = hq ^ HotTlsf.QUICK;
          u32[qi] = u32[qh + HotTlsf.BH_NEXT_FREE]!;
          u32[qi + 1] = u32[qi + 1]! - 1;
          u32[c + HotTlsf.T_Q_BYTES] = u32[c + HotTlsf.T_Q_BYTES]! - (hq & HotTlsf.SIZE_MASK);
          return Q + HotTlsf.BLOCK_HEADER_BYTES;
        }
      }
    }
    let m = u32[c + HotTlsf.T_SL_MAPS + fl]! & (-1 << sl);
    if (m === 0) {
      const f = u32[c + HotTlsf.T_FL_MAP]! & (-2 << fl);
      if (f === 0) return this.allocSlow(size, s, orThrow);
      fl = 31 - Math.clz32(f & -f);
      m = u32[c + HotTlsf.T_SL_MAPS + fl]!;
    }
    sl = 31 - Math.clz32(m & -m);
    // The list's head H (b bytes) is popped and serves the request from its start (TLSF's
    // split): what is left after the used block, b - s bytes, is a free block of its own.
    // From the start, so that a chunk fills upwards and its free end sits next to the chunk
    // above, which a run joins to it (layout.ts, "Runs"): a block then straddles the two.
    const hi = c + HotTlsf.T_HEADS + (fl << HotTlsf.SL_BITS) + sl;
    const H = u32[hi]!;
    if (H === 0) return this.badBits(fl, sl); // a damaged bitmap: its bit says the list has a head
    const h = H >>> 2;
    const b = u32[h]! & HotTlsf.SIZE_MASK;
    if (!this.isFreeBlock(u32, H, b)) return this.badLink(H, hi);
    const rest = b - s;
    const next = u32[h + HotTlsf.BH_NEXT_FREE]!;
    // The rest's list: its head (next, when that is H's own list) is checked before anything
    // is written, as push would check it after (a damaged one leaves the heap as it was).
    const rhi = rest < HotTlsf.MIN_BLOCK ? 0 : this.listOf(rest);
    const rh = rhi === 0 ? 0 : rhi === hi ? next : u32[rhi]!;
    if (rh !== 0 && !this.inHeap(u32, rh)) return this.badLink(rh, rhi);
    if (b === this.whole && H === u32[c + HotTlsf.T_SPARE]) u32[c + HotTlsf.T_SPARE] = 0;
    u32[c + HotTlsf.T_USED_BLOCKS] = u32[c + HotTlsf.T_USED_BLOCKS]! + 1;
    // Pop H (the new head's prev link may go stale, see unlink).
    u32[hi] = next;
    if (next === 0) this.clearBits(u32, fl, sl);
    if (rest < HotTlsf.MIN_BLOCK) {
      // Take H whole (a free block's left neighbour is used: its PREV_FREE stays clear).
      const X = H + b;
      u32[h] = b;
      u32[X >>> 2] = u32[X >>> 2]! & ~HotTlsf.PREV_FREE;
      u32[c + HotTlsf.T_USED_BYTES] = u32[c + HotTlsf.T_USED_BYTES]! + b;
      return H + HotTlsf.BLOCK_HEADER_BYTES;
    }
    u32[h] = s;
    u32[c + HotTlsf.T_USED_BYTES] = u32[c + HotTlsf.T_USED_BYTES]! + s;
    this.markFree(u32, H + s, rest, s);
    this.push(u32, H + s, rhi);
    return H + HotTlsf.BLOCK_HEADER_BYTES;
  }

  /**
   * Frees a block from alloc/realloc, merging it with free neighbours.
   *
   * @throws InvalidFreeError if `addr` is not a used block's start; DoubleFreeError
   * if it is already free. The heap is unchanged then.
   *
   * @example
   * ```ts
   * const heap = new TlsfHeap(new BuddyAllocator({ pages: 256 }));
   * const p = heap.alloc(1000);
   * heap.free(p);         // merged with its free neighbours
   * heap.isAllocated(p);  // false
   * ```
   */
  free(addr: number): void {
    if (this.lockAt < 0) return this.freeLocked(addr);
    this.enter();
    try {
      this.freeLocked(addr);
    } finally {
      this.leave();
    }
  }

  /** @internal As free, for a caller that holds this heap's lock (Kmalloc). */
  freeLocked(addr: number): void {
    const mem = this.memory;
    mem.sync();
    const u32 = mem.u32;
    const H = this.headerOf(u32, addr);
    if (H < 0) return this.badFree(addr, 'free');
    const h = u32[H >>> 2]!;
    const size = h & HotTlsf.SIZE_MASK;
    if (size < HotTlsf.Q_MAX && (h & HotTlsf.PREV_FREE) === 0 && (u32[(H + size) >>> 2]! & HotTlsf.FREE) === 0) {
      // A block with no free neighbour (TLSF would not merge it) goes onto the quick list
      // of its floor class, if that list and the total have room.
      let fl = 0;
      let sl = size >>> 3;
      if (size >= HotTlsf.SB_SIZE) {
        const t = 31 - Math.clz32(size);
        sl = (size >>> (t - HotTlsf.SL_BITS)) ^ HotTlsf.SL_COUNT;
        fl = t - HotTlsf.SB_SHIFT + 1;
      }
      const qi = this.q + (((fl << HotTlsf.SL_BITS) + sl) << 1);
      const n = u32[qi + 1]!;
      const qb = u32[this.c + HotTlsf.T_Q_BYTES]! + size;
      if (n < HotTlsf.Q_DEPTH && qb <= this.qLimit) {
        u32[H >>> 2] = h | HotTlsf.QUICK;
        u32[(H >>> 2) + HotTlsf.BH_NEXT_FREE] = u32[qi]!;
        u32[qi] = H;
        u32[qi + 1] = n + 1;
        u32[this.c + HotTlsf.T_Q_BYTES] = qb;
        return;
      }
    }
    this.release(u32, H, h);
  }

  /**
   * TLSF's free of used block H (header word h): merges it with its free
   * neighbours and lists the result (or gives its chunk back when it empties).
   */
  /** @internal */
  release(u32: Uint32Array, H: number, h: number): void {
    const c = this.c;
    const size = h & HotTlsf.SIZE_MASK;
    const key = this.key;
    // The free neighbours are checked before anything is written (a damaged header would
    // send the merges anywhere): right, its header and the tag of the block after it, which
    // the merge writes anyway; left, its header, on the line its links are read from.
    const R = H + size;
    const rh = u32[R >>> 2]!;
    const rs = rh & HotTlsf.SIZE_MASK;
    const right = (rh & HotTlsf.FREE) !== 0;
    const p = u32[(H >>> 2) + HotTlsf.BH_TAG]! ^ Math.imul(H, key);
    const L = H - p;
    const left = (h & HotTlsf.PREV_FREE) !== 0;
    if ((right && !this.isFreeBlock(u32, R, rs)) || (left && u32[L >>> 2] !== (p | HotTlsf.FREE)))
      return this.badNeighbour(H);
    // Nothing is written before every link the merges and the push write through is known
    // to lie in a held chunk, so that a damaged one leaves the heap as it was. unlink
    // checks its own before it writes: what is left to check here is the left neighbour's
    // when the right one is unlinked first, and the head the result is pushed on.
    const total = size + (right ? rs : 0) + (left ? p : 0);
    const whole = total >= this.whole;
    const fhi = whole ? 0 : this.listOf(total);
    // (A neighbour that heads the list is replaced by its next, which unlink checks.)
    const fh = whole ? 0 : u32[fhi]!;
    const fs = (fh - this.base) >>> this.chunkShift; // inHeap written out (V8's budget: see unlink)
    if (
      fh !== 0 &&
      !(right && fh === R) &&
      !(left && fh === L) &&
      (fs >= this.maxChunks || (u32[c + HotTlsf.T_CHUNK_MAP + (fs >>> 5)]! & (1 << (fs & 31))) === 0)
    )
      this.headOrBad(u32, fh, fhi); // throws, unless the list is empty (push reads no head word then)
    if (right && left && !this.linksHeld(u32, L, p)) return this.badLink(L, this.listOf(p));
    // (The lists releaseWide pushes on depend on where its cuts fall: all heads are checked.)
    if (whole && !this.headsHeld(u32, right ? R : 0, left ? L : 0)) return this.badLink(-1, this.c + HotTlsf.T_HEADS);
    // Merge with the right neighbour (never the sentinel: it is used).
    if (right) this.unlink(u32, R, rs);
    // Merge with the left neighbour, found by the prevSize boundary tag.
    if (left) {
      this.unlink(u32, L, p);
      // The absorbed header keeps HotTlsf.FREE, so a second free(addr) is told a double free.
      u32[H >>> 2] = h | HotTlsf.FREE;
      H = L;
    }
    u32[c + HotTlsf.T_USED_BLOCKS] = u32[c + HotTlsf.T_USED_BLOCKS]! - 1;
    u32[c + HotTlsf.T_USED_BYTES] = u32[c + HotTlsf.T_USED_BYTES]! - size;
    u32[H >>> 2] = total | HotTlsf.FREE;
    const X = H + total;
    u32[X >>> 2] = u32[X >>> 2]! | HotTlsf.PREV_FREE;
    u32[(X >>> 2) + HotTlsf.BH_TAG] = total ^ Math.imul(X, key);
    // A block that may hold a whole chunk: each chunk it holds is cut out, kept as the
    // spare or given back (an emptied chunk, without runs).
    if (whole) return this.releaseWide(u32, H, total);
    this.push(u32, H, fhi);
  }

  /**
   * @internal True when unlink(N) will find N's links in held chunks (reads
   * only): for a list head its next, for any other member its prev and next.
   * release's test of its second merge, before the first one writes.
   */
  linksHeld(u32: Uint32Array, N: number, size: number): boolean {
    const next = u32[(N >>> 2) + HotTlsf.BH_NEXT_FREE]!;
    const prev = u32[this.listOf(size)] === N ? N : u32[(N >>> 2) + HotTlsf.BH_PREV_FREE]!;
    const map = this.c + HotTlsf.T_CHUNK_MAP;
    const ps = (prev - this.base) >>> this.chunkShift;
    const ns = (next - this.base) >>> this.chunkShift;
    return (
      ps < this.maxChunks &&
      (u32[map + (ps >>> 5)]! & (1 << (ps & 31))) !== 0 &&
      (next === 0 || (ns < this.maxChunks && (u32[map + (ns >>> 5)]! & (1 << (ns & 31))) !== 0))
    );
  }

  /** release found a free neighbour of H whose header or boundary tag is damaged. */
  private badNeighbour(H: number): never {
    this.memory.checkLive();
    throw new HeapCorruptionError(
      `tlsf: a free neighbour of the block at ${hex(H + HotTlsf.BLOCK_HEADER_BYTES)} has a damaged header or tag`,
      H,
    );
  }

  /** allocate found list (fl, sl)'s bit set and its head 0: the bitmaps are damaged. */
  private badBits(fl: number, sl: number): never {
    this.memory.checkLive(); // a detached buffer, not a damaged control structure
    throw new HeapCorruptionError(
      `tlsf: the bitmaps say list (${fl}, ${sl}) has blocks, but its head is 0 (a damaged control structure)`,
      this.region + 4 * (HotTlsf.T_HEADS + (fl << HotTlsf.SL_BITS) + sl),
    );
  }

  /** @internal A quick list leads to a block without the QUICK bit: its link was overwritten (a use after free). */
  badQuick(H: number, qi: number): never {
    this.memory.checkLive(); // a detached buffer, not a write after free
    throw new HeapCorruptionError(
      `tlsf: quick list ${(qi - this.q) / Q_WORDS} leads to ${hex(H)}, not a quick-listed block (a write after free?)`,
      H,
    );
  }

  /**
   * Resizes a block: in place when the new size fits (the tail is freed) or
   * when the free block right of it has room; else moves it (content kept
   * up to the smaller size). On OutOfMemoryError the old block is untouched.
   *
   * @throws InvalidFreeError / DoubleFreeError for a bad address;
   * InvalidArgumentError for a bad size; the heap is unchanged then.
   *
   * @example
   * ```ts
   * const heap = new TlsfHeap(new BuddyAllocator({ pages: 256 }));
   * const p = heap.alloc(1000);
   * const q = heap.realloc(p, 500); // shrinks in place: q === p
   * heap.usableSize(q);             // 504
   * ```
   */
  realloc(addr: number, size: number): number {
    if (this.lockAt < 0) return this.reallocLocked(addr, size);
    this.enter();
    try {
      return this.reallocLocked(addr, size);
    } finally {
      this.leave();
    }
  }

  /** @internal As realloc, for a caller that holds this heap's lock (Kmalloc). */
  reallocLocked(addr: number, size: number): number {
    const mem = this.memory;
    mem.sync();
    const u32 = mem.u32;
    const H = this.headerOf(u32, addr);
    if (H < 0) return this.badFree(addr, 'realloc');
    if (typeof size !== 'number' || !(size >= 1 && size <= this.maxSize) || (size | 0) !== size)
      return this.badSize(size);
    const c = this.c;
    const s = (size + 15) & HotTlsf.SIZE_MASK;
    const h = u32[H >>> 2]!;
    const cur = h & HotTlsf.SIZE_MASK;
    if (s <= cur) {
      const rest = cur - s;
      if (rest >= HotTlsf.MIN_BLOCK) {
        // The tail merges with a free right neighbour: it, its links and the list the tail
        // goes on are checked before anything is written.
        const R = H + cur;
        const rh = u32[R >>> 2]!;
        const rs = rh & HotTlsf.SIZE_MASK;
        const right = (rh & HotTlsf.FREE) !== 0;
        if (right && (!this.isFreeBlock(u32, R, rs) || !this.linksHeld(u32, R, rs))) return this.badNeighbour(H);
        if (!this.linkable(u32, rest + (right ? rs : 0), right ? R : 0)) return this.badLink(-1, c + HotTlsf.T_HEADS);
        u32[H >>> 2] = s | (h & HotTlsf.PREV_FREE);
        u32[c + HotTlsf.T_USED_BYTES] = u32[c + HotTlsf.T_USED_BYTES]! - rest;
        this.freeTail(u32, H + s, rest, s);
      }
      return addr;
    }
    const R = H + cur;
    const rh = u32[R >>> 2]!;
    if ((rh & HotTlsf.FREE) !== 0 && cur + (rh & HotTlsf.SIZE_MASK) >= s) {
      const rs = rh & HotTlsf.SIZE_MASK;
      if (!this.isFreeBlock(u32, R, rs)) return this.badNeighbour(H);
      // The list the rest goes on, checked before unlink writes (R's own links it checks).
      const more = cur + rs - s;
      if (more >= HotTlsf.MIN_BLOCK && !this.linkable(u32, more, R)) return this.badLink(-1, c + HotTlsf.T_HEADS);
      this.unlink(u32, R, rs);
      const total = cur + rs;
      const rest = total - s;
      if (rest >= HotTlsf.MIN_BLOCK) {
        u32[H >>> 2] = s | (h & HotTlsf.PREV_FREE);
        this.splitFree(u32, H + s, rest, s);
        u32[c + HotTlsf.T_USED_BYTES] = u32[c + HotTlsf.T_USED_BYTES]! + (s - cur);
      } else {
        u32[H >>> 2] = total | (h & HotTlsf.PREV_FREE);
        const X = H + total;
        u32[X >>> 2] = u32[X >>> 2]! & ~HotTlsf.PREV_FREE;
        u32[(X >>> 2) + HotTlsf.BH_TAG] = total ^ Math.imul(X, this.key);
        u32[c + HotTlsf.T_USED_BYTES] = u32[c + HotTlsf.T_USED_BYTES]! + rs;
      }
      return addr;
    }
    // A move: the old block's free (its merges and push) is checked before the new block
    // is taken, so that damage found there leaves the heap as it was.
    if (!this.releasable(u32, H, h)) return this.badNeighbour(H);
    const fresh = this.allocate(size, true);
    const u8 = this.memory.u8;
    u8.copyWithin(fresh, addr, addr + cur - HotTlsf.BLOCK_HEADER_BYTES);
    this.freeLocked(addr);
    return fresh;
  }

  /**
   * Bytes usable at `addr`: the block's size minus its header (at least what
   * was asked, at most 16 bytes more).
   *
   * @throws InvalidFreeError if `addr` is not a used block's start.
   *
   * @example
   * ```ts
   * const heap = new TlsfHeap(new BuddyAllocator({ pages: 256 }));
   * heap.usableSize(heap.alloc(1000)); // 1000
   * heap.usableSize(heap.alloc(1));    // 8: the smallest block
   * ```
   */
  usableSize(addr: number): number {
    if (this.lockAt < 0) return this.usableSizeLocked(addr);
    this.enter();
    try {
      return this.usableSizeLocked(addr);
    } finally {
      this.leave();
    }
  }

  /** @internal As usableSize, for a caller that holds this heap's lock (Kmalloc). */
  usableSizeLocked(addr: number): number {
    const mem = this.memory;
    mem.sync();
    const u32 = mem.u32;
    const H = this.headerOf(u32, addr);
    if (H < 0) return this.badFree(addr, 'usableSize');
    return (u32[H >>> 2]! & HotTlsf.SIZE_MASK) - HotTlsf.BLOCK_HEADER_BYTES;
  }

  /**
   * True when `addr` is the start of a used block.
   *
   * @throws InvalidArgumentError unless `addr` is a whole number in [0, 2^32).
   *
   * @example
   * ```ts
   * const heap = new TlsfHeap(new BuddyAllocator({ pages: 256 }));
   * const p = heap.alloc(100);
   * heap.isAllocated(p);     // true
   * heap.isAllocated(p + 8); // false: inside the block
   * ```
   */
  isAllocated(addr: number): boolean {
    if (this.lockAt < 0) return this.isAllocatedLocked(addr);
    this.enter();
    try {
      return this.isAllocatedLocked(addr);
    } finally {
      this.leave();
    }
  }

  /** @internal As isAllocated, for a caller that holds this heap's lock (Kmalloc). */
  isAllocatedLocked(addr: number): boolean {
    if (typeof addr !== 'number' || addr >>> 0 !== addr)
      throw argumentError('addr', 'an address (a whole number in [0, 2^32))', addr);
    const mem = this.memory;
    mem.syncChecked();
    return this.headerOf(mem.u32, addr) >= 0;
  }

  /**
   * Bytes of the chunks held from the buddy now (the control region not included).
   *
   * @example
   * ```ts
   * const heap = new TlsfHeap(new BuddyAllocator({ pages: 256 }));
   * heap.footprint(); // 0
   * heap.alloc(100);
   * heap.footprint(); // heap.chunkBytes: one chunk taken from the buddy
   * ```
   */
  footprint(): number {
    this.memory.syncChecked();
    return this.memory.u32[this.c + T_CHUNKS]! * this.chunkBytes;
  }

  /** The byte view of the heap's memory. */
  get bytes(): Uint8Array {
    this.memory.syncChecked(); // a buffer detached under the heap: named, not an empty view
    return this.memory.u8;
  }

  // ------------------------------------------------------------ internals

  /**
   * The header address of the used block whose payload starts at `addr`, or
   * -1 when `addr` is not one (then nothing was changed). O(1): the chunk is
   * found by alignment and checked in the chunk map; the header must be a
   * used block's that ends inside the chunk, and the block right of it must
   * carry its size in the keyed tag.
   */
  private headerOf(u32: Uint32Array, addr: number): number {
    if (typeof addr !== 'number') return -1;
    const a = addr >>> 0; // addr as a uint32 when it is one (keeps the math in integers)
    const off = a - this.base;
    if (a !== addr || (a & 7) !== 0 || off < HotTlsf.BLOCK_HEADER_BYTES) return -1;
    const slot = off >>> this.chunkShift;
    if (slot >= this.maxChunks || (u32[this.c + HotTlsf.T_CHUNK_MAP + (slot >>> 5)]! & (1 << (slot & 31))) === 0)
      return -1;
    const rel = (off & this.chunkMask) - HotTlsf.BLOCK_HEADER_BYTES; // H's offset in addr's chunk
    const H = a - HotTlsf.BLOCK_HEADER_BYTES;
    const h = u32[H >>> 2]!;
    const size = h & HotTlsf.SIZE_MASK;
    if ((h & ~(HotTlsf.SIZE_MASK | HotTlsf.PREV_FREE)) !== 0 || size < HotTlsf.MIN_BLOCK) return -1;
    // A block may cross into the next chunk (or have its header at the end of the one below)
    // only where the two are joined: one run (layout.ts, "Runs").
    if (
      (rel < 0 || rel + size > this.whole) &&
      !crossesJoined(u32, this.j, this.maxChunks, this.chunkBytes, slot, rel, size)
    )
      return -1;
    const R = H + size;
    if ((u32[(R >>> 2) + HotTlsf.BH_TAG]! ^ Math.imul(R, this.key)) !== size) return -1;
    return H;
  }

  /**
   * Serves s bytes from free block H (still on its list) as alloc's fast
   * path does: from its start, the rest a free block when it is at least
   * HotTlsf.MIN_BLOCK. Returns the payload address.
   */
  private carve(u32: Uint32Array, H: number, s: number): number {
    const c = this.c;
    const b = u32[H >>> 2]! & HotTlsf.SIZE_MASK;
    if (!this.isFreeBlock(u32, H, b)) return this.badLink(H, c + HotTlsf.T_SPARE);
    if (H === u32[c + HotTlsf.T_SPARE]) u32[c + HotTlsf.T_SPARE] = 0;
    this.unlink(u32, H, b);
    const rest = b - s;
    u32[c + HotTlsf.T_USED_BLOCKS] = u32[c + HotTlsf.T_USED_BLOCKS]! + 1;
    if (rest < HotTlsf.MIN_BLOCK) {
      // A free block's left neighbour is used: H's HotTlsf.PREV_FREE stays 0.
      const X = H + b;
      u32[H >>> 2] = b;
      u32[X >>> 2] = u32[X >>> 2]! & ~HotTlsf.PREV_FREE;
      u32[c + HotTlsf.T_USED_BYTES] = u32[c + HotTlsf.T_USED_BYTES]! + b;
      return H + HotTlsf.BLOCK_HEADER_BYTES;
    }
    u32[H >>> 2] = s;
    u32[c + HotTlsf.T_USED_BYTES] = u32[c + HotTlsf.T_USED_BYTES]! + s;
    this.splitFree(u32, H + s, rest, s);
    return H + HotTlsf.BLOCK_HEADER_BYTES;
  }

  /**
   * Makes [N, N + size) a free block (its left neighbour, of leftSize bytes,
   * is used; its right one is used too) and lists it.
   */
  private splitFree(u32: Uint32Array, N: number, size: number, leftSize: number): void {
    this.markFree(u32, N, size, leftSize);
    this.link(u32, N, size);
  }

  /** Writes [N, N + size) as a free block whose left neighbour (leftSize bytes) is used: its header and the next block's tag. */
  private markFree(u32: Uint32Array, N: number, size: number, leftSize: number): void {
    const key = this.key;
    const n = N >>> 2;
    u32[n] = size | HotTlsf.FREE;
    u32[n + HotTlsf.BH_TAG] = leftSize ^ Math.imul(N, key);
    const X = N + size;
    u32[X >>> 2] = u32[X >>> 2]! | HotTlsf.PREV_FREE;
    u32[(X >>> 2) + HotTlsf.BH_TAG] = size ^ Math.imul(X, key);
  }

  /** Frees the tail [N, N + size) cut off a used block, merging it with a free right neighbour. */
  private freeTail(u32: Uint32Array, N: number, size: number, leftSize: number): void {
    const rh = u32[(N + size) >>> 2]!;
    if ((rh & HotTlsf.FREE) !== 0) {
      const rs = rh & HotTlsf.SIZE_MASK; // (checked by reallocLocked)
      this.unlink(u32, N + size, rs);
      size += rs;
    }
    this.markFree(u32, N, size, leftSize);
    if (size >= this.whole) return this.releaseWide(u32, N, size); // it may hold a whole chunk of a run
    this.link(u32, N, size);
  }

  /** @internal mapping_insert + push on the list's front (its head checked first). */
  link(u32: Uint32Array, H: number, size: number): void {
    const hi = this.listOf(size);
    const i = hi - this.c - HotTlsf.T_HEADS; // the head push reads: none when the list's bit is clear
    const head = (u32[this.c + HotTlsf.T_SL_MAPS + (i >>> HotTlsf.SL_BITS)]! & (1 << (i & 31))) !== 0 ? u32[hi]! : 0;
    if (head !== 0 && !this.inHeap(u32, head)) return this.badLink(head, hi);
    this.push(u32, H, hi);
  }

  /** True when the list whose head word is `hi` has blocks (its bitmap bit: push reads its head word only then). */
  private hasBlocks(u32: Uint32Array, hi: number): boolean {
    const i = hi - this.c - HotTlsf.T_HEADS;
    return (u32[this.c + HotTlsf.T_SL_MAPS + (i >>> HotTlsf.SL_BITS)]! & (1 << (i & 31))) !== 0;
  }

  /** Throws badLink for head word `hi` (naming H), unless its list is empty: push would not read it. */
  private headOrBad(u32: Uint32Array, H: number, hi: number): void {
    if (this.hasBlocks(u32, hi)) this.badLink(H, hi);
  }

  /** @internal The head a push of a free block of `size` bytes would link to: 0 when its list is empty (its bit clear; push reads no head word then). */
  listHead(u32: Uint32Array, size: number): number {
    const hi = this.listOf(size);
    return this.hasBlocks(u32, hi) ? u32[hi]! : 0;
  }

  /** @internal u32 index of the head word of the list a free block of `size` bytes goes on (TLSF's mapping_insert). */
  listOf(size: number): number {
    let fl = 0;
    let sl = size >>> 3;
    if (size >= HotTlsf.SB_SIZE) {
      const t = 31 - Math.clz32(size);
      sl = (size >>> (t - HotTlsf.SL_BITS)) ^ HotTlsf.SL_COUNT;
      fl = t - HotTlsf.SB_SHIFT + 1;
    }
    return this.c + HotTlsf.T_HEADS + (fl << HotTlsf.SL_BITS) + sl;
  }

  /**
   * Pushes free block H on the list whose head word is `hi`, whose head the
   * caller has checked (0 or inHeap) before it wrote anything. A list's head
   * has no valid prev link (popping the head does not touch the next block,
   * one cache miss saved); every other member's prev link is exact, so it is
   * set here on the old head.
   */
  private push(u32: Uint32Array, H: number, hi: number): void {
    const c = this.c;
    const fl = (hi - c - HotTlsf.T_HEADS) >>> HotTlsf.SL_BITS;
    const sl = (hi - c - HotTlsf.T_HEADS) & (HotTlsf.SL_COUNT - 1);
    // The head of a list whose bit is set (the caller checked it is in a held chunk); an
    // empty list's head word is not read, so damage there is never followed.
    const sm = u32[c + HotTlsf.T_SL_MAPS + fl]!;
    const head = (sm & (1 << sl)) !== 0 ? u32[hi]! : 0;
    u32[(H >>> 2) + HotTlsf.BH_NEXT_FREE] = head;
    if (head !== 0) u32[(head >>> 2) + HotTlsf.BH_PREV_FREE] = H;
    u32[hi] = H;
    u32[c + HotTlsf.T_FL_MAP] = u32[c + HotTlsf.T_FL_MAP]! | (1 << fl);
    u32[c + HotTlsf.T_SL_MAPS + fl] = sm | (1 << sl);
  }

  /** Clears list (fl, sl)'s bit, and fl's when its second level is empty now. */
  private clearBits(u32: Uint32Array, fl: number, sl: number): void {
    const c = this.c;
    const sm = u32[c + HotTlsf.T_SL_MAPS + fl]! & ~(1 << sl);
    u32[c + HotTlsf.T_SL_MAPS + fl] = sm;
    if (sm === 0) u32[c + HotTlsf.T_FL_MAP] = u32[c + HotTlsf.T_FL_MAP]! & ~(1 << fl);
  }

  /** @internal Takes free block H of the given size off its list (the head is known by the heads table, not by its prev link). */
  unlink(u32: Uint32Array, H: number, size: number): void {
    const c = this.c;
    let fl = 0;
    let sl = size >>> 3;
    if (size >= HotTlsf.SB_SIZE) {
      const t = 31 - Math.clz32(size);
      sl = (size >>> (t - HotTlsf.SL_BITS)) ^ HotTlsf.SL_COUNT;
      fl = t - HotTlsf.SB_SHIFT + 1;
    }
    const h = H >>> 2;
    const next = u32[h + HotTlsf.BH_NEXT_FREE]!;
    const hi = c + HotTlsf.T_HEADS + (fl << HotTlsf.SL_BITS) + sl;
    const head = u32[hi] === H;
    const prev = head ? H : u32[h + HotTlsf.BH_PREV_FREE]!; // a head's prev link is stale: not read
    // Links are written (and a next made a head) only inside the heap's chunks: damaged ones
    // would send the writes anywhere, now or at a later push. Prev's and next's chunk-map
    // bits, written out rather than two calls to inHeap: with the calls, V8 (Node 20) ran
    // out of inlining budget in release and allocate and called inHeap and the second
    // unlink, 871 x86 instructions an op on the random replay against 763 written out
    // (cachegrind, bench/kmalloc-count.ts).
    const base = this.base;
    const shift = this.chunkShift;
    const max = this.maxChunks;
    const ps = (prev - base) >>> shift;
    const ns = (next - base) >>> shift;
    if (
      ps >= max ||
      (u32[c + HotTlsf.T_CHUNK_MAP + (ps >>> 5)]! & (1 << (ps & 31))) === 0 ||
      (next !== 0 && (ns >= max || (u32[c + HotTlsf.T_CHUNK_MAP + (ns >>> 5)]! & (1 << (ns & 31))) === 0))
    )
      return this.badLink(H, hi);
    if (head) {
      u32[hi] = next;
      if (next === 0) this.clearBits(u32, fl, sl);
      return;
    }
    u32[(prev >>> 2) + HotTlsf.BH_NEXT_FREE] = next;
    if (next !== 0) u32[(next >>> 2) + HotTlsf.BH_PREV_FREE] = prev;
  }

  /**
   * True when a free block of `size` bytes can be pushed on its list: the
   * list's head is 0, `replaced` (a block about to be unlinked: unlink checks
   * its next) or in a held chunk; every list's when the block may hold a whole
   * chunk (headsHeld). realloc's test before it writes. (release has the same
   * test written out, within V8's inlining budget.)
   */
  private linkable(u32: Uint32Array, size: number, replaced: number, replaced2 = 0): boolean {
    if (size >= this.whole) return this.headsHeld(u32, replaced, replaced2);
    const head = u32[this.listOf(size)]!;
    return head === 0 || head === replaced || head === replaced2 || this.inHeap(u32, head);
  }

  /**
   * @internal True when release(H) would find nothing damaged (reads only):
   * its free neighbours' headers, tags and links, and the list the merged
   * block goes on. realloc's test before a move takes the new block, and the
   * quick-list flush's before it puts the first block back.
   */
  releasable(u32: Uint32Array, H: number, h: number): boolean {
    const size = h & HotTlsf.SIZE_MASK;
    const R = H + size;
    const rh = u32[R >>> 2]!;
    const rs = rh & HotTlsf.SIZE_MASK;
    const right = (rh & HotTlsf.FREE) !== 0;
    const p = u32[(H >>> 2) + HotTlsf.BH_TAG]! ^ Math.imul(H, this.key);
    const L = H - p;
    const left = (h & HotTlsf.PREV_FREE) !== 0;
    return (
      (!right || (this.isFreeBlock(u32, R, rs) && this.linksHeld(u32, R, rs))) &&
      (!left || (u32[L >>> 2] === (p | HotTlsf.FREE) && this.linksHeld(u32, L, p))) &&
      this.linkable(u32, size + (right ? rs : 0) + (left ? p : 0), right ? R : 0, left ? L : 0)
    );
  }

  /**
   * True when the head of every list with blocks (its bitmap bit set; push
   * reads no other) is a block about to be unlinked (r or l: unlink checks its
   * next) or in a held chunk. release's test before it cuts chunks out
   * (releaseWide), whose remainders go on lists that depend on where the cuts
   * fall; about 500 times a pass of the random replay (410,000 operations).
   */
  private headsHeld(u32: Uint32Array, r: number, l: number): boolean {
    const c = this.c;
    for (let f = u32[c + HotTlsf.T_FL_MAP]!; f !== 0; f &= f - 1) {
      const fl = 31 - Math.clz32(f & -f);
      for (let m = u32[c + HotTlsf.T_SL_MAPS + fl]!; m !== 0; m &= m - 1) {
        const head = u32[c + HotTlsf.T_HEADS + (fl << HotTlsf.SL_BITS) + 31 - Math.clz32(m & -m)]!;
        if (head !== r && head !== l && !this.inHeap(u32, head)) return false;
      }
    }
    return true;
  }

  /**
   * @internal True when the head of every list with blocks that a free block of
   * `size` bytes or more goes on is in a held chunk: where a new chunk's block
   * may go (joined to the one below, it may be larger). addChunk's test before
   * it asks the buddy, and allocSlow's before the flush that may precede it.
   */
  headsFromHeld(u32: Uint32Array, size: number): boolean {
    const c = this.c;
    const i0 = this.listOf(size) - c - HotTlsf.T_HEADS;
    const fl0 = i0 >>> HotTlsf.SL_BITS;
    for (let f = u32[c + HotTlsf.T_FL_MAP]! & (-1 << fl0); f !== 0; f &= f - 1) {
      const fl = 31 - Math.clz32(f & -f);
      let m = u32[c + HotTlsf.T_SL_MAPS + fl]!;
      if (fl === fl0) m &= -1 << (i0 & (HotTlsf.SL_COUNT - 1));
      for (; m !== 0; m &= m - 1) {
        if (!this.inHeap(u32, u32[c + HotTlsf.T_HEADS + (fl << HotTlsf.SL_BITS) + 31 - Math.clz32(m & -m)]!))
          return false;
      }
    }
    return true;
  }

  /** @internal True when A is in a chunk the heap holds (its chunk-map bit). O(1). */
  inHeap(u32: Uint32Array, A: number): boolean {
    const slot = (A - this.base) >>> this.chunkShift; // below base: a huge slot
    return slot < this.maxChunks && (u32[this.c + HotTlsf.T_CHUNK_MAP + (slot >>> 5)]! & (1 << (slot & 31))) !== 0;
  }

  /**
   * True when H, b bytes by its header, is a free block of this heap: its header
   * `b | FREE`, and b in the keyed tag of the block after it (a line the caller
   * writes anyway). Any other word passes with odds of about 2^-32 (the key is
   * random per heap), the same test free's headerOf makes of an address; no
   * chunk-map lookup (each cost about 10 instructions an op; the writes of links
   * are the ones tested against the chunk map, in unlink and push).
   */
  private isFreeBlock(u32: Uint32Array, H: number, b: number): boolean {
    const X = H + b;
    return (
      u32[H >>> 2] === (b | HotTlsf.FREE) &&
      b >= HotTlsf.MIN_BLOCK &&
      (u32[(X >>> 2) + HotTlsf.BH_TAG]! ^ Math.imul(X, this.key)) === b
    );
  }

  /** A free list (its head word or a link, at u32 index `word`) leads to H (-1: some list's head), which is not a free block of this heap. */
  private badLink(H: number, word: number): never {
    this.memory.checkLive(); // a detached buffer, not a damaged list
    const to = H < 0 ? 'a head outside the heap' : hex(H);
    throw new HeapCorruptionError(`tlsf: a free list leads to ${to}, not a free block of this heap`, word * 4);
  }

  // ------------------------------------------------------------ slow paths

  /**
   * No list at or above the rounded size has a block: use the spare chunk,
   * or a block of the exact list that happens to fit (mapping_search skips
   * that list), or a new chunk from the buddy.
   */
  private allocSlow(size: number, s: number, orThrow: boolean): number {
    this.memory.checkLive(); // a detached buffer's bitmaps read as empty: not a full heap
    let u32 = this.memory.u32;
    const c = this.c;
    let H = u32[c + T_SPARE]!;
    if (H === 0) H = scanExact(this, u32, s);
    if (H === 0 && u32[c + T_Q_BYTES] !== 0) {
      // Growing: first give the quick lists' blocks back to TLSF, then search again. What
      // addChunk checks (the heads, the run below the next chunk) is checked first, so that
      // its throw after the flush cannot happen.
      if (!this.headsFromHeld(u32, this.whole)) return this.badLink(-1, c + HotTlsf.T_HEADS);
      checkNextChunk(this);
      flushQuick(this, u32);
      return this.allocate(size, orThrow);
    }
    if (H === 0) {
      H = addChunk(this, size, orThrow);
      if (H === 0) return 0;
      u32 = this.memory.u32;
    }
    return this.carve(u32, H, s);
  }

  /**
   * Puts the quick lists' blocks back into the heap (merged), then gives the
   * spare (wholly free) chunk back to the buddy. free() keeps at most one; this
   * drops it too. Returns the pages given back (chunks the flush emptied included).
   *
   * @example
   * ```ts
   * const heap = new TlsfHeap(new BuddyAllocator({ pages: 256 }));
   * heap.free(heap.alloc(1000)); // the chunk is empty: kept as the spare
   * heap.shrink();               // 64: its pages go back to the buddy
   * heap.footprint();            // 0
   * ```
   */
  shrink(): number {
    if (this.lockAt < 0) return this.shrinkLocked();
    this.enter();
    try {
      return this.shrinkLocked();
    } finally {
      this.leave();
    }
  }

  /** @internal As shrink, for a caller that holds this heap's lock (Kmalloc). */
  shrinkLocked(): number {
    const mem = this.memory;
    mem.syncChecked();
    const u32 = mem.u32;
    const c = this.c;
    const chunks = u32[c + T_CHUNKS]!;
    // The quick lists first: merged, their blocks may empty chunks (all but the spare go back
    // at once). Only when that can happen: the live bytes (used, not quick) must then fit in
    // the other chunks. Kmalloc calls this before every page it takes, and a flush for nothing
    // would cost the lists their contents.
    // The spare is checked before anything is written, the flush included: a whole chunk's free
    // block at a held chunk's start, with links that unlink may follow (a flush writes only sound
    // links, so they stay sound). A damaged spare word would otherwise give back a chunk in use.
    const spare = u32[c + T_SPARE]!;
    if (spare !== 0 && !this.spareHeld(u32, spare)) return this.badLink(spare, c + T_SPARE);
    const qBytes = u32[c + T_Q_BYTES]!;
    const held = chunks - (spare !== 0 ? 1 : 0);
    if (qBytes !== 0 && u32[c + T_USED_BYTES]! - qBytes <= (held - 1) * this.whole) flushQuick(this, u32);
    const A = u32[c + T_SPARE]!;
    if (A !== 0) {
      this.unlink(u32, A, this.whole);
      u32[c + T_SPARE] = 0;
      releaseChunk(this, A);
    }
    return (chunks - u32[c + T_CHUNKS]!) * this.chunkPages;
  }

  /** True when `A` is a sound spare: a held chunk's start, one free block of the whole chunk, its links in held chunks. */
  private spareHeld(u32: Uint32Array, A: number): boolean {
    return (
      this.inHeap(u32, A) &&
      (A - this.base) % this.chunkBytes === 0 &&
      this.isFreeBlock(u32, A, this.whole) &&
      this.linksHeld(u32, A, this.whole)
    );
  }

  private badSize(size: unknown): never {
    if (typeof size === 'number' && Number.isInteger(size) && size > this.maxSize) {
      throw new InvalidArgumentError(
        `tlsf: ${size} bytes is more than the largest block (${this.maxSize} bytes)`,
        'size',
      );
    }
    throw argumentError('size', `a whole number in [1, ${this.maxSize}]`, size);
  }

  /** check.ts's badFree as a method: freeLocked's call stays `this.badFree` (its bytecode budget). */
  private badFree(addr: unknown, op: string): never {
    return badFree(this, addr, op);
  }

  /** chunks.ts's releaseWide as a method: release's call stays `this.releaseWide`. */
  private releaseWide(u32: Uint32Array, H: number, size: number): void {
    releaseWide(this, u32, H, size);
  }

  // --------------------------------------------------------- introspection

  /**
   * Calls `visit(addr)` for each chunk held, in address order (the chunks
   * are listed first, so `visit` may alloc and free).
   *
   * @throws InvalidArgumentError unless `visit` is a function.
   *
   * @example
   * ```ts
   * const heap = new TlsfHeap(new BuddyAllocator({ pages: 256 }));
   * heap.alloc(100);
   * let chunks = 0;
   * heap.forEachChunk(() => chunks++);
   * chunks; // 1
   * ```
   */
  forEachChunk(visit: (addr: number) => void): void {
    if (typeof visit !== 'function') throw argumentError('visit', 'a function', visit);
    for (const A of chunksOf(this)) visit(A);
  }

  /**
   * Calls `visit(addr, size, free)` for every block, chunk by chunk in
   * address order: `addr` is the payload address and `size` the usable bytes.
   * The blocks are listed first, so `visit` may alloc and free.
   *
   * @throws InvalidArgumentError unless `visit` is a function.
   * @throws HeapCorruptionError on a block header that breaks the tiling.
   *
   * @example
   * ```ts
   * const heap = new TlsfHeap(new BuddyAllocator({ pages: 256 }));
   * heap.alloc(1000);
   * let used = 0;
   * heap.forEachBlock((addr, size, free) => { if (!free) used += size; });
   * used; // 1000
   * ```
   */
  forEachBlock(visit: (addr: number, size: number, free: boolean) => void): void {
    if (this.lockAt < 0) return this.forEachBlockLocked(visit);
    this.enter();
    try {
      this.forEachBlockLocked(visit);
    } finally {
      this.leave();
    }
  }

  /** @internal As forEachBlock, for a caller that holds this heap's lock (Kmalloc). */
  forEachBlockLocked(visit: (addr: number, size: number, free: boolean) => void): void {
    if (typeof visit !== 'function') throw argumentError('visit', 'a function', visit);
    const runs = runsOf(this); // syncs the memory
    const u32 = this.memory.u32;
    const found: number[] = [];
    for (let i = 0; i < runs.length; i += 2) {
      const end = runs[i + 1]!;
      for (let H = runs[i]!; H < end; ) {
        const h = u32[H >>> 2]!;
        const size = h & SIZE_MASK;
        if (size < MIN_BLOCK || H + size > end)
          throw new HeapCorruptionError(`tlsf: corrupt block header ${hex(h)} at ${hex(H)}`, H);
        found.push(H + BLOCK_HEADER_BYTES, size - BLOCK_HEADER_BYTES, h & (FREE | QUICK)); // quick-listed: free
        H += size;
      }
    }
    for (let i = 0; i < found.length; i += 3) visit(found[i]!, found[i + 1]!, found[i + 2] !== 0);
  }

  /**
   * Counters of the heap.
   *
   * @example
   * ```ts
   * const heap = new TlsfHeap(new BuddyAllocator({ pages: 256 }));
   * heap.alloc(1000);
   * const { chunks, usedBlocks } = heap.stats(); // 1 1
   * ```
   */
  stats(): TlsfStats {
    if (this.lockAt < 0) return this.statsLocked();
    this.enter();
    try {
      return this.statsLocked();
    } finally {
      this.leave();
    }
  }

  /** @internal As stats, for a caller that holds this heap's lock (Kmalloc). */
  statsLocked(): TlsfStats {
    const mem = this.memory;
    mem.syncChecked();
    const u32 = mem.u32;
    const c = this.c;
    const chunks = u32[c + T_CHUNKS]!;
    // The counters count quick-listed blocks as used (TLSF's view); to the caller they are free.
    let quick = 0;
    for (let i = 0; i < Q_LISTS; i++) quick += u32[this.q + i * Q_WORDS + 1]!;
    const usedBytes = u32[c + T_USED_BYTES]! - u32[c + T_Q_BYTES]!;
    return {
      chunks,
      footprint: chunks * this.chunkBytes,
      usedBlocks: u32[c + T_USED_BLOCKS]! - quick,
      usedBytes,
      freeBytes: chunks * this.whole - usedBytes,
      spareChunks: u32[c + T_SPARE] !== 0 ? 1 : 0,
    };
  }

  /**
   * Checks invariants T1-T4 (see the top of this file) and throws a
   * HeapCorruptionError naming the first one broken (and the address of the
   * bad word). O(blocks); attach runs it, and the tests.
   *
   * @example
   * ```ts
   * const heap = new TlsfHeap(new BuddyAllocator({ pages: 256 }));
   * heap.free(heap.alloc(1000));
   * heap.checkInvariants(); // throws a HeapCorruptionError if the heap is damaged
   * ```
   */
  checkInvariants(): void {
    if (this.lockAt < 0) return this.checkInvariantsLocked();
    this.enter();
    try {
      this.checkInvariantsLocked();
    } finally {
      this.leave();
    }
  }

  /** @internal As checkInvariants, for a caller that holds this heap's lock (Kmalloc). */
  checkInvariantsLocked(): void {
    checkHeap(this);
  }
}
