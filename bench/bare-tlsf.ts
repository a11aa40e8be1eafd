/**
 * A bare TLSF in JavaScript, for the random replay of `npm run bench --
 * kmalloc`: the floor of what a TLSF written in JS costs on that workload.
 *
 * It is the algorithm of memkit's TLSF tier (src/tlsf) and of
 * AssemblyScript's (the TLSF-in-wasm peer) with everything else taken out: no
 * argument or damage checks, no keyed tags, no counters, no quick lists, no
 * chunks (one preallocated buffer), no locks, no sync with a growing memory.
 * Issue 11 asks kmalloc for 1.5x TLSF-in-wasm on a workload where 88% of the
 * allocations are TLSF's (sizes above 512 B, which size classes would serve
 * at a utilization far below TLSF's: docs/kmalloc.md). The distance from
 * this row to TLSF-in-wasm's is what a JS TLSF can gain at most; the
 * distance from kmalloc to this row is what the checks cost. Not an
 * allocator to use: a bad free corrupts it silently.
 *
 * ```
 *  block at H (8-byte aligned), payload at H + 8
 *  +0  size | FREE | PREV_FREE    (size counts the header; a multiple of 8, >= 16)
 *  +4  next free  } free blocks only
 *  +8  prev free  }
 *  ... last word of a free block: its size (the boundary tag the right neighbour merges by)
 * ```
 * Lists: below 256 B one per 8 bytes; above, 32 per power of two
 * (`listOf`). Allocation takes the head of the first non-empty list whose
 * every block fits (mapping_search) and splits off the rest, as TLSF does.
 *
 * @module
 */
import type { ByteAllocator } from '../src/memory/index.js';

const FREE = 1;
const PREV_FREE = 2;
const SIZE_MASK = ~7;
const MIN_BLOCK = 16;

/** See the module comment. */
export class BareTlsf implements ByteAllocator {
  readonly name = 'bare-tlsf';
  private readonly u32: Uint32Array;
  private readonly heads = new Uint32Array(32 * 32);
  private readonly slMap = new Uint32Array(32);
  private flMap = 0;
  /** The highest block end handed out: the footprint a growing heap would have had. */
  private high = 0;

  constructor(bytes: number) {
    const total = (bytes + 7) & SIZE_MASK;
    this.u32 = new Uint32Array(total >>> 2);
    // One free block from 8 to the used sentinel in the last 8 bytes.
    this.u32[(total - 8) >>> 2] = 8;
    this.putFree(8, total - 16, 0);
  }

  /** Writes free block H's header and boundary tag, tells its right neighbour, lists it. */
  private putFree(H: number, size: number, prevFree: number): void {
    const u = this.u32;
    u[H >>> 2] = size | FREE | prevFree;
    u[(H + size - 4) >>> 2] = size;
    const X = (H + size) >>> 2;
    u[X] = u[X]! | PREV_FREE;
    const li = listOf(size);
    const old = this.heads[li]!;
    u[(H >>> 2) + 1] = old;
    u[(H >>> 2) + 2] = 0;
    if (old !== 0) u[(old >>> 2) + 2] = H;
    this.heads[li] = H;
    this.slMap[li >>> 5] = this.slMap[li >>> 5]! | (1 << (li & 31));
    this.flMap |= 1 << (li >>> 5);
  }

  private unlink(H: number, size: number): void {
    const u = this.u32;
    const next = u[(H >>> 2) + 1]!;
    const prev = u[(H >>> 2) + 2]!;
    if (next !== 0) u[(next >>> 2) + 2] = prev;
    if (prev !== 0) u[(prev >>> 2) + 1] = next;
    else {
      const li = listOf(size);
      this.heads[li] = next;
      if (next === 0) this.emptied(li);
    }
  }

  private emptied(li: number): void {
    const m = this.slMap[li >>> 5]! & ~(1 << (li & 31));
    this.slMap[li >>> 5] = m;
    if (m === 0) this.flMap &= ~(1 << (li >>> 5));
  }

  alloc(size: number): number {
    const u = this.u32;
    const s = (size + 15) & SIZE_MASK;
    let fl = 0;
    let sl = s >>> 3;
    if (s >= 256) {
      const r = s + (1 << (26 - Math.clz32(s))) - 1; // round up to the list's step
      const t = 31 - Math.clz32(r);
      sl = (r >>> (t - 5)) ^ 32;
      fl = t - 7;
    }
    let m = this.slMap[fl]! & (-1 << sl);
    if (m === 0) {
      const f = this.flMap & (-2 << fl);
      if (f === 0) throw new RangeError(`bare TLSF: no block of ${size} bytes`);
      fl = 31 - Math.clz32(f & -f);
      m = this.slMap[fl]!;
    }
    sl = 31 - Math.clz32(m & -m);
    const li = (fl << 5) + sl;
    const H = this.heads[li]!;
    const h = u[H >>> 2]!;
    const b = h & SIZE_MASK;
    const next = u[(H >>> 2) + 1]!;
    this.heads[li] = next;
    if (next !== 0) u[(next >>> 2) + 2] = 0;
    else this.emptied(li);
    const rest = b - s;
    if (rest < MIN_BLOCK) {
      u[H >>> 2] = b | (h & PREV_FREE);
      const X = (H + b) >>> 2;
      u[X] = u[X]! & ~PREV_FREE;
      if (H + b > this.high) this.high = H + b;
    } else {
      u[H >>> 2] = s | (h & PREV_FREE);
      this.putFree(H + s, rest, 0);
      if (H + s > this.high) this.high = H + s;
    }
    return H + 8;
  }

  free(addr: number): void {
    const u = this.u32;
    let H = addr - 8;
    const h = u[H >>> 2]!;
    let size = h & SIZE_MASK;
    const rh = u[(H + size) >>> 2]!;
    if ((rh & FREE) !== 0) {
      this.unlink(H + size, rh & SIZE_MASK);
      size += rh & SIZE_MASK;
    }
    let prevFree = h & PREV_FREE;
    if (prevFree !== 0) {
      const ls = u[(H - 4) >>> 2]!;
      H -= ls;
      this.unlink(H, ls);
      size += ls;
      prevFree = u[H >>> 2]! & PREV_FREE;
    }
    this.putFree(H, size, prevFree);
  }

  realloc(addr: number, size: number): number {
    const q = this.alloc(size);
    new Uint8Array(this.u32.buffer).copyWithin(q, addr, addr + Math.min(size, this.usableSize(addr)));
    this.free(addr);
    return q;
  }

  usableSize(addr: number): number {
    return (this.u32[(addr - 8) >>> 2]! & SIZE_MASK) - 8;
  }

  footprint(): number {
    return this.high;
  }
}

/** The list of a free block of `size` bytes. */
function listOf(size: number): number {
  if (size < 256) return size >>> 3;
  const t = 31 - Math.clz32(size);
  return ((t - 7) << 5) + ((size >>> (t - 5)) ^ 32);
}
