/**
 * The one interface every byte-granular allocator offers, so that trace
 * replay, benchmarks and the visualizer can drive any of them (memkit's own
 * and adapters for peers) the same way.
 *
 * @module
 */

/**
 * A general allocator of byte blocks. Addresses are byte offsets (numbers).
 *
 * @example
 * ```ts
 * function roundTrip(a: ByteAllocator) {
 *   const p = a.alloc(100);
 *   const q = a.realloc(p, 200);   // content kept up to 100 bytes
 *   a.free(q);
 * }
 * ```
 */
export interface ByteAllocator {
  /** A short name for tables ("kmalloc", "buddy", "thing"). */
  readonly name: string;
  /** Allocates `size` bytes; throws `OutOfMemoryError` when it cannot. */
  alloc(size: number): number;
  /** Frees a block returned by `alloc`/`realloc`. */
  free(addr: number): void;
  /**
   * Resizes a block, moving it when it must; the content is kept up to the
   * smaller of the old and new sizes. Returns the (maybe new) address.
   */
  realloc(addr: number, size: number): number;
  /** Bytes the caller may use at `addr` (at least what was asked for). */
  usableSize(addr: number): number;
  /** Bytes this allocator has taken from its memory right now. */
  footprint(): number;
  /** The bytes, when the allocator has any (not for offsets-only ones). */
  readonly bytes?: Uint8Array | undefined;
}
