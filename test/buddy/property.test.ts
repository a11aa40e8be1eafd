import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BuddyAllocator, OutOfMemoryError } from '../../src/index.js';
import { LiveBlocks, checkPattern, fillPattern, runs } from '../support/fuzz.js';

/** One step: allocate n pages (exact or not), or free the i-th live block. */
type Op = { kind: 'alloc'; n: number; exact: boolean } | { kind: 'free'; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('alloc' as const), n: fc.integer({ min: 1, max: 20 }), exact: fc.boolean() }),
  fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }),
);

function freeListsOf(b: BuddyAllocator): string {
  const lists: string[] = [];
  b.forEachBlock((addr, pages, free) => { if (free) lists.push(`${addr}:${pages}`); });
  return lists.join(',');
}

describe('BuddyAllocator against a model', () => {
  it('never overlaps, stays in bounds and aligned, keeps payloads, and returns to its initial free lists', () => {
    let ops = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        fc.constantFrom(64, 256, 4096),
        fc.array(opArb, { minLength: 300, maxLength: 700 }),
        (pages, pageSize, script) => {
          const b = new BuddyAllocator({ pages, pageSize });
          const initial = freeListsOf(b);
          const initialCounts = b.freeCounts();
          const u8 = b.memory!.u8;
          const live = new LiveBlocks();
          const order: number[] = [];
          let id = 0;
          for (const op of script) {
            ops++;
            if (op.kind === 'alloc') {
              let addr: number;
              const before = freeListsOf(b);
              try {
                addr = op.exact ? b.allocPagesExact(op.n) : b.allocPages(op.n);
              } catch (e) {
                expect(e).toBeInstanceOf(OutOfMemoryError);
                expect(freeListsOf(b)).toBe(before); // unchanged after OOM
                continue;
              }
              const blockPages = b.blockPages(addr);
              const size = op.exact ? op.n : 2 ** Math.ceil(Math.log2(op.n));
              expect(blockPages).toBe(size);
              const rel = (addr - b.base) / pageSize;
              expect(Number.isInteger(rel)).toBe(true);
              // aligned to its own size (relative to base), for power-of-two blocks
              const align = 2 ** Math.ceil(Math.log2(op.n));
              expect(rel % align).toBe(0);
              expect(addr + size * pageSize).toBeLessThanOrEqual(b.base + b.pages * pageSize);
              expect(addr).toBeGreaterThan(0);
              live.add(addr, size * pageSize, ++id);
              order.push(addr);
              // write a pattern at both ends of the block (whole-block writes are slow)
              fillPattern(u8, addr, 16, id);
              fillPattern(u8, addr + size * pageSize - 16, 16, id + 1);
            } else if (order.length > 0) {
              const idx = op.pick % order.length;
              const addr = order[idx]!;
              order[idx] = order[order.length - 1]!;
              order.pop();
              const blk = live.remove(addr);
              expect(checkPattern(u8, addr, 16, blk.id)).toBe(-1);
              expect(checkPattern(u8, addr + blk.len - 16, 16, blk.id + 1)).toBe(-1);
              b.free(addr);
            }
            b.checkInvariants();
          }
          for (const addr of order) b.free(addr);
          b.checkInvariants();
          expect(freeListsOf(b)).toBe(initial);
          expect(b.freeCounts()).toEqual(initialCounts);
        },
      ),
      { numRuns: runs(400) },
    );
    expect(ops).toBeGreaterThan(100_000);
  });

  it('offsets-only mode behaves the same with no bytes at all', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.array(opArb, { minLength: 300, maxLength: 1000 }), (pages, script) => {
        const b = new BuddyAllocator({ pages, pageSize: 256, offsetsOnly: true });
        expect(b.memory).toBeNull();
        const initial = freeListsOf(b);
        const live = new LiveBlocks();
        const order: number[] = [];
        for (const op of script) {
          if (op.kind === 'alloc') {
            try {
              const a = b.allocPages(op.n);
              live.add(a, b.blockPages(a) * 256, 0);
              order.push(a);
            } catch (e) {
              expect(e).toBeInstanceOf(OutOfMemoryError);
            }
          } else if (order.length > 0) {
            const a = order.splice(op.pick % order.length, 1)[0]!;
            live.remove(a);
            b.free(a);
          }
        }
        b.checkInvariants();
        for (const a of order) b.free(a);
        expect(freeListsOf(b)).toBe(initial);
      }),
      { numRuns: runs(200) },
    );
  });
});
