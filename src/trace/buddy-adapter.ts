/**
 * A {@link BuddyAllocator} seen as a {@link ByteAllocator}: byte requests are
 * rounded up to whole pages, so trace replay can put the page allocator next
 * to kmalloc and the peers (and show why nobody mallocs 9 bytes from it).
 *
 * ```
 *  alloc(size)      allocPages(ceil(size / pageSize))   -> 2^k pages
 *  usableSize(p)    blockPages(p) * pageSize
 *  footprint()      pages in blocks this adapter holds * pageSize
 *  realloc(p, n)    in place when n fits the block, else alloc + copy + free
 * ```
 *
 * @module
 */
import { BuddyAllocator, type BuddyOptions } from '../buddy/index.js';
import { InvalidArgumentError } from '../errors/index.js';
import type { ByteAllocator } from '../memory/byte-allocator.js';

/** Options of {@link BuddyByteAllocator}. */
export interface BuddyByteAllocatorOptions {
  /** Name in reports (default `buddy`). */
  name?: string;
  /** Use `allocPagesExact` (n pages, the tail given back) instead of 2^k pages. */
  exact?: boolean;
}

/**
 * The adapter. It counts the pages it holds itself, so `footprint()` is O(1)
 * and covers only its own blocks (not pages others took from the same buddy).
 *
 * @example
 * ```ts
 * const a = new BuddyByteAllocator(new BuddyAllocator({ pages: 64 }));
 * const p = a.alloc(5000);   // 2 pages
 * a.usableSize(p);           // 8192
 * a.footprint();             // 8192
 * ```
 */
export class BuddyByteAllocator implements ByteAllocator {
  /** Name in reports. */
  readonly name: string;
  /** The page allocator underneath. */
  readonly buddy: BuddyAllocator;
  private readonly pageSize: number;
  private readonly shift: number;
  private readonly exact: boolean;
  private usedPages = 0;

  /** Wraps `buddy`. */
  constructor(buddy: BuddyAllocator, options: BuddyByteAllocatorOptions = {}) {
    this.buddy = buddy;
    this.name = options.name ?? 'buddy';
    this.pageSize = buddy.pageSize;
    this.shift = 31 - Math.clz32(buddy.pageSize);
    this.exact = options.exact === true;
  }

  /** The buddy's bytes (undefined in offsets-only mode). */
  get bytes(): Uint8Array | undefined {
    const m = this.buddy.memory;
    if (m === null) return undefined;
    m.sync();
    return m.u8;
  }

  /**
   * Allocates `ceil(size / pageSize)` pages (at least one), rounded up to a
   * power of two unless `exact`.
   *
   * @throws InvalidArgumentError for a size that is not a whole number >= 0;
   * OutOfMemoryError when the buddy has no block.
   */
  alloc(size: number): number {
    if (!(size >= 0 && size <= 2 ** 42) || Math.floor(size) !== size) return this.badSize(size);
    const n = size <= this.pageSize ? 1 : Math.ceil(size / this.pageSize);
    const b = this.buddy;
    const p = this.exact ? b.allocPagesExact(n) : b.allocPages(n);
    this.usedPages += b.blockPages(p);
    return p;
  }

  /** Frees the block at `addr` (InvalidFreeError / DoubleFreeError from the buddy). */
  free(addr: number): void {
    const n = this.buddy.blockPages(addr);
    this.buddy.free(addr);
    this.usedPages -= n;
  }

  /**
   * Keeps the block when `size` fits it; otherwise allocates a new block,
   * copies the old block's bytes and frees it. On OutOfMemoryError the old
   * block is untouched.
   */
  realloc(addr: number, size: number): number {
    const b = this.buddy;
    const have = b.blockPages(addr) << this.shift;
    if (!(size >= 0 && size <= 2 ** 42) || Math.floor(size) !== size) return this.badSize(size);
    if (size <= have) return addr;
    const q = this.alloc(size);
    const m = b.memory;
    if (m !== null) {
      m.sync();
      m.u8.copyWithin(q, addr, addr + have);
    }
    this.free(addr);
    return q;
  }

  /** Bytes of the block at `addr`: its pages times the page size. */
  usableSize(addr: number): number {
    return this.buddy.blockPages(addr) * this.pageSize;
  }

  /** Pages held by this adapter's blocks, in bytes. */
  footprint(): number {
    return this.usedPages * this.pageSize;
  }

  private badSize(size: number): never {
    throw new InvalidArgumentError(`size must be a whole number >= 0, got ${String(size)}`);
  }
}

/**
 * A memory-backed buddy for replaying a trace: starts with room for about
 * `4 * heapBytes` and may grow (the buddy grows itself on demand) up to what
 * a Memory can hold.
 */
export function createBuddyAllocator(
  heapBytes: number,
  options: BuddyOptions & BuddyByteAllocatorOptions = {},
): BuddyByteAllocator {
  const pageSize = options.pageSize ?? 4096;
  const start = Math.max(16, 2 ** Math.ceil(Math.log2(Math.max(1, (4 * heapBytes) / pageSize))));
  // The state costs about 9 bytes a page and lives in the same Memory (< 4 GiB).
  const maxPages = options.maxPages ?? Math.max(start, Math.floor((2 ** 32 - 2 ** 26) / (pageSize + 16)));
  const pages = Math.min(start, maxPages);
  // BuddyAllocator refuses unknown options: hand it only its own.
  const { name: _name, exact: _exact, ...buddyOptions } = options;
  const buddy = new BuddyAllocator({ ...buddyOptions, pageSize, pages, maxPages });
  return new BuddyByteAllocator(buddy, options);
}
