import { describe, expect, it } from 'vitest';
import {
  BuddyAllocator,
  DoubleFreeError,
  InvalidArgumentError,
  HeapCorruptionError,
  InvalidFreeError,
  MemkitError,
  Memory,
  OutOfMemoryError,
  TlsfHeap,
  tlsfMapping,
} from '../../src/index.js';
import { TLSF_MAGIC_V2, T_MAGIC, T_MAX_CHUNKS, joinAt } from '../../src/tlsf/layout.js';

/**
 * A heap on a 1 MiB buddy with 64 KiB chunks (maxSize 65520). No quick lists
 * (quickBytes 0): these tests check TLSF's own placement and merging; the
 * quick lists are tested in quick.test.ts and property.test.ts.
 */
function setup(pages = 256, chunkPages = 16, quickBytes = 0) {
  const buddy = new BuddyAllocator({ pages });
  const events: Array<[number, number, boolean]> = [];
  const heap = new TlsfHeap(buddy, {
    chunkPages,
    quickBytes,
    onChunk: (a, p, added) => events.push([a, p, added]),
  });
  return { buddy, heap, events };
}

/** The whole state: every byte of the memory (control region, chunks, buddy state). */
const snapshot = (heap: TlsfHeap) => Buffer.from(heap.bytes).toString('base64');

describe('TLSF: alloc, free, coalescing', () => {
  it("blocks are 8-aligned, carry an 8-byte header, and are carved off the free block's start", () => {
    const { heap, buddy, events } = setup();
    const a = heap.alloc(1);
    const b = heap.alloc(100);
    expect(events.length).toBe(1);
    const chunk = events[0]![0];
    // [a: 8 + 8 | b: 8 + 104 | free rest | sentinel: 8]
    expect(a).toBe(chunk + 8);
    expect(a % 8).toBe(0);
    expect(heap.usableSize(a)).toBe(8); // 16-byte minimum block
    expect(b).toBe(a + 16);
    expect(heap.usableSize(b)).toBe(104);
    expect(heap.maxSize).toBe(16 * buddy.pageSize - 16);
    expect(heap.footprint()).toBe(16 * 4096);
    heap.checkInvariants();
  });

  it('free merges at once with a free right neighbour and a free left neighbour', () => {
    const { heap } = setup();
    // Carved from the start up: [a | b | c | d | free rest | sentinel].
    const [a, b, c, d] = [heap.alloc(100), heap.alloc(100), heap.alloc(100), heap.alloc(100)];
    expect([b, c, d]).toEqual([a + 112, a + 224, a + 336]);
    heap.free(c);
    heap.free(a);
    heap.checkInvariants();
    let free = 0;
    heap.forEachBlock((_addr, _size, f) => void (f && free++));
    expect(free).toBe(3); // a, c, the rest
    heap.free(b); // merges a + b + c into one block
    heap.checkInvariants();
    const blocks: Array<[number, number, boolean]> = [];
    heap.forEachBlock((addr, size, f) => blocks.push([addr, size, f]));
    expect(blocks.slice(0, 2)).toEqual([
      [a, 3 * 112 - 8, true],
      [d, 104, false],
    ]);
    expect(heap.alloc(3 * 112 - 8)).toBe(a); // the merged block serves a request of its whole size
  });

  it('a chunk that empties is kept as the one spare; a second empty chunk goes back to the buddy', () => {
    const { heap, buddy, events } = setup();
    const before = JSON.stringify(buddy.freeCounts());
    const big = heap.maxSize;
    const x = heap.alloc(big);
    const y = heap.alloc(big); // a second chunk, right above the first: joined, y's header ends chunk 1
    expect(events.map((e) => e[2])).toEqual([true, true]);
    expect(y - 8).toBe(events[1]![0] - 8);
    heap.free(y); // chunk 2 empty: cut out of the run, kept as the spare
    expect(events.length).toBe(2);
    // y's header was where chunk 2's sentinel is now: a second free of y is still told as one.
    expect(() => heap.free(y)).toThrow(DoubleFreeError);
    expect(() => heap.free(y)).toThrow(/cut out of a run/);
    expect(heap.stats()).toMatchObject({ chunks: 2, spareChunks: 1, usedBlocks: 1 });
    heap.checkInvariants();
    heap.free(x); // chunk 1 empty too: given back at once
    expect(events[2]).toEqual([x - 8, 16, false]);
    expect(heap.stats()).toMatchObject({ chunks: 1, spareChunks: 1, usedBlocks: 0 });
    heap.checkInvariants();
    expect(heap.shrink()).toBe(16);
    expect(events[3]).toEqual([y, 16, false]);
    expect(heap.footprint()).toBe(0);
    expect(heap.shrink()).toBe(0);
    heap.buddy.free(heap.region);
    expect(JSON.stringify(buddy.freeCounts())).not.toBe(before); // region was taken before `before`
  });

  it('a chunk right above one the heap holds runs on from it: blocks straddle the boundary, and a chunk a free empties is cut out again', () => {
    const { heap, events } = setup(256, 16);
    // 4,368-byte blocks (a database page and its header): 14 fit a 64 KiB chunk, with 4,264 bytes
    // left that none fits. Joined, 29 fit two chunks (3 without runs).
    const blocks = Array.from({ length: 29 }, () => heap.alloc(4368));
    heap.checkInvariants();
    expect(heap.stats().chunks).toBe(2);
    const [a, b] = events.map((e) => e[0]);
    expect(b).toBe(a! + 65536);
    const straddles = blocks.filter((p) => p - 8 < b! && p + 4368 > b!);
    expect(straddles.length).toBe(1); // one block holds the end of chunk 1 and the start of chunk 2
    expect(heap.usableSize(straddles[0]!)).toBe(4368);
    const snap = snapshot(heap);
    expect(() => heap.free(b! + 4)).toThrow(InvalidFreeError); // not a block start: refused, nothing changed
    expect(snapshot(heap)).toBe(snap);
    // Free everything above chunk 1's blocks: chunk 2 empties, is cut out and kept as the spare.
    for (const p of blocks) if (p + 4368 > b!) heap.free(p);
    heap.checkInvariants();
    expect(heap.stats()).toMatchObject({ chunks: 2, spareChunks: 1 });
    for (const p of blocks) if (p + 4368 <= b!) heap.free(p);
    heap.checkInvariants();
    expect(heap.stats()).toMatchObject({ chunks: 1, spareChunks: 1, usedBlocks: 0 });
    expect(heap.shrink()).toBe(16);
    expect(heap.footprint()).toBe(0);
  });

  it('attach checks the runs: a join bit between chunks the heap does not both hold, a lost join, the layout before runs (version 2)', () => {
    const { heap } = setup(256, 16);
    const memory = heap.memory;
    const blocks = Array.from({ length: 20 }, () => heap.alloc(4368)); // two chunks, joined
    expect(heap.stats().chunks).toBe(2);
    const c = heap.region >>> 2;
    const maxChunks = memory.u32[c + T_MAX_CHUNKS]!;
    const j = c + joinAt(maxChunks);
    const slot = (blocks[0]! - heap.buddy.base) >>> 16;
    expect(memory.u32[j + ((slot + 1) >>> 5)]! & (1 << ((slot + 1) & 31))).not.toBe(0);
    TlsfHeap.attach(Memory.wrap(memory.buffer.slice(0))).checkInvariants(); // a sound copy opens
    const damaged = (edit: (u32: Uint32Array) => void, msg: RegExp) => {
      const buf = memory.buffer.slice(0);
      edit(new Uint32Array(buf));
      expect(() => TlsfHeap.attach(Memory.wrap(buf))).toThrow(HeapCorruptionError);
      expect(() => TlsfHeap.attach(Memory.wrap(buf))).toThrow(msg);
    };
    const flip = (i: number) => (u: Uint32Array) => {
      u[j + (i >>> 5)] = u[j + (i >>> 5)]! ^ (1 << (i & 31));
    };
    damaged(flip(slot + 2), /join map bit/); // joins a chunk the heap does not hold
    damaged(flip(slot), /join map bit/); // joins the first chunk to one below it that is not the heap's
    damaged(flip(slot + 1), /T1/); // the join lost: the straddling block overruns chunk 1's end
    damaged((u) => (u[c + T_MAGIC] = TLSF_MAGIC_V2), /version 2/);
  });

  it('the spare chunk serves the next request of any size', () => {
    const { heap, events } = setup();
    const x = heap.alloc(40_000);
    heap.free(x);
    expect(heap.alloc(heap.maxSize)).toBe(events[0]![0] + 8);
    expect(events.length).toBe(1);
    heap.checkInvariants();
  });

  it('mapping: 8-byte classes below 256 B, then 32 classes per power of two', () => {
    expect(tlsfMapping(16)).toEqual([0, 2]);
    expect(tlsfMapping(248)).toEqual([0, 31]);
    expect(tlsfMapping(256)).toEqual([1, 0]);
    expect(tlsfMapping(504)).toEqual([1, 31]);
    expect(tlsfMapping(4096)).toEqual([5, 0]);
    expect(tlsfMapping(4096 + 128)).toEqual([5, 1]);
    let last = 0;
    let monotone = true;
    for (let s = 16; s < 1 << 20; s += 8) {
      const [fl, sl] = tlsfMapping(s);
      if (fl * 32 + sl < last) monotone = false;
      last = fl * 32 + sl;
    }
    expect(monotone).toBe(true);
  });

  it('the memory may grow (and be replaced by a larger copy) between calls', () => {
    const buddy = new BuddyAllocator({ pages: 40, maxPages: 4096 });
    const heap = new TlsfHeap(buddy, { chunkPages: 16 });
    const addrs: number[] = [];
    for (let i = 0; i < 100; i++) {
      const a = heap.alloc(20_000);
      heap.bytes.fill(i, a, a + 20_000);
      addrs.push(a);
    }
    expect(buddy.pages).toBeGreaterThan(40);
    addrs.forEach((a, i) => {
      expect(heap.bytes[a]).toBe(i);
      expect(heap.bytes[a + 19_999]).toBe(i);
    });
    heap.checkInvariants();
  });

  it('attach opens the same heap from its region (another worker, a copy of the buffer)', () => {
    const { heap, buddy } = setup();
    const a = heap.alloc(500);
    const other = TlsfHeap.attach(buddy, heap.region);
    expect(other.usableSize(a)).toBe(504);
    other.free(a);
    expect(heap.isAllocated(a)).toBe(false);
    heap.checkInvariants();
    expect(() => TlsfHeap.attach(buddy, heap.region + 64)).toThrow(MemkitError);
  });
});

describe('TLSF realloc', () => {
  it('grows in place into a free right neighbour, keeping the content', () => {
    const { heap } = setup();
    const a = heap.alloc(100); // [a | b | c | rest | sentinel]
    const b = heap.alloc(100);
    const c = heap.alloc(100);
    heap.bytes.fill(7, a, a + 100);
    heap.free(b);
    expect(heap.realloc(a, 200)).toBe(a);
    expect(heap.usableSize(a)).toBe(200);
    expect([...heap.bytes.subarray(a, a + 100)].every((x) => x === 7)).toBe(true);
    heap.checkInvariants();
    // a's block is 208 bytes now and a 16-byte free block follows: growing
    // by exactly those 16 bytes takes it whole (nothing left to split off).
    expect(heap.realloc(a, 216)).toBe(a);
    expect(heap.usableSize(a)).toBe(216);
    expect(c).toBe(a + 224);
    heap.checkInvariants();
  });

  it('shrinks in place: the tail becomes a free block (merged with a free right neighbour)', () => {
    const { heap } = setup();
    const a = heap.alloc(1000); // [a | x | rest | sentinel]
    const x = heap.alloc(1000);
    expect(heap.realloc(a, 100)).toBe(a);
    heap.checkInvariants();
    const blockAfter = (p: number) => {
      const blocks: Array<[number, number, boolean]> = [];
      heap.forEachBlock((addr, size, f) => blocks.push([addr, size, f]));
      return blocks[blocks.findIndex((blk) => blk[0] === p) + 1];
    };
    expect(blockAfter(a)).toEqual([a + 112, 888, true]); // the tail: 896 bytes, header included
    expect(heap.alloc(888)).toBe(a + 112);
    heap.free(a + 112);
    heap.free(x); // x merges with the free tail and the chunk's rest
    expect(heap.realloc(a, 8)).toBe(a); // the tail (96 bytes) merges with the free block right of it
    expect(blockAfter(a)).toEqual([a + 16, heap.chunkBytes - 8 - 16 - 8, true]); // a is the chunk's first block
    heap.checkInvariants();
  });

  it('moves when the right neighbour is used, keeping the content; the old block is freed', () => {
    const { heap } = setup();
    const a = heap.alloc(100);
    heap.alloc(100);
    for (let i = 0; i < 100; i++) heap.bytes[a + i] = i;
    const n = heap.realloc(a, 5000);
    expect(n).not.toBe(a);
    for (let i = 0; i < 100; i++) expect(heap.bytes[n + i]).toBe(i);
    expect(heap.isAllocated(a)).toBe(false);
    heap.checkInvariants();
  });

  it('OutOfMemoryError on a move leaves the old block and the heap as they were', () => {
    const { heap } = setup(24, 16); // room for one chunk only (16 + 8 pages, the region takes one of the 8)
    const a = heap.alloc(30_000);
    heap.alloc(30_000);
    const before = snapshot(heap);
    let err: unknown;
    try {
      heap.realloc(a, 60_000);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OutOfMemoryError);
    expect((err as OutOfMemoryError).requested).toBe(60_000);
    expect(snapshot(heap)).toBe(before);
    expect(heap.usableSize(a)).toBe(30_000);
  });
});

describe('TLSF: bad input gets a typed error and leaves the heap unchanged', () => {
  const live = () => {
    const s = setup();
    const a = s.heap.alloc(1000);
    const b = s.heap.alloc(1000);
    const c = s.heap.alloc(64);
    return { ...s, a, b, c };
  };

  it.each([0, -1, 1.5, NaN, Infinity, -Infinity, 65521, 2 ** 32])('alloc(%s) throws InvalidArgumentError', (n) => {
    const { heap, a } = live();
    const before = snapshot(heap);
    expect(() => heap.alloc(n)).toThrow(InvalidArgumentError);
    expect(() => heap.realloc(a, n)).toThrow(InvalidArgumentError);
    expect(snapshot(heap)).toBe(before);
  });

  it('a non-number size throws InvalidArgumentError', () => {
    const { heap } = live();
    expect(() => heap.alloc('8' as unknown as number)).toThrow(InvalidArgumentError);
  });

  it('free, realloc and usableSize of never-allocated, interior, misaligned, wild addresses throw InvalidFreeError (non-addresses InvalidArgumentError)', () => {
    const { heap, a, b, c } = live();
    const before = snapshot(heap);
    const bad = [
      0,
      a + 8,
      a + 1,
      a + 1000,
      b - 8,
      c + 64,
      c + 1000, // tail of the chunk: free, never allocated
      heap.region + 64, // the control region
      heap.buddy.base + (1 << 20), // past the end
    ];
    // Not addresses at all: the argument gate refuses them, naming `addr`.
    for (const addr of [-8, 1.5, NaN, Infinity, 2 ** 40]) {
      for (const op of [
        () => heap.free(addr),
        () => heap.realloc(addr, 10),
        () => heap.usableSize(addr),
        () => heap.isAllocated(addr),
      ]) {
        let err: unknown;
        try {
          op();
        } catch (e) {
          err = e;
        }
        expect(err, `address ${addr}`).toBeInstanceOf(InvalidArgumentError);
        expect((err as InvalidArgumentError).argument).toBe('addr');
      }
    }
    for (const addr of bad) {
      for (const op of [() => heap.free(addr), () => heap.realloc(addr, 10), () => heap.usableSize(addr)]) {
        let err: unknown;
        try {
          op();
        } catch (e) {
          err = e;
        }
        expect(err, `address ${addr}`).toBeInstanceOf(InvalidFreeError);
        expect(err, `address ${addr}`).not.toBeInstanceOf(DoubleFreeError);
      }
      expect(heap.isAllocated(addr)).toBe(false);
    }
    expect(snapshot(heap)).toBe(before);
  });

  it('an interior pointer into a block filled with header-like words is still rejected (keyed tags)', () => {
    const { heap, a } = live();
    // Every word 64: an unkeyed size/prevSize check would take a + 64 for a 64-byte block.
    new Uint32Array(heap.bytes.buffer, a, 250).fill(64);
    const before = snapshot(heap);
    for (let off = 8; off < 1000; off += 8) expect(() => heap.free(a + off)).toThrow(InvalidFreeError);
    expect(snapshot(heap)).toBe(before);
  });

  it('free twice throws DoubleFreeError, also after the block merged with a free neighbour', () => {
    const { heap, a, b } = live(); // [rest | c | b | a | sentinel]
    heap.free(b);
    let before = snapshot(heap);
    expect(() => heap.free(b)).toThrow(DoubleFreeError);
    expect(() => heap.realloc(b, 5)).toThrow(DoubleFreeError);
    expect(snapshot(heap)).toBe(before);
    heap.free(a); // a and b merge: b's header is now inside a's free block
    before = snapshot(heap);
    expect(() => heap.free(b)).toThrow(DoubleFreeError);
    expect(() => heap.free(a)).toThrow(DoubleFreeError);
    expect(snapshot(heap)).toBe(before);
    heap.checkInvariants();
  });

  it('free of a block in a chunk given back to the buddy throws InvalidFreeError', () => {
    const { heap } = live();
    const x = heap.alloc(heap.maxSize); // a second chunk
    const y = heap.alloc(heap.maxSize); // a third
    heap.free(x); // the spare
    heap.free(y); // given back
    const before = snapshot(heap);
    expect(() => heap.free(y)).toThrow(InvalidFreeError);
    expect(snapshot(heap)).toBe(before);
  });

  it('OutOfMemoryError when the buddy has no chunk left; the heap stays usable', () => {
    const { heap } = setup(24, 16);
    const a = heap.alloc(40_000);
    const before = snapshot(heap);
    let err: unknown;
    try {
      heap.alloc(40_000);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OutOfMemoryError);
    expect((err as OutOfMemoryError).requested).toBe(40_000);
    expect(heap.tryAlloc(40_000)).toBe(0); // the same, without an exception
    expect(() => heap.tryAlloc(0)).toThrow(InvalidArgumentError);
    expect(snapshot(heap)).toBe(before);
    heap.free(a);
    expect(heap.alloc(40_000)).toBe(a);
    heap.checkInvariants();
  });

  it('bad options throw InvalidArgumentError', () => {
    const buddy = new BuddyAllocator({ pages: 64 });
    for (const chunkPages of [0, 3, 1.5, 128, -4]) {
      expect(() => new TlsfHeap(buddy, { chunkPages })).toThrow(InvalidArgumentError);
    }
    expect(() => new TlsfHeap(new BuddyAllocator({ pages: 64, offsetsOnly: true }))).toThrow(InvalidArgumentError);
  });
});

describe('TlsfHeap fast paths', () => {
  it('HotTlsf (the literals the hot paths compile to) matches layout.ts', async () => {
    const L = await import('../../src/tlsf/layout.js');
    const { HotTlsf } = await import('../../src/tlsf/tlsf.js');
    const hot: Record<string, number> = {
      BLOCK_HEADER_BYTES: HotTlsf.BLOCK_HEADER_BYTES,
      BH_TAG: HotTlsf.BH_TAG,
      BH_NEXT_FREE: HotTlsf.BH_NEXT_FREE,
      BH_PREV_FREE: HotTlsf.BH_PREV_FREE,
      FREE: HotTlsf.FREE,
      PREV_FREE: HotTlsf.PREV_FREE,
      SIZE_MASK: HotTlsf.SIZE_MASK,
      MIN_BLOCK: HotTlsf.MIN_BLOCK,
      SL_BITS: HotTlsf.SL_BITS,
      SL_COUNT: HotTlsf.SL_COUNT,
      SB_SHIFT: HotTlsf.SB_SHIFT,
      SB_SIZE: HotTlsf.SB_SIZE,
      FL_COUNT: HotTlsf.FL_COUNT,
      T_FL_MAP: HotTlsf.T_FL_MAP,
      T_SPARE: HotTlsf.T_SPARE,
      T_USED_BLOCKS: HotTlsf.T_USED_BLOCKS,
      T_USED_BYTES: HotTlsf.T_USED_BYTES,
      T_SL_MAPS: HotTlsf.T_SL_MAPS,
      T_HEADS: HotTlsf.T_HEADS,
      T_CHUNK_MAP: HotTlsf.T_CHUNK_MAP,
      QUICK: HotTlsf.QUICK,
      T_Q_BYTES: HotTlsf.T_Q_BYTES,
      Q_FL: HotTlsf.Q_FL,
      Q_MAX: HotTlsf.Q_MAX,
      Q_DEPTH: HotTlsf.Q_DEPTH,
    };
    for (const [name, value] of Object.entries(hot)) expect(value, name).toBe((L as Record<string, unknown>)[name]);
  });
});
