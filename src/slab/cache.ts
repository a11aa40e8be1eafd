/**
 * SlabCache: a cache of objects of one size (the kernel's kmem_cache; lecture:
 * "Slab/Slub Allocator"), with slabs of 2^order pages from a BuddyAllocator.
 *
 * States and transitions of a slab (by its inuse count, see layout.ts):
 * ```
 *   new slab (buddy) --> partial --alloc, inuse = objs--> full
 *        ^                 |  ^                            |
 *        |     free, inuse = 0  +------ free --------------+
 *        |                 v
 *     (reuse) ---------- empty --shrink / more than minEmpty--> buddy
 * ```
 * alloc takes from the first partial slab, then an empty one, then a new slab.
 * Each slab's freelist runs through its free objects: a free slot holds the
 * address of the next free slot at `fpOffset`, and in the word after it a tag
 * (`next ^ FREE_TAG ^ secret`) that lets free() spot a double free in O(1)
 * (confirmed by a walk of that slab's freelist, so it never errs).
 *
 * Slot layout (stride bytes; red zones and the outside free pointer only when
 * debugging or with a ctor):
 * ```
 *   | left red zone | object (size) | right red zone | free ptr | tag | pad |
 *   ^slot           ^address handed out
 *   without debug:  | object, whose first 8 bytes hold free ptr + tag when free |
 * ```
 * Invariants: every slot is either on its slab's freelist or allocated, never
 * both; the lists hold each slab of the cache exactly once, on the list its
 * inuse count says; active = sum of inuse.
 *
 * @module
 */
import { checkLayoutCopies } from '../memory/layout-copies.js';
import {
  DoubleFreeError, HeapCorruptionError, InvalidArgumentError, InvalidFreeError, OutOfMemoryError,
  checkInteger, hex,
} from '../errors/index.js';
import type { BuddyAllocator } from '../buddy/index.js';
import type { Memory } from '../memory/index.js';
import * as layout from './layout.js';
import { SlabSpace } from './space.js';

// Hot-path copies of the layout constants (why: src/memory/layout-copies.ts),
// proved equal to their definitions by checkLayoutCopies() below.
const C_ALIGN = 6;
const C_EMPTY = 11;
const C_FLAGS = 1;
const C_FP_OFFSET = 5;
const C_FULL = 10;
const C_MIN_EMPTY = 17;
const C_NAME = 24;
const C_NAME_BYTES = 24;
const C_N_EMPTY = 14;
const C_N_FULL = 13;
const C_N_PARTIAL = 12;
const C_OBJS = 8;
const C_OBJ_OFFSET = 4;
const C_ORDER = 7;
const C_PARTIAL = 9;
const C_SECRET = 16;
const C_SIZE = 2;
const C_SLABS_FREED = 21;
const C_SLABS_MADE = 20;
const C_STRIDE = 3;
const CACHE_WORDS = 32;
const FREE_TAG = 1179796805;
const F_CHECKS = 8;
const F_CTOR = 16;
const F_HARDENED = 4;
const F_POISON = 1;
const F_RED_ZONE = 2;
const PAGE_WORDS = 8;
const POISON_END = 165;
const POISON_FREE = 107;
const P_FREELIST = 0;
const P_INFO = 1;
const P_NEXT = 2;
const P_PREV = 3;
const P_UNUSED = 4;
const EXTEND_SLOTS = 16;
const RED_ACTIVE = 204;
const RED_INACTIVE = 187;
const RED_ZONE_BYTES = 8;
const TAIL_MARK = 65535;
checkLayoutCopies(layout, { C_ALIGN, C_EMPTY, C_FLAGS, C_FP_OFFSET, C_FULL, C_MIN_EMPTY, C_NAME, C_NAME_BYTES, C_N_EMPTY, C_N_FULL, C_N_PARTIAL, C_OBJS, C_OBJ_OFFSET, C_ORDER, C_PARTIAL, C_SECRET, C_SIZE, C_SLABS_FREED, C_SLABS_MADE, C_STRIDE, CACHE_WORDS, FREE_TAG, F_CHECKS, F_CTOR, F_HARDENED, F_POISON, F_RED_ZONE, PAGE_WORDS, POISON_END, POISON_FREE, P_FREELIST, P_INFO, P_NEXT, P_PREV, P_UNUSED, EXTEND_SLOTS, RED_ACTIVE, RED_INACTIVE, RED_ZONE_BYTES, TAIL_MARK });


/** Debug options (SLUB's slub_debug letters: P poison, Z red zone, F checks). */
export interface SlabDebugOptions {
  /** Fill free objects with 0x6b (last byte 0xa5); check on alloc. */
  poison?: boolean;
  /** 0xcc red zones around each object; check on free. */
  redZone?: boolean;
  /** Sanity checks: double free by freelist walk, free pointer validity. */
  checks?: boolean;
  /** Store free pointers XORed with a per-cache secret and the slot address. */
  hardened?: boolean;
}

/** Options of {@link SlabCache}. */
export interface SlabCacheOptions {
  /** Name shown by slabinfo (at most 24 bytes are kept in the buffer). */
  name: string;
  /** Object size in bytes. */
  size: number;
  /** Object alignment, a power of two (default 8, at least 8). */
  align?: number;
  /** Called once per object when a slab is made, as the kernel's ctor. */
  ctor?: (addr: number) => void;
  /** `true` turns on every check; an object chooses. */
  debug?: boolean | SlabDebugOptions;
  /** Slab order (pages = 2^order); default: the smallest with waste under 1/8. */
  order?: number;
  /** Empty slabs kept by free() for reuse instead of going back to the buddy (default 1). */
  minEmpty?: number;
}

/** Counters of a cache. */
export interface SlabStats {
  name: string;
  /** Object size asked for. */
  objectSize: number;
  /** Bytes per slot (object, padding, red zones, free pointer). */
  stride: number;
  objectsPerSlab: number;
  pagesPerSlab: number;
  slabs: number;
  partialSlabs: number;
  fullSlabs: number;
  emptySlabs: number;
  activeObjects: number;
  totalObjects: number;
  /** Slabs taken from the buddy since the cache was made. */
  slabsMade: number;
  /** Slabs given back to the buddy since the cache was made. */
  slabsFreed: number;
}

/** Which list a slab is on, as {@link SlabCache.forEachSlab} reports it. */
export type SlabList = 'partial' | 'full' | 'empty';

const NIL = -1;

/**
 * A cache of equal-size objects carved from buddy pages.
 *
 * @example
 * ```ts
 * const buddy = new BuddyAllocator({ pages: 64 });
 * const inodes = new SlabCache(buddy, { name: 'inode', size: 96 });
 * const a = inodes.alloc();
 * inodes.free(a);
 * inodes.shrink();          // empty slabs go back to the buddy
 * ```
 */
export class SlabCache {
  /** Name shown by slabinfo. */
  readonly name: string;
  /** Object size asked for. */
  readonly size: number;
  /** Bytes per slot. */
  readonly stride: number;
  /** Object alignment. */
  readonly align: number;
  /** Slab order: a slab is 2^order pages. */
  readonly order: number;
  /** Objects per slab. */
  readonly objectsPerSlab: number;
  /** The buddy the slabs come from. */
  readonly buddy: BuddyAllocator;
  /** The Memory the objects live in. */
  readonly memory: Memory;
  /** This cache's id in its slab space. */
  readonly id: number;
  /** Debug flags (F_* of layout.ts); 0 = the fast path only. */
  readonly flags: number;

  private readonly space: SlabSpace;
  private readonly c: number; // u32 index of the cache descriptor
  private readonly pt: number; // u32 index of the page table
  /** Offset of the object in its slot (the left red zone; 0 without red zones). */
  readonly objOffset: number;
  /** Offset of the free pointer in its slot (0, or after the object and right red zone). */
  readonly fpOffset: number;
  private readonly secret: number;
  private readonly debugOn: boolean;
  private readonly ctor: ((addr: number) => void) | undefined;
  private readonly base: number;
  private readonly shift: number;
  private readonly maxPages: number;
  /**
   * (1 + 2^-30) / stride: for 0 <= rel < 2^30, floor(rel * inverse) is
   * exactly floor(rel / stride) (the excess stays below 1/stride), and a
   * multiply is cheaper than an integer division on the free path.
   */
  private readonly inverse: number;

  /**
   * Creates a cache on `buddy` (which must have bytes, not offsets only).
   *
   * @throws InvalidArgumentError on a bad size, alignment or order.
   */
  constructor(buddy: BuddyAllocator, options: SlabCacheOptions) {
    const size = checkInteger(options.size, 'object size', 1, buddy.pageSize << Math.min(buddy.maxOrder, 10));
    const align = Math.max(8, options.align ?? 8);
    if (!Number.isInteger(align) || (align & (align - 1)) !== 0 || align > buddy.pageSize) {
      throw new InvalidArgumentError(`align must be a power of two up to the page size, got ${String(options.align)}`);
    }
    const d = options.debug;
    const dbg: SlabDebugOptions = d === true ? { poison: true, redZone: true, checks: true, hardened: true } : d === false || d === undefined ? {} : d;
    let flags = 0;
    if (dbg.poison === true) flags |= F_POISON;
    if (dbg.redZone === true) flags |= F_RED_ZONE;
    if (dbg.checks === true) flags |= F_CHECKS;
    if (dbg.hardened === true) flags |= F_HARDENED;
    if (options.ctor !== undefined) flags |= F_CTOR;

    // Slot layout.
    let objOffset = 0;
    let fpOffset = 0;
    let stride: number;
    if ((flags & (F_POISON | F_RED_ZONE | F_CTOR)) !== 0) {
      const rz = (flags & F_RED_ZONE) !== 0 ? RED_ZONE_BYTES : 0;
      objOffset = alignUp(rz, align);
      fpOffset = alignUp(objOffset + size + rz, 4);
      stride = alignUp(fpOffset + 8, align);
    } else {
      stride = alignUp(Math.max(size, 8), align);
    }
    const order = options.order !== undefined ? checkInteger(options.order, 'order', 0, buddy.maxOrder) : calculateOrder(stride, buddy.pageSize, buddy.maxOrder);
    const objs = Math.floor((buddy.pageSize << order) / stride);
    if (objs < 1) throw new InvalidArgumentError(`object of ${stride} bytes does not fit a slab of order ${order}`);
    if (objs >= TAIL_MARK) throw new InvalidArgumentError(`too many objects per slab (${objs}); use a smaller order`);

    const space = SlabSpace.of(buddy);
    this.space = space;
    this.id = space.newCacheId();
    this.name = options.name;
    this.size = size;
    this.stride = stride;
    this.align = align;
    this.order = order;
    this.objectsPerSlab = objs;
    this.buddy = buddy;
    this.memory = space.memory;
    this.flags = flags;
    this.c = space.cacheWords(this.id);
    this.pt = space.pageTable;
    this.objOffset = objOffset;
    this.fpOffset = fpOffset;
    this.secret = (flags & F_HARDENED) !== 0 ? (Math.random() * 0x100000000) | 0 : 0;
    this.debugOn = (flags & (F_POISON | F_RED_ZONE | F_CHECKS | F_HARDENED)) !== 0;
    this.ctor = options.ctor;
    this.base = buddy.base;
    this.shift = buddy.pageShift;
    this.maxPages = buddy.maxPages;
    this.inverse = (1 + 2 ** -30) / stride;

    const mem = this.memory;
    const u32 = mem.u32;
    const i32 = mem.i32;
    const c = this.c;
    u32.fill(0, c, c + CACHE_WORDS);
    u32[c + C_FLAGS] = flags;
    u32[c + C_SIZE] = size;
    u32[c + C_STRIDE] = stride;
    u32[c + C_OBJ_OFFSET] = objOffset;
    u32[c + C_FP_OFFSET] = fpOffset;
    u32[c + C_ALIGN] = align;
    u32[c + C_ORDER] = order;
    u32[c + C_OBJS] = objs;
    i32[c + C_PARTIAL] = NIL;
    i32[c + C_FULL] = NIL;
    i32[c + C_EMPTY] = NIL;
    i32[c + C_SECRET] = this.secret;
    u32[c + C_MIN_EMPTY] = checkInteger(options.minEmpty ?? 1, 'minEmpty', 0, 1 << 20);
    const name = new TextEncoder().encode(options.name).subarray(0, C_NAME_BYTES);
    mem.u8.set(name, (c + C_NAME) * 4);
  }

  /**
   * Reopens cache `id` of `space` from its descriptor in the buffer (for
   * another worker, or a copy of the buffer). A ctor is not stored in the
   * buffer: pass it again if the cache has one.
   */
  static attach(space: SlabSpace, id: number, ctor?: (addr: number) => void): SlabCache {
    const u32 = space.memory.u32;
    const c = space.cacheWords(id);
    if (id >= space.cacheCount || u32[c + C_STRIDE] === 0) throw new InvalidArgumentError(`no slab cache ${id} in this slab space`);
    const self = Object.create(SlabCache.prototype) as SlabCache;
    const nameBytes = space.memory.u8.slice((c + C_NAME) * 4, (c + C_NAME) * 4 + C_NAME_BYTES);
    const flags = u32[c + C_FLAGS]!;
    const stride = u32[c + C_STRIDE]!;
    const fields: Record<string, unknown> = {
      name: new TextDecoder().decode(nameBytes.subarray(0, nameBytes.indexOf(0) < 0 ? C_NAME_BYTES : nameBytes.indexOf(0))),
      size: u32[c + C_SIZE],
      stride,
      align: u32[c + C_ALIGN],
      order: u32[c + C_ORDER],
      objectsPerSlab: u32[c + C_OBJS],
      buddy: space.buddy,
      memory: space.memory,
      id,
      flags,
      space,
      c,
      pt: space.pageTable,
      objOffset: u32[c + C_OBJ_OFFSET],
      fpOffset: u32[c + C_FP_OFFSET],
      secret: space.memory.i32[c + C_SECRET],
      debugOn: (flags & (F_POISON | F_RED_ZONE | F_CHECKS | F_HARDENED)) !== 0,
      ctor,
      base: space.buddy.base,
      shift: space.buddy.pageShift,
      maxPages: space.buddy.maxPages,
      inverse: (1 + 2 ** -30) / stride,
    };
    Object.assign(self, fields);
    return self;
  }

  // ------------------------------------------------------------ fast paths

  /**
   * Allocates one object and returns its address. `requested` (the size a
   * caller such as kmalloc asked for) only goes into an OutOfMemoryError.
   *
   * @throws OutOfMemoryError if a new slab is needed and the buddy has none
   * (the cache is unchanged).
   * @throws HeapCorruptionError (debug) if a free object was written to.
   */
  alloc(requested?: number): number {
    const mem = this.memory;
    mem.sync();
    let i32 = mem.i32;
    const c = this.c;
    let pg = i32[c + C_PARTIAL]!;
    if (pg < 0) {
      pg = this.refill(requested ?? this.size);
      i32 = mem.i32; // a new slab may have grown (and, for wasm, replaced) the buffer
    }
    const d = this.pt + pg * PAGE_WORDS;
    let slot = i32[d + P_FREELIST]!;
    if (slot === 0) slot = this.extend(d);
    const fp = (slot + this.fpOffset) >> 2;
    let next = i32[fp]!;
    if (this.debugOn) next = this.checkAlloc(slot, next, pg);
    i32[d + P_FREELIST] = next;
    i32[fp + 1] = 0; // clear the free tag
    const info = i32[d + P_INFO]! + 0x10000;
    i32[d + P_INFO] = info;
    if (info >>> 16 === this.objectsPerSlab) this.move(pg, C_PARTIAL, C_FULL);
    return slot + this.objOffset;
  }

  /**
   * Frees an object: pushes it on its slab's freelist and moves the slab
   * between lists (full -> partial, partial -> empty, empty -> buddy when more
   * than minEmpty empty slabs are kept).
   *
   * @throws InvalidFreeError if `addr` is not an object of this cache
   * ("Invalid object pointer"); DoubleFreeError if it is already free
   * ("Object already free"); HeapCorruptionError (debug) on a damaged red zone.
   * The cache is unchanged when it throws.
   */
  free(addr: number): void {
    const mem = this.memory;
    mem.sync();
    const off = addr - this.base;
    const pg = off >>> this.shift;
    // Pages past the buddy's end have zeroed descriptors, so the cache check
    // below also rejects them; maxPages bounds the table itself.
    if (!(off >= 0 && pg < this.maxPages)) this.badPointer(addr, 'outside the buddy');
    const info = mem.i32[this.pt + pg * PAGE_WORDS + P_INFO]!;
    if ((info & 0xffff) !== this.id + 1) this.badPointer(addr, 'not in a slab of this cache');
    this.freeInPage(addr, pg, info);
  }

  /**
   * free() once the owner is known: `info` is the descriptor word of page
   * `pg` (addr's page), and it names this cache. Kmalloc, which reads that
   * word to route a free, calls this so that the lookup is done once.
   * Same checks and errors as {@link free} from here on.
   *
   * @internal
   */
  freeInPage(addr: number, pg: number, info: number): void {
    const i32 = this.memory.i32;
    let d = this.pt + pg * PAGE_WORDS;
    if (info >>> 16 === TAIL_MARK) {
      pg = i32[d + P_FREELIST]!;
      d = this.pt + pg * PAGE_WORDS;
      info = i32[d + P_INFO]!;
    }
    const slot = addr - this.objOffset;
    const rel = slot - (this.base + (pg << this.shift));
    // rel / stride without a division: see `inverse` (exact for slabs < 1 GiB).
    const index = Math.floor(rel * this.inverse);
    if (index * this.stride !== rel || rel < 0 || index >= this.objectsPerSlab) {
      this.badPointer(addr, 'not the start of an object');
    }
    const fp = (slot + this.fpOffset) >> 2;
    const unused = i32[d + P_UNUSED]!;
    if (unused !== 0 && slot >= unused) this.badPointer(addr, 'object never allocated');
    if (i32[fp + 1] === (i32[fp]! ^ FREE_TAG ^ this.secret) && this.onFreelist(pg, slot)) {
      throw new DoubleFreeError(`${this.name}: free(${hex(addr)}): Object already free`, addr);
    }
    if (this.debugOn) this.checkFree(slot, pg);
    const head = i32[d + P_FREELIST]!;
    const enc = this.secret === 0 ? head : head ^ this.secret ^ (slot + this.fpOffset);
    i32[fp] = enc;
    i32[fp + 1] = enc ^ FREE_TAG ^ this.secret;
    i32[d + P_FREELIST] = slot;
    info -= 0x10000;
    i32[d + P_INFO] = info;
    const inuse = info >>> 16;
    if (inuse === 0) this.slabEmptied(pg, this.objectsPerSlab === 1 ? C_FULL : C_PARTIAL);
    else if (inuse === this.objectsPerSlab - 1) this.move(pg, C_FULL, C_PARTIAL);
  }

  // ----------------------------------------------------------- slow paths

  /** Moves slab `pg` from list `from` to list `to` (C_PARTIAL/C_FULL/C_EMPTY). */
  private move(pg: number, from: number, to: number): void {
    this.unlink(pg, from);
    this.pushList(pg, to);
  }

  private pushList(pg: number, list: number): void {
    const i32 = this.memory.i32;
    const c = this.c;
    const d = this.pt + pg * PAGE_WORDS;
    const head = i32[c + list]!;
    i32[d + P_NEXT] = head;
    i32[d + P_PREV] = NIL;
    if (head !== NIL) i32[this.pt + head * PAGE_WORDS + P_PREV] = pg;
    i32[c + list] = pg;
    const n = list - C_PARTIAL + C_N_PARTIAL;
    i32[c + n] = i32[c + n]! + 1;
  }

  private unlink(pg: number, list: number): void {
    const i32 = this.memory.i32;
    const c = this.c;
    const d = this.pt + pg * PAGE_WORDS;
    const next = i32[d + P_NEXT]!;
    const prev = i32[d + P_PREV]!;
    if (prev !== NIL) i32[this.pt + prev * PAGE_WORDS + P_NEXT] = next;
    else i32[c + list] = next;
    if (next !== NIL) i32[this.pt + next * PAGE_WORDS + P_PREV] = prev;
    const n = list - C_PARTIAL + C_N_PARTIAL;
    i32[c + n] = i32[c + n]! - 1;
  }

  /** A slab on list `from` became empty: keep it (up to minEmpty) or give it back. */
  private slabEmptied(pg: number, from: number): void {
    const i32 = this.memory.i32;
    this.unlink(pg, from);
    // Keep it (up to minEmpty) only when no partial slab is left to serve the
    // next alloc, as SLUB keeps slabs while a node has few partial ones: that
    // stops a cache swinging around a slab boundary from making and
    // releasing the same slab over and over, without holding idle pages.
    if (i32[this.c + C_N_PARTIAL] === 0 && i32[this.c + C_N_EMPTY]! < i32[this.c + C_MIN_EMPTY]!) this.pushList(pg, C_EMPTY);
    else this.releaseSlab(pg);
  }

  /** No partial slab: reuse an empty one or make a new one; returns its page. */
  private refill(requested: number): number {
    const i32 = this.memory.i32;
    const c = this.c;
    let pg = i32[c + C_EMPTY]!;
    if (pg >= 0) {
      this.move(pg, C_EMPTY, C_PARTIAL);
      return pg;
    }
    let addr: number;
    try {
      addr = this.buddy.allocPages(1 << this.order);
    } catch (e) {
      if (e instanceof OutOfMemoryError) {
        throw new OutOfMemoryError(`${this.name}: no pages for a new slab of order ${this.order} (request of ${requested} bytes)`, requested);
      }
      throw e;
    }
    this.memory.sync();
    pg = (addr - this.base) >>> this.shift;
    this.initSlab(pg, addr);
    this.pushList(pg, C_PARTIAL);
    const u32 = this.memory.u32;
    u32[c + C_SLABS_MADE] = u32[c + C_SLABS_MADE]! + 1;
    return pg;
  }

  /** Lays out a new slab: page descriptors, the freelist in address order, debug bytes, ctor. */
  private initSlab(pg: number, addr: number): void {
    const mem = this.memory;
    const i32 = mem.i32;
    const id1 = this.id + 1;
    const pages = 1 << this.order;
    const d = this.pt + pg * PAGE_WORDS;
    i32[d + P_INFO] = id1;
    for (let t = 1; t < pages; t++) {
      const dt = this.pt + (pg + t) * PAGE_WORDS;
      i32[dt + P_FREELIST] = pg;
      i32[dt + P_INFO] = (TAIL_MARK << 16) | id1;
    }
    i32[d + P_FREELIST] = 0;
    i32[d + P_UNUSED] = addr;
    if (this.flags === 0) return; // the freelist is built lazily by extend()
    // Debug and ctor caches prepare every object now, as the kernel does.
    this.extendBy(d, this.objectsPerSlab);
    if (this.ctor !== undefined) {
      for (let i = 0; i < this.objectsPerSlab; i++) this.ctor(addr + i * this.stride + this.objOffset);
    }
  }

  /** The slab's freelist is empty: put the next few never-used slots on it. */
  private extend(d: number): number {
    this.extendBy(d, EXTEND_SLOTS);
    return this.memory.i32[d + P_FREELIST]!;
  }

  /** Links up to `n` never-used slots (in address order) onto the empty freelist of descriptor `d`. */
  private extendBy(d: number, n: number): void {
    const i32 = this.memory.i32;
    const first = i32[d + P_UNUSED]!;
    const pg = (d - this.pt) / PAGE_WORDS;
    const end = this.base + (pg << this.shift) + this.objectsPerSlab * this.stride;
    const stride = this.stride;
    const count = Math.min(n, (end - first) / stride);
    for (let i = 0; i < count; i++) {
      const slot = first + i * stride;
      const next = i + 1 < count ? slot + stride : 0;
      const fpAddr = slot + this.fpOffset;
      const enc = this.secret === 0 ? next : next ^ this.secret ^ fpAddr;
      i32[fpAddr >> 2] = enc;
      i32[(fpAddr >> 2) + 1] = enc ^ FREE_TAG ^ this.secret;
      if ((this.flags & F_POISON) !== 0) this.poison(slot);
      if ((this.flags & F_RED_ZONE) !== 0) this.paintRedZones(slot, RED_INACTIVE);
    }
    const rest = first + count * stride;
    i32[d + P_UNUSED] = rest >= end ? 0 : rest;
    i32[d + P_FREELIST] = first;
  }

  /** Gives slab `pg` (not on any list) back to the buddy. */
  private releaseSlab(pg: number): void {
    const i32 = this.memory.i32;
    const pages = 1 << this.order;
    for (let t = 0; t < pages; t++) {
      const dt = this.pt + (pg + t) * PAGE_WORDS;
      i32[dt + P_FREELIST] = 0;
      i32[dt + P_INFO] = 0;
      i32[dt + P_UNUSED] = 0;
    }
    this.buddy.free(this.base + (pg << this.shift));
    const u32 = this.memory.u32;
    u32[this.c + C_SLABS_FREED] = u32[this.c + C_SLABS_FREED]! + 1;
  }

  /** True when `slot` is on slab `pg`'s freelist (walks it: O(objects)). */
  private onFreelist(pg: number, slot: number): boolean {
    const i32 = this.memory.i32;
    let p = i32[this.pt + pg * PAGE_WORDS + P_FREELIST]!;
    for (let n = 0; p !== 0 && n <= this.objectsPerSlab; n++) {
      if (p === slot) return true;
      const fpAddr = p + this.fpOffset;
      const raw = i32[fpAddr >> 2]!;
      p = this.secret === 0 ? raw : raw ^ this.secret ^ fpAddr;
    }
    return false;
  }

  private badPointer(addr: number, why: string): never {
    throw new InvalidFreeError(`${this.name}: free(${hex(addr)}): Invalid object pointer (${why})`, addr);
  }

  // ---------------------------------------------------------------- debug

  /** Debug checks on alloc; returns the decoded next pointer. */
  private checkAlloc(slot: number, raw: number, pg: number): number {
    const fpAddr = slot + this.fpOffset;
    const next = this.secret === 0 ? raw : raw ^ this.secret ^ fpAddr;
    const i32 = this.memory.i32;
    if ((this.flags & (F_CHECKS | F_HARDENED)) !== 0 && next !== 0) {
      const start = this.base + (pg << this.shift);
      const rel = next - start;
      if (rel < 0 || rel >= this.objectsPerSlab * this.stride || rel % this.stride !== 0) {
        throw new HeapCorruptionError(
          `${this.name}: Freepointer corrupt in object ${hex(slot + this.objOffset)}: next free object ${hex(next)} is not in slab ${hex(start)}`,
          slot + this.objOffset,
        );
      }
    }
    if ((this.flags & F_CHECKS) !== 0 && i32[(fpAddr >> 2) + 1] !== (raw ^ FREE_TAG ^ this.secret)) {
      throw new HeapCorruptionError(`${this.name}: free object ${hex(slot + this.objOffset)}: free tag overwritten`, slot + this.objOffset);
    }
    if ((this.flags & F_POISON) !== 0) this.checkPoison(slot);
    if ((this.flags & F_RED_ZONE) !== 0) {
      this.checkRedZones(slot, RED_INACTIVE);
      this.paintRedZones(slot, RED_ACTIVE);
    }
    return next;
  }

  /** Debug checks on free, then poisoning. */
  private checkFree(slot: number, pg: number): void {
    if ((this.flags & F_CHECKS) !== 0 && this.onFreelist(pg, slot)) {
      throw new DoubleFreeError(`${this.name}: free(${hex(slot + this.objOffset)}): Object already free`, slot + this.objOffset);
    }
    if ((this.flags & F_RED_ZONE) !== 0) {
      this.checkRedZones(slot, RED_ACTIVE);
      this.paintRedZones(slot, RED_INACTIVE);
    }
    if ((this.flags & F_POISON) !== 0) this.poison(slot);
  }

  private poison(slot: number): void {
    const u8 = this.memory.u8;
    const a = slot + this.objOffset;
    u8.fill(POISON_FREE, a, a + this.size - 1);
    u8[a + this.size - 1] = POISON_END;
  }

  private checkPoison(slot: number): void {
    const u8 = this.memory.u8;
    const a = slot + this.objOffset;
    const end = a + this.size - 1;
    for (let i = a; i <= end; i++) {
      const want = i === end ? POISON_END : POISON_FREE;
      if (u8[i] !== want) {
        throw new HeapCorruptionError(
          `${this.name}: Poison overwritten in free object ${hex(a)} at ${hex(i)} (offset ${i - a}): 0x${u8[i]!.toString(16)} instead of 0x${want.toString(16)}`,
          i,
        );
      }
    }
  }

  private paintRedZones(slot: number, byte: number): void {
    const u8 = this.memory.u8;
    const a = slot + this.objOffset;
    u8.fill(byte, a - RED_ZONE_BYTES, a);
    u8.fill(byte, a + this.size, a + this.size + RED_ZONE_BYTES);
  }

  private checkRedZones(slot: number, byte: number): void {
    const u8 = this.memory.u8;
    const a = slot + this.objOffset;
    for (let i = a - RED_ZONE_BYTES; i < a; i++) {
      if (u8[i] !== byte) throw new HeapCorruptionError(`${this.name}: Left Redzone overwritten at ${hex(i)} before object ${hex(a)}: 0x${u8[i]!.toString(16)} instead of 0x${byte.toString(16)}`, i);
    }
    for (let i = a + this.size; i < a + this.size + RED_ZONE_BYTES; i++) {
      if (u8[i] !== byte) throw new HeapCorruptionError(`${this.name}: Right Redzone overwritten at ${hex(i)} after object ${hex(a)}: 0x${u8[i]!.toString(16)} instead of 0x${byte.toString(16)}`, i);
    }
  }

  // ------------------------------------------------------- bulk, shrink, info

  /**
   * Allocates `n` objects into `out` (all or nothing, as kmem_cache_alloc_bulk).
   * @returns n
   */
  allocBulk(n: number, out: Uint32Array | number[]): number {
    checkInteger(n, 'count', 0, out.length);
    let i = 0;
    try {
      for (; i < n; i++) out[i] = this.alloc();
    } catch (e) {
      for (let j = 0; j < i; j++) this.free(out[j]!);
      throw e;
    }
    return n;
  }

  /** Frees the first `n` addresses of `addrs` (default all). */
  freeBulk(addrs: ArrayLike<number>, n = addrs.length): void {
    for (let i = 0; i < n; i++) this.free(addrs[i]!);
  }

  /**
   * Gives every empty slab back to the buddy (kmem_cache_shrink), keeping
   * `keep` of them (default 0). Returns the number of pages given back.
   */
  shrink(keep = 0): number {
    const i32 = this.memory.i32;
    let pages = 0;
    while (i32[this.c + C_N_EMPTY]! > keep) {
      const pg = i32[this.c + C_EMPTY]!;
      this.unlink(pg, C_EMPTY);
      this.releaseSlab(pg);
      pages += 1 << this.order;
    }
    return pages;
  }

  /** Counters. */
  stats(): SlabStats {
    const i32 = this.memory.i32;
    const c = this.c;
    const partial = i32[c + C_N_PARTIAL]!;
    const full = i32[c + C_N_FULL]!;
    const empty = i32[c + C_N_EMPTY]!;
    const slabs = partial + full + empty;
    return {
      name: this.name,
      objectSize: this.size,
      stride: this.stride,
      objectsPerSlab: this.objectsPerSlab,
      pagesPerSlab: 1 << this.order,
      slabs,
      partialSlabs: partial,
      fullSlabs: full,
      emptySlabs: empty,
      activeObjects: this.countActive(),
      totalObjects: slabs * this.objectsPerSlab,
      slabsMade: i32[c + C_SLABS_MADE]! >>> 0,
      slabsFreed: i32[c + C_SLABS_FREED]! >>> 0,
    };
  }

  /** Objects in use: the sum of the inuse counts of the partial and full slabs (no counter on the fast path). */
  private countActive(): number {
    const i32 = this.memory.i32;
    let n = 0;
    for (let pg = i32[this.c + C_PARTIAL]!; pg !== NIL; pg = i32[this.pt + pg * PAGE_WORDS + P_NEXT]!) n += i32[this.pt + pg * PAGE_WORDS + P_INFO]! >>> 16;
    return n + i32[this.c + C_N_FULL]! * this.objectsPerSlab;
  }

  /** Bytes of buddy pages this cache holds now. */
  footprint(): number {
    return this.stats().slabs * (this.buddy.pageSize << this.order);
  }

  /** This cache's `/proc/slabinfo` (version 2.1) row. */
  slabinfoRow(): string {
    const s = this.stats();
    const active = s.partialSlabs + s.fullSlabs;
    return (
      `${s.name.padEnd(17)} ${pad(s.activeObjects, 6)} ${pad(s.totalObjects, 6)} ${pad(s.stride, 6)} ${pad(s.objectsPerSlab, 4)} ${pad(s.pagesPerSlab, 4)}` +
      ` : tunables ${pad(0, 4)} ${pad(0, 4)} ${pad(0, 4)} : slabdata ${pad(active, 6)} ${pad(s.slabs, 6)} ${pad(0, 6)}`
    );
  }

  /** Calls `visit(slabAddr, inuse, list)` for each slab (partial, full, then empty). */
  forEachSlab(visit: (addr: number, inuse: number, list: SlabList) => void): void {
    const i32 = this.memory.i32;
    const lists: Array<[number, SlabList]> = [[C_PARTIAL, 'partial'], [C_FULL, 'full'], [C_EMPTY, 'empty']];
    for (const [list, name] of lists) {
      for (let pg = i32[this.c + list]!; pg !== NIL; pg = i32[this.pt + pg * PAGE_WORDS + P_NEXT]!) {
        visit(this.base + (pg << this.shift), i32[this.pt + pg * PAGE_WORDS + P_INFO]! >>> 16, name);
      }
    }
  }

  /** Addresses of the free objects of the slab at `slabAddr`, in freelist order. */
  freeObjects(slabAddr: number): number[] {
    const i32 = this.memory.i32;
    const pg = (slabAddr - this.base) >>> this.shift;
    const out: number[] = [];
    let p = i32[this.pt + pg * PAGE_WORDS + P_FREELIST]!;
    while (p !== 0 && out.length <= this.objectsPerSlab) {
      out.push(p + this.objOffset);
      const fpAddr = p + this.fpOffset;
      const raw = i32[fpAddr >> 2]!;
      p = this.secret === 0 ? raw : raw ^ this.secret ^ fpAddr;
    }
    // Slots never handed out yet are free too.
    const unused = i32[this.pt + pg * PAGE_WORDS + P_UNUSED]!;
    if (unused !== 0) {
      const end = slabAddr + this.objectsPerSlab * this.stride;
      for (let q = unused; q < end; q += this.stride) out.push(q + this.objOffset);
    }
    return out;
  }

  /** True when `addr` is an allocated object of this cache (O(1) but for a rare freelist walk). */
  isAllocated(addr: number): boolean {
    const i32 = this.memory.i32;
    const off = addr - this.base;
    let pg = off >>> this.shift;
    if (!(off >= 0 && pg < this.maxPages)) return false;
    const info = i32[this.pt + pg * PAGE_WORDS + P_INFO]!;
    if ((info & 0xffff) !== this.id + 1) return false;
    if (info >>> 16 === TAIL_MARK) pg = i32[this.pt + pg * PAGE_WORDS + P_FREELIST]!;
    const slot = addr - this.objOffset;
    const rel = slot - (this.base + (pg << this.shift));
    if (rel % this.stride !== 0 || rel < 0 || rel >= this.objectsPerSlab * this.stride) return false;
    const unused = i32[this.pt + pg * PAGE_WORDS + P_UNUSED]!;
    if (unused !== 0 && slot >= unused) return false;
    // O(1) unless the free tag is present (then the freelist walk decides).
    const fp = (slot + this.fpOffset) >> 2;
    if (i32[fp + 1] !== (i32[fp]! ^ FREE_TAG ^ this.secret)) return true;
    return !this.onFreelist(pg, slot);
  }
}

/**
 * SLUB's calculate_order, simplified: the smallest order whose slab wastes
 * at most 1/8 of itself and holds at least 4 objects (or the least wasteful
 * order up to 3 when none does).
 */
export function calculateOrder(stride: number, pageSize: number, maxOrder: number): number {
  const top = Math.min(maxOrder, 10);
  for (let order = 0; order <= top; order++) {
    const bytes = pageSize << order;
    const objs = Math.floor(bytes / stride);
    if (objs >= 4 && (bytes - objs * stride) * 8 <= bytes) return order;
  }
  let best = 0;
  let bestWaste = 2;
  for (let order = 0; order <= top; order++) {
    const bytes = pageSize << order;
    const objs = Math.floor(bytes / stride);
    if (objs < 1) continue;
    const waste = (bytes - objs * stride) / bytes;
    if (waste < bestWaste - 1e-9) {
      best = order;
      bestWaste = waste;
    }
  }
  return best;
}

function alignUp(x: number, a: number): number {
  return (x + a - 1) & ~(a - 1);
}

function pad(n: number, w: number): string {
  return String(n).padStart(w);
}
