/**
 * Kmalloc's per-worker path against a model, in one thread: several
 * instances over one shared memory (each attach is a worker slot with pages
 * of its own), random allocs by any of them, frees and reallocs of any
 * block by any of them (remote frees: thread_free lists, FULL pages handed
 * back through reclaim), detaches and new joins between ops (abandoned pages,
 * adopted later), workers that die between ops (Kmalloc.recover hands their
 * pages over). After each step: checkInvariants (lists,
 * cur tables, reclaim and abandoned lists), no overlap,
 * payloads intact; a freed block is not live and a second free of it (by
 * another instance) is a DoubleFreeError; at the end everything freed and
 * shrunk is a fresh heap.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DoubleFreeError, InvalidFreeError, Kmalloc, Memory, SlabSpace } from '../../src/index.js';
import { P_INFO, infoOwner } from '../../src/slab/layout.js';
import { H_WORKERS, HeaderSlot, readSlot } from '../../src/memory/header.js';
import { LiveBlocks, checkEnds, fillEnds, runs } from '../support/fuzz.js';

const WORKERS = 3;
// Few sizes, so class pages fill up (512 B: 8 a page) and FULL pages get remote frees.
// 3000 .. 33 000: the medium tier (a TLSF heap per worker slot) with maxClass 64 / 512 / 4096; 20 000 and 70 000: whole pages.
const sizeArb = fc.constantFrom(1, 8, 24, 64, 100, 200, 512, 3000, 5000, 9000, 20_000, 33_000, 70_000);
type Op =
  | { kind: 'a'; who: number; size: number }
  | { kind: 'f'; who: number; pick: number }
  | { kind: 'r'; who: number; pick: number; size: number }
  | { kind: 'd'; who: number }
  | { kind: 'x'; who: number }
  | { kind: 's'; who: number };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('a' as const), who: fc.nat(WORKERS - 1), size: sizeArb }) },
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('f' as const), who: fc.nat(WORKERS - 1), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('r' as const), who: fc.nat(WORKERS - 1), pick: fc.nat(), size: sizeArb }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('d' as const), who: fc.integer({ min: 1, max: WORKERS - 1 }) }),
  },
  // A worker that dies between operations (no detach): Kmalloc.recover hands its pages over.
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('x' as const), who: fc.integer({ min: 1, max: WORKERS - 1 }) }),
  },
  // shrink by any worker mid-run (its current pages' curFree lists go back to them first), then
  // every instance must report exactly the live blocks (none of a curFree list among them).
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('s' as const), who: fc.nat(WORKERS - 1) }) },
);

describe('Kmalloc, many instances on one shared memory, against a model', () => {
  it('remote frees, FULL pages refilled by them, detach, join and shrink: invariants after every op, no overlap, all freed = fresh', () => {
    let ops = 0;
    let remote = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(64, 512, 4096),
        fc.array(opArb, { minLength: 50, maxLength: 400 }),
        (maxClass, script) => {
          const memory = Memory.create({ bytes: 8 << 20, shared: true });
          const k0 = new Kmalloc({ memory, maxClass });
          const ks: Kmalloc[] = [k0];
          for (let i = 1; i < WORKERS; i++) ks.push(Kmalloc.attach(Memory.wrap(memory.buffer)));
          const owner = new Map<number, number>(); // block -> the instance that allocated it
          const live = new LiveBlocks();
          const addrs: number[] = [];
          const sizes = new Map<number, number>();
          let id = 0;
          for (const op of script) {
            ops++;
            const k = ks[op.who]!;
            if (op.kind === 'd') {
              k.detach();
              ks[op.who] = Kmalloc.attach(Memory.wrap(memory.buffer));
            } else if (op.kind === 'x') {
              Kmalloc.recover(memory, k.workerSlot); // k is never used again
              k0.checkInvariants(); // with the slot free: its queues and reclaim list are empty
              ks[op.who] = Kmalloc.attach(Memory.wrap(memory.buffer));
            } else if (op.kind === 's') {
              k.shrink();
              let blocks = 0;
              ks[(op.who + 1) % WORKERS]!.forEachBlock(() => blocks++);
              expect(blocks).toBe(addrs.length);
            } else if (op.kind === 'a' || addrs.length === 0) {
              const size = op.kind === 'a' ? op.size : 8;
              const a = k.alloc(size);
              expect(k.usableSize(a)).toBeGreaterThanOrEqual(size);
              live.add(a, size, (id += 2));
              fillEnds(k0.bytes, a, size, id);
              addrs.push(a);
              sizes.set(a, size);
              owner.set(a, op.who);
            } else {
              const i = op.pick % addrs.length;
              const a = addrs[i]!;
              const old = sizes.get(a)!;
              const blk = live.remove(a);
              expect(checkEnds(k0.bytes, a, old, blk.id)).toBe('');
              if (owner.get(a) !== op.who) remote++;
              sizes.delete(a);
              owner.delete(a);
              if (op.kind === 'f') {
                addrs[i] = addrs[addrs.length - 1]!;
                addrs.pop();
                k.free(a);
                // A double free is told as one, unless that free emptied a TLSF chunk (or page) that went
                // back to the buddy: then the address is in free pages, as a wild one would be.
                const pg = Math.floor((a - k0.buddy.base) / k0.buddy.pageSize);
                const gone = infoOwner(k0.memory.u32[SlabSpace.of(k0.buddy).descriptor(pg) + P_INFO]!) === 0;
                const second = (): void => ks[(op.who + 1) % WORKERS]!.free(a);
                if (gone) expect(second).toThrow(InvalidFreeError);
                else {
                  expect(second).toThrow(DoubleFreeError);
                  // Not live once freed, by any instance.
                  expect(k0.isAllocated(a)).toBe(false);
                }
              } else {
                const b = k.realloc(a, op.size);
                addrs[i] = b;
                sizes.set(b, op.size);
                owner.set(b, op.who);
                live.add(b, op.size, (id += 2));
                fillEnds(k0.bytes, b, op.size, id);
              }
            }
            k0.checkInvariants();
          }
          for (const a of addrs) ks[a % WORKERS]!.free(a);
          for (let i = 1; i < WORKERS; i++) ks[i]!.detach();
          k0.checkInvariants();
          let blocks = 0;
          k0.forEachBlock(() => blocks++);
          expect(blocks).toBe(0);
          k0.shrink();
          k0.checkInvariants();
          expect(k0.footprint()).toBe(0);
        },
      ),
      { numRuns: runs(80), endOnFailure: true },
    );
    expect(ops).toBeGreaterThan(4_000);
    expect(remote).toBeGreaterThan(1_000);
  });
});

describe('Kmalloc attach and detach on a shared memory: one worker slot each, given back', () => {
  it('an attach takes exactly one slot (its buddy and TLSF heap share it) and detach frees it, 100 times over', () => {
    const memory = Memory.create({ bytes: 4 << 20, shared: true });
    const maker = new Kmalloc({ memory });
    const before = memory.u32[H_WORKERS]!;
    for (let i = 0; i < 100; i++) {
      const k = Kmalloc.attach(memory);
      expect(memory.u32[H_WORKERS]).toBe(before | (1 << 1)); // slot 1 each time: nothing leaked
      k.kfree(k.kmalloc(100 + i));
      k.kfree(k.kmalloc(5000)); // the TLSF tier and the buddy, in this slot's name
      k.detach();
      expect(memory.u32[H_WORKERS]).toBe(before);
    }
    maker.checkInvariants();
  });

  it('recover breaks the buddy lock a dead worker held, so the heap does not hang', () => {
    const memory = Memory.create({ bytes: 4 << 20, shared: true });
    const maker = new Kmalloc({ memory });
    const dead = Kmalloc.attach(memory);
    const slot = 31 - Math.clz32(memory.u32[H_WORKERS]! & ~1);
    const buddyLock = readSlot(memory, HeaderSlot.Buddy) >>> 2; // word 0 (B_LOCK) of the buddy's control block
    expect(Atomics.compareExchange(memory.i32, buddyLock, 0, slot + 1)).toBe(0); // as if it died in a refill
    void dead;
    Kmalloc.recover(memory, slot);
    expect(memory.i32[buddyLock]).toBe(0);
    maker.kfree(maker.kmalloc(1 << 16)); // a large block: through the buddy lock
    maker.checkInvariants();
  });
});

describe('Kmalloc.pageOwner and workerSlot', () => {
  it('name the slot whose own class page holds a block, -1 for other tiers and abandoned pages', () => {
    const memory = Memory.create({ bytes: 4 << 20, shared: true });
    const maker = new Kmalloc({ memory });
    const a = Kmalloc.attach(memory);
    const b = Kmalloc.attach(memory);
    expect([maker.workerSlot, a.workerSlot, b.workerSlot]).toEqual([0, 1, 2]);
    const pa = a.kmalloc(40);
    const pb = b.kmalloc(40);
    const pm = maker.kmalloc(40);
    expect([maker.pageOwner(pa), maker.pageOwner(pb), a.pageOwner(pm)]).toEqual([1, 2, 0]);
    expect(maker.pageOwner(pa + 8)).toBe(1); // any address on the page
    const medium = a.kmalloc(5000);
    const large = a.kmalloc(200_000);
    expect([maker.pageOwner(medium), maker.pageOwner(large), maker.pageOwner(0), maker.pageOwner(2 ** 32 - 1)]).toEqual(
      [-1, -1, -1, -1],
    );
    b.detach(); // pb stays live: its page is abandoned until a worker adopts it
    expect(maker.pageOwner(pb)).toBe(-1);
    for (const p of [pa, pb, pm, medium, large]) maker.kfree(p);
    a.detach();
    maker.shrink();
    maker.checkInvariants();
    expect(() => maker.pageOwner(-1)).toThrow(/addr/);
    expect(() => maker.pageOwner(1.5)).toThrow(/addr/);
  });

  it('is 0 for every class page of an unshared heap', () => {
    const k = new Kmalloc({ bytes: 1 << 20 });
    expect(k.workerSlot).toBe(0);
    for (const size of [1, 8, 64]) expect(k.pageOwner(k.kmalloc(size))).toBe(0);
  });
});

describe('Kmalloc on a shared heap keeps one empty page per class as a spare', () => {
  // The blocks grouped by the class page they are on (the pages of kmalloc-512, from its cache view).
  const pagesOf = (k: Kmalloc, blocks: number[]): number[][] => {
    const starts: number[] = [];
    k.caches.find((c) => c.size === 512)!.forEachSlab((addr) => starts.push(addr));
    starts.sort((x, y) => x - y);
    const pages = new Map<number, number[]>();
    for (const p of blocks) {
      const start = starts.filter((s) => s <= p).at(-1)!;
      pages.set(start, [...(pages.get(start) ?? []), p]);
    }
    return [...pages.values()];
  };

  for (const shared of [true, false]) {
    it(`${shared ? 'shared: the first page that empties stays, the second goes back' : 'unshared: an emptied page goes back at once'}; invariants hold`, () => {
      const memory = Memory.create({ bytes: 8 << 20, shared });
      const k = new Kmalloc({ memory, maxClass: 512 });
      const pages = pagesOf(
        k,
        Array.from({ length: 400 }, () => k.kmalloc(512)),
      );
      expect(pages.length).toBeGreaterThanOrEqual(4);
      const f0 = k.footprint();
      for (const p of pages[0]!) k.kfree(p);
      k.checkInvariants();
      if (shared)
        expect(k.footprint()).toBe(f0); // kept: the spare
      else expect(k.footprint()).toBeLessThan(f0);
      const f1 = k.footprint();
      for (const p of pages[1]!) k.kfree(p);
      k.checkInvariants();
      expect(k.footprint()).toBeLessThan(f1); // a second empty page is given back
      if (shared) {
        // The spare is used again before the buddy is asked: refilling one page's worth costs no footprint.
        const f2 = k.footprint();
        const again = Array.from({ length: pages[0]!.length }, () => k.kmalloc(512));
        expect(k.footprint()).toBe(f2);
        for (const p of again) k.kfree(p);
      }
      for (const pg of pages.slice(2)) for (const p of pg) k.kfree(p);
      k.shrink();
      k.checkInvariants();
    });
  }
});
