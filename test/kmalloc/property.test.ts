import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Kmalloc, OutOfMemoryError } from '../../src/index.js';
import { LiveBlocks, checkEnds, checkPattern, fillEnds, runs } from '../support/fuzz.js';

/** Sizes from 1 byte to a few MiB, most of them small (as real programs ask). */
const sizeArb = fc.oneof(
  { weight: 60, arbitrary: fc.integer({ min: 1, max: 256 }) },
  { weight: 30, arbitrary: fc.integer({ min: 257, max: 8192 }) },
  { weight: 8, arbitrary: fc.integer({ min: 8193, max: 200_000 }) },
  { weight: 2, arbitrary: fc.integer({ min: 200_001, max: 3 << 20 }) },
);

type Op = [kind: 'a' | 'f' | 'r', size: number, pick: number];
const opArb: fc.Arbitrary<Op> = fc.tuple(
  fc.constantFrom('a' as const, 'a' as const, 'f' as const, 'r' as const),
  sizeArb,
  fc.nat(),
);

describe('Kmalloc against a model', () => {
  it('mixed sizes 1 B..3 MiB: no overlap, payload intact (also across realloc), shrink returns every page', () => {
    let ops = 0;
    fc.assert(
      fc.property(
        fc.constantFrom<'kernel' | number>('kernel', 4, 8),
        fc.constantFrom(64, 1024),
        fc.constantFrom(0, 0.25, 2),
        fc.array(opArb, { minLength: 300, maxLength: 1200 }),
        (classes, maxClass, promoteAfter, script) => {
          const k = new Kmalloc({ bytes: 16 << 20, classes, maxClass, promoteAfter });
          const initial = JSON.stringify(k.buddy.freeCounts());
          const live = new LiveBlocks();
          const addrs: number[] = [];
          const sizes = new Map<number, number>();
          let id = 0;
          const check = (a: number, size: number, blkId: number) => expect(checkEnds(k.bytes, a, size, blkId)).toBe('');
          const fill = (a: number, size: number, blkId: number) => fillEnds(k.bytes, a, size, blkId);
          for (const [kind, size, pick] of script) {
            ops++;
            if (kind === 'a' || addrs.length === 0) {
              let a: number;
              try {
                a = k.alloc(size);
              } catch (e) {
                expect(e).toBeInstanceOf(OutOfMemoryError);
                continue;
              }
              expect(a % 8).toBe(0);
              expect(k.usableSize(a)).toBeGreaterThanOrEqual(size);
              live.add(a, size, (id += 2));
              fill(a, size, id);
              addrs.push(a);
              sizes.set(a, size);
            } else {
              const i = pick % addrs.length;
              const a = addrs[i]!;
              const old = sizes.get(a)!;
              const blk = live.remove(a);
              check(a, old, blk.id);
              if (kind === 'f') {
                addrs[i] = addrs[addrs.length - 1]!;
                addrs.pop();
                sizes.delete(a);
                k.free(a);
              } else {
                let b: number;
                try {
                  b = k.realloc(a, size);
                } catch (e) {
                  expect(e).toBeInstanceOf(OutOfMemoryError);
                  live.add(a, old, blk.id); // the old block is untouched
                  continue;
                }
                // the first min(old, new) bytes moved with the block
                const keep = Math.min(old, size, 32);
                expect(checkPattern(k.bytes, b, keep, blk.id)).toBe(-1);
                sizes.delete(a);
                addrs[i] = b;
                sizes.set(b, size);
                live.add(b, size, (id += 2));
                fill(b, size, id);
              }
            }
          }
          // The size-class pages' counters agree with the live blocks: each block
          // on a class page (pageOwner: its worker slot; -1 for TLSF and large
          // blocks, which is where a class waiting for promotion is served) is one
          // active object of its class.
          const small = addrs.filter((a) => k.pageOwner(a) !== -1).length;
          expect(k.caches.reduce((n, c) => n + c.stats().activeObjects, 0)).toBe(small);
          for (const a of addrs) k.free(a);
          // All freed: what is still held is only what shrink gives back (a kept
          // current page per class, the TLSF spare chunk), nothing leaked.
          const held = k.footprint();
          expect(k.shrink() * k.buddy.pageSize).toBe(held);
          expect(k.footprint()).toBe(0);
          expect(JSON.stringify(k.buddy.freeCounts())).toBe(initial);
        },
      ),
      { numRuns: runs(260), endOnFailure: true },
    );
    expect(ops).toBeGreaterThan(100_000);
  });
});
