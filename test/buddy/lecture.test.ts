import { describe, expect, it } from 'vitest';
import { BuddyAllocator, InvalidArgumentError } from '../../src/index.js';

/** Page index of an address. */
const page = (b: BuddyAllocator, addr: number) => (addr - b.base) / b.pageSize;

/** The free blocks as [firstPage, pages] pairs, in address order. */
function freeBlocks(b: BuddyAllocator): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  b.forEachBlock((addr, pages, free) => {
    if (free) out.push([page(b, addr), pages]);
  });
  return out;
}

describe('the lecture walkthrough on 16 pages', () => {
  it('A=1, B=2, C=3, D=1 land on pages 0, 2-3, 4-7 and 1; frees D, A, C, B coalesce as on the slides', () => {
    const b = new BuddyAllocator({ pages: 16 });
    expect(b.freeCounts()).toEqual([0, 0, 0, 0, 1]);

    const A = b.allocPages(1);
    // Splitting 16 -> 8+8 -> 4+4 -> 2+2 -> 1+1: A takes page 0.
    expect(page(b, A)).toBe(0);
    expect(freeBlocks(b)).toEqual([
      [1, 1],
      [2, 2],
      [4, 4],
      [8, 8],
    ]);

    const B = b.allocPages(2);
    expect(page(b, B)).toBe(2);
    expect(b.blockPages(B)).toBe(2);

    const C = b.allocPages(3); // rounded up to 2^2 pages
    expect(page(b, C)).toBe(4);
    expect(b.blockPages(C)).toBe(4);

    const D = b.allocPages(1);
    expect(page(b, D)).toBe(1);
    expect(freeBlocks(b)).toEqual([[8, 8]]);
    b.checkInvariants();

    b.free(D); // nothing to coalesce: its buddy A is in use
    expect(freeBlocks(b)).toEqual([
      [1, 1],
      [8, 8],
    ]);
    expect(b.freeCounts()).toEqual([1, 0, 0, 1, 0]);

    b.free(A); // A and D were buddies: they merge into pages 0-1
    expect(freeBlocks(b)).toEqual([
      [0, 2],
      [8, 8],
    ]);
    expect(b.freeCounts()).toEqual([0, 1, 0, 1, 0]);

    b.free(C); // its buddy (pages 0-3) is not completely free
    expect(freeBlocks(b)).toEqual([
      [0, 2],
      [4, 4],
      [8, 8],
    ]);
    expect(b.freeCounts()).toEqual([0, 1, 1, 1, 0]);

    b.free(B); // 0-1 + 2-3 -> 0-3, + 4-7 -> 0-7, + 8-15 -> 0-15
    expect(freeBlocks(b)).toEqual([[0, 16]]);
    expect(b.freeCounts()).toEqual([0, 0, 0, 0, 1]);
    b.checkInvariants();
  });

  it('prints /proc/buddyinfo lines', () => {
    const b = new BuddyAllocator({ pages: 16 });
    b.allocPages(1);
    expect(b.buddyinfo()).toBe('Node 0, zone   Normal      1      1      1      1      0 ');
  });
});

describe('regions and exact allocations', () => {
  it('seeds a 13-page region with the largest aligned blocks: 8 + 4 + 1', () => {
    const b = new BuddyAllocator({ pages: 13 });
    expect(freeBlocks(b)).toEqual([
      [0, 8],
      [8, 4],
      [12, 1],
    ]);
    b.checkInvariants();
  });

  it('allocPagesExact(17) costs 17 pages, not 32, and free gives all back', () => {
    const b = new BuddyAllocator({ pages: 64 });
    const a = b.allocPagesExact(17);
    expect(b.stats().usedPages).toBe(17);
    expect(b.blockPages(a)).toBe(17);
    b.checkInvariants();
    const c = b.allocPages(8); // fits in the returned tail
    expect(page(b, c)).toBeLessThan(32);
    b.free(a);
    b.free(c);
    expect(b.freeCounts()).toEqual([0, 0, 0, 0, 0, 0, 1]);
    b.checkInvariants();
  });

  it('respects maxOrder: a 16-page region with maxOrder 2 holds four 4-page blocks', () => {
    const b = new BuddyAllocator({ pages: 16, maxOrder: 2 });
    expect(b.freeCounts()).toEqual([0, 0, 4]);
    b.free(b.allocPages(1));
    expect(b.freeCounts()).toEqual([0, 0, 4]);
  });

  it('grows its Memory when the pages run out and maxPages allows', () => {
    const b = new BuddyAllocator({ pages: 4, maxPages: 64 });
    const before = b.memory!.byteLength;
    const addrs = [];
    for (let i = 0; i < 10; i++) addrs.push(b.allocPages(4));
    expect(b.pages).toBeGreaterThanOrEqual(40);
    expect(b.memory!.byteLength).toBeGreaterThan(before);
    b.checkInvariants();
    for (const a of addrs) b.free(a);
    expect(b.stats().usedPages).toBe(0);
    b.checkInvariants();
  });
});

describe('free lists are LIFO, as in the kernel', () => {
  it('a freed block goes on the head of its list and is the next one handed out', () => {
    const b = new BuddyAllocator({ pages: 16, maxOrder: 0 }); // sixteen 1-page blocks
    const a = b.allocPages(1);
    const c = b.allocPages(1);
    const d = b.allocPages(1);
    b.free(a);
    b.free(d);
    b.free(c);
    expect(b.freeList(0).slice(0, 3)).toEqual([c, d, a]);
    expect(b.allocPages(1)).toBe(c);
    expect(() => b.freeList(1)).toThrow(InvalidArgumentError);
  });
});
