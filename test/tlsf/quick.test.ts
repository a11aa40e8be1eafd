import { describe, expect, it } from 'vitest';
import {
  BuddyAllocator,
  DoubleFreeError,
  HeapCorruptionError,
  Memory,
  TlsfHeap,
  tlsfMapping,
} from '../../src/index.js';
import { Q_MAX, Q_WORDS, SL_BITS, T_MAGIC, T_Q_BYTES, TLSF_MAGIC_V1, quickAt } from '../../src/tlsf/layout.js';

/** A heap on a 1 MiB buddy with 64 KiB chunks and the default quick lists (16 KiB). */
function setup(quickBytes?: number) {
  const buddy = new BuddyAllocator({ pages: 256 });
  const heap = new TlsfHeap(buddy, { chunkPages: 16, quickBytes });
  return { buddy, heap };
}

const snapshot = (heap: TlsfHeap) => Buffer.from(heap.bytes).toString('base64');

/** The blocks of the heap as [addr, usable, free]. */
function blocks(heap: TlsfHeap): Array<[number, number, boolean]> {
  const out: Array<[number, number, boolean]> = [];
  heap.forEachBlock((a, s, f) => out.push([a, s, f]));
  return out;
}

/** mapping_search: the list index a request of `size` bytes rounds up to (TLSF's good fit). */
function ceilingIndex(size: number): number {
  const s = (size + 15) & ~7;
  if (s < 256) return s >>> 3;
  const r = s + (1 << (31 - Math.clz32(s) - SL_BITS)) - 1;
  const [fl, sl] = tlsfMapping(r);
  return (fl << SL_BITS) + sl;
}

/** mapping_insert: the list index a block of `bytes` (header included) is filed under. */
function floorIndex(bytes: number): number {
  const [fl, sl] = tlsfMapping(bytes);
  return (fl << SL_BITS) + sl;
}

describe('TlsfHeap quick lists', () => {
  it('a freed block with used neighbours is kept whole, reported free, and handed out again by the next alloc of its class', () => {
    const { heap } = setup();
    const x = heap.alloc(40);
    const a = heap.alloc(100);
    const y = heap.alloc(40);
    const before = blocks(heap).length;
    heap.free(a);
    // Not merged (TLSF would not merge it either: both neighbours are used), but free to every reader.
    expect(blocks(heap).length).toBe(before);
    expect(blocks(heap).find(([p]) => p === a)).toEqual([a, 104, true]);
    expect(heap.isAllocated(a)).toBe(false);
    expect(() => heap.usableSize(a)).toThrow(DoubleFreeError);
    expect(heap.stats().usedBlocks).toBe(2);
    expect(heap.stats().usedBytes).toBe(2 * 48);
    heap.checkInvariants();
    // A double free of the quick-listed block: DoubleFreeError, not one byte changed.
    const s = snapshot(heap);
    expect(() => heap.free(a)).toThrow(DoubleFreeError);
    expect(() => heap.realloc(a, 10)).toThrow(DoubleFreeError);
    expect(snapshot(heap)).toBe(s);
    // The next alloc of its class pops it.
    expect(heap.alloc(97)).toBe(a);
    expect(heap.usableSize(a)).toBe(104);
    heap.free(x);
    heap.free(y);
    heap.free(a);
    heap.checkInvariants();
  });

  it('a freed block with a free neighbour is merged at once, as TLSF does (no quick list)', () => {
    const { heap } = setup();
    const a = heap.alloc(100);
    const b = heap.alloc(100); // b is left of a (blocks are carved off the free block's end)
    const n = blocks(heap).length;
    heap.free(b); // its left neighbour is the chunk's free block: merged into it
    expect(blocks(heap).length).toBe(n - 1);
    heap.free(a); // now its left neighbour is free: merged, the chunk is one free block
    expect(blocks(heap)).toHaveLength(1);
    heap.checkInvariants();
  });

  it('every block on quick list i fits every request that rounds up to i (floor class on free, ceiling class on alloc), handed out when TLSF would not split it either', () => {
    const { heap } = setup();
    let checked = 0;
    for (let size = 1; size + 8 < Q_MAX; size += 3) {
      const left = heap.alloc(16);
      const p = heap.alloc(size);
      const right = heap.alloc(16);
      const bytes = heap.usableSize(p) + 8;
      heap.free(p);
      // Requests of the block's floor class's ceiling get it; a request one class up does not.
      for (let r = Math.max(1, size - 64); r < size + 64; r++) {
        if (ceilingIndex(r) !== floorIndex(bytes)) continue;
        const q = heap.alloc(r);
        // Popped when TLSF would hand the block out whole too (the rest could not be a block).
        const whole = bytes - ((r + 15) & ~7) < 16;
        if (whole) expect(q).toBe(p);
        else expect(q).not.toBe(p);
        expect(heap.usableSize(q)).toBeGreaterThanOrEqual(r);
        expect(heap.usableSize(q) - r).toBeLessThanOrEqual(22); // TLSF's bound
        heap.free(q);
        if (whole) checked++;
      }
      const big = heap.alloc(bytes); // payload = the block's size: a bigger class
      expect(big).not.toBe(p);
      heap.free(big);
      heap.free(left);
      heap.free(right);
      heap.shrink();
      heap.checkInvariants();
    }
    expect(checked).toBeGreaterThan(300);
  });

  it('the heap does not take a chunk while quick-listed blocks could serve the request: it flushes them first', () => {
    const { heap, buddy } = setup();
    // 16 blocks of 16 different classes, side by side at the chunk's start.
    const ps: number[] = [];
    for (let i = 0; i < 16; i++) ps.push(heap.alloc(100 + 8 * i));
    const total = ps.reduce((t, p) => t + heap.usableSize(p) + 8, 0);
    expect(heap.stats().chunks).toBe(1);
    // Leave the chunk's free block smaller than what we ask for below.
    const rest = blocks(heap).at(-1)!;
    expect(rest[2]).toBe(true);
    const filler = heap.alloc(rest[1] - 200);
    for (const p of ps) heap.free(p); // lowest address first: each has used neighbours
    heap.checkInvariants();
    expect(heap.stats().usedBlocks).toBe(1);
    expect(blocks(heap).length).toBeGreaterThan(10); // quick-listed, not merged
    const pagesBefore = buddy.freePages;
    const big = heap.alloc(total - 300); // fits only in the merged blocks
    expect(heap.stats().chunks).toBe(1);
    expect(buddy.freePages).toBe(pagesBefore);
    expect(big).toBeLessThan(filler); // where the 16 were
    heap.checkInvariants();
    heap.free(big);
    heap.free(filler);
    // shrink flushes too: everything merges and the chunk goes back.
    heap.shrink();
    expect(heap.footprint()).toBe(0);
    heap.checkInvariants();
  });

  it('all freed then shrink gives every chunk back (quick lists flushed)', () => {
    const { heap, buddy } = setup();
    const initial = buddy.freePages;
    const ps: number[] = [];
    for (let i = 0; i < 400; i++) ps.push(heap.alloc(16 + ((i * 37) % 900)));
    for (let i = 0; i < ps.length; i += 2) heap.free(ps[i]!);
    for (let i = 1; i < ps.length; i += 2) heap.free(ps[i]!);
    expect(heap.stats().usedBlocks).toBe(0);
    expect(blocks(heap).every(([, , f]) => f)).toBe(true);
    const held = heap.footprint();
    expect(heap.stats().chunks).toBeGreaterThan(1);
    expect(heap.shrink() * buddy.pageSize).toBe(held); // the chunks the flush emptied are counted
    expect(heap.footprint()).toBe(0);
    expect(buddy.freePages).toBe(initial);
    heap.checkInvariants();
  });

  it('shrink flushes only when that can empty a chunk (Kmalloc calls it before every page it takes)', () => {
    const { heap } = setup();
    const ps: number[] = [];
    for (let i = 0; i < 40; i++) ps.push(heap.alloc(100 + 8 * (i % 10)), heap.alloc(8));
    for (let i = 0; i < ps.length; i += 4) heap.free(ps[i]!); // quick-listed, between used blocks
    const n = blocks(heap).length;
    expect(heap.shrink()).toBe(0); // one chunk, live blocks in it: nothing to give back
    expect(blocks(heap).length).toBe(n); // the quick blocks stayed
    for (let i = 0; i < ps.length; i++) if (i % 4 !== 0) heap.free(ps[i]!);
    expect(heap.shrink()).toBe(16); // nothing live: flushed, merged, the chunk goes back
    expect(heap.footprint()).toBe(0);
    heap.checkInvariants();
  });

  it('quickBytes bounds the bytes held; 0 turns the quick lists off', () => {
    for (const q of [0, 256]) {
      const { heap } = setup(q);
      const ps: number[] = [];
      for (let i = 0; i < 64; i++) ps.push(heap.alloc(24 + 8 * (i % 20)), heap.alloc(8));
      for (let i = 0; i < ps.length; i += 2) heap.free(ps[i]!); // each between used blocks
      const u32 = heap.memory.u32;
      const held = u32[(heap.region >>> 2) + T_Q_BYTES]!;
      expect(held).toBeLessThanOrEqual(q);
      if (q > 0) expect(held).toBeGreaterThan(q - 200);
      heap.checkInvariants();
    }
  });

  it('attach opens a heap with filled quick lists: same state, same next block, double free refused', () => {
    const { heap } = setup();
    const keep: number[] = [];
    const freed: number[] = [];
    for (let i = 0; i < 60; i++) {
      const p = heap.alloc(20 + 16 * (i % 12));
      keep.push(heap.alloc(8));
      if (i % 3 !== 2) freed.push(p);
      else keep.push(p);
    }
    for (const p of freed) heap.free(p);
    const copy = TlsfHeap.attach(Memory.wrap(heap.memory.buffer.slice(0)));
    copy.checkInvariants();
    expect(copy.stats()).toEqual(heap.stats());
    for (const p of freed.slice(0, 5)) {
      expect(copy.isAllocated(p)).toBe(false);
      expect(() => copy.free(p)).toThrow(DoubleFreeError);
    }
    for (const size of [20, 36, 52, 196]) expect(copy.alloc(size)).toBe(heap.alloc(size));
    copy.checkInvariants();
  });

  it('attach refuses damaged quick lists and the layout before them (version 1)', () => {
    const { heap } = setup();
    const used = heap.alloc(8);
    const a = heap.alloc(100);
    heap.alloc(8);
    heap.free(a);
    const c = heap.region >>> 2;
    const q = c + quickAt(heap.memory.u32[c + 9]!);
    const i = floorIndex(104 + 8);
    const damaged = (edit: (u32: Uint32Array) => void, msg: RegExp) => {
      const buf = heap.memory.buffer.slice(0);
      edit(new Uint32Array(buf));
      expect(() => TlsfHeap.attach(Memory.wrap(buf))).toThrow(HeapCorruptionError);
      expect(() => TlsfHeap.attach(Memory.wrap(buf))).toThrow(msg);
    };
    expect(heap.memory.u32[q + i * Q_WORDS]).toBe(a - 8);
    damaged((u) => (u[q + i * Q_WORDS] = used - 8), /T5/); // a used block on a quick list
    damaged((u) => (u[q + i * Q_WORDS + 1] = 2), /T5/); // count off
    damaged((u) => (u[q + (i + 1) * Q_WORDS] = a - 8), /T5/); // the block twice, once on the wrong list
    damaged((u) => (u[c + T_Q_BYTES] = 0), /T5/); // byte counter off
    damaged((u) => (u[(a - 8) >>> 2] = u[(a - 8) >>> 2]! & ~4), /T5/); // QUICK bit lost
    damaged((u) => (u[c + T_MAGIC] = TLSF_MAGIC_V1), /version 1/);
  });

  it('a write after free into a quick-listed block is caught when its list is popped', () => {
    const { heap } = setup();
    const used = heap.alloc(100);
    const a = heap.alloc(100);
    heap.alloc(8);
    const b = heap.alloc(100);
    heap.alloc(8);
    heap.free(a);
    heap.free(b); // list: b -> a
    heap.memory.u32[b >>> 2] = used - 8; // overwrite b's link with a used block's header
    expect(heap.alloc(100)).toBe(b);
    expect(() => heap.alloc(100)).toThrow(HeapCorruptionError);
  });
});
