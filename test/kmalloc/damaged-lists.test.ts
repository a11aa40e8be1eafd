/**
 * A size class's blocks are popped from its current page's free list
 * (curFree), which is filled from the page's free, local_free and
 * thread_free lists. Each block carries a keyed free tag, which a
 * use-after-free write fails; but another page's free block carries a good
 * tag too. One damaged head word naming such a block made alloc hand it out
 * (until 5 Dec) while its own page still listed it, and `shrink` splice the
 * two pages' lists together. Now every pop and every walk checks that the
 * block lies on the page, before it writes: the call throws and the heap is
 * as it was.
 */
import { describe, expect, it } from 'vitest';
import { HeapCorruptionError, Kmalloc, Memory } from '../../src/index.js';
import { curFreeTable, curTable } from '../../src/kmalloc/layout.js';
import { P_FREELIST } from '../../src/slab/layout.js';

const SIZE = 64;

/** Two pages of the 64 B class: page A full but for one freed block (not current), page B current. */
function twoPages(memory?: Memory) {
  const k = memory === undefined ? new Kmalloc({ bytes: 4 << 20 }) : new Kmalloc({ memory });
  const u32 = k.memory.u32;
  const cls = k.caches.findIndex((c) => c.size >= SIZE);
  const cf = curFreeTable(u32, k.k, k.nClasses, 0) + cls;
  const cur = curTable(k.k, k.nClasses, 0) + cls;
  const stride = k.stride[cls]!;
  // A fresh page's slots are handed out in address order: the first jump is page B's first block.
  const live = [k.alloc(SIZE), k.alloc(SIZE)];
  while (live.at(-1)! - live.at(-2)! === stride) live.push(k.alloc(SIZE));
  expect(live.length).toBeGreaterThan(8);
  // Every block of page A is live, and page B is current. Free one of A's: its local_free.
  const foreign = live[3]!;
  k.free(foreign);
  return { k, u32, cls, cf, cur, foreign, live: live.filter((p) => p !== foreign) };
}

function unchanged(k: Kmalloc, call: () => unknown): void {
  const before = Buffer.from(k.memory.u8);
  expect(call).toThrow(HeapCorruptionError);
  expect(Buffer.compare(before, Buffer.from(k.memory.u8))).toBe(0);
}

describe('Kmalloc: a damaged free-list head naming another page’s free block', () => {
  it('curFree: alloc refuses it (the fast path and take), the heap as it was', () => {
    const w = twoPages();
    const saved = w.u32[w.cf]!;
    expect(saved).not.toBe(0);
    w.u32[w.cf] = w.foreign;
    unchanged(w.k, () => w.k.alloc(SIZE));
    unchanged(w.k, () => w.k.alloc(SIZE)); // and again: nothing moved the first time
    w.u32[w.cf] = saved;
    w.k.checkInvariants();
    const got = new Set(Array.from({ length: 200 }, () => w.k.alloc(SIZE)));
    for (const p of w.live) expect(got.has(p)).toBe(false);
  });

  it('curFree: shrink (which gives the list back to its page) refuses it, the heap as it was', () => {
    const w = twoPages();
    const saved = w.u32[w.cf]!;
    w.u32[w.cf] = w.foreign;
    unchanged(w.k, () => w.k.shrink());
    w.u32[w.cf] = saved;
    w.k.checkInvariants();
  });

  it('the current page’s free list: the refill refuses it before it moves a list', () => {
    const w = twoPages();
    while (w.u32[w.cf] !== 0) w.live.push(w.k.alloc(SIZE)); // curFree empty: the next alloc refills
    const d = w.u32[w.cur]!;
    expect(w.u32[d + P_FREELIST]).toBe(0);
    w.u32[d + P_FREELIST] = w.foreign;
    unchanged(w.k, () => w.k.alloc(SIZE));
    w.u32[d + P_FREELIST] = 0;
    w.k.checkInvariants();
  });

  it('a shared heap: the thread_free head (other workers’ frees) is refused before it becomes curFree', () => {
    const memory = Memory.create({ bytes: 4 << 20, shared: true });
    const w = twoPages(memory);
    const other = Kmalloc.attach(memory); // a second worker slot, in this thread
    while (w.u32[w.cf] !== 0) w.live.push(w.k.alloc(SIZE)); // curFree empty, page B's slots carved
    const d = w.u32[w.cur]!;
    other.free(w.live.pop()!); // a remote free: on page B's thread_free
    const tf = d + w.k.tfDelta;
    expect(w.u32[tf]).not.toBe(0);
    const saved = w.u32[tf]!;
    w.u32[tf] = w.foreign;
    unchanged(w.k, () => w.k.alloc(SIZE));
    w.u32[tf] = saved;
    expect(w.k.alloc(SIZE)).not.toBe(0); // takes the remote free in
    w.k.checkInvariants();
    other.detach();
  });

  it('a shared heap: the same refusal in a worker’s fast path', () => {
    const w = twoPages(Memory.create({ bytes: 4 << 20, shared: true }));
    const saved = w.u32[w.cf]!;
    w.u32[w.cf] = w.foreign;
    unchanged(w.k, () => w.k.alloc(SIZE));
    w.u32[w.cf] = saved;
    w.k.checkInvariants();
  });
});
