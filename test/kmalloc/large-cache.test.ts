/**
 * The per-worker large-block caches of a shared heap (src/kmalloc/large-cache.ts):
 * a freed block of a few pages is kept by the freeing worker and handed out
 * again for a request of exactly its pages, with no buddy call; the cache is
 * bounded, given back on detach, recover, shrink and out of memory, counted
 * right, refuses a second free, and a damaged cache word is an error, never
 * an address.
 */
import { describe, expect, it } from 'vitest';
import { DoubleFreeError, HeapCorruptionError, Kmalloc, MemkitError, Memory } from '../../src/index.js';
import { LC_BUDGET_PAGES, LC_ENTRIES, largeCacheAt } from '../../src/kmalloc/large-cache.js';

const PAGE = 4096;
/** 20,000 B: 5 pages waste 480 B, within 1/32: whole pages (the large tier). */
const FIVE = 20_000;

function shared(bytes = 8 << 20): { memory: Memory; k0: Kmalloc } {
  const memory = Memory.create({ bytes, shared: true });
  return { memory, k0: new Kmalloc({ memory }) };
}

/** The u32 index of slot `slot`'s cache in heap `k`. */
function cacheOf(k: Kmalloc, slot: number): number {
  return largeCacheAt(k.k, k.nClasses, slot);
}

describe('Kmalloc: per-worker large-block caches (shared heap)', () => {
  it('a freed block of a few pages comes back for the same pages, with no buddy call; stats and checks agree', () => {
    const { memory, k0 } = shared();
    const p = k0.alloc(FIVE);
    const free0 = k0.buddy.freePages;
    const stats = k0.largeStats();
    expect(stats.blocks).toBe(1);
    k0.free(p);
    expect(k0.buddy.freePages).toBe(free0); // kept: not given back
    expect(k0.largeStats()).toEqual({ blocks: 0, pages: 0 });
    expect(k0.isAllocated(p)).toBe(false);
    k0.checkInvariants();
    const bytes = Buffer.from(memory.u8);
    expect(() => k0.free(p)).toThrow(DoubleFreeError);
    expect(Buffer.compare(Buffer.from(memory.u8), bytes)).toBe(0);
    const q = k0.alloc(FIVE - 100); // 5 pages too
    expect(q).toBe(p);
    expect(k0.buddy.freePages).toBe(free0);
    expect(k0.largeStats()).toEqual(stats);
    expect(k0.usableSize(q)).toBe(5 * PAGE);
    const r = k0.alloc(24_000); // 6 pages: not in the cache
    expect(r).not.toBe(p);
    k0.free(q);
    k0.free(r);
    k0.checkInvariants();
    k0.shrink(); // gives the cache back
    expect(k0.footprint()).toBe(0);
    k0.checkInvariants();
  });

  it('is bounded (entries and pages), and a free by another worker goes to that worker’s cache', () => {
    const { memory, k0 } = shared(16 << 20);
    const k1 = Kmalloc.attach(Memory.wrap(memory.buffer));
    const blocks = Array.from({ length: 12 }, () => k0.alloc(16 * PAGE - 200)); // 16 pages each
    const free0 = k0.buddy.freePages;
    for (const p of blocks) k1.free(p);
    // At most LC_BUDGET_PAGES (64) pages kept: four 16-page blocks; the rest went back.
    expect(k0.buddy.freePages).toBe(free0 + (12 - LC_BUDGET_PAGES / 16) * 16);
    const small = Array.from({ length: 10 }, () => k0.alloc(FIVE));
    for (const p of small) k0.free(p);
    const u32 = memory.u32;
    const at = cacheOf(k0, 0);
    let held = 0;
    for (let i = 0; i < 2 * LC_ENTRIES; i += 2) if (u32[at + i] !== 0) held++;
    expect(held).toBe(LC_ENTRIES);
    k0.checkInvariants();
    k1.detach(); // slot 1's cache goes back
    k0.shrink();
    expect(k0.footprint()).toBe(0);
    k0.checkInvariants();
  });

  it('detach and recover give a worker’s cache back; a slot not joined holds none', () => {
    const { memory, k0 } = shared();
    const empty = (slot: number): boolean => {
      const at = cacheOf(k0, slot);
      return memory.u32.subarray(at, at + 15).every((w) => w === 0);
    };
    const w = Kmalloc.attach(Memory.wrap(memory.buffer));
    w.free(w.alloc(FIVE));
    expect(empty(w.workerSlot)).toBe(false);
    let before = k0.buddy.freePages;
    w.detach();
    expect(empty(w.workerSlot)).toBe(true);
    expect(k0.buddy.freePages).toBeGreaterThanOrEqual(before + 5);
    k0.checkInvariants();
    const dead = Kmalloc.attach(Memory.wrap(memory.buffer));
    const slot = dead.workerSlot;
    dead.free(dead.alloc(FIVE));
    dead.free(dead.alloc(8 * PAGE - 100));
    expect(empty(slot)).toBe(false);
    before = k0.buddy.freePages;
    Kmalloc.recover(memory, slot); // as if the worker died without detaching
    expect(empty(slot)).toBe(true);
    expect(k0.buddy.freePages).toBeGreaterThanOrEqual(before + 13);
    expect(k0.largeStats()).toEqual({ blocks: 0, pages: 0 });
    k0.checkInvariants();
    // A slot nobody holds that caches blocks is a broken heap.
    const at = cacheOf(k0, slot);
    const p = k0.alloc(FIVE);
    k0.free(p); // into slot 0's cache: move it to the free slot's words
    const at0 = cacheOf(k0, 0);
    memory.u32.copyWithin(at, at0, at0 + 15);
    memory.u32.fill(0, at0, at0 + 15);
    expect(() => k0.checkInvariants()).toThrow(HeapCorruptionError);
  });

  it('an allocation that finds no pages takes this worker’s cache back first', () => {
    const { k0 } = shared(1 << 20);
    const blocks: number[] = [];
    for (;;) {
      try {
        blocks.push(k0.alloc(FIVE));
      } catch (e) {
        expect(e).toBeInstanceOf(MemkitError);
        break;
      }
    }
    for (const p of blocks.slice(0, 4)) k0.free(p); // 20 pages cached
    const big = k0.alloc(12 * PAGE); // 12 contiguous pages: only after the cache is given back
    expect(k0.isAllocated(big)).toBe(true);
    k0.free(big);
    for (const p of blocks.slice(4)) k0.free(p);
    k0.checkInvariants();
    k0.shrink();
    expect(k0.footprint()).toBe(0);
  });

  it('a damaged cache word is an error, never an address; attach and checkInvariants see it', () => {
    for (const damage of [64, 0x10000 + 8, 0xffff_f000] as const) {
      const { memory, k0 } = shared();
      k0.free(k0.alloc(FIVE));
      const at = cacheOf(k0, 0);
      const u32 = memory.u32;
      const slotOf = [0, 2, 4, 6, 8, 10, 12].find((i) => u32[at + i] !== 0)!;
      u32[at + slotOf] = damage; // the block's address, with its 5 pages
      const bytes = Buffer.from(memory.u8);
      expect(() => k0.alloc(FIVE)).toThrow(HeapCorruptionError);
      expect(Buffer.compare(Buffer.from(memory.u8), bytes)).toBe(0);
      expect(() => k0.checkInvariants()).toThrow(HeapCorruptionError);
      expect(() => k0.shrink()).toThrow(HeapCorruptionError); // gives nothing back on the damaged word's say
      expect(Buffer.compare(Buffer.from(memory.u8), bytes)).toBe(0);
      expect(() => Kmalloc.attach(Memory.wrap(memory.buffer))).toThrow(HeapCorruptionError);
    }
  });
});

describe('Kmalloc: a class page when the buddy has none', () => {
  it('takes this worker’s cached large blocks back first', () => {
    const memory = Memory.create({ bytes: 1 << 20, shared: true });
    const k0 = new Kmalloc({ memory });
    const blocks: number[] = [];
    for (;;) {
      try {
        blocks.push(k0.alloc(FIVE));
      } catch {
        break;
      }
    }
    const small: number[] = [];
    for (;;) {
      try {
        small.push(k0.alloc(24)); // fills the class pages, then the buddy's last pages
      } catch {
        break;
      }
    }
    k0.free(blocks.pop()!); // cached: the only free pages
    const p = k0.alloc(200); // a new class page: from the cache's pages
    expect(k0.isAllocated(p)).toBe(true);
    k0.checkInvariants();
  });
});

describe('Kmalloc: every large-block cache word damaged under a live shared heap', () => {
  it('each method answers typed or sound; nothing is written in the memkit header or outside the heap', () => {
    const bad: string[] = [];
    let typed = 0;
    for (const flip of [0xffffffff, 0x80000000, 0x7, 0x1000, 0x40]) {
      for (let word = 0; word < 15; word++) {
        const memory = Memory.create({ bytes: 4 << 20, shared: true });
        const k0 = new Kmalloc({ memory });
        const a = k0.alloc(FIVE);
        const b = k0.alloc(8 * PAGE - 100);
        const live = k0.alloc(FIVE);
        k0.free(a);
        k0.free(b); // two cached blocks
        const canary = k0.buddy.allocPages(4);
        memory.u8.fill(0x5a, canary, canary + 4 * PAGE);
        memory.u8.fill(0x33, live, live + FIVE);
        const header = Buffer.from(memory.u8.subarray(0, 64));
        const at = cacheOf(k0, 0) + word;
        memory.u32[at] = (memory.u32[at]! ^ flip) >>> 0;
        const calls: Array<[string, () => unknown]> = [
          ['alloc 5 pages', () => k0.alloc(FIVE)],
          ['alloc 8 pages', () => k0.alloc(8 * PAGE - 100)],
          ['free(live)', () => k0.free(live)],
          ['free(a) again', () => k0.free(a)],
          ['largeStats', () => k0.largeStats()],
          ['checkInvariants', () => k0.checkInvariants()],
          ['attach', () => Kmalloc.attach(Memory.wrap(memory.buffer)).detach()],
          ['shrink', () => k0.shrink()],
        ];
        for (const [name, call] of calls) {
          try {
            const r = call();
            if (typeof r === 'number' && name.startsWith('alloc') && (r < 64 || r + FIVE > memory.buffer.byteLength))
              bad.push(`${word}^${flip.toString(16)} ${name} gave ${r}`);
          } catch (e) {
            if (!(e instanceof MemkitError)) bad.push(`${word}^${flip.toString(16)} ${name}: ${String(e)}`);
            typed++;
          }
          if (Buffer.compare(memory.u8.subarray(0, 64), header) !== 0)
            bad.push(`${word}^${flip.toString(16)} ${name}: header`);
          if (!memory.u8.subarray(canary, canary + 4 * PAGE).every((v) => v === 0x5a))
            bad.push(`${word}^${flip.toString(16)} ${name}: canary`);
        }
      }
    }
    expect(bad).toEqual([]);
    expect(typed).toBeGreaterThan(0);
  });
});
