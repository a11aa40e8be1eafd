/**
 * Kmalloc: the general-purpose allocator made of slab caches (lecture: "Slab
 * Allocator Usage"; kernel: mm/slab_common.c).
 *
 *   alloc(size):  size <= tlsfAbove (64)  ->  the class's SlabCache
 *                 size <= largest class  ->  the TLSF heap (medium sizes share
 *                                            one free space: no per-class waste)
 *                 larger                 ->  buddy pages, exactly enough
 *   free(addr):   the page descriptor of addr's page names its cache (or
 *                 marks a large block), so no size is needed.
 *
 * Page descriptor marker for large blocks: cache field 0xffff on the block's
 * first page (see slab/layout.ts); for TLSF chunks: 0xfffe on every page of
 * the chunk (set and cleared by the heap's onChunk). Invariant: a page's descriptor names a
 * cache iff the page belongs to one of that cache's slabs; it is LARGE iff it
 * is the first page of a live large block.
 *
 * State: the slab space (page and cache descriptors) plus the counters below
 * live in the buffer; the header slot `HeaderSlot.Kmalloc` points at the
 * counters.
 * ```
 *   word  0 lock | 1 magic 'KMAL' | 2 largeBlocks | 3 largePages | 4 metaPages
 *         5 slab space region | 6 class count | 7 max class | 8 TLSF region
 *         9 tlsfAbove | 10.. cache id of each class
 * ```
 *
 * @module
 */
import { H_WORKERS, MAX_WORKERS, breakLock, joinWorker, leaveWorker, lock, unlock } from '../memory/lock.js';
import { checkLayoutCopies } from '../memory/layout-copies.js';
import { BuddyAllocator } from '../buddy/index.js';
import {
  DoubleFreeError, HeapCorruptionError, InvalidArgumentError, InvalidFreeError, MemkitError, OutOfMemoryError, checkInteger, hex,
} from '../errors/index.js';
import { HeaderSlot, readSlot, writeSlot, type ByteAllocator, type Memory } from '../memory/index.js';
import { SlabCache, SlabSpace } from '../slab/index.js';
import * as slabLayout from '../slab/layout.js';
import { TlsfHeap } from '../tlsf/index.js';
import { type SizeClassSpec, classSizes, classTable, className } from './classes.js';

// Hot-path copies of the layout constants (why: src/memory/layout-copies.ts),
// proved equal to their definitions by checkLayoutCopies() below.
const PAGE_WORDS = 5;
const P_INFO = 1;
checkLayoutCopies(slabLayout, { PAGE_WORDS, P_INFO });


/** Options of {@link Kmalloc}. */
export interface KmallocOptions {
  /** Heap size in bytes (a new buddy allocator of that many bytes of pages). */
  bytes?: number;
  /** Let the heap grow up to this many bytes when it runs out. */
  maxBytes?: number;
  /** Use this buddy allocator instead (it must have bytes). */
  buddy?: BuddyAllocator;
  /**
   * Lay the heap out in this Memory (for example a shared one, or a wrapped
   * WebAssembly.Memory): a buddy over all of it is made first.
   */
  memory?: Memory;
  /** Size classes: 'kernel' or n per doubling (default 8). */
  classes?: SizeClassSpec;
  /** Largest slab class in bytes (default 8192); larger sizes use buddy pages. */
  maxClass?: number;
  /** Page size of a new buddy (default 4096). */
  pageSize?: number;
  /** Debug options for every cache (see SlabCache). */
  debug?: boolean;
  /** Empty slabs each cache keeps instead of returning them to the buddy (default 0). */
  minEmpty?: number;
  /**
   * Sizes above this, up to maxClass, go to the TLSF heap instead of slab
   * caches (default 64; `Infinity`: slabs only).
   */
  tlsfAbove?: number;
  /** Buddy pages per TLSF chunk, a power of two (default 16). */
  tlsfChunkPages?: number;
}

const LARGE = 0xffff;
/** Page descriptor marker (cache field) of every page of a TLSF chunk. */
const TLSF = 0xfffe;
const KMALLOC_MAGIC = 0x4c414d4b;
/** The heap lock (memory/lock.ts), taken around every operation when the memory is shared. */
const K_LOCK = 0;
const K_MAGIC = 1;
const K_LARGE_BLOCKS = 2;
const K_LARGE_PAGES = 3;
const K_META_PAGES = 4;
const K_SPACE = 5;
const K_CLASSES = 6;
const K_MAX_CLASS = 7;
const K_TLSF = 8;
const K_TLSF_ABOVE = 9;
/** Words 10.. hold the cache id of each class, in class order. */
const K_CACHE_IDS = 10;
const K_WORDS = 10;

/** The onChunk of Kmalloc's TLSF heap: marks (or clears) the chunk's pages as TLSF in the page table. */
function markTlsfChunk(memory: Memory, pt: number, base: number, shift: number) {
  return (addr: number, pages: number, added: boolean): void => {
    memory.sync();
    const i32 = memory.i32;
    const pg = (addr - base) >>> shift;
    for (let i = 0; i < pages; i++) i32[pt + (pg + i) * PAGE_WORDS + P_INFO] = added ? TLSF : 0;
  };
}

/**
 * kmalloc over slab caches and a buddy allocator.
 *
 * @example
 * ```ts
 * const k = new Kmalloc({ bytes: 1 << 20 });
 * const p = k.kmalloc(40);        // from the kmalloc-40 slab cache
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
  /** The caches, one per size class, ascending. */
  readonly caches: readonly SlabCache[];
  /** Class sizes, ascending. */
  readonly classSizes: readonly number[];
  /** Largest size served by a slab cache. */
  readonly maxClass: number;
  /** The TLSF heap of the sizes (tlsfAbove, maxClass]. */
  readonly tlsf: TlsfHeap;
  /** Sizes above this, up to maxClass, go to the TLSF heap. */
  readonly tlsfAbove: number;

  private readonly table: Uint8Array;
  /** Cache by slab-space id + 1 (the page descriptor's cache field). */
  private readonly byId: Array<SlabCache | undefined>;
  private readonly space: SlabSpace;
  private readonly k: number; // u32 index of the counters
  private readonly pt: number;
  private readonly base: number;
  private readonly shift: number;
  private readonly pageSize: number;
  private readonly maxPages: number;
  /** i32 index of the heap lock when the memory is shared, else -1 (no locking). */
  private readonly lockAt: number;
  /** This instance's worker slot (0: the thread that made the heap). */
  private readonly slot: number;

  /**
   * Creates a kmalloc heap: `{ bytes }` (optionally `maxBytes`) or `{ buddy }`.
   *
   * @throws InvalidArgumentError on bad options.
   */
  constructor(options: KmallocOptions) {
    let buddy = options.buddy;
    if (buddy === undefined && options.memory !== undefined) {
      buddy = new BuddyAllocator({ memory: options.memory, pageSize: options.pageSize ?? 4096 });
    }
    if (buddy === undefined) {
      const pageSize = options.pageSize ?? 4096;
      const bytes = checkInteger(options.bytes ?? NaN, 'bytes', 1, 2 ** 32);
      const maxBytes = checkInteger(options.maxBytes ?? bytes, 'maxBytes', bytes, 2 ** 32);
      // The user's bytes, plus the slab space's descriptor tables and the counters page.
      const meta = (n: number): number => Math.ceil(SlabSpace.bytesFor(n) / pageSize) + 1;
      const userMax = Math.ceil(maxBytes / pageSize);
      const maxPages = userMax + meta(userMax + 64);
      const pages = Math.min(maxPages, Math.ceil(bytes / pageSize) + meta(maxPages));
      buddy = new BuddyAllocator({ pages, maxPages, pageSize });
    }
    if (buddy.memory === null) throw new InvalidArgumentError('kmalloc needs bytes: the buddy allocator is offsets-only');
    this.buddy = buddy;
    this.memory = buddy.memory;
    const maxClass = checkInteger(options.maxClass ?? 8192, 'maxClass', 8, buddy.pageSize << Math.min(buddy.maxOrder, 3));
    const usedBefore = buddy.pages - buddy.freePages;
    this.space = SlabSpace.of(buddy);
    this.tlsf = new TlsfHeap(buddy, {
      chunkPages: options.tlsfChunkPages ?? 16,
      onChunk: markTlsfChunk(this.memory, this.space.pageTable, buddy.base, buddy.pageShift),
    });
    const sizes = classSizes(options.classes ?? 8, maxClass);
    this.classSizes = sizes;
    this.maxClass = sizes[sizes.length - 1]!;
    const above = options.tlsfAbove ?? 64;
    if (typeof above !== 'number' || !(above >= 0)) throw new InvalidArgumentError(`kmalloc: tlsfAbove must be a number >= 0, got ${String(above)}`);
    this.tlsfAbove = Math.min(Math.floor(above), this.maxClass);
    if (this.tlsfAbove < this.maxClass && this.maxClass > this.tlsf.maxSize) {
      throw new InvalidArgumentError(`kmalloc: maxClass ${this.maxClass} is more than a TLSF chunk serves (${this.tlsf.maxSize}): raise tlsfChunkPages`);
    }
    this.table = classTable(sizes);
    const debug = options.debug === true;
    this.caches = sizes.map((size) => new SlabCache(buddy, { name: className(size), size, debug, minEmpty: options.minEmpty ?? 0 }));
    // The counters go in a small block of their own.
    const kAddr = buddy.allocPages(1);
    this.k = kAddr >>> 2;
    const u32 = this.memory.u32;
    u32.fill(0, this.k, this.k + K_WORDS);
    u32[this.k + K_MAGIC] = KMALLOC_MAGIC;
    u32[this.k + K_META_PAGES] = buddy.pages - buddy.freePages - usedBefore;
    u32[this.k + K_SPACE] = this.space.region;
    u32[this.k + K_CLASSES] = sizes.length;
    u32[this.k + K_MAX_CLASS] = this.maxClass;
    u32[this.k + K_TLSF] = this.tlsf.region;
    u32[this.k + K_TLSF_ABOVE] = this.tlsfAbove;
    this.caches.forEach((c, i) => { u32[this.k + K_CACHE_IDS + i] = c.id; });
    writeSlot(this.memory, HeaderSlot.Kmalloc, kAddr);
    this.byId = [];
    for (const c of this.caches) this.byId[c.id + 1] = c;
    this.pt = this.space.pageTable;
    this.base = buddy.base;
    this.shift = buddy.pageShift;
    this.pageSize = buddy.pageSize;
    this.maxPages = buddy.maxPages;
    this.lockAt = this.memory.shared ? this.k + K_LOCK : -1;
    this.slot = 0;
  }

  /**
   * Opens a second instance over the kmalloc heap in `memory` (a
   * SharedArrayBuffer from another worker, or a copy of the buffer).
   *
   * @throws MemkitError if the Memory holds no kmalloc heap.
   */
  static attach(memory: Memory): Kmalloc {
    const buddy = BuddyAllocator.attach(memory);
    const kAddr = readSlot(memory, HeaderSlot.Kmalloc);
    const u32 = memory.u32;
    const k = kAddr >>> 2;
    if (kAddr === 0 || u32[k + K_MAGIC] !== KMALLOC_MAGIC) throw new MemkitError('no kmalloc heap in this Memory (header slot empty or magic KMAL missing)');
    const space = SlabSpace.open(buddy, u32[k + K_SPACE]!);
    const n = u32[k + K_CLASSES]!;
    const caches: SlabCache[] = [];
    for (let i = 0; i < n; i++) caches.push(SlabCache.attach(space, u32[k + K_CACHE_IDS + i]!));
    const sizes = caches.map((c) => c.size);
    const self = Object.create(Kmalloc.prototype) as Kmalloc;
    const byId: Array<SlabCache | undefined> = [];
    for (const c of caches) byId[c.id + 1] = c;
    const fields: Record<string, unknown> = {
      name: 'kmalloc',
      buddy,
      memory,
      tlsf: TlsfHeap.attach(buddy, u32[k + K_TLSF]!, { onChunk: markTlsfChunk(memory, space.pageTable, buddy.base, buddy.pageShift) }),
      tlsfAbove: u32[k + K_TLSF_ABOVE],
      caches,
      classSizes: sizes,
      maxClass: u32[k + K_MAX_CLASS],
      table: classTable(sizes),
      byId,
      space,
      k,
      pt: space.pageTable,
      base: buddy.base,
      shift: buddy.pageShift,
      pageSize: buddy.pageSize,
      maxPages: buddy.maxPages,
      lockAt: memory.shared ? k + K_LOCK : -1,
      slot: memory.shared ? joinWorker(memory.i32, H_WORKERS) : 0,
    };
    Object.assign(self, fields);
    return self;
  }

  // ------------------------------------------------------------ fast paths

  /**
   * Allocates `size` bytes (0 gives a unique smallest block, as malloc(0)).
   *
   * @throws InvalidArgumentError if size is negative, fractional, NaN or infinite.
   * @throws OutOfMemoryError when neither a slab nor pages can be had.
   */
  private allocUnlocked(size: number): number {
    if (size <= this.maxClass && size >= 0 && (size | 0) === size) {
      if (size > this.tlsfAbove) {
        const p = this.tlsf.tryAlloc(size);
        if (p !== 0) return p;
        // No TLSF chunk to be had (a heap smaller than a chunk): the slab class serves it.
      }
      return this.caches[this.table[(size + 7) >> 3]!]!.alloc(size);
    }
    return this.allocLarge(size);
  }

  /**
   * Frees a block from alloc/realloc.
   *
   * @throws InvalidFreeError / DoubleFreeError; the heap is unchanged then.
   */
  private freeUnlocked(addr: number): void {
    const mem = this.memory;
    mem.sync();
    const off = addr - this.base;
    const pg = off >>> this.shift;
    const info = off >= 0 && pg < this.maxPages ? mem.i32[this.pt + pg * PAGE_WORDS + P_INFO]! : 0;
    const id = info & 0xffff;
    const cache = this.byId[id];
    if (cache !== undefined) cache.freeInPage(addr, pg, info);
    else if (id === TLSF) this.tlsf.free(addr);
    else if (id === LARGE && ((addr - this.base) & (this.pageSize - 1)) === 0) this.freeLarge(addr, (addr - this.base) >>> this.shift);
    else this.badFree(addr);
  }

  /**
   * The owner field of the page descriptor of `addr`'s page: a cache id + 1,
   * LARGE, or 0 (no owner, or outside the heap).
   */
  private ownerOf(addr: number): number {
    const mem = this.memory;
    mem.sync();
    const off = addr - this.base;
    const pg = off >>> this.shift;
    if (!(off >= 0 && pg < this.maxPages)) return 0;
    return mem.i32[this.pt + pg * PAGE_WORDS + P_INFO]! & 0xffff;
  }

  /**
   * Allocates `size` bytes (0 gives a unique smallest block, as malloc(0)).
   *
   * @throws InvalidArgumentError if size is negative, fractional, NaN or infinite.
   * @throws OutOfMemoryError when neither a slab nor pages can be had.
   */
  alloc(size: number): number {
    if (this.lockAt < 0) return this.allocUnlocked(size);
    const i32 = this.memory.i32;
    lock(i32, this.lockAt, this.slot);
    try {
      return this.allocUnlocked(size);
    } finally {
      unlock(i32, this.lockAt, this.slot);
    }
  }

  /**
   * Frees a block from alloc/realloc.
   *
   * @throws InvalidFreeError / DoubleFreeError; the heap is unchanged then.
   */
  free(addr: number): void {
    if (this.lockAt < 0) return this.freeUnlocked(addr);
    const i32 = this.memory.i32;
    lock(i32, this.lockAt, this.slot);
    try {
      this.freeUnlocked(addr);
    } finally {
      unlock(i32, this.lockAt, this.slot);
    }
  }

  /**
   * Resizes a block: in place when `size` fits its usable size, else moves it
   * (content kept up to the smaller size). `realloc(0, n)` allocates; `realloc(p, 0)`
   * frees and returns 0. On OutOfMemoryError the old block is untouched.
   */
  realloc(addr: number, size: number): number {
    if (this.lockAt < 0) return this.reallocUnlocked(addr, size);
    const i32 = this.memory.i32;
    lock(i32, this.lockAt, this.slot);
    try {
      return this.reallocUnlocked(addr, size);
    } finally {
      unlock(i32, this.lockAt, this.slot);
    }
  }

  /**
   * Bytes usable at `addr` (its class size, or its pages for a large block).
   *
   * @throws InvalidFreeError if `addr` is not an allocated block start.
   */
  usableSize(addr: number): number {
    if (this.lockAt < 0) return this.usableSizeUnlocked(addr);
    const i32 = this.memory.i32;
    lock(i32, this.lockAt, this.slot);
    try {
      return this.usableSizeUnlocked(addr);
    } finally {
      unlock(i32, this.lockAt, this.slot);
    }
  }

  // ----------------------------------------------------------- large blocks

  private allocLarge(size: number): number {
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 0) {
      throw new InvalidArgumentError(`kmalloc: size must be a whole number >= 0, got ${String(size)}`);
    }
    const pages = Math.ceil(size / this.pageSize);
    if (pages > 2 ** this.buddy.maxOrder) {
      throw new OutOfMemoryError(`kmalloc: ${size} bytes is more than the largest block (${this.pageSize * 2 ** this.buddy.maxOrder} bytes)`, size);
    }
    let addr: number;
    try {
      addr = this.buddy.allocPagesExact(pages);
    } catch (e) {
      if (e instanceof OutOfMemoryError) throw new OutOfMemoryError(`kmalloc: no ${pages} free pages for ${size} bytes`, size);
      throw e;
    }
    const mem = this.memory;
    mem.sync();
    const pg = (addr - this.base) >>> this.shift;
    mem.i32[this.pt + pg * PAGE_WORDS + P_INFO] = LARGE;
    const u32 = mem.u32;
    u32[this.k + K_LARGE_BLOCKS] = u32[this.k + K_LARGE_BLOCKS]! + 1;
    u32[this.k + K_LARGE_PAGES] = u32[this.k + K_LARGE_PAGES]! + pages;
    return addr;
  }

  private freeLarge(addr: number, pg: number): void {
    const pages = this.buddy.blockPages(addr);
    this.buddy.free(addr);
    const mem = this.memory;
    mem.i32[this.pt + pg * PAGE_WORDS + P_INFO] = 0;
    const u32 = mem.u32;
    u32[this.k + K_LARGE_BLOCKS] = u32[this.k + K_LARGE_BLOCKS]! - 1;
    u32[this.k + K_LARGE_PAGES] = u32[this.k + K_LARGE_PAGES]! - pages;
  }

  private badFree(addr: number): never {
    if (typeof addr !== 'number' || !Number.isInteger(addr)) throw new InvalidFreeError(`kfree(${String(addr)}): not an address`, Number(addr));
    const off = addr - this.base;
    const pg = Math.floor(off / this.pageSize);
    if (off >= 0 && pg < this.buddy.pages) {
      const id = this.memory.i32[this.pt + pg * PAGE_WORDS + P_INFO]! & 0xffff;
      if (id === LARGE) throw new InvalidFreeError(`kfree(${hex(addr)}): interior pointer into a large block`, addr);
      if (!this.buddy.isAllocated(addr)) {
        // Let the buddy tell a double free of a large block from a wild pointer.
        try {
          this.buddy.blockPages(addr);
        } catch (e) {
          if (e instanceof DoubleFreeError) throw new DoubleFreeError(`kfree(${hex(addr)}): block already free (double free)`, addr);
        }
      }
    }
    throw new InvalidFreeError(`kfree(${hex(addr)}): not a block allocated by kmalloc`, addr);
  }

  // ------------------------------------------------------------- the rest

  /**
   * Resizes a block: in place when `size` fits its usable size, else moves it
   * (content kept up to the smaller size). `realloc(0, n)` allocates; `realloc(p, 0)`
   * frees and returns 0. On OutOfMemoryError the old block is untouched.
   */
  private reallocUnlocked(addr: number, size: number): number {
    if (addr === 0) return this.allocUnlocked(size);
    if (size > this.tlsfAbove && size <= this.maxClass && Number.isInteger(size) && this.ownerOf(addr) === TLSF) {
      return this.tlsf.realloc(addr, size); // in place when it fits or the next block is free
    }
    const usable = this.usableSizeUnlocked(addr);
    if (size === 0) {
      this.freeUnlocked(addr);
      return 0;
    }
    if (size <= usable && size >= 0 && Number.isInteger(size)) return addr;
    const fresh = this.allocUnlocked(size);
    const u8 = this.memory.u8;
    u8.copyWithin(fresh, addr, addr + Math.min(usable, size));
    this.freeUnlocked(addr);
    return fresh;
  }

  /**
   * Bytes usable at `addr` (its class size, or its pages for a large block).
   *
   * @throws InvalidFreeError if `addr` is not an allocated block start.
   */
  private usableSizeUnlocked(addr: number): number {
    const id = this.ownerOf(addr);
    const cache = this.byId[id];
    if (cache !== undefined) {
      if (cache.isAllocated(addr)) return cache.size;
    } else if (id === TLSF) {
      if (this.tlsf.isAllocated(addr)) return this.tlsf.usableSize(addr);
    } else if (id === LARGE && ((addr - this.base) & (this.pageSize - 1)) === 0) {
      return this.buddy.blockPages(addr) * this.pageSize;
    }
    throw new InvalidFreeError(`ksize(${hex(addr)}): not a block allocated by kmalloc`, addr);
  }

  /** Bytes taken from the buddy now: pages held by slabs, TLSF chunks and large blocks. */
  footprint(): number {
    const u32 = this.memory.u32;
    return (this.buddy.pages - this.buddy.freePages - u32[this.k + K_META_PAGES]!) * this.pageSize;
  }

  /** The byte view of the heap. */
  get bytes(): Uint8Array {
    this.memory.sync();
    return this.memory.u8;
  }

  /** True when `addr` is the start of a live block. */
  isAllocated(addr: number): boolean {
    try {
      this.usableSize(addr);
      return true;
    } catch {
      return false;
    }
  }

  /** Calls `visit(addr, usableSize)` for every live block (slab objects, then large blocks). */
  forEachBlock(visit: (addr: number, usableSize: number) => void): void {
    for (const cache of this.caches) {
      cache.forEachSlab((slab, inuse) => {
        if (inuse === 0) return;
        const free = new Set(cache.freeObjects(slab));
        for (let i = 0; i < cache.objectsPerSlab; i++) {
          const obj = slab + i * cache.stride + cache.objOffset;
          if (!free.has(obj)) visit(obj, cache.size);
        }
      });
    }
    this.tlsf.forEachBlock((addr, size, isFree) => {
      if (!isFree) visit(addr, size);
    });
    const i32 = this.memory.i32;
    this.buddy.forEachBlock((addr, pages, isFree) => {
      if (isFree) return;
      const pg = (addr - this.base) >>> this.shift;
      if ((i32[this.pt + pg * PAGE_WORDS + P_INFO]! & 0xffff) === LARGE) visit(addr, pages * this.pageSize);
    });
  }

  /** Gives every empty slab of every cache, and the TLSF heap's spare chunk, back to the buddy; returns pages freed. */
  shrink(): number {
    let pages = this.tlsf.shrink();
    for (const c of this.caches) pages += c.shrink();
    return pages;
  }

  /** `/proc/slabinfo` version 2.1: header, column line, one row per cache (largest first, as the kernel lists them). */
  slabinfo(): string {
    const lines = [
      'slabinfo - version: 2.1',
      '# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>',
    ];
    for (let i = this.caches.length - 1; i >= 0; i--) lines.push(this.caches[i]!.slabinfoRow());
    return lines.join('\n') + '\n';
  }

  /** Counters of the large blocks. */
  largeStats(): { blocks: number; pages: number } {
    const u32 = this.memory.u32;
    return { blocks: u32[this.k + K_LARGE_BLOCKS]!, pages: u32[this.k + K_LARGE_PAGES]! };
  }

  // -------------------------------------------------------- kernel names

  /** kmalloc(size): {@link alloc}. */
  /**
   * Releases what a worker that died without {@link Kmalloc.detach} held in
   * the heap in `memory`: the heap lock, if its slot held it, and the slot.
   * Call it from the thread that saw the worker exit (`worker.on('exit')`).
   * Blocks the worker allocated stay allocated (others may use them).
   * Returns true if the dead worker held the lock.
   *
   * @throws InvalidArgumentError if `slot` is not a worker slot (1..31).
   * @throws HeapCorruptionError if `memory` holds no kmalloc heap.
   */
  static recover(memory: Memory, slot: number): boolean {
    checkInteger(slot, 'slot', 1, MAX_WORKERS - 1);
    const kAddr = readSlot(memory, HeaderSlot.Kmalloc);
    if (kAddr === 0 || memory.u32[(kAddr >>> 2) + K_MAGIC] !== KMALLOC_MAGIC) {
      throw new HeapCorruptionError('no kmalloc heap in this Memory (header slot empty or magic KMAL missing)', kAddr);
    }
    const broke = breakLock(memory.i32, (kAddr >>> 2) + K_LOCK, slot);
    if ((memory.u32[H_WORKERS]! & (1 << slot)) !== 0) leaveWorker(memory.i32, H_WORKERS, slot);
    return broke;
  }

  /** Leaves the heap: gives this worker's slot back. The instance must not be used after. */
  detach(): void {
    if (this.lockAt >= 0 && this.slot !== 0) leaveWorker(this.memory.i32, H_WORKERS, this.slot);
  }

  /** `using k = Kmalloc.attach(memory)` detaches at the end of the block. */
  [Symbol.dispose](): void {
    this.detach();
  }

  kmalloc(size: number): number {
    return this.alloc(size);
  }

  /** kzalloc(size): alloc and zero the usable bytes. */
  kzalloc(size: number): number {
    const p = this.alloc(size);
    this.memory.u8.fill(0, p, p + this.usableSize(p));
    return p;
  }

  /** kfree(addr): {@link free}; kfree(0) does nothing, as in the kernel. */
  kfree(addr: number): void {
    if (addr !== 0) this.free(addr);
  }

  /** krealloc(addr, size): {@link realloc}. */
  krealloc(addr: number, size: number): number {
    return this.realloc(addr, size);
  }

  /** ksize(addr): {@link usableSize}. */
  ksize(addr: number): number {
    return this.usableSize(addr);
  }
}
