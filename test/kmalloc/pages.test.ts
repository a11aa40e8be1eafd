import { describe, expect, it } from 'vitest';
import {
  DoubleFreeError,
  HeapCorruptionError,
  InvalidFreeError,
  Kmalloc,
  MemkitError,
  Memory,
  SlabSpace,
} from '../../src/index.js';
import { curFreeTable, curTable } from '../../src/kmalloc/layout.js';
import { OWNER_CLASS, OWNER_CLASS_DEBUG, OWNER_LARGE, OWNER_TLSF, P_INFO, infoOwner } from '../../src/slab/layout.js';

/** The owner field of addr's page descriptor, read from the buffer through the slab space's layout. */
const ownerAt = (k: Kmalloc, addr: number): number => {
  const space = SlabSpace.of(k.buddy);
  const pg = Math.floor((addr - k.buddy.base) / k.buddy.pageSize);
  return infoOwner(k.memory.u32[space.descriptor(pg) + P_INFO]!);
};

describe('Kmalloc size-class pages', () => {
  it('the page descriptor names each tier by its owner value', () => {
    const k = new Kmalloc({ bytes: 1 << 20 });
    const small = k.alloc(24);
    const medium = k.alloc(3000);
    const large = k.alloc(100_000);
    const cls = k.classSizes.indexOf(24);
    expect(ownerAt(k, small)).toBe(OWNER_CLASS + cls);
    expect(ownerAt(k, medium)).toBe(OWNER_TLSF);
    expect(ownerAt(k, large)).toBe(OWNER_LARGE);
  });

  it('a page fills in address order, then frees are reused last-in first-out; an emptied page that is not current goes back', () => {
    const k = new Kmalloc({ bytes: 1 << 20 });
    const per = k.caches[k.classSizes.indexOf(64)]!.objectsPerSlab;
    const a = Array.from({ length: per + 1 }, () => k.alloc(64));
    for (let i = 1; i < per; i++) expect(a[i]! - a[i - 1]!).toBe(64);
    expect(k.caches[k.classSizes.indexOf(64)]!.stats()).toMatchObject({
      slabs: 2,
      fullSlabs: 1,
      activeObjects: per + 1,
    });
    k.free(a[3]!); // the full page is queued again
    k.free(a[5]!);
    expect(k.alloc(64)).toBe(a[per]! + 64); // the current page serves first
    const before = k.footprint();
    for (let i = 0; i < per; i++) if (i !== 3 && i !== 5) k.free(a[i]!);
    expect(k.footprint()).toBe(before - 4096); // the first page emptied: back to the buddy
    expect(k.caches[k.classSizes.indexOf(64)]!.stats()).toMatchObject({ slabs: 1, slabsMade: 2, slabsFreed: 1 });
  });

  it('a current page that empties while a page waits behind it goes back before the heap takes another page', () => {
    const k = new Kmalloc({ bytes: 1 << 20 });
    const c64 = k.caches[k.classSizes.indexOf(64)]!;
    const per = c64.objectsPerSlab;
    const a = Array.from({ length: per + 1 }, () => k.alloc(64)); // page 1 full, page 2 current
    k.free(a[3]!); // page 1 un-fulls: queued behind the current page
    k.free(a[per]!); // page 2, current, is empty now: a free on it counts nothing
    const before = k.footprint();
    expect(c64.stats()).toMatchObject({ slabs: 2, slabsFreed: 0 });
    const small = k.alloc(16); // a new page for class 16: page 2 goes back first
    expect(k.footprint()).toBe(before);
    expect(c64.stats()).toMatchObject({ slabs: 1, slabsMade: 2, slabsFreed: 1, activeObjects: per - 1 });
    expect(k.alloc(64)).toBe(a[3]); // page 1 is current: its free block serves first
    k.checkInvariants();
    for (const p of [small, ...a.slice(0, per)]) k.free(p);
    k.checkInvariants();
  });

  it("a class's only page, empty, goes back at the second page the heap takes at its peak; below the peak it stays", () => {
    const k = new Kmalloc({ bytes: 1 << 20 });
    const c64 = k.caches[k.classSizes.indexOf(64)]!;
    k.free(k.alloc(64)); // class 64's only page, current and empty
    expect(c64.stats()).toMatchObject({ slabs: 1, slabsFreed: 0 });
    const a = k.alloc(16); // a page taken at a new peak: the reap notes the empty page
    expect(c64.stats()).toMatchObject({ slabs: 1, slabsFreed: 0 });
    const before = k.footprint();
    const b = k.alloc(24); // the next one at a new peak: still empty, it goes back first
    expect(c64.stats()).toMatchObject({ slabs: 0, slabsMade: 1, slabsFreed: 1 });
    expect(k.footprint()).toBe(before); // one page given back, one taken
    k.checkInvariants();
    const p = k.alloc(64); // the class takes a page again when it needs one
    expect(c64.stats()).toMatchObject({ slabs: 1, slabsMade: 2, activeObjects: 1 });

    // Below the peak nothing is walked or given back: a class that allocates and frees one
    // block in a loop keeps its page while other classes take pages.
    const big = Array.from({ length: 1000 }, () => k.alloc(32)); // raises the peak by 8 pages
    for (const q of big) k.free(q);
    k.free(p); // class 64's only page is empty again
    const more = [k.alloc(40), k.alloc(48)]; // two pages taken below the peak
    expect(c64.stats()).toMatchObject({ slabs: 1, slabsMade: 2, slabsFreed: 1 });
    expect(k.alloc(64)).toBe(p);
    for (const q of [a, b, p, ...more]) k.free(q);
    k.checkInvariants();
  });

  it('that reap refuses a damaged curFree list, cur word or queue link (HeapCorruptionError), writing nothing', () => {
    const cases: Array<[string, (k: Kmalloc, a: number[], cls: number) => [number, number]]> = [
      // [word index, value]
      ['curFree: a live block', (k, a, cls) => [curFreeTable(k.memory.u32, k.k, k.nClasses, 0) + cls, a[0]!]],
      [
        'curFree: past the carved slots',
        (k, a, cls) => [curFreeTable(k.memory.u32, k.k, k.nClasses, 0) + cls, a.at(-1)! + 40 * 64],
      ], // 32 slots carved
      ['curFree: the memkit header', (k, _a, cls) => [curFreeTable(k.memory.u32, k.k, k.nClasses, 0) + cls, 8]],
      ['cur: not a descriptor', (k, _a, cls) => [curTable(k.k, k.nClasses, 0) + cls, 5]],
      [
        'cur: another class page',
        (k, _a, cls) => [curTable(k.k, k.nClasses, 0) + cls, k.memory.u32[curTable(k.k, k.nClasses, 0) + cls - 1]!],
      ],
      ["the current page's next link", (k, _a, cls) => [k.memory.u32[curTable(k.k, k.nClasses, 0) + cls]! + 2, 3]],
    ];
    for (const [name, damage] of cases) {
      const k = new Kmalloc({ bytes: 1 << 20 });
      k.alloc(56); // a page of the class below, for 'another class page'
      const cls = k.classSizes.indexOf(64);
      const per = k.caches[cls]!.objectsPerSlab;
      const a = Array.from({ length: per + 1 }, () => k.alloc(64));
      k.free(a[3]!);
      k.free(a.at(-1)!); // the current page is empty, a page waits behind it: the reap walks it
      const [word, value] = damage(k, a, cls);
      k.memory.u32[word] = value;
      const before = Buffer.from(k.bytes);
      expect(() => k.alloc(16), name).toThrow(HeapCorruptionError);
      expect(Buffer.compare(k.bytes, before), name).toBe(0);
    }
  });

  it('a block written after its free is caught when it is handed out again (HeapCorruptionError, no wild address)', () => {
    const k = new Kmalloc({ bytes: 1 << 20 });
    const p = k.alloc(32);
    const q = k.alloc(32);
    k.free(q);
    k.free(p);
    k.bytes.fill(0, p, p + 32); // use-after-free memset
    expect(() => k.alloc(32)).toThrow(HeapCorruptionError);
  });

  it('double frees and interior pointers of class blocks are refused, the heap unchanged', () => {
    const k = new Kmalloc({ bytes: 1 << 20 });
    const p = k.alloc(48);
    const q = k.alloc(48);
    k.free(p);
    const info = k.slabinfo();
    expect(() => k.free(p)).toThrow(DoubleFreeError);
    expect(() => k.free(q + 8)).toThrow(InvalidFreeError);
    expect(() => k.free(q + 48 * 40)).toThrow(InvalidFreeError); // a slot never handed out
    expect(k.slabinfo()).toBe(info);
    // live data that happens to look like a free tag is still freed correctly
    k.bytes.fill(0, q, q + 8);
    k.free(q);
    expect(k.isAllocated(q)).toBe(false);
  });

  it('the same from another worker (remote frees go through their own grid check)', () => {
    const memory = Memory.create({ bytes: 4 << 20, shared: true });
    const k = new Kmalloc({ memory });
    const other = Kmalloc.attach(Memory.wrap(memory.buffer));
    for (const size of [24, 48, 200, 1000, 3000]) {
      const p = k.alloc(size);
      const q = k.alloc(size);
      const stride = k.usableSize(q);
      const bytes = Buffer.from(k.memory.u8);
      for (const bad of [q + 8, q + 4, q + stride - 8, q + stride * 3])
        expect(() => other.free(bad), `${size} B block + ${bad - q}`).toThrow(InvalidFreeError);
      expect(Buffer.compare(Buffer.from(k.memory.u8), bytes)).toBe(0); // the heap unchanged
      other.free(p); // a remote free: onto p's page's thread_free list
      expect(() => other.free(p)).toThrow(DoubleFreeError);
      other.free(q);
      k.checkInvariants();
    }
    other.detach();
  });
});

describe('Kmalloc debug checks (only in debug heaps: other owner values, so the fast paths never look)', () => {
  it('poison, red zones and double free by list walk', () => {
    const k = new Kmalloc({ bytes: 1 << 20, debug: true });
    const p = k.alloc(40);
    expect(ownerAt(k, p)).toBe(OWNER_CLASS_DEBUG + k.classSizes.indexOf(40));
    expect(k.ksize(p)).toBe(40);
    k.bytes[p + 40] = 1; // one byte past the end
    expect(() => k.free(p)).toThrow(/Right Redzone overwritten/);
    k.bytes[p + 40] = 0xcc;
    k.bytes[p - 1] = 7;
    expect(() => k.free(p)).toThrow(/Left Redzone overwritten/);
    k.bytes[p - 1] = 0xcc;
    k.free(p);
    expect(k.bytes[p + 20]).toBe(0x6b); // poisoned
    expect(() => k.free(p)).toThrow(DoubleFreeError);
    k.bytes[p + 20] = 0; // use after free
    expect(() => {
      for (let i = 0; i < 200; i++) k.alloc(40); // p comes round once the page's other free blocks are used
    }).toThrow(/Poison overwritten/);
  });

  it('an attached instance of a debug heap keeps the checks (the flag is in the buffer)', () => {
    const memory = Memory.create({ bytes: 1 << 20, shared: true });
    const k1 = new Kmalloc({ memory, debug: true });
    const p = k1.alloc(16);
    const k2 = Kmalloc.attach(Memory.wrap(memory.buffer));
    expect(k2.debug).toBe(true);
    k2.bytes[p + 16] = 0; // overflow into the right red zone
    expect(() => k2.free(p)).toThrow(/Right Redzone overwritten/);
    k2.bytes[p + 16] = 0xcc;
    k2.free(p);
    expect(() => k1.free(p)).toThrow(DoubleFreeError);
  });
});

describe('Kmalloc.attach after the change: class pages live in the buffer', () => {
  it("a second instance continues the same pages, frees the first one's blocks, and reports the same slabinfo", () => {
    const memory = Memory.create({ bytes: 4 << 20, shared: true });
    const k1 = new Kmalloc({ memory, maxClass: 1024 });
    const blocks = Array.from({ length: 100 }, (_, i) => k1.alloc(8 + (i % 40) * 16));
    for (const [i, b] of blocks.entries()) k1.bytes.fill(i, b, b + 8);
    const k2 = Kmalloc.attach(Memory.wrap(memory.buffer));
    expect(k2.slabinfo()).toBe(k1.slabinfo());
    expect(k2.maxClass).toBe(1024);
    for (const [i, b] of blocks.entries()) {
      expect(k2.ksize(b)).toBe(k1.ksize(b));
      expect(k2.bytes[b + 7]).toBe(i);
    }
    // k2 is another worker (a slot of its own): it allocates from a page of its own, not k1's.
    const next = k2.alloc(8);
    const pageOf = (a: number): number => (a - k1.buddy.base) >>> 12;
    expect(pageOf(next)).not.toBe(pageOf(blocks[80]!));
    expect(k1.alloc(8)).toBe(blocks[80]! + 8); // k1 goes on with its page of blocks 0, 40 and 80 (8 B each)
    k1.free(blocks[80]! + 8);
    for (const b of blocks.filter((_, i) => i % 2 === 0)) k2.free(b); // remote frees: k1's thread_free lists
    for (const b of blocks.filter((_, i) => i % 2 === 1)) k1.free(b);
    k1.free(next); // a remote free into k2's page
    expect(() => k2.free(blocks[0]!)).toThrow(DoubleFreeError);
    expect(() => k1.free(blocks[0]!)).toThrow(DoubleFreeError); // found on its page's thread_free list
    expect(k1.slabinfo()).toBe(k2.slabinfo());
    k2.detach(); // k2's page held only `next`, freed: back to the buddy
    k1.checkInvariants();
    k1.shrink(); // takes the remote frees in, gives the empty pages back
    expect(k1.footprint()).toBe(0);
  });
});

describe('Kmalloc fast paths refuse what is not an address or a size, and change nothing', () => {
  it('free / ksize / realloc with bad values give a MemkitError, never a TypeError or a freed block', () => {
    const k = new Kmalloc({ bytes: 1 << 20 });
    const p = k.alloc(24);
    const t = k.alloc(3000);
    const l = k.alloc(100_000);
    const bads: unknown[] = [
      -1,
      1.5,
      NaN,
      Infinity,
      -Infinity,
      2 ** 31,
      2 ** 32,
      2 ** 53,
      String(p),
      BigInt(p),
      null,
      undefined,
      { valueOf: () => p },
      [p],
      true,
      p + 4,
      t + 8,
      l + 4096,
    ];
    const state = (): string => JSON.stringify([k.slabinfo(), k.footprint(), k.tlsf.stats()]);
    const before = state();
    for (const b of bads) {
      expect(() => k.free(b as number), `free(${String(b)})`).toThrow(MemkitError);
      expect(() => k.ksize(b as number), `ksize(${String(b)})`).toThrow(MemkitError);
      expect(() => k.realloc(b as number, 8), `realloc(${String(b)}, 8)`).toThrow(MemkitError);
      if (typeof b !== 'number' || !Number.isInteger(b) || b < 0 || b >= 2 ** 32) {
        expect(() => k.realloc(p, b as number), `realloc(p, ${String(b)})`).toThrow(MemkitError);
        expect(() => k.alloc(b as number), `alloc(${String(b)})`).toThrow(MemkitError);
      }
    }
    expect(state()).toBe(before);
    expect([k.isAllocated(p), k.isAllocated(t), k.isAllocated(l)]).toEqual([true, true, true]);
  });
});

describe('Kmalloc workers: a FULL page refilled by remote frees', () => {
  it('comes back to its owner through the reclaim list, and a local free un-fulls a page itself', () => {
    const memory = Memory.create({ bytes: 1 << 20, shared: true });
    const k0 = new Kmalloc({ memory, maxClass: 512 });
    const k1 = Kmalloc.attach(Memory.wrap(memory.buffer));
    const cache = k0.caches.find((c) => c.size === 512)!;
    const perPage = cache.objectsPerSlab;
    const pageBytes = cache.pagesPerSlab * 4096;
    const first = Array.from({ length: perPage }, () => k0.alloc(512)); // page P1, all used
    const second = Array.from({ length: perPage }, () => k0.alloc(512)); // P1 FULL (off the queue), P2 all used
    const pageOf = (a: number): number => Math.floor((a - k0.buddy.base) / pageBytes);
    expect(new Set(first.map(pageOf)).size).toBe(1);
    expect(pageOf(second[0]!)).not.toBe(pageOf(first[0]!));
    for (const a of first) k1.free(a); // remote: the first one hands P1 back on k0's reclaim list
    k0.checkInvariants();
    expect(k0.footprint()).toBe(2 * pageBytes);
    // P2 fills, goes FULL; with no page queued k0 takes P1 back instead of a new page.
    const again = k0.alloc(512);
    expect(first).toContain(again);
    k0.checkInvariants();
    expect(k0.footprint()).toBe(2 * pageBytes);
    // P2 is FULL and waits with TF_FULL: a local free takes it back on the queue.
    k0.free(second[3]!);
    k0.checkInvariants();
    for (const a of [...second.filter((_, i) => i !== 3), again]) (a % 2 === 0 ? k0 : k1).free(a);
    k1.detach();
    k0.checkInvariants();
    k0.shrink();
    expect(k0.footprint()).toBe(0);
  });

  it('a cycle in the remote frees of the current page is a HeapCorruptionError when alloc meets it, no block handed out twice', () => {
    const memory = Memory.create({ bytes: 1 << 20, shared: true });
    const k0 = new Kmalloc({ memory, maxClass: 512 });
    const k1 = Kmalloc.attach(Memory.wrap(memory.buffer));
    const perPage = k0.caches.find((c) => c.size === 512)!.objectsPerSlab;
    const blocks = Array.from({ length: perPage }, () => k0.alloc(512)); // the current page, every slot handed out
    const [a, b, c] = blocks as [number, number, number];
    for (const x of [a, b, c]) k1.free(x); // its thread_free: c -> b -> a
    // Damage that passes the free tags (it knows the heap's key): a's link back to c.
    const u32 = memory.u32;
    u32[a >>> 2] = c;
    u32[(a >>> 2) + 1] = (c ^ k0.key) >>> 0;
    const out: number[] = [];
    let error: unknown = null;
    for (let i = 0; i < 6 && error === null; i++) {
      try {
        out.push(k0.alloc(512));
      } catch (e) {
        error = e;
      }
    }
    expect(error).toBeInstanceOf(HeapCorruptionError);
    expect(new Set(out).size).toBe(out.length);
    expect(out).toEqual([c, b, a]);
  });

  it('detach and recover refuse a curFree list with no current page (damage), the always-0 word untouched', () => {
    const memory = Memory.create({ bytes: 1 << 20, shared: true });
    const k0 = new Kmalloc({ memory, maxClass: 512 });
    const k1 = Kmalloc.attach(Memory.wrap(memory.buffer));
    const a = k1.alloc(64);
    k1.alloc(64);
    k1.free(a); // on slot 1's curFree for the 64 B class
    const cls = k1.caches.findIndex((c) => c.size === 64);
    const u32 = memory.u32;
    const cur = curTable(k0.k, k0.nClasses, 1) + cls;
    expect(u32[curFreeTable(u32, k0.k, k0.nClasses, 1) + cls]).toBe(a);
    u32[cur] = k0.noPage; // damage: the queue looks empty while curFree holds a block
    expect(() => Kmalloc.recover(memory, 1)).toThrow(HeapCorruptionError); // attach's fsck, for the dead slot
    expect(u32[k0.noPage]).toBe(0);
    expect(() => k1.detach()).toThrow(HeapCorruptionError); // flushCurrent, for its own slot
    expect(u32[k0.noPage]).toBe(0);
  });

  it("recover of a dead worker gives back the pages its hand-over put on the dead slot's buddy lists", () => {
    const memory = Memory.create({ bytes: 16 << 20, shared: true });
    const k0 = new Kmalloc({ memory });
    const fresh = k0.buddy.freeCounts();
    const dead = Kmalloc.attach(Memory.wrap(memory.buffer));
    // Class pages of one and two buddy pages, emptied: the dead worker keeps them (a spare a
    // class) until it leaves; recover gives them back through a buddy under its slot.
    const blocks: number[] = [];
    for (const size of [16, 48, 200, 1000]) for (let i = 0; i < 70; i++) blocks.push(dead.alloc(size));
    for (const p of blocks) dead.free(p);
    Kmalloc.recover(memory, dead.workerSlot); // it died without detach()
    expect(k0.buddy.stats().cachedPages).toBe(0);
    k0.shrink();
    k0.checkInvariants();
    expect(k0.buddy.freeCounts()).toEqual(fresh);
  });
});
