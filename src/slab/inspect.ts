/**
 * What a slab cache reports about itself: its counters (`stats()`), its
 * slabs (`forEachSlab`), a slab's free objects and whether an address is
 * allocated, counting the workers' slabs and what waits on their
 * remote-free lists. Each takes the cache ({@link SlabCore}), with the
 * cache lock held on a shared memory (the class's methods take it).
 *
 * @module
 */
import { InvalidArgumentError, hex } from '../errors/index.js';
import { MAX_WORKERS } from '../memory/lock.js';
import type { SlabCore } from './core.js';
import type { SlabList, SlabStats } from './create.js';
import { checkListPage, onFreelist } from './debug.js';
import {
  C_EMPTY,
  C_FULL,
  C_N_EMPTY,
  C_N_FULL,
  C_N_PARTIAL,
  C_PARTIAL,
  C_SLABS_FREED,
  C_SLABS_MADE,
  FREE_TAG,
  MAX_CACHES,
  PAGE_WORDS,
  P_FREELIST,
  P_INFO,
  P_NEXT,
  P_REMOTE,
  P_UNUSED,
  SEALED,
  SLAB_NIL,
  TAIL_MARK,
} from './layout.js';
import { CPU_WORDS, W_ACTIVE, W_HEAD } from './space.js';

export function statsOf(c: SlabCore): SlabStats {
  const mem = c.memory;
  mem.sync();
  const u32 = mem.u32;
  const d = c.c;
  let partial = u32[d + C_N_PARTIAL]!;
  let full = u32[d + C_N_FULL]!;
  let empty = u32[d + C_N_EMPTY]!;
  // the workers' own lists, by inuse count (their active slabs count in `slabs` only)
  for (const pg of listedSlabs(c)) {
    const inuse = u32[c.pt + pg * PAGE_WORDS + P_INFO]! >>> 16;
    if (inuse === 0) empty++;
    else if (inuse === c.objectsPerSlab) full++;
    else partial++;
  }
  const slabs = partial + full + empty + activeSlabs(c).length;
  return {
    name: c.name,
    objectSize: c.size,
    stride: c.stride,
    objectsPerSlab: c.objectsPerSlab,
    pagesPerSlab: 1 << c.order,
    slabs,
    partialSlabs: partial,
    fullSlabs: full,
    emptySlabs: empty,
    activeObjects: countActive(c),
    totalObjects: slabs * c.objectsPerSlab,
    slabsMade: u32[d + C_SLABS_MADE]!,
    slabsFreed: u32[d + C_SLABS_FREED]!,
  };
}

/** Objects in use: the sum of the inuse counts of the partial and full slabs (no counter on the fast path). */
export function countActive(c: SlabCore): number {
  const u32 = c.memory.u32;
  let n = 0;
  let pg = u32[c.c + C_PARTIAL]!;
  for (let k = 0; pg !== SLAB_NIL && k < c.maxPages; k++) {
    checkListPage(c, pg);
    n += u32[c.pt + pg * PAGE_WORDS + P_INFO]! >>> 16;
    pg = u32[c.pt + pg * PAGE_WORDS + P_NEXT]!;
  }
  const workers = [...activeSlabs(c), ...listedSlabs(c)];
  for (const pg of workers) n += u32[c.pt + pg * PAGE_WORDS + P_INFO]! >>> 16;
  n += u32[c.c + C_N_FULL]! * c.objectsPerSlab;
  // Objects freed by other workers and not taken back yet are not in use. Whether the
  // slabs have remote-free lists is the buffer's fact (its per-worker table), not this
  // instance's: a snapshot of a shared heap, opened unshared, has them too.
  if (c.space.cpuTable < 0) return n;
  pg = u32[c.c + C_PARTIAL]!;
  for (let k = 0; pg !== SLAB_NIL && k < c.maxPages; k++) {
    checkListPage(c, pg);
    n -= remoteCount(c, pg);
    pg = u32[c.pt + pg * PAGE_WORDS + P_NEXT]!;
  }
  for (const a of workers) n -= remoteCount(c, a);
  return n;
}

/** Length of slab `pg`'s remote-free list as it is now (a bounded walk; 0 when sealed). */
export function remoteCount(c: SlabCore, pg: number): number {
  const u32 = c.memory.u32;
  let n = 0;
  let p = Atomics.load(u32, c.pt + pg * PAGE_WORDS + P_REMOTE);
  if (p === SEALED) return 0;
  for (; p !== 0 && n < c.objectsPerSlab && !c.offGrid(p, pg); p = u32[(p + c.fpOffset) >>> 2]!) n++;
  return n;
}

/**
 * Page indices of the workers' active slabs of this cache (each on its
 * worker's own list, off the cache's lists).
 * Their inuse counts, read while those workers run, include objects freed
 * by others and not taken back yet.
 */
export function activeSlabs(c: SlabCore): number[] {
  const out: number[] = [];
  const t = c.space.cpuTable;
  if (t < 0) return out;
  const u32 = c.memory.u32;
  for (let w = 0; w < MAX_WORKERS; w++) {
    const pg = u32[t + (w * MAX_CACHES + c.id) * CPU_WORDS + W_ACTIVE]!;
    if (pg !== SLAB_NIL && pg < c.maxPages) out.push(pg);
  }
  return out;
}

/**
 * Page indices of the slabs on the workers' own lists but their active
 * ones (which are on those lists too; activeSlabs has them): bounded
 * walks, exact when the workers are quiet.
 */
export function listedSlabs(c: SlabCore): number[] {
  const out: number[] = [];
  const t = c.space.cpuTable;
  if (t < 0) return out;
  const u32 = c.memory.u32;
  for (let w = 0; w < MAX_WORKERS; w++) {
    const e = t + (w * MAX_CACHES + c.id) * CPU_WORDS;
    const active = u32[e + W_ACTIVE]!;
    let pg = u32[e + W_HEAD]!;
    for (let k = 0; pg !== SLAB_NIL && pg < c.maxPages && k < c.maxPages; k++) {
      if (pg !== active) out.push(pg);
      pg = u32[c.pt + pg * PAGE_WORDS + P_NEXT]!;
    }
  }
  return out;
}

/** The slabs of the three lists, as forEachSlab reports them. */
export function slabsOf(c: SlabCore): Array<[number, number, SlabList]> {
  c.memory.sync();
  const u32 = c.memory.u32;
  const found: Array<[number, number, SlabList]> = [];
  const lists: Array<[number, SlabList]> = [
    [C_PARTIAL, 'partial'],
    [C_FULL, 'full'],
    [C_EMPTY, 'empty'],
  ];
  for (const [list, name] of lists) {
    let pg = u32[c.c + list]!;
    for (let k = 0; pg !== SLAB_NIL && k < c.maxPages; k++) {
      checkListPage(c, pg);
      found.push([c.base + ((pg << c.shift) >>> 0), u32[c.pt + pg * PAGE_WORDS + P_INFO]! >>> 16, name]);
      pg = u32[c.pt + pg * PAGE_WORDS + P_NEXT]!;
    }
  }
  for (const pg of activeSlabs(c)) {
    // a worker's active slab, reported as partial
    found.push([c.base + ((pg << c.shift) >>> 0), u32[c.pt + pg * PAGE_WORDS + P_INFO]! >>> 16, 'partial']);
  }
  for (const pg of listedSlabs(c)) {
    // a slab of a worker's own list, by its inuse count
    const inuse = u32[c.pt + pg * PAGE_WORDS + P_INFO]! >>> 16;
    const list = inuse === 0 ? 'empty' : inuse === c.objectsPerSlab ? 'full' : 'partial';
    found.push([c.base + ((pg << c.shift) >>> 0), inuse, list]);
  }
  return found;
}

export function freeObjectsOf(c: SlabCore, slabAddr: number): number[] {
  c.memory.syncChecked();
  const u32 = c.memory.u32;
  const off = slabAddr - c.base;
  const pg = off >>> c.shift;
  const info = off >= 0 && pg < c.maxPages ? u32[c.pt + pg * PAGE_WORDS + P_INFO]! : 0;
  if ((info & 0xffff) !== c.id + 1 || info >>> 16 === TAIL_MARK || slabAddr !== c.base + ((pg << c.shift) >>> 0)) {
    throw new InvalidArgumentError(
      `${c.name}: freeObjects(${hex(slabAddr)}): not the start of a slab of this cache`,
      'slabAddr',
    );
  }
  const out: number[] = [];
  let p = u32[c.pt + pg * PAGE_WORDS + P_FREELIST]!;
  while (p !== 0 && out.length < c.objectsPerSlab && !c.offGrid(p, pg)) {
    out.push(p + c.objOffset);
    const fpAddr = p + c.fpOffset;
    const raw = u32[fpAddr >>> 2]!;
    p = c.secret === 0 ? raw : (raw ^ c.secret ^ fpAddr) >>> 0;
  }
  // Slots never handed out yet are free too.
  const unused = u32[c.pt + pg * PAGE_WORDS + P_UNUSED]!;
  if (unused !== 0 && !c.offGrid(unused, pg)) {
    const end = slabAddr + c.span;
    for (let q = unused; q < end; q += c.stride) out.push(q + c.objOffset);
  }
  return out;
}

export function isAllocatedIn(c: SlabCore, addr: number): boolean {
  c.memory.syncChecked();
  const u32 = c.memory.u32;
  const off = addr - c.base;
  let pg = off >>> c.shift;
  if (!(off >= 0 && pg < c.maxPages)) return false;
  const info = u32[c.pt + pg * PAGE_WORDS + P_INFO]!;
  if ((info & 0xffff) !== c.id + 1) return false;
  if (info >>> 16 === TAIL_MARK) pg = u32[c.pt + pg * PAGE_WORDS + P_FREELIST]!;
  const slot = addr - c.objOffset;
  if (c.offGrid(slot, pg)) return false;
  const unused = u32[c.pt + pg * PAGE_WORDS + P_UNUSED]!;
  if (unused !== 0 && slot >= unused) return false;
  // O(1) unless the free tag is present (then the freelist walk decides).
  const fp = (slot + c.fpOffset) >>> 2;
  if (u32[fp + 1] !== (u32[fp]! ^ FREE_TAG ^ c.secret) >>> 0) return true;
  return !onFreelist(c, pg, slot) && !onRemoteList(c, pg, slot);
}

/** True when `slot` is on the remote-free list of slab `pg` (an active slab; a bounded walk). */
export function onRemoteList(c: SlabCore, pg: number, slot: number): boolean {
  const u32 = c.memory.u32;
  let p = Atomics.load(u32, c.pt + pg * PAGE_WORDS + P_REMOTE);
  if (p === SEALED) return false;
  for (let n = 0; p !== 0 && n <= c.objectsPerSlab; n++) {
    if (p === slot) return true;
    if (c.offGrid(p, pg)) return false;
    p = u32[(p + c.fpOffset) >>> 2]!;
  }
  return false;
}
