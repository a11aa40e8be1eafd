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
 * inuse count says; active = sum of inuse. checkInvariants() checks them all,
 * and attach runs the same check before it trusts a buffer.
 *
 * Construction: `new SlabCache(buddy, options)` checks the options, then
 * writes a descriptor; `SlabCache.attach(memory)` reads and checks one. Both
 * resolve a {@link SlabCacheState} and hand it to the one constructor.
 * Boundary: every public method checks its arguments first (a number that is
 * not a whole number in range, a string, a BigInt, an object: an
 * InvalidArgumentError, nothing changed) and syncs the memory's views.
 * Addresses are u32 words and unsigned shifts, right up to 2^32. alloc checks
 * a free pointer (tag, slab, grid) before it follows it, even without debug.
 *
 * @module
 */
import { checkLayoutCopies } from '../memory/layout-copies.js';
import {
  DoubleFreeError, HeapCorruptionError, InvalidArgumentError, InvalidFreeError, MemkitError, OutOfMemoryError,
  argumentError, checkInteger, checkOptions, hex,
} from '../errors/index.js';
import { BuddyAllocator } from '../buddy/index.js';
import { HeaderSlot, Memory, readSlot, writeSlot } from '../memory/index.js';
import * as layout from './layout.js';
import {
  C_N_EMPTY, C_N_FULL, C_N_PARTIAL, MAX_CACHES, SPACE_CONTROL_WORDS, SPACE_MAGIC, S_CACHES, S_CACHE_TABLE,
  S_MAGIC, S_MAX_PAGES, S_PAGE_TABLE,
} from './layout.js';
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
const FREE_TAG = 0x46524545;
const F_CHECKS = 8;
const F_CTOR = 16;
const F_HARDENED = 4;
const F_POISON = 1;
const F_RED_ZONE = 2;
const PAGE_WORDS = 8;
const POISON_END = 0xa5;
const POISON_FREE = 0x6b;
const P_FREELIST = 0;
const P_INFO = 1;
const P_NEXT = 2;
const P_PREV = 3;
const P_UNUSED = 4;
const EXTEND_SLOTS = 16;
const RED_ACTIVE = 0xcc;
const RED_INACTIVE = 0xbb;
const RED_ZONE_BYTES = 8;
const TAIL_MARK = 0xffff;
checkLayoutCopies(layout, { C_ALIGN, C_EMPTY, C_FLAGS, C_FP_OFFSET, C_FULL, C_MIN_EMPTY, C_NAME, C_NAME_BYTES, C_OBJS, C_OBJ_OFFSET, C_ORDER, C_PARTIAL, C_SECRET, C_SIZE, C_SLABS_FREED, C_SLABS_MADE, C_STRIDE, CACHE_WORDS, FREE_TAG, F_CHECKS, F_CTOR, F_HARDENED, F_POISON, F_RED_ZONE, PAGE_WORDS, POISON_END, POISON_FREE, P_FREELIST, P_INFO, P_NEXT, P_PREV, P_UNUSED, EXTEND_SLOTS, RED_ACTIVE, RED_INACTIVE, RED_ZONE_BYTES, TAIL_MARK });

/** Every flag a cache descriptor may carry. */
const ALL_FLAGS = F_POISON | F_RED_ZONE | F_CHECKS | F_HARDENED | F_CTOR;
/** The largest slab: 1 GiB (`inverse` below is exact up to there). */
const MAX_SLAB_SHIFT = 30;
const OPTION_NAMES = ['name', 'size', 'align', 'ctor', 'debug', 'order', 'minEmpty'] as const;
const DEBUG_NAMES = ['poison', 'redZone', 'checks', 'hardened'] as const;
const ATTACH_NAMES = ['id', 'name', 'ctor'] as const;

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

/** Options of {@link SlabCache.attach}: which cache of the slab space to open. */
export interface SlabAttachOptions {
  /** The cache's id in its slab space ({@link SlabCache.id}); default 0, the first cache made. */
  id?: number;
  /** Open the first cache with this name instead (the name as kept in the buffer, at most 24 bytes). */
  name?: string;
  /** The cache's ctor, if it has one (a function is not stored in the buffer). */
  ctor?: (addr: number) => void;
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

/** "No slab" in a list head or link (the u32 view of -1). */
const NIL = 0xffffffff;

/**
 * The resolved state of one cache: where its descriptor is and what it
 * holds. `new SlabCache(buddy, options)` computes it by validating the
 * options and writing a fresh descriptor; `SlabCache.attach` by reading and
 * checking (fsck) one already in the buffer. Both hand it to the one
 * constructor, so a constructed and an attached cache are the same object
 * shape with the same fields.
 *
 * @internal
 */
export class SlabCacheState {
  constructor(
    readonly space: SlabSpace,
    readonly id: number,
    readonly name: string,
    readonly size: number,
    readonly align: number,
    readonly flags: number,
    readonly stride: number,
    readonly objOffset: number,
    readonly fpOffset: number,
    readonly order: number,
    readonly objs: number,
    readonly secret: number,
    readonly ctor: ((addr: number) => void) | undefined,
  ) {}
}

/**
 * A cache of equal-size objects carved from buddy pages.
 *
 * @example
 * ```ts
 * import { BuddyAllocator, SlabCache } from 'memkit';
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
  /** Offset of the object in its slot (the left red zone; 0 without red zones). */
  readonly objOffset: number;
  /** Offset of the free pointer in its slot (0, or after the object and right red zone). */
  readonly fpOffset: number;

  private readonly space: SlabSpace;
  private readonly c: number; // u32 index of the cache descriptor
  private readonly pt: number; // u32 index of the page table
  private readonly secret: number;
  private readonly debugOn: boolean;
  private readonly ctor: ((addr: number) => void) | undefined;
  private readonly base: number;
  private readonly shift: number;
  private readonly maxPages: number;
  /** Bytes of a slab's object grid (objectsPerSlab * stride). */
  private readonly span: number;
  /**
   * (1 + 2^-30) / stride: for 0 <= rel < 2^30, floor(rel * inverse) is
   * exactly floor(rel / stride) (the excess stays below 1/stride), and a
   * multiply is cheaper than an integer division on the free path.
   */
  private readonly inverse: number;

  /** @internal The one construction path: from a resolved state (see {@link SlabCacheState}). */
  constructor(state: SlabCacheState);
  /**
   * Creates a cache on `buddy` (which must have bytes, not offsets only).
   *
   * @throws InvalidArgumentError on a bad buddy or option (named in
   * `argument`); nothing is changed then.
   * @throws OutOfMemoryError if the buddy has no room for the slab space.
   */
  constructor(buddy: BuddyAllocator, options: SlabCacheOptions);
  constructor(buddy: BuddyAllocator | SlabCacheState, options?: SlabCacheOptions) {
    const s = buddy instanceof SlabCacheState ? buddy : createCache(buddy, options);
    const space = s.space;
    this.name = s.name;
    this.size = s.size;
    this.stride = s.stride;
    this.align = s.align;
    this.order = s.order;
    this.objectsPerSlab = s.objs;
    this.buddy = space.buddy;
    this.memory = space.memory;
    this.id = s.id;
    this.flags = s.flags;
    this.objOffset = s.objOffset;
    this.fpOffset = s.fpOffset;
    this.space = space;
    this.c = space.cacheWords(s.id);
    this.pt = space.pageTable;
    this.secret = s.secret;
    this.debugOn = (s.flags & (F_POISON | F_RED_ZONE | F_CHECKS | F_HARDENED)) !== 0;
    this.ctor = s.ctor;
    this.base = space.buddy.base;
    this.shift = space.buddy.pageShift;
    this.maxPages = space.buddy.maxPages;
    this.span = s.objs * s.stride;
    this.inverse = (1 + 2 ** -30) / s.stride;
  }

  /**
   * Opens a cache already laid out in `memory` (another worker's
   * SharedArrayBuffer, or a copy of the buffer): the buddy allocator and
   * the slab space are found through the memkit header, the cache by
   * `options.id` or `options.name` (default: the first cache made).
   * The state is checked first (an fsck: every descriptor word against the
   * buffer's length and against each other, every list and freelist walked
   * with a bound), O(slabs * objects).
   *
   * @throws HeapCorruptionError (with the address of the bad word) when
   * there is no slab space or no such cache, or its state is damaged.
   * @throws InvalidArgumentError for a bad `memory` or option.
   *
   * @example
   * ```ts
   * import { BuddyAllocator, Memory, SlabCache } from 'memkit';
   * const buddy = new BuddyAllocator({ pages: 64 });
   * const cache = new SlabCache(buddy, { name: 'node', size: 32 });
   * const a = cache.alloc();
   * const copy = SlabCache.attach(Memory.wrap(buddy.memory!.buffer.slice(0)), { name: 'node' });
   * copy.isAllocated(a); // true
   * ```
   */
  static attach(memory: Memory, options?: SlabAttachOptions): SlabCache;
  /** @internal For Kmalloc.attach: cache `id` of an opened slab space. */
  static attach(space: SlabSpace, id: number, ctor?: (addr: number) => void): SlabCache;
  static attach(where: Memory | SlabSpace, which?: SlabAttachOptions | number, ctor?: (addr: number) => void): SlabCache {
    if (where instanceof SlabSpace) {
      checkSpace(where.buddy, where.region);
      return new SlabCache(resolveCache(where, checkInteger(which, 'id', 0, MAX_CACHES - 1), ctor));
    }
    if (!(where instanceof Memory)) throw argumentError('memory', 'a Memory', where);
    const o = checkOptions(which as SlabAttachOptions | undefined, 'options', ATTACH_NAMES);
    if (o.ctor !== undefined && typeof o.ctor !== 'function') throw argumentError('ctor', 'a function', o.ctor);
    if (o.name !== undefined && typeof o.name !== 'string') throw argumentError('name', 'a string', o.name);
    const wanted = o.id === undefined ? 0 : checkInteger(o.id, 'id', 0, MAX_CACHES - 1);
    where.sync();
    const buddy = attachBuddy(where);
    const region = readSlot(where, HeaderSlot.Slab);
    if (region === 0) throw new HeapCorruptionError('no slab space in this Memory (header slot empty)', 16 + 4 * HeaderSlot.Slab);
    checkSpace(buddy, region);
    const space = SlabSpace.open(buddy, region);
    let id = wanted;
    if (o.name !== undefined) {
      id = -1;
      for (let i = 0; i < space.cacheCount && id < 0; i++) if (readName(space, i) === o.name) id = i;
      if (id < 0) throw new InvalidArgumentError(`no slab cache named ${JSON.stringify(o.name)} in this Memory`, 'name');
    }
    return new SlabCache(resolveCache(space, id, o.ctor));
  }

  // ------------------------------------------------------------ fast paths

  /**
   * Allocates one object and returns its address. `requested` (the size a
   * caller such as kmalloc asked for) only goes into an OutOfMemoryError.
   *
   * @throws OutOfMemoryError if a new slab is needed and the buddy has none
   * (the cache is unchanged).
   * @throws HeapCorruptionError if the free object to hand out was written
   * to after it was freed (its free pointer or tag is not intact); with
   * debug, also for poison and red zones.
   * @throws InvalidArgumentError if `requested` is given and is not a whole number in [0, 2^32).
   */
  alloc(requested?: number): number {
    if (requested !== undefined && (typeof requested !== 'number' || (requested >>> 0) !== requested)) return this.badRequested(requested);
    const mem = this.memory;
    mem.sync();
    let u32 = mem.u32;
    const c = this.c;
    let pg = u32[c + C_PARTIAL]!;
    if (pg === NIL) {
      pg = this.refill(requested ?? this.size);
      u32 = mem.u32; // a new slab may have grown (and, for wasm, replaced) the buffer
    }
    const d = this.pt + pg * PAGE_WORDS;
    let slot = u32[d + P_FREELIST]!;
    if (slot === 0) slot = this.extend(d, pg);
    const fp = (slot + this.fpOffset) >>> 2;
    let next = u32[fp]!;
    if (this.debugOn) next = this.checkAlloc(slot, next, pg);
    // Validate the free pointer before following it (a use-after-free write).
    else if (u32[fp + 1] !== ((next ^ FREE_TAG) >>> 0) || (next !== 0 && this.offGrid(next, pg))) this.corruptFreePointer(slot, next, pg);
    u32[d + P_FREELIST] = next;
    u32[fp + 1] = 0; // clear the free tag
    const info = u32[d + P_INFO]! + 0x10000;
    u32[d + P_INFO] = info;
    if (info >>> 16 === this.objectsPerSlab) this.move(pg, C_PARTIAL, C_FULL);
    return slot + this.objOffset;
  }

  /**
   * Frees an object: pushes it on its slab's freelist and moves the slab
   * between lists (full -> partial, partial -> empty, empty -> buddy when more
   * than minEmpty empty slabs are kept).
   *
   * @throws InvalidArgumentError if `addr` is not a whole number in [0, 2^32).
   * @throws InvalidFreeError if `addr` is not an object of this cache
   * ("Invalid object pointer"); DoubleFreeError if it is already free
   * ("Object already free"); HeapCorruptionError (debug) on a damaged red zone.
   * The cache is unchanged when it throws.
   */
  free(addr: number): void {
    if (typeof addr !== 'number' || (addr >>> 0) !== addr) return this.badAddress(addr, 'addr');
    const mem = this.memory;
    mem.sync();
    const off = addr - this.base;
    const pg = off >>> this.shift;
    // Pages past the buddy's end have zeroed descriptors, so the cache check
    // below also rejects them; maxPages bounds the table itself.
    if (!(off >= 0 && pg < this.maxPages)) this.badPointer(addr, 'outside the buddy');
    const info = mem.u32[this.pt + pg * PAGE_WORDS + P_INFO]!;
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
    const u32 = this.memory.u32;
    let d = this.pt + pg * PAGE_WORDS;
    if (info >>> 16 === TAIL_MARK) {
      pg = u32[d + P_FREELIST]!;
      d = this.pt + pg * PAGE_WORDS;
      info = u32[d + P_INFO]!;
    }
    const slot = addr - this.objOffset;
    const rel = slot - (this.base + ((pg << this.shift) >>> 0));
    // rel / stride without a division: see `inverse` (exact for slabs < 1 GiB).
    const index = Math.floor(rel * this.inverse);
    if (index * this.stride !== rel || rel < 0 || index >= this.objectsPerSlab) {
      this.badPointer(addr, 'not the start of an object');
    }
    const fp = (slot + this.fpOffset) >>> 2;
    const unused = u32[d + P_UNUSED]!;
    if (unused !== 0 && slot >= unused) this.badPointer(addr, 'object never allocated');
    if (u32[fp + 1] === ((u32[fp]! ^ FREE_TAG ^ this.secret) >>> 0) && this.onFreelist(pg, slot)) {
      throw new DoubleFreeError(`${this.name}: free(${hex(addr)}): Object already free`, addr);
    }
    if (this.debugOn) this.checkFree(slot, pg);
    const head = u32[d + P_FREELIST]!;
    const enc = this.secret === 0 ? head : head ^ this.secret ^ (slot + this.fpOffset);
    u32[fp] = enc;
    u32[fp + 1] = enc ^ FREE_TAG ^ this.secret;
    u32[d + P_FREELIST] = slot;
    info -= 0x10000;
    u32[d + P_INFO] = info;
    const inuse = info >>> 16;
    if (inuse === 0) this.slabEmptied(pg, this.objectsPerSlab === 1 ? C_FULL : C_PARTIAL);
    else if (inuse === this.objectsPerSlab - 1) this.move(pg, C_FULL, C_PARTIAL);
  }

  /** True unless `next` is a slot start of slab `pg` (inside the slab, on the object grid). */
  private offGrid(next: number, pg: number): boolean {
    const rel = next - (this.base + ((pg << this.shift) >>> 0));
    return (rel >>> 0) >= this.span || Math.floor(rel * this.inverse) * this.stride !== rel;
  }

  // ----------------------------------------------------------- slow paths

  /** Moves slab `pg` from list `from` to list `to` (C_PARTIAL/C_FULL/C_EMPTY). */
  private move(pg: number, from: number, to: number): void {
    this.unlink(pg, from);
    this.pushList(pg, to);
  }

  private pushList(pg: number, list: number): void {
    const u32 = this.memory.u32;
    const c = this.c;
    const d = this.pt + pg * PAGE_WORDS;
    const head = u32[c + list]!;
    u32[d + P_NEXT] = head;
    u32[d + P_PREV] = NIL;
    if (head !== NIL) u32[this.pt + head * PAGE_WORDS + P_PREV] = pg;
    u32[c + list] = pg;
    const n = list - C_PARTIAL + C_N_PARTIAL;
    u32[c + n] = u32[c + n]! + 1;
  }

  private unlink(pg: number, list: number): void {
    const u32 = this.memory.u32;
    const c = this.c;
    const d = this.pt + pg * PAGE_WORDS;
    const next = u32[d + P_NEXT]!;
    const prev = u32[d + P_PREV]!;
    if (prev !== NIL) u32[this.pt + prev * PAGE_WORDS + P_NEXT] = next;
    else u32[c + list] = next;
    if (next !== NIL) u32[this.pt + next * PAGE_WORDS + P_PREV] = prev;
    const n = list - C_PARTIAL + C_N_PARTIAL;
    u32[c + n] = u32[c + n]! - 1;
  }

  /** A slab on list `from` became empty: keep it (up to minEmpty) or give it back. */
  private slabEmptied(pg: number, from: number): void {
    const u32 = this.memory.u32;
    this.unlink(pg, from);
    // Keep it (up to minEmpty) only when no partial slab is left to serve the
    // next alloc, as SLUB keeps slabs while a node has few partial ones: that
    // stops a cache swinging around a slab boundary from making and
    // releasing the same slab over and over, without holding idle pages.
    if (u32[this.c + C_N_PARTIAL] === 0 && u32[this.c + C_N_EMPTY]! < u32[this.c + C_MIN_EMPTY]!) this.pushList(pg, C_EMPTY);
    else this.releaseSlab(pg);
  }

  /** No partial slab: reuse an empty one or make a new one; returns its page. */
  private refill(requested: number): number {
    const u32 = this.memory.u32;
    const c = this.c;
    const pg = u32[c + C_EMPTY]!;
    if (pg !== NIL) {
      this.move(pg, C_EMPTY, C_PARTIAL);
      return pg;
    }
    const made = this.takeSlab(requested);
    this.addSlab(made, C_PARTIAL);
    return (made - this.base) / this.buddy.pageSize;
  }

  /**
   * Takes the pages of a new slab from the buddy (the cache is not changed
   * yet). The buddy's pages must lie inside the buffer: a damaged or
   * truncated buddy state that says otherwise is refused, and the pages are
   * given back.
   */
  private takeSlab(requested: number): number {
    let addr: number;
    try {
      addr = this.buddy.allocPages(1 << this.order);
    } catch (e) {
      if (e instanceof OutOfMemoryError) {
        throw new OutOfMemoryError(`${this.name}: no pages for a new slab of order ${this.order} (request of ${requested} bytes)`, requested);
      }
      throw e;
    }
    const mem = this.memory;
    mem.sync();
    const end = addr + this.buddy.pageSize * (1 << this.order);
    if (end > mem.buffer.byteLength || addr < this.base) {
      this.buddy.free(addr);
      throw new HeapCorruptionError(`${this.name}: the buddy gave pages at ${hex(addr)} past the end of the buffer (${mem.buffer.byteLength} bytes)`, addr);
    }
    return addr;
  }

  /** Lays out slab pages taken by takeSlab and puts the slab on `list`. */
  private addSlab(addr: number, list: number): void {
    const pg = (addr - this.base) / this.buddy.pageSize;
    this.initSlab(pg, addr);
    this.pushList(pg, list);
    const u32 = this.memory.u32;
    u32[this.c + C_SLABS_MADE] = u32[this.c + C_SLABS_MADE]! + 1;
  }

  /** Lays out a new slab: page descriptors, the freelist in address order, debug bytes, ctor. */
  private initSlab(pg: number, addr: number): void {
    const u32 = this.memory.u32;
    const id1 = this.id + 1;
    const pages = 1 << this.order;
    const d = this.pt + pg * PAGE_WORDS;
    u32[d + P_INFO] = id1;
    for (let t = 1; t < pages; t++) {
      const dt = this.pt + (pg + t) * PAGE_WORDS;
      u32[dt + P_FREELIST] = pg;
      u32[dt + P_INFO] = (TAIL_MARK << 16) | id1;
    }
    u32[d + P_FREELIST] = 0;
    u32[d + P_UNUSED] = addr;
    if (this.flags === 0) return; // the freelist is built lazily by extend()
    // Debug and ctor caches prepare every object now, as the kernel does.
    this.extendBy(d, this.objectsPerSlab);
    if (this.ctor !== undefined) {
      for (let i = 0; i < this.objectsPerSlab; i++) this.ctor(addr + i * this.stride + this.objOffset);
    }
  }

  /**
   * The slab's freelist is empty: put the next few never-used slots on it.
   * A slab on the partial list with no never-used slot left has lost its
   * freelist (a free object was overwritten with zeros): refuse.
   */
  private extend(d: number, pg: number): number {
    if (this.memory.u32[d + P_UNUSED] === 0) {
      const start = this.base + ((pg << this.shift) >>> 0);
      throw new HeapCorruptionError(`${this.name}: slab ${hex(start)} is partial but its freelist is empty (a free object was overwritten)`, start);
    }
    this.extendBy(d, EXTEND_SLOTS);
    return this.memory.u32[d + P_FREELIST]!;
  }

  /** Links up to `n` never-used slots (in address order) onto the empty freelist of descriptor `d`. */
  private extendBy(d: number, n: number): void {
    const u32 = this.memory.u32;
    const first = u32[d + P_UNUSED]!;
    const pg = (d - this.pt) / PAGE_WORDS;
    const end = this.base + ((pg << this.shift) >>> 0) + this.span;
    const stride = this.stride;
    const count = Math.min(n, (end - first) / stride);
    for (let i = 0; i < count; i++) {
      const slot = first + i * stride;
      const next = i + 1 < count ? slot + stride : 0;
      const fpAddr = slot + this.fpOffset;
      const enc = this.secret === 0 ? next : next ^ this.secret ^ fpAddr;
      u32[fpAddr >>> 2] = enc;
      u32[(fpAddr >>> 2) + 1] = enc ^ FREE_TAG ^ this.secret;
      if ((this.flags & F_POISON) !== 0) this.poison(slot);
      if ((this.flags & F_RED_ZONE) !== 0) this.paintRedZones(slot, RED_INACTIVE);
    }
    const rest = first + count * stride;
    u32[d + P_UNUSED] = rest >= end ? 0 : rest;
    u32[d + P_FREELIST] = first;
  }

  /** Gives slab `pg` (not on any list) back to the buddy. */
  private releaseSlab(pg: number): void {
    const u32 = this.memory.u32;
    const pages = 1 << this.order;
    for (let t = 0; t < pages; t++) {
      const dt = this.pt + (pg + t) * PAGE_WORDS;
      u32[dt + P_FREELIST] = 0;
      u32[dt + P_INFO] = 0;
      u32[dt + P_UNUSED] = 0;
    }
    this.buddy.free(this.base + ((pg << this.shift) >>> 0));
    const w = this.memory.u32; // the buddy may have synced a grown memory
    w[this.c + C_SLABS_FREED] = w[this.c + C_SLABS_FREED]! + 1;
  }

  /** True when `slot` is on slab `pg`'s freelist (walks it, at most objectsPerSlab steps). */
  private onFreelist(pg: number, slot: number): boolean {
    const u32 = this.memory.u32;
    let p = u32[this.pt + pg * PAGE_WORDS + P_FREELIST]!;
    for (let n = 0; p !== 0 && n <= this.objectsPerSlab; n++) {
      if (p === slot) return true;
      if (this.offGrid(p, pg)) return false;
      const fpAddr = p + this.fpOffset;
      const raw = u32[fpAddr >>> 2]!;
      p = this.secret === 0 ? raw : (raw ^ this.secret ^ fpAddr) >>> 0;
    }
    return false;
  }

  private badPointer(addr: number, why: string): never {
    throw new InvalidFreeError(`${this.name}: free(${hex(addr)}): Invalid object pointer (${why})`, addr);
  }

  private badAddress(x: unknown, what: string): never {
    throw argumentError(what, 'an address (a whole number in [0, 2^32))', x);
  }

  private badRequested(x: unknown): never {
    throw argumentError('requested', 'a size in bytes (a whole number in [0, 2^32))', x);
  }

  /** The free object at `slot` of slab `pg` has a damaged free pointer or tag. */
  private corruptFreePointer(slot: number, next: number, pg: number): never {
    const start = this.base + ((pg << this.shift) >>> 0);
    throw new HeapCorruptionError(
      `${this.name}: Freepointer corrupt in object ${hex(slot + this.objOffset)} (free, in slab ${hex(start)}): ` +
      `next ${hex(next)}, or its tag, was overwritten (a write after free?)`,
      slot + this.objOffset,
    );
  }

  // ---------------------------------------------------------------- debug

  /** Debug checks on alloc; returns the decoded next pointer. */
  private checkAlloc(slot: number, raw: number, pg: number): number {
    const fpAddr = slot + this.fpOffset;
    const next = this.secret === 0 ? raw : (raw ^ this.secret ^ fpAddr) >>> 0;
    const u32 = this.memory.u32;
    if (u32[(fpAddr >>> 2) + 1] !== ((raw ^ FREE_TAG ^ this.secret) >>> 0) || (next !== 0 && this.offGrid(next, pg))) {
      this.corruptFreePointer(slot, next, pg);
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
   * Allocates `n` objects into `out` (all or nothing, as
   * kmem_cache_alloc_bulk): the slabs it needs beyond the free objects of
   * the cache are taken from the buddy first, so an OutOfMemoryError leaves
   * the cache exactly as it was (no new slab behind).
   *
   * @returns n
   * @throws InvalidArgumentError unless `out` is a Uint32Array or an array
   * and `n` a whole number in [0, out.length].
   */
  allocBulk(n: number, out: Uint32Array | number[]): number {
    if (!(out instanceof Uint32Array || Array.isArray(out))) throw argumentError('out', 'a Uint32Array or an array', out);
    checkInteger(n, 'n', 0, out.length);
    const mem = this.memory;
    mem.sync();
    const have = this.freeInLists();
    if (n > have) {
      const need = Math.ceil((n - have) / this.objectsPerSlab);
      // A buddy that cannot grow tells from its free counts whether it has
      // the blocks: refuse without touching it. One that can grow is asked.
      if (this.buddy.pages === this.buddy.maxPages && blocksFree(this.buddy, this.order) < need) {
        throw new OutOfMemoryError(`${this.name}: allocBulk(${n}) needs ${need} new slabs of order ${this.order}, the buddy has fewer`, n * this.size);
      }
      const got: number[] = [];
      try {
        for (let i = 0; i < need; i++) got.push(this.takeSlab(n * this.size));
      } catch (e) {
        for (const a of got) this.buddy.free(a);
        throw e;
      }
      for (const a of got) this.addSlab(a, C_EMPTY);
    }
    let i = 0;
    try {
      for (; i < n; i++) out[i] = this.alloc();
    } catch (e) {
      // Only a damaged freelist gets here (HeapCorruptionError): give back what was taken.
      for (let j = 0; j < i; j++) this.free(out[j]!);
      throw e;
    }
    return n;
  }

  /** Free objects on the partial and empty slabs (walks the partial list). */
  private freeInLists(): number {
    const u32 = this.memory.u32;
    let n = u32[this.c + C_N_EMPTY]! * this.objectsPerSlab;
    let pg = u32[this.c + C_PARTIAL]!;
    for (let k = 0; pg !== NIL && k < this.maxPages; k++) {
      n += this.objectsPerSlab - (u32[this.pt + pg * PAGE_WORDS + P_INFO]! >>> 16);
      pg = u32[this.pt + pg * PAGE_WORDS + P_NEXT]!;
    }
    return n;
  }

  /**
   * Frees the first `n` addresses of `addrs` (default all), all or nothing:
   * every address is checked first (an object of this cache, allocated, not
   * twice in the batch), and on any error nothing is freed.
   *
   * @throws InvalidArgumentError for a bad `addrs` or `n`, or an address that
   * is not a whole number; InvalidFreeError / DoubleFreeError /
   * HeapCorruptionError as {@link free}.
   */
  freeBulk(addrs: ArrayLike<number>, n?: number): void {
    if (!(Array.isArray(addrs) || ArrayBuffer.isView(addrs)) || addrs instanceof DataView) {
      throw argumentError('addrs', 'an array or a typed array of addresses', addrs);
    }
    const count = n === undefined ? addrs.length : checkInteger(n, 'n', 0, addrs.length);
    this.memory.sync();
    const seen = new Set<number>();
    for (let i = 0; i < count; i++) {
      const addr = addrs[i];
      this.checkFreeable(addr);
      if (seen.has(addr as number)) throw new DoubleFreeError(`${this.name}: freeBulk: ${hex(addr as number)} is twice in the batch`, addr as number);
      seen.add(addr as number);
    }
    for (let i = 0; i < count; i++) this.free(addrs[i]!);
  }

  /** Throws what free(addr) would throw, changing nothing. */
  private checkFreeable(addr: unknown): void {
    if (typeof addr !== 'number' || (addr >>> 0) !== addr) this.badAddress(addr, 'addrs[i]');
    const u32 = this.memory.u32;
    const off = addr - this.base;
    let pg = off >>> this.shift;
    if (!(off >= 0 && pg < this.maxPages)) this.badPointer(addr, 'outside the buddy');
    let info = u32[this.pt + pg * PAGE_WORDS + P_INFO]!;
    if ((info & 0xffff) !== this.id + 1) this.badPointer(addr, 'not in a slab of this cache');
    if (info >>> 16 === TAIL_MARK) {
      pg = u32[this.pt + pg * PAGE_WORDS + P_FREELIST]!;
      info = u32[this.pt + pg * PAGE_WORDS + P_INFO]!;
    }
    const slot = addr - this.objOffset;
    if (this.offGrid(slot, pg)) this.badPointer(addr, 'not the start of an object');
    const unused = u32[this.pt + pg * PAGE_WORDS + P_UNUSED]!;
    if (unused !== 0 && slot >= unused) this.badPointer(addr, 'object never allocated');
    if (this.onFreelist(pg, slot)) throw new DoubleFreeError(`${this.name}: free(${hex(addr)}): Object already free`, addr);
    if ((this.flags & F_RED_ZONE) !== 0) this.checkRedZones(slot, RED_ACTIVE);
  }

  /**
   * Gives every empty slab back to the buddy (kmem_cache_shrink), keeping
   * `keep` of them (default 0). Returns the number of pages given back.
   *
   * @throws InvalidArgumentError unless `keep` is a whole number in [0, 2^32).
   */
  shrink(keep = 0): number {
    if (typeof keep !== 'number' || (keep >>> 0) !== keep) throw argumentError('keep', 'a count (a whole number in [0, 2^32))', keep);
    this.memory.sync();
    let pages = 0;
    while (this.memory.u32[this.c + C_N_EMPTY]! > keep) {
      const pg = this.memory.u32[this.c + C_EMPTY]!;
      this.unlink(pg, C_EMPTY);
      this.releaseSlab(pg);
      pages += 1 << this.order;
    }
    return pages;
  }

  /** Counters. */
  stats(): SlabStats {
    const mem = this.memory;
    mem.sync();
    const u32 = mem.u32;
    const c = this.c;
    const partial = u32[c + C_N_PARTIAL]!;
    const full = u32[c + C_N_FULL]!;
    const empty = u32[c + C_N_EMPTY]!;
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
      slabsMade: u32[c + C_SLABS_MADE]!,
      slabsFreed: u32[c + C_SLABS_FREED]!,
    };
  }

  /** Objects in use: the sum of the inuse counts of the partial and full slabs (no counter on the fast path). */
  private countActive(): number {
    const u32 = this.memory.u32;
    let n = 0;
    let pg = u32[this.c + C_PARTIAL]!;
    for (let k = 0; pg !== NIL && k < this.maxPages; k++) {
      n += u32[this.pt + pg * PAGE_WORDS + P_INFO]! >>> 16;
      pg = u32[this.pt + pg * PAGE_WORDS + P_NEXT]!;
    }
    return n + u32[this.c + C_N_FULL]! * this.objectsPerSlab;
  }

  /** Bytes of buddy pages this cache holds now. */
  footprint(): number {
    return this.stats().slabs * this.buddy.pageSize * (1 << this.order);
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

  /**
   * Calls `visit(slabAddr, inuse, list)` for each slab (partial, full, then
   * empty). The lists are read first, so `visit` may alloc and free.
   *
   * @throws InvalidArgumentError unless `visit` is a function.
   */
  forEachSlab(visit: (addr: number, inuse: number, list: SlabList) => void): void {
    if (typeof visit !== 'function') throw argumentError('visit', 'a function', visit);
    this.memory.sync();
    const u32 = this.memory.u32;
    const found: Array<[number, number, SlabList]> = [];
    const lists: Array<[number, SlabList]> = [[C_PARTIAL, 'partial'], [C_FULL, 'full'], [C_EMPTY, 'empty']];
    for (const [list, name] of lists) {
      let pg = u32[this.c + list]!;
      for (let k = 0; pg !== NIL && k < this.maxPages; k++) {
        found.push([this.base + ((pg << this.shift) >>> 0), u32[this.pt + pg * PAGE_WORDS + P_INFO]! >>> 16, name]);
        pg = u32[this.pt + pg * PAGE_WORDS + P_NEXT]!;
      }
    }
    for (const [addr, inuse, list] of found) visit(addr, inuse, list);
  }

  /**
   * Addresses of the free objects of the slab at `slabAddr`, in freelist order
   * (then the slots never handed out, in address order).
   *
   * @throws InvalidArgumentError unless `slabAddr` is the start of a slab of this cache.
   */
  freeObjects(slabAddr: number): number[] {
    if (typeof slabAddr !== 'number' || (slabAddr >>> 0) !== slabAddr) this.badAddress(slabAddr, 'slabAddr');
    this.memory.sync();
    const u32 = this.memory.u32;
    const off = slabAddr - this.base;
    const pg = off >>> this.shift;
    const info = off >= 0 && pg < this.maxPages ? u32[this.pt + pg * PAGE_WORDS + P_INFO]! : 0;
    if ((info & 0xffff) !== this.id + 1 || info >>> 16 === TAIL_MARK || slabAddr !== this.base + ((pg << this.shift) >>> 0)) {
      throw new InvalidArgumentError(`${this.name}: freeObjects(${hex(slabAddr)}): not the start of a slab of this cache`, 'slabAddr');
    }
    const out: number[] = [];
    let p = u32[this.pt + pg * PAGE_WORDS + P_FREELIST]!;
    while (p !== 0 && out.length < this.objectsPerSlab && !this.offGrid(p, pg)) {
      out.push(p + this.objOffset);
      const fpAddr = p + this.fpOffset;
      const raw = u32[fpAddr >>> 2]!;
      p = this.secret === 0 ? raw : (raw ^ this.secret ^ fpAddr) >>> 0;
    }
    // Slots never handed out yet are free too.
    const unused = u32[this.pt + pg * PAGE_WORDS + P_UNUSED]!;
    if (unused !== 0 && !this.offGrid(unused, pg)) {
      const end = slabAddr + this.span;
      for (let q = unused; q < end; q += this.stride) out.push(q + this.objOffset);
    }
    return out;
  }

  /**
   * True when `addr` is an allocated object of this cache (O(1) but for a rare freelist walk).
   *
   * @throws InvalidArgumentError unless `addr` is a whole number in [0, 2^32).
   */
  isAllocated(addr: number): boolean {
    if (typeof addr !== 'number' || (addr >>> 0) !== addr) this.badAddress(addr, 'addr');
    this.memory.sync();
    const u32 = this.memory.u32;
    const off = addr - this.base;
    let pg = off >>> this.shift;
    if (!(off >= 0 && pg < this.maxPages)) return false;
    const info = u32[this.pt + pg * PAGE_WORDS + P_INFO]!;
    if ((info & 0xffff) !== this.id + 1) return false;
    if (info >>> 16 === TAIL_MARK) pg = u32[this.pt + pg * PAGE_WORDS + P_FREELIST]!;
    const slot = addr - this.objOffset;
    if (this.offGrid(slot, pg)) return false;
    const unused = u32[this.pt + pg * PAGE_WORDS + P_UNUSED]!;
    if (unused !== 0 && slot >= unused) return false;
    // O(1) unless the free tag is present (then the freelist walk decides).
    const fp = (slot + this.fpOffset) >>> 2;
    if (u32[fp + 1] !== ((u32[fp]! ^ FREE_TAG ^ this.secret) >>> 0)) return true;
    return !this.onFreelist(pg, slot);
  }

  /**
   * Checks the whole cache against its invariants (the fsck that attach
   * runs, and that this instance's fields match the descriptor):
   * descriptor words, lists (links, counts, each slab on the list its inuse
   * count says), every slab's freelist. O(slabs * objects); for tests.
   *
   * @throws HeapCorruptionError naming the first damaged word.
   */
  checkInvariants(): void {
    const s = resolveCache(this.space, this.id, this.ctor);
    const mine = [this.size, this.stride, this.align, this.order, this.objectsPerSlab, this.flags, this.objOffset, this.fpOffset, this.secret];
    const theirs = [s.size, s.stride, s.align, s.order, s.objs, s.flags, s.objOffset, s.fpOffset, s.secret];
    if (mine.some((v, i) => v !== theirs[i])) {
      throw new HeapCorruptionError(`${this.name}: the cache descriptor changed under this instance`, this.c * 4);
    }
  }
}

// --------------------------------------------------- construction and fsck

/** How many blocks of `order` the buddy's free blocks could be split into. */
function blocksFree(buddy: BuddyAllocator, order: number): number {
  const counts = buddy.freeCounts();
  let n = 0;
  for (let k = order; k < counts.length; k++) n += (counts[k] ?? 0) * 2 ** (k - order);
  return n;
}

/** Slot geometry of a cache (see the slot layout at the top of this file). */
function slotLayout(size: number, align: number, flags: number): { stride: number; objOffset: number; fpOffset: number } {
  if ((flags & (F_POISON | F_RED_ZONE | F_CTOR)) !== 0) {
    const rz = (flags & F_RED_ZONE) !== 0 ? RED_ZONE_BYTES : 0;
    const objOffset = alignUp(rz, align);
    const fpOffset = alignUp(objOffset + size + rz, 4);
    return { stride: alignUp(fpOffset + 8, align), objOffset, fpOffset };
  }
  return { stride: alignUp(Math.max(size, 8), align), objOffset: 0, fpOffset: 0 };
}

/** Highest slab order on `buddy`: at most its maxOrder, 10, and a 1 GiB slab. */
function maxSlabOrder(buddy: BuddyAllocator): number {
  return Math.max(0, Math.min(buddy.maxOrder, 10, MAX_SLAB_SHIFT - buddy.pageShift));
}

/**
 * `new SlabCache(buddy, options)`: checks every argument, then (and only
 * then) takes the slab space and a descriptor and writes it.
 */
function createCache(buddy: unknown, options: unknown): SlabCacheState {
  if (!(buddy instanceof BuddyAllocator)) throw argumentError('buddy', 'a BuddyAllocator', buddy);
  const memory = buddy.memory;
  if (memory === null) throw new InvalidArgumentError('slab caches need bytes: the buddy allocator is offsets-only', 'buddy');
  if (options === undefined) throw argumentError('options', 'an options object with name and size', options);
  const o = checkOptions(options as SlabCacheOptions, 'options', OPTION_NAMES);
  if (typeof o.name !== 'string') throw argumentError('name', 'a string', o.name);
  const top = maxSlabOrder(buddy);
  const size = checkInteger(o.size, 'size', 1, buddy.pageSize * 2 ** top);
  let align = 8;
  if (o.align !== undefined) {
    const a = o.align;
    if (!isPowerOfTwo(a) || Math.max(8, a) > buddy.pageSize) throw argumentError('align', `a power of two up to the page size (${buddy.pageSize})`, a);
    align = Math.max(8, a);
  }
  if (o.ctor !== undefined && typeof o.ctor !== 'function') throw argumentError('ctor', 'a function', o.ctor);
  const flags = debugFlags(o.debug) | (o.ctor !== undefined ? F_CTOR : 0);
  const g = slotLayout(size, align, flags);
  const order = o.order === undefined ? calculateOrder(g.stride, buddy.pageSize, top) : checkInteger(o.order, 'order', 0, top);
  const objs = Math.floor((buddy.pageSize * 2 ** order) / g.stride);
  if (objs < 1) throw new InvalidArgumentError(`object of ${g.stride} bytes does not fit a slab of order ${order}`, 'size');
  if (objs >= TAIL_MARK) throw new InvalidArgumentError(`too many objects per slab (${objs}); use a smaller order`, 'order');
  const minEmpty = o.minEmpty === undefined ? 1 : checkInteger(o.minEmpty, 'minEmpty', 0, 1 << 20);

  // Every argument is good: act.
  memory.sync();
  const space = SlabSpace.of(buddy);
  memory.sync();
  if (readSlot(memory, HeaderSlot.Slab) === 0) writeSlot(memory, HeaderSlot.Slab, space.region);
  const id = space.newCacheId();
  const secret = (flags & F_HARDENED) !== 0 ? (Math.random() * 0x100000000) | 0 : 0;
  const u32 = memory.u32;
  const c = space.cacheWords(id);
  u32.fill(0, c, c + CACHE_WORDS);
  u32[c + C_FLAGS] = flags;
  u32[c + C_SIZE] = size;
  u32[c + C_STRIDE] = g.stride;
  u32[c + C_OBJ_OFFSET] = g.objOffset;
  u32[c + C_FP_OFFSET] = g.fpOffset;
  u32[c + C_ALIGN] = align;
  u32[c + C_ORDER] = order;
  u32[c + C_OBJS] = objs;
  u32[c + C_PARTIAL] = NIL;
  u32[c + C_FULL] = NIL;
  u32[c + C_EMPTY] = NIL;
  u32[c + C_SECRET] = secret;
  u32[c + C_MIN_EMPTY] = minEmpty;
  memory.u8.set(new TextEncoder().encode(o.name).subarray(0, C_NAME_BYTES), (c + C_NAME) * 4);
  return new SlabCacheState(space, id, o.name, size, align, flags, g.stride, g.objOffset, g.fpOffset, order, objs, secret, o.ctor);
}

/** The F_* flags of a `debug` option. */
function debugFlags(d: unknown): number {
  if (d === undefined || d === false) return 0;
  if (d === true) return F_POISON | F_RED_ZONE | F_CHECKS | F_HARDENED;
  const o = checkOptions(d as SlabDebugOptions, 'debug', DEBUG_NAMES);
  for (const k of DEBUG_NAMES) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') throw argumentError(`debug.${k}`, 'a boolean', o[k]);
  }
  return (o.poison === true ? F_POISON : 0) | (o.redZone === true ? F_RED_ZONE : 0) |
    (o.checks === true ? F_CHECKS : 0) | (o.hardened === true ? F_HARDENED : 0);
}

function isPowerOfTwo(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 1 && x <= 2 ** 30 && (x & (x - 1)) === 0;
}

/**
 * The buddy allocator of `memory`, for attach: "no buddy here" is, for this
 * layer, "no slab space here", so it is a HeapCorruptionError (with the address of
 * the buddy's header slot) whatever the buddy layer throws for it.
 */
function attachBuddy(memory: Memory): BuddyAllocator {
  try {
    return BuddyAllocator.attach(memory);
  } catch (e) {
    if (e instanceof HeapCorruptionError || !(e instanceof MemkitError)) throw e;
    throw new HeapCorruptionError(`no slab space in this Memory: ${e.message}`, 16 + 4 * HeaderSlot.Buddy);
  }
}

function corrupt(message: string, addr: number): never {
  throw new HeapCorruptionError(`slab: ${message}`, addr);
}

/** Checks the slab space's control words at `region` against the buddy and the buffer. */
function checkSpace(buddy: BuddyAllocator, region: number): void {
  const memory = buddy.memory;
  if (memory === null) throw new InvalidArgumentError('slab caches need bytes: the buddy allocator is offsets-only', 'buddy');
  memory.sync();
  const bytes = memory.buffer.byteLength;
  const u32 = memory.u32;
  const w = region >>> 2;
  if (region < buddy.base || (region - buddy.base) % buddy.pageSize !== 0 || region + SPACE_CONTROL_WORDS * 4 > bytes) {
    corrupt(`no slab space at ${hex(region)} (not a page of the buddy inside the ${bytes}-byte buffer)`, region);
  }
  if (u32[w + S_MAGIC] !== SPACE_MAGIC) corrupt(`no slab space at ${hex(region)} (magic SLAB missing)`, region + 4 * S_MAGIC);
  if (u32[w + S_MAX_PAGES] !== buddy.maxPages) {
    corrupt(`slab space word maxPages is ${u32[w + S_MAX_PAGES]!}, the buddy has ${buddy.maxPages}`, region + 4 * S_MAX_PAGES);
  }
  if (u32[w + S_CACHE_TABLE] !== SPACE_CONTROL_WORDS) corrupt(`slab space word cacheTable is ${u32[w + S_CACHE_TABLE]!}`, region + 4 * S_CACHE_TABLE);
  if (u32[w + S_PAGE_TABLE] !== SPACE_CONTROL_WORDS + MAX_CACHES * CACHE_WORDS) {
    corrupt(`slab space word pageTable is ${u32[w + S_PAGE_TABLE]!}`, region + 4 * S_PAGE_TABLE);
  }
  if (u32[w + S_CACHES]! > MAX_CACHES) corrupt(`slab space word caches is ${u32[w + S_CACHES]!} (max ${MAX_CACHES})`, region + 4 * S_CACHES);
  if (region + SlabSpace.bytesFor(buddy.maxPages) > bytes) {
    corrupt(`slab space at ${hex(region)} runs past the end of the ${bytes}-byte buffer (truncated?)`, region);
  }
}

/** The name kept in cache `id`'s descriptor. */
function readName(space: SlabSpace, id: number): string {
  const at = space.cacheWords(id) * 4 + C_NAME * 4;
  const bytes = space.memory.u8.subarray(at, at + C_NAME_BYTES);
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(bytes.subarray(0, end < 0 ? C_NAME_BYTES : end));
}

const LIST_NAMES = ['partial', 'full', 'empty'] as const;

/**
 * attach (and checkInvariants): reads cache `id` of `space` (whose control
 * words checkSpace passed) and checks every word of it: the descriptor's
 * values against each other (the geometry is recomputed), every list walked
 * (each page inside the buddy and the buffer, on the slab grid, owned by
 * this cache, seen once: a cycle stops the walk), every slab's freelist
 * walked (each pointer in its slab, on the object grid, seen once, its tag
 * intact) and counted against the slab's inuse, the list counts and the
 * slabs made and freed, and no page of this cache off the lists.
 */
function resolveCache(space: SlabSpace, id: number, ctor: ((addr: number) => void) | undefined): SlabCacheState {
  const buddy = space.buddy;
  const memory = space.memory;
  memory.sync();
  const u32 = memory.u32;
  const bytes = memory.buffer.byteLength;
  const c = space.cacheWords(id);
  const at = (word: number): number => (c + word) * 4;
  const count = u32[(space.region >>> 2) + S_CACHES]!;
  if (id >= count) corrupt(`no slab cache ${id} in the slab space at ${hex(space.region)} (it has ${count})`, at(0));
  const flags = u32[c + C_FLAGS]!;
  if ((flags & ~ALL_FLAGS) !== 0) corrupt(`cache ${id}: flags ${hex(flags)} has unknown bits`, at(C_FLAGS));
  const top = maxSlabOrder(buddy);
  const pageSize = buddy.pageSize;
  const size = u32[c + C_SIZE]!;
  if (size < 1 || size > pageSize * 2 ** top) corrupt(`cache ${id}: size ${size} out of range`, at(C_SIZE));
  const align = u32[c + C_ALIGN]!;
  if (!isPowerOfTwo(align) || align < 8 || align > pageSize) corrupt(`cache ${id}: align ${align} is not a power of two in [8, ${pageSize}]`, at(C_ALIGN));
  const g = slotLayout(size, align, flags);
  if (u32[c + C_STRIDE] !== g.stride) corrupt(`cache ${id}: stride ${u32[c + C_STRIDE]!}, size and flags give ${g.stride}`, at(C_STRIDE));
  if (u32[c + C_OBJ_OFFSET] !== g.objOffset) corrupt(`cache ${id}: objOffset ${u32[c + C_OBJ_OFFSET]!}, expected ${g.objOffset}`, at(C_OBJ_OFFSET));
  if (u32[c + C_FP_OFFSET] !== g.fpOffset) corrupt(`cache ${id}: fpOffset ${u32[c + C_FP_OFFSET]!}, expected ${g.fpOffset}`, at(C_FP_OFFSET));
  const order = u32[c + C_ORDER]!;
  if (order > top) corrupt(`cache ${id}: order ${order} above ${top}`, at(C_ORDER));
  const objs = Math.floor((pageSize * 2 ** order) / g.stride);
  if (u32[c + C_OBJS] !== objs || objs < 1 || objs >= TAIL_MARK) corrupt(`cache ${id}: objects per slab ${u32[c + C_OBJS]!}, geometry gives ${objs}`, at(C_OBJS));
  const secret = u32[c + C_SECRET]! | 0;
  if ((flags & F_HARDENED) === 0 && secret !== 0) corrupt(`cache ${id}: a free-pointer secret without the hardened flag`, at(C_SECRET));
  if (u32[c + C_MIN_EMPTY]! > 1 << 20) corrupt(`cache ${id}: minEmpty ${u32[c + C_MIN_EMPTY]!} out of range`, at(C_MIN_EMPTY));
  if (ctor !== undefined && (flags & F_CTOR) === 0) {
    throw new InvalidArgumentError(`cache ${id} was made without a ctor`, 'ctor');
  }

  // The lists: every slab once, inside the buddy's pages and the buffer.
  const base = buddy.base;
  const pt = space.pageTable;
  const slabPages = 2 ** order;
  const pagesInBuffer = Math.max(0, Math.floor((bytes - base) / pageSize));
  const limit = Math.min(buddy.pages >>> 0, buddy.maxPages, pagesInBuffer); // >>> 0: a truncated buddy state reads undefined
  const id1 = id + 1;
  const seen = new Set<number>();
  const span = objs * g.stride;
  for (let l = 0; l < 3; l++) {
    const list = C_PARTIAL + l;
    const name = LIST_NAMES[l]!;
    let pg = u32[c + list]!;
    let prev = NIL;
    let linkAt = at(list);
    let n = 0;
    while (pg !== NIL) {
      if (pg >= limit || pg + slabPages > limit || pg % slabPages !== 0) corrupt(`cache ${id}: ${name} list reaches page ${pg}, not a slab inside the heap`, linkAt);
      if (seen.has(pg)) corrupt(`cache ${id}: ${name} list reaches slab page ${pg} a second time (a cycle, or on two lists)`, linkAt);
      seen.add(pg);
      const d = pt + pg * PAGE_WORDS;
      const info = u32[d + P_INFO]!;
      const inuse = info >>> 16;
      if ((info & 0xffff) !== id1) corrupt(`cache ${id}: slab page ${pg} on its ${name} list belongs to owner ${info & 0xffff}`, (d + P_INFO) * 4);
      const okInuse = l === 0 ? inuse > 0 && inuse < objs : l === 1 ? inuse === objs : inuse === 0;
      if (!okInuse) corrupt(`cache ${id}: slab page ${pg} with ${inuse} of ${objs} objects in use is on the ${name} list`, (d + P_INFO) * 4);
      if (u32[d + P_PREV] !== prev) corrupt(`cache ${id}: slab page ${pg} has prev link ${u32[d + P_PREV]!}, expected ${prev}`, (d + P_PREV) * 4);
      for (let t = 1; t < slabPages; t++) {
        const dt = pt + (pg + t) * PAGE_WORDS;
        if (u32[dt + P_FREELIST] !== pg || u32[dt + P_INFO] !== ((TAIL_MARK << 16) | id1) >>> 0) {
          corrupt(`cache ${id}: tail page ${pg + t} of slab page ${pg} is not marked as its tail`, dt * 4);
        }
      }
      const start = base + pg * pageSize;
      checkFreelist(u32, d, start, span, g.stride, g.fpOffset, g.objOffset, secret, objs - inuse, id);
      prev = pg;
      linkAt = (d + P_NEXT) * 4;
      pg = u32[d + P_NEXT]!;
      n++;
    }
    if (u32[c + C_N_PARTIAL + l] !== n) corrupt(`cache ${id}: ${name} count is ${u32[c + C_N_PARTIAL + l]!}, the list has ${n}`, at(C_N_PARTIAL + l));
  }
  if (((u32[c + C_SLABS_MADE]! - u32[c + C_SLABS_FREED]!) >>> 0) !== seen.size) {
    corrupt(`cache ${id}: ${u32[c + C_SLABS_MADE]!} slabs made and ${u32[c + C_SLABS_FREED]!} freed, ${seen.size} on the lists`, at(C_SLABS_MADE));
  }
  // No slab of this cache off the lists (a lost slab would be a leak that free() still routes to).
  for (let pg = 0; pg < buddy.maxPages; pg++) {
    const info = u32[pt + pg * PAGE_WORDS + P_INFO]!;
    if ((info & 0xffff) !== id1) continue;
    const head = info >>> 16 === TAIL_MARK ? u32[pt + pg * PAGE_WORDS + P_FREELIST]! : pg;
    if (!seen.has(head)) corrupt(`cache ${id}: page ${pg} is marked as this cache's but its slab is on no list`, (pt + pg * PAGE_WORDS + P_INFO) * 4);
  }
  return new SlabCacheState(space, id, readName(space, id), size, align, flags, g.stride, g.objOffset, g.fpOffset, order, objs, secret, ctor);
}

/**
 * Walks the freelist of the slab of descriptor `d` at `start` (at most one
 * step per object) and checks it holds `free` objects with the never-used tail.
 */
function checkFreelist(
  u32: Uint32Array, d: number, start: number, span: number, stride: number, fpOffset: number, objOffset: number,
  secret: number, free: number, id: number,
): void {
  const unused = u32[d + P_UNUSED]!;
  const onGrid = (p: number): boolean => p >= start && p < start + span && (p - start) % stride === 0;
  if (unused !== 0 && !onGrid(unused)) corrupt(`cache ${id}: slab ${hex(start)}: first never-used slot ${hex(unused)} is off its grid`, (d + P_UNUSED) * 4);
  const untouched = unused === 0 ? 0 : (start + span - unused) / stride;
  const mark = new Uint8Array(span / stride);
  let p = u32[d + P_FREELIST]!;
  let from = (d + P_FREELIST) * 4;
  let n = 0;
  while (p !== 0) {
    if (!onGrid(p) || (unused !== 0 && p >= unused)) corrupt(`cache ${id}: slab ${hex(start)}: freelist points to ${hex(p)}, not a free slot of the slab`, from);
    const i = (p - start) / stride;
    if (mark[i] !== 0) corrupt(`cache ${id}: slab ${hex(start)}: freelist reaches ${hex(p)} twice (a cycle)`, from);
    mark[i] = 1;
    n++;
    const fpAddr = p + fpOffset;
    const raw = u32[fpAddr >>> 2]!;
    if (u32[(fpAddr >>> 2) + 1] !== ((raw ^ FREE_TAG ^ secret) >>> 0)) {
      corrupt(`cache ${id}: free object ${hex(p + objOffset)}: free pointer or tag overwritten`, fpAddr);
    }
    from = fpAddr;
    p = secret === 0 ? raw : (raw ^ secret ^ fpAddr) >>> 0;
  }
  if (n + untouched !== free) corrupt(`cache ${id}: slab ${hex(start)}: ${free} objects free by its inuse count, ${n + untouched} on its freelist`, (d + P_INFO) * 4);
}

/**
 * SLUB's calculate_order, simplified: the smallest order whose slab wastes
 * at most 1/8 of itself and holds at least 4 objects (or the least wasteful
 * order up to 3 when none does).
 */
export function calculateOrder(stride: number, pageSize: number, maxOrder: number): number {
  const top = Math.min(maxOrder, 10);
  for (let order = 0; order <= top; order++) {
    const bytes = pageSize * 2 ** order;
    const objs = Math.floor(bytes / stride);
    if (objs >= 4 && (bytes - objs * stride) * 8 <= bytes) return order;
  }
  let best = 0;
  let bestWaste = 2;
  for (let order = 0; order <= top; order++) {
    const bytes = pageSize * 2 ** order;
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
