/**
 * A page or slab goes back to the buddy only when it is truly empty. Its count
 * of objects in use (a SlabCache slab's `inuse`, a Kmalloc class page's
 * `used`) is one word; damaged to 1 while many objects live, the next free
 * would make it 0 and give the page, live objects and all, to the buddy, whose
 * next owner writes over them. So before a page goes back its free lists and
 * never-used slots are counted (O(slots), once per page given back), and a
 * page that comes up short is kept and named in a HeapCorruptionError.
 */
import { describe, expect, it } from 'vitest';
import { BuddyAllocator, HeapCorruptionError, Kmalloc, SlabCache, SlabSpace } from '../../src/index.js';
import { OWNER_LARGE, P_INFO, P_USED } from '../../src/slab/layout.js';

/** u32 index of the page descriptor of `addr`'s page. */
function descriptorOf(buddy: BuddyAllocator, addr: number): number {
  return SlabSpace.of(buddy).descriptor(Math.floor((addr - buddy.base) / buddy.pageSize));
}

/** Fills each block with its own index; returns the indices whose bytes changed. */
function fill(u8: Uint8Array, blocks: number[], size: number): () => number[] {
  blocks.forEach((p, i) => u8.fill(i & 255, p, p + size));
  return () => blocks.filter((p, i) => u8.subarray(p, p + size).some((v) => v !== (i & 255)));
}

describe('a page whose count of objects in use was damaged is not given back', () => {
  it('Kmalloc: a class page with `used` damaged to 1', () => {
    const k = new Kmalloc({ bytes: 1 << 20 });
    const blocks = Array.from({ length: 200 }, () => k.alloc(64));
    const page = blocks[0]! - ((blocks[0]! - k.buddy.base) % k.buddy.pageSize);
    const onPage = blocks.filter((p) => p >= page && p < page + k.buddy.pageSize);
    const rest = blocks.filter((p) => !onPage.includes(p));
    expect(onPage.length).toBe(64); // a full page, not the current one
    const u32 = k.memory.u32;
    const d = descriptorOf(k.buddy, page);
    u32[d + P_USED] = (u32[d + P_USED]! & ~0xffff) | 1;
    const changed = fill(k.memory.u8, onPage.slice(1), 64);
    expect(() => k.free(onPage[0]!)).toThrow(HeapCorruptionError);
    expect(k.buddy.isAllocated(page)).toBe(true);
    // Kept as it was (a full page, off the queue): with its count mended (63 in use, the
    // free on its list), the heap checks out.
    u32[d + P_USED] = (u32[d + P_USED]! & ~0xffff) | 63;
    expect(() => k.checkInvariants()).not.toThrow();
    // The buddy hands out other pages; the 63 live blocks keep their bytes.
    const taken = Array.from({ length: 8 }, () => k.buddy.allocPages(1));
    expect(taken).not.toContain(page);
    expect(changed()).toEqual([]);
    for (const p of rest) k.free(p); // the other pages answer as before
  });

  it('SlabCache: a slab with `inuse` damaged to 1', () => {
    const buddy = new BuddyAllocator({ pages: 256 });
    const cache = new SlabCache(buddy, { name: 'node', size: 64 });
    const objs = Array.from({ length: 3 * cache.objectsPerSlab }, () => cache.alloc());
    const slab = objs[0]! - ((objs[0]! - buddy.base) % (buddy.pageSize << cache.order));
    const inSlab = objs.filter((p) => p >= slab && p < slab + (buddy.pageSize << cache.order));
    expect(inSlab.length).toBe(cache.objectsPerSlab);
    const u32 = cache.memory.u32;
    const d = descriptorOf(buddy, slab);
    u32[d + P_INFO] = (u32[d + P_INFO]! & 0xffff) | (1 << 16);
    const changed = fill(cache.memory.u8, inSlab.slice(1), 64);
    expect(() => cache.free(inSlab[0]!)).toThrow(HeapCorruptionError);
    expect(buddy.isAllocated(slab)).toBe(true);
    const taken = Array.from({ length: 8 }, () => buddy.allocPages(cache.order === 0 ? 1 : 1 << cache.order));
    expect(taken).not.toContain(slab);
    expect(changed()).toEqual([]);
  });
});

describe('a page descriptor damaged to say "large block" gives nothing back', () => {
  it('Kmalloc: a class page whose INFO word reads OWNER_LARGE, freed at its page-aligned first block', () => {
    const k = new Kmalloc({ bytes: 1 << 20 });
    const blocks = Array.from({ length: 200 }, () => k.alloc(64));
    const first = blocks.find((p) => (p - k.buddy.base) % k.buddy.pageSize === 0)!;
    const onPage = blocks.filter((p) => p >= first && p < first + k.buddy.pageSize);
    const u32 = k.memory.u32;
    const d = descriptorOf(k.buddy, first);
    u32[d + P_INFO] = (u32[d + P_INFO]! & ~0xffff) | OWNER_LARGE;
    const before = Buffer.from(k.memory.u8);
    expect(() => k.free(first)).toThrow(HeapCorruptionError);
    expect(Buffer.compare(before, Buffer.from(k.memory.u8))).toBe(0);
    expect(k.buddy.isAllocated(first)).toBe(true);
    expect(onPage.length).toBe(64);
  });

  it('Kmalloc: a large block whose pages word was damaged', () => {
    const k = new Kmalloc({ bytes: 1 << 20 });
    const big = k.alloc(100_000); // 25 pages
    const after = k.buddy.allocPages(4); // someone else's pages right after it, most likely
    const d = descriptorOf(k.buddy, big);
    const u32 = k.memory.u32;
    u32[d] = u32[d]! + 4; // P_FREELIST: the pages of a large block
    const before = Buffer.from(k.memory.u8);
    expect(() => k.free(big)).toThrow(HeapCorruptionError);
    expect(Buffer.compare(before, Buffer.from(k.memory.u8))).toBe(0);
    expect(k.buddy.isAllocated(after)).toBe(true);
    u32[d] = u32[d]! - 4;
    k.free(big); // repaired: freed as before
    expect(k.isAllocated(big)).toBe(false);
  });
});
