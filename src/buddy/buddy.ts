/**
 * The buddy page allocator (lecture: "Buddy Algorithm"; kernel: mm/page_alloc.c).
 *
 * Memory is a run of `pages` pages. A block is 2^k pages (k = its order),
 * aligned to its own size relative to page 0 (`base`). Its buddy is the other
 * half of the block of order k+1 it was split from: page index `p ^ (1 << k)`.
 *
 *   allocPages(n):  k = ceil(log2 n); take the first free block of the
 *                   smallest order j >= k; while j > k: split it, keep the
 *                   lower half, put the upper half on free list j-1 (expand).
 *   free(addr):     while the buddy is a free block of the same order, take
 *                   it off its list and merge (coalesce); put the result on
 *                   its list (__free_one_page).
 *
 * Invariants (checked by `checkInvariants()` in the tests):
 *   I1  The blocks (free and allocated) tile pages [0, pages) exactly.
 *   I2  A page heads a free block of order k  <=>  it is on free list k, and
 *       count[k] is the length of list k; bit k of nonEmpty <=> list k non-empty.
 *   I3  Two free buddies of the same order never both exist (they would have
 *       merged), except when their parent would pass maxOrder or the region end.
 *   I4  freePages = sum over k of count[k] * 2^k.
 *   I5  A region whose size is not a power of two is seeded with the largest
 *       aligned blocks that fit, so I1..I4 hold from the start.
 *
 * All state lives in the buffer (see layout.ts); this object only caches
 * offsets and the views' owner, so `attach` on another worker, or on a copy
 * of the buffer, sees the same heap.
 *
 * @module
 */
import { checkLayoutCopies } from '../memory/layout-copies.js';
import {
  DoubleFreeError, InvalidArgumentError, InvalidFreeError, MemkitError, OutOfMemoryError,
  checkInteger, hex,
} from '../errors/index.js';
import { HEADER_BYTES, HeaderSlot, ensureHeader, readSlot, writeSlot } from '../memory/header.js';
import { Memory } from '../memory/memory.js';
import { stateBytes } from './layout.js';
import * as layout from './layout.js';

// Hot-path copies of the layout constants (why: src/memory/layout-copies.ts),
// proved equal to their definitions by checkLayoutCopies() below.
const BUDDY_MAGIC = 1497650498;
const B_BASE = 7;
const B_COUNTS = 48;
const B_FLAGS = 10;
const B_FREE_PAGES = 8;
const B_HEADS = 16;
const B_INFO_OFF = 12;
const B_LINKS_OFF = 11;
const B_MAGIC = 1;
const B_MAX_ORDER = 6;
const B_MAX_PAGES = 5;
const B_NON_EMPTY = 13;
const B_PAGES = 4;
const B_PAGE_SHIFT = 3;
const B_PAGE_SIZE = 2;
const B_USED_BLOCKS = 9;
const CONTROL_BYTES = 320;
const FLAG_OFFSETS_ONLY = 1;
const INFO_ALLOC = 128;
const INFO_FREE = 64;
const INFO_FREED = 32;
const INFO_ORDER_MASK = 31;
const MAX_ORDERS = 32;
const NIL = -1;
checkLayoutCopies(layout, { BUDDY_MAGIC, B_BASE, B_COUNTS, B_FLAGS, B_FREE_PAGES, B_HEADS, B_INFO_OFF, B_LINKS_OFF, B_MAGIC, B_MAX_ORDER, B_MAX_PAGES, B_NON_EMPTY, B_PAGES, B_PAGE_SHIFT, B_PAGE_SIZE, B_USED_BLOCKS, CONTROL_BYTES, FLAG_OFFSETS_ONLY, INFO_ALLOC, INFO_FREE, INFO_FREED, INFO_ORDER_MASK, MAX_ORDERS, NIL });


/** Options of {@link BuddyAllocator}. */
export interface BuddyOptions {
  /** Pages managed now. Required unless `memory` is given (then: all that fit). */
  pages?: number;
  /** Bytes per page, a power of two (default 4096). */
  pageSize?: number;
  /** Lay the allocator out in this Memory (after its header) instead of a new one. */
  memory?: Memory;
  /** No bytes at all: hand out offsets into a buffer that lives elsewhere (a GPU buffer). */
  offsetsOnly?: boolean;
  /** Offset of page 0 in offsets-only mode (default 0). */
  base?: number;
  /** Largest block order (default: the largest that fits `maxPages`; at most 31). */
  maxOrder?: number;
  /** Pages `grow()` may reach (default `pages`, or what the Memory's maxByteLength allows). */
  maxPages?: number;
}

/** A snapshot of the allocator's counters. */
export interface BuddyStats {
  /** Pages managed. */
  pages: number;
  /** Bytes per page. */
  pageSize: number;
  /** Pages in free blocks. */
  freePages: number;
  /** Pages in allocated blocks. */
  usedPages: number;
  /** Allocated blocks. */
  usedBlocks: number;
  /** Free blocks (all orders). */
  freeBlocks: number;
  /** Order of the largest free block, -1 if none. */
  largestFreeOrder: number;
  /** Largest order. */
  maxOrder: number;
}

/** One block of the memory map, as {@link BuddyAllocator.forEachBlock} reports it. */
export type BlockVisitor = (addr: number, pages: number, free: boolean, order: number) => void;

/**
 * A binary buddy allocator of pages, with its state in the buffer.
 *
 * @example
 * ```ts
 * const buddy = new BuddyAllocator({ pages: 16 });
 * const a = buddy.allocPages(1);     // page 0
 * const b = buddy.allocPages(2);     // pages 2-3
 * buddy.free(a); buddy.free(b);
 * buddy.freeCounts();                // [0, 0, 0, 0, 1]: one block of 16 pages
 * ```
 */
export class BuddyAllocator {
  /** Bytes per page. */
  readonly pageSize: number;
  /** log2(pageSize). */
  readonly pageShift: number;
  /** Address of page 0. */
  readonly base: number;
  /** Largest block order. */
  readonly maxOrder: number;
  /** Pages the state region has room for. */
  readonly maxPages: number;
  /** The Memory the pages live in; `null` in offsets-only mode. */
  readonly memory: Memory | null;
  /** The Memory the state lives in (the same as `memory` unless offsets-only). */
  readonly state: Memory;

  // Cached indices into the state views (never change after construction).
  private readonly w: number; // u32 index of the control block
  private readonly links: number; // i32 index of links[0]
  private readonly info: number; // u8 index of info[0]

  /**
   * Creates a buddy allocator.
   *
   * @throws InvalidArgumentError on a bad option (the message names it).
   */
  constructor(options: BuddyOptions) {
    const pageSize = options.pageSize ?? 4096;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 2 ** 30 || (pageSize & (pageSize - 1)) !== 0) {
      throw new InvalidArgumentError(`pageSize must be a power of two in [1, 2^30], got ${String(pageSize)}`);
    }
    const shift = 31 - Math.clz32(pageSize);
    const offsetsOnly = options.offsetsOnly === true;
    if (offsetsOnly && options.memory !== undefined) {
      throw new InvalidArgumentError('offsetsOnly and memory exclude each other');
    }

    let pages: number;
    let maxPages: number;
    let state: Memory;
    let memory: Memory | null;
    let stateOff: number;
    let base: number;
    if (offsetsOnly) {
      pages = checkInteger(options.pages ?? NaN, 'pages', 1, 2 ** 31 - 1);
      maxPages = checkInteger(options.maxPages ?? pages, 'maxPages', pages, 2 ** 31 - 1);
      base = checkInteger(options.base ?? 0, 'base', 0, Number.MAX_SAFE_INTEGER);
      if (maxPages * pageSize > 2 ** 32) throw new InvalidArgumentError(`${maxPages} pages of ${pageSize} bytes exceed the 4 GiB an offsets-only space can span`);
      stateOff = HEADER_BYTES;
      state = Memory.create({ bytes: HEADER_BYTES + stateBytes(maxPages) });
      memory = null;
    } else if (options.memory !== undefined) {
      memory = options.memory;
      memory.sync();
      ensureHeader(memory);
      if (readSlot(memory, HeaderSlot.Buddy) !== 0) {
        throw new InvalidArgumentError('this Memory already holds a buddy allocator: use BuddyAllocator.attach(memory)');
      }
      stateOff = HEADER_BYTES; // the first 8-aligned byte after the header
      const room = (bytes: number): number => Math.max(0, Math.floor((bytes - stateOff) / (pageSize + 9)));
      // A wasm memory does not tell its maximum: plan for its current size
      // unless the caller passes maxPages.
      const fitMax = room(memory.wasm !== null ? memory.buffer.byteLength : memory.maxByteLength);
      maxPages = checkInteger(options.maxPages ?? Math.max(fitMax, 1), 'maxPages', 1, 2 ** 31 - 1);
      base = alignUp(stateOff + stateBytes(maxPages), pageSize);
      const fitNow = Math.floor((memory.buffer.byteLength - base) / pageSize);
      pages = checkInteger(options.pages ?? Math.min(fitNow, maxPages), 'pages', 1, maxPages);
      if (base + pages * pageSize > memory.buffer.byteLength) memory.growTo(base + pages * pageSize);
      state = memory;
    } else {
      pages = checkInteger(options.pages ?? NaN, 'pages', 1, 2 ** 31 - 1);
      maxPages = checkInteger(options.maxPages ?? pages, 'maxPages', pages, 2 ** 31 - 1);
      stateOff = HEADER_BYTES;
      base = alignUp(stateOff + stateBytes(maxPages), pageSize);
      const bytes = base + pages * pageSize;
      const maxBytes = base + maxPages * pageSize;
      if (maxBytes > 2 ** 32 - 65536) throw new InvalidArgumentError(`${maxPages} pages of ${pageSize} bytes do not fit in 4 GiB`);
      memory = Memory.create(maxBytes > bytes ? { bytes, maxBytes } : { bytes });
      state = memory;
    }
    const fitOrder = 31 - Math.clz32(maxPages);
    const maxOrder = checkInteger(options.maxOrder ?? Math.min(fitOrder, MAX_ORDERS - 1), 'maxOrder', 0, MAX_ORDERS - 1);

    this.pageSize = pageSize;
    this.pageShift = shift;
    this.base = base;
    this.maxOrder = maxOrder;
    this.maxPages = maxPages;
    this.memory = memory;
    this.state = state;
    this.w = stateOff >>> 2;
    this.links = (stateOff + CONTROL_BYTES) >>> 2;
    this.info = stateOff + CONTROL_BYTES + 8 * maxPages;

    // Write the control block, then seed the free lists.
    ensureHeader(state);
    const u32 = state.u32;
    const w = this.w;
    for (let i = 0; i < CONTROL_BYTES >>> 2; i++) u32[w + i] = 0;
    u32[w + B_MAGIC] = BUDDY_MAGIC;
    u32[w + B_PAGE_SIZE] = pageSize;
    u32[w + B_PAGE_SHIFT] = shift;
    u32[w + B_PAGES] = 0;
    u32[w + B_MAX_PAGES] = maxPages;
    u32[w + B_MAX_ORDER] = maxOrder;
    u32[w + B_BASE] = base;
    u32[w + B_FLAGS] = offsetsOnly ? FLAG_OFFSETS_ONLY : 0;
    u32[w + B_LINKS_OFF] = CONTROL_BYTES;
    u32[w + B_INFO_OFF] = CONTROL_BYTES + 8 * maxPages;
    const i32 = state.i32;
    for (let k = 0; k < MAX_ORDERS; k++) i32[w + B_HEADS + k] = NIL;
    state.u8.fill(0, this.info, this.info + maxPages);
    this.addPages(pages);
    writeSlot(state, HeaderSlot.Buddy, stateOff);
  }

  /**
   * Opens a second instance over the state of an existing buddy allocator:
   * a Memory shared from another worker, or a copy of the buffer. For an
   * offsets-only allocator pass its `state` Memory.
   *
   * @throws HeapCorruptionError if the Memory holds no buddy allocator.
   */
  static attach(memory: Memory): BuddyAllocator {
    memory.sync();
    const off = readSlot(memory, HeaderSlot.Buddy);
    if (off === 0 || memory.u32[(off >>> 2) + B_MAGIC] !== BUDDY_MAGIC) {
      throw new MemkitError('no buddy allocator in this Memory (header slot empty or magic BUDY missing)');
    }
    const self = Object.create(BuddyAllocator.prototype) as BuddyAllocator;
    const u32 = memory.u32;
    const w = off >>> 2;
    const offsetsOnly = (u32[w + B_FLAGS]! & FLAG_OFFSETS_ONLY) !== 0;
    const fields: Record<string, unknown> = {
      pageSize: u32[w + B_PAGE_SIZE],
      pageShift: u32[w + B_PAGE_SHIFT],
      base: u32[w + B_BASE],
      maxOrder: u32[w + B_MAX_ORDER],
      maxPages: u32[w + B_MAX_PAGES],
      memory: offsetsOnly ? null : memory,
      state: memory,
      w,
      links: (off + u32[w + B_LINKS_OFF]!) >>> 2,
      info: off + u32[w + B_INFO_OFF]!,
    };
    Object.assign(self, fields);
    return self;
  }

  /** Pages managed now. */
  get pages(): number {
    return this.state.u32[this.w + B_PAGES]!;
  }

  /** Pages in free blocks now (O(1)). */
  get freePages(): number {
    return this.state.i32[this.w + B_FREE_PAGES]!;
  }

  /** True when the allocator hands out offsets only (no bytes). */
  get offsetsOnly(): boolean {
    return this.memory === null;
  }

  // ---------------------------------------------------------------- alloc

  /**
   * Allocates a block of 2^ceil(log2 n) pages and returns its address, aligned
   * to the block's size relative to `base`.
   *
   * @throws InvalidArgumentError if `n` is not a whole number >= 1.
   * @throws OutOfMemoryError if no block is big enough (the allocator is unchanged).
   */
  allocPages(n: number): number {
    if (!(n >= 1 && n <= 0x40000000) || (n | 0) !== n) return this.allocPagesBadSize(n);
    const order = n === 1 ? 0 : 32 - Math.clz32(n - 1);
    const p = this.takeBlock(order, 1 << order);
    if (p < 0) return this.allocPagesSlow(n, false);
    return this.base + p * this.pageSize;
  }

  /**
   * Allocates exactly `n` pages: a 2^k block whose unused tail pages go back
   * to the free lists at once (the kernel's alloc_pages_exact), so 17 pages
   * cost 17, not 32. `free(addr)` gives all `n` back.
   *
   * @throws InvalidArgumentError / OutOfMemoryError as {@link allocPages}.
   */
  allocPagesExact(n: number): number {
    if (!(n >= 1 && n <= 0x40000000) || (n | 0) !== n) return this.allocPagesBadSize(n);
    const order = n === 1 ? 0 : 32 - Math.clz32(n - 1);
    let p = this.takeBlock(order, n);
    if (p < 0) {
      this.allocPagesSlow(n, true);
      p = this.takeBlock(order, n);
      if (p < 0) throw new OutOfMemoryError(`no free block of ${n} pages`, n);
    }
    this.trimTail(p, order, n);
    return this.base + p * this.pageSize;
  }

  /**
   * Takes a free block of order `order` (splitting a larger one), marks it
   * allocated with length `n` pages, and returns its page index; -1 if none.
   */
  private takeBlock(order: number, n: number): number {
    const st = this.state;
    st.sync();
    const i32 = st.i32;
    const u8 = st.u8;
    const w = this.w;
    // Smallest order j >= order with a free block: count trailing zeros.
    const mask = (i32[w + B_NON_EMPTY]! >>> order) << order;
    if (mask === 0 || order > this.maxOrder) return -1;
    let j = 31 - Math.clz32(mask & -mask);
    const p = i32[w + B_HEADS + j]!;
    this.unlink(i32, u8, p, j);
    // expand: split down to the wanted order, freeing the upper halves.
    // Lists order..j-1 are empty (j is the smallest non-empty order >= order),
    // so each upper half becomes the only block of its list.
    if (j > order) {
      const L = this.links;
      const info = this.info;
      while (j > order) {
        j--;
        const q = p + (1 << j);
        i32[L + 2 * q] = NIL;
        i32[L + 2 * q + 1] = NIL;
        i32[w + B_HEADS + j] = q;
        i32[w + B_COUNTS + j] = 1;
        u8[info + q] = (u8[info + q]! & INFO_FREED) | INFO_FREE | j;
      }
      i32[w + B_NON_EMPTY] = i32[w + B_NON_EMPTY]! | (((1 << (31 - Math.clz32(mask & -mask))) - 1) & ~((1 << order) - 1));
    }
    u8[this.info + p] = INFO_ALLOC | order;
    i32[this.links + 2 * p] = n;
    i32[w + B_FREE_PAGES] = i32[w + B_FREE_PAGES]! - n;
    i32[w + B_USED_BLOCKS] = i32[w + B_USED_BLOCKS]! + 1;
    return p;
  }

  /** Gives back pages [p + n, p + 2^order) of a block just taken. */
  private trimTail(p: number, order: number, n: number): void {
    const size = 1 << order;
    if (n === size) return;
    const st = this.state;
    const i32 = st.i32;
    const u8 = st.u8;
    let q = p + n;
    const end = p + size;
    while (q < end) {
      // Largest aligned block at q that ends by `end`. Its buddy lies to the
      // left inside the allocated part, so no coalescing is possible.
      const k = alignedOrder(q, end, order);
      this.push(i32, u8, q, k);
      q += 1 << k;
    }
  }

  private allocPagesBadSize(n: number): never {
    if (typeof n === 'number' && Number.isInteger(n) && n > 0) {
      throw new OutOfMemoryError(`cannot allocate ${n} pages: larger than the largest block (2^${this.maxOrder} pages)`, n);
    }
    throw new InvalidArgumentError(`page count must be a whole number >= 1, got ${String(n)}`);
  }

  /** Slow path: no block big enough. Grow the memory if it can, else throw. */
  private allocPagesSlow(n: number, exact: boolean): number {
    const order = n === 1 ? 0 : 32 - Math.clz32(n - 1);
    if (order > this.maxOrder) {
      throw new OutOfMemoryError(`cannot allocate ${n} pages: larger than the largest block (2^${this.maxOrder} pages)`, n);
    }
    const room = this.maxPages - this.pages;
    if (room > 0) {
      // Grow by at least the block size (rounded so that a whole aligned block appears).
      const size = 1 << order;
      const pages = this.pages;
      const want = Math.min(this.maxPages, alignUp(pages, size) + size);
      if (want > pages) {
        try {
          this.grow(want - pages);
        } catch (e) {
          if (!(e instanceof OutOfMemoryError)) throw e;
        }
        if (exact) return 0;
        const p = this.takeBlock(order, size);
        if (p >= 0) return this.base + p * this.pageSize;
      }
    }
    if (exact) return 0;
    throw new OutOfMemoryError(`no free block of ${1 << order} pages for a request of ${n} (${this.stats().freePages} pages free)`, n);
  }

  // ----------------------------------------------------------------- free

  /**
   * Frees the block that starts at `addr`, coalescing it with its buddy as long
   * as the buddy is a free block of the same order.
   *
   * @throws InvalidFreeError if `addr` is not the start of an allocated block
   * (the allocator is unchanged); DoubleFreeError if it was already freed.
   */
  free(addr: number): void {
    const st = this.state;
    st.sync();
    const u8 = st.u8;
    const i32 = st.i32;
    const off = addr - this.base;
    const p = off >>> this.pageShift;
    if (!(off >= 0 && off < this.pages * this.pageSize) || (off & (this.pageSize - 1)) !== 0 || (u8[this.info + p]! & INFO_ALLOC) === 0) {
      this.badFree(addr);
    }
    const order = u8[this.info + p]! & INFO_ORDER_MASK;
    const n = i32[this.links + 2 * p]!;
    const w = this.w;
    i32[w + B_USED_BLOCKS] = i32[w + B_USED_BLOCKS]! - 1;
    i32[w + B_FREE_PAGES] = i32[w + B_FREE_PAGES]! + n;
    if (n === 1 << order) {
      u8[this.info + p] = INFO_FREED;
      this.freeBlock(i32, u8, p, order);
      return;
    }
    // An exact allocation: give back its pieces, largest aligned first.
    u8[this.info + p] = INFO_FREED;
    let q = p;
    const end = p + n;
    while (q < end) {
      const k = alignedOrder(q, end, order);
      this.freeBlock(i32, u8, q, k);
      q += 1 << k;
    }
  }

  /** __free_one_page: merge with free buddies of the same order, then list it. */
  private freeBlock(i32: Int32Array, u8: Uint8Array, p: number, order: number): void {
    const info = this.info;
    const pages = this.pages;
    const maxOrder = this.maxOrder;
    while (order < maxOrder) {
      const buddy = p ^ (1 << order);
      if (buddy + (1 << order) > pages || (u8[info + buddy]! & ~INFO_FREED) !== (INFO_FREE | order)) break;
      this.unlink(i32, u8, buddy, order);
      // The higher of the two becomes an interior page of the merged block.
      if (buddy < p) {
        u8[info + p] &= INFO_FREED;
        p = buddy;
      }
      order++;
    }
    this.push(i32, u8, p, order);
  }

  /** Builds the error for a free that is not of an allocated block start. */
  private badFree(addr: number): never {
    const what = typeof addr === 'number' ? hex(addr) : String(addr);
    if (typeof addr !== 'number' || !Number.isInteger(addr)) {
      throw new InvalidFreeError(`free(${what}): not an address`, Number(addr));
    }
    const off = addr - this.base;
    if (off < 0 || off >= this.pages * this.pageSize) {
      throw new InvalidFreeError(`free(${what}): outside the buddy's pages [${hex(this.base)}, ${hex(this.base + this.pages * this.pageSize)})`, addr);
    }
    const p = Math.floor(off / this.pageSize);
    const head = this.containingBlock(p);
    const u8 = this.state.u8;
    const aligned = p * this.pageSize === off;
    if (head >= 0 && (u8[this.info + head]! & INFO_FREE) !== 0) {
      if (aligned && (u8[this.info + p]! & INFO_FREED) !== 0) {
        throw new DoubleFreeError(`free(${what}): block already free (double free)`, addr);
      }
      throw new InvalidFreeError(`free(${what}): address is not allocated (inside a free block at ${hex(this.base + head * this.pageSize)})`, addr);
    }
    const start = head >= 0 ? hex(this.base + head * this.pageSize) : '?';
    throw new InvalidFreeError(`free(${what}): interior pointer into the block at ${start}`, addr);
  }

  /** Page index of the head of the block containing page p (-1 if none). O(maxOrder). */
  private containingBlock(p: number): number {
    const u8 = this.state.u8;
    const i32 = this.state.i32;
    for (let k = 0; k <= this.maxOrder; k++) {
      const h = p & ~((1 << k) - 1);
      const v = u8[this.info + h]!;
      if ((v & INFO_FREE) !== 0 && (v & INFO_ORDER_MASK) >= k) return h;
      if ((v & INFO_ALLOC) !== 0 && h + i32[this.links + 2 * h]! > p) return h;
    }
    return -1;
  }

  // ------------------------------------------------------------ free lists

  private push(i32: Int32Array, u8: Uint8Array, p: number, order: number): void {
    const w = this.w;
    const L = this.links;
    const head = i32[w + B_HEADS + order]!;
    i32[L + 2 * p] = head;
    i32[L + 2 * p + 1] = NIL;
    if (head !== NIL) i32[L + 2 * head + 1] = p;
    i32[w + B_HEADS + order] = p;
    i32[w + B_COUNTS + order] = i32[w + B_COUNTS + order]! + 1;
    i32[w + B_NON_EMPTY] = i32[w + B_NON_EMPTY]! | (1 << order);
    u8[this.info + p] = (u8[this.info + p]! & INFO_FREED) | INFO_FREE | order;
  }

  private unlink(i32: Int32Array, u8: Uint8Array, p: number, order: number): void {
    const w = this.w;
    const L = this.links;
    const next = i32[L + 2 * p]!;
    const prev = i32[L + 2 * p + 1]!;
    if (prev !== NIL) i32[L + 2 * prev] = next;
    else i32[w + B_HEADS + order] = next;
    if (next !== NIL) i32[L + 2 * next + 1] = prev;
    const c = i32[w + B_COUNTS + order]! - 1;
    i32[w + B_COUNTS + order] = c;
    if (c === 0) i32[w + B_NON_EMPTY] = i32[w + B_NON_EMPTY]! & ~(1 << order);
    u8[this.info + p] &= INFO_FREED;
  }

  // ---------------------------------------------------------------- growth

  /**
   * Adds `n` pages at the end (growing the Memory when memory-backed) and
   * frees them into the lists, merging with free blocks at the old end.
   *
   * @throws OutOfMemoryError if `pages + n > maxPages` or the Memory cannot
   * grow (the allocator is unchanged).
   */
  grow(n: number): void {
    checkInteger(n, 'pages to add', 0, 2 ** 31 - 1);
    const pages = this.pages;
    if (pages + n > this.maxPages) {
      throw new OutOfMemoryError(`buddy cannot grow to ${pages + n} pages (maxPages ${this.maxPages})`, n);
    }
    if (this.memory !== null) this.memory.growTo(this.base + (pages + n) * this.pageSize);
    this.addPages(n);
  }

  /** Extends the managed range by n pages and frees them, largest aligned blocks first. */
  private addPages(n: number): void {
    const st = this.state;
    st.sync();
    const i32 = st.i32;
    const u8 = st.u8;
    const w = this.w;
    const start = i32[w + B_PAGES]!;
    const end = start + n;
    i32[w + B_PAGES] = end;
    i32[w + B_FREE_PAGES] = i32[w + B_FREE_PAGES]! + n;
    let q = start;
    while (q < end) {
      const k = alignedOrder(q, end, this.maxOrder);
      u8[this.info + q] = 0;
      this.freeBlock(i32, u8, q, k);
      q += 1 << k;
    }
  }

  // --------------------------------------------------------- introspection

  /** Pages of the allocated block at `addr` (n for an exact allocation). */
  blockPages(addr: number): number {
    const st = this.state;
    st.sync();
    const off = addr - this.base;
    const p = off >>> this.pageShift;
    if (!(off >= 0 && off < this.pages * this.pageSize) || (off & (this.pageSize - 1)) !== 0 || (st.u8[this.info + p]! & INFO_ALLOC) === 0) {
      this.badFree(addr);
    }
    return st.i32[this.links + 2 * p]!;
  }

  /** True when `addr` is the start of an allocated block. */
  isAllocated(addr: number): boolean {
    const st = this.state;
    st.sync();
    const off = addr - this.base;
    const p = off >>> this.pageShift;
    return off >= 0 && off < this.pages * this.pageSize && (off & (this.pageSize - 1)) === 0 && (st.u8[this.info + p]! & INFO_ALLOC) !== 0;
  }

  /**
   * The free list of `order` as the allocator keeps it: block addresses from
   * the head (the next block allocPages takes) to the tail. Freed and split-off
   * blocks are pushed on the head, as in the kernel.
   */
  freeList(order: number): number[] {
    checkInteger(order, 'order', 0, this.maxOrder);
    const st = this.state;
    st.sync();
    const i32 = st.i32;
    const out: number[] = [];
    for (let p = i32[this.w + B_HEADS + order]!; p !== NIL && out.length <= this.pages; p = i32[this.links + 2 * p]!) {
      out.push(this.base + p * this.pageSize);
    }
    return out;
  }

  /** Free blocks per order; index = order, length = maxOrder + 1. */
  freeCounts(): number[] {
    const st = this.state;
    st.sync();
    const out: number[] = [];
    for (let k = 0; k <= this.maxOrder; k++) out.push(st.i32[this.w + B_COUNTS + k]!);
    return out;
  }

  /**
   * The kernel's `/proc/buddyinfo` line for this allocator:
   * `Node 0, zone   Normal` and the free count of each order as `%6lu `.
   */
  buddyinfo(zone = 'Normal'): string {
    let line = `Node 0, zone ${zone.padStart(8)} `;
    for (const c of this.freeCounts()) line += `${String(c).padStart(6)} `;
    return line;
  }

  /** Counters: pages, free and used pages, blocks. */
  stats(): BuddyStats {
    const counts = this.freeCounts();
    let largest = -1;
    let freeBlocks = 0;
    counts.forEach((c, k) => {
      freeBlocks += c;
      if (c > 0) largest = k;
    });
    const i32 = this.state.i32;
    const freePages = i32[this.w + B_FREE_PAGES]!;
    return {
      pages: this.pages,
      pageSize: this.pageSize,
      freePages,
      usedPages: this.pages - freePages,
      usedBlocks: i32[this.w + B_USED_BLOCKS]!,
      freeBlocks,
      largestFreeOrder: largest,
      maxOrder: this.maxOrder,
    };
  }

  /**
   * Calls `visit(addr, pages, free, order)` for every block in address order
   * (the memory map). The blocks tile the managed pages.
   */
  forEachBlock(visit: BlockVisitor): void {
    const st = this.state;
    st.sync();
    const u8 = st.u8;
    const i32 = st.i32;
    const pages = this.pages;
    let p = 0;
    while (p < pages) {
      const v = u8[this.info + p]!;
      const order = v & INFO_ORDER_MASK;
      let len: number;
      if ((v & INFO_FREE) !== 0) len = 1 << order;
      else if ((v & INFO_ALLOC) !== 0) len = i32[this.links + 2 * p]!;
      else throw new MemkitError(`buddy state corrupt: page ${p} heads no block`);
      visit(this.base + p * this.pageSize, len, (v & INFO_FREE) !== 0, order);
      p += len;
    }
  }

  /**
   * Checks invariants I1-I4 (see the top of this file) and throws a
   * MemkitError naming the first one broken. O(pages); for tests and debugging.
   */
  checkInvariants(): void {
    const st = this.state;
    const i32 = st.i32;
    const u8 = st.u8;
    const w = this.w;
    let freePages = 0;
    let used = 0;
    let tiled = 0;
    this.forEachBlock((addr, len, free, order) => {
      const p = (addr - this.base) / this.pageSize;
      if (free && (p & ((1 << order) - 1)) !== 0) throw new MemkitError(`I1: free block at page ${p} not aligned to 2^${order}`);
      if (free) freePages += len;
      else used++;
      tiled += len;
    });
    if (tiled !== this.pages) throw new MemkitError(`I1: blocks cover ${tiled} of ${this.pages} pages`);
    let listed = 0;
    for (let k = 0; k < MAX_ORDERS; k++) {
      let n = 0;
      let prev = NIL;
      for (let p = i32[w + B_HEADS + k]!; p !== NIL; p = i32[this.links + 2 * p]!) {
        if (u8[this.info + p] !== ((u8[this.info + p]! & INFO_FREED) | INFO_FREE | k)) throw new MemkitError(`I2: page ${p} on list ${k} is not a free head of order ${k}`);
        if (i32[this.links + 2 * p + 1] !== prev) throw new MemkitError(`I2: bad prev link at page ${p}`);
        prev = p;
        if (++n > this.pages) throw new MemkitError(`I2: cycle in free list ${k}`);
        const b = p ^ (1 << k);
        if (k < this.maxOrder && b + (1 << k) <= this.pages && u8[this.info + b] === ((u8[this.info + b]! & INFO_FREED) | INFO_FREE | k)) {
          throw new MemkitError(`I3: free buddies ${p} and ${b} of order ${k} not merged`);
        }
      }
      if (n !== i32[w + B_COUNTS + k]) throw new MemkitError(`I2: list ${k} has ${n} blocks, count says ${i32[w + B_COUNTS + k]}`);
      if ((n > 0) !== ((i32[w + B_NON_EMPTY]! & (1 << k)) !== 0)) throw new MemkitError(`I2: nonEmpty bit ${k} wrong`);
      listed += n << k;
    }
    if (listed !== freePages || freePages !== i32[w + B_FREE_PAGES]) {
      throw new MemkitError(`I4: free pages: lists ${listed}, map ${freePages}, counter ${i32[w + B_FREE_PAGES]}`);
    }
    if (used !== i32[w + B_USED_BLOCKS]) throw new MemkitError(`used blocks: map ${used}, counter ${i32[w + B_USED_BLOCKS]}`);
  }
}

/**
 * The order of the largest block that starts at page q, is aligned to its
 * size, ends by `end` and is at most 2^cap pages: how a run of pages is cut
 * into buddy blocks (seeding, growth, exact allocations).
 */
function alignedOrder(q: number, end: number, cap: number): number {
  let k = q === 0 ? cap : Math.min(31 - Math.clz32(q & -q), cap);
  while (q + (1 << k) > end) k--;
  return k;
}

function alignUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}
