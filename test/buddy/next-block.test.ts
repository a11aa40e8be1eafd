/**
 * BuddyAllocator.nextBlock(n), the address allocPages(n) would hand out now
 * (TlsfHeap checks the chunk below that one before it asks the buddy for a
 * chunk): equal to allocPages' answer whenever it names one, over random
 * allocs and frees of 1..40 pages, on a memory of its own and an offsets-only
 * space; -1 exactly when the free lists hold no block large enough.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BuddyAllocator } from '../../src/index.js';
import { runs } from '../support/fuzz.js';

describe('BuddyAllocator.nextBlock', () => {
  for (const offsetsOnly of [false, true])
    it(`names the block allocPages hands out next (${offsetsOnly ? 'offsets-only' : 'memory-backed'})`, () => {
      fc.assert(
        fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 40 })), { maxLength: 200 }), (ops) => {
          const buddy = new BuddyAllocator({ pages: 256, offsetsOnly });
          const live: number[] = [];
          for (const [alloc, n] of ops) {
            if (alloc || live.length === 0) {
              const next = buddy.nextBlock(n);
              let got = -1;
              try {
                got = buddy.allocPages(n);
              } catch {
                expect(next).toBe(-1); // no block large enough: nothing named
                continue;
              }
              expect(next).toBe(got);
              live.push(got);
            } else {
              buddy.free(live.splice(n % live.length, 1)[0]!);
            }
          }
          buddy.checkInvariants();
        }),
        { numRuns: runs(300) },
      );
    });

  it('refuses what allocPages refuses: -1, nothing changed', () => {
    const buddy = new BuddyAllocator({ pages: 16 });
    for (const n of [0, -1, 1.5, Number.NaN, 2 ** 31, 17]) expect(buddy.nextBlock(n)).toBe(-1);
    expect(buddy.stats().freePages).toBe(16);
  });
});
