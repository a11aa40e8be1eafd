/**
 * free merges a block with its buddy when the buddy's info byte says "free,
 * this order". An allocated buddy whose info byte was damaged into that was
 * merged (until the twentieth session): unlinked through its length word, and
 * handed out again inside the merged block while its owner still had it.
 * Now the buddy must also be on its list (its prev, or the list's head, and
 * its next link back to it: glibc's safe unlink), or it is left alone.
 */
import { describe, expect, it } from 'vitest';
import { BuddyAllocator, DoubleFreeError, InvalidFreeError } from '../../src/index.js';
import { INFO_FREE } from '../../src/buddy/layout.js';

describe('BuddyAllocator: an allocated buddy whose info byte reads free is not merged', () => {
  for (const order of [0, 1, 3]) {
    it(`order ${order}`, () => {
      const buddy = new BuddyAllocator({ pages: 64 });
      const a = buddy.allocPages(1 << order);
      const b = buddy.allocPages(1 << order); // a's buddy
      const pb = (b - buddy.base) / buddy.pageSize;
      expect(pb).toBe(((a - buddy.base) / buddy.pageSize) ^ (1 << order));
      buddy.memory!.u8.fill(9, b, b + (buddy.pageSize << order));
      buddy.memory!.u8[buddy.info + pb] = INFO_FREE | order; // damaged: "free, this order"
      buddy.free(a);
      // Every block the buddy hands out now lies outside b.
      const got: number[] = [];
      for (;;) {
        try {
          got.push(buddy.allocPages(1));
        } catch {
          break;
        }
      }
      for (const p of got) expect(p >= b && p < b + (buddy.pageSize << order)).toBe(false);
      expect(buddy.memory!.u8.subarray(b, b + (buddy.pageSize << order)).every((v) => v === 9)).toBe(true);
      // Its owner's free is told the damage, typed.
      let err: unknown;
      try {
        buddy.free(b);
      } catch (e) {
        err = e;
      }
      expect(err instanceof InvalidFreeError || err instanceof DoubleFreeError).toBe(true);
    });
  }
});
