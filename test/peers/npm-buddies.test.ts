import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AllocBuddyAdapter, BuddyTreeAdapter, type PageBlockAllocator } from '../../src/peers/npm-buddies.js';
import { InvalidFreeError, OutOfMemoryError } from '../../src/errors/index.js';

const PAGES = 256;
const makers: [string, () => PageBlockAllocator][] = [
  ['alloc (npm)', () => new AllocBuddyAdapter({ pages: PAGES })],
  ['buddy-tree (npm)', () => new BuddyTreeAdapter({ pages: PAGES })],
];

function roundUp(n: number): number {
  return 2 ** Math.ceil(Math.log2(n));
}

describe.each(makers)('%s adapter', (_name, make) => {
  it('replays the lecture walkthrough: A=1, B=2, C=3, D=1 pages', () => {
    const a = make();
    const ps = a.pageSize;
    const A = a.allocPages(1);
    const B = a.allocPages(2);
    const C = a.allocPages(3);
    const D = a.allocPages(1);
    // Both peers keep the lower half and hand out blocks aligned to their size.
    expect([A, B, C, D].map((x) => x / ps).sort((x, y) => x - y)).toEqual([0, 1, 2, 4]);
    for (const x of [D, A, C, B]) a.free(x);
    expect(a.allocPages(PAGES)).toBe(0); // everything coalesced back
  });

  it('property: blocks are size-aligned, in bounds, disjoint; all-freed coalesces', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 16 }), { minLength: 1, maxLength: 40 }),
        fc.nat(),
        (sizes, seed) => {
          const a = make();
          const live: [number, number][] = [];
          for (const n of sizes) {
            const bytes = roundUp(n) * a.pageSize;
            const addr = a.allocPages(n);
            expect(addr % bytes).toBe(0);
            expect(addr + bytes).toBeLessThanOrEqual(a.pages * a.pageSize);
            for (const [q, qb] of live) expect(addr + bytes <= q || q + qb <= addr).toBe(true);
            live.push([addr, bytes]);
          }
          let s = seed;
          while (live.length > 0) {
            s = (s * 1103515245 + 12345) >>> 0;
            const [[addr]] = live.splice(s % live.length, 1) as [[number, number]];
            a.free(addr);
          }
          a.free(a.allocPages(PAGES));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('throws OutOfMemoryError when no block fits', () => {
    const a = make();
    expect(() => a.allocPages(PAGES + 1)).toThrow(OutOfMemoryError);
  });

  it('throws InvalidFreeError for a misaligned address', () => {
    const a = make();
    const x = a.allocPages(1);
    expect(() => a.free(x + 1)).toThrow(InvalidFreeError);
    a.free(x);
  });
});
