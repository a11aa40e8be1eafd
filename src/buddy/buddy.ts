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
 * of the buffer, sees the same heap. `new` and `attach` both build a
 * {@link BuddyInit} and run the one constructor; `attach` checks the control
 * block word by word (BuddyInit.open) and then I1-I4 page by page
 * (checkInvariants), so damaged or cut-short state is a HeapCorruptionError.
 *
 * Addresses run up to 2^32 (`base + pages * pageSize <= 2^32`): page
 * indices stay below 2^31, and an address is turned into a page with
 * `(addr - base) >>> pageShift`, never a signed shift. Every public method
 * checks its arguments first (`typeof`, then `(x >>> 0) === x` for an
 * address) and calls `sync()` before it reads a view.
 *
 * @module
 */
import { checkLayoutCopies } from '../memory/layout-copies.js';
import {
  DoubleFreeError, HeapCorruptionError, InvalidArgumentError, InvalidFreeError, OutOfMemoryError,
  argumentError, checkInteger, checkOptions, hex,
} from '../errors/index.js';
import {
  HEADER_BYTES, H_SLOTS, HeaderSlot, checkHeader, ensureHeader, hasHeader, readSlot, writeSlot,
} from '../memory/header.js';
import { MAX_MEMORY_BYTES, Memory } from '../memory/memory.js';
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


/** Options of {@link BuddyAllocator}. Every one is optional: `new BuddyAllocator()` is 256 pages of 4 KiB (1 MiB). */
export interface BuddyOptions {
  /** Pages managed now (default 256, or, with `memory`, all that fit). */
  pages?: number;
  /** Bytes per page, a power of two in [1, 2^30] (default 4096). */
  pageSize?: number;
  /** Lay the allocator out in this Memory (after its header) instead of a new one. */
  memory?: Memory;
  /** No bytes at all: hand out offsets into a buffer that lives elsewhere (a GPU buffer). */
  offsetsOnly?: boolean;
  /** Offset of page 0 in offsets-only mode (default 0); `base + maxPages * pageSize` must be at most 2^32. */
  base?: number;
  /** Largest block order (default: the largest that fits `maxPages`; at most 31). */
  maxOrder?: number;
  /** Pages `grow()` may reach (default `pages`, or what the Memory's maxByteLength allows). */
  maxPages?: number;
}

/** The option names {@link BuddyAllocator} knows; any other is an error. */
const BUDDY_OPTIONS = ['pages', 'pageSize', 'memory', 'offsetsOnly', 'base', 'maxOrder', 'maxPages'] as const;

/** Pages of `new BuddyAllocator()` with no `pages` option. */
const DEFAULT_PAGES = 256;

/** Largest page count (page indices are int32 in the links table). */
const MAX_PAGE_COUNT = 2 ** 31 - 1;

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
 * Where a buddy allocator's state is and what its control block says: the
 * one record the allocator's constructor takes. `new BuddyAllocator(options)`
 * computes it by laying out a fresh state ({@link BuddyInit.create});
 * `BuddyAllocator.attach(memory)` by reading and checking an existing one
 * ({@link BuddyInit.open}). Neither path sets a field the other does not, so
 * every instance has the same fields in the same order (one hidden class).
 *
 * Not exported from the package root; its constructor is private, so the
 * only records are those the two factories make.
 */
export class BuddyInit {
  private constructor(
    /** The Memory the pages live in; `null` in offsets-only mode. */
    readonly memory: Memory | null,
    /** The Memory the state lives in. */
    readonly state: Memory,
    /** Byte offset of the control block in `state`. */
    readonly stateOff: number,
    readonly pageSize: number,
    readonly base: number,
    readonly maxOrder: number,
    readonly maxPages: number,
    /** Pages to seed the free lists with (fresh state), or -1 (attached: the state is there). */
    readonly seedPages: number,
  ) {}

  /**
   * Checks every option, then (and only then) makes or grows the Memory and
   * writes the control block: a bad option leaves a given Memory untouched.
   */
  static create(options: BuddyOptions | undefined): BuddyInit {
    const o = checkOptions(options, 'BuddyAllocator options', BUDDY_OPTIONS);
    const pageSize = o.pageSize === undefined ? 4096 : checkInteger(o.pageSize, 'pageSize', 1, 2 ** 30);
    if ((pageSize & (pageSize - 1)) !== 0) throw argumentError('pageSize', 'a power of two in [1, 2^30]', pageSize);
    if (o.offsetsOnly !== undefined && typeof o.offsetsOnly !== 'boolean') throw argumentError('offsetsOnly', 'a boolean', o.offsetsOnly);
    if (o.memory !== undefined && !(o.memory instanceof Memory)) throw argumentError('memory', 'a Memory', o.memory);
    const offsetsOnly = o.offsetsOnly === true;
    if (offsetsOnly && o.memory !== undefined) throw new InvalidArgumentError('offsetsOnly and memory exclude each other', 'memory');
    if (!offsetsOnly && o.base !== undefined) throw new InvalidArgumentError('base is an offsets-only option (a memory-backed buddy puts its pages after its state)', 'base');

    let pages: number;
    let maxPages: number;
    let state: Memory;
    let memory: Memory | null;
    let base: number;
    const stateOff = HEADER_BYTES; // the first 8-aligned byte after the header
    if (offsetsOnly) {
      pages = o.pages === undefined ? DEFAULT_PAGES : checkInteger(o.pages, 'pages', 1, MAX_PAGE_COUNT);
      maxPages = o.maxPages === undefined ? pages : checkInteger(o.maxPages, 'maxPages', pages, MAX_PAGE_COUNT);
      base = o.base === undefined ? 0 : checkInteger(o.base, 'base', 0, 2 ** 32 - 1);
      if (base + maxPages * pageSize > 2 ** 32) {
        throw new InvalidArgumentError(`base ${base} + ${maxPages} pages of ${pageSize} bytes pass the 2^32 an offsets-only space can span`, 'maxPages');
      }
      const maxOrder = resolveMaxOrder(o.maxOrder, maxPages);
      state = Memory.create({ bytes: HEADER_BYTES + stateBytes(maxPages) });
      memory = null;
      return new BuddyInit(memory, state, stateOff, pageSize, base, maxOrder, maxPages, pages).format(offsetsOnly);
    }
    if (o.memory !== undefined) {
      memory = o.memory;
      memory.sync();
      if (hasHeader(memory) && readSlot(memory, HeaderSlot.Buddy) !== 0) {
        throw new InvalidArgumentError('this Memory already holds a buddy allocator: use BuddyAllocator.attach(memory)', 'memory');
      }
      const room = (bytes: number): number => Math.max(0, Math.floor((bytes - stateOff) / (pageSize + 9)));
      // A wasm memory does not tell its maximum: plan for its current size
      // unless the caller passes maxPages.
      const fitMax = room(memory.wasm !== null ? memory.buffer.byteLength : memory.maxByteLength);
      maxPages = o.maxPages === undefined ? Math.max(fitMax, 1) : checkInteger(o.maxPages, 'maxPages', 1, MAX_PAGE_COUNT);
      base = alignUp(stateOff + stateBytes(maxPages), pageSize);
      if (base + maxPages * pageSize > MAX_MEMORY_BYTES) {
        throw new InvalidArgumentError(`${maxPages} pages of ${pageSize} bytes and their state do not fit in a Memory (at most ${MAX_MEMORY_BYTES} bytes)`, 'maxPages');
      }
      const fitNow = Math.floor((memory.buffer.byteLength - base) / pageSize);
      pages = o.pages === undefined ? Math.max(1, Math.min(fitNow, maxPages)) : checkInteger(o.pages, 'pages', 1, maxPages);
      const maxOrder = resolveMaxOrder(o.maxOrder, maxPages);
      // Last thing that can fail, and it fails with the Memory unchanged.
      if (base + pages * pageSize > memory.buffer.byteLength) memory.growTo(base + pages * pageSize);
      return new BuddyInit(memory, memory, stateOff, pageSize, base, maxOrder, maxPages, pages).format(false);
    }
    pages = o.pages === undefined ? DEFAULT_PAGES : checkInteger(o.pages, 'pages', 1, MAX_PAGE_COUNT);
    maxPages = o.maxPages === undefined ? pages : checkInteger(o.maxPages, 'maxPages', pages, MAX_PAGE_COUNT);
    base = alignUp(stateOff + stateBytes(maxPages), pageSize);
    const bytes = base + pages * pageSize;
    const maxBytes = base + maxPages * pageSize;
    if (maxBytes > MAX_MEMORY_BYTES) {
      throw new InvalidArgumentError(`${maxPages} pages of ${pageSize} bytes and their state do not fit in a Memory (at most ${MAX_MEMORY_BYTES} bytes)`, 'maxPages');
    }
    const maxOrder = resolveMaxOrder(o.maxOrder, maxPages);
    memory = Memory.create(maxBytes > bytes ? { bytes, maxBytes } : { bytes });
    return new BuddyInit(memory, memory, stateOff, pageSize, base, maxOrder, maxPages, pages).format(false);
  }

  /** Writes the header (if missing) and a fresh control block; the lists are seeded by the allocator. */
  private format(offsetsOnly: boolean): BuddyInit {
    const st = this.state;
    ensureHeader(st);
    const u32 = st.u32;
    const i32 = st.i32;
    const w = this.stateOff >>> 2;
    for (let i = 0; i < CONTROL_BYTES >>> 2; i++) u32[w + i] = 0;
    u32[w + B_MAGIC] = BUDDY_MAGIC;
    u32[w + B_PAGE_SIZE] = this.pageSize;
    u32[w + B_PAGE_SHIFT] = 31 - Math.clz32(this.pageSize);
    u32[w + B_PAGES] = 0;
    u32[w + B_MAX_PAGES] = this.maxPages;
    u32[w + B_MAX_ORDER] = this.maxOrder;
    u32[w + B_BASE] = this.base;
    u32[w + B_FLAGS] = offsetsOnly ? FLAG_OFFSETS_ONLY : 0;
    u32[w + B_LINKS_OFF] = CONTROL_BYTES;
    u32[w + B_INFO_OFF] = CONTROL_BYTES + 8 * this.maxPages;
    for (let k = 0; k < MAX_ORDERS; k++) i32[w + B_HEADS + k] = NIL;
    const info = this.stateOff + CONTROL_BYTES + 8 * this.maxPages;
    st.u8.fill(0, info, info + this.maxPages);
    writeSlot(st, HeaderSlot.Buddy, this.stateOff);
    return this;
  }

  /**
   * Reads the control block the header of `memory` points at and checks
   * every word of it against the buffer's length and against the others
   * (the shallow half of the attach fsck; the allocator's
   * `checkInvariants()` walks the pages and lists after).
   *
   * @throws HeapCorruptionError naming the first word that is wrong.
   */
  static open(memory: Memory): BuddyInit {
    if (!(memory instanceof Memory)) throw argumentError('memory', 'a Memory', memory);
    memory.sync();
    checkHeader(memory);
    const len = memory.buffer.byteLength;
    const off = memory.u32[H_SLOTS + HeaderSlot.Buddy]!;
    const slotAddr = (H_SLOTS + HeaderSlot.Buddy) * 4;
    if (off === 0) throw new HeapCorruptionError('no buddy allocator in this Memory (header slot Buddy is 0)', slotAddr);
    if (off % 8 !== 0 || off < HEADER_BYTES || off + CONTROL_BYTES > len) {
      throw new HeapCorruptionError(`buddy state offset ${hex(off)} (header slot Buddy) is not an 8-aligned offset with a control block inside the ${len} bytes`, slotAddr);
    }
    const u32 = memory.u32;
    const w = off >>> 2;
    const at = (word: number): number => off + 4 * word;
    const bad = (word: number, name: string, why: string): never => {
      throw new HeapCorruptionError(`buddy state word ${name} at ${hex(at(word))} = ${u32[w + word]!}: ${why}`, at(word));
    };
    if (u32[w + B_MAGIC] !== BUDDY_MAGIC) bad(B_MAGIC, 'magic', "not 'BUDY'");
    const pageSize = u32[w + B_PAGE_SIZE]!;
    if (pageSize < 1 || pageSize > 2 ** 30 || (pageSize & (pageSize - 1)) !== 0) bad(B_PAGE_SIZE, 'pageSize', 'not a power of two in [1, 2^30]');
    if (u32[w + B_PAGE_SHIFT] !== 31 - Math.clz32(pageSize)) bad(B_PAGE_SHIFT, 'pageShift', `not log2(pageSize ${pageSize})`);
    const flags = u32[w + B_FLAGS]!;
    if ((flags & ~FLAG_OFFSETS_ONLY) !== 0) bad(B_FLAGS, 'flags', 'unknown flag bits');
    const offsetsOnly = flags === FLAG_OFFSETS_ONLY;
    const maxPages = u32[w + B_MAX_PAGES]!;
    if (maxPages < 1 || maxPages > MAX_PAGE_COUNT || off + stateBytes(maxPages) > len) {
      bad(B_MAX_PAGES, 'maxPages', `its state (${stateBytes(maxPages)} bytes) does not fit in the ${len - off} bytes after the control block's offset`);
    }
    const pages = u32[w + B_PAGES]!;
    if (pages < 1 || pages > maxPages) bad(B_PAGES, 'pages', `not in [1, maxPages ${maxPages}]`);
    const maxOrder = u32[w + B_MAX_ORDER]!;
    if (maxOrder >= MAX_ORDERS) bad(B_MAX_ORDER, 'maxOrder', `not in [0, ${MAX_ORDERS - 1}]`);
    const base = u32[w + B_BASE]!;
    if (offsetsOnly) {
      if (base + maxPages * pageSize > 2 ** 32) bad(B_BASE, 'base', `base + maxPages * pageSize passes 2^32`);
    } else if (base % pageSize !== 0 || base < off + stateBytes(maxPages) || base + pages * pageSize > len) {
      bad(B_BASE, 'base', `pages [base, base + ${pages} * ${pageSize}) are not page-aligned after the state and inside the ${len} bytes`);
    } else if (base + maxPages * pageSize > MAX_MEMORY_BYTES) {
      bad(B_MAX_PAGES, 'maxPages', `base + maxPages * pageSize passes ${MAX_MEMORY_BYTES}`);
    }
    if (u32[w + B_LINKS_OFF] !== CONTROL_BYTES) bad(B_LINKS_OFF, 'linksOff', `not ${CONTROL_BYTES}`);
    if (u32[w + B_INFO_OFF] !== CONTROL_BYTES + 8 * maxPages) bad(B_INFO_OFF, 'infoOff', `not ${CONTROL_BYTES} + 8 * maxPages`);
    if (u32[w + B_FREE_PAGES]! > pages) bad(B_FREE_PAGES, 'freePages', `more than pages (${pages})`);
    if (u32[w + B_USED_BLOCKS]! > pages) bad(B_USED_BLOCKS, 'usedBlocks', `more than pages (${pages})`);
    const nonEmpty = u32[w + B_NON_EMPTY]!;
    for (let k = 0; k < MAX_ORDERS; k++) {
      const head = memory.i32[w + B_HEADS + k]!;
      const count = u32[w + B_COUNTS + k]!;
      if (head !== NIL && (head < 0 || head >= pages || k > maxOrder || (head & ((1 << k) - 1)) !== 0)) {
        bad(B_HEADS + k, `head[${k}]`, `not -1 or an aligned page index below pages (${pages}) with order <= maxOrder`);
      }
      if (count > pages >>> k) bad(B_COUNTS + k, `count[${k}]`, `more blocks of 2^${k} pages than fit in ${pages} pages`);
      if ((count === 0) !== (head === NIL)) bad(B_COUNTS + k, `count[${k}]`, `disagrees with head[${k}]`);
      if (((nonEmpty >>> k) & 1) !== (head === NIL ? 0 : 1)) bad(B_NON_EMPTY, 'nonEmpty', `bit ${k} disagrees with head[${k}]`);
    }
    return new BuddyInit(offsetsOnly ? null : memory, memory, off, pageSize, base, maxOrder, maxPages, -1);
  }
}

function resolveMaxOrder(given: unknown, maxPages: number): number {
  if (given === undefined) return Math.min(31 - Math.clz32(maxPages), MAX_ORDERS - 1);
  return checkInteger(given, 'maxOrder', 0, MAX_ORDERS - 1);
}

/**
 * A binary buddy allocator of pages, with its state in the buffer.
 *
 * @example
 * ```ts
 * import { BuddyAllocator } from 'memkit';
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
   * Creates a buddy allocator. With no options: 256 pages of 4 KiB in a
   * Memory of its own.
   *
   * @throws InvalidArgumentError on a bad or unknown option (`argument`
   * names it); nothing is made or changed then.
   */
  constructor(options?: BuddyOptions) {
    // The one construction path: `attach` passes a BuddyInit it read.
    const r = options instanceof BuddyInit ? options : BuddyInit.create(options);
    this.pageSize = r.pageSize;
    this.pageShift = 31 - Math.clz32(r.pageSize);
    this.base = r.base;
    this.maxOrder = r.maxOrder;
    this.maxPages = r.maxPages;
    this.memory = r.memory;
    this.state = r.state;
    this.w = r.stateOff >>> 2;
    this.links = (r.stateOff + CONTROL_BYTES) >>> 2;
    this.info = r.stateOff + CONTROL_BYTES + 8 * r.maxPages;
    if (r.seedPages > 0) this.addPages(r.seedPages);
  }

  /**
   * Opens a second instance over the state of an existing buddy allocator:
   * a Memory shared from another worker, or a copy of the buffer. For an
   * offsets-only allocator pass its `state` Memory. The state is checked
   * first, word by word and then page by page (an fsck, O(pages)).
   *
   * @throws HeapCorruptionError if the Memory holds no buddy allocator, or
   * its state is damaged or cut short (`address` names the word or page).
   */
  static attach(memory: Memory): BuddyAllocator {
    const b = new BuddyAllocator(BuddyInit.open(memory) as BuddyOptions);
    b.checkInvariants();
    return b;
  }

  /** Pages managed now. */
  get pages(): number {
    const st = this.state;
    st.sync();
    return st.u32[this.w + B_PAGES]!;
  }

  /** Pages in free blocks now (O(1)). */
  get freePages(): number {
    const st = this.state;
    st.sync();
    return st.i32[this.w + B_FREE_PAGES]!;
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
    // typeof first: no valueOf of an object, no BigInt arithmetic, is ever run.
    if (typeof n !== 'number' || !(n >= 1 && n <= 0x40000000) || (n | 0) !== n) return this.allocPagesBadSize(n);
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
    if (typeof n !== 'number' || !(n >= 1 && n <= 0x40000000) || (n | 0) !== n) return this.allocPagesBadSize(n);
    const order = n === 1 ? 0 : 32 - Math.clz32(n - 1);
    let p = this.takeBlock(order, n);
    if (p < 0) {
      this.growFor(n, order);
      p = this.takeBlock(order, n);
      if (p < 0) throw new HeapCorruptionError(`buddy grew for ${n} pages but has no block of 2^${order} pages`, this.base);
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

  private allocPagesBadSize(n: unknown): never {
    if (typeof n === 'number' && Number.isInteger(n) && n > 0) {
      throw new OutOfMemoryError(`cannot allocate ${n} pages: larger than the largest block (2^${this.maxOrder} pages)`, n);
    }
    throw argumentError('n', 'a page count (a whole number >= 1)', n);
  }

  /** Slow path: no block big enough. Grow the memory if that yields one, else throw. */
  private allocPagesSlow(n: number, exact: boolean): number {
    const order = n === 1 ? 0 : 32 - Math.clz32(n - 1);
    this.growFor(n, order);
    const p = this.takeBlock(order, exact ? n : 1 << order);
    if (p < 0) throw new HeapCorruptionError(`buddy grew for ${n} pages but has no block of 2^${order} pages`, this.base);
    return this.base + p * this.pageSize;
  }

  /**
   * Grows just enough that a free block of 2^order pages exists, or throws
   * OutOfMemoryError with nothing changed: it checks first that the grown
   * heap will have the block (a new aligned block past the end, or the
   * free pages at the end merged with new ones), and grows only then.
   */
  private growFor(n: number, order: number): void {
    if (order > this.maxOrder) {
      throw new OutOfMemoryError(`cannot allocate ${n} pages: larger than the largest block (2^${this.maxOrder} pages)`, n);
    }
    const size = 1 << order;
    const pages = this.pages;
    const maxPages = this.maxPages;
    const down = pages - (pages & (size - 1)); // the aligned block that holds the end, if it is cut
    let want = -1;
    if (down < pages && down + size <= maxPages && this.allFree(down, pages)) want = down + size;
    else if (alignUp(pages, size) + size <= maxPages) want = alignUp(pages, size) + size;
    if (want < 0) {
      throw new OutOfMemoryError(`no free block of ${size} pages for a request of ${n} (${this.freePages} pages free, ${pages} of at most ${maxPages} pages)`, n);
    }
    try {
      this.grow(want - pages);
    } catch (e) {
      if (e instanceof OutOfMemoryError) throw new OutOfMemoryError(`no free block of ${size} pages for a request of ${n}, and the memory cannot grow: ${e.message}`, n);
      throw e;
    }
  }

  /** True when pages [from, to) are all in free blocks (from a block head on). */
  private allFree(from: number, to: number): boolean {
    const u8 = this.state.u8;
    for (let q = from; q < to;) {
      const v = u8[this.info + q]!;
      if ((v & INFO_FREE) === 0) return false;
      q += 1 << (v & INFO_ORDER_MASK);
    }
    return true;
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
    // An address is a whole number in [0, 2^32): typeof first (no valueOf,
    // no BigInt), then `>>> 0` refuses fractions, negatives, NaN, 2^32 and up.
    if (typeof addr !== 'number' || (addr >>> 0) !== addr) this.badAddress(addr);
    const st = this.state;
    st.sync();
    const u8 = st.u8;
    const i32 = st.i32;
    const off = addr - this.base;
    const p = off >>> this.pageShift;
    if (!(off >= 0 && off < i32[this.w + B_PAGES]! * this.pageSize) || (off & (this.pageSize - 1)) !== 0 || (u8[this.info + p]! & INFO_ALLOC) === 0) {
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
    const pages = i32[this.w + B_PAGES]!; // (synced by the caller)
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

  /** The error for an argument that is not an address at all. */
  private badAddress(addr: unknown): never {
    throw argumentError('addr', 'an address (a whole number in [0, 2^32))', addr);
  }

  /** Builds the error for a free of an address that is not an allocated block start. */
  private badFree(addr: number): never {
    const what = hex(addr);
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
    checkInteger(n, 'n', 0, MAX_PAGE_COUNT);
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
    if (typeof addr !== 'number' || (addr >>> 0) !== addr) this.badAddress(addr);
    const st = this.state;
    st.sync();
    const off = addr - this.base;
    const p = off >>> this.pageShift;
    if (!(off >= 0 && off < st.i32[this.w + B_PAGES]! * this.pageSize) || (off & (this.pageSize - 1)) !== 0 || (st.u8[this.info + p]! & INFO_ALLOC) === 0) {
      this.badFree(addr);
    }
    return st.i32[this.links + 2 * p]!;
  }

  /**
   * True when `addr` is the start of an allocated block (false for any other
   * address).
   *
   * @throws InvalidArgumentError if `addr` is not an address at all.
   */
  isAllocated(addr: number): boolean {
    if (typeof addr !== 'number' || (addr >>> 0) !== addr) this.badAddress(addr);
    const st = this.state;
    st.sync();
    const off = addr - this.base;
    const p = off >>> this.pageShift;
    return off >= 0 && off < st.i32[this.w + B_PAGES]! * this.pageSize && (off & (this.pageSize - 1)) === 0 && (st.u8[this.info + p]! & INFO_ALLOC) !== 0;
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
    const pages = st.u32[this.w + B_PAGES]!;
    for (let p = i32[this.w + B_HEADS + order]!; p >= 0 && p < pages && out.length <= pages; p = i32[this.links + 2 * p]!) {
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
    if (typeof zone !== 'string') throw argumentError('zone', 'a string', zone);
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
    const st = this.state;
    st.sync();
    const i32 = st.i32;
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
   *
   * @throws HeapCorruptionError if a page that should head a block does not
   * (the walk stops there: it never loops or leaves the pages).
   */
  forEachBlock(visit: BlockVisitor): void {
    if (typeof visit !== 'function') throw argumentError('visit', 'a function', visit);
    const st = this.state;
    st.sync();
    const pages = st.u32[this.w + B_PAGES]!;
    for (let p = 0; p < pages;) {
      const len = this.blockAt(p, pages);
      const v = st.u8[this.info + p]!;
      visit(this.base + p * this.pageSize, len, (v & INFO_FREE) !== 0, v & INFO_ORDER_MASK);
      st.sync(); // the visitor may have grown a wasm memory
      p += len;
    }
  }

  /**
   * Pages of the block headed by page `p`, checked against the layout: the
   * head's info byte names one kind and an order <= maxOrder, the block is
   * aligned to its order and ends by `pages`, an allocated block's length
   * is one its order rounds up from. Throws HeapCorruptionError otherwise.
   */
  private blockAt(p: number, pages: number): number {
    const st = this.state;
    const v = st.u8[this.info + p]!;
    const order = v & INFO_ORDER_MASK;
    const size = 2 ** order;
    const kind = v & (INFO_FREE | INFO_ALLOC);
    let len = -1;
    if (kind === INFO_FREE) len = size;
    else if (kind === INFO_ALLOC) {
      len = st.i32[this.links + 2 * p]!;
      if (!(len >= 1 && len <= size && (order === 0 || len > size / 2))) len = -1;
    }
    if (len < 0 || order > this.maxOrder || p % size !== 0 || p + len > pages) {
      throw new HeapCorruptionError(`buddy state corrupt: page ${p} (info byte ${hex(this.info + p)} = ${v}) heads no valid block`, this.info + p);
    }
    return len;
  }

  /**
   * Checks invariants I1-I4 (see the top of this file) and every page's
   * info byte and every list link against them; throws HeapCorruptionError
   * naming the first thing broken (`address`: the state byte). O(pages),
   * and bounded: a cycle in a list is reported, never followed forever.
   * `attach` runs it on every state it opens.
   */
  checkInvariants(): void {
    const st = this.state;
    st.sync();
    const i32 = st.i32;
    const u8 = st.u8;
    const w = this.w;
    const L = this.links;
    const info = this.info;
    const pages = st.u32[w + B_PAGES]!;
    const corrupt = (what: string, at: number): never => {
      throw new HeapCorruptionError(`buddy state corrupt: ${what}`, at);
    };
    let freePages = 0;
    let used = 0;
    for (let p = 0; p < pages;) {
      const len = this.blockAt(p, pages);
      const free = (u8[info + p]! & INFO_FREE) !== 0;
      // I1: no page inside a block heads another one.
      for (let q = p + 1; q < p + len; q++) {
        if ((u8[info + q]! & (INFO_FREE | INFO_ALLOC)) !== 0) corrupt(`I1: page ${q} lies inside the block at page ${p} but heads a block`, info + q);
      }
      if (free) freePages += len;
      else used++;
      p += len;
    }
    // Pages not managed yet (up to maxPages) have no info: growth seeds them.
    for (let q = pages; q < this.maxPages; q++) {
      if (u8[info + q] !== 0) corrupt(`page ${q} is beyond pages (${pages}) but its info byte is ${u8[info + q]!}`, info + q);
    }
    let listed = 0;
    for (let k = 0; k < MAX_ORDERS; k++) {
      const count = i32[w + B_COUNTS + k]!;
      let n = 0;
      let prev = NIL;
      for (let p = i32[w + B_HEADS + k]!; p !== NIL; p = i32[L + 2 * p]!) {
        if (!(p >= 0 && p < pages)) corrupt(`I2: list ${k} links to page ${p}, outside [0, ${pages})`, prev === NIL ? 4 * (w + B_HEADS + k) : 4 * (L + 2 * prev));
        if (u8[info + p] !== ((u8[info + p]! & INFO_FREED) | INFO_FREE | k)) corrupt(`I2: page ${p} on list ${k} is not a free head of order ${k}`, info + p);
        if (i32[L + 2 * p + 1] !== prev) corrupt(`I2: bad prev link at page ${p}`, 4 * (L + 2 * p + 1));
        prev = p;
        if (++n > count) corrupt(`I2: list ${k} is longer than its count ${count} (a cycle?)`, 4 * (w + B_COUNTS + k));
        const b = p ^ (1 << k);
        if (k < this.maxOrder && b + (1 << k) <= pages && u8[info + b] === ((u8[info + b]! & INFO_FREED) | INFO_FREE | k)) {
          corrupt(`I3: free buddies ${p} and ${b} of order ${k} not merged`, info + p);
        }
      }
      if (n !== count) corrupt(`I2: list ${k} has ${n} blocks, count says ${count}`, 4 * (w + B_COUNTS + k));
      if ((n > 0) !== ((i32[w + B_NON_EMPTY]! & (1 << k)) !== 0)) corrupt(`I2: nonEmpty bit ${k} wrong`, 4 * (w + B_NON_EMPTY));
      listed += n * 2 ** k;
    }
    if (listed !== freePages) corrupt(`I2: the lists hold ${listed} pages, the map ${freePages} free pages (a free head off its list?)`, info);
    if (freePages !== i32[w + B_FREE_PAGES]) corrupt(`I4: free pages: map ${freePages}, counter ${i32[w + B_FREE_PAGES]}`, 4 * (w + B_FREE_PAGES));
    if (used !== i32[w + B_USED_BLOCKS]) corrupt(`used blocks: map ${used}, counter ${i32[w + B_USED_BLOCKS]}`, 4 * (w + B_USED_BLOCKS));
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
