/**
 * Types of the arena layer: options, stats, and the page source an arena
 * can take its chunks from.
 *
 * @module
 */
import type { Memory } from '../memory/index.js';

/**
 * Where a growing arena can take chunks from: the part of the
 * `BuddyAllocator` API an arena needs. Declared here, structurally, so that
 * the arena layer does not import the buddy layer.
 */
export interface PageSource {
  /** Bytes per page. */
  readonly pageSize: number;
  /** The bytes; an arena needs a memory-backed page source. */
  readonly memory: Memory | null;
  /** Address of a block of at least `n` pages; throws `OutOfMemoryError`. */
  allocPages(n: number): number;
  /** Pages of the allocated block at `addr`. */
  blockPages(addr: number): number;
  /** Gives the block at `addr` back. */
  free(addr: number): void;
}

/** Options of a memory-backed arena: `new Arena({ bytes })`. */
export interface ArenaMemoryOptions {
  /** Usable bytes of the first chunk (the whole arena when not growing). */
  bytes: number;
  /**
   * Opt-in growth: the total usable bytes of all chunks may grow up to
   * `maxBytes` (the Memory grows, new chunks are chained). Default: `bytes`
   * (a fixed arena).
   */
  maxBytes?: number;
  /**
   * Least usable bytes of a chunk added by growth (default `bytes`, at
   * least 256). A new chunk is also at least as large as the capacity so
   * far (doubling), never beyond `maxBytes`.
   */
  chunkBytes?: number;
  /** Back the arena with a `SharedArrayBuffer` (to share with workers). */
  shared?: boolean;
}

/** Options of an arena that takes its chunks from a buddy allocator. */
export interface ArenaBuddyOptions {
  /** A memory-backed `BuddyAllocator` (or any {@link PageSource}). */
  buddy: PageSource;
  /** Pages asked for per chunk (default 4); larger requests get more. */
  chunkPages?: number;
  /** Cap on the total usable bytes of all chunks (default: no cap). */
  maxBytes?: number;
}

/** Options of `new Arena(...)`. */
export type ArenaOptions = ArenaMemoryOptions | ArenaBuddyOptions;

/** Options of `Arena.attach`. */
export interface ArenaAttachOptions {
  /** State region address (default: the header's `HeaderSlot.Arena` slot). */
  at?: number;
  /** The page source, required to attach to a buddy-backed arena. */
  buddy?: PageSource;
}

/** What `arena.stats()` reports. All sizes in bytes. */
export interface ArenaStats {
  /** Bytes handed out since the last reset, alignment padding included. */
  used: number;
  /** Usable bytes of all chunks the arena holds. */
  capacity: number;
  /** Chunks held (spare chunks of a memory-backed arena included). */
  chunks: number;
  /**
   * Bytes lost at chunk ends: left over in a chunk when an allocation did
   * not fit and the arena moved on to the next. Invariant: `used + waste +
   * available` = the usable bytes of the chunks from the first to the
   * current one.
   */
  waste: number;
  /** Bytes left in the current chunk. */
  available: number;
  /** `'fixed'`, `'memory'` (grows the Memory) or `'buddy'`. */
  mode: 'fixed' | 'memory' | 'buddy';
}

/** One chunk, as `arena.chunkList()` describes it (for maps and tests). */
export interface ArenaChunkInfo {
  /** Address of the chunk header. */
  address: number;
  /** First data byte. */
  data: number;
  /** One past the last usable byte. */
  end: number;
  /** Bytes handed out in this chunk (to `top` for the current one). */
  used: number;
  /** `'chain'` (in use, first to current) or `'spare'` (memory mode). */
  kind: 'chain' | 'spare';
}

/**
 * What `arena.scope()` returns: `using s = arena.scope()` rewinds the
 * arena to where it was when the scope began, at the end of the block.
 */
export interface ArenaScope extends Disposable {
  /** The mark the scope rewinds to. */
  readonly mark: number;
}
