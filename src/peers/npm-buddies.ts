/**
 * Peers for comparisons: the buddy allocators published on npm, behind one
 * page-level interface ({@link PageBlockAllocator}) shaped like memkit's
 * `BuddyAllocator` (`allocPages(n)` gives a byte address, `free(addr)`), so the
 * page-level benchmark drives them all with the same sizes.
 *
 * - `alloc` (Simon Ratner, CJS): a buddy allocator over a Node `Buffer`; free
 *   lists are JS arrays, `free` scans its order's list for the buddy (O(n)),
 *   and `alloc` returns a `Buffer` slice that must be handed back to `free`.
 *   The adapter keeps that slice in a JS array indexed by page number.
 * - `buddy-tree` (Marius Gundersen): an immutable binary tree of JS objects;
 *   each allocate/deallocate copies the path from the root. The adapter holds
 *   the current tree.
 *
 * Neither checks a free: the adapters throw `InvalidFreeError` for an address
 * they did not hand out (cheap checks only), so a benchmark bug cannot go
 * unseen. Not part of memkit's public API.
 *
 * @module
 */
import { createRequire } from 'node:module';
import * as buddyTree from 'buddy-tree';
import { InvalidFreeError, OutOfMemoryError, checkInteger, hex } from '../errors/index.js';

/**
 * A page-granular block allocator, the common shape of memkit's
 * `BuddyAllocator` and the npm peers.
 */
export interface PageBlockAllocator {
  /** Short name for tables. */
  readonly name: string;
  /** Bytes per page. */
  readonly pageSize: number;
  /** Pages managed. */
  readonly pages: number;
  /** Allocates a block of at least `n` pages; returns its byte address. */
  allocPages(n: number): number;
  /** Frees the block at `addr`. */
  free(addr: number): void;
}

/** Options of the npm buddy adapters. */
export interface NpmBuddyOptions {
  /** Pages managed; rounded up to a power of two (both peers need one). */
  pages: number;
  /** Bytes per page (a power of two); default 4096. */
  pageSize?: number;
}

/** The part of `alloc`'s `BuddyAllocator` the adapter uses. */
interface AllocBuddy {
  alloc(size: number): Buffer | null;
  free(block: Buffer): void;
}
type AllocBuddyCtor = new (buffer: Buffer, options: { minSize: number }) => AllocBuddy;

const require = createRequire(import.meta.url);

function powerOfTwoAtLeast(n: number): number {
  return n <= 1 ? 1 : 2 ** Math.ceil(Math.log2(n));
}

function checkOptions(o: NpmBuddyOptions): { pages: number; pageSize: number; shift: number } {
  const pageSize = o.pageSize ?? 4096;
  checkInteger(pageSize, 'pageSize', 1, 2 ** 24);
  if ((pageSize & (pageSize - 1)) !== 0) checkInteger(-1, 'pageSize (a power of two)', 1, 2 ** 24);
  const pages = powerOfTwoAtLeast(checkInteger(o.pages, 'pages', 1, 2 ** 20));
  return { pages, pageSize, shift: Math.log2(pageSize) };
}

/**
 * npm `alloc`'s `BuddyAllocator` over a `Buffer` of `pages * pageSize` bytes,
 * with `minSize = pageSize`.
 *
 * @example
 * ```ts
 * const a = new AllocBuddyAdapter({ pages: 1024 });
 * const addr = a.allocPages(3);   // a 4-page block
 * a.free(addr);
 * ```
 */
export class AllocBuddyAdapter implements PageBlockAllocator {
  /** "alloc (npm)". */
  readonly name = 'alloc (npm)';
  /** Bytes per page. */
  readonly pageSize: number;
  /** Pages managed (a power of two). */
  readonly pages: number;
  /** The Buffer the peer allocates from. */
  readonly buffer: Buffer;
  private readonly shift: number;
  private readonly inner: AllocBuddy;
  /** The live slices, by page number (the peer's `free` needs the slice). */
  private readonly blocks: (Buffer | undefined)[];

  constructor(options: NpmBuddyOptions) {
    const { pages, pageSize, shift } = checkOptions(options);
    this.pages = pages;
    this.pageSize = pageSize;
    this.shift = shift;
    this.buffer = Buffer.alloc(pages * pageSize);
    const Ctor = (require('alloc') as { BuddyAllocator: AllocBuddyCtor }).BuddyAllocator;
    this.inner = new Ctor(this.buffer, { minSize: pageSize });
    this.blocks = new Array<Buffer | undefined>(pages).fill(undefined);
  }

  /** Allocates `n` pages' worth of bytes; `OutOfMemoryError` when no block fits. */
  allocPages(n: number): number {
    const block = this.inner.alloc(n << this.shift);
    if (block === null) throw new OutOfMemoryError(`alloc (npm): no block of ${n} pages`, n);
    const addr = block.byteOffset - this.buffer.byteOffset;
    this.blocks[addr >>> this.shift] = block;
    return addr;
  }

  /** Frees the block at `addr`. */
  free(addr: number): void {
    const i = addr >>> this.shift;
    const block = this.blocks[i];
    if (block === undefined || i << this.shift !== addr) {
      throw new InvalidFreeError(`alloc (npm): ${hex(addr)} is not an allocated block`, addr);
    }
    this.blocks[i] = undefined;
    this.inner.free(block);
  }
}

/**
 * npm `buddy-tree` (immutable) over `pages` pages: each call replaces the
 * tree the adapter holds.
 *
 * @example
 * ```ts
 * const t = new BuddyTreeAdapter({ pages: 1024 });
 * const addr = t.allocPages(3);   // address of a 4-page block
 * t.free(addr);
 * ```
 */
export class BuddyTreeAdapter implements PageBlockAllocator {
  /** "buddy-tree (npm)". */
  readonly name = 'buddy-tree (npm)';
  /** Bytes per page. */
  readonly pageSize: number;
  /** Pages managed (a power of two). */
  readonly pages: number;
  /** The current tree (a new object after every call). */
  tree: buddyTree.Node;
  private readonly shift: number;

  constructor(options: NpmBuddyOptions) {
    const { pages, pageSize, shift } = checkOptions(options);
    this.pages = pages;
    this.pageSize = pageSize;
    this.shift = shift;
    this.tree = buddyTree.createTree(pages);
  }

  /** Allocates a block of at least `n` pages; `OutOfMemoryError` when none fits. */
  allocPages(n: number): number {
    const r = buddyTree.allocate(this.tree, n);
    if (r.address < 0) throw new OutOfMemoryError(`buddy-tree: no block of ${n} pages`, n);
    this.tree = r.tree;
    return r.address << this.shift;
  }

  /** Frees the block at `addr` (checked only for range and page alignment). */
  free(addr: number): void {
    const page = addr >>> this.shift;
    if (page << this.shift !== addr || page >= this.pages) {
      throw new InvalidFreeError(`buddy-tree: ${hex(addr)} is not a page of this tree`, addr);
    }
    this.tree = buddyTree.deallocate(this.tree, page);
  }
}
