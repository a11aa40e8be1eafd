import { describe, expect, it } from 'vitest';
import {
  BuddyAllocator,
  DoubleFreeError,
  InvalidArgumentError,
  InvalidFreeError,
  Kmalloc,
  Memory,
  OutOfMemoryError,
  classSizes,
} from '../../src/index.js';

const snapshot = (k: Kmalloc) => JSON.stringify([k.buddy.freeCounts(), k.footprint(), k.caches.map((c) => c.stats())]);

describe('Kmalloc', () => {
  it('serves sizes from the smallest class that fits, and large sizes from exact pages', () => {
    const k = new Kmalloc({ bytes: 1 << 20, classes: 'kernel', maxClass: 8192, largeAbove: 8192, promoteAfter: 0 }); // no TLSF tier
    expect(k.classSizes).toEqual([8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192]);
    const cases: Array<[number, number]> = [
      [1, 8],
      [8, 8],
      [9, 16],
      [65, 96],
      [97, 128],
      [200, 256],
      [4097, 8192],
      [8193, 12288],
      [20000, 20480],
    ];
    for (const [size, usable] of cases) {
      const p = k.kmalloc(size);
      expect(k.ksize(p)).toBe(usable);
      k.kfree(p);
    }
  });

  it('has finer classes by default: 8 per doubling', () => {
    expect(classSizes(8, 8192).slice(0, 12)).toEqual([8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96]);
    const k = new Kmalloc({ bytes: 1 << 20 });
    const p = k.alloc(100);
    expect(k.usableSize(p)).toBe(104);
  });

  it('alloc(0) gives a unique smallest block, as malloc(0)', () => {
    const k = new Kmalloc({ bytes: 1 << 20 });
    const a = k.alloc(0);
    const b = k.alloc(0);
    expect(a).not.toBe(b);
    expect(k.usableSize(a)).toBe(8);
  });

  it('kzalloc zeroes; krealloc keeps content, in place when it fits', () => {
    const k = new Kmalloc({ bytes: 1 << 20 });
    const p = k.kmalloc(100);
    k.bytes.fill(0xee, p, p + 104);
    k.kfree(p);
    const z = k.kzalloc(100);
    expect(k.bytes.subarray(z, z + 104).every((x) => x === 0)).toBe(true);
    for (let i = 0; i < 100; i++) k.bytes[z + i] = i;
    expect(k.krealloc(z, 104)).toBe(z); // fits: in place
    const moved = k.krealloc(z, 5000); // a TLSF block: in place when its right neighbour is free
    for (let i = 0; i < 100; i++) expect(k.bytes[moved + i]).toBe(i);
    const big = k.krealloc(moved, 50_000);
    for (let i = 0; i < 100; i++) expect(k.bytes[big + i]).toBe(i);
    expect(k.krealloc(big, 0)).toBe(0); // frees, as the kernel's krealloc(p, 0)
    expect(k.realloc(0, 10)).toBeGreaterThan(0);
  });

  it('prints /proc/slabinfo version 2.1', () => {
    const k = new Kmalloc({ bytes: 1 << 20, classes: 'kernel', maxClass: 8192 });
    k.kmalloc(64);
    const lines = k.slabinfo().trimEnd().split('\n');
    expect(lines[0]).toBe('slabinfo - version: 2.1');
    expect(lines[1]).toBe(
      '# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>',
    );
    expect(lines).toContain(
      'kmalloc-64             1     64     64   64    1 : tunables    0    0    0 : slabdata      1      1      0',
    );
    expect(lines.length).toBe(2 + 13);
  });

  it('grows its memory when the buddy runs out and maxBytes allows', () => {
    const k = new Kmalloc({ bytes: 64 << 10, maxBytes: 8 << 20 });
    const before = k.memory.byteLength;
    const ps: number[] = [];
    for (let i = 0; i < 200; i++) ps.push(k.alloc(10_000));
    expect(k.memory.byteLength).toBeGreaterThan(before);
    expect(k.footprint()).toBeGreaterThanOrEqual(200 * 10_000);
    for (const p of ps) k.free(p);
    expect(k.footprint()).toBe(k.tlsf.chunkBytes); // one empty TLSF chunk is kept for reuse
    k.shrink();
    expect(k.footprint()).toBe(0);
  });

  it('out of memory: typed error with the size, heap unchanged and usable', () => {
    const k = new Kmalloc({ bytes: 64 << 10 });
    const ps: number[] = [];
    let err: unknown;
    for (;;) {
      try {
        ps.push(k.alloc(3000));
      } catch (e) {
        err = e;
        break;
      }
    }
    expect(err).toBeInstanceOf(OutOfMemoryError);
    expect((err as OutOfMemoryError).requested).toBe(3000);
    const before = snapshot(k);
    expect(() => k.alloc(1 << 20)).toThrow(OutOfMemoryError);
    expect(snapshot(k)).toBe(before);
    k.free(ps.pop()!);
    expect(k.alloc(3000)).toBeGreaterThan(0);
  });

  it.each([-1, 1.5, NaN, Infinity, -Infinity])('alloc(%s) throws InvalidArgumentError and changes nothing', (size) => {
    const k = new Kmalloc({ bytes: 1 << 20 });
    k.alloc(10);
    const before = snapshot(k);
    expect(() => k.alloc(size)).toThrow(InvalidArgumentError);
    expect(snapshot(k)).toBe(before);
  });

  it('bad frees: never allocated, interior, double, foreign; heap unchanged', () => {
    const k = new Kmalloc({ bytes: 1 << 20 });
    const small = k.alloc(40);
    const large = k.alloc(100_000);
    const medium = k.alloc(20_000);
    const gone = k.alloc(40);
    k.free(gone);
    const before = snapshot(k);
    expect(() => k.free(small + 8)).toThrow(InvalidFreeError);
    expect(() => k.free(large + 4096)).toThrow(InvalidFreeError);
    expect(() => k.free(large + 16)).toThrow(InvalidFreeError);
    expect(() => k.free(medium + 8)).toThrow(InvalidFreeError);
    expect(() => k.free(medium + 4096)).toThrow(InvalidFreeError);
    expect(() => k.free(gone)).toThrow(DoubleFreeError);
    expect(() => k.free(0)).toThrow(InvalidFreeError);
    expect(() => k.free(-8)).toThrow(InvalidFreeError);
    expect(() => k.free(k.memory.byteLength + 4096)).toThrow(InvalidFreeError);
    expect(() => k.free(NaN)).toThrow(InvalidFreeError);
    expect(() => k.usableSize(gone)).toThrow(InvalidFreeError);
    expect(snapshot(k)).toBe(before);
    k.free(large);
    expect(() => k.free(large)).toThrow(DoubleFreeError);
    k.free(small);
    k.free(medium);
    k.shrink();
    expect(k.footprint()).toBe(0);
  });

  it('works over a buddy it is given, and lists its live blocks', () => {
    const buddy = new BuddyAllocator({ pages: 256 });
    const k = new Kmalloc({ buddy });
    // 24 B: a class block; 3000 B and 37 000 B: TLSF blocks (usable: rounded to 8); 40 000 B (one 960 B short of
    // 10 pages: within 1/32) and 70 000 B: exact pages.
    const live = new Map<number, number>([
      [k.alloc(24), 24],
      [k.alloc(3000), 3000],
      [k.alloc(37_000), 37_000],
      [k.alloc(40_000), 40_960],
      [k.alloc(70_000), 73_728],
    ]);
    const seen = new Map<number, number>();
    k.forEachBlock((addr, size) => seen.set(addr, size));
    expect(seen).toEqual(live);
    for (const a of live.keys()) expect(k.isAllocated(a)).toBe(true);
  });
});

describe('Kmalloc.attach: the heap lives in the buffer', () => {
  it('a second instance over a shared memory, and one over a copy, see the same blocks', () => {
    const memory = Memory.create({ bytes: 4 << 20, shared: true });
    const k1 = new Kmalloc({ memory });
    const a = k1.kmalloc(100);
    const big = k1.kmalloc(100_000);
    k1.bytes.fill(0x3c, a, a + 100);
    const k2 = Kmalloc.attach(Memory.wrap(memory.buffer));
    expect(k2.ksize(a)).toBe(104);
    expect(k2.ksize(big)).toBe(102_400);
    expect(k2.bytes[a + 99]).toBe(0x3c);
    const b = k2.kmalloc(100); // the next object of the same slab
    expect(k1.isAllocated(b)).toBe(true);
    k1.kfree(b);
    expect(() => k2.kfree(b)).toThrow(DoubleFreeError);
    expect(k2.slabinfo()).toBe(k1.slabinfo());

    const copy = Kmalloc.attach(Memory.wrap((memory.buffer as SharedArrayBuffer).slice(0)));
    copy.kfree(a);
    expect(copy.isAllocated(a)).toBe(false);
    expect(k1.isAllocated(a)).toBe(true); // the original is untouched
  });

  it('refuses a Memory without a kmalloc heap', () => {
    const buddy = new BuddyAllocator({ pages: 16 });
    expect(() => Kmalloc.attach(buddy.memory!)).toThrow(/no kmalloc heap/);
  });
});
