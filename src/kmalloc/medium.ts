/**
 * Kmalloc's medium tier on a shared heap: one TLSF heap per worker slot
 * (glibc's arenas, mimalloc's heaps), with mimalloc's remote-free handoff.
 *
 * A worker allocates its medium blocks (sizes above `maxClass`, up to
 * `largeAbove`) from a TLSF heap of its own slot and frees its own blocks
 * into it with the TLSF code's plain reads and writes: no lock. The heap's
 * chunks come from the shared buddy (under the buddy lock); their page
 * descriptors carry the slot in the heap byte (bits 24..31 of P_INFO), as
 * class pages do, so a free finds the owner from the address alone.
 *
 * A free of a block in another slot's heap does not touch that heap: the
 * block is checked (its header read without a lock: a used block's header
 * and the tag after it change only when the block itself does, and the
 * block is the freer's), then pushed on the owner's *remote list* with one
 * compareExchange, linked and free-tagged in its first two payload words as
 * class pages' thread_free blocks are (`next`, `next ^ key`). The owner
 * takes the whole list with one exchange (only the owner takes, and only
 * whole: no ABA) before its next medium alloc, free or realloc, and frees
 * each block into its heap. A block on a remote list still counts as used.
 *
 * A slot's heap stays with the slot when its worker leaves (detach drains
 * its list and gives its spare chunk back): the next worker to take the slot
 * drains the list on its first medium call. `Kmalloc.shrink` drains and
 * gives back the chunks, and the heap itself once it holds no chunk, of
 * every slot nobody holds (under the heap lock, which a worker joining that
 * slot takes in `attach` before it can use the heap).
 *
 * Lock order: a worker's own heap takes no lock; a chunk refill or a chunk
 * given back takes the buddy lock; making or giving back a slot's heap (its
 * control region, counted as metadata in K_META_PAGES) takes the kmalloc
 * heap lock, then the buddy lock under it.
 *
 * State (u32 words at `m`, in kmalloc's control block on a shared heap):
 * ```
 *   m + s              region[s]: byte offset of slot s's TLSF control structure (0 = none;
 *                      slot 0's is the TLSF heap made with the kmalloc heap, K_TLSF)
 *   m + 32 + 16 s      remote[s]: payload address of the first block on slot s's remote list
 *                      (0 = empty), on a 64-byte line of its own
 *   m + 33 + 16 s ..   the rest of that line: slot s's large-block cache (large-cache.ts)
 * ```
 *
 * @module
 */
import type { BuddyAllocator } from '../buddy/index.js';
import { DoubleFreeError, HeapCorruptionError, InvalidFreeError, MemkitError, hex } from '../errors/index.js';
import type { Memory } from '../memory/index.js';
import { MAX_WORKERS } from '../memory/lock.js';
import type { SlabSpace } from '../slab/index.js';
import { P_INFO, makeInfo } from '../slab/layout.js';
import { TlsfHeap } from '../tlsf/index.js';
import {
  BLOCK_HEADER_BYTES as HEADER,
  BH_TAG,
  FREE,
  MIN_BLOCK,
  PREV_FREE,
  QUICK,
  SENTINEL_BYTES,
  SIZE_MASK,
  T_CHUNKS,
  T_KEY,
  T_MAGIC,
  TLSF_MAGIC,
  T_USED_BLOCKS,
  T_MAX_CHUNKS,
  controlBytes,
  crossesJoined,
  joinAt,
} from '../tlsf/layout.js';

/** Words of the medium area: 32 region words, then one 16-word line per slot's remote list head. */
export const MEDIUM_WORDS = MAX_WORKERS + MAX_WORKERS * 16;
/** Owner field of a TLSF chunk's pages (slab/layout.ts's OWNER_TLSF). */
const OWNER_TLSF = 0xfffe;
/** check(): not a block start / a block that looks free. */
const NOT_BLOCK = -1;
const LOOKS_FREE = -2;

/**
 * The onChunk of slot `slot`'s TLSF heap: marks the chunk's pages as
 * OWNER_TLSF of that slot when it is added, and clears them when it is given
 * back, before the pages go back to the buddy (src/tlsf/chunks.ts's releaseChunk): with
 * no heap lock around a worker's own TLSF heap, another worker may take them
 * the moment the buddy has them. The clear is a compareExchange from this
 * chunk's value all the same, so it can never wipe another owner's mark.
 * (The chunk's other descriptor words are never written: they stay 0.)
 */
export function markChunk(space: SlabSpace, slot: number) {
  const info = makeInfo(OWNER_TLSF, slot << 8) | 0;
  return (addr: number, pages: number, added: boolean): void => {
    const pg = (addr - space.buddy.base) >>> space.buddy.pageShift;
    if (added) return space.setOwner(pg, pages, OWNER_TLSF, false, slot << 8);
    const mem = space.memory;
    mem.sync();
    for (let i = 0; i < pages; i++) Atomics.compareExchange(mem.i32, space.descriptor(pg + i) + P_INFO, info, 0);
  };
}

/** u32 index of remote[slot] in the medium area at `m`. */
export function remoteHead(m: number, slot: number): number {
  return m + MAX_WORKERS + (slot << 4);
}

/**
 * The per-slot TLSF heaps of one Kmalloc instance (its worker slot's, and
 * views of the others' for remote frees, introspection and shrink).
 *
 * @internal
 */
export class MediumHeaps {
  /** This instance's own heap once it has one (made or opened on the first medium call). */
  own: TlsfHeap | null = null;
  /** Set by Kmalloc.detach (with `own` cleared): the slot is given back, its heap is not this instance's. */
  closed = false;
  private readonly heaps: (TlsfHeap | null)[] = new Array<TlsfHeap | null>(MAX_WORKERS).fill(null);
  private readonly remoteAt: number;
  private readonly base: number;
  private readonly chunkMask: number;
  private readonly whole: number;

  constructor(
    private readonly memory: Memory,
    private readonly buddy: BuddyAllocator,
    private readonly space: SlabSpace,
    /** u32 index of the medium area. */
    private readonly m: number,
    private readonly slot: number,
    /** kmalloc's free-tag key (the remote lists' tags). */
    private readonly key: number,
    private readonly chunkPages: number,
    /** Takes / releases the kmalloc heap lock (for making or giving back a slot's heap). */
    private readonly lock: (on: boolean) => void,
    /** Adds to the control block's metadata page count. */
    private readonly addMeta: (pages: number) => void,
  ) {
    const chunkBytes = chunkPages * buddy.pageSize;
    this.remoteAt = remoteHead(m, slot);
    this.base = buddy.base;
    this.chunkMask = chunkBytes - 1;
    this.whole = chunkBytes - SENTINEL_BYTES; // a chunk's blocks end at its sentinel
  }

  /** Pages of one heap's control region. */
  private controlPages(): number {
    const maxChunks = Math.ceil((this.buddy.maxPages * this.buddy.pageSize) / (this.chunkPages * this.buddy.pageSize));
    return Math.ceil(controlBytes(maxChunks) / this.buddy.pageSize);
  }

  /** Slot `s`'s heap (a view, opened once per region), or null when the slot has none. */
  heapOf(s: number): TlsfHeap | null {
    this.memory.sync();
    const region = this.memory.u32[this.m + s]!;
    if (region === 0) return null;
    const h = this.heaps[s];
    if (h !== null && h !== undefined && h.region === region) return h;
    const heap = TlsfHeap.attach(this.buddy, region, { onChunk: markChunk(this.space, s) });
    heap.shareLock(-1, this.slot); // guarded by kmalloc (the owner alone, or the heap lock)
    this.heaps[s] = heap;
    if (s === this.slot) this.own = heap;
    return heap;
  }

  /** Uses `heap` as slot `s`'s view (the K_TLSF heap kmalloc opened already). */
  adopt(s: number, heap: TlsfHeap): void {
    heap.shareLock(-1, this.slot);
    this.heaps[s] = heap;
    if (s === this.slot) this.own = heap;
  }

  /** This slot's heap, made on first use (its control region under the heap lock; `held`: the caller holds it). */
  ownHeap(held = false): TlsfHeap {
    if (this.closed)
      throw new MemkitError('kmalloc: this instance has detached from the heap (its worker slot is given back)');
    const h = this.own ?? this.heapOf(this.slot);
    if (h !== null) return h;
    if (!held) this.lock(true);
    try {
      const heap = new TlsfHeap(this.buddy, { chunkPages: this.chunkPages, onChunk: markChunk(this.space, this.slot) });
      this.memory.sync();
      this.memory.u32[this.m + this.slot] = heap.region;
      this.addMeta(this.controlPages());
      this.adopt(this.slot, heap);
      return heap;
    } finally {
      if (!held) this.lock(false);
    }
  }

  // ------------------------------------------------------------ the owner

  /** A medium block from this slot's heap (no lock); 0 when no chunk can be had. */
  alloc(size: number): number {
    const mem = this.memory;
    mem.sync();
    if (mem.u32[this.remoteAt] !== 0) this.drain(this.slot);
    return (this.own ?? this.ownHeap()).tryAllocLocked(size);
  }

  /** Frees `addr`, a block in slot `s`'s heap (page heap byte `s`). */
  free(addr: number, s: number): void {
    if (s !== this.slot) return this.freeRemote(addr, s);
    const mem = this.memory;
    mem.sync();
    // Another worker's free of this block may wait on the list: then this one is a double free.
    if (mem.u32[this.remoteAt] !== 0 && this.drain(this.slot, addr))
      throw new DoubleFreeError(`kfree(${hex(addr)}): block already free (double free)`, addr);
    (this.own ?? this.ownHeap()).freeLocked(addr);
  }

  /** Resizes `addr`, a block of this slot's heap (in place when it can). */
  realloc(addr: number, size: number): number {
    const mem = this.memory;
    mem.sync();
    if (mem.u32[this.remoteAt] !== 0 && this.drain(this.slot, addr))
      throw new InvalidFreeError(`krealloc(${hex(addr)}): block already freed by another worker`, addr);
    return (this.own ?? this.ownHeap()).reallocLocked(addr, size);
  }

  /**
   * Takes slot `s`'s remote list whole (one exchange) and frees its blocks
   * into the heap. The caller is the slot's worker, or holds the heap lock
   * for a slot nobody holds. True when `watch` was on the list.
   */
  drain(s: number, watch = 0): boolean {
    const mem = this.memory;
    const heap = s === this.slot ? (this.own ?? this.ownHeap()) : this.heapOf(s);
    let p = Atomics.exchange(mem.i32, remoteHead(this.m, s), 0) >>> 0;
    if (heap === null) {
      if (p !== 0) throw new HeapCorruptionError(`kmalloc: slot ${s} has remote frees but no medium heap`, p);
      return false;
    }
    let seen = false;
    for (let steps = 0; p !== 0; steps++) {
      const u32 = mem.u32;
      const a = p >>> 2;
      if ((p & 7) !== 0 || a + 1 >= u32.length || steps > u32.length >>> 2)
        throw new HeapCorruptionError(`kmalloc: slot ${s}'s remote list reaches ${hex(p)}`, p);
      const next = u32[a]!;
      if ((u32[a + 1]! ^ next) !== this.key)
        throw new HeapCorruptionError(`kmalloc: block ${hex(p)} on slot ${s}'s remote list has a bad tag`, p + 4);
      // Two workers racing to free one block may both have pushed it: the second is dropped.
      if (heap.isAllocatedLocked(p)) heap.freeLocked(p);
      if (p === watch) seen = true;
      p = next;
    }
    return seen;
  }

  // ------------------------------------------------------- other workers

  /**
   * The header address of the used block at `addr` in slot `s`'s heap, or
   * NOT_BLOCK / LOOKS_FREE. O(1), no lock: the chunk is known from the page
   * descriptor (heap byte s); the header must be a used block's that ends in
   * the chunk, and the block right of it must carry its size in the keyed tag.
   */
  private check(addr: number, s: number): number {
    const mem = this.memory;
    const u32 = mem.u32;
    if (s >= MAX_WORKERS) return NOT_BLOCK;
    const region = u32[this.m + s]!;
    if (region === 0 || u32[(region >>> 2) + T_MAGIC] !== TLSF_MAGIC) return NOT_BLOCK;
    const key = u32[(region >>> 2) + T_KEY]! | 0;
    const off = addr - this.base;
    const rel = (off & this.chunkMask) - HEADER; // -8: the header ends the chunk below
    if ((addr & 7) !== 0 || off < HEADER) return NOT_BLOCK;
    const H = addr - HEADER;
    const h = u32[H >>> 2]!;
    const size = h & SIZE_MASK;
    if ((h & ~(SIZE_MASK | PREV_FREE | FREE | QUICK)) !== 0) return NOT_BLOCK;
    // A block that straddled into this chunk (its header ended the chunk below) was freed, and
    // the chunk, empty, was cut out of its run: a sentinel where the header was, a free block
    // at the chunk's start (src/tlsf/chunks.ts, releaseWide). No payload starts there otherwise.
    if (rel === -HEADER && size === 0 && (u32[addr >>> 2]! & (FREE | QUICK)) === FREE) return LOOKS_FREE;
    if (size < MIN_BLOCK) return NOT_BLOCK;
    // A freed block's header keeps FREE (also one merged into its left neighbour, as tlsf.ts's
    // badFree says; its size may then run past the chunk); one on a quick list has QUICK.
    if ((h & (FREE | QUICK)) !== 0) return LOOKS_FREE;
    if (rel < 0 || rel + size > this.whole) {
      // Across a chunk boundary: a block only where the heap joined the two chunks (a run).
      const maxChunks = u32[(region >>> 2) + T_MAX_CHUNKS]!;
      const slot = (off - (off & this.chunkMask)) / (this.chunkMask + 1);
      if (!crossesJoined(u32, (region >>> 2) + joinAt(maxChunks), maxChunks, this.chunkMask + 1, slot, rel, size))
        return NOT_BLOCK;
    }
    const R = H + size;
    return ((u32[(R >>> 2) + BH_TAG]! ^ Math.imul(R, key)) | 0) === size ? H : NOT_BLOCK;
  }

  /** True when `addr` is on slot `s`'s remote list (a bounded walk; the list may change under it). */
  private onRemote(addr: number, s: number): boolean {
    const mem = this.memory;
    const u32 = mem.u32;
    const limit = u32.length >>> 2;
    for (let p = Atomics.load(mem.i32, remoteHead(this.m, s)) >>> 0, n = 0; p !== 0 && n < limit; n++) {
      if (p === addr) return true;
      if ((p & 7) !== 0 || p >>> 2 >= u32.length) return false;
      p = u32[p >>> 2]!;
    }
    return false;
  }

  /** A free of a block in slot `s`'s heap by another worker: checked, then pushed on remote[s]. */
  private freeRemote(addr: number, s: number): void {
    const mem = this.memory;
    mem.sync();
    const H = this.check(addr, s);
    if (H === LOOKS_FREE) throw new DoubleFreeError(`kfree(${hex(addr)}): block already free (double free)`, addr);
    if (H < 0) throw new InvalidFreeError(`kfree(${hex(addr)}): not the start of a block (or never handed out)`, addr);
    const u32 = mem.u32;
    const i32 = mem.i32;
    const a = addr >>> 2;
    const key = this.key;
    if ((u32[a + 1]! ^ u32[a]!) === key && this.onRemote(addr, s))
      throw new DoubleFreeError(`kfree(${hex(addr)}): block already free (double free)`, addr);
    const w = remoteHead(this.m, s);
    let old = i32[w]!;
    for (;;) {
      u32[a] = old;
      u32[a + 1] = old ^ key;
      const seen = Atomics.compareExchange(i32, w, old, addr | 0);
      if (seen === old) return;
      old = seen;
    }
  }

  /** Usable bytes of the live block `addr` of slot `s`'s heap (from any worker, no lock), or -1. */
  usable(addr: number, s: number): number {
    this.memory.sync();
    const H = this.check(addr, s);
    if (H < 0) return -1;
    const u32 = this.memory.u32;
    const a = addr >>> 2;
    if ((u32[a + 1]! ^ u32[a]!) === this.key && this.onRemote(addr, s)) return -1;
    return (u32[H >>> 2]! & SIZE_MASK) - HEADER;
  }

  // ------------------------------------------------ the heap lock held

  /** Detach: this slot's remote list drained and its spare chunk given back; the heap stays with the slot. */
  leave(): number {
    const heap = this.heapOf(this.slot);
    if (heap === null) return 0;
    this.drain(this.slot);
    return heap.shrinkLocked();
  }

  /**
   * Shrink (the heap lock held): this slot's list drained and its spare
   * chunk given back; every slot not in `joined` drained, its empty chunks
   * given back, and its heap too when it holds no chunk. Returns the pages freed.
   */
  shrink(joined: number): number {
    let pages = this.leave();
    for (let s = 1; s < MAX_WORKERS; s++) {
      if (s === this.slot || (joined & (1 << s)) !== 0) continue;
      const heap = this.heapOf(s);
      if (heap === null) continue;
      this.drain(s);
      pages += heap.shrinkLocked();
      const mem = this.memory;
      mem.sync();
      const u32 = mem.u32;
      const c = heap.region >>> 2;
      if (u32[c + T_CHUNKS] === 0 && u32[c + T_USED_BLOCKS] === 0 && u32[remoteHead(this.m, s)] === 0) {
        u32[this.m + s] = 0;
        this.heaps[s] = null;
        this.buddy.free(heap.region);
        this.addMeta(-this.controlPages());
      }
    }
    return pages;
  }

  /** Calls `visit(s, heap)` for every slot that has a heap. */
  forEachHeap(visit: (s: number, heap: TlsfHeap) => void): void {
    for (let s = 0; s < MAX_WORKERS; s++) {
      const heap = this.heapOf(s);
      if (heap !== null) visit(s, heap);
    }
  }

  /** The blocks on slot `s`'s remote list (pending frees). */
  remoteBlocks(s: number): Set<number> {
    const out = new Set<number>();
    const u32 = this.memory.u32;
    for (let p = u32[remoteHead(this.m, s)]!; p !== 0 && out.size <= u32.length >>> 2; p = u32[p >>> 2]!) {
      if (out.has(p) || (p & 7) !== 0 || p >>> 2 >= u32.length) break;
      out.add(p);
    }
    return out;
  }

  /**
   * Checks every slot's heap (TLSF's own invariants), the page descriptors of
   * its chunks (OWNER_TLSF of that slot), and its remote list (live blocks of
   * that heap, tagged, no repeats, not more than the heap's used blocks);
   * slots in `skip` are not looked at (their worker changes them without a
   * lock). `bad` throws.
   */
  checkAll(skip: number, bad: (what: string, word: number) => never, pageTable: number): void {
    const mem = this.memory;
    for (let s = 0; s < MAX_WORKERS; s++) {
      if ((skip & (1 << s)) !== 0) continue;
      const region = mem.u32[this.m + s]!;
      if (region === 0) {
        if (mem.u32[remoteHead(this.m, s)] !== 0)
          bad(`slot ${s} has remote frees but no medium heap`, remoteHead(this.m, s));
        continue;
      }
      if (region < this.base || (region - this.base) % this.buddy.pageSize !== 0 || !this.buddy.isAllocated(region))
        bad(`slot ${s}'s medium heap region ${hex(region)} is not a block of the buddy`, this.m + s);
      const heap = this.heapOf(s)!; // attach checks it
      heap.checkInvariantsLocked();
      mem.sync();
      const u32 = mem.u32;
      heap.forEachChunk((A) => {
        const pg = (A - this.base) >>> this.buddy.pageShift;
        for (let i = 0; i < this.chunkPages; i++) {
          const d = pageTable + ((pg + i) << 3) + 1;
          if (u32[d] !== (OWNER_TLSF | (s << 24)) >>> 0)
            bad(`page ${pg + i} of slot ${s}'s TLSF chunk ${hex(A)} is not marked as that slot's`, d);
        }
      });
      const used = u32[(region >>> 2) + T_USED_BLOCKS]!;
      const seen = new Set<number>();
      const w = remoteHead(this.m, s);
      for (let p = u32[w]!; p !== 0; p = u32[p >>> 2]!) {
        if (seen.has(p) || seen.size >= used)
          bad(`slot ${s}'s remote list loops or holds more blocks than are used`, w);
        if (this.check(p, s) < 0 || !heap.isAllocatedLocked(p))
          bad(`slot ${s}'s remote list holds ${hex(p)}, not a used block of its heap`, w);
        if ((u32[(p >>> 2) + 1]! ^ u32[p >>> 2]!) !== this.key)
          bad(`block ${hex(p)} on slot ${s}'s remote list has a bad tag`, (p >>> 2) + 1);
        seen.add(p);
      }
    }
  }
}
