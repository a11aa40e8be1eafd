import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BuddyAllocator, OutOfMemoryError, SlabCache } from '../../src/index.js';
import { LiveBlocks, SOAK, checkEnds, fillEnds, runs } from '../support/fuzz.js';

const freeLists = (b: BuddyAllocator) => JSON.stringify(b.freeCounts());

describe('SlabCache against a model', () => {
  it(
    'no overlap, aligned, inside its slabs, payload intact; free all + shrink gives every page back',
    () => {
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
    },
    SOAK ? 1_800_000 : 120_000,
  );
});

describe('slab caches and a TLSF heap on a 3 GiB heap, against a shadow model', () => {
  it(
    'every block above 2 GiB, inside the buffer, no overlap, payload intact; all freed gives the initial state',
    async () => {
      const { TlsfHeap } = await import('../../src/index.js');
      // The 3 GiB ArrayBuffer is reserved, not touched: only the pages written cost memory.
      const buddy = new BuddyAllocator({ pages: 3 * 2 ** 18 });
      const blocks = [0, 1, 2].map(() => buddy.allocPages(2 ** 18));
      const top = Math.max(...blocks);
      buddy.free(top); // everything below comes from the top 1 GiB, above 2 GiB
      const caches = [8, 24, 96, 500, 2048].map(
        (size) => new SlabCache(buddy, { name: `big-${size}`, size, debug: size === 96 }),
      );
      const heap = new TlsfHeap(buddy, { chunkPages: 16 });
      const initial = freeLists(buddy);
      const u8 = buddy.memory!.u8;
      const len = buddy.memory!.buffer.byteLength;
      const live = new Map<number, { len: number; id: number; owner: number }>();
      const order: number[] = [];
      let seed = 42;
      const rnd = () => {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        return seed / 2 ** 32;
      };
      const ops = runs(20000); // 400k in the soak
      for (let i = 0; i < ops; i++) {
        if (rnd() < 0.55 || order.length === 0) {
          const owner = Math.floor(rnd() * (caches.length + 1));
          const size = owner < caches.length ? caches[owner]!.size : 1 + Math.floor(rnd() * 6000);
          const a = owner < caches.length ? caches[owner]!.alloc() : heap.alloc(size);
          expect(a > 2 ** 31 && a + size <= len, `block ${a} of ${size}`).toBe(true);
          const prev = live.get(a);
          if (prev !== undefined) throw new Error(`${a} handed out twice`);
          live.set(a, { len: size, id: i, owner });
          order.push(a);
          fillEnds(u8, a, size, i);
        } else {
          const k = Math.floor(rnd() * order.length);
          const a = order[k]!;
          order[k] = order[order.length - 1]!;
          order.pop();
          const b = live.get(a)!;
          live.delete(a);
          const damage = checkEnds(u8, a, b.len, b.id);
          if (damage !== '') throw new Error(damage);
          if (b.owner < caches.length) caches[b.owner]!.free(a);
          else heap.free(a);
        }
        if (i % Math.max(5000, Math.floor(ops / 20)) === 0) {
          for (const c of caches) c.checkInvariants();
          heap.checkInvariants();
          // No overlap: the live blocks, sorted, do not cross.
          const sorted = [...live.entries()].sort((x, y) => x[0] - y[0]);
          for (let j = 1; j < sorted.length; j++)
            expect(sorted[j - 1]![0] + sorted[j - 1]![1].len).toBeLessThanOrEqual(sorted[j]![0]);
        }
      }
      for (const a of order) {
        const b = live.get(a)!;
        if (b.owner < caches.length) caches[b.owner]!.free(a);
        else heap.free(a);
      }
      for (const c of caches) {
        c.checkInvariants();
        expect(c.stats().activeObjects).toBe(0);
        c.shrink();
      }
      heap.shrink();
      heap.checkInvariants();
      expect(freeLists(buddy)).toBe(initial);
    },
    SOAK ? 1_800_000 : 120_000,
  );
});

describe('SlabCache.attach on damaged copies (the attach fuzzer; 20k cases in npm run fuzz)', () => {
  it(
    'a typed error or a sound heap, never a hang (a hang watchdog per case)',
    async () => {
      const { runAttachFuzz } = await import('./attach-fuzz.js');
      const report = await runAttachFuzz('slab', 99, runs(100, 200));
      expect(report.failures).toEqual([]);
      expect(report.typed + report.usable).toBe(runs(100, 200));
    },
    SOAK ? 1_800_000 : 120_000,
  );
});
