import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BuddyAllocator, InvalidArgumentError, Memory, OutOfMemoryError } from '../../src/index.js';
import { LiveBlocks, SOAK, checkEnds, checkPattern, fillEnds, fillPattern, runs } from '../support/fuzz.js';

/** One step: allocate n pages (exact or not), or free the i-th live block. */
type Op = { kind: 'alloc'; n: number; exact: boolean } | { kind: 'free'; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('alloc' as const), n: fc.integer({ min: 1, max: 20 }), exact: fc.boolean() }),
  fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }),
);

function freeListsOf(b: BuddyAllocator): string {
  const lists: string[] = [];
  b.forEachBlock((addr, pages, free) => {
    if (free) lists.push(`${addr}:${pages}`);
  });
  return lists.join(',');
}

describe('BuddyAllocator against a model', () => {
  it(
    'never overlaps, stays in bounds and aligned, keeps payloads, and returns to its initial free lists',
    () => {
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
    },
    SOAK ? 1_800_000 : 120_000,
  ); // the soak runs it 20 times longer

  it(
    'offsets-only mode behaves the same with no bytes at all',
    () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 1000 }),
          fc.array(opArb, { minLength: 300, maxLength: 1000 }),
          (pages, script) => {
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
          },
        ),
        { numRuns: runs(200) },
      );
    },
    SOAK ? 1_800_000 : 120_000,
  );
});

/**
 * Addresses up to 2^32 (issue 10). In `npm test`: offsets-only spaces whose
 * pages end at 2^32 exactly, so block addresses pass 2^31 without a big
 * buffer (the same arithmetic as a memory-backed heap: `addr - base`, page
 * shifts, the free checks). In `npm run fuzz`: a real 3 GiB memory-backed
 * heap with payload checks at both ends of every block.
 */
function modelRun(b: BuddyAllocator, steps: number, seed: number, payload: boolean): { high: number; ops: number } {
  let s = seed >>> 0 || 1;
  const rnd = (n: number): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
  const live = new LiveBlocks();
  const order: number[] = [];
  const initial = b.freeCounts();
  const end = b.base + b.pages * b.pageSize;
  let high = 0;
  let id = 0;
  for (let i = 0; i < steps; i++) {
    if (order.length > 0 && rnd(5) < 2) {
      const addr = order.splice(rnd(order.length), 1)[0]!;
      const blk = live.remove(addr);
      if (payload) expect(checkEnds(b.memory!.u8, addr, blk.len, blk.id)).toBe('');
      b.free(addr);
      expect(b.isAllocated(addr)).toBe(false);
      continue;
    }
    const n = 1 + rnd(1 << rnd(b.maxOrder + 1));
    const exact = rnd(2) === 0;
    let addr: number;
    try {
      addr = exact ? b.allocPagesExact(n) : b.allocPages(n);
    } catch (e) {
      expect(e).toBeInstanceOf(OutOfMemoryError);
      continue;
    }
    const pages = b.blockPages(addr);
    const len = pages * b.pageSize;
    expect(pages).toBe(exact ? n : 2 ** Math.ceil(Math.log2(n)));
    expect(Number.isInteger(addr) && addr >= b.base && addr + len <= end).toBe(true);
    const order2 = Math.ceil(Math.log2(n));
    expect(((addr - b.base) / b.pageSize) % 2 ** order2).toBe(0); // aligned to its block, relative to base
    live.add(addr, len, ++id);
    order.push(addr);
    if (payload) fillEnds(b.memory!.u8, addr, len, id);
    if (addr >= 2 ** 31) high++;
  }
  b.checkInvariants();
  for (const addr of order) {
    const blk = live.remove(addr);
    if (payload) expect(checkEnds(b.memory!.u8, addr, blk.len, blk.id)).toBe('');
    b.free(addr);
  }
  expect(b.freeCounts()).toEqual(initial);
  b.checkInvariants();
  return { high, ops: steps };
}

describe('addresses up to 2^32', () => {
  it('offsets-only, 1 MiB pages ending at 2^32: every path right above 2^31', () => {
    const b = new BuddyAllocator({ offsetsOnly: true, pageSize: 2 ** 20, pages: 2048, base: 2 ** 32 - 2 ** 31 });
    expect(b.base + b.pages * b.pageSize).toBe(2 ** 32);
    const { high } = modelRun(b, runs(3000), 0xab12, false);
    expect(high).toBeGreaterThan(100);
    // the last page of the space, and errors that name addresses past 2^31
    const all = b.allocPages(2048);
    expect(all).toBe(2 ** 31);
    b.free(all);
    const last = b.allocPagesExact(2047);
    const top = b.allocPages(1);
    expect(top).toBe(2 ** 32 - 2 ** 20);
    expect(() => b.free(top + 1)).toThrow(/0xfff00001/);
    expect(() => b.free(2 ** 32)).toThrow(/addr/);
    const twin = BuddyAllocator.attach(Memory.wrap((b.state.buffer as ArrayBuffer).slice(0)));
    expect(twin.blockPages(top)).toBe(1);
    twin.free(top);
    expect(twin.isAllocated(top)).toBe(false);
    b.free(top);
    b.free(last);
    b.checkInvariants();
  });

  it('offsets-only, 1 GiB pages: blocks at 2 GiB and 3 GiB', () => {
    const b = new BuddyAllocator({ offsetsOnly: true, pageSize: 2 ** 30, pages: 4 });
    const blocks = [b.allocPages(1), b.allocPages(1), b.allocPages(1), b.allocPages(1)];
    expect(blocks.sort((x, y) => x - y)).toEqual([0, 2 ** 30, 2 ** 31, 3 * 2 ** 30]);
    expect(b.blockPages(3 * 2 ** 30)).toBe(1);
    b.free(3 * 2 ** 30);
    b.free(2 ** 31);
    expect(b.allocPages(2)).toBe(2 ** 31);
    b.checkInvariants();
  });

  it('a space that would pass 2^32 is refused at construction', () => {
    expect(() => new BuddyAllocator({ offsetsOnly: true, pageSize: 2 ** 20, pages: 2049, base: 2 ** 31 })).toThrow(
      /2\^32/,
    );
    expect(() => new BuddyAllocator({ pages: 2 ** 20, pageSize: 4096 })).toThrow(InvalidArgumentError);
  });

  it.runIf(SOAK)(
    'soak: a real 3 GiB memory-backed heap with the shadow model and payload checks',
    () => {
      const pageSize = 65536;
      const b = new BuddyAllocator({ pages: (3 * 2 ** 30) / pageSize, pageSize });
      expect(b.memory!.byteLength).toBeGreaterThan(3 * 2 ** 30);
      const { high } = modelRun(b, 200_000, Date.now() >>> 0, true);
      expect(high).toBeGreaterThan(1000);
    },
    1_200_000,
  );
});
