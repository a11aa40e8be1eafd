/**
 * Per-worker slabs against a model, in one thread: the maker and up to
 * three attached instances of one cache in a shared Memory (each a worker
 * slot, with its active slab and its own list), random allocs by any, frees
 * of any live object by any instance (own slabs: plain; another's: its
 * remote-free list), detaches and new joins, shrinks. After every step:
 * checkInvariants() (which walks every worker's list: links, tail, empty
 * count, owner words, remote lists, freelists), no overlap, payloads
 * intact, activeObjects = the model's count. At the end, all freed,
 * detached and shrunk: the buddy's free lists of a fresh cache.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BuddyAllocator, Memory, SlabCache } from '../../src/index.js';
import { H_WORKERS } from '../../src/memory/header.js';
import { LiveBlocks, checkEnds, fillEnds, runs } from '../support/fuzz.js';

type Op = { kind: 'alloc' | 'free' | 'detach' | 'shrink'; who: number; pick: number; own: number };

const op: fc.Arbitrary<Op> = fc.record({
  kind: fc.constantFrom<Op['kind']>('alloc', 'alloc', 'alloc', 'free', 'free', 'free', 'detach', 'shrink'),
  who: fc.nat({ max: 3 }),
  pick: fc.nat(),
  own: fc.nat({ max: 9 }), // < 7: a free by the instance that allocated the object, if it is still there
});

describe('SlabCache per-worker lists against a model', () => {
  it('any instance allocs and frees any object; invariants after every step; all freed is fresh', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(24, 40, 64, 200),
        fc.nat({ max: 2 }),
        fc.array(op, { minLength: 50, maxLength: 400 }),
        (size, minEmpty, script) => {
          const memory = Memory.create({ bytes: 1 << 20, shared: true });
          const buddy = new BuddyAllocator({ memory, pageSize: 1024 });
          const maker = new SlabCache(buddy, { name: 'w', size, minEmpty });
          const fresh = JSON.stringify(buddy.freeCounts());
          const u8 = memory.u8;
          // slot 0 is the maker; 1..3 attached instances, opened on first use and after a detach
          const inst: (SlabCache | null)[] = [maker, null, null, null];
          const get = (i: number): SlabCache => {
            let c = inst[i] ?? null;
            if (c === null) inst[i] = c = SlabCache.attach(memory, { name: 'w' });
            return c;
          };
          const live = new LiveBlocks();
          const addrs: number[] = [];
          const by = new Map<number, SlabCache>(); // object -> the instance that allocated it
          let id = 0;
          for (const { kind, who, pick, own } of script) {
            if (kind === 'alloc' || (kind === 'free' && addrs.length === 0)) {
              const a = get(who).alloc();
              by.set(a, get(who));
              live.add(a, size, id + 2); // throws on an overlap with a live block
              fillEnds(u8, a, size, (id += 2));
              addrs.push(a);
            } else if (kind === 'free') {
              const i = pick % addrs.length;
              const a = addrs[i]!;
              addrs[i] = addrs[addrs.length - 1]!;
              addrs.pop();
              const blk = live.remove(a);
              expect(checkEnds(u8, a, size, blk.id)).toBe('');
              const mine = by.get(a)!;
              (own < 7 && inst.includes(mine) ? mine : get(who)).free(a);
              expect(maker.isAllocated(a)).toBe(false);
            } else if (kind === 'detach') {
              if (who !== 0 && inst[who] !== null) {
                inst[who]!.detach();
                inst[who] = null;
              }
            } else {
              get(who).shrink();
            }
            maker.checkInvariants();
            expect(maker.stats().activeObjects).toBe(addrs.length);
          }
          for (const a of addrs) {
            expect(checkEnds(u8, a, size, live.remove(a).id)).toBe('');
            get(a % 4).free(a);
            maker.checkInvariants();
          }
          for (let i = 1; i < 4; i++) inst[i]?.detach();
          maker.detach(); // the maker's own slabs go back on the cache's lists too
          expect(memory.u32[H_WORKERS]).toBe(0);
          maker.checkInvariants();
          maker.shrink();
          expect(maker.stats().slabs).toBe(0);
          expect(JSON.stringify(buddy.freeCounts())).toBe(fresh);
        },
      ),
      { numRuns: runs(40) },
    );
  }, 60_000);

  it('checkInvariants names a damaged worker list', () => {
    const memory = Memory.create({ bytes: 1 << 20, shared: true });
    const buddy = new BuddyAllocator({ memory, pageSize: 1024 });
    const maker = new SlabCache(buddy, { name: 'w', size: 64, minEmpty: 2 });
    const w = SlabCache.attach(memory, { name: 'w' });
    const objs = Array.from({ length: 3 * w.objectsPerSlab }, () => w.alloc()); // 2 slabs on its list, 1 active
    w.free(objs[0]!); // the first slab: partial, and the active one (the active slab is full)
    expect(w.alloc()).toBe(objs[0]); // the object just freed, from the new active slab
    w.free(objs[0]!);
    maker.checkInvariants();
    const per = w.objectsPerSlab;
    for (const p of objs.slice(per, 2 * per)) w.free(p); // the second slab: empty, kept (minEmpty 2) and counted
    objs.splice(per, per);
    expect(maker.stats().emptySlabs).toBe(1);
    maker.checkInvariants();
    // its active slab (the first) has one free object: the next alloc takes it, the one after
    // switches to the empty slab, which is counted no more
    objs.push(w.alloc(), w.alloc());
    expect(maker.stats().emptySlabs).toBe(0);
    maker.checkInvariants();
    const u32 = memory.u32;
    const space = u32[(16 + 4 * 5) >>> 2]! >>> 2; // header slot Slab
    const entry = (u32[space + 6]! >>> 2) + (w.workerSlot * 128 + 0) * 4; // cache 0's entry of the worker
    for (const [word, bad, what] of [
      [2, u32[entry + 1]!, /list ends at/], // tail = head
      [3, 5, /empty slabs, its count says/],
      [0, 0xfffffffe, /not a slab|not a page/],
    ] as const) {
      const keep = u32[entry + word]!;
      u32[entry + word] = bad;
      expect(() => maker.checkInvariants()).toThrow(what);
      u32[entry + word] = keep;
    }
    maker.checkInvariants();
    for (const p of objs.slice(1)) maker.free(p);
    w.detach();
    maker.detach();
    maker.shrink();
    expect(maker.stats().slabs).toBe(0);
  });
});
