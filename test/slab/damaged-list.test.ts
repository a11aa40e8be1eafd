/**
 * alloc pops its partial slab's freelist. Two words steer it: the cache's
 * partial-list head (a page index) and the slab's freelist head. Damaged to
 * name another cache's slab, or a free object of another cache (the last on
 * its list, whose next is 0, passes the free-pointer check), alloc took
 * another cache's free object (until the twentieth session), which that
 * cache then handed out too; so did a worker's active-slab word on a shared
 * memory. Now alloc checks the slab's owner and that the slot is one of the
 * slab's slots, before it writes.
 */
import { describe, expect, it } from 'vitest';
import { BuddyAllocator, HeapCorruptionError, Memory, SlabCache, SlabSpace } from '../../src/index.js';
import { C_PARTIAL, P_FREELIST } from '../../src/slab/layout.js';

function two() {
  const buddy = new BuddyAllocator({ pages: 64 });
  const a = new SlabCache(buddy, { name: 'a', size: 64 });
  const b = new SlabCache(buddy, { name: 'b', size: 64 });
  const mine = a.alloc();
  const theirs = b.alloc();
  const space = SlabSpace.of(buddy);
  const pageOf = (addr: number) => Math.floor((addr - buddy.base) / buddy.pageSize);
  return { buddy, a, b, mine, theirs, u32: buddy.memory!.u32, space, pageOf };
}

describe("SlabCache: alloc takes no other cache's object on a damaged word", () => {
  it("the partial-list head naming the other cache's slab", () => {
    const w = two();
    const cache = (w.a as unknown as { c: number }).c; // u32 index of a's descriptor
    w.u32[cache + C_PARTIAL] = w.pageOf(w.theirs);
    const before = Buffer.from(w.buddy.memory!.u8);
    expect(() => w.a.alloc()).toThrow(HeapCorruptionError);
    expect(Buffer.compare(before, Buffer.from(w.buddy.memory!.u8))).toBe(0);
  });

  it("a worker's active slab (a shared memory) naming the other cache's slab", () => {
    const memory = Memory.create({ bytes: 64 + 8192 + 64 * 4096 + 4096, shared: true });
    const buddy = new BuddyAllocator({ memory, pages: 64 });
    const a = new SlabCache(buddy, { name: 'a', size: 64 });
    const b = new SlabCache(buddy, { name: 'b', size: 64 });
    a.alloc();
    const theirs = b.alloc();
    const active = (a as unknown as { cpuAt: number }).cpuAt; // u32 index of a's W_ACTIVE word
    expect(active).toBeGreaterThanOrEqual(0);
    memory.u32[active] = Math.floor((theirs - buddy.base) / buddy.pageSize);
    const before = Buffer.from(memory.u8);
    expect(() => a.alloc()).toThrow(HeapCorruptionError);
    expect(Buffer.compare(before, Buffer.from(memory.u8))).toBe(0);
  });

  it("the slab's freelist head naming the other cache's last free object", () => {
    const w = two();
    const dB = w.space.descriptor(w.pageOf(w.theirs));
    let last = w.u32[dB + P_FREELIST]!;
    for (let next = w.u32[last >>> 2]!; next !== 0; next = w.u32[last >>> 2]!) last = next;
    w.u32[w.space.descriptor(w.pageOf(w.mine)) + P_FREELIST] = last;
    const before = Buffer.from(w.buddy.memory!.u8);
    expect(() => w.a.alloc()).toThrow(HeapCorruptionError);
    expect(Buffer.compare(before, Buffer.from(w.buddy.memory!.u8))).toBe(0);
  });
});
