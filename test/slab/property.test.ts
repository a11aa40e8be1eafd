import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BuddyAllocator, OutOfMemoryError, SlabCache } from '../../src/index.js';
import { LiveBlocks, checkEnds, fillEnds, runs } from '../support/fuzz.js';

const freeLists = (b: BuddyAllocator) => JSON.stringify(b.freeCounts());

describe('SlabCache against a model', () => {
  it('no overlap, aligned, inside its slabs, payload intact; free all + shrink gives every page back', () => {
    let ops = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3000 }),
        fc.constantFrom(8, 16, 64),
        fc.constantFrom(false, true),
        fc.array(fc.tuple(fc.boolean(), fc.nat()), { minLength: 300, maxLength: 1500 }),
        (size, align, debug, script) => {
          const buddy = new BuddyAllocator({ pages: 128 });
          const cache = new SlabCache(buddy, { name: 'prop', size, align, debug });
          const initial = freeLists(buddy);
          const u8 = buddy.memory!.u8;
          const live = new LiveBlocks();
          const addrs: number[] = [];
          let id = 0;
          for (const [isAlloc, pick] of script) {
            ops++;
            if (isAlloc || addrs.length === 0) {
              let a: number;
              try {
                a = cache.alloc();
              } catch (e) {
                expect(e).toBeInstanceOf(OutOfMemoryError);
                continue;
              }
              expect(a % align).toBe(0);
              expect(a).toBeGreaterThanOrEqual(buddy.base);
              expect(a + size).toBeLessThanOrEqual(buddy.base + buddy.pages * buddy.pageSize);
              live.add(a, size, id + 2);
              fillEnds(u8, a, size, (id += 2));
              addrs.push(a);
            } else {
              const i = pick % addrs.length;
              const a = addrs[i]!;
              addrs[i] = addrs[addrs.length - 1]!;
              addrs.pop();
              const blk = live.remove(a);
              expect(checkEnds(u8, a, size, blk.id)).toBe('');
              cache.free(a);
            }
          }
          const s = cache.stats();
          expect(s.activeObjects).toBe(addrs.length);
          expect(s.partialSlabs + s.fullSlabs + s.emptySlabs).toBe(s.slabs);
          for (const a of addrs) cache.free(a);
          cache.shrink();
          expect(cache.stats().slabs).toBe(0);
          expect(freeLists(buddy)).toBe(initial);
        },
      ),
      { numRuns: runs(250) },
    );
    expect(ops).toBeGreaterThan(100_000);
  });
});
