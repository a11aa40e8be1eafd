import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createTlsfAllocator } from '../../src/peers/tlsf.js';
import { DoubleFreeError, InvalidArgumentError, InvalidFreeError, OutOfMemoryError } from '../../src/errors/index.js';

const SOAK = process.env.MEMKIT_FUZZ === 'soak';

/** Fills `n` bytes at `p` with a pattern derived from `seed`. */
function fill(bytes: Uint8Array, p: number, n: number, seed: number): void {
  for (let i = 0; i < n; i++) bytes[p + i] = (seed + i * 31) & 0xff;
}
/** True when the pattern written by `fill` is intact. */
function intact(bytes: Uint8Array, p: number, n: number, seed: number): boolean {
  for (let i = 0; i < n; i++) if (bytes[p + i] !== ((seed + i * 31) & 0xff)) return false;
  return true;
}

describe('TLSF (AssemblyScript, wasm) peer', () => {
  it('allocates 16-aligned blocks with usableSize >= size, and frees them', async () => {
    const t = await createTlsfAllocator();
    const empty = t.footprint();
    expect(empty).toBeGreaterThan(0); // the root
    const p = t.alloc(100);
    expect(p % 16).toBe(0);
    expect(t.usableSize(p)).toBeGreaterThanOrEqual(100);
    expect(t.footprint()).toBeGreaterThanOrEqual(empty + 100);
    t.free(p);
    expect(t.footprint()).toBe(empty);
  });

  it('realloc keeps the content, in place or moved', async () => {
    const t = await createTlsfAllocator();
    const p = t.alloc(40);
    fill(t.bytes, p, 40, 7);
    const block = t.alloc(16); // a neighbour, so growing p must move it
    const q = t.realloc(p, 5000);
    expect(intact(t.bytes, q, 40, 7)).toBe(true);
    expect(t.usableSize(q)).toBeGreaterThanOrEqual(5000);
    const r = t.realloc(q, 8);
    expect(r).toBe(q); // shrinking stays in place
    expect(intact(t.bytes, r, 8, 7)).toBe(true);
    t.free(r);
    t.free(block);
  });

  it('keeps working (and `bytes` stays valid) after TLSF grows the wasm memory', async () => {
    const t = await createTlsfAllocator();
    const before = t.bytes.length;
    const small = t.alloc(64);
    fill(t.bytes, small, 64, 3);
    const big = t.alloc(4 << 20);
    expect(t.bytes.length).toBeGreaterThan(before);
    expect(t.bytes.length).toBeGreaterThanOrEqual(big + (4 << 20));
    fill(t.bytes, big + (4 << 20) - 100, 100, 9);
    expect(intact(t.bytes, small, 64, 3)).toBe(true);
    expect(t.wasmBytes()).toBeGreaterThanOrEqual(t.footprint());
    t.free(big);
    t.free(small);
  });

  it('heapBytes pre-grows the memory', async () => {
    const t = await createTlsfAllocator(1 << 20);
    expect(t.bytes.length).toBeGreaterThanOrEqual(1 << 20);
    const p = t.alloc(900_000);
    expect(t.bytes.length).toBe(1 << 20); // fitted without growing
    t.free(p);
  });

  it('rejects bad sizes and bad frees with typed errors, and stays usable', async () => {
    const t = await createTlsfAllocator();
    const p = t.alloc(32);
    const fp = t.footprint();
    for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 32, -0.5]) {
      expect(() => t.alloc(bad)).toThrow(InvalidArgumentError);
    }
    // A whole number TLSF cannot serve (above its ~1 GiB largest block) is out of memory, not a bad argument.
    for (const big of [2 ** 30, 2 ** 31, 2 ** 32 - 1]) {
      expect(() => t.alloc(big)).toThrow(OutOfMemoryError);
      expect(() => t.realloc(p, big)).toThrow(OutOfMemoryError);
    }
    expect(() => t.free(p + 4)).toThrow(InvalidFreeError);
    expect(() => t.free(0)).toThrow(InvalidFreeError);
    expect(() => t.free(1 << 30)).toThrow(InvalidFreeError);
    const q = t.alloc(32);
    t.free(q);
    expect(() => t.free(q)).toThrow(DoubleFreeError);
    expect(t.footprint()).toBe(fp);
    t.free(p);
    const r = t.alloc(32);
    expect(t.usableSize(r)).toBeGreaterThanOrEqual(32);
  });

  it('property: random alloc/realloc/free keeps blocks disjoint, aligned and intact', async () => {
    const t = await createTlsfAllocator();
    const empty = t.footprint();
    const op = fc.oneof(
      fc.record({ k: fc.constant('a' as const), size: fc.integer({ min: 0, max: 9000 }) }),
      fc.record({ k: fc.constant('f' as const), pick: fc.nat() }),
      fc.record({ k: fc.constant('r' as const), pick: fc.nat(), size: fc.integer({ min: 0, max: 9000 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { minLength: 50, maxLength: 400, size: 'max' }), (ops) => {
        const live = new Map<number, { size: number; seed: number }>();
        let seed = 1;
        for (const o of ops) {
          if (o.k === 'a') {
            const p = t.alloc(o.size);
            expect(p % 16).toBe(0);
            expect(t.usableSize(p)).toBeGreaterThanOrEqual(o.size);
            for (const [q, b] of live) {
              expect(p + o.size <= q || q + b.size <= p || o.size === 0 || b.size === 0).toBe(true);
            }
            fill(t.bytes, p, o.size, seed);
            live.set(p, { size: o.size, seed: seed++ });
          } else if (live.size > 0) {
            const keys = [...live.keys()];
            const p = keys[o.pick % keys.length]!;
            const b = live.get(p)!;
            expect(intact(t.bytes, p, b.size, b.seed)).toBe(true);
            live.delete(p);
            if (o.k === 'f') {
              t.free(p);
            } else {
              const q = t.realloc(p, o.size);
              const kept = Math.min(b.size, o.size);
              expect(intact(t.bytes, q, kept, b.seed)).toBe(true);
              fill(t.bytes, q, o.size, seed);
              live.set(q, { size: o.size, seed: seed++ });
            }
          }
        }
        for (const [p, b] of live) {
          expect(intact(t.bytes, p, b.size, b.seed)).toBe(true);
          t.free(p);
        }
        expect(t.footprint()).toBe(empty);
      }),
      { numRuns: SOAK ? 2000 : 100 },
    );
  });
});
