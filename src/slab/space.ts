/**
 * The slab space of one buddy allocator: the page descriptor table (the
 * kernel's struct page fields that SLUB uses) and the cache descriptor table,
 * in one region taken from the buddy. Every SlabCache made on a buddy shares
 * it, so kmalloc's free(addr) finds the cache of any address in O(1).
 *
 * @module
 */
import { InvalidArgumentError, MemkitError } from '../errors/index.js';
import type { BuddyAllocator } from '../buddy/index.js';
import { H_LOCK, HeaderSlot, hasHeader, writeSlot } from '../memory/header.js';
import type { Memory } from '../memory/index.js';
import { lockMemory, MAX_WORKERS, unlock } from '../memory/lock.js';
import {
  CACHE_WORDS,
  MAX_CACHES,
  OWNER_MASK,
  OWNER_NONE,
  PAGE_SHIFT,
  PAGE_WORDS,
  P_INFO,
  SPACE_CONTROL_WORDS,
  SPACE_MAGIC,
  S_CACHES,
  S_CACHE_TABLE,
  S_LOCK,
  S_MAGIC,
  S_MAX_PAGES,
  S_PAGE_TABLE,
  makeInfo,
} from './layout.js';

const spaces = new WeakMap<BuddyAllocator, SlabSpace>();

/**
 * Space control word 6 (free in layout.ts's control block): byte address of
 * the per-worker table of a space on a shared memory, 0 = none. The table
 * has one entry of CPU_WORDS words per cache and worker slot, at word
 * (slot * MAX_CACHES + cache id) * CPU_WORDS (SLUB's kmem_cache_cpu; a
 * worker's entries are together, so two workers never write one cache line
 * of the table):
 *
 *   W_ACTIVE  the page index of the slab that worker allocates from without
 *             the lock (its active slab, one of its own list), or NIL_PAGE
 *   W_HEAD    first and last slab of the worker's own list (every slab it
 *   W_TAIL    owns, the active one too: slabs a free made non-full go in
 *             front, full ones behind; SLUB's per-CPU partial list), or NIL_PAGE
 *   W_EMPTY   how many slabs on that list, the active one not counted, have
 *             no object in use
 *
 * Made with the space.
 */
export const S_CPU = 6;
/** "No slab" in the per-worker table. */
export const NIL_PAGE = 0xffffffff;
/** Words per entry of the per-worker table. */
export const CPU_WORDS = 4;
/** Entry word: the worker's active slab. */
export const W_ACTIVE = 0;
/** Entry word: the first slab of the worker's own list. */
export const W_HEAD = 1;
/** Entry word: the last slab of the worker's own list. */
export const W_TAIL = 2;
/** Entry word: empty slabs on the worker's own list. */
export const W_EMPTY = 3;
/** Bytes of the per-worker table. */
export const CPU_TABLE_BYTES = MAX_CACHES * MAX_WORKERS * CPU_WORDS * 4;

/** The page and cache descriptor tables of one buddy allocator. */
export class SlabSpace {
  /** The buddy the slabs come from. */
  readonly buddy: BuddyAllocator;
  /** Its Memory. */
  readonly memory: Memory;
  /** Byte address of the region. */
  readonly region: number;
  /** u32 index of the page table. */
  readonly pageTable: number;
  /** u32 index of the cache table. */
  readonly cacheTable: number;
  /** u32 index of the per-worker table (see `S_CPU`), or -1 when the space has none. */
  readonly cpuTable: number;

  private constructor(buddy: BuddyAllocator, region: number, init: boolean, cpuAddr = 0) {
    if (buddy.memory === null)
      throw new InvalidArgumentError('slab caches need bytes: the buddy allocator is offsets-only');
    this.buddy = buddy;
    this.memory = buddy.memory;
    this.region = region;
    const u32 = this.memory.u32;
    const w = region >>> 2;
    if (init) {
      const words = SPACE_CONTROL_WORDS + MAX_CACHES * CACHE_WORDS + buddy.maxPages * PAGE_WORDS;
      u32.fill(0, w, w + words);
      u32[w + S_MAGIC] = SPACE_MAGIC;
      u32[w + S_MAX_PAGES] = buddy.maxPages;
      u32[w + S_CACHE_TABLE] = SPACE_CONTROL_WORDS;
      u32[w + S_PAGE_TABLE] = SPACE_CONTROL_WORDS + MAX_CACHES * CACHE_WORDS;
      u32[w + S_CPU] = cpuAddr;
    } else if (u32[w + S_MAGIC] !== SPACE_MAGIC) {
      throw new MemkitError(`no slab space at ${region} (magic SLAB missing)`);
    }
    this.cacheTable = w + u32[w + S_CACHE_TABLE]!;
    this.pageTable = w + u32[w + S_PAGE_TABLE]!;
    const cpu = u32[w + S_CPU]!;
    this.cpuTable =
      cpu !== 0 && cpu % 4 === 0 && cpu + CPU_TABLE_BYTES <= this.memory.buffer.byteLength ? cpu >>> 2 : -1;
  }

  /** Bytes the region takes for a buddy of `maxPages` pages. */
  static bytesFor(maxPages: number): number {
    return (SPACE_CONTROL_WORDS + MAX_CACHES * CACHE_WORDS + maxPages * PAGE_WORDS) * 4;
  }

  /**
   * The space of `buddy`, made (and its region allocated) on first use. With
   * `register` (the SlabCache path) the space is the one the memkit header's
   * Slab slot points at: found there when another instance (another worker)
   * made it, else made and written there. On a shared memory that lookup
   * and the making happen under the header lock, so two workers making their
   * first cache at once get one space.
   */
  static of(buddy: BuddyAllocator, register = false): SlabSpace {
    let s = spaces.get(buddy);
    if (s !== undefined) {
      // made without register (kmalloc's): the first SlabCache on it registers it
      if (register && hasHeader(s.memory) && s.memory.u32[4 + HeaderSlot.Slab] === 0)
        writeSlot(s.memory, HeaderSlot.Slab, s.region);
      return s;
    }
    const memory = buddy.memory;
    if (memory === null) throw new InvalidArgumentError('slab caches need bytes: the buddy allocator is offsets-only');
    memory.sync();
    const locked = register && memory.shared && hasHeader(memory);
    if (locked) lockMemory(memory, H_LOCK, buddy.slot);
    try {
      const known = register && hasHeader(memory) ? memory.u32[4 + HeaderSlot.Slab]! : 0;
      if (known !== 0) s = new SlabSpace(buddy, known, false);
      else {
        const pages = Math.ceil(SlabSpace.bytesFor(buddy.maxPages) / buddy.pageSize);
        const region = buddy.allocPagesExact(pages);
        // A space for caches on a shared memory gets the per-worker table too.
        const cpu = locked ? buddy.allocPagesExact(Math.ceil(CPU_TABLE_BYTES / buddy.pageSize)) : 0;
        memory.sync();
        if (cpu !== 0) {
          const u32 = memory.u32;
          for (let e = cpu >>> 2; e < (cpu + CPU_TABLE_BYTES) >>> 2; e += CPU_WORDS) {
            u32[e + W_ACTIVE] = NIL_PAGE;
            u32[e + W_HEAD] = NIL_PAGE;
            u32[e + W_TAIL] = NIL_PAGE;
            u32[e + W_EMPTY] = 0;
          }
        }
        s = new SlabSpace(buddy, region, true, cpu);
        memory.sync();
        if (register) writeSlot(memory, HeaderSlot.Slab, region);
      }
    } finally {
      if (locked) unlock(memory.i32, H_LOCK, buddy.slot);
    }
    spaces.set(buddy, s);
    return s;
  }

  /** Reopens the space at `region` (for attach). */
  static open(buddy: BuddyAllocator, region: number): SlabSpace {
    let s = spaces.get(buddy);
    if (s === undefined) {
      s = new SlabSpace(buddy, region, false);
      spaces.set(buddy, s);
    }
    return s;
  }

  /** Number of cache descriptors in use. */
  get cacheCount(): number {
    return this.memory.u32[(this.region >>> 2) + S_CACHES]!;
  }

  /**
   * Reserves a cache descriptor, lets `fill(c)` write it (`c`: its u32
   * index), then publishes it by raising the cache count; returns its id.
   * On a shared memory this runs under the space lock.
   */
  newCacheId(fill?: (c: number) => void): number {
    const m = this.memory;
    m.sync();
    const lockAt = m.shared ? (this.region >>> 2) + S_LOCK : -1;
    if (lockAt >= 0) lockMemory(m, lockAt, this.buddy.slot);
    try {
      const w = (this.region >>> 2) + S_CACHES;
      const id = m.u32[w]!;
      if (id >= MAX_CACHES) throw new MemkitError(`too many slab caches on this buddy (max ${MAX_CACHES})`);
      fill?.(this.cacheWords(id));
      Atomics.store(m.i32, w, id + 1);
      return id;
    } finally {
      if (lockAt >= 0) unlock(m.i32, lockAt, this.buddy.slot);
    }
  }

  /** u32 index of page `pg`'s descriptor (`pageTable + (pg << PAGE_SHIFT)`). */
  descriptor(pg: number): number {
    return this.pageTable + (pg << PAGE_SHIFT);
  }

  /** Page index of the page holding `addr`, or -1 when `addr` is not inside the buddy's pages. */
  pageOf(addr: number): number {
    if (typeof addr !== 'number') return -1;
    const off = addr - this.buddy.base;
    if (!(off >= 0) || off >= this.buddy.maxPages * this.buddy.pageSize) return -1;
    return Math.floor(off / this.buddy.pageSize);
  }

  /** The owner field of page `pg` (see the owner values in layout.ts); OWNER_NONE for a page outside. */
  ownerOf(pg: number): number {
    if (!(pg >= 0 && pg < this.buddy.maxPages)) return OWNER_NONE;
    this.memory.sync();
    return this.memory.u32[this.descriptor(pg) + P_INFO]! & OWNER_MASK;
  }

  /**
   * Marks `pages` pages from `pg` with `owner`. With `delta`, page `pg + i`
   * carries `i` in bits 16..23 of its INFO word (a size-class page's distance
   * from its head); without, the high half is `high` on every page.
   */
  setOwner(pg: number, pages: number, owner: number, delta: boolean, high = 0): void {
    this.memory.sync();
    const u32 = this.memory.u32;
    for (let i = 0; i < pages; i++) u32[this.descriptor(pg + i) + P_INFO] = makeInfo(owner, delta ? high | i : high);
  }

  /** Clears the descriptors of `pages` pages from `pg` (no owner, every word 0). */
  clearPages(pg: number, pages: number): void {
    this.memory.sync();
    const d = this.descriptor(pg);
    this.memory.u32.fill(0, d, d + pages * PAGE_WORDS);
  }

  /** u32 index of cache `id`'s descriptor. */
  cacheWords(id: number): number {
    return this.cacheTable + id * CACHE_WORDS;
  }
}
