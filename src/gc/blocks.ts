/**
 * GC blocks and allocation runs: the slow paths behind `allocSmall`.
 *
 * A size class allocates from its current block by bumping a cursor through
 * a *run* of free slots (START bits clear), zeroed when the run begins. When
 * the run ends, the next run in the block is found; when the block is used
 * up, the class takes a block with free slots from its AVAIL list (filled by
 * the sweep), or an empty block from the pool, or a new one from kmalloc.
 *
 * (Taking a new block, which may collect, is in `alloc.ts`.)
 *
 * Accounting: a block's free slots are charged to the allocation credit
 * when it becomes current; when it stops being current, the slots still
 * free ahead of the cursor are refunded. So the fast path does no
 * accounting at all, and `stats()` stays exact (it subtracts the slots
 * charged but not handed out yet).
 *
 * @module
 */
import type { HeapState } from './state.js';
import {
  BLOCK_BYTES,
  BLOCK_HEADER,
  B_AVAIL,
  B_LIVE,
  B_MAGIC,
  B_NEXT,
  B_NSLOTS,
  B_RAW,
  B_SLOT,
  CLASS_SIZES,
  CLASS_WORDS,
  C_AVAIL,
  C_BLOCK,
  C_CURSOR,
  C_LIMIT,
  F_CREDIT,
  PHASE_IDLE,
  S_EMPTY,
  S_NEMPTY,
  S_PHASE,
} from './layout.js';

/**
 * Starts a run at the first free slot of block `b` at or after `from`:
 * the run ends at the next taken slot. Its bytes are zeroed, and during a
 * cycle its slots are marked (objects born in a cycle are black; a MARK bit
 * on a slot that stays free is harmless). Returns 0 when no slot is free.
 */
export function startRun(st: HeapState, c: number, b: number, from: number, size: number): number {
  const u32 = st.v.u32;
  const sb = st.sb;
  const end = b + BLOCK_HEADER + u32[(b >>> 2) + B_NSLOTS]! * size;
  let a = from;
  while (a < end && (u32[sb + (a >>> 8)]! & (1 << ((a >>> 3) & 31))) !== 0) a += size;
  if (a >= end) {
    u32[c + C_CURSOR] = end;
    u32[c + C_LIMIT] = end;
    return 0;
  }
  let e = a + size;
  while (e < end) {
    const word = u32[sb + (e >>> 8)]!;
    if (word >>> ((e >>> 3) & 31) === 0) {
      // No object starts in the rest of this bitmap word: skip to the
      // first slot in the next word (256 bytes at a time through empty space).
      const next = ((e >>> 8) + 1) << 8;
      e += Math.ceil((next - e) / size) * size;
    } else if ((word & (1 << ((e >>> 3) & 31))) === 0) {
      e += size;
    } else {
      break;
    }
  }
  if (e > end) e = end;
  u32[c + C_CURSOR] = a;
  u32[c + C_LIMIT] = e;
  st.v.u8.fill(0, a, e);
  if (u32[st.s + S_PHASE] !== PHASE_IDLE) markRange(st, a, e);
  return a;
}

/** Sets the MARK bits of every 8-byte granule in [from, to). */
export function markRange(st: HeapState, from: number, to: number): void {
  const u32 = st.v.u32;
  for (let g = from >>> 3, last = (to >>> 3) - 1; g <= last; ) {
    const w = g >>> 5;
    const lo = g & 31;
    const hi = Math.min(31, last - (w << 5));
    const mask = (-1 >>> (31 - hi)) & (-1 << lo);
    u32[st.mb + w] = u32[st.mb + w]! | mask;
    g = (w + 1) << 5;
  }
}

/** At a cycle's start: the rest of every current run is born black. */
export function markCurrentRuns(st: HeapState): void {
  const u32 = st.v.u32;
  for (let cls = 0; cls < CLASS_SIZES.length; cls++) {
    const c = st.ct + cls * CLASS_WORDS;
    if (u32[c + C_BLOCK] !== 0 && u32[c + C_CURSOR]! < u32[c + C_LIMIT]!)
      markRange(st, u32[c + C_CURSOR]!, u32[c + C_LIMIT]!);
  }
}

/**
 * Class `cls` stops allocating from its current block: the
 * slots still free ahead of the cursor were charged but not allocated, so
 * they are refunded to the credit. With `toAvail`, a block with free slots
 * goes back on the class's list of blocks to allocate from.
 */
export function releaseCurrent(st: HeapState, cls: number, toAvail: boolean): void {
  const u32 = st.v.u32;
  const c = st.ct + cls * CLASS_WORDS;
  const b = u32[c + C_BLOCK]!;
  if (b === 0) return;
  const free = freeAhead(st, cls);
  const size = u32[(b >>> 2) + B_SLOT]!;
  st.v.f64[st.sf + F_CREDIT] = st.v.f64[st.sf + F_CREDIT]! + free * size;
  u32[c + C_BLOCK] = 0;
  u32[c + C_CURSOR] = 0;
  u32[c + C_LIMIT] = 0;
  // Behind the cursor every slot is taken, so the block's live count is exact.
  u32[(b >>> 2) + B_LIVE] = u32[(b >>> 2) + B_NSLOTS]! - free;
  if (toAvail && free > 0) {
    u32[(b >>> 2) + B_AVAIL] = u32[c + C_AVAIL]!;
    u32[c + C_AVAIL] = b;
  }
}

/** Bytes charged to the credit but not handed out yet (current blocks). */
export function unhandedBytes(st: HeapState): number {
  let n = 0;
  for (let c = 0; c < CLASS_SIZES.length; c++) n += freeAhead(st, c) * CLASS_SIZES[c]!;
  return n;
}

/** Free slots from the cursor to the end of class `cls`'s current block (this run and later ones). */
export function freeAhead(st: HeapState, cls: number): number {
  const u32 = st.v.u32;
  const c = st.ct + cls * CLASS_WORDS;
  const b = u32[c + C_BLOCK]!;
  if (b === 0) return 0;
  const size = u32[(b >>> 2) + B_SLOT]!;
  const end = b + BLOCK_HEADER + u32[(b >>> 2) + B_NSLOTS]! * size;
  let free = 0;
  for (let a = u32[c + C_CURSOR]!; a < end; a += size) {
    if ((u32[st.sb + (a >>> 8)]! & (1 << ((a >>> 3) & 31))) === 0) free++;
  }
  return free;
}

/** Frees pooled empty blocks until at most `keep` remain; returns bytes freed. */
export function trimPool(st: HeapState, keep: number): number {
  const s = st.s;
  let freed = 0;
  while (st.v.u32[s + S_NEMPTY]! > keep) {
    const u32 = st.v.u32;
    const b = u32[s + S_EMPTY]!;
    u32[s + S_EMPTY] = u32[(b >>> 2) + B_NEXT]!;
    u32[s + S_NEMPTY] = u32[s + S_NEMPTY]! - 1;
    u32[(b >>> 2) + B_MAGIC] = 0;
    st.free(u32[(b >>> 2) + B_RAW]!);
    freed += BLOCK_BYTES;
  }
  return freed;
}
