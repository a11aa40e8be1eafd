/**
 * What the garbage collector needs from the allocator under it.
 *
 * A {@link Kmalloc} satisfies this interface as it is; so does any allocator
 * that hands out 8-byte-aligned blocks of a {@link Memory}. The collector
 * never asks the backend to enumerate its blocks: it keeps its own
 * all-objects list in the object headers (see `layout.ts`).
 *
 * @module
 */
import type { Memory } from '../memory/memory.js';

/**
 * The allocator a {@link ManagedHeap} draws its objects and its own tables
 * from.
 *
 * @example
 * ```ts
 * const heap = new ManagedHeap({ backend: new Kmalloc({ bytes: 1 << 24 }) });
 * ```
 */
export interface GcBackend {
  /** The bytes; every address the backend returns is an offset into it. */
  readonly memory: Memory;
  /**
   * Returns the address of a block of at least `size` bytes, 8-byte
   * aligned, never 0. Throws `OutOfMemoryError` when it has no room.
   */
  alloc(size: number): number;
  /** Gives back a block returned by `alloc`. */
  free(addr: number): void;
  /** Bytes taken from the memory right now (optional, for stats). */
  footprint?(): number;
}
