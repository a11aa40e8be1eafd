/**
 * A damaged free-list link met by free, alloc, an in-place realloc or a flush
 * of the quick lists:
 * the call throws HeapCorruptionError and the buffer is byte for byte as it
 * was (every link a call writes through is checked before its first write).
 * live-damage.test.ts checks the same of random damage, for free; these are
 * the cases one by one.
 */
import { describe, expect, it } from 'vitest';
import { BuddyAllocator, HeapCorruptionError, TlsfHeap } from '../../src/index.js';
import {
  BH_NEXT_FREE,
  BH_PREV_FREE,
  FL_COUNT,
  SL_COUNT,
  T_HEADS,
  T_Q_BYTES,
  T_SL_MAPS,
  T_SPARE,
} from '../../src/tlsf/layout.js';

/** A heap with 40 blocks of `size` bytes in use, and a foreign buddy block. */
function striped(size: number, quickBytes = 0, chunkPages = 4) {
  const buddy = new BuddyAllocator({ pages: 256 });
  const heap = new TlsfHeap(buddy, { chunkPages, quickBytes });
  const blocks: number[] = [];
  for (let i = 0; i < 40; i++) blocks.push(heap.alloc(size));
  const foreign = buddy.allocPages(1); // an address outside the heap's chunks
  return { heap, blocks, foreign, u32: heap.memory.u32 };
}

/**
 * striped(600) with blocks 2, 4, ..., 38 freed (one list) and free block 12's
 * `link` pointing at a foreign page. Block 12 is on the list, not its head (38
 * is), with a next (10) and a prev (14); 11 and 13 are its used neighbours.
 */
function damagedStripe(link: 'prev' | 'next') {
  const { heap, blocks, foreign, u32 } = striped(600);
  for (let i = 2; i < 40; i += 2) heap.free(blocks[i]!);
  u32[((blocks[12]! - 8) >>> 2) + (link === 'prev' ? BH_PREV_FREE : BH_NEXT_FREE)] = foreign;
  return { heap, blocks };
}

/** Runs `call`, expects HeapCorruptionError, and returns whether the buffer changed. */
function changedBy(heap: TlsfHeap, call: () => void): boolean {
  const before = Buffer.from(heap.memory.u8);
  expect(call).toThrow(HeapCorruptionError);
  return Buffer.compare(before, Buffer.from(heap.memory.u8)) !== 0;
}

describe('TlsfHeap: a damaged link is found before anything is written', () => {
  for (const link of ['prev', 'next'] as const) {
    it(`free merging with a free neighbour whose ${link} link leaves the heap`, () => {
      const { heap, blocks } = damagedStripe(link);
      // Freeing 11 merges with 10 (left) and 12 (right); freeing 13 with 12 (left) and 14.
      expect(changedBy(heap, () => heap.free(blocks[11]!))).toBe(false);
      expect(changedBy(heap, () => heap.free(blocks[13]!))).toBe(false);
    });
  }

  it('realloc shrinking in place, its tail merging with a free neighbour whose link leaves the heap', () => {
    const { heap, blocks } = damagedStripe('prev');
    expect(changedBy(heap, () => heap.realloc(blocks[11]!, 100))).toBe(false);
  });

  it('a flush of the quick lists that would merge a quick block with a free neighbour whose link leaves the heap', () => {
    const { heap, blocks, foreign, u32 } = striped(64, 16 << 10, 16);
    heap.free(blocks[10]!); // no free neighbours: quick-listed
    for (let i = 20; i < 34; i += 2) heap.free(blocks[i]!); // seven more: the list is full (8)
    heap.free(blocks[11]!); // the list full: on a TLSF list (its neighbours are used)
    expect(u32[(blocks[11]! - 8) >>> 2]! & 7).toBe(1); // FREE
    u32[((blocks[11]! - 8) >>> 2) + BH_PREV_FREE] = foreign;
    u32[((blocks[11]! - 8) >>> 2) + BH_NEXT_FREE] = foreign;
    expect(changedBy(heap, () => heap.alloc(heap.maxSize))).toBe(false); // flush (merging 10 with 11), then grow
  });

  it('realloc moving a block whose free neighbour has a link that leaves the heap', () => {
    const { heap, blocks } = damagedStripe('prev');
    // 11 cannot grow in place to 2000 bytes (12 is free but too small, 13 is used): a move,
    // whose free of 11 would merge with 12.
    expect(changedBy(heap, () => heap.realloc(blocks[11]!, 2000))).toBe(false);
  });

  it('alloc whose rest goes on a list whose head word was overwritten', () => {
    const { heap, blocks, foreign, u32 } = striped(600);
    heap.free(blocks[39]!); // merges with the chunk's free end: one large free block
    // Every empty list's head word now names a foreign page (their bitmap bits stay clear,
    // so a push would not follow them, but alloc refuses a damaged word on the list its
    // split's rest goes on before it writes): the rest of the next split goes on one.
    const heads = (heap.region >>> 2) + T_HEADS;
    for (let i = 0; i < FL_COUNT * SL_COUNT; i++) if (u32[heads + i] === 0) u32[heads + i] = foreign;
    expect(changedBy(heap, () => heap.alloc(100))).toBe(false);
  });

  it('a flush of the quick lists (before the heap grows) that meets a damaged quick link', () => {
    const { heap, blocks, foreign, u32 } = striped(64, 16 << 10, 16);
    for (let i = 0; i < 32; i += 4) heap.free(blocks[i]!); // 8, no free neighbours: quick-listed
    // The list's second block links on to a foreign page: the flush must check the whole
    // list before it merges the first block back.
    const first = blocks[28]! - 8; // pushed last: the list's head
    expect(u32[first >>> 2]! & 7).toBe(4); // QUICK (a used block, kept whole)
    const second = u32[(first >>> 2) + BH_NEXT_FREE]!;
    expect(second).toBe(blocks[24]! - 8);
    u32[(second >>> 2) + BH_NEXT_FREE] = foreign;
    expect(changedBy(heap, () => heap.alloc(heap.maxSize))).toBe(false); // no block that large: flush, then grow
  });
});

describe('TlsfHeap: shrink and the quick lists, damaged', () => {
  it('shrink with a spare word naming a chunk in use (its first block holding heap addresses) gives nothing back', () => {
    const { heap, blocks, u32 } = striped(600);
    const spareWord = (heap.region >>> 2) + T_SPARE;
    heap.free(heap.alloc(heap.maxSize)); // a new chunk, emptied: the spare
    expect(u32[spareWord]).not.toBe(0);
    // The chunk of block 0 is in use; its first block's payload holds what a free block's links
    // would (addresses in the heap), as a program's data may.
    const chunk = blocks[0]! - 8;
    u32[(chunk >>> 2) + BH_NEXT_FREE] = blocks[5]!;
    u32[(chunk >>> 2) + BH_PREV_FREE] = blocks[6]!;
    u32[spareWord] = chunk;
    const pages = heap.buddy.freePages;
    expect(changedBy(heap, () => heap.shrink())).toBe(false);
    expect(heap.buddy.freePages).toBe(pages);
  });

  it('shrink whose spare has a damaged link finds it before it flushes the quick lists', () => {
    const { heap, blocks, foreign, u32 } = striped(64, 16 << 10, 4);
    heap.free(heap.alloc(heap.maxSize)); // a second chunk, emptied: the spare
    for (let i = 39; i >= 2; i--) heap.free(blocks[i]!); // each merges with the chunk's free end
    heap.free(blocks[0]!); // its right neighbour (1) is used: quick-listed
    heap.free(blocks[1]!); // merged with the free end: only quick block 0 is live, so shrink flushes
    const spare = u32[(heap.region >>> 2) + T_SPARE]!;
    expect(spare).not.toBe(0);
    expect(u32[(heap.region >>> 2) + T_Q_BYTES]).toBeGreaterThan(0);
    u32[(spare >>> 2) + BH_NEXT_FREE] = foreign;
    expect(changedBy(heap, () => heap.shrink())).toBe(false);
  });

  it('a flush meeting a quick block whose size was damaged gives no chunk of another owner to the buddy', () => {
    const buddy = new BuddyAllocator({ pages: 256 });
    const heap = new TlsfHeap(buddy, { chunkPages: 4, quickBytes: 16 << 10 });
    const blocks: number[] = [];
    for (let i = 0; i < 3; i++) blocks.push(heap.alloc(64));
    heap.free(blocks[1]!); // both neighbours used: quick-listed
    const foreign = buddy.allocPages(4); // the chunk-sized buddy block above the heap's chunk
    const H = blocks[1]! - 8;
    const chunks: number[] = [];
    heap.forEachChunk((a) => chunks.push(a));
    expect(chunks).toEqual([foreign - heap.chunkBytes]); // the heap's one chunk, right below it
    const u32 = heap.memory.u32;
    // Its size now runs past the chunk over the foreign block: merged and cut, the foreign pages
    // would go back to the buddy.
    u32[H >>> 2] = (u32[H >>> 2]! & 7) | (foreign + heap.chunkBytes + 64 - H);
    expect(changedBy(heap, () => heap.alloc(heap.maxSize))).toBe(false); // no block that large: flush, then grow
    expect(buddy.isAllocated(foreign)).toBe(true);
  });

  it('a free whose merged block goes on an empty list whose head word was damaged goes on (push reads no such word)', () => {
    const { heap, blocks, foreign, u32 } = striped(600);
    const heads = (heap.region >>> 2) + T_HEADS;
    const slMaps = (heap.region >>> 2) + T_SL_MAPS;
    heap.free(blocks[10]!);
    // Freeing 11 merges it with 10: 1216 bytes, a list no block is on.
    const hi = heap.listOf(1216);
    expect(u32[slMaps + ((hi - heads) >>> 5)]! & (1 << ((hi - heads) & 31))).toBe(0);
    u32[hi] = foreign;
    heap.free(blocks[11]!);
    expect(u32[hi]).toBe(blocks[10]! - 8);
    expect(() => heap.checkInvariants()).not.toThrow();
  });
});
