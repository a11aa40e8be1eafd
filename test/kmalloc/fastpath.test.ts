import { describe, expect, it } from 'vitest';
import { DoubleFreeError, InvalidFreeError, Kmalloc, Memory } from '../../src/index.js';
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

  // realloc and ksize test a class block inline with free's checks (classUsable); every
  // address those checks let through must still be a live block, and every other one
  // must reach the general path's errors with the heap unchanged.
  for (const where of ['unshared', 'shared, blocks of another worker'] as const)
    it(`realloc and ksize of class blocks: moves keep content, bad blocks are refused unchanged (${where})`, () => {
      const maker =
        where === 'unshared'
          ? new Kmalloc({ bytes: 1 << 22, promoteAfter: 0 })
          : new Kmalloc({ memory: Memory.create({ bytes: 4 << 20, shared: true }) });
      const k = where === 'unshared' ? maker : Kmalloc.attach(Memory.wrap(maker.memory.buffer));
      const blocks: number[] = [];
      for (let i = 0; i < 64; i++) {
        const p = maker.alloc(24);
        maker.bytes.fill(i + 1, p, p + 24);
        blocks.push(p);
      }
      // A live block whose first two words happen to look like a free tag: still live.
      const u32 = maker.memory.u32;
      const forged = blocks[5]!;
      const gone = blocks[6]!;
      maker.free(gone); // a free block (its tag is real): refused by both
      u32[(forged >>> 2) + 1] = u32[forged >>> 2]! ^ (u32[(gone >>> 2) + 1]! ^ u32[gone >>> 2]!);
      expect(k.ksize(forged)).toBe(24);
      // Slot 103 of the class page: 64 allocations from a fresh page extend it 32 slots at a
      // time, so `unused` stands at slot 64 and this slot was never handed out nor listed.
      const unused = blocks[63]! + 24 * 40;
      expect(unused - blocks[0]!).toBe(103 * 24); // the 64 blocks are the page's first slots, in order
      for (const bad of [gone, unused, blocks[7]! + 8]) {
        const before = Uint8Array.from(k.bytes);
        expect(() => k.realloc(bad, 40), `realloc(${bad}, 40)`).toThrow(InvalidFreeError);
        expect(() => k.realloc(bad, 4000), `realloc(${bad}, 4000)`).toThrow(InvalidFreeError);
        expect(() => k.ksize(bad), `ksize(${bad})`).toThrow(InvalidFreeError);
        expect(Buffer.compare(k.bytes, before), 'the buffer changed').toBe(0);
      }
      expect(() => k.free(gone)).toThrow(DoubleFreeError);
      // Moves between classes (up and down), in place when it fits by half, content kept.
      for (let i = 0; i < 64; i++) {
        if (i === 6) continue;
        let p = blocks[i]!;
        const fill = i + 1;
        const c0 = k.bytes[p]!;
        expect(k.realloc(p, 20)).toBe(p); // 20 of 24: in place
        p = k.realloc(p, 200);
        expect(k.ksize(p)).toBeGreaterThanOrEqual(200);
        expect(k.bytes[p]).toBe(c0);
        if (i !== 5) expect(k.bytes.subarray(p, p + 24).every((b) => b === fill)).toBe(true);
        p = k.realloc(p, 16); // 16 of 200: moves down
        expect(k.ksize(p)).toBe(16);
        if (i !== 5) expect(k.bytes.subarray(p, p + 16).every((b) => b === fill)).toBe(true);
        expect(k.realloc(p, 0)).toBe(0);
      }
      k.checkInvariants();
      maker.checkInvariants();
    });
});
