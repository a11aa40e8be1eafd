import { describe, expect, it } from 'vitest';
import { Arena } from '../../src/arena/index.js';
import { BuddyAllocator } from '../../src/buddy/index.js';
import { InvalidArgumentError, MemkitError, OutOfMemoryError } from '../../src/errors/index.js';
import { HeaderSlot, readSlot } from '../../src/memory/index.js';

const PAGE = 256;
/** Arena state (128 bytes) + first chunk header (16) at the start of the first block. */
const STATE = 192;
const FIRST_DATA = STATE + 16;

function setup(
  pages = 16,
  chunkPages = 1,
  maxBytes?: number,
): { buddy: BuddyAllocator; arena: Arena; free0: number[]; free1: number[] } {
  const buddy = new BuddyAllocator({ pages, pageSize: PAGE });
  const free0 = buddy.freeCounts();
  const arena = new Arena(maxBytes === undefined ? { buddy, chunkPages } : { buddy, chunkPages, maxBytes });
  return { buddy, arena, free0, free1: buddy.freeCounts() };
}

describe('an arena over a BuddyAllocator', () => {
  it('takes its first chunk from the buddy and keeps its state at the start of it', () => {
    const { buddy, arena } = setup();
    expect(arena.memory).toBe(buddy.memory);
    expect(buddy.blockPages(arena.stateAddress)).toBe(1);
    expect(readSlot(arena.memory, HeaderSlot.Arena)).toBe(arena.stateAddress);
    expect(arena.stats()).toEqual({
      used: 0,
      capacity: PAGE - FIRST_DATA,
      chunks: 1,
      waste: 0,
      available: PAGE - FIRST_DATA,
      mode: 'buddy',
    });
    expect(arena.alloc(8)).toBe(arena.stateAddress + FIRST_DATA);
  });

  it('chains buddy blocks when a chunk is full; reset gives all but the first back', () => {
    const { buddy, arena, free1 } = setup();
    const ptrs = Array.from({ length: 10 }, () => arena.alloc(104));
    const st = arena.stats();
    expect(st.chunks).toBeGreaterThan(3);
    expect(st.used).toBe(1040);
    for (const c of arena.chunkList())
      expect(
        buddy.blockPages(c.address - (c.address === arena.stateAddress + STATE ? STATE : 0)),
      ).toBeGreaterThanOrEqual(1);
    for (const p of ptrs) expect(arena.chunkList().some((c) => p >= c.data && p + 104 <= c.end)).toBe(true);
    arena.reset();
    expect(buddy.freeCounts()).toEqual(free1);
    expect(arena.stats()).toMatchObject({ used: 0, chunks: 1, capacity: PAGE - FIRST_DATA, waste: 0 });
  });

  it('a request larger than chunkPages gets a larger block', () => {
    const { buddy, arena } = setup(16, 1);
    const p = arena.alloc(1000, 64);
    expect(p % 64).toBe(0);
    const c = arena.chunkList().at(-1)!;
    expect(c.end - p).toBeGreaterThanOrEqual(1000);
    expect(buddy.blockPages(c.address)).toBe(8); // 16 + 1000 + 63 bytes -> 5 pages -> a block of 8
  });

  it('rewind gives back the blocks chained after the mark', () => {
    const { buddy, arena } = setup();
    arena.alloc(100);
    const m = arena.mark();
    const free = buddy.freeCounts();
    const st = arena.stats();
    for (let i = 0; i < 8; i++) arena.alloc(200);
    expect(buddy.freeCounts()).not.toEqual(free);
    arena.rewind(m);
    expect(buddy.freeCounts()).toEqual(free);
    expect(arena.stats()).toEqual(st);
  });

  it('buddy exhausted: OutOfMemoryError with the size asked, unchanged, usable after', () => {
    const { buddy, arena } = setup(4, 1);
    arena.alloc(40);
    arena.alloc(200);
    arena.alloc(200);
    arena.alloc(200); // 4 pages taken
    const free = buddy.freeCounts();
    const st = arena.stats();
    let err: unknown;
    try {
      arena.alloc(100);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OutOfMemoryError);
    expect((err as OutOfMemoryError).requested).toBe(100);
    expect(buddy.freeCounts()).toEqual(free);
    expect(arena.stats()).toEqual(st);
    arena.reset();
    expect(arena.alloc(40)).toBe(arena.stateAddress + FIRST_DATA);
  });

  it('maxBytes caps the total capacity', () => {
    const { arena } = setup(64, 1, 1000);
    let n = 0;
    expect(() => {
      for (;;) {
        arena.alloc(100);
        n++;
      }
    }).toThrow(OutOfMemoryError);
    expect(arena.capacity).toBeLessThanOrEqual(1000);
    expect(n).toBeGreaterThanOrEqual(7);
    expect(() => arena.alloc(1001)).toThrow(OutOfMemoryError);
  });

  it('dispose gives every block back, the first too, and clears the header slot', () => {
    const { buddy, arena, free0 } = setup();
    for (let i = 0; i < 10; i++) arena.alloc(100);
    const other = Arena.attach(arena.memory, { buddy });
    arena.dispose();
    expect(buddy.freeCounts()).toEqual(free0);
    expect(readSlot(buddy.memory!, HeaderSlot.Arena)).toBe(0);
    expect(() => other.alloc(8)).toThrow(MemkitError);
  });

  it('using arena = new Arena({ buddy }) returns its pages at the end of the block', () => {
    const buddy = new BuddyAllocator({ pages: 16, pageSize: PAGE });
    const free0 = buddy.freeCounts();
    {
      using arena = new Arena({ buddy, chunkPages: 2 });
      for (let i = 0; i < 20; i++) arena.alloc(64);
    }
    expect(buddy.freeCounts()).toEqual(free0);
  });

  it('several arenas share one buddy; only the first is registered in the header', () => {
    const buddy = new BuddyAllocator({ pages: 32, pageSize: PAGE });
    const a = new Arena({ buddy, chunkPages: 1 });
    const b = new Arena({ buddy, chunkPages: 1 });
    expect(readSlot(buddy.memory!, HeaderSlot.Arena)).toBe(a.stateAddress);
    const pa = Array.from({ length: 20 }, (_, i) => {
      const p = a.alloc(50);
      a.memory.u8.fill(i, p, p + 50);
      return p;
    });
    const pb = Array.from({ length: 20 }, () => {
      const p = b.alloc(50);
      b.memory.u8.fill(0xee, p, p + 50);
      return p;
    });
    pa.forEach((p, i) => expect(a.memory.u8.subarray(p, p + 50).every((x) => x === i)).toBe(true));
    b.reset();
    expect(pb.length).toBe(20);
    const bb = Arena.attach(buddy.memory!, { at: b.stateAddress, buddy });
    expect(bb.used).toBe(0);
  });

  it('attach to a buddy-backed arena needs the buddy', () => {
    const { arena, buddy } = setup();
    expect(() => Arena.attach(arena.memory)).toThrow(/buddy/);
    const stranger = new BuddyAllocator({ pages: 4, pageSize: PAGE });
    expect(() => Arena.attach(arena.memory, { buddy: stranger })).toThrow(InvalidArgumentError);
    const again = Arena.attach(BuddyAllocator.attach(buddy.memory!).memory!, { buddy });
    arena.alloc(40);
    expect(again.used).toBe(40);
  });

  it('no first chunk to be had: OutOfMemoryError from the constructor, nothing taken', () => {
    const buddy = new BuddyAllocator({ pages: 2, pageSize: PAGE });
    buddy.allocPages(2);
    const free = buddy.freeCounts();
    expect(() => new Arena({ buddy })).toThrow(OutOfMemoryError);
    expect(buddy.freeCounts()).toEqual(free);
  });
});
