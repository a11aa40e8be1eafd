/**
 * A TLSF heap's checks: the invariants T1-T5 of the top of tlsf.ts
 * ({@link checkHeap}: attach runs it, and the tests), the error for an
 * address that is not a used block's start ({@link badFree}: it walks the
 * chunk to say what the address is), the chunk walk ({@link chunksOf}) and
 * mapping_insert as a pair ({@link mapping}). Free functions over the heap
 * ({@link TlsfCore}); none runs on the fast paths (badFree only once a free
 * has been refused, to name the error).
 *
 * Invariants: these functions change nothing; their walks are bounded by
 * the chunk map and the block sizes (a corrupt size stops a walk).
 *
 * Locks (the order is at the top of src/memory/lock.ts): the caller holds
 * the heap's lock on a shared memory (the public methods take it, Kmalloc
 * holds its heap lock around the `*Locked` ones); they take none.
 *
 * @module
 */
import { DoubleFreeError, HeapCorruptionError, InvalidFreeError, argumentError, hex } from '../errors/index.js';
import { joined } from './chunks.js';
import type { TlsfCore } from './core.js';
import {
  BH_NEXT_FREE,
  BH_PREV_FREE,
  BH_TAG,
  BLOCK_HEADER_BYTES,
  FLAGS,
  FL_COUNT,
  FREE,
  MIN_BLOCK,
  PREV_FREE,
  QUICK,
  Q_DEPTH,
  Q_LISTS,
  Q_MAX,
  Q_WORDS,
  SB_SHIFT,
  SB_SIZE,
  SENTINEL_BYTES,
  SIZE_MASK,
  SL_BITS,
  SL_COUNT,
  T_CHUNKS,
  T_CHUNK_MAP,
  T_FL_MAP,
  T_HEADS,
  T_Q_BYTES,
  T_SL_MAPS,
  T_SPARE,
  T_USED_BLOCKS,
  T_USED_BYTES,
  bitAt,
} from './layout.js';

/** Addresses of the chunks of heap `t`, in address order (syncs the memory). */
export function chunksOf(t: TlsfCore): number[] {
  const mem = t.memory;
  mem.syncChecked();
  const u32 = mem.u32;
  const out: number[] = [];
  for (let slot = 0; slot < t.maxChunks; slot++) {
    if (bitAt(u32, t.c + T_CHUNK_MAP, slot)) out.push(t.base + slot * t.chunkBytes);
  }
  return out;
}

/**
 * The runs of heap `t` (layout.ts, "Runs") in address order, as pairs: the
 * address of a run's first chunk, and of the sentinel that ends its top
 * chunk. Throws HeapCorruptionError for a join bit whose chunk below is not
 * the heap's. Syncs the memory.
 */
export function runsOf(t: TlsfCore): number[] {
  const chunks = chunksOf(t);
  const u32 = t.memory.u32;
  const out: number[] = [];
  for (let i = 0; i < chunks.length; i++) {
    const A = chunks[i]!;
    if (!joined(t, u32, (A - t.base) / t.chunkBytes)) out.push(A, A + t.whole);
    else if (i > 0 && chunks[i - 1] === A - t.chunkBytes) out[out.length - 1] = A + t.whole;
    else throw new HeapCorruptionError(`tlsf: chunk ${hex(A)} is joined to a chunk the heap does not hold`, A);
  }
  return out;
}

/** The run of heap `t` that holds addr, as [first chunk's address, sentinel address], or null. */
function runOf(t: TlsfCore, addr: number): [number, number] | null {
  const A = chunkOf(t, addr);
  if (A < 0) return null;
  const u32 = t.memory.u32;
  let lo = (A - t.base) / t.chunkBytes;
  let hi = lo;
  while (lo > 0 && joined(t, u32, lo)) lo--;
  while (hi + 1 < t.maxChunks && joined(t, u32, hi + 1)) hi++;
  return [t.base + lo * t.chunkBytes, t.base + hi * t.chunkBytes + t.whole];
}

/** Builds the error for an address that is not a used block's start (walks its run). */
export function badFree(t: TlsfCore, addr: unknown, op: string): never {
  if (typeof addr !== 'number' || addr >>> 0 !== addr) {
    throw argumentError('addr', `an address (a whole number in [0, 2^32)) for tlsf ${op}`, addr);
  }
  t.memory.checkLive(); // a detached buffer reads undefined: not the caller's address
  const what = `tlsf ${op}(${hex(addr)})`;
  const run = runOf(t, addr);
  if (run === null) throw new InvalidFreeError(`${what}: not inside a chunk of this heap`, addr);
  const [A, end] = run;
  const u32 = t.memory.u32;
  if (isQuick(t, u32, addr - BLOCK_HEADER_BYTES, A, end))
    throw new DoubleFreeError(`${what}: block already free (double free; on a quick list)`, addr);
  for (let H = A; H < end; ) {
    const h = u32[H >>> 2]!;
    const size = h & SIZE_MASK;
    if (size < MIN_BLOCK) break; // corrupt: let the generic message speak
    if (addr < H + size) {
      if ((h & FREE) !== 0) {
        if (addr === H + BLOCK_HEADER_BYTES)
          throw new DoubleFreeError(`${what}: block already free (double free)`, addr);
        // The start of a run, free: no payload starts there, but one did when a block straddled
        // into this chunk from the one below and its free let the chunk be cut out (releaseWide).
        if (addr === H && H === A)
          throw new DoubleFreeError(`${what}: block already free (double free; its chunk was cut out of a run)`, addr);
        // A block freed and merged into its free left neighbour keeps its
        // stale header (FREE set, a plausible size): still a double free.
        const g = u32[(addr - BLOCK_HEADER_BYTES) >>> 2]!;
        if (
          (addr & 7) === 0 &&
          (g & FREE) !== 0 &&
          (g & ~(SIZE_MASK | FLAGS)) === 0 &&
          (g & SIZE_MASK) >= MIN_BLOCK &&
          addr - BLOCK_HEADER_BYTES + (g & SIZE_MASK) <= H + size
        ) {
          throw new DoubleFreeError(
            `${what}: block already free (double free; merged into the free block at ${hex(H + BLOCK_HEADER_BYTES)})`,
            addr,
          );
        }
        throw new InvalidFreeError(
          `${what}: inside the free block at ${hex(H + BLOCK_HEADER_BYTES)}, not allocated`,
          addr,
        );
      }
      throw new InvalidFreeError(
        `${what}: interior pointer into the block at ${hex(H + BLOCK_HEADER_BYTES)} (${size - BLOCK_HEADER_BYTES} bytes)`,
        addr,
      );
    }
    H += size;
  }
  throw new InvalidFreeError(`${what}: not the start of a block of this heap`, addr);
}

/**
 * True when H (in the run from A to the sentinel at `end`) is the header of a
 * quick-listed block: QUICK set and FREE clear, a size that ends inside the
 * run, and the block right of it carrying that size in its keyed tag. O(1).
 */
function isQuick(t: TlsfCore, u32: Uint32Array, H: number, A: number, end: number): boolean {
  if ((H & 7) !== 0 || H < A) return false;
  const h = u32[H >>> 2]!;
  const size = h & SIZE_MASK;
  if ((h & ~(SIZE_MASK | PREV_FREE)) !== QUICK || size < MIN_BLOCK || size >= Q_MAX || H + size > end) return false;
  const R = H + size;
  return (u32[(R >>> 2) + BH_TAG]! ^ Math.imul(R, t.key)) === size;
}

/** Address of heap `t`'s chunk that contains addr, or -1. */
function chunkOf(t: TlsfCore, addr: number): number {
  const off = addr - t.base;
  if (!(off >= 0)) return -1;
  const slot = Math.floor(off / t.chunkBytes);
  if (slot >= t.maxChunks) return -1;
  if (!bitAt(t.memory.u32, t.c + T_CHUNK_MAP, slot)) return -1;
  return t.base + slot * t.chunkBytes;
}

/** Checks invariants T1-T5 (the top of tlsf.ts) of heap `t`; throws a HeapCorruptionError naming the first one broken. O(blocks). */
export function checkHeap(t: TlsfCore): void {
  const mem = t.memory;
  mem.syncChecked();
  const u32 = mem.u32;
  const c = t.c;
  const freeBlocks = new Set<number>();
  const quickBlocks = new Set<number>();
  let chunks = 0;
  let empty = 0;
  let usedBlocks = 0;
  let usedBytes = 0;
  const runs = runsOf(t);
  for (let i = 0; i < runs.length; i += 2) {
    const A = runs[i]!;
    const end = runs[i + 1]!;
    chunks += (end + SENTINEL_BYTES - A) / t.chunkBytes;
    let prevSize = 0;
    let prevFree = false;
    let H = A;
    while (H < end) {
      const h = u32[H >>> 2]!;
      const size = h & SIZE_MASK;
      const free = (h & FREE) !== 0;
      if (
        (h & ~(SIZE_MASK | FLAGS | QUICK)) !== 0 ||
        size < MIN_BLOCK ||
        (free && (h & QUICK) !== 0) ||
        ((h & QUICK) !== 0 && size >= Q_MAX)
      )
        throw new HeapCorruptionError(`T1: bad header ${hex(h)} at ${hex(H)}`, H);
      if ((h & QUICK) !== 0) quickBlocks.add(H);
      const p = u32[(H >>> 2) + BH_TAG]! ^ Math.imul(H, t.key);
      if (p !== prevSize)
        throw new HeapCorruptionError(`T1: block at ${hex(H)} has prevSize ${p}, left block is ${prevSize}`, H + 4);
      if (((h & PREV_FREE) !== 0) !== prevFree) throw new HeapCorruptionError(`T1: PREV_FREE of ${hex(H)} is wrong`, H);
      if (free && prevFree)
        throw new HeapCorruptionError(`T2: free blocks at ${hex(H - prevSize)} and ${hex(H)} are adjacent`, H);
      if (free) {
        freeBlocks.add(H);
        if (size === t.whole && H === A && end === A + t.whole) empty++; // an empty chunk, a run of its own
      } else {
        usedBlocks++;
        usedBytes += size;
      }
      prevSize = size;
      prevFree = free;
      H += size;
    }
    if (H !== end) throw new HeapCorruptionError(`T1: blocks of the run at ${hex(A)} overrun its sentinel`, A);
    if (u32[H >>> 2] !== (prevFree ? PREV_FREE : 0) || (u32[(H >>> 2) + BH_TAG]! ^ Math.imul(H, t.key)) !== prevSize) {
      throw new HeapCorruptionError(`T1: bad sentinel of chunk ${hex(A)}`, H);
    }
  }
  let listed = 0;
  let flMap = 0;
  for (let fl = 0; fl < FL_COUNT; fl++) {
    let slMap = 0;
    for (let sl = 0; sl < SL_COUNT; sl++) {
      let prev = 0;
      let n = 0;
      for (let H = u32[c + T_HEADS + (fl << SL_BITS) + sl]!; H !== 0; H = u32[(H >>> 2) + BH_NEXT_FREE]!) {
        if (!freeBlocks.has(H))
          throw new HeapCorruptionError(`T3: ${hex(H)} on list (${fl}, ${sl}) is not a free block`, H);
        if (prev !== 0 && u32[(H >>> 2) + BH_PREV_FREE] !== prev)
          throw new HeapCorruptionError(`T3: bad prev link at ${hex(H)}`, H + 12);
        const [f, s] = mapping(u32[H >>> 2]! & SIZE_MASK);
        if (f !== fl || s !== sl)
          throw new HeapCorruptionError(
            `T3: block ${hex(H)} of ${u32[H >>> 2]! & SIZE_MASK} bytes on list (${fl}, ${sl}), belongs on (${f}, ${s})`,
            H,
          );
        if (++n > freeBlocks.size)
          throw new HeapCorruptionError(`T3: cycle in list (${fl}, ${sl})`, (c + T_HEADS + (fl << SL_BITS) + sl) * 4);
        prev = H;
      }
      listed += n;
      if (n > 0) slMap |= 1 << sl;
    }
    if (u32[c + T_SL_MAPS + fl] !== slMap >>> 0)
      throw new HeapCorruptionError(
        `T3: slMaps[${fl}] is ${hex(u32[c + T_SL_MAPS + fl]!)}, lists say ${hex(slMap)}`,
        (c + T_SL_MAPS + fl) * 4,
      );
    if (slMap !== 0) flMap |= 1 << fl;
  }
  if (u32[c + T_FL_MAP] !== flMap >>> 0)
    throw new HeapCorruptionError(
      `T3: flMap is ${hex(u32[c + T_FL_MAP]!)}, slMaps say ${hex(flMap)}`,
      (c + T_FL_MAP) * 4,
    );
  if (listed !== freeBlocks.size)
    throw new HeapCorruptionError(`T3: ${freeBlocks.size} free blocks, ${listed} listed`, (c + T_HEADS) * 4);
  const spare = u32[c + T_SPARE]!;
  if (
    empty > 1 ||
    (empty === 1) !== (spare !== 0) ||
    (spare !== 0 && (!freeBlocks.has(spare) || (u32[spare >>> 2]! & SIZE_MASK) !== t.whole))
  ) {
    throw new HeapCorruptionError(`T4: ${empty} empty chunks, spare ${hex(spare)}`, (c + T_SPARE) * 4);
  }
  if (chunks !== u32[c + T_CHUNKS])
    throw new HeapCorruptionError(`T4: ${chunks} chunks mapped, counter ${u32[c + T_CHUNKS]}`, (c + T_CHUNKS) * 4);
  if (usedBlocks !== u32[c + T_USED_BLOCKS] || usedBytes !== u32[c + T_USED_BYTES]) {
    throw new HeapCorruptionError(
      `T4: ${usedBlocks} used blocks / ${usedBytes} bytes, counters ${u32[c + T_USED_BLOCKS]} / ${u32[c + T_USED_BYTES]}`,
      (c + T_USED_BLOCKS) * 4,
    );
  }
  // T5: the quick lists hold exactly the QUICK blocks, each once, on the list of its
  // floor class, at most Q_DEPTH a list, and T_Q_BYTES (<= the limit) is their bytes.
  const seen = new Set<number>();
  let qBytes = 0;
  for (let i = 0; i < Q_LISTS; i++) {
    const qi = t.q + i * Q_WORDS;
    let n = 0;
    for (let H = u32[qi]!; H !== 0; H = u32[(H >>> 2) + BH_NEXT_FREE]!) {
      if (!quickBlocks.has(H))
        throw new HeapCorruptionError(`T5: ${hex(H)} on quick list ${i} is not a quick-listed block`, qi * 4);
      if (seen.has(H)) throw new HeapCorruptionError(`T5: ${hex(H)} is on the quick lists twice`, H);
      seen.add(H);
      const size = u32[H >>> 2]! & SIZE_MASK;
      const [f, sl] = mapping(size);
      if ((f << SL_BITS) + sl !== i)
        throw new HeapCorruptionError(`T5: block ${hex(H)} of ${size} bytes on quick list ${i}`, H);
      qBytes += size;
      n++;
    }
    if (n !== u32[qi + 1] || n > Q_DEPTH)
      throw new HeapCorruptionError(`T5: quick list ${i} has ${n} blocks, count ${u32[qi + 1]}`, (qi + 1) * 4);
  }
  if (seen.size !== quickBlocks.size)
    throw new HeapCorruptionError(`T5: ${quickBlocks.size} quick blocks, ${seen.size} on the quick lists`, t.q * 4);
  if (qBytes !== u32[c + T_Q_BYTES] || qBytes > t.qLimit)
    throw new HeapCorruptionError(
      `T5: quick lists hold ${qBytes} bytes, counter ${u32[c + T_Q_BYTES]}, limit ${t.qLimit}`,
      (c + T_Q_BYTES) * 4,
    );
}

/** mapping_insert as a pair (for checks and tests): the list a free block of `size` bytes is on. */
export function mapping(size: number): [fl: number, sl: number] {
  if (size < SB_SIZE) return [0, size >>> 3];
  const t = 31 - Math.clz32(size);
  return [t - SB_SHIFT + 1, (size >>> (t - SL_BITS)) ^ SL_COUNT];
}
