import { describe, expect, it } from 'vitest';
import {
  BuddyAllocator,
  DoubleFreeError,
  HeapCorruptionError,
  InvalidArgumentError,
  InvalidFreeError,
  Memory,
  MemkitError,
  OutOfMemoryError,
} from '../../src/index.js';

/** A fingerprint of the whole allocator state (the state bytes). */
const snapshot = (b: BuddyAllocator) => Buffer.from(b.state.u8.slice(0, b.base)).toString('base64');

describe('bad input gets a typed error and leaves the buddy unchanged', () => {
  const setup = () => {
    const b = new BuddyAllocator({ pages: 16 });
    const a = b.allocPages(2);
    const c = b.allocPages(1);
    return { b, a, c };
  };

  it.each([0, -1, 1.5, NaN, Infinity, -Infinity])('allocPages(%s) throws InvalidArgumentError', (n) => {
    const { b } = setup();
    const before = snapshot(b);
    expect(() => b.allocPages(n)).toThrow(InvalidArgumentError);
    expect(() => b.allocPagesExact(n)).toThrow(InvalidArgumentError);
    expect(snapshot(b)).toBe(before);
  });

  it('a request beyond capacity throws OutOfMemoryError with the size, and the buddy still works', () => {
    const { b } = setup();
    const before = snapshot(b);
    let err: unknown;
    try {
      b.allocPages(17);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OutOfMemoryError);
    expect((err as OutOfMemoryError).requested).toBe(17);
    expect(() => b.allocPages(16)).toThrow(OutOfMemoryError); // 13 pages free but no 16-block
    expect(snapshot(b)).toBe(before);
    expect(b.allocPages(8)).toBeGreaterThan(0);
  });

  it('free of an address never allocated, of an interior address, of a misaligned one, out of range', () => {
    const { b, a } = setup();
    const before = snapshot(b);
    const ps = b.pageSize;
    expect(() => b.free(b.base + 8 * ps)).toThrow(InvalidFreeError); // inside a free block, never allocated
    expect(() => b.free(a + ps)).toThrow(/interior pointer/); // second page of a 2-page block
    expect(() => b.free(a + 5)).toThrow(InvalidFreeError);
    expect(() => b.free(0)).toThrow(InvalidFreeError);
    expect(() => b.free(b.base + 16 * ps)).toThrow(/outside/);
    expect(() => b.free(-4096)).toThrow(InvalidArgumentError); // not an address at all
    expect(() => b.free(NaN)).toThrow(InvalidArgumentError);
    expect(snapshot(b)).toBe(before);
    b.checkInvariants();
  });

  it('double free throws DoubleFreeError naming the address, and nothing changes', () => {
    const { b, a, c } = setup();
    b.free(c);
    const before = snapshot(b);
    expect(() => b.free(c)).toThrow(DoubleFreeError);
    expect(() => b.free(c)).toThrow(new RegExp(c.toString(16)));
    b.free(a);
    expect(() => b.free(a)).toThrow(DoubleFreeError); // after coalescing into a bigger block
    expect(snapshot(b)).not.toBe(before); // (a was legitimately freed in between)
    b.checkInvariants();
    expect(b.freeCounts()).toEqual([0, 0, 0, 0, 1]);
  });

  it('bad options are refused', () => {
    expect(() => new BuddyAllocator({ pages: 0 })).toThrow(InvalidArgumentError);
    expect(() => new BuddyAllocator({ pages: 4, pageSize: 1000 })).toThrow(InvalidArgumentError);
    expect(() => new BuddyAllocator({ pages: 1.5 })).toThrow(InvalidArgumentError);
    expect(() => new BuddyAllocator({ pages: 4, maxOrder: 40 })).toThrow(InvalidArgumentError);
    expect(() => new BuddyAllocator({ pages: 4, pagesize: 4096 } as never)).toThrow(/unknown option "pagesize"/);
    expect(new BuddyAllocator({}).pages).toBe(256); // every option has a default
    expect(new BuddyAllocator().stats()).toMatchObject({ pages: 256, pageSize: 4096, freePages: 256 });
    expect(new InvalidArgumentError('x')).toBeInstanceOf(MemkitError);
  });
});

describe('attach: a second instance over the same state', () => {
  it('sees allocations made by the first, on a SharedArrayBuffer and on a copy of the buffer', () => {
    const mem = Memory.create({ bytes: 1 << 20, shared: true });
    const b1 = new BuddyAllocator({ memory: mem });
    const a = b1.allocPages(3);
    const b2 = BuddyAllocator.attach(Memory.wrap(mem.buffer));
    expect(b2.blockPages(a)).toBe(4);
    expect(b2.freeCounts()).toEqual(b1.freeCounts());
    const c = b2.allocPages(1);
    expect(b1.isAllocated(c)).toBe(true);
    b1.free(c);
    expect(() => b2.free(c)).toThrow(DoubleFreeError);

    const copy = Memory.wrap((mem.buffer as SharedArrayBuffer).slice(0));
    const b3 = BuddyAllocator.attach(copy);
    b3.free(a); // frees in the copy only
    expect(b1.isAllocated(a)).toBe(true);
    expect(b3.isAllocated(a)).toBe(false);
    b3.checkInvariants();
  });

  it('works over a WebAssembly.Memory grown behind its back', () => {
    const wasm = new WebAssembly.Memory({ initial: 2, maximum: 64 });
    const mem = Memory.wrap(wasm);
    const b = new BuddyAllocator({ memory: mem, pages: 8 });
    const a = b.allocPages(1);
    mem.u8[a] = 42;
    wasm.grow(4); // as wasm code would: detaches the old buffer
    const c = b.allocPages(2);
    expect(mem.u8[a]).toBe(42);
    b.free(a);
    b.free(c);
    b.checkInvariants();
  });

  it('offsets-only state can be attached through its state Memory', () => {
    const b = new BuddyAllocator({ pages: 1024, pageSize: 256, offsetsOnly: true });
    const a = b.allocPages(5);
    expect(a).toBe(0); // offsets start at base 0 in offsets-only mode
    const twin = BuddyAllocator.attach(b.state);
    expect(twin.memory).toBeNull();
    expect(twin.blockPages(a)).toBe(8);
  });

  it('refuses a Memory with no buddy', () => {
    const mem = Memory.create({ bytes: 4096 });
    expect(() => BuddyAllocator.attach(mem)).toThrow(HeapCorruptionError);
  });
});

describe('growth on demand: check first, then act', () => {
  it('a request that growth cannot serve throws OutOfMemoryError without growing', () => {
    const b = new BuddyAllocator({ pages: 5, maxPages: 7, pageSize: 256 });
    const held = b.allocPages(4); // pages 0-3
    const tail = b.allocPages(1); // page 4: the end is allocated
    const bytes = b.memory!.byteLength;
    const before = snapshot(b);
    // 4 pages: the block [4, 8) would need page 4 and pass maxPages 7
    expect(() => b.allocPages(4)).toThrow(OutOfMemoryError);
    expect(() => b.allocPagesExact(3)).toThrow(OutOfMemoryError);
    expect(b.pages).toBe(5);
    expect(b.memory!.byteLength).toBe(bytes);
    expect(snapshot(b)).toBe(before);
    b.free(tail);
    b.free(held);
    b.checkInvariants();
  });

  it('grows just enough when the grown heap has the block: free pages at the end merge with new ones', () => {
    const b = new BuddyAllocator({ pages: 6, maxPages: 8, pageSize: 256 });
    const low = b.allocPages(4); // pages 0-3; pages 4-5 free
    const p = b.allocPages(4); // needs [4, 8): grows by 2
    expect(p).toBe(b.base + 4 * 256);
    expect(b.pages).toBe(8);
    b.free(p);
    b.free(low);
    b.checkInvariants();
    expect(b.freeCounts()).toEqual([0, 0, 0, 1]);
  });

  it('a memory that cannot grow: OutOfMemoryError, nothing changed', () => {
    const mem = Memory.create({ bytes: 5 * 4096 }); // fixed: the state page and 4 pages
    const b = new BuddyAllocator({ memory: mem, pages: 4, pageSize: 4096, maxPages: 12 });
    b.allocPages(4);
    const before = snapshot(b);
    expect(() => b.allocPages(4)).toThrow(/cannot grow/);
    expect(snapshot(b)).toBe(before);
    expect(b.pages).toBe(4);
  });
});
