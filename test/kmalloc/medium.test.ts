/**
 * Kmalloc's medium tier on a shared heap (src/kmalloc/medium.ts): one TLSF
 * heap per worker slot, a worker's own medium alloc/free without the heap
 * lock, other workers' frees on the owner's remote list, drained by it.
 */
import { describe, expect, it } from 'vitest';
import { DoubleFreeError, InvalidFreeError, Kmalloc, MemkitError, Memory } from '../../src/index.js';

/** Counts the heap-lock entries of an instance (its private enter, wrapped). */
function countLock(k: Kmalloc): { n: number } {
  const box = { n: 0 };
  const inner = k as unknown as { enter: () => void };
  const enter = inner.enter.bind(k);
  inner.enter = () => {
    box.n++;
    enter();
  };
  return box;
}

const MEDIUM = [5000, 9000, 17_000, 33_000, 50_000]; // all TLSF sizes (60 000 would take whole pages: 1/32 waste)

describe('Kmalloc medium tier: a TLSF heap per worker slot', () => {
  it("a worker's own medium alloc and free take no heap lock (the maker and an attached worker)", () => {
    const memory = Memory.create({ bytes: 16 << 20, shared: true });
    const k0 = new Kmalloc({ memory });
    const k1 = Kmalloc.attach(Memory.wrap(memory.buffer));
    for (const k of [k0, k1]) {
      const locks = countLock(k);
      const live: number[] = [];
      for (let i = 0; i < 4000; i++) {
        if (live.length > 40 || (live.length > 0 && i % 3 === 0)) k.free(live.splice((i * 7) % live.length, 1)[0]!);
        else live.push(k.alloc(MEDIUM[i % MEDIUM.length]! + (i % 50)));
      }
      for (const p of live) k.free(p);
      expect(locks.n).toBe(0);
      // the blocks really were medium ones, of this worker's own heap
      const p = k.alloc(5000);
      expect(k.tlsf.isAllocated(p)).toBe(true);
      expect(k.pageOwner(p)).toBe(-1); // not a class page
      k.free(p);
    }
    expect(k0.tlsf.region).not.toBe(k1.tlsf.region);
    k1.detach();
    k0.checkInvariants();
  });

  it("another worker's free of a block that straddles two joined chunks of a slot's heap is taken (a run: docs/tlsf.md)", () => {
    const memory = Memory.create({ bytes: 16 << 20, shared: true });
    const k0 = new Kmalloc({ memory });
    const k1 = Kmalloc.attach(Memory.wrap(memory.buffer));
    const blocks = Array.from({ length: 60 }, () => k1.alloc(4368)); // 14 fill a chunk: 4 or 5 chunks
    const C = 16 * k1.buddy.pageSize;
    const chunkOf = (a: number) => Math.floor((a - k1.buddy.base) / C);
    const straddling = blocks.filter((p) => chunkOf(p - 8) !== chunkOf(p + 4368 - 1));
    expect(straddling.length).toBeGreaterThan(0);
    for (const p of straddling) expect(k0.ksize(p)).toBe(4368);
    for (const p of blocks) k0.free(p); // remote: each checked, then on slot 1's list
    for (const p of straddling) expect(() => k0.free(p)).toThrow(DoubleFreeError);
    k1.free(k1.alloc(4368)); // slot 1 takes its remote list in
    k0.checkInvariants();
    k1.detach();
    k0.shrink();
    k0.checkInvariants();
  });

  it('forEachTlsfChunk names every slot’s chunks, and makes no heap', () => {
    const memory = Memory.create({ bytes: 16 << 20, shared: true });
    const k0 = new Kmalloc({ memory });
    const k1 = Kmalloc.attach(Memory.wrap(memory.buffer));
    const k2 = Kmalloc.attach(Memory.wrap(memory.buffer));
    const seen = (): Map<number, number> => {
      const m = new Map<number, number>();
      k0.forEachTlsfChunk((addr, slot) => m.set(addr, slot));
      return m;
    };
    expect(seen().size).toBe(0); // no medium block yet: no chunk
    k0.alloc(5000);
    const b1 = k1.alloc(9000);
    const chunks = seen();
    expect(chunks.size).toBe(2); // one chunk each for slots 0 and 1; k2 has made nothing
    const owners = [...chunks.values()].sort();
    expect(owners).toEqual([k0.workerSlot, k1.workerSlot].sort());
    const c1 = [...chunks].find(([, s]) => s === k1.workerSlot)![0];
    expect(b1 > c1 && b1 < c1 + k1.tlsf.chunkPages * k1.buddy.pageSize).toBe(true);
    expect(seen().size).toBe(chunks.size); // k2 (no medium call) still has no heap
    expect(() => k0.forEachTlsfChunk(null as unknown as () => void)).toThrow(MemkitError);
    k2.detach();
    k1.detach();
  });

  it('remote medium frees go on the owner’s remote list and come back to it at its next medium call', () => {
    const memory = Memory.create({ bytes: 16 << 20, shared: true });
    const k0 = new Kmalloc({ memory });
    const k1 = Kmalloc.attach(Memory.wrap(memory.buffer));
    const blocks = MEDIUM.map((s) => k0.alloc(s));
    for (const [i, p] of blocks.entries()) k0.bytes.fill(i + 1, p, p + MEDIUM[i]!);
    const used = k0.tlsf.stats().usedBlocks;
    const usedBytes = k0.tlsf.stats().usedBytes;
    for (const [i, p] of blocks.entries()) expect(k1.ksize(p)).toBeGreaterThanOrEqual(MEDIUM[i]!); // ksize from any worker
    const locks = countLock(k1);
    for (const p of blocks.slice(0, 3)) k1.free(p); // remote frees: one compareExchange each
    expect(locks.n).toBe(0);
    expect(k0.tlsf.stats().usedBlocks).toBe(used); // still counted until the owner takes them in
    for (const p of blocks.slice(0, 3)) {
      expect(() => k1.ksize(p)).toThrow(InvalidFreeError); // pending: no longer a live block
      expect(() => k1.free(p)).toThrow(DoubleFreeError); // found on the remote list
    }
    k0.checkInvariants(); // walks the remote list
    let seen = 0;
    k0.forEachBlock(() => seen++);
    expect(seen).toBe(2); // the pending frees are not live
    const q = k0.alloc(5000); // drains first: the freed 5000 B block is free again
    expect(k0.tlsf.stats().usedBlocks).toBe(used - 3 + 1);
    expect(k0.tlsf.stats().usedBytes).toBeLessThan(usedBytes); // 5000 + 9000 + 17 000 back, 5000 out
    // krealloc of another worker's medium block moves it to the caller's heap, content kept
    const r = k1.krealloc(blocks[3]!, 42_000);
    expect(k1.tlsf.isAllocated(r)).toBe(true);
    expect(k1.bytes.subarray(r, r + MEDIUM[3]!).every((b) => b === 4)).toBe(true);
    k1.free(blocks[4]!);
    k0.free(r); // k0 frees k1's block: k1's remote list
    k0.free(q);
    k0.checkInvariants();
    k1.detach(); // drains its list; its heap stays with slot 1
    k0.checkInvariants();
    k0.shrink(); // slot 1 is free: its heap goes back
    expect(k0.footprint()).toBe(0);
    k0.checkInvariants();
  });

  it('double frees and interior or never-handed-out addresses freed by another worker are refused, the heap unchanged', () => {
    const memory = Memory.create({ bytes: 8 << 20, shared: true });
    const k = new Kmalloc({ memory });
    const other = Kmalloc.attach(Memory.wrap(memory.buffer));
    for (const size of MEDIUM) {
      const p = k.alloc(size);
      const q = k.alloc(size);
      const usable = k.usableSize(q);
      const bytes = Buffer.from(k.memory.u8);
      for (const bad of [q + 8, q + 4, q + 16, q + usable - 8, q - 8]) {
        expect(() => other.free(bad), `${size} B block + ${bad - q}`).toThrow(MemkitError);
        expect(() => other.ksize(bad)).toThrow(InvalidFreeError);
      }
      // a free block of the chunk (never handed out): the chunk's start, where the free rest lies
      const chunk = k.buddy.base + Math.floor((q - k.buddy.base) / k.tlsf.chunkBytes) * k.tlsf.chunkBytes;
      if (chunk + 8 < Math.min(p, q)) expect(() => other.free(chunk + 8)).toThrow(MemkitError);
      expect(Buffer.compare(Buffer.from(k.memory.u8), bytes)).toBe(0); // the heap unchanged
      other.free(p); // onto k's remote list
      const after = Buffer.from(k.memory.u8);
      expect(() => other.free(p)).toThrow(DoubleFreeError);
      expect(Buffer.compare(Buffer.from(k.memory.u8), after)).toBe(0);
      expect(() => k.free(p)).toThrow(DoubleFreeError); // the owner takes its list in, then sees it free
      expect(() => other.free(p)).toThrow(DoubleFreeError); // now free in the TLSF heap
      other.free(q);
      k.checkInvariants();
    }
    other.detach();
    k.shrink();
    expect(k.footprint()).toBe(0);
  });

  it('a block the owner keeps on a TLSF quick list, freed again by another worker, is a double free', () => {
    const memory = Memory.create({ bytes: 16 << 20, shared: true });
    const k0 = new Kmalloc({ memory, maxClass: 512 }); // 513 B..1 KiB: TLSF sizes a quick list takes
    const k1 = Kmalloc.attach(Memory.wrap(memory.buffer));
    const [a, b, c] = [k0.alloc(600), k0.alloc(600), k0.alloc(600)];
    k0.free(b); // both neighbours used: b goes on k0's quick list, its header marked QUICK
    expect(k0.tlsf.isAllocated(b)).toBe(false);
    const bytes = Buffer.from(memory.u8);
    expect(() => k1.free(b)).toThrow(DoubleFreeError);
    expect(() => k1.ksize(b)).toThrow(InvalidFreeError);
    expect(Buffer.compare(Buffer.from(memory.u8), bytes)).toBe(0);
    k1.free(a); // a live neighbour of a quick block: an ordinary remote free
    k0.free(c);
    k0.checkInvariants();
    k1.detach();
  });

  it('large blocks (whole pages) take no heap lock: alloc, free by the owner or by another worker', () => {
    const memory = Memory.create({ bytes: 16 << 20, shared: true });
    const k0 = new Kmalloc({ memory });
    const k1 = Kmalloc.attach(Memory.wrap(memory.buffer));
    const before = k0.largeStats();
    const l0 = countLock(k0);
    const l1 = countLock(k1);
    const sizes = [8192, 12_288, 100_000, 1 << 20]; // page multiples (or past a TLSF chunk): the large tier
    const blocks = sizes.map((n) => k0.alloc(n));
    k1.free(blocks[0]!); // another worker's free: claimed with one compareExchange
    k0.free(blocks[1]!);
    expect(l0.n + l1.n).toBe(0);
    expect(k0.largeStats().blocks).toBe(before.blocks + sizes.length - 2);
    // A second free of the same block finds no large block there (the claim was taken).
    const bytes = Buffer.from(memory.u8);
    expect(() => k0.free(blocks[0]!)).toThrow(DoubleFreeError);
    expect(() => k1.free(blocks[1]!)).toThrow(DoubleFreeError);
    expect(() => k1.free(blocks[2]! + 4096)).toThrow(InvalidFreeError); // an interior page
    expect(Buffer.compare(Buffer.from(memory.u8), bytes)).toBe(0);
    for (const p of blocks.slice(2)) k1.free(p);
    expect(k0.largeStats()).toEqual(before);
    k0.checkInvariants();
    k1.detach();
  });

  it("a slot's heap stays with the slot: frees into it after its worker left wait for the next worker of the slot (or shrink)", () => {
    const memory = Memory.create({ bytes: 8 << 20, shared: true });
    const k0 = new Kmalloc({ memory });
    const w1 = Kmalloc.attach(Memory.wrap(memory.buffer));
    const blocks = MEDIUM.map((s) => w1.alloc(s));
    const region = w1.tlsf.region;
    w1.detach();
    k0.checkInvariants();
    k0.free(blocks[0]!); // into slot 1's remote list; nobody holds the slot
    k0.free(blocks[1]!);
    k0.checkInvariants();
    const w2 = Kmalloc.attach(Memory.wrap(memory.buffer));
    expect(w2.workerSlot).toBe(1);
    expect(w2.tlsf.region).toBe(region); // the slot's heap, taken over
    expect(w2.tlsf.stats().usedBlocks).toBe(5);
    w2.free(blocks[2]!); // its own block now: drains the list first
    expect(w2.tlsf.stats().usedBlocks).toBe(2);
    w2.detach();
    k0.free(blocks[3]!);
    k0.free(blocks[4]!);
    k0.checkInvariants();
    expect(k0.footprint()).toBeGreaterThan(0);
    k0.shrink(); // drains slot 1's list, gives its chunks and its heap back
    k0.checkInvariants();
    expect(k0.footprint()).toBe(0);
  });
});
