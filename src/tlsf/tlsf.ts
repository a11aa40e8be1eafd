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
 * All state lives in the buffer (see layout.ts): the control structure in a
 * region taken from the buddy, the headers inside the chunks. Views are read
 * from `memory` after `sync()` at the start of each public operation and
 * again after anything that may grow the memory (taking a chunk).
 *
 * @module
 */
import { BuddyAllocator } from '../buddy/index.js';
import {
  DoubleFreeError, HeapCorruptionError, InvalidArgumentError, InvalidFreeError, MemkitError, OutOfMemoryError,
  argumentError, checkOptions, hex,
} from '../errors/index.js';
import { HeaderSlot, Memory, readSlot, writeSlot, type ByteAllocator } from '../memory/index.js';
import { checkLayoutCopies } from '../memory/layout-copies.js';
import * as layout from './layout.js';
import {
  MAX_CHUNK_SHIFT, TLSF_MAGIC, T_BASE, T_CHUNK_PAGES, T_CHUNK_SHIFT, T_KEY, T_MAGIC, T_MAX_CHUNKS,
  controlBytes,
} from './layout.js';

// Layout constants used on hot paths, as module-local copies: V8 reads an
// imported binding through its module cell (a load and a TDZ check) on every
// use, and alloc/free are made of such reads. checkLayoutCopies() proves at
// load that every copy equals its definition in ./layout.js.
const BLOCK_HEADER_BYTES = 8;
const BH_TAG = 1;
const BH_NEXT_FREE = 2;
const BH_PREV_FREE = 3;
const FREE = 1;
const PREV_FREE = 2;
const FLAGS = 3;
const SIZE_MASK = -8;
const MIN_BLOCK = 16;
const SENTINEL_BYTES = 8;
const SL_BITS = 5;
const SL_COUNT = 32;
const SB_SHIFT = 8;
const SB_SIZE = 256;
const FL_COUNT = 23;
const T_FL_MAP = 2;
const T_CHUNKS = 4;
const T_SPARE = 5;
const T_USED_BLOCKS = 6;
const T_USED_BYTES = 7;
const T_SL_MAPS = 16;
const T_HEADS = 40;
const T_CHUNK_MAP = 776;
checkLayoutCopies(layout, {
  BLOCK_HEADER_BYTES, BH_TAG, BH_NEXT_FREE, BH_PREV_FREE, FREE, PREV_FREE, FLAGS, SIZE_MASK,
  MIN_BLOCK, SENTINEL_BYTES, SL_BITS, SL_COUNT, SB_SHIFT, SB_SIZE, FL_COUNT, T_FL_MAP, T_CHUNKS,
  T_SPARE, T_USED_BLOCKS, T_USED_BYTES, T_SL_MAPS, T_HEADS, T_CHUNK_MAP,
});

/** Options of {@link TlsfHeap}. */
export interface TlsfOptions {
  /** Buddy pages per chunk, a power of two (default 64: 256 KiB with 4 KiB pages). */
  chunkPages?: number;
  /**
   * Called after a chunk is added (`added` true) or given back to the buddy
   * (false). Kmalloc marks the chunk's pages in its page table here, so that
   * kfree(addr) of any address inside routes to this heap.
   */
  onChunk?: (addr: number, pages: number, added: boolean) => void;
}

/** Options of {@link TlsfHeap.attach}. */
export interface TlsfAttachOptions {
  /** Byte offset of the control structure ({@link TlsfHeap.region}); default: the first TLSF heap made in the Memory. */
  at?: number;
  /** As {@link TlsfOptions.onChunk} (a function is not stored in the buffer). */
  onChunk?: (addr: number, pages: number, added: boolean) => void;
}

/**
 * The resolved state of a heap: where its control structure is and what it
 * says. `new TlsfHeap(buddy, options)` computes it by checking the options
 * and writing a fresh control structure; `TlsfHeap.attach` by reading and
 * checking one already in the buffer. Both hand it to the one constructor.
 *
 * @internal
 */
export class TlsfState {
  constructor(
    readonly buddy: BuddyAllocator,
    readonly memory: Memory,
    readonly region: number,
    readonly chunkPages: number,
    readonly chunkShift: number,
    readonly maxChunks: number,
    readonly key: number,
    readonly onChunk: ((addr: number, pages: number, added: boolean) => void) | null,
  ) {}
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

/** How many blocks allocSlow looks at on the exact list before taking a new chunk. */
const SLOW_SCAN = 8;

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

  private readonly c: number; // u32 index of the control structure
  private readonly base: number;
  private readonly chunkShift: number;
  private readonly chunkMask: number; // chunkBytes - 1
  private readonly maxChunks: number;
  /** Size of the one free block of an empty chunk. */
  private readonly whole: number;
  /** Odd multiplier keying the prevSize tags (see layout.ts). */
  private readonly key: number;
  private readonly onChunk: ((addr: number, pages: number, added: boolean) => void) | null;

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
    const chunkBytes = 2 ** s.chunkShift;
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
    this.maxSize = this.whole - BLOCK_HEADER_BYTES;
    this.key = s.key | 0;
    this.onChunk = s.onChunk;
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
  static attach(where: Memory | BuddyAllocator, b?: TlsfAttachOptions | number, c?: Pick<TlsfOptions, 'onChunk'>): TlsfHeap {
    let buddy: BuddyAllocator;
    let region: number;
    let onChunk: unknown;
    if (where instanceof BuddyAllocator) {
      if (typeof b !== 'number' || (b >>> 0) !== b) throw argumentError('region', 'an address (a whole number in [0, 2^32))', b);
      buddy = where;
      region = b;
      onChunk = c?.onChunk;
    } else {
      if (!(where instanceof Memory)) throw argumentError('memory', 'a Memory', where);
      const o = checkOptions(b as TlsfAttachOptions | undefined, 'options', ['at', 'onChunk']);
      if (o.at !== undefined && (typeof o.at !== 'number' || (o.at >>> 0) !== o.at)) throw argumentError('at', 'an address (a whole number in [0, 2^32))', o.at);
      where.sync();
      buddy = attachBuddy(where);
      region = o.at ?? readSlot(where, HeaderSlot.Tlsf);
      if (region === 0) throw new HeapCorruptionError('no TLSF heap in this Memory (header slot empty)', 16 + 4 * HeaderSlot.Tlsf);
      onChunk = o.onChunk;
    }
    if (onChunk !== undefined && typeof onChunk !== 'function') throw argumentError('onChunk', 'a function', onChunk);
    const heap = new TlsfHeap(resolveHeap(buddy, region, (onChunk as TlsfState['onChunk'] | undefined) ?? null));
    heap.checkInvariants();
    return heap;
  }

  // ------------------------------------------------------------ fast paths

  /**
   * Allocates `size` bytes, 8-byte aligned.
   *
   * @throws InvalidArgumentError unless size is a whole number in [1, maxSize].
   * @throws OutOfMemoryError when no free block fits and the buddy has no chunk.
   */
  alloc(size: number): number {
    return this.allocate(size, true);
  }

  /**
   * As {@link alloc}, but returns 0 instead of throwing OutOfMemoryError (so
   * a caller can fall back to another allocator without a try/catch).
   *
   * @throws InvalidArgumentError unless size is a whole number in [1, maxSize].
   */
  tryAlloc(size: number): number {
    return this.allocate(size, false);
  }

  private allocate(size: number, orThrow: boolean): number {
    if (typeof size !== 'number' || !(size >= 1 && size <= this.maxSize) || (size | 0) !== size) return this.badSize(size);
    const mem = this.memory;
    mem.sync();
    const u32 = mem.u32;
    const c = this.c;
    const s = (size + 15) & SIZE_MASK; // payload rounded to 8, plus the header
    // mapping_search: the first list whose every block holds s bytes.
    let fl = 0;
    let sl = s >>> 3;
    if (s >= SB_SIZE) {
      const r = s + (1 << (31 - Math.clz32(s) - SL_BITS)) - 1;
      const t = 31 - Math.clz32(r);
      sl = (r >>> (t - SL_BITS)) ^ SL_COUNT;
      fl = t - SB_SHIFT + 1;
      if (fl >= FL_COUNT) return this.allocSlow(size, s, orThrow);
    }
    let m = u32[c + T_SL_MAPS + fl]! & (-1 << sl);
    if (m === 0) {
      const f = u32[c + T_FL_MAP]! & (-2 << fl);
      if (f === 0) return this.allocSlow(size, s, orThrow);
      fl = 31 - Math.clz32(f & -f);
      m = u32[c + T_SL_MAPS + fl]!;
    }
    sl = 31 - Math.clz32(m & -m);
    // The list's head H (b bytes) serves the request from its tail end: H
    // stays a free block of b - s bytes, on the same list when that still
    // maps there (no list operation at all), and the used block U follows it.
    const hi = c + T_HEADS + (fl << SL_BITS) + sl;
    const H = u32[hi]!;
    const h = H >>> 2;
    const b = u32[h]! & SIZE_MASK;
    if (b === this.whole) u32[c + T_SPARE] = 0;
    const rest = b - s;
    const X = H + b;
    u32[c + T_USED_BLOCKS] = u32[c + T_USED_BLOCKS]! + 1;
    if (rest < MIN_BLOCK) {
      // Take H whole: pop it (the new head's prev link may go stale, see unlink).
      const next = u32[h + BH_NEXT_FREE]!;
      u32[hi] = next;
      if (next === 0) this.clearBits(u32, fl, sl);
      u32[h] = b;
      u32[X >>> 2] = u32[X >>> 2]! & ~PREV_FREE;
      u32[c + T_USED_BYTES] = u32[c + T_USED_BYTES]! + b;
      return H + BLOCK_HEADER_BYTES;
    }
    u32[h] = rest | FREE;
    let fl2 = 0;
    let sl2 = rest >>> 3;
    if (rest >= SB_SIZE) {
      const t = 31 - Math.clz32(rest);
      sl2 = (rest >>> (t - SL_BITS)) ^ SL_COUNT;
      fl2 = t - SB_SHIFT + 1;
    }
    if (fl2 !== fl || sl2 !== sl) {
      const next = u32[h + BH_NEXT_FREE]!;
      u32[hi] = next;
      if (next === 0) this.clearBits(u32, fl, sl);
      this.push(u32, H, fl2, sl2);
    }
    const U = H + rest;
    const key = this.key;
    u32[U >>> 2] = s | PREV_FREE;
    u32[(U >>> 2) + BH_TAG] = rest ^ Math.imul(U, key);
    u32[X >>> 2] = u32[X >>> 2]! & ~PREV_FREE;
    u32[(X >>> 2) + BH_TAG] = s ^ Math.imul(X, key);
    u32[c + T_USED_BYTES] = u32[c + T_USED_BYTES]! + s;
    return U + BLOCK_HEADER_BYTES;
  }

  /**
   * Frees a block from alloc/realloc, merging it with free neighbours.
   *
   * @throws InvalidFreeError if `addr` is not a used block's start; DoubleFreeError
   * if it is already free. The heap is unchanged then.
   */
  free(addr: number): void {
    const mem = this.memory;
    mem.sync();
    const u32 = mem.u32;
    let H = this.headerOf(u32, addr);
    if (H < 0) return this.badFree(addr, 'free');
    const c = this.c;
    const h = u32[H >>> 2]!;
    let size = h & SIZE_MASK;
    u32[c + T_USED_BLOCKS] = u32[c + T_USED_BLOCKS]! - 1;
    u32[c + T_USED_BYTES] = u32[c + T_USED_BYTES]! - size;
    // Merge with the right neighbour (never the sentinel: it is used).
    const rh = u32[(H + size) >>> 2]!;
    if ((rh & FREE) !== 0) {
      const rs = rh & SIZE_MASK;
      this.unlink(u32, H + size, rs);
      size += rs;
    }
    // Merge with the left neighbour, found by the prevSize boundary tag.
    if ((h & PREV_FREE) !== 0) {
      const p = u32[(H >>> 2) + BH_TAG]! ^ Math.imul(H, this.key);
      // The absorbed header keeps FREE, so a second free(addr) is told a double free.
      u32[H >>> 2] = h | FREE;
      H -= p;
      this.unlink(u32, H, p);
      size += p;
    }
    u32[H >>> 2] = size | FREE;
    const X = H + size;
    u32[X >>> 2] = u32[X >>> 2]! | PREV_FREE;
    u32[(X >>> 2) + BH_TAG] = size ^ Math.imul(X, this.key);
    if (size === this.whole) {
      // The chunk is empty: keep one spare, give any other back.
      if (u32[c + T_SPARE] !== 0) return this.releaseChunk(H);
      u32[c + T_SPARE] = H;
    }
    this.link(u32, H, size);
  }

  /**
   * Resizes a block: in place when the new size fits (the tail is freed) or
   * when the free block right of it has room; else moves it (content kept
   * up to the smaller size). On OutOfMemoryError the old block is untouched.
   *
   * @throws InvalidFreeError / DoubleFreeError for a bad address;
   * InvalidArgumentError for a bad size; the heap is unchanged then.
   */
  realloc(addr: number, size: number): number {
    const mem = this.memory;
    mem.sync();
    const u32 = mem.u32;
    const H = this.headerOf(u32, addr);
    if (H < 0) return this.badFree(addr, 'realloc');
    if (typeof size !== 'number' || !(size >= 1 && size <= this.maxSize) || (size | 0) !== size) return this.badSize(size);
    const c = this.c;
    const s = (size + 15) & SIZE_MASK;
    const h = u32[H >>> 2]!;
    const cur = h & SIZE_MASK;
    if (s <= cur) {
      const rest = cur - s;
      if (rest >= MIN_BLOCK) {
        u32[H >>> 2] = s | (h & PREV_FREE);
        u32[c + T_USED_BYTES] = u32[c + T_USED_BYTES]! - rest;
        this.freeTail(u32, H + s, rest, s);
      }
      return addr;
    }
    const R = H + cur;
    const rh = u32[R >>> 2]!;
    if ((rh & FREE) !== 0 && cur + (rh & SIZE_MASK) >= s) {
      const rs = rh & SIZE_MASK;
      this.unlink(u32, R, rs);
      const total = cur + rs;
      const rest = total - s;
      if (rest >= MIN_BLOCK) {
        u32[H >>> 2] = s | (h & PREV_FREE);
        this.splitFree(u32, H + s, rest, s);
        u32[c + T_USED_BYTES] = u32[c + T_USED_BYTES]! + (s - cur);
      } else {
        u32[H >>> 2] = total | (h & PREV_FREE);
        const X = H + total;
        u32[X >>> 2] = u32[X >>> 2]! & ~PREV_FREE;
        u32[(X >>> 2) + BH_TAG] = total ^ Math.imul(X, this.key);
        u32[c + T_USED_BYTES] = u32[c + T_USED_BYTES]! + rs;
      }
      return addr;
    }
    const fresh = this.alloc(size);
    const u8 = this.memory.u8;
    u8.copyWithin(fresh, addr, addr + cur - BLOCK_HEADER_BYTES);
    this.free(addr);
    return fresh;
  }

  /**
   * Bytes usable at `addr`: the block's size minus its header (at least what
   * was asked, at most 16 bytes more).
   *
   * @throws InvalidFreeError if `addr` is not a used block's start.
   */
  usableSize(addr: number): number {
    const mem = this.memory;
    mem.sync();
    const u32 = mem.u32;
    const H = this.headerOf(u32, addr);
    if (H < 0) return this.badFree(addr, 'usableSize');
    return (u32[H >>> 2]! & SIZE_MASK) - BLOCK_HEADER_BYTES;
  }

  /**
   * True when `addr` is the start of a used block.
   *
   * @throws InvalidArgumentError unless `addr` is a whole number in [0, 2^32).
   */
  isAllocated(addr: number): boolean {
    if (typeof addr !== 'number' || (addr >>> 0) !== addr) throw argumentError('addr', 'an address (a whole number in [0, 2^32))', addr);
    const mem = this.memory;
    mem.sync();
    return this.headerOf(mem.u32, addr) >= 0;
  }

  /** Bytes of the chunks held from the buddy now (the control region not included). */
  footprint(): number {
    this.memory.sync();
    return this.memory.u32[this.c + T_CHUNKS]! * this.chunkBytes;
  }

  /** The byte view of the heap's memory. */
  get bytes(): Uint8Array {
    this.memory.sync();
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
    if (a !== addr || (a & 7) !== 0 || off < BLOCK_HEADER_BYTES) return -1;
    const slot = off >>> this.chunkShift;
    if (slot >= this.maxChunks || (u32[this.c + T_CHUNK_MAP + (slot >>> 5)]! & (1 << (slot & 31))) === 0) return -1;
    const rel = (off & this.chunkMask) - BLOCK_HEADER_BYTES; // H's offset in its chunk
    const H = a - BLOCK_HEADER_BYTES;
    const h = u32[H >>> 2]!;
    const size = h & SIZE_MASK;
    if ((h & ~(SIZE_MASK | PREV_FREE)) !== 0 || rel < 0 || size < MIN_BLOCK || rel + size > this.whole) return -1;
    const R = H + size;
    if ((u32[(R >>> 2) + BH_TAG]! ^ Math.imul(R, this.key)) !== size) return -1;
    return H;
  }

  /**
   * Serves s bytes from free block H (still on its list) as alloc's fast
   * path does: from its tail end, H keeping the rest when it is at least
   * MIN_BLOCK. Returns the payload address.
   */
  private carve(u32: Uint32Array, H: number, s: number): number {
    const c = this.c;
    const b = u32[H >>> 2]! & SIZE_MASK;
    if (b === this.whole) u32[c + T_SPARE] = 0;
    this.unlink(u32, H, b);
    const rest = b - s;
    const X = H + b;
    u32[c + T_USED_BLOCKS] = u32[c + T_USED_BLOCKS]! + 1;
    if (rest < MIN_BLOCK) {
      // A free block's left neighbour is used: H's PREV_FREE stays 0.
      u32[H >>> 2] = b;
      u32[X >>> 2] = u32[X >>> 2]! & ~PREV_FREE;
      u32[c + T_USED_BYTES] = u32[c + T_USED_BYTES]! + b;
      return H + BLOCK_HEADER_BYTES;
    }
    u32[H >>> 2] = rest | FREE;
    this.link(u32, H, rest);
    const U = H + rest;
    u32[U >>> 2] = s | PREV_FREE;
    u32[(U >>> 2) + BH_TAG] = rest ^ Math.imul(U, this.key);
    u32[X >>> 2] = u32[X >>> 2]! & ~PREV_FREE;
    u32[(X >>> 2) + BH_TAG] = s ^ Math.imul(X, this.key);
    u32[c + T_USED_BYTES] = u32[c + T_USED_BYTES]! + s;
    return U + BLOCK_HEADER_BYTES;
  }

  /**
   * Makes [N, N + size) a free block (its left neighbour, of leftSize bytes,
   * is used; its right one is used too) and lists it.
   */
  private splitFree(u32: Uint32Array, N: number, size: number, leftSize: number): void {
    const key = this.key;
    const n = N >>> 2;
    u32[n] = size | FREE;
    u32[n + BH_TAG] = leftSize ^ Math.imul(N, key);
    const X = N + size;
    u32[X >>> 2] = u32[X >>> 2]! | PREV_FREE;
    u32[(X >>> 2) + BH_TAG] = size ^ Math.imul(X, key);
    this.link(u32, N, size);
  }

  /** Frees the tail [N, N + size) cut off a used block, merging it with a free right neighbour. */
  private freeTail(u32: Uint32Array, N: number, size: number, leftSize: number): void {
    const rh = u32[(N + size) >>> 2]!;
    if ((rh & FREE) !== 0) {
      const rs = rh & SIZE_MASK;
      this.unlink(u32, N + size, rs);
      size += rs;
    }
    this.splitFree(u32, N, size, leftSize);
  }

  /** mapping_insert + push on the list's front. */
  private link(u32: Uint32Array, H: number, size: number): void {
    let fl = 0;
    let sl = size >>> 3;
    if (size >= SB_SIZE) {
      const t = 31 - Math.clz32(size);
      sl = (size >>> (t - SL_BITS)) ^ SL_COUNT;
      fl = t - SB_SHIFT + 1;
    }
    this.push(u32, H, fl, sl);
  }

  /**
   * Pushes free block H on list (fl, sl). A list's head has no valid prev
   * link (popping the head does not touch the next block, one cache miss
   * saved); every other member's prev link is exact, so it is set here on
   * the old head.
   */
  private push(u32: Uint32Array, H: number, fl: number, sl: number): void {
    const c = this.c;
    const hi = c + T_HEADS + (fl << SL_BITS) + sl;
    const head = u32[hi]!;
    u32[(H >>> 2) + BH_NEXT_FREE] = head;
    if (head !== 0) u32[(head >>> 2) + BH_PREV_FREE] = H;
    u32[hi] = H;
    u32[c + T_FL_MAP] = u32[c + T_FL_MAP]! | (1 << fl);
    u32[c + T_SL_MAPS + fl] = u32[c + T_SL_MAPS + fl]! | (1 << sl);
  }

  /** Clears list (fl, sl)'s bit, and fl's when its second level is empty now. */
  private clearBits(u32: Uint32Array, fl: number, sl: number): void {
    const c = this.c;
    const sm = u32[c + T_SL_MAPS + fl]! & ~(1 << sl);
    u32[c + T_SL_MAPS + fl] = sm;
    if (sm === 0) u32[c + T_FL_MAP] = u32[c + T_FL_MAP]! & ~(1 << fl);
  }

  /** Takes free block H of the given size off its list (the head is known by the heads table, not by its prev link). */
  private unlink(u32: Uint32Array, H: number, size: number): void {
    const c = this.c;
    let fl = 0;
    let sl = size >>> 3;
    if (size >= SB_SIZE) {
      const t = 31 - Math.clz32(size);
      sl = (size >>> (t - SL_BITS)) ^ SL_COUNT;
      fl = t - SB_SHIFT + 1;
    }
    const h = H >>> 2;
    const next = u32[h + BH_NEXT_FREE]!;
    const hi = c + T_HEADS + (fl << SL_BITS) + sl;
    if (u32[hi] === H) {
      u32[hi] = next;
      if (next === 0) this.clearBits(u32, fl, sl);
      return;
    }
    const prev = u32[h + BH_PREV_FREE]!;
    u32[(prev >>> 2) + BH_NEXT_FREE] = next;
    if (next !== 0) u32[(next >>> 2) + BH_PREV_FREE] = prev;
  }

  // ------------------------------------------------------------ slow paths

  /**
   * No list at or above the rounded size has a block: use the spare chunk,
   * or a block of the exact list that happens to fit (mapping_search skips
   * that list), or a new chunk from the buddy.
   */
  private allocSlow(size: number, s: number, orThrow: boolean): number {
    let u32 = this.memory.u32;
    const c = this.c;
    let H = u32[c + T_SPARE]!;
    if (H === 0) H = this.scanExact(u32, s);
    if (H === 0) {
      H = this.addChunk(size, orThrow);
      if (H === 0) return 0;
      u32 = this.memory.u32;
    }
    return this.carve(u32, H, s);
  }

  /** A block of at least s bytes among the first SLOW_SCAN of list mapping_insert(s), or 0. */
  private scanExact(u32: Uint32Array, s: number): number {
    let fl = 0;
    let sl = s >>> 3;
    if (s >= SB_SIZE) {
      const t = 31 - Math.clz32(s);
      sl = (s >>> (t - SL_BITS)) ^ SL_COUNT;
      fl = t - SB_SHIFT + 1;
    }
    let H = u32[this.c + T_HEADS + (fl << SL_BITS) + sl]!;
    for (let i = 0; H !== 0 && i < SLOW_SCAN; i++) {
      if ((u32[H >>> 2]! & SIZE_MASK) >= s) return H;
      H = u32[(H >>> 2) + BH_NEXT_FREE]!;
    }
    return 0;
  }

  /** Takes a chunk from the buddy, makes it one free block (listed, the spare), returns it (0: none and !orThrow). */
  private addChunk(size: number, orThrow: boolean): number {
    let A: number;
    try {
      A = this.buddy.allocPages(this.chunkPages);
    } catch (e) {
      if (!(e instanceof OutOfMemoryError)) throw e;
      if (!orThrow) return 0;
      throw new OutOfMemoryError(`tlsf: no chunk of ${this.chunkPages} pages left in the buddy for ${size} bytes`, size);
    }
    const mem = this.memory;
    mem.sync();
    if (A + this.chunkBytes > mem.buffer.byteLength) {
      this.buddy.free(A);
      throw new HeapCorruptionError(`tlsf: the buddy gave a chunk at ${hex(A)} past the end of the buffer (${mem.buffer.byteLength} bytes)`, A);
    }
    const u32 = mem.u32;
    const c = this.c;
    const slot = (A - this.base) / this.chunkBytes;
    u32[c + T_CHUNK_MAP + (slot >>> 5)] = u32[c + T_CHUNK_MAP + (slot >>> 5)]! | (1 << (slot & 31));
    u32[c + T_CHUNKS] = u32[c + T_CHUNKS]! + 1;
    const whole = this.whole;
    u32[A >>> 2] = whole | FREE;
    u32[(A >>> 2) + BH_TAG] = 0 ^ Math.imul(A, this.key);
    u32[(A + whole) >>> 2] = PREV_FREE; // the sentinel: size 0, used
    u32[((A + whole) >>> 2) + BH_TAG] = whole ^ Math.imul(A + whole, this.key);
    u32[c + T_SPARE] = A;
    this.link(u32, A, whole);
    if (this.onChunk !== null) this.onChunk(A, this.chunkPages, true);
    return A;
  }

  /** Gives the empty chunk at A (its one free block is off the lists) back to the buddy. */
  private releaseChunk(A: number): void {
    const u32 = this.memory.u32;
    const c = this.c;
    const slot = (A - this.base) / this.chunkBytes;
    u32[c + T_CHUNK_MAP + (slot >>> 5)] = u32[c + T_CHUNK_MAP + (slot >>> 5)]! & ~(1 << (slot & 31));
    u32[c + T_CHUNKS] = u32[c + T_CHUNKS]! - 1;
    this.buddy.free(A);
    if (this.onChunk !== null) this.onChunk(A, this.chunkPages, false);
  }

  /**
   * Gives the spare (wholly free) chunk back to the buddy. free() keeps at
   * most one; this drops it too. Returns the pages given back.
   */
  shrink(): number {
    const mem = this.memory;
    mem.sync();
    const u32 = mem.u32;
    const A = u32[this.c + T_SPARE]!;
    if (A === 0) return 0;
    this.unlink(u32, A, this.whole);
    u32[this.c + T_SPARE] = 0;
    this.releaseChunk(A);
    return this.chunkPages;
  }

  private badSize(size: unknown): never {
    if (typeof size === 'number' && Number.isInteger(size) && size > this.maxSize) {
      throw new InvalidArgumentError(`tlsf: ${size} bytes is more than the largest block (${this.maxSize} bytes)`, 'size');
    }
    throw argumentError('size', `a whole number in [1, ${this.maxSize}]`, size);
  }

  /** Builds the error for an address that is not a used block's start (walks its chunk). */
  private badFree(addr: unknown, op: string): never {
    if (typeof addr !== 'number' || (addr >>> 0) !== addr) {
      throw argumentError('addr', `an address (a whole number in [0, 2^32)) for tlsf ${op}`, addr);
    }
    const what = `tlsf ${op}(${hex(addr)})`;
    const A = this.chunkOf(addr);
    if (A < 0) throw new InvalidFreeError(`${what}: not inside a chunk of this heap`, addr);
    const u32 = this.memory.u32;
    for (let H = A; H < A + this.whole;) {
      const h = u32[H >>> 2]!;
      const size = h & SIZE_MASK;
      if (size < MIN_BLOCK) break; // corrupt: let the generic message speak
      if (addr < H + size) {
        if ((h & FREE) !== 0) {
          if (addr === H + BLOCK_HEADER_BYTES) throw new DoubleFreeError(`${what}: block already free (double free)`, addr);
          // A block freed and merged into its free left neighbour keeps its
          // stale header (FREE set, a plausible size): still a double free.
          const g = u32[(addr - BLOCK_HEADER_BYTES) >>> 2]!;
          if ((addr & 7) === 0 && (g & FREE) !== 0 && (g & ~(SIZE_MASK | FLAGS)) === 0 && (g & SIZE_MASK) >= MIN_BLOCK && addr - BLOCK_HEADER_BYTES + (g & SIZE_MASK) <= H + size) {
            throw new DoubleFreeError(`${what}: block already free (double free; merged into the free block at ${hex(H + BLOCK_HEADER_BYTES)})`, addr);
          }
          throw new InvalidFreeError(`${what}: inside the free block at ${hex(H + BLOCK_HEADER_BYTES)}, not allocated`, addr);
        }
        throw new InvalidFreeError(`${what}: interior pointer into the block at ${hex(H + BLOCK_HEADER_BYTES)} (${size - BLOCK_HEADER_BYTES} bytes)`, addr);
      }
      H += size;
    }
    throw new InvalidFreeError(`${what}: not the start of a block of this heap`, addr);
  }

  /** Address of this heap's chunk that contains addr, or -1. */
  private chunkOf(addr: number): number {
    const off = addr - this.base;
    if (!(off >= 0)) return -1;
    const slot = Math.floor(off / this.chunkBytes);
    if (slot >= this.maxChunks) return -1;
    if ((this.memory.u32[this.c + T_CHUNK_MAP + (slot >>> 5)]! & (1 << (slot & 31))) === 0) return -1;
    return this.base + slot * this.chunkBytes;
  }

  // --------------------------------------------------------- introspection

  /**
   * Calls `visit(addr)` for each chunk held, in address order (the chunks
   * are listed first, so `visit` may alloc and free).
   *
   * @throws InvalidArgumentError unless `visit` is a function.
   */
  forEachChunk(visit: (addr: number) => void): void {
    if (typeof visit !== 'function') throw argumentError('visit', 'a function', visit);
    for (const A of this.chunks()) visit(A);
  }

  /** Addresses of the chunks held, in address order. */
  private chunks(): number[] {
    const mem = this.memory;
    mem.sync();
    const u32 = mem.u32;
    const out: number[] = [];
    for (let slot = 0; slot < this.maxChunks; slot++) {
      if ((u32[this.c + T_CHUNK_MAP + (slot >>> 5)]! & (1 << (slot & 31))) !== 0) out.push(this.base + slot * this.chunkBytes);
    }
    return out;
  }

  /**
   * Calls `visit(addr, size, free)` for every block, chunk by chunk in
   * address order: `addr` is the payload address and `size` the usable bytes.
   * The blocks are listed first, so `visit` may alloc and free.
   *
   * @throws InvalidArgumentError unless `visit` is a function.
   * @throws HeapCorruptionError on a block header that breaks the tiling.
   */
  forEachBlock(visit: (addr: number, size: number, free: boolean) => void): void {
    if (typeof visit !== 'function') throw argumentError('visit', 'a function', visit);
    const chunks = this.chunks(); // syncs the memory
    const u32 = this.memory.u32;
    const found: number[] = [];
    for (const A of chunks) {
      for (let H = A; H < A + this.whole;) {
        const h = u32[H >>> 2]!;
        const size = h & SIZE_MASK;
        if (size < MIN_BLOCK || H + size > A + this.whole) throw new HeapCorruptionError(`tlsf: corrupt block header ${hex(h)} at ${hex(H)}`, H);
        found.push(H + BLOCK_HEADER_BYTES, size - BLOCK_HEADER_BYTES, h & FREE);
        H += size;
      }
    }
    for (let i = 0; i < found.length; i += 3) visit(found[i]!, found[i + 1]!, found[i + 2] !== 0);
  }

  /** Counters of the heap. */
  stats(): TlsfStats {
    const mem = this.memory;
    mem.sync();
    const u32 = mem.u32;
    const c = this.c;
    const chunks = u32[c + T_CHUNKS]!;
    const usedBytes = u32[c + T_USED_BYTES]!;
    return {
      chunks,
      footprint: chunks * this.chunkBytes,
      usedBlocks: u32[c + T_USED_BLOCKS]!,
      usedBytes,
      freeBytes: chunks * this.whole - usedBytes,
      spareChunks: u32[c + T_SPARE] !== 0 ? 1 : 0,
    };
  }

  /**
   * Checks invariants T1-T4 (see the top of this file) and throws a
   * HeapCorruptionError naming the first one broken (and the address of the
   * bad word). O(blocks); attach runs it, and the tests.
   */
  checkInvariants(): void {
    const mem = this.memory;
    mem.sync();
    const u32 = mem.u32;
    const c = this.c;
    const freeBlocks = new Set<number>();
    let chunks = 0;
    let empty = 0;
    let usedBlocks = 0;
    let usedBytes = 0;
    for (const A of this.chunks()) {
      chunks++;
      let prevSize = 0;
      let prevFree = false;
      let H = A;
      while (H < A + this.whole) {
        const h = u32[H >>> 2]!;
        const size = h & SIZE_MASK;
        const free = (h & FREE) !== 0;
        if ((h & ~(SIZE_MASK | FLAGS)) !== 0 || size < MIN_BLOCK) throw new HeapCorruptionError(`T1: bad header ${hex(h)} at ${hex(H)}`, H);
        const p = u32[(H >>> 2) + BH_TAG]! ^ Math.imul(H, this.key);
        if (p !== prevSize) throw new HeapCorruptionError(`T1: block at ${hex(H)} has prevSize ${p}, left block is ${prevSize}`, H + 4);
        if (((h & PREV_FREE) !== 0) !== prevFree) throw new HeapCorruptionError(`T1: PREV_FREE of ${hex(H)} is wrong`, H);
        if (free && prevFree) throw new HeapCorruptionError(`T2: free blocks at ${hex(H - prevSize)} and ${hex(H)} are adjacent`, H);
        if (free) {
          freeBlocks.add(H);
          if (size === this.whole) empty++;
        } else {
          usedBlocks++;
          usedBytes += size;
        }
        prevSize = size;
        prevFree = free;
        H += size;
      }
      if (H !== A + this.whole) throw new HeapCorruptionError(`T1: blocks of chunk ${hex(A)} overrun its sentinel`, A);
      if (u32[H >>> 2] !== (prevFree ? PREV_FREE : 0) || (u32[(H >>> 2) + BH_TAG]! ^ Math.imul(H, this.key)) !== prevSize) {
        throw new HeapCorruptionError(`T1: bad sentinel of chunk ${hex(A)}`, H);
      }
    }
    let listed = 0;
    let flMap = 0;
    for (let fl = 0; fl < FL_COUNT; fl++) {
      let slMap = 0;
      for (let sl = 0; sl < SL_COUNT; sl++) {
        let prev = 0;
        let n = 0;
        for (let H = u32[c + T_HEADS + (fl << SL_BITS) + sl]!; H !== 0; H = u32[(H >>> 2) + BH_NEXT_FREE]!) {
          if (!freeBlocks.has(H)) throw new HeapCorruptionError(`T3: ${hex(H)} on list (${fl}, ${sl}) is not a free block`, H);
          if (prev !== 0 && u32[(H >>> 2) + BH_PREV_FREE] !== prev) throw new HeapCorruptionError(`T3: bad prev link at ${hex(H)}`, H + 12);
          const [f, s] = mapping(u32[H >>> 2]! & SIZE_MASK);
          if (f !== fl || s !== sl) throw new HeapCorruptionError(`T3: block ${hex(H)} of ${u32[H >>> 2]! & SIZE_MASK} bytes on list (${fl}, ${sl}), belongs on (${f}, ${s})`, H);
          if (++n > freeBlocks.size) throw new HeapCorruptionError(`T3: cycle in list (${fl}, ${sl})`, (c + T_HEADS + (fl << SL_BITS) + sl) * 4);
          prev = H;
        }
        listed += n;
        if (n > 0) slMap |= 1 << sl;
      }
      if (u32[c + T_SL_MAPS + fl] !== slMap >>> 0) throw new HeapCorruptionError(`T3: slMaps[${fl}] is ${hex(u32[c + T_SL_MAPS + fl]!)}, lists say ${hex(slMap)}`, (c + T_SL_MAPS + fl) * 4);
      if (slMap !== 0) flMap |= 1 << fl;
    }
    if (u32[c + T_FL_MAP] !== flMap >>> 0) throw new HeapCorruptionError(`T3: flMap is ${hex(u32[c + T_FL_MAP]!)}, slMaps say ${hex(flMap)}`, (c + T_FL_MAP) * 4);
    if (listed !== freeBlocks.size) throw new HeapCorruptionError(`T3: ${freeBlocks.size} free blocks, ${listed} listed`, (c + T_HEADS) * 4);
    const spare = u32[c + T_SPARE]!;
    if (empty > 1 || (empty === 1) !== (spare !== 0) || (spare !== 0 && (!freeBlocks.has(spare) || (u32[spare >>> 2]! & SIZE_MASK) !== this.whole))) {
      throw new HeapCorruptionError(`T4: ${empty} empty chunks, spare ${hex(spare)}`, (c + T_SPARE) * 4);
    }
    if (chunks !== u32[c + T_CHUNKS]) throw new HeapCorruptionError(`T4: ${chunks} chunks mapped, counter ${u32[c + T_CHUNKS]}`, (c + T_CHUNKS) * 4);
    if (usedBlocks !== u32[c + T_USED_BLOCKS] || usedBytes !== u32[c + T_USED_BYTES]) {
      throw new HeapCorruptionError(`T4: ${usedBlocks} used blocks / ${usedBytes} bytes, counters ${u32[c + T_USED_BLOCKS]} / ${u32[c + T_USED_BYTES]}`, (c + T_USED_BLOCKS) * 4);
    }
  }
}

// --------------------------------------------------- construction and fsck

const OPTION_NAMES = ['chunkPages', 'onChunk'] as const;

/**
 * `new TlsfHeap(buddy, options)`: checks every argument, then (and only
 * then) takes the control region from the buddy and writes it.
 */
function createHeap(buddy: unknown, options: unknown): TlsfState {
  if (!(buddy instanceof BuddyAllocator)) throw argumentError('buddy', 'a BuddyAllocator', buddy);
  const memory = buddy.memory;
  if (memory === null) throw new InvalidArgumentError('TlsfHeap needs bytes: the buddy allocator is offsets-only', 'buddy');
  const o = checkOptions(options as TlsfOptions | undefined, 'options', OPTION_NAMES);
  const chunkPages = o.chunkPages === undefined ? 64 : o.chunkPages;
  if (!validChunk(buddy, chunkPages)) {
    throw argumentError('chunkPages', `a power of two with 64 B <= chunk <= 1 GiB and at most 2^${buddy.maxOrder} pages`, o.chunkPages);
  }
  if (o.onChunk !== undefined && typeof o.onChunk !== 'function') throw argumentError('onChunk', 'a function', o.onChunk);
  const chunkBytes = chunkPages * buddy.pageSize;
  const chunkShift = 31 - Math.clz32(chunkBytes);
  const maxChunks = Math.ceil((buddy.maxPages * buddy.pageSize) / chunkBytes);
  const bytes = controlBytes(maxChunks);
  // Every argument is good: act.
  const region = buddy.allocPagesExact(Math.ceil(bytes / buddy.pageSize));
  memory.sync();
  const u32 = memory.u32;
  const c = region >>> 2;
  u32.fill(0, c, c + (bytes >>> 2));
  u32[c + T_MAGIC] = TLSF_MAGIC;
  u32[c + T_CHUNK_SHIFT] = chunkShift;
  u32[c + T_BASE] = buddy.base;
  u32[c + T_MAX_CHUNKS] = maxChunks;
  u32[c + T_CHUNK_PAGES] = chunkPages;
  const key = (Math.floor(Math.random() * 2 ** 32) | 1) >>> 0;
  u32[c + T_KEY] = key;
  if (readSlot(memory, HeaderSlot.Tlsf) === 0) writeSlot(memory, HeaderSlot.Tlsf, region);
  return new TlsfState(buddy, memory, region, chunkPages, chunkShift, maxChunks, key, o.onChunk ?? null);
}

function validChunk(buddy: BuddyAllocator, chunkPages: unknown): chunkPages is number {
  if (typeof chunkPages !== 'number' || !Number.isInteger(chunkPages) || chunkPages < 1 || chunkPages > 2 ** 30) return false;
  const chunkBytes = chunkPages * buddy.pageSize;
  return (chunkPages & (chunkPages - 1)) === 0 && chunkPages <= 2 ** buddy.maxOrder && chunkBytes >= 64 && chunkBytes <= 2 ** MAX_CHUNK_SHIFT;
}

/**
 * The buddy allocator of `memory`, for attach: "no buddy here" is, for this
 * layer, "no TLSF heap here", so it is a HeapCorruptionError (with the address of
 * the buddy's header slot) whatever the buddy layer throws for it.
 */
function attachBuddy(memory: Memory): BuddyAllocator {
  try {
    return BuddyAllocator.attach(memory);
  } catch (e) {
    if (e instanceof HeapCorruptionError || !(e instanceof MemkitError)) throw e;
    throw new HeapCorruptionError(`no TLSF heap in this Memory: ${e.message}`, 16 + 4 * HeaderSlot.Buddy);
  }
}

function corrupt(message: string, addr: number): never {
  throw new HeapCorruptionError(`tlsf: ${message}`, addr);
}

/**
 * attach: reads the control structure at `region` and checks every word of
 * it against the buffer and the buddy (magic, base, chunk geometry, the
 * chunk map's bits: each an allocated buddy block of one chunk inside the
 * buffer). The blocks and lists are checked after, by checkInvariants.
 */
function resolveHeap(buddy: BuddyAllocator, region: number, onChunk: TlsfState['onChunk']): TlsfState {
  const memory = buddy.memory;
  if (memory === null) throw new InvalidArgumentError('TlsfHeap needs bytes: the buddy allocator is offsets-only', 'buddy');
  memory.sync();
  const bytes = memory.buffer.byteLength;
  const u32 = memory.u32;
  const c = region >>> 2;
  const at = (word: number): number => region + 4 * word;
  if (region < buddy.base || (region - buddy.base) % buddy.pageSize !== 0 || region + T_CHUNK_MAP * 4 > bytes) {
    corrupt(`no TLSF heap at ${hex(region)} (not a page of the buddy with room for a control structure in the ${bytes}-byte buffer)`, region);
  }
  if (u32[c + T_MAGIC] !== TLSF_MAGIC) corrupt(`no TLSF heap at ${hex(region)} (magic TLSF missing)`, at(T_MAGIC));
  if (u32[c + T_BASE] !== buddy.base) corrupt(`control word base is ${hex(u32[c + T_BASE]!)}, the buddy's base is ${hex(buddy.base)}`, at(T_BASE));
  const chunkPages = u32[c + T_CHUNK_PAGES]!;
  if (!validChunk(buddy, chunkPages)) corrupt(`control word chunkPages is ${chunkPages}`, at(T_CHUNK_PAGES));
  const chunkBytes = chunkPages * buddy.pageSize;
  const chunkShift = u32[c + T_CHUNK_SHIFT]!;
  if (2 ** chunkShift !== chunkBytes) corrupt(`control word chunkShift is ${chunkShift}, chunks are ${chunkBytes} bytes`, at(T_CHUNK_SHIFT));
  const maxChunks = u32[c + T_MAX_CHUNKS]!;
  if (maxChunks !== Math.ceil((buddy.maxPages * buddy.pageSize) / chunkBytes)) corrupt(`control word maxChunks is ${maxChunks}`, at(T_MAX_CHUNKS));
  if (region + controlBytes(maxChunks) > bytes) corrupt(`control structure at ${hex(region)} runs past the end of the ${bytes}-byte buffer (truncated?)`, region);
  const key = u32[c + T_KEY]!;
  if ((key & 1) === 0) corrupt(`control word key ${hex(key)} is even`, at(T_KEY));
  const words = (maxChunks + 31) >>> 5;
  let chunks = 0;
  for (let w = 0; w < words; w++) {
    const bits = u32[c + T_CHUNK_MAP + w]!;
    for (let b = 0; b < 32; b++) {
      if ((bits & (1 << b)) === 0) continue;
      const slot = w * 32 + b;
      const A = buddy.base + slot * chunkBytes;
      let owned = slot < maxChunks && A + chunkBytes <= bytes;
      if (owned) {
        try {
          owned = buddy.isAllocated(A) && buddy.blockPages(A) === chunkPages;
        } catch {
          owned = false;
        }
      }
      if (!owned) corrupt(`chunk map bit ${slot} names ${hex(A)}, not an allocated ${chunkBytes}-byte buddy block inside the buffer`, at(T_CHUNK_MAP + w));
      chunks++;
    }
  }
  if (u32[c + T_CHUNKS] !== chunks) corrupt(`control word chunks is ${u32[c + T_CHUNKS]!}, the chunk map has ${chunks}`, at(T_CHUNKS));
  const spare = u32[c + T_SPARE]!;
  if (spare !== 0 && (spare < buddy.base || (spare - buddy.base) % chunkBytes !== 0 || spare + chunkBytes > bytes)) {
    corrupt(`control word spare is ${hex(spare)}, not a chunk`, at(T_SPARE));
  }
  return new TlsfState(buddy, memory, region, chunkPages, chunkShift, maxChunks, key, onChunk);
}

/** mapping_insert as a pair (for checks and tests): the list a free block of `size` bytes is on. */
export function mapping(size: number): [fl: number, sl: number] {
  if (size < SB_SIZE) return [0, size >>> 3];
  const t = 31 - Math.clz32(size);
  return [t - SB_SHIFT + 1, (size >>> (t - SL_BITS)) ^ SL_COUNT];
}
