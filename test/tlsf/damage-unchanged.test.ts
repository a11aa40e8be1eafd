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
import { BH_NEXT_FREE, BH_PREV_FREE, FL_COUNT, SL_COUNT, T_HEADS } from '../../src/tlsf/layout.js';

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
