import { describe, expect, it } from 'vitest';
import { DoubleFreeError, InvalidFreeError, Kmalloc } from '../../src/index.js';
import { HotKmalloc, inverseOf, onSlot } from '../../src/kmalloc/kmalloc.js';
import * as L from '../../src/slab/layout.js';

describe('Kmalloc fast paths', () => {
  it('HotKmalloc (the literals alloc and free compile to) matches the slab layout', () => {
    expect(HotKmalloc.PAGE_SHIFT).toBe(L.PAGE_SHIFT);
    expect(HotKmalloc.P_FREELIST).toBe(L.P_FREELIST);
    expect(HotKmalloc.P_INFO).toBe(L.P_INFO);
    expect(HotKmalloc.P_UNUSED).toBe(L.P_UNUSED);
    expect(HotKmalloc.P_LOCAL_FREE).toBe(L.P_LOCAL_FREE);
    expect(HotKmalloc.P_USED).toBe(L.P_USED);
    expect(HotKmalloc.USED_MASK).toBe(L.USED_MASK);
    expect(HotKmalloc.OWNER_MASK).toBe(L.OWNER_MASK);
    expect(HotKmalloc.OWNER_CLASS).toBe(L.OWNER_CLASS);
    expect(HotKmalloc.OWNER_TLSF).toBe(L.OWNER_TLSF);
    expect(HotKmalloc.HEAD_DELTA_MASK).toBe(L.HEAD_DELTA_MASK);
    expect(HotKmalloc.HEAP_SHIFT).toBe(L.HEAP_SHIFT);
  });

  it("free's slot test (a float multiply) agrees with rel % stride for every class stride, debug ones too", () => {
    const strides = new Set<number>();
    for (const maxClass of [64, 1024, 8192, 65520]) {
      for (const debug of [false, true]) {
        const k = new Kmalloc({ bytes: 1 << 22, maxClass, debug });
        for (const c of k.caches) strides.add(c.stride);
      }
    }
    for (let s = 8; s <= 4096; s += 8) strides.add(s);
    let checked = 0;
    const wrong: string[] = [];
    for (const stride of strides) {
      const inv = inverseOf(stride);
      // every offset up to a few strides, around many multiples, and up to the 2^30 the test
      // holds below (a class page spans at most 256 buddy pages: 16 MiB with 64 KiB pages)
      const rels: number[] = [];
      for (let r = 0; r < Math.min(3 * stride, 6000) + 9; r++) rels.push(r);
      for (let m = 1; m < 1 << 20; m = m * 3 + 1) for (const d of [-1, 0, 1, 8]) rels.push(m * stride + d);
      const top = Math.floor(2 ** 30 / stride) - 1; // the largest m with (m + 1) * stride < 2^30
      for (let m = top - 4; m <= top; m++) for (const d of [-1, 0, 1, stride - 1]) rels.push(m * stride + d);
      rels.push(2 ** 24 - 1, 2 ** 24, 2 ** 30 - 1);
      for (const rel of rels) {
        if (rel < 0 || rel >= 2 ** 30) continue;
        if (onSlot(rel, inv, stride) !== (rel % stride === 0)) wrong.push(`stride ${stride}, rel ${rel}`);
        checked++;
      }
    }
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(checked).toBeGreaterThan(100_000);
  });

  it('free of every interior address of a block on a multi-page class page is refused, state unchanged', () => {
    // 1,536 B class: a page of several buddy pages, so the head-page delta and the grid both matter
    const k = new Kmalloc({ bytes: 1 << 22, maxClass: 2048, promoteAfter: 0 });
    const p = k.alloc(1500);
    const q = k.alloc(1500);
    const stride = k.ksize(p);
    expect(k.caches.find((c) => c.size === stride)!.pagesPerSlab).toBeGreaterThan(1);
    const before = k.footprint();
    for (const bad of [p + 8, p + stride - 8, q + 16, q + 4, q - 8, p + 1, p + 0.5]) {
      expect(() => k.free(bad)).toThrow(InvalidFreeError);
    }
    expect(k.ksize(p)).toBe(stride);
    k.free(q);
    k.free(p);
    expect(k.footprint()).toBe(before);
    k.checkInvariants();
  });
  it('free of a TLSF-tier block: every other address of its chunk is refused, buffer unchanged; a chunk given back and reused as class pages frees as class pages', () => {
    const k = new Kmalloc({ bytes: 1 << 22 });
    const chunk = k.tlsf.chunkBytes;
    // Fill one TLSF chunk with medium blocks, check every non-start address in it is refused.
    const medium: number[] = [];
    for (let i = 0; i < 20; i++) medium.push(k.alloc(1000 + 8 * i));
    const A = medium[0]! - ((medium[0]! - k.buddy.base) % chunk);
    const snapshot = k.memory.u8.slice();
    const starts = new Set(medium);
    let refused = 0;
    for (let a = A; a < A + chunk; a += 8) {
      if (starts.has(a)) continue;
      expect(() => k.free(a)).toThrow(InvalidFreeError);
      refused++;
    }
    expect(refused).toBeGreaterThan(8000);
    expect(Buffer.compare(k.memory.u8, snapshot)).toBe(0); // byte-identical
    for (const p of medium) k.free(p);
    k.checkInvariants();
    for (const p of medium) expect(() => k.free(p)).toThrow(InvalidFreeError);
    // The chunk goes back to the buddy; small blocks then take its pages as class pages.
    k.shrink();
    expect(k.tlsf.footprint()).toBe(0);
    const small: number[] = [];
    for (let i = 0; i < 4096; i++) small.push(k.alloc(48));
    const reused = small.filter((p) => p >= A && p < A + chunk);
    expect(reused.length).toBeGreaterThan(0); // the chunk's pages are class pages now
    const keep = reused[0]!; // keeps its class page a class page
    for (const p of small) if (p !== keep) k.free(p);
    k.checkInvariants();
    const samePage = reused.filter((p) => p !== keep && (p - keep) >> 12 === 0 && p >> 12 === keep >> 12);
    expect(samePage.length).toBeGreaterThan(0);
    for (const p of samePage) expect(() => k.free(p)).toThrow(DoubleFreeError);
    k.free(keep);
    k.checkInvariants();
  });
});
