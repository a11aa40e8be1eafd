/**
 * Classes on demand (the `promoteAfter` option): a class above 64 B starts on
 * the TLSF tier and takes pages of its own once enough of its blocks are live
 * there (or, within a budget of the footprint, once it has allocated enough).
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, InvalidFreeError, Kmalloc, Memory } from '../../src/index.js';

/** true when `addr` is on a size-class page (pageOwner names its worker slot), false for TLSF and large blocks. */
const onClassPage = (k: Kmalloc, addr: number) => k.pageOwner(addr) !== -1;

describe('Kmalloc: classes above 64 B promoted on demand', () => {
  it('a class waits on TLSF until promoteAfter pages of its blocks are live, then takes pages for good', () => {
    const k = new Kmalloc({ bytes: 4 << 20, promoteAfter: 2 });
    const cache = k.caches.find((c) => c.size === 192)!;
    const at = 2 * cache.objectsPerSlab;
    const live: number[] = [];
    for (let i = 0; i < at; i++) {
      const p = k.alloc(192);
      expect(onClassPage(k, p)).toBe(false); // TLSF while the class waits
      expect(k.ksize(p)).toBeGreaterThanOrEqual(192);
      live.push(p);
    }
    const first = k.alloc(192); // the class has `at` blocks live on TLSF: promoted
    expect(onClassPage(k, first)).toBe(true);
    expect(k.ksize(first)).toBe(192);
    k.checkInvariants();
    // Its TLSF blocks stay where they are and free as TLSF blocks; new ones come from pages.
    for (const p of live) k.free(p);
    const again = k.alloc(192);
    expect(onClassPage(k, again)).toBe(true);
    k.free(again);
    k.free(first);
    k.checkInvariants();
    // Another class and the 64 B ones: untouched (64 B classes always take pages).
    expect(onClassPage(k, k.alloc(300))).toBe(false);
    expect(onClassPage(k, k.alloc(64))).toBe(true);
  });

  it('frees count a waiting class back: alloc/free churn with few live blocks does not promote on live count', () => {
    const k = new Kmalloc({ bytes: 1 << 20, promoteAfter: 1 });
    // 1 MiB heap, almost nothing live: the rate budget (1/32 of the footprint) holds no page either.
    for (let i = 0; i < 5000; i++) {
      const a = k.alloc(120);
      const b = k.alloc(120);
      expect(onClassPage(k, a)).toBe(false);
      k.free(a);
      k.free(b);
    }
    k.checkInvariants();
  });

  it('a hot class is promoted for its rate when the footprint has room for its page (1/32)', () => {
    const k = new Kmalloc({ bytes: 8 << 20, promoteAfter: 4 });
    const big = k.alloc(1 << 20); // 256 pages of footprint: room for 8 pages promoted for their rate
    let promotedAt = -1;
    for (let i = 0; i < 2000 && promotedAt < 0; i++) {
      const a = k.alloc(120);
      if (onClassPage(k, a)) promotedAt = i;
      k.free(a);
    }
    expect(promotedAt).toBeGreaterThan(0);
    expect(promotedAt).toBeLessThanOrEqual(256); // CHURN_ALLOCS allocations
    k.checkInvariants();
    k.free(big);
  });

  it('promoteAfter 0: every class takes pages from its first block', () => {
    const k = new Kmalloc({ bytes: 1 << 20, promoteAfter: 0 });
    for (const size of [65, 100, 200, 512]) expect(onClassPage(k, k.alloc(size))).toBe(true);
    expect(onClassPage(k, k.alloc(513))).toBe(false); // above maxClass (512): TLSF
  });

  it('a refused free or realloc leaves the buffer and the counters unchanged', () => {
    const k = new Kmalloc({ bytes: 1 << 20 });
    const ps = [k.alloc(192), k.alloc(192), k.alloc(100)];
    const before = k.bytes.slice();
    for (const bad of [ps[0]! + 8, ps[1]! - 8, ps[2]! + 4, ps[0]! + 1]) {
      expect(() => k.free(bad)).toThrow(InvalidFreeError);
      expect(() => k.realloc(bad, 5000)).toThrow(InvalidFreeError);
    }
    expect(Buffer.compare(k.bytes, before)).toBe(0);
    k.free(ps[0]!);
    expect(() => k.free(ps[0]!)).toThrow(); // a double free of a TLSF block
    k.checkInvariants();
  });

  it('a block of a waiting class that grows in place out of its class counts back', () => {
    const k = new Kmalloc({ bytes: 4 << 20, promoteAfter: 1 });
    const objs = k.caches.find((c) => c.size === 192)!.objectsPerSlab;
    // Each round leaves one 192 B block live and grows it to 1000 B: the class's count goes back up.
    const kept: number[] = [];
    for (let i = 0; i < 4 * objs; i++) {
      const p = k.alloc(192);
      expect(onClassPage(k, p)).toBe(false);
      kept.push(k.realloc(p, 1000));
    }
    k.checkInvariants();
    for (const p of kept) k.free(p);
    k.checkInvariants();
  });

  it('the state is in the buffer: a copy attached goes on counting where the maker stopped', () => {
    const memory = Memory.create({ bytes: 4 << 20 });
    const k = new Kmalloc({ memory, promoteAfter: 1 });
    const at = k.caches.find((c) => c.size === 192)!.objectsPerSlab;
    for (let i = 0; i < at - 1; i++) k.alloc(192);
    const copy = Kmalloc.attach(Memory.wrap(memory.buffer.slice(0)));
    expect(onClassPage(copy, copy.alloc(192))).toBe(false); // the at-th block: still TLSF
    expect(onClassPage(copy, copy.alloc(192))).toBe(true); // promoted
    expect(onClassPage(k, k.alloc(192))).toBe(false); // the maker's own buffer did not move
    copy.checkInvariants();
  });

  it('refuses a bad promoteAfter, and any but 0 on a shared memory', () => {
    for (const bad of [-1, Number.NaN, '2', 1e9, Number.POSITIVE_INFINITY]) {
      expect(() => new Kmalloc({ bytes: 1 << 20, promoteAfter: bad as number })).toThrow(InvalidArgumentError);
    }
    const shared = Memory.create({ bytes: 8 << 20, shared: true });
    expect(() => new Kmalloc({ memory: shared, promoteAfter: 1 })).toThrow(InvalidArgumentError);
    const k = new Kmalloc({ memory: Memory.create({ bytes: 8 << 20, shared: true }) });
    expect(onClassPage(k, k.alloc(192))).toBe(true); // shared heaps: per-worker pages from the first block
  });
});
