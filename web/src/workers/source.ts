/**
 * The workers view's one window on the heap: everything it knows about how a
 * shared Kmalloc heap is laid out is here, so the drawing code
 * (workers-view.ts) never reads memkit internals.
 *
 * What it reads (the per-worker design of docs/workers.md):
 * - the heap lock: word 0 of kmalloc's state (header slot Kmalloc), holding
 *   its owner's worker slot + 1 (src/memory/lock.ts);
 * - the worker slots: the workers bitmask, word 12 of the memkit header;
 * - a picture of the heap: the page takes the heap lock (as slot 0, the
 *   thread that made the heap; a bounded try, never a wait), copies the
 *   buffer and the workers' owner table, lets go, and opens the copy with
 *   `Kmalloc.attach` (which checks it). Pages and live blocks are read from
 *   the copy with the public inspection API (`forEachBlock`, and memmap.ts's
 *   `heapMap`), so the picture is one moment of the heap;
 * - who allocated each block: the workers' own record (an owner table, one
 *   byte per 8-byte granule, lane + 1, written by the allocating worker after
 *   kmalloc returns and cleared by the freeing one before kfree).
 *
 * - whose each size-class page is: `Kmalloc.pageOwner` on the copy (the
 *   owner slot in the page descriptor; {@link pageOwners}).
 *
 * Workers change their own pages without the heap lock, so a copy taken under
 * it may catch a page mid-update: {@link snapshot} reports a copy that does
 * not open as torn, and the view keeps the last one; the heap check runs only
 * once the workers are paused.
 */
import { HeaderSlot, Kmalloc, Memory, readSlot } from '../../../src/index.js';
import { lock, tryLock, unlock } from '../../../src/memory/lock.js';
import { type MapBlock, heapMap } from '../memmap.js';

/** u32 index of the workers bitmask in the memkit header. */
const H_WORKERS = 12;

/** A shared heap made by the page. */
export interface SharedHeap {
  memory: Memory;
  /** The page's own instance (slot 0): used for recover and nothing on the hot path. */
  k: Kmalloc;
  /** i32 index of the heap lock word. */
  lockWord: number;
}

/** Makes a Kmalloc heap of `bytes` in a SharedArrayBuffer. */
export function createHeap(bytes: number): SharedHeap {
  const memory = Memory.create({ bytes, shared: true });
  // maxClass 512 (a shared heap's default is 4 KiB): on the view's small heap each worker
  // could not have a 32 KiB page of every medium class, and the map shows both tiers this way.
  const k = new Kmalloc({ memory, maxClass: 512 });
  return { memory, k, lockWord: readSlot(memory, HeaderSlot.Kmalloc) >>> 2 };
}

// ------------------------------------------------------------ worker side

/** A worker's view of the heap: its instance, its slot, the lock word. */
export interface WorkerHeap {
  memory: Memory;
  k: Kmalloc;
  slot: number;
  lockWord: number;
}

/**
 * Joins the heap in `buffer` from a worker. The slot is the bit that attach
 * set in the workers bitmask (the page starts its workers one at a time, so no
 * other join happens in between).
 */
export function joinHeap(buffer: SharedArrayBuffer): WorkerHeap {
  const memory = Memory.wrap(buffer);
  const before = Atomics.load(memory.i32, H_WORKERS);
  const k = Kmalloc.attach(memory);
  const gained = Atomics.load(memory.i32, H_WORKERS) & ~before;
  const slot = gained === 0 ? -1 : 31 - Math.clz32(gained);
  return { memory, k, slot, lockWord: readSlot(memory, HeaderSlot.Kmalloc) >>> 2 };
}

/** True when the heap lock is held by someone other than `slot` (peeked before a call). */
export function lockTakenByOther(h: WorkerHeap): boolean {
  const v = Atomics.load(h.memory.i32, h.lockWord) & 0x3fffffff;
  return v !== 0 && v !== h.slot + 1;
}

/** Takes the heap lock and keeps it (the "terminated while holding the lock" demo). */
export function holdHeapLock(h: WorkerHeap): void {
  lock(h.memory.i32, h.lockWord, h.slot);
}

// -------------------------------------------------------------- page side

/** The slot holding the heap lock now, or -1. */
export function lockHolder(heap: SharedHeap): number {
  const v = Atomics.load(heap.memory.i32, heap.lockWord) & 0x3fffffff;
  return v === 0 ? -1 : v - 1;
}

/** The joined worker slots (bit s = slot s), slot 0 being the page. */
export function joinedSlots(heap: SharedHeap): number {
  return Atomics.load(heap.memory.i32, H_WORKERS);
}

/** A page of the heap as the picture shows it. */
export interface PageRun extends MapBlock {
  /** The worker slot that owns the page (per-worker pages), or -1: shared. */
  ownerSlot: number;
}

/** A live block and the lane that allocated it (-1: not recorded yet, e.g. being handed out). */
export interface LiveBlock {
  addr: number;
  size: number;
  lane: number;
}

/** One moment of the heap. */
export interface HeapPicture {
  pageSize: number;
  pages: number;
  base: number;
  /** Runs of pages by kind (free by order, size-class page, TLSF chunk, large block, metadata), address order. */
  runs: PageRun[];
  /** Live blocks, address order. */
  blocks: LiveBlock[];
  /** The copy the picture was read from (for checks). */
  copy: Kmalloc;
  /** The owner table as copied with it. */
  owners: Uint8Array;
  /** ms the page held the heap lock to copy it. */
  heldMs: number;
}

/** Why a picture could not be taken. */
export type NoPicture = { reason: 'locked'; holder: number } | { reason: 'torn'; message: string };

let lastHeldMs = 0;

/**
 * Takes the heap lock as slot 0, trying for at most `ms` (the page's thread
 * may not sleep, and a dead worker may hold the lock for ever), copies the
 * heap and the owner table, releases it. null when the lock stayed taken.
 */
function copyUnderLock(
  heap: SharedHeap,
  owners: Uint8Array,
  ms: number,
): { bytes: Uint8Array; owners: Uint8Array; heldMs: number } | null {
  const i32 = heap.memory.i32;
  const until = performance.now() + ms;
  while (!tryLock(i32, heap.lockWord, 0)) if (performance.now() > until) return null;
  const t = performance.now();
  try {
    return { bytes: heap.memory.u8.slice(), owners: owners.slice(), heldMs: 0 };
  } finally {
    unlock(i32, heap.lockWord, 0);
    lastHeldMs = performance.now() - t;
  }
}

/**
 * The owner slot of each size-class page (a worker's own pages; -1 for a
 * page abandoned by a worker that left, and for every other kind of page),
 * read from its descriptor with `Kmalloc.pageOwner`.
 */
function pageOwners(copy: Kmalloc, runs: PageRun[], pageSize: number, base: number): void {
  for (const r of runs) r.ownerSlot = r.owner.startsWith('slab ') ? copy.pageOwner(base + r.page * pageSize) : -1;
}

/** A picture of the heap now, or why there is none. */
export function snapshot(heap: SharedHeap, owners: Uint8Array, ms = 4): HeapPicture | NoPicture {
  const c = copyUnderLock(heap, owners, ms);
  if (c === null) return { reason: 'locked', holder: lockHolder(heap) };
  c.heldMs = lastHeldMs;
  let copy: Kmalloc;
  try {
    copy = Kmalloc.attach(Memory.wrap(c.bytes.buffer));
  } catch (e) {
    return { reason: 'torn', message: (e as Error).message };
  }
  const map = heapMap(copy.buddy, { kmalloc: copy });
  const runs: PageRun[] = map.blocks.map((b) => ({ ...b, ownerSlot: -1 }));
  pageOwners(copy, runs, map.pageSize, map.base);
  const blocks: LiveBlock[] = [];
  copy.forEachBlock((addr, size) => {
    const t = c.owners[addr >>> 3]!;
    blocks.push({ addr, size, lane: t - 1 });
  });
  blocks.sort((a, b) => a.addr - b.addr);
  return {
    pageSize: map.pageSize,
    pages: map.pages,
    base: map.base,
    runs,
    blocks,
    copy,
    owners: c.owners,
    heldMs: c.heldMs,
  };
}

/**
 * The heap's own checks on a picture: the copy opened (attach's fsck), the
 * buddy's and the TLSF heap's `checkInvariants()`, live blocks inside the heap
 * and not overlapping, and every owner-table entry on a live block. Returns
 * the problems found (empty: all hold).
 */
export function checkPicture(p: HeapPicture): string[] {
  const out: string[] = [];
  const run = (what: string, fn: () => void): void => {
    try {
      fn();
    } catch (e) {
      out.push(`${what}: ${(e as Error).message}`);
    }
  };
  run('buddy.checkInvariants()', () => p.copy.buddy.checkInvariants());
  run('tlsf.checkInvariants()', () => p.copy.tlsf.checkInvariants());
  const end = p.base + p.pages * p.pageSize;
  let prevEnd = 0;
  const starts = new Set<number>();
  for (const b of p.blocks) {
    if (b.addr < p.base || b.addr + b.size > end) out.push(`block 0x${b.addr.toString(16)} outside the heap`);
    if (b.addr < prevEnd) out.push(`block 0x${b.addr.toString(16)} overlaps the one before`);
    prevEnd = b.addr + b.size;
    starts.add(b.addr >>> 3);
  }
  for (let g = 0; g < p.owners.length; g++) {
    if (p.owners[g] !== 0 && !starts.has(g)) {
      out.push(`owner table: lane ${p.owners[g]! - 1} marks 0x${(g << 3).toString(16)}, which is not a live block`);
      if (out.length > 20) break;
    }
  }
  return out;
}

/**
 * `Kmalloc.recover(memory, slot)` for a worker the page terminated: breaks
 * the heap lock if that slot held it, frees the slot. True when it held the lock.
 */
export function recoverSlot(heap: SharedHeap, slot: number): boolean {
  return Kmalloc.recover(heap.memory, slot);
}
