/**
 * Allocation: the fast path (`allocSmall`: bump a cursor through a run of
 * free slots of a GC block) and its slow paths (the next run, another
 * block, a new block from the backend, a large object of its own).
 *
 * Accounting: a block's free slots are charged to the allocation credit
 * when it becomes current (`refill`) and refunded when it stops being
 * current (`releaseCurrent` in `blocks.ts`), so the fast path does none.
 * When the credit runs out the collector works (`allocationTrigger`).
 *
 * @module
 */
import { InvalidArgumentError, OutOfMemoryError } from '../errors/index.js';
import { releaseCurrent, startRun, trimPool } from './blocks.js';
import { allocationTrigger, collectAll } from './collector.js';
import {
  ARR_HEADER,
  BLOCK_BYTES,
  BLOCK_HEADER,
  BLOCK_MAGIC,
  B_AVAIL,
  B_CLASS,
  B_LIVE,
  B_MAGIC,
  B_NEXT,
  B_NSLOTS,
  B_RAW,
  B_SLOT,
  CLASS_OF,
  CLASS_SIZES,
  CLASS_WORDS,
  C_AVAIL,
  C_BLOCK,
  C_CURSOR,
  C_LIMIT,
  F_CREDIT,
  H_LEN,
  LARGE_PRE,
  MAX_SMALL,
  S_BLOCKS,
  S_EMPTY,
  S_LARGE,
  S_NEMPTY,
} from './layout.js';
import type { HeapState } from './state.js';

/**
 * Allocates a zeroed object with header word `info` (magic, scan code,
 * type id) in a GC block of size class `cls` (`size` = the class's slot
 * size, `c` = the u32 index of the class's entry in the size-class table,
 * which never moves).
 */
export function allocSmall(st: HeapState, info: number, size: number, c: number): number {
  // The fast path: bump through a run of free slots that was zeroed (and,
  // during a cycle, marked black) when the run began. Kept tiny so that V8
  // inlines it into the caller; the credit is charged per block in refill().
  const u32 = st.v.u32;
  const a = u32[c + C_CURSOR]!;
  if (a >= u32[c + C_LIMIT]!) return allocNextRun(st, info, size, c);
  u32[c + C_CURSOR] = a + size;
  const bi = st.sb + (a >>> 8);
  u32[bi] = u32[bi]! | (1 << ((a >>> 3) & 31));
  u32[a >>> 2] = info;
  return a;
}

/** allocSmall when the current run is used up: the next run, then the same as the fast path. */
function allocNextRun(st: HeapState, info: number, size: number, c: number): number {
  const a = nextRun(st, (c - st.ct) / CLASS_WORDS, size);
  const u32 = st.v.u32; // the memory may have grown
  u32[c + C_CURSOR] = a + size;
  const bi = st.sb + (a >>> 8);
  u32[bi] = u32[bi]! | (1 << ((a >>> 3) & 31));
  u32[a >>> 2] = info;
  return a;
}

/**
 * The current run of free slots is used up: find the next run in the
 * current block, or move to another block. Returns its first slot.
 */
function nextRun(st: HeapState, cls: number, size: number): number {
  if (st.backend === null) st.checkWritable('alloc');
  const u32 = st.v.u32;
  const c = st.ct + cls * CLASS_WORDS;
  const b = u32[c + C_BLOCK]!;
  if (b !== 0) {
    const a = startRun(st, c, b, u32[c + C_CURSOR]!, size);
    if (a !== 0) return a;
  }
  // The block is used up. Collector work first, if the credit ran out.
  if (st.v.f64[st.sf + F_CREDIT]! < 0) allocationTrigger(st);
  return refill(st, cls, size);
}

/**
 * Makes another block the current block of class `cls` and returns its
 * first free slot. Its free slots are charged to the allocation credit
 * now (see releaseCurrent for the refund).
 */
function refill(st: HeapState, cls: number, size: number): number {
  const c = st.ct + cls * CLASS_WORDS;
  releaseCurrent(st, cls, true);
  for (;;) {
    let u32 = st.v.u32;
    let b = u32[c + C_AVAIL]!;
    if (b !== 0) {
      u32[c + C_AVAIL] = u32[(b >>> 2) + B_AVAIL]!;
      u32[(b >>> 2) + B_AVAIL] = 0;
    } else {
      b = newBlock(st, cls, size);
      u32 = st.v.u32;
    }
    const nslots = u32[(b >>> 2) + B_NSLOTS]!;
    st.v.f64[st.sf + F_CREDIT] = st.v.f64[st.sf + F_CREDIT]! - (nslots - u32[(b >>> 2) + B_LIVE]!) * size;
    u32[c + C_BLOCK] = b;
    const a = startRun(st, c, b, b + BLOCK_HEADER, size);
    if (a !== 0) return a;
  }
}

/** A block for class `cls`: from the pool of empty blocks, or from the backend. */
function newBlock(st: HeapState, cls: number, size: number): number {
  const s = st.s;
  let b = st.v.u32[s + S_EMPTY]!;
  if (b !== 0) {
    const u32 = st.v.u32;
    u32[s + S_EMPTY] = u32[(b >>> 2) + B_NEXT]!;
    u32[s + S_NEMPTY] = u32[s + S_NEMPTY]! - 1;
  } else {
    let raw = rawAlloc(st, BLOCK_BYTES);
    b = raw;
    if ((raw & 255) !== 0) {
      // Bitmap words must not straddle two blocks: align to 256 bytes.
      st.free(raw);
      raw = rawAlloc(st, BLOCK_BYTES + 256);
      b = (raw + 255) & ~255;
    }
    if ((b + BLOCK_BYTES) >>> 8 >= st.bmWords) st.coverOrFree(b + BLOCK_BYTES, raw);
    st.v.u32[(b >>> 2) + B_RAW] = raw;
  }
  const u32 = st.v.u32;
  const w = b >>> 2;
  u32[w + B_MAGIC] = BLOCK_MAGIC;
  u32[w + B_CLASS] = cls;
  u32[w + B_SLOT] = size;
  u32[w + B_NSLOTS] = Math.floor((BLOCK_BYTES - BLOCK_HEADER) / size);
  u32[w + B_NEXT] = u32[s + S_BLOCKS]!;
  u32[w + B_AVAIL] = 0;
  u32[w + B_LIVE] = 0;
  u32[s + S_BLOCKS] = b;
  return b;
}

/**
 * Allocates a zeroed object of `size` bytes as its own kmalloc block on
 * the large-object list (large objects, and every object whose type has a
 * finalizer).
 */
export function allocLarge(st: HeapState, info: number, size: number): number {
  st.checkWritable('alloc');
  const mem = st.v;
  const ci = st.sf + F_CREDIT;
  const credit = mem.f64[ci]! - size;
  mem.f64[ci] = credit;
  if (credit < 0) allocationTrigger(st);
  const p = rawAlloc(st, size + LARGE_PRE);
  const a = p + LARGE_PRE;
  if ((a + size) >>> 8 >= st.bmWords) st.coverOrFree(a + size, p);
  const u32 = st.v.u32;
  const s = st.s;
  u32[p >>> 2] = u32[s + S_LARGE]!;
  u32[(p >>> 2) + 1] = 0;
  u32[s + S_LARGE] = p;
  st.v.u8.fill(0, a, a + size);
  u32[a >>> 2] = info;
  const bi = a >>> 8;
  const bit = 1 << ((a >>> 3) & 31);
  u32[st.sb + bi] = u32[st.sb + bi]! | bit;
  u32[st.mb + bi] = u32[st.mb + bi]! | bit;
  return a;
}

/** Allocates an array object of `length` elements of `elemBytes`. */
export function allocArray(st: HeapState, info: number, length: number, elemBytes: number, large: boolean): number {
  if (typeof length !== 'number' || length >>> 0 !== length || length * elemBytes > 0x7fff0000) {
    throw new InvalidArgumentError(`array length must be a whole number that fits the heap, got ${String(length)}`);
  }
  const size = (ARR_HEADER + length * elemBytes + 7) & ~7;
  let a: number;
  if (size <= MAX_SMALL && !large) {
    const cls = CLASS_OF[size >>> 3]!;
    a = allocSmall(st, info, CLASS_SIZES[cls]!, st.ct + cls * CLASS_WORDS);
  } else {
    a = allocLarge(st, info, size);
  }
  st.v.u32[(a >>> 2) + H_LEN] = length;
  return a;
}

/** Backend allocation; when it fails, collect everything and try once more. */
export function rawAlloc(st: HeapState, size: number): number {
  const a = st.tryAlloc(size);
  if (a !== 0) return a;
  if (st.inCollector) throw new OutOfMemoryError(`ManagedHeap: no room for ${size} bytes`, size);
  collectAll(st, false);
  trimPool(st, 0);
  const b = st.tryAlloc(size);
  if (b !== 0) return b;
  throw new OutOfMemoryError(`ManagedHeap: no room for ${size} bytes even after a full collection`, size);
}
