/**
 * Kmalloc's inspection API: the size classes seen as caches
 * ({@link KmallocCache}, for `slabinfo`, `caches` and the visualizer), every
 * live block, the TLSF chunks, the pages of a class and their free blocks,
 * the page owners and the counters. Each function takes the heap
 * ({@link KmallocCore}) and takes the heap lock itself; none is on a fast path.
 *
 * @module
 */
import { argumentError } from '../errors/index.js';
import type { SlabList, SlabStats } from '../slab/index.js';
import {
  HEAP_ABANDONED,
  HEAP_SHIFT,
  OWNER_CLASS,
  OWNER_CLASS_DEBUG,
  OWNER_LARGE,
  OWNER_MASK,
  PAGE_SHIFT,
  P_FREELIST,
  P_INFO,
  P_LOCAL_FREE,
  P_UNUSED,
  P_USED,
  TF_FULL,
  USED_FULL,
  USED_MASK,
  makeInfo,
} from '../slab/layout.js';
import { className } from './classes.js';
import type { KmallocCore } from './core.js';
import { CLASS_WORDS, CW_FREED, CW_MADE, K_CUR, K_LARGE_BLOCKS, K_LARGE_PAGES } from './layout.js';
import { cachedTotals } from './large-cache.js';
import { currentFreeWord } from './pages.js';

/**
 * One size class of a {@link Kmalloc} seen as a cache (for `slabinfo`,
 * `caches`, the visualizer): its pages are its slabs.
 */
export class KmallocCache {
  /** kmalloc-<size>, as the kernel names its caches. */
  readonly name: string;
  /** Block size (what `ksize` reports). */
  readonly size: number;
  /** Bytes per slot (the size, or with debug the size and two red zones). */
  readonly stride: number;
  /** Blocks per page. */
  readonly objectsPerSlab: number;
  /** Buddy pages per page of this class. */
  readonly pagesPerSlab: number;
  /** Offset of the block in its slot (8 with debug red zones, else 0). */
  readonly objOffset: number;
  private readonly k: KmallocCore;
  private readonly cls: number;

  /** @internal made by Kmalloc. */
  constructor(
    k: KmallocCore,
    cls: number,
    size: number,
    stride: number,
    pages: number,
    objs: number,
    objOffset: number,
  ) {
    this.k = k;
    this.cls = cls;
    this.name = className(size);
    this.size = size;
    this.stride = stride;
    this.pagesPerSlab = pages;
    this.objectsPerSlab = objs;
    this.objOffset = objOffset;
  }

  /**
   * Calls `visit(pageAddr, used, list)` for each page: 'partial' (on the queue, some used), 'empty' (on the queue, none used), 'full'.
   *
   * @example
   * ```ts
   * const k = new Kmalloc({ bytes: 1 << 20 });
   * k.kmalloc(40);
   * const c40 = k.caches.find((c) => c.size === 40)!;
   * c40.forEachSlab((addr, inuse, list) => console.log(inuse, list)); // 1 'partial'
   * ```
   */
  forEachSlab(visit: (addr: number, inuse: number, list: SlabList) => void): void {
    if (typeof visit !== 'function') throw argumentError('visit', 'a function', visit);
    forEachClassPage(this.k, this.cls, (addr, used, full) =>
      visit(addr, used, full ? 'full' : used === 0 ? 'empty' : 'partial'),
    );
  }

  /**
   * Addresses of the free blocks of the page at `pageAddr`.
   *
   * @example
   * ```ts
   * const k = new Kmalloc({ bytes: 1 << 20 });
   * k.kmalloc(40);
   * const c40 = k.caches.find((c) => c.size === 40)!;
   * c40.forEachSlab((addr) => console.log(c40.freeObjects(addr).length)); // 101 of its 102
   * ```
   */
  freeObjects(pageAddr: number): number[] {
    return freeBlocksOf(this.k, this.cls, pageAddr);
  }

  /**
   * Counters, as a SlabCache's.
   *
   * @example
   * ```ts
   * const k = new Kmalloc({ bytes: 1 << 20 });
   * k.kmalloc(40);
   * const c40 = k.caches.find((c) => c.size === 40)!;
   * const { slabs, activeObjects, objectsPerSlab } = c40.stats(); // 1 1 102
   * ```
   */
  stats(): SlabStats {
    let slabs = 0;
    let full = 0;
    let empty = 0;
    let active = 0;
    forEachClassPage(this.k, this.cls, (_a, used, isFull) => {
      slabs++;
      active += used;
      if (isFull) full++;
      else if (used === 0) empty++;
    });
    return {
      name: this.name,
      objectSize: this.size,
      stride: this.stride,
      objectsPerSlab: this.objectsPerSlab,
      pagesPerSlab: this.pagesPerSlab,
      slabs,
      partialSlabs: slabs - full - empty,
      fullSlabs: full,
      emptySlabs: empty,
      activeObjects: active,
      totalObjects: slabs * this.objectsPerSlab,
      ...pagesMadeFreed(this.k, this.cls),
    };
  }

  /**
   * This class's `/proc/slabinfo` (version 2.1) row.
   *
   * @example
   * ```ts
   * const k = new Kmalloc({ bytes: 1 << 20 });
   * k.kmalloc(40);
   * const c40 = k.caches.find((c) => c.size === 40)!;
   * c40.slabinfoRow(); // 'kmalloc-40             1    102     40  102    1 : tunables ...'
   * ```
   */
  slabinfoRow(): string {
    const s = this.stats();
    const activeSlabs = s.slabs - s.emptySlabs;
    return (
      `${s.name.padEnd(17)} ${pad(s.activeObjects, 6)} ${pad(s.totalObjects, 6)} ${pad(s.stride, 6)} ${pad(s.objectsPerSlab, 4)} ${pad(s.pagesPerSlab, 4)}` +
      ` : tunables ${pad(0, 4)} ${pad(0, 4)} ${pad(0, 4)} : slabdata ${pad(activeSlabs, 6)} ${pad(s.slabs, 6)} ${pad(0, 6)}`
    );
  }
}

/** Calls `visit(addr, usableSize)` for every live block of `kh` (class blocks, TLSF blocks, then large blocks). */
export function forEachBlock(
  kh: KmallocCore,
  caches: readonly KmallocCache[],
  visit: (addr: number, usableSize: number) => void,
): void {
  if (typeof visit !== 'function') throw argumentError('visit', 'a function', visit);
  // Listed first, then visited with no lock held: `visit` may alloc and free (a walk of the
  // buddy or of a page while a visit frees its blocks reads a changing state).
  const found: number[] = [];
  const see = (addr: number, size: number): void => {
    found.push(addr, size);
  };
  kh.enter();
  try {
    caches.forEach((c, cls) => {
      forEachClassPage(kh, cls, (page, used) => {
        if (used === 0) return;
        const free = new Set(freeBlocksOf(kh, cls, page));
        for (let i = 0; i < c.objectsPerSlab; i++) {
          const obj = page + i * c.stride + kh.objOffset;
          if (!free.has(obj)) see(obj, c.size);
        }
      });
    });
    if (kh.med === null) {
      kh.heap0.forEachBlockLocked((addr, size, isFree) => {
        if (!isFree) see(addr, size);
      });
    } else {
      // Every slot's heap; a block on a remote list (a free not yet taken in) is not live.
      const med = kh.med;
      med.forEachHeap((s, heap) => {
        const pending = med.remoteBlocks(s);
        heap.forEachBlockLocked((addr, size, isFree) => {
          if (!isFree && !pending.has(addr)) see(addr, size);
        });
      });
    }
    kh.buddy.forEachBlock((addr, pages, isFree) => {
      if (isFree) return;
      if (kh.space.ownerOf(kh.space.pageOf(addr)) === OWNER_LARGE) see(addr, pages * kh.pageSize);
    });
  } finally {
    kh.leave();
  }
  for (let i = 0; i < found.length; i += 2) visit(found[i]!, found[i + 1]!);
}

/** Calls `visit(addr, slot)` for every chunk of the medium tier's TLSF heaps (see `Kmalloc.forEachTlsfChunk`). */
export function forEachTlsfChunk(kh: KmallocCore, visit: (addr: number, slot: number) => void): void {
  if (typeof visit !== 'function') throw argumentError('visit', 'a function', visit);
  kh.enter();
  try {
    kh.memory.syncChecked();
    if (kh.med === null) kh.heap0.forEachChunk((addr) => visit(addr, 0));
    else kh.med.forEachHeap((s, heap) => heap.forEachChunk((addr) => visit(addr, s)));
  } finally {
    kh.leave();
  }
}

/** Pages of class `cls` taken from and given back to the buddy since the heap was made. */
export function pagesMadeFreed(kh: KmallocCore, cls: number): { slabsMade: number; slabsFreed: number } {
  kh.enter();
  try {
    kh.memory.syncChecked();
    const u32 = kh.memory.u32;
    const w = kh.k + K_CUR + kh.nClasses + cls * CLASS_WORDS;
    return { slabsMade: u32[w + CW_MADE]!, slabsFreed: u32[w + CW_FREED]! };
  } finally {
    kh.leave();
  }
}

/** Calls `visit(pageAddr, used, full)` for each page of class `cls`, in address order. */
export function forEachClassPage(
  kh: KmallocCore,
  cls: number,
  visit: (addr: number, used: number, full: boolean) => void,
): void {
  kh.enter();
  try {
    kh.memory.syncChecked();
    const u32 = kh.memory.u32;
    const owner = (kh.debug ? OWNER_CLASS_DEBUG : OWNER_CLASS) + cls;
    const info = makeInfo(owner, 0);
    const limit = kh.span[cls]! / kh.stride[cls]!;
    for (let pg = 0; pg < kh.buddy.pages; pg++) {
      const d = kh.pt + (pg << PAGE_SHIFT);
      if ((u32[d + P_INFO]! & 0xffffff) !== info) continue; // any heap byte
      const w = u32[d + P_USED]!;
      // Blocks on thread_free still count in `used` until the owner collects them, and those on
      // the owner's curFree while the page is its current one.
      let remote = 0;
      for (let p = (u32[d + kh.tfDelta]! & ~TF_FULL) >>> 0; p !== 0 && remote <= limit; p = u32[p >>> 2]!) remote++;
      const cf = currentFreeWord(kh, d, cls);
      if (cf >= 0) for (let p = u32[cf]!, n = 0; p !== 0 && n <= limit; p = u32[p >>> 2]!, n++) remote++;
      visit(kh.base + ((pg << kh.shift) >>> 0), (w & USED_MASK) - remote, (w & USED_FULL) !== 0);
    }
  } finally {
    kh.leave();
  }
}

/** Addresses of the free blocks of class `cls`'s page at `pageAddr` (lists, then never-used slots). */
export function freeBlocksOf(kh: KmallocCore, cls: number, pageAddr: number): number[] {
  kh.enter();
  try {
    kh.memory.syncChecked();
    const u32 = kh.memory.u32;
    // Only the first page of one of this class's pages: any other descriptor's words are no
    // list of this class (a walk of them reads anywhere, and its never-used run can be 2^29 long).
    const ok = typeof pageAddr === 'number' && pageAddr >>> 0 === pageAddr && pageAddr >= kh.base;
    const pg = ok ? (pageAddr - kh.base) >>> kh.shift : 0;
    const h = kh.pt + (pg << PAGE_SHIFT);
    if (
      !ok ||
      ((pageAddr - kh.base) & (kh.pageSize - 1)) !== 0 ||
      pg >= kh.buddy.pages ||
      (u32[h + P_INFO]! & 0xffffff) !== makeInfo((kh.debug ? OWNER_CLASS_DEBUG : OWNER_CLASS) + cls, 0)
    )
      throw argumentError('pageAddr', `the address of a page of class ${cls}`, pageAddr);
    const out: number[] = [];
    const limit = kh.span[cls]! / kh.stride[cls]!;
    const lists = [h + P_FREELIST, h + P_LOCAL_FREE, h + kh.tfDelta];
    const cf = currentFreeWord(kh, h, cls);
    if (cf >= 0) lists.push(cf);
    for (const list of lists) {
      for (let p = (u32[list]! & ~TF_FULL) >>> 0; p !== 0 && out.length <= limit; p = u32[p >>> 2]!)
        out.push(p + kh.objOffset);
    }
    for (let q = u32[h + P_UNUSED]!; q < pageAddr + kh.span[cls]!; q += kh.stride[cls]!) out.push(q + kh.objOffset);
    return out;
  } finally {
    kh.leave();
  }
}

/** `/proc/slabinfo` version 2.1 of `caches` (see `Kmalloc.slabinfo`). */
export function slabinfo(kh: KmallocCore, caches: readonly KmallocCache[]): string {
  kh.enter();
  try {
    kh.memory.syncChecked();
    const lines = [
      'slabinfo - version: 2.1',
      '# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>',
    ];
    for (let i = caches.length - 1; i >= 0; i--) lines.push(caches[i]!.slabinfoRow());
    return lines.join('\n') + '\n';
  } finally {
    kh.leave();
  }
}

/** Counters of the large blocks. */
export function largeStats(kh: KmallocCore): { blocks: number; pages: number } {
  kh.enter();
  try {
    kh.memory.syncChecked();
    const u32 = kh.memory.u32;
    // The counters include the blocks workers keep in their large-block caches (large-cache.ts).
    const cached = kh.med === null ? { blocks: 0, pages: 0 } : cachedTotals(kh);
    return { blocks: u32[kh.k + K_LARGE_BLOCKS]! - cached.blocks, pages: u32[kh.k + K_LARGE_PAGES]! - cached.pages };
  } finally {
    kh.leave();
  }
}

/** The worker slot whose own class page holds `addr`, or -1 (see `Kmalloc.pageOwner`). */
export function pageOwner(kh: KmallocCore, addr: number): number {
  if (typeof addr !== 'number' || addr >>> 0 !== addr) throw argumentError('addr', 'an address', addr);
  kh.memory.syncChecked();
  const pg = (addr - kh.base) >>> kh.shift;
  if (addr < kh.base || pg >= kh.buddy.pages) return -1;
  const info = kh.memory.u32[kh.pt + (pg << PAGE_SHIFT) + P_INFO]!;
  const owner = info & OWNER_MASK;
  const cls = owner - (owner >= OWNER_CLASS_DEBUG ? OWNER_CLASS_DEBUG : OWNER_CLASS);
  if (owner < OWNER_CLASS || cls >= kh.nClasses) return -1;
  const heap = info >>> HEAP_SHIFT;
  return heap === HEAP_ABANDONED ? -1 : heap;
}

function pad(n: number, w: number): string {
  return String(n).padStart(w);
}
