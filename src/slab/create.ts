/**
 * How a slab cache is made: its options and counters ({@link SlabCacheOptions},
 * {@link SlabStats}), the slot geometry and slab order they give, and
 * {@link SlabCacheState}, the one record the cache's constructor takes,
 * here computed from the options with a fresh descriptor written
 * (`new SlabCache(buddy, options)`; fsck.ts reads one back for `attach`).
 *
 * @module
 */
import { InvalidArgumentError, argumentError, checkInteger, checkOptions } from '../errors/index.js';
import { BuddyAllocator } from '../buddy/index.js';
import {
  CACHE_WORDS,
  C_ALIGN,
  C_EMPTY,
  C_FLAGS,
  C_FP_OFFSET,
  C_FULL,
  C_MIN_EMPTY,
  C_NAME,
  C_NAME_BYTES,
  C_OBJS,
  C_OBJ_OFFSET,
  C_ORDER,
  C_PARTIAL,
  C_SECRET,
  C_SIZE,
  C_STRIDE,
  F_CHECKS,
  F_CTOR,
  F_HARDENED,
  F_POISON,
  F_RED_ZONE,
  RED_ZONE_BYTES,
  SLAB_NIL,
  TAIL_MARK,
} from './layout.js';
import { SlabSpace } from './space.js';

/** The largest slab: 1 GiB (a slot offset in a slab is then an int32: see onStride). */
const MAX_SLAB_SHIFT = 30;
const OPTION_NAMES = ['name', 'size', 'align', 'ctor', 'debug', 'order', 'minEmpty'] as const;
const DEBUG_NAMES = ['poison', 'redZone', 'checks', 'hardened'] as const;

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
  /** The cache's name. */
  name: string;
  /** Object size asked for. */
  objectSize: number;
  /** Bytes per slot (object, padding, red zones, free pointer). */
  stride: number;
  /** Object slots in one slab. */
  objectsPerSlab: number;
  /** Buddy pages in one slab (2^order). */
  pagesPerSlab: number;
  /** Slabs the cache holds now, the workers' active slabs included. */
  slabs: number;
  /** Slabs with some objects in use and some free (a worker's active slab is not counted here). */
  partialSlabs: number;
  /** Slabs with every object in use (a worker's active slab is not counted here). */
  fullSlabs: number;
  /** Slabs with no object in use (a worker's active slab is not counted here). */
  emptySlabs: number;
  /** Objects allocated and not freed. */
  activeObjects: number;
  /** Object slots in all the cache's slabs: `slabs * objectsPerSlab`. */
  totalObjects: number;
  /** Slabs taken from the buddy since the cache was made. */
  slabsMade: number;
  /** Slabs given back to the buddy since the cache was made. */
  slabsFreed: number;
}

/** Which list a slab is on, as {@link SlabCache.forEachSlab} reports it. */
export type SlabList = 'partial' | 'full' | 'empty';

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
    /** The instance joined its buddy's worker slot itself (SlabCache.attach on a shared memory). */
    readonly ownsSlot: boolean = false,
  ) {}
}

/** How many blocks of `order` the buddy's free blocks could be split into. */
export function blocksFree(buddy: BuddyAllocator, order: number): number {
  const counts = buddy.freeCounts();
  let n = 0;
  for (let k = order; k < counts.length; k++) n += (counts[k] ?? 0) * 2 ** (k - order);
  return n;
}

/** Slot geometry of a cache (see the slot layout at the top of this file). */
export function slotLayout(
  size: number,
  align: number,
  flags: number,
): { stride: number; objOffset: number; fpOffset: number } {
  if ((flags & (F_POISON | F_RED_ZONE | F_CTOR)) !== 0) {
    const rz = (flags & F_RED_ZONE) !== 0 ? RED_ZONE_BYTES : 0;
    const objOffset = alignUp(rz, align);
    const fpOffset = alignUp(objOffset + size + rz, 4);
    return { stride: alignUp(fpOffset + 8, align), objOffset, fpOffset };
  }
  return { stride: alignUp(Math.max(size, 8), align), objOffset: 0, fpOffset: 0 };
}

/** Highest slab order on `buddy`: at most its maxOrder, 10, and a 1 GiB slab. */
export function maxSlabOrder(buddy: BuddyAllocator): number {
  return Math.max(0, Math.min(buddy.maxOrder, 10, MAX_SLAB_SHIFT - buddy.pageShift));
}

/**
 * `new SlabCache(buddy, options)`: checks every argument, then (and only
 * then) takes the slab space and a descriptor and writes it.
 *
 * @internal
 */
export function createCache(buddy: unknown, options: unknown): SlabCacheState {
  if (!(buddy instanceof BuddyAllocator)) throw argumentError('buddy', 'a BuddyAllocator', buddy);
  const memory = buddy.memory;
  if (memory === null)
    throw new InvalidArgumentError('slab caches need bytes: the buddy allocator is offsets-only', 'buddy');
  if (options === undefined) throw argumentError('options', 'an options object with name and size', options);
  const o = checkOptions(options as SlabCacheOptions, 'options', OPTION_NAMES);
  if (typeof o.name !== 'string') throw argumentError('name', 'a string', o.name);
  const top = maxSlabOrder(buddy);
  const size = checkInteger(o.size, 'size', 1, buddy.pageSize * 2 ** top);
  let align = 8;
  if (o.align !== undefined) {
    const a = o.align;
    if (!isPowerOfTwo(a) || Math.max(8, a) > buddy.pageSize)
      throw argumentError('align', `a power of two up to the page size (${buddy.pageSize})`, a);
    align = Math.max(8, a);
  }
  if (o.ctor !== undefined && typeof o.ctor !== 'function') throw argumentError('ctor', 'a function', o.ctor);
  const flags = debugFlags(o.debug) | (o.ctor !== undefined ? F_CTOR : 0);
  const g = slotLayout(size, align, flags);
  const order =
    o.order === undefined ? calculateOrder(g.stride, buddy.pageSize, top) : checkInteger(o.order, 'order', 0, top);
  const objs = Math.floor((buddy.pageSize * 2 ** order) / g.stride);
  if (objs < 1)
    throw new InvalidArgumentError(`object of ${g.stride} bytes does not fit a slab of order ${order}`, 'size');
  if (objs >= TAIL_MARK)
    throw new InvalidArgumentError(`too many objects per slab (${objs}); use a smaller order`, 'order');
  const minEmpty = o.minEmpty === undefined ? 1 : checkInteger(o.minEmpty, 'minEmpty', 0, 1 << 20);

  // Every argument is good: act.
  memory.sync();
  const space = SlabSpace.of(buddy, true);
  const secret = (flags & F_HARDENED) !== 0 ? (Math.random() * 0x100000000) | 0 : 0;
  // The descriptor is filled in before the count that publishes it is raised
  // (under the space lock), so another worker never sees a half-made cache.
  const id = space.newCacheId((c) => {
    const u32 = memory.u32;
    u32.fill(0, c, c + CACHE_WORDS);
    u32[c + C_FLAGS] = flags;
    u32[c + C_SIZE] = size;
    u32[c + C_STRIDE] = g.stride;
    u32[c + C_OBJ_OFFSET] = g.objOffset;
    u32[c + C_FP_OFFSET] = g.fpOffset;
    u32[c + C_ALIGN] = align;
    u32[c + C_ORDER] = order;
    u32[c + C_OBJS] = objs;
    u32[c + C_PARTIAL] = SLAB_NIL;
    u32[c + C_FULL] = SLAB_NIL;
    u32[c + C_EMPTY] = SLAB_NIL;
    u32[c + C_SECRET] = secret;
    u32[c + C_MIN_EMPTY] = minEmpty;
    memory.u8.set(new TextEncoder().encode(o.name).subarray(0, C_NAME_BYTES), (c + C_NAME) * 4);
  });
  return new SlabCacheState(
    space,
    id,
    o.name,
    size,
    align,
    flags,
    g.stride,
    g.objOffset,
    g.fpOffset,
    order,
    objs,
    secret,
    o.ctor,
  );
}

/** The F_* flags of a `debug` option. */
function debugFlags(d: unknown): number {
  if (d === undefined || d === false) return 0;
  if (d === true) return F_POISON | F_RED_ZONE | F_CHECKS | F_HARDENED;
  const o = checkOptions(d as SlabDebugOptions, 'debug', DEBUG_NAMES);
  for (const k of DEBUG_NAMES) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') throw argumentError(`debug.${k}`, 'a boolean', o[k], k);
  }
  return (
    (o.poison === true ? F_POISON : 0) |
    (o.redZone === true ? F_RED_ZONE : 0) |
    (o.checks === true ? F_CHECKS : 0) |
    (o.hardened === true ? F_HARDENED : 0)
  );
}

export function isPowerOfTwo(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 1 && x <= 2 ** 30 && (x & (x - 1)) === 0;
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

/** The inverse of odd `d` mod 2^32 (Newton's iteration: each step doubles the bits that are right). */
export function oddInverse(d: number): number {
  let x = d; // right in 3 bits: d * d = 1 mod 8 for odd d
  for (let i = 0; i < 4; i++) x = Math.imul(x, 2 - Math.imul(d, x));
  return x;
}

export function alignUp(x: number, a: number): number {
  return (x + a - 1) & ~(a - 1);
}
