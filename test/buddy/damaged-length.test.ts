/**
 * An exact allocation (`allocPagesExact`) keeps its length in pages in its
 * head's links word. Damaged upwards, `free` gave back the pages after the
 * block too, another owner's among them, which the buddy would then hand out
 * again. Now free checks the length against the block's order and its pages
 * (none after the head may head a block) before it writes.
 */
import { describe, expect, it } from 'vitest';
import { BuddyAllocator, HeapCorruptionError } from '../../src/index.js';

describe('BuddyAllocator: an exact allocation whose length word was damaged', () => {
  for (const [n, damaged] of [
    [5, 7], // still within its order (8 pages): the trimmed tail, now someone else's, would go
    [5, 12], // past its order
    [3, 1], // shorter than half its order: not a length an exact allocation has
  ] as const) {
    it(`${n} pages read as ${damaged}: free throws and changes nothing`, () => {
      const buddy = new BuddyAllocator({ pages: 64 });
      buddy.allocPages(1);
      const a = buddy.allocPagesExact(n);
      const other = buddy.allocPages(1); // from the tail the exact allocation gave back
      expect(other).toBe(a + n * buddy.pageSize);
      const p = (a - buddy.base) / buddy.pageSize;
      const i32 = buddy.memory!.i32;
      i32[buddy.links + 2 * p] = damaged;
      const before = Buffer.from(buddy.memory!.u8);
      expect(() => buddy.free(a)).toThrow(HeapCorruptionError);
      expect(Buffer.compare(before, Buffer.from(buddy.memory!.u8))).toBe(0);
      expect(buddy.isAllocated(other)).toBe(true);
      i32[buddy.links + 2 * p] = n; // mended: freed as before
      buddy.free(a);
      buddy.free(other);
      expect(() => buddy.checkInvariants()).not.toThrow();
    });
  }
});
