/**
 * What the slab cache's helper files (debug.ts, inspect.ts, slabs.ts,
 * worker.ts) see of a cache: the geometry and indices they read, the lock
 * they take, and what they call back. {@link SlabCache} implements it (the
 * members not public are marked internal there). Declared here, below the
 * class, so that the helpers import no file that imports them (no cycle).
 *
 * @module
 */
import type { BuddyAllocator } from '../buddy/index.js';
import type { Memory } from '../memory/memory.js';
import type { SlabSpace } from './space.js';

/** A cache as its helper functions use it. */
export interface SlabCore {
  readonly name: string;
  readonly size: number;
  readonly memory: Memory;
  readonly flags: number;
  readonly objOffset: number;
  readonly fpOffset: number;
  readonly objectsPerSlab: number;
  /** u32 index of the page table. */
  readonly pt: number;
  /** The free-pointer secret (0: not hardened). */
  readonly secret: number;
  /** Address of the buddy's page 0. */
  readonly base: number;
  /** log2 of a page's bytes. */
  readonly shift: number;
  readonly id: number;
  readonly stride: number;
  readonly order: number;
  /** The slab space the cache is in. */
  readonly space: SlabSpace;
  /** u32 index of the cache descriptor. */
  readonly c: number;
  /** Pages the buddy may reach. */
  readonly maxPages: number;
  /** Bytes of a slab's object grid. */
  readonly span: number;
  /** u32 index of this worker's per-worker table word, or -1. */
  readonly cpuAt: number;
  /** The buddy the slabs come from. */
  readonly buddy: BuddyAllocator;
  /** The constructor run on each object of a new slab (a method call: `this` is the cache). */
  readonly ctor: ((addr: number) => void) | undefined;
  /** u32 index of the cache's lock word when the memory is shared, else -1. */
  readonly lockAt: number;
  /** The worker slot the cache's lock is taken under. */
  readonly slot: number;
  /** True unless `next` is a slot start of slab `pg`. */
  offGrid(next: number, pg: number): boolean;
  /** Moves slab `pg` from list `from` to list `to` (C_PARTIAL / C_FULL / C_EMPTY of layout.ts). */
  move(pg: number, from: number, to: number): void;
  /** Puts slab `pg` (on no list) at the head of list `list`. */
  pushList(pg: number, list: number): void;
  /** Takes slab `pg` off list `list`. */
  unlink(pg: number, list: number): void;
  /** Throws unless page `pg` (a link read from u32 word `word`) is SLAB_NIL or a slab of this cache. */
  checkLink(pg: number, word: number): void;
  /** Takes the cache's lock (shared memory only). */
  enter(): void;
  /** Releases what `enter` took. */
  leave(): void;
}
