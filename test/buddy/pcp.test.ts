/**
 * The buddy's per-worker page lists (the kernel's per-CPU page lists) in one
 * thread: the maker (slot 0, no lists) and attached instances (a slot each)
 * over one shared Memory.
 */
import { describe, expect, it } from 'vitest';
import {
  BuddyAllocator,
  DoubleFreeError,
  HeapCorruptionError,
  InvalidArgumentError,
  Memory,
  MemkitError,
} from '../../src/index.js';
import { attachBuddyUnder, detachBuddyUnder, recoverBuddyUnder } from '../../src/buddy/attach.js';
import { B_PCP_OFF, INFO_CACHED, PCP_WORDS } from '../../src/buddy/layout.js';
import { H_WORKERS, HeaderSlot, readSlot } from '../../src/memory/header.js';

function heap(pages: number, pcp?: { high?: number; batch?: number } | false) {
  const memory = Memory.create({ bytes: 64 + 8192 + pages * 4096 + 4096, shared: true });
  const buddy = new BuddyAllocator({ memory, pages, ...(pcp === undefined ? {} : { pcp }) });
  return { memory, buddy, fresh: buddy.freeCounts() };
}

/** Counts the buddy-lock entries of an instance (its private enter). */
function countLocks(b: BuddyAllocator): { n: number } {
  const c = { n: 0 };
  const self = b as unknown as { enter: () => void };
  const enter = self.enter;
  self.enter = function (this: unknown) {
    c.n++;
    enter.call(this);
  };
  return c;
}

/** i32 index of slot s's entry of the per-worker table. */
function entry(b: BuddyAllocator, s: number): number {
  const w = readSlot(b.state, HeaderSlot.Buddy) >>> 2;
  return (b.state.u32[w + B_PCP_OFF]! >>> 2) + s * PCP_WORDS;
}

describe('per-worker page lists', () => {
  it("a worker's order-0 and order-1 alloc/free pairs take no buddy lock once its lists hold a batch", () => {
    const { buddy, memory } = heap(256, { high: 16, batch: 4 });
    const mine = BuddyAllocator.attach(memory);
    const locks = countLocks(mine);
    mine.free(mine.allocPages(1)); // the first alloc takes a batch under the lock
    mine.free(mine.allocPages(2));
    const warm = locks.n;
    expect(warm).toBe(2);
    for (let i = 0; i < 10_000; i++) {
      const a = mine.allocPages(1);
      const b = mine.allocPages(2);
      mine.free(a);
      mine.free(b);
    }
    expect(locks.n).toBe(warm);
    buddy.checkInvariants();
    mine.detach();
    expect(buddy.stats().cachedPages).toBe(0);

    // the same loop without lists takes the lock on every call (so the count above could fail)
    const off = heap(256, false);
    const other = BuddyAllocator.attach(off.memory);
    const c2 = countLocks(other);
    for (let i = 0; i < 100; i++) other.free(other.allocPages(1));
    expect(c2.n).toBe(200);
    other.detach();
  });

  it("a refill cuts its batch from one aligned run split off the largest free block: two workers' batches lie far apart", () => {
    const { buddy, memory, fresh } = heap(256, { high: 32, batch: 8 });
    const a = BuddyAllocator.attach(memory);
    const b = BuddyAllocator.attach(memory);
    // The maker leaves single free pages between used ones: what a refill taking the
    // smallest blocks first would get.
    const held = Array.from({ length: 24 }, () => buddy.allocPages(1));
    for (let i = 0; i < held.length; i += 3) buddy.free(held[i]!);
    const run = (addr: number) => Math.floor((addr - buddy.base) / buddy.pageSize / 8);
    const take = (w: BuddyAllocator, n: number, pages: 1 | 2) => Array.from({ length: n }, () => w.allocPages(pages));
    const fromA = take(a, 8, 1);
    const fromB = take(b, 8, 1);
    const twoA = take(a, 4, 2); // order 1: 8 pages' worth, 4 blocks of 2 pages
    for (const got of [fromA, fromB, twoA]) {
      expect(new Set(got.map(run)).size).toBe(1);
      expect(got).toEqual([...got].sort((x, y) => x - y)); // handed out in address order
    }
    const runs = [run(fromA[0]!), run(fromB[0]!), run(twoA[0]!)].sort((x, y) => x - y);
    expect(runs[1]! - runs[0]!).toBeGreaterThan(1); // not side by side
    expect(runs[2]! - runs[1]!).toBeGreaterThan(1);
    expect(buddy.stats().cachedPages).toBe(0); // each batch handed out whole
    buddy.checkInvariants();

    // A batch that is not a power of two: the run's rest goes back to the free lists at once.
    const c = BuddyAllocator.attach(memory);
    const before = buddy.stats().freePages;
    const first = c.allocPages(1);
    const odd = heap(256, { high: 32, batch: 7 });
    const d = BuddyAllocator.attach(odd.memory);
    const seven = take(d, 7, 1);
    expect(new Set(seven.map((p) => Math.floor((p - odd.buddy.base) / odd.buddy.pageSize / 8))).size).toBe(1);
    expect(odd.buddy.stats()).toMatchObject({ usedPages: 7, cachedPages: 0, freePages: 256 - 7 });
    odd.buddy.checkInvariants();
    for (const p of seven) d.free(p);
    d.detach();
    expect(odd.buddy.freeCounts()).toEqual(odd.fresh);
    expect(buddy.stats().freePages).toBe(before - 8 + 7); // one handed out, seven cached
    c.free(first);
    c.detach();

    for (const p of [...fromA, ...twoA]) a.free(p);
    for (const p of fromB) b.free(p);
    a.detach();
    b.detach();
    for (let i = 0; i < held.length; i++) if (i % 3 !== 0) buddy.free(held[i]!);
    buddy.checkInvariants();
    expect(buddy.freeCounts()).toEqual(fresh);
  });

  it('the maker (slot 0) and an unshared memory keep no lists; unshared state has no table', () => {
    const { buddy, fresh } = heap(64);
    const locks = countLocks(buddy);
    for (let i = 0; i < 10; i++) buddy.free(buddy.allocPages(1));
    expect(locks.n).toBe(20);
    expect(buddy.freeCounts()).toEqual(fresh);
    const plain = new BuddyAllocator({ memory: Memory.create({ bytes: 1 << 20 }) });
    const w = readSlot(plain.state, HeaderSlot.Buddy) >>> 2;
    expect(plain.state.u32[w + B_PCP_OFF]).toBe(0);
    expect(plain.stats().cachedPages).toBe(0);
  });

  it('a page allocated by one worker and freed by another goes on the freeing worker list; counts stay exact', () => {
    const { buddy, memory, fresh } = heap(64, { high: 6, batch: 2 });
    const a = BuddyAllocator.attach(memory);
    const b = BuddyAllocator.attach(memory);
    const pages = buddy.pages;
    const blocks = Array.from({ length: 8 }, (_, i) => a.allocPages(1 + (i & 1)));
    const live = 12;
    buddy.checkInvariants();
    let s = buddy.stats();
    expect(s.usedPages).toBe(live);
    expect(s.usedBlocks).toBe(8);
    // a refilled by batches of 2 pages: what it has not handed out sits on its lists
    const onA = memory.i32[entry(a, a.slot) + 1]! + 2 * memory.i32[entry(a, a.slot) + 3]!;
    expect(s.cachedPages).toBe(onA);
    expect(s.freePages).toBe(pages - live);
    expect(buddy.freeCounts().reduce((t, c, k) => t + c * 2 ** k, 0)).toBe(pages - live - onA);
    for (const p of blocks) b.free(p); // all 12 pages to b's lists, past high: b gives batches back
    buddy.checkInvariants();
    s = buddy.stats();
    const onB = memory.i32[entry(b, b.slot) + 1]! + 2 * memory.i32[entry(b, b.slot) + 3]!;
    expect(onB).toBeLessThanOrEqual(6);
    expect(onB).toBeGreaterThan(0);
    expect(s.cachedPages).toBe(onA + onB);
    expect(s.usedPages).toBe(0);
    expect(s.usedBlocks).toBe(0);
    expect(buddy.freePages).toBe(pages);
    // a cached block is free in the memory map, on no free list
    const cachedInMap: number[] = [];
    buddy.forEachBlock((addr, _n, free, order) => {
      const pg = (addr - buddy.base) / buddy.pageSize;
      if ((buddy.state.u8[infoOf(buddy) + pg]! & INFO_CACHED) === INFO_CACHED) {
        expect(free).toBe(true);
        cachedInMap.push(2 ** order);
      }
    });
    expect(cachedInMap.reduce((t, n) => t + n, 0)).toBe(onA + onB);
    // a double free of a block on b's list is a DoubleFreeError, whoever frees it
    expect(() => a.free(blocks[0]!)).toThrow(DoubleFreeError);
    expect(() => b.free(blocks[0]!)).toThrow(DoubleFreeError);
    expect(b.isAllocated(blocks[0]!)).toBe(false);
    expect(() => b.blockPages(blocks[0]!)).toThrow(MemkitError);
    a.detach();
    b.detach();
    expect(buddy.freeCounts()).toEqual(fresh);
    expect(buddy.stats().cachedPages).toBe(0);
    buddy.checkInvariants();
  });

  it('lists fill up to high and give batches back; drain empties them', () => {
    const { buddy, memory, fresh } = heap(128, { high: 8, batch: 3 });
    const w = BuddyAllocator.attach(memory);
    const e = entry(w, w.slot);
    const held = () => memory.i32[e + 1]! + 2 * memory.i32[e + 3]!;
    const got = Array.from({ length: 20 }, () => w.allocPages(1));
    expect(held()).toBeLessThan(3); // refills of 3, handed out
    let most = 0;
    for (const p of got) {
      w.free(p);
      most = Math.max(most, held());
      expect(held()).toBeLessThanOrEqual(8);
    }
    expect(most).toBe(8);
    buddy.checkInvariants();
    w.drain();
    expect(held()).toBe(0);
    expect(buddy.freeCounts()).toEqual(fresh);
    w.detach();
  });

  it("a worker's own cached pages go back before it runs out of memory", () => {
    const memory = Memory.create({ bytes: 64 + 8192 + 8 * 4096 + 4096, shared: true });
    const buddy = new BuddyAllocator({ memory, pages: 8, pcp: { high: 8, batch: 4 } });
    const w = BuddyAllocator.attach(memory);
    w.free(w.allocPages(1)); // 4 pages on its list now
    expect(buddy.stats().cachedPages).toBe(4);
    const all = w.allocPages(8); // needs them all
    expect(buddy.stats().cachedPages).toBe(0);
    w.free(all);
    w.detach();
    buddy.checkInvariants();
    expect(buddy.freeCounts()).toEqual([0, 0, 0, 1]);
  });

  it('BuddyAllocator.recover and recoverBuddyUnder give a dead slot its pages back; detachBuddyUnder drains', () => {
    const { buddy, memory, fresh } = heap(64, { high: 8, batch: 4 });
    const dead = BuddyAllocator.attach(memory);
    const kept = dead.allocPages(1);
    dead.free(dead.allocPages(2));
    expect(buddy.stats().cachedPages).toBeGreaterThan(0);
    expect(BuddyAllocator.recover(memory, dead.slot)).toBe(false);
    expect(memory.u32[H_WORKERS]! & (1 << dead.slot)).toBe(0);
    expect(buddy.stats().cachedPages).toBe(0);
    buddy.checkInvariants();
    buddy.free(kept);
    expect(buddy.freeCounts()).toEqual(fresh);

    // under an upper layer's slot: the slot's lists go back with recoverBuddyUnder...
    const up = BuddyAllocator.attach(memory);
    const slot = up.slot;
    up.free(up.allocPages(1));
    expect(buddy.stats().cachedPages).toBe(4);
    expect(recoverBuddyUnder(memory, slot)).toBe(false);
    expect(buddy.stats().cachedPages).toBe(0);
    // ...what the rest of that recover frees through a buddy under the dead slot lands on its
    // lists again, and the recover's closing recoverBuddyUnder gives it back
    const rest = BuddyAllocator.attach(memory); // another worker's block, freed by the recover
    const blk = rest.allocPages(1);
    const late = openUnder(memory, slot);
    late.free(blk);
    expect(memory.i32[entry(buddy, slot) + 1]).toBe(1);
    expect(recoverBuddyUnder(memory, slot)).toBe(false);
    expect(memory.i32[entry(buddy, slot) + 1]).toBe(0);
    rest.detach();
    up.detach();
    expect(buddy.freeCounts()).toEqual(fresh);
    // a fresh join of the slot in this thread keeps lists again
    const again = BuddyAllocator.attach(memory);
    expect(again.slot).toBe(slot);
    again.free(again.allocPages(1));
    expect(buddy.stats().cachedPages).toBe(4);
    detachBuddyUnder(again);
    expect(buddy.stats().cachedPages).toBe(0);
    again.detach();
    expect(buddy.freeCounts()).toEqual(fresh);
  });

  it("a worker's list head damaged to name a page in use (or no page) is refused by the pop, not handed out again", () => {
    for (const bad of ['in use', 'past the pages', 'order 1 on the order-0 list'] as const) {
      const { buddy, memory } = heap(64, { high: 8, batch: 4 });
      const w = BuddyAllocator.attach(memory);
      w.free(w.allocPages(1)); // order-0 pages on w's list
      const used = buddy.allocPages(1); // someone else's page
      const two = w.allocPages(2);
      w.free(two); // an order-1 block on w's order-1 list
      const page = (a: number) => (a - buddy.base) / buddy.pageSize;
      const e = entry(w, w.slot);
      memory.i32[e] = bad === 'in use' ? page(used) : bad === 'past the pages' ? 64 : page(two);
      const before = Buffer.from(memory.u8);
      expect(() => w.allocPages(1)).toThrow(HeapCorruptionError);
      expect(Buffer.compare(before, Buffer.from(memory.u8))).toBe(0);
    }
  });

  it('checkInvariants finds a page listed twice, a listed page that is not cached, a bad count, a cached page on no list', () => {
    const damage = (how: (m: Memory, b: BuddyAllocator, e: number) => void, what: RegExp): void => {
      const { buddy, memory } = heap(64, { high: 8, batch: 4 });
      const w = BuddyAllocator.attach(memory);
      w.free(w.allocPages(1)); // 4 order-0 pages on w's list
      buddy.checkInvariants();
      how(memory, buddy, entry(w, w.slot));
      expect(() => buddy.checkInvariants()).toThrow(HeapCorruptionError);
      expect(() => buddy.checkInvariants()).toThrow(what);
    };
    const L = (b: BuddyAllocator) => (readSlot(b.state, HeaderSlot.Buddy) + 320) >>> 2;
    // the second listed page links back to the first: a cycle, so the first is listed twice
    damage((m, b, e) => {
      const first = m.i32[e]!;
      const second = m.i32[L(b) + 2 * first]!;
      m.i32[L(b) + 2 * second] = first;
    }, /twice|longer/);
    damage((m, _b, e) => {
      m.i32[e + 1] = m.i32[e + 1]! - 1;
    }, /longer than its count/);
    damage((m, _b, e) => {
      m.i32[e + 1] = m.i32[e + 1]! + 1;
    }, /count says/);
    // the head's info byte says allocated
    damage((m, b, e) => {
      m.u8[infoOf(b) + m.i32[e]!] = 0x80;
    }, /not a cached block|no valid block/);
    // the list drops its first page: that cached page is on no list
    damage((m, b, e) => {
      const first = m.i32[e]!;
      m.i32[e] = m.i32[L(b) + 2 * first]!;
      m.i32[e + 1] = m.i32[e + 1]! - 1;
    }, /map \d+ cached blocks/);
    // a cached page is also put on the buddy's free list of its order
    damage((m, b, e) => {
      const first = m.i32[e]!;
      const wd = readSlot(b.state, HeaderSlot.Buddy) >>> 2;
      m.i32[L(b) + 2 * first] = m.i32[wd + 16]!;
      m.i32[wd + 16] = first;
    }, /not a free head|I2/);
  });

  it('bad arguments to a worker with cached pages: a typed error, its lists and the heap unchanged', () => {
    const { buddy, memory } = heap(64, { high: 8, batch: 4 });
    const w = BuddyAllocator.attach(memory);
    const two = w.allocPages(2);
    w.free(w.allocPages(1)); // pages on its order-0 list
    const other = new BuddyAllocator({ memory: Memory.create({ bytes: 1 << 20, shared: true }) });
    const foreign = other.allocPages(1);
    const e = entry(w, w.slot);
    const state = (): string =>
      JSON.stringify([buddy.stats(), buddy.freeCounts(), Array.from(memory.i32.subarray(e, e + 4))]);
    const before = state();
    const values: unknown[] = [
      0,
      -1,
      1.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      -0,
      2 ** 31,
      2 ** 32,
      2 ** 53,
      '4096',
      10n,
      null,
      undefined,
      { valueOf: () => two },
      [two],
      true,
    ];
    for (const v of [...values, two + 1, two + buddy.pageSize, foreign]) {
      expect(() => w.free(v as number), String(v)).toThrow(MemkitError);
      expect(state()).toBe(before);
    }
    for (const v of [...values, 2 ** 30, 65]) {
      expect(() => w.allocPages(v as number), String(v)).toThrow(MemkitError);
      expect(state()).toBe(before);
    }
    buddy.checkInvariants();
    w.free(two);
    w.detach();
  });

  it('pcp option: bad values are InvalidArgumentError naming it, nothing made', () => {
    // `argument`: the option pcp, or the option inside it.
    for (const [pcp, argument] of [
      [0, 'pcp'],
      ['x', 'pcp'],
      [null, 'pcp'],
      [[], 'pcp'],
      [{ high: 0 }, 'high'],
      [{ high: 1.5 }, 'high'],
      [{ batch: 5, high: 2 }, 'batch'],
      [{ high: 70000 }, 'high'],
      [{ hi: 2 }, 'hi'],
      [true, 'pcp'],
    ] as const) {
      const memory = Memory.create({ bytes: 1 << 20, shared: true });
      const before = memory.u8.slice();
      let err: unknown;
      try {
        new BuddyAllocator({ memory, pcp } as never);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(pcp)).toBeInstanceOf(InvalidArgumentError);
      expect((err as InvalidArgumentError).argument, JSON.stringify(pcp)).toBe(argument);
      expect(Buffer.compare(memory.u8, before)).toBe(0);
    }
  });

  it('a copy of the buffer with cached pages opens unshared: they are neither free nor allocated there', () => {
    const { buddy, memory } = heap(64, { high: 8, batch: 4 });
    const w = BuddyAllocator.attach(memory);
    const p = w.allocPages(1);
    w.free(p);
    const copy = BuddyAllocator.attach(Memory.wrap(memory.buffer.slice(0) as ArrayBuffer));
    copy.checkInvariants();
    expect(copy.stats().cachedPages).toBe(4);
    expect(copy.stats().usedBlocks).toBe(0);
    expect(() => copy.free(p)).toThrow(DoubleFreeError);
    expect(copy.isAllocated(p)).toBe(false);
    // the unshared copy never takes them: it allocates until it is out of memory, never p
    const got: number[] = [];
    expect(() => {
      for (let i = 0; i < 10_000; i++) got.push(copy.allocPages(1));
    }).toThrow(MemkitError);
    expect(got.length).toBeGreaterThan(50);
    expect(got).not.toContain(p);
    w.detach();
    buddy.checkInvariants();
  });
});

function infoOf(b: BuddyAllocator): number {
  return readSlot(b.state, HeaderSlot.Buddy) + 320 + 8 * b.maxPages;
}

/** A buddy opened under `slot` as an upper layer's recover does (attach.ts). */
function openUnder(memory: Memory, slot: number): BuddyAllocator {
  return attachBuddyUnder(memory, 'test', slot);
}
