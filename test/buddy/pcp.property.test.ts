/**
 * The buddy's per-worker page lists against a model (fast-check): on one
 * shared Memory, the maker (slot 0, no lists) and up to three attached
 * instances (a slot and lists each) in one thread; random allocations by
 * any (mostly 1 and 2 pages, so the lists fill and empty), frees by the
 * instance that allocated the block or by any other (the page lands on the
 * freeing worker's list), drains, detaches and new joins. After every step:
 * checkInvariants() (which walks every worker's lists), no overlap, payloads
 * intact, the counters as the model says (used pages and blocks, free pages
 * = pages - used, cached pages = what the table says and at most high +
 * batch a worker). At the end, everything freed and detached is the fresh
 * buddy.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BuddyAllocator, Memory, OutOfMemoryError } from '../../src/index.js';
import { B_PCP_OFF, PCP_WORDS } from '../../src/buddy/layout.js';
import { HeaderSlot, readSlot } from '../../src/memory/header.js';
import { LiveBlocks, checkPattern, fillPattern, runs } from '../support/fuzz.js';

type Op =
  | { kind: 'alloc'; who: number; n: number; exact: boolean }
  | { kind: 'free'; who: number; pick: number }
  | { kind: 'drain'; who: number }
  | { kind: 'detach'; who: number }
  | { kind: 'join' };

const who = fc.integer({ min: 0, max: 3 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('alloc' as const),
      who,
      n: fc.oneof(
        { weight: 6, arbitrary: fc.integer({ min: 1, max: 2 }) },
        { weight: 1, arbitrary: fc.integer({ min: 3, max: 16 }) },
      ),
      exact: fc.boolean(),
    }),
  },
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('free' as const), who, pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drain' as const), who }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('detach' as const), who }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('join' as const) }) },
);

describe('per-worker page lists against a model', () => {
  it('cross-worker order-0/1 traffic: lists fill and drain, counts exact, all freed and detached = fresh', () => {
    let steps = 0;
    let crossFrees = 0;
    let peakCached = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 16, max: 96 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(opArb, { minLength: 100, maxLength: 400 }),
        (pages, high, batchWant, script) => {
          const batch = Math.min(batchWant, high);
          const pageSize = 256;
          const memory = Memory.create({ bytes: 64 + 4096 + (pages + 2) * pageSize * 2, shared: true });
          const maker = new BuddyAllocator({ memory, pages, pageSize, maxPages: pages, pcp: { high, batch } });
          const fresh = maker.freeCounts();
          const table = memory.u32[(readSlot(memory, HeaderSlot.Buddy) >>> 2) + B_PCP_OFF]! >>> 2;
          const held = (slot: number): number =>
            memory.i32[table + slot * PCP_WORDS + 1]! + 2 * memory.i32[table + slot * PCP_WORDS + 3]!;
          const inst: (BuddyAllocator | null)[] = [maker, BuddyAllocator.attach(memory), null, null];
          const live = new LiveBlocks();
          const owner = new Map<number, { pages: number; by: number; id: number }>();
          const order: number[] = [];
          let id = 0;
          let usedPages = 0;
          const check = (): void => {
            maker.checkInvariants();
            const s = maker.stats();
            expect(s.usedPages).toBe(usedPages);
            expect(s.usedBlocks).toBe(order.length);
            expect(s.freePages).toBe(pages - usedPages);
            let cached = 0;
            for (let slot = 0; slot < 32; slot++) {
              const h = held(slot);
              expect(h).toBeLessThanOrEqual(slot === 0 ? 0 : high + batch);
              cached += h;
            }
            expect(s.cachedPages).toBe(cached);
            peakCached = Math.max(peakCached, cached);
            expect(maker.freeCounts().reduce((t, c, k) => t + c * 2 ** k, 0)).toBe(pages - usedPages - cached);
          };
          for (const op of script) {
            steps++;
            if (op.kind === 'join') {
              const at = inst.indexOf(null);
              if (at >= 0) inst[at] = BuddyAllocator.attach(memory);
            } else if (op.kind === 'detach' || op.kind === 'drain') {
              const b = inst[op.who];
              if (!b || op.who === 0) continue;
              if (op.kind === 'drain') b.drain();
              else {
                b.detach();
                inst[op.who] = null;
              }
              expect(held(b.slot)).toBe(0);
            } else if (op.kind === 'alloc') {
              const b = inst[op.who];
              if (!b) continue;
              const before = maker.stats();
              let addr: number;
              try {
                addr = op.exact ? b.allocPagesExact(op.n) : b.allocPages(op.n);
              } catch (e) {
                expect(e).toBeInstanceOf(OutOfMemoryError);
                const after = maker.stats();
                expect([after.freePages, after.usedBlocks]).toEqual([before.freePages, before.usedBlocks]);
                check();
                continue;
              }
              const n = op.exact ? op.n : 2 ** Math.ceil(Math.log2(op.n));
              expect(maker.blockPages(addr)).toBe(n);
              const rel = (addr - maker.base) / pageSize;
              expect(rel % 2 ** Math.ceil(Math.log2(op.n))).toBe(0);
              expect(rel + n).toBeLessThanOrEqual(maker.pages);
              live.add(addr, n * pageSize, ++id);
              fillPattern(memory.u8, addr, n * pageSize, id);
              owner.set(addr, { pages: n, by: op.who, id });
              order.push(addr);
              usedPages += n;
            } else {
              const b = inst[op.who];
              if (!b || order.length === 0) continue;
              const addr = order.splice(op.pick % order.length, 1)[0]!;
              const o = owner.get(addr)!;
              expect(checkPattern(memory.u8, addr, o.pages * pageSize, o.id)).toBe(-1);
              if (o.by !== op.who) crossFrees++;
              b.free(addr);
              live.remove(addr);
              owner.delete(addr);
              usedPages -= o.pages;
            }
            check();
          }
          for (const addr of order) {
            const o = owner.get(addr)!;
            expect(checkPattern(memory.u8, addr, o.pages * pageSize, o.id)).toBe(-1);
            (inst[1] ?? maker).free(addr);
          }
          for (let i = 1; i < 4; i++) inst[i]?.detach();
          maker.checkInvariants();
          expect(maker.stats().cachedPages).toBe(0);
          expect(maker.freeCounts()).toEqual(fresh);
        },
      ),
      { numRuns: runs(60) },
    );
    // the runs did what they are for
    expect(steps).toBeGreaterThan(5000);
    expect(crossFrees).toBeGreaterThan(500);
    expect(peakCached).toBeGreaterThan(4);
  });
});
