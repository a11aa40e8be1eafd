/**
 * A buffer taken away under a live heap: its owner detaches it (transfers it
 * to a worker with `postMessage`, say) or, for a resizable ArrayBuffer,
 * shrinks it. The heap's metadata then points past the buffer's end, where
 * every read is `undefined`. Every call must say so with a HeapCorruptionError
 * (Memory.checkLive), not return NaN, not throw the engine's TypeError or
 * RangeError, not blame the caller's address.
 *
 * Covered: every allocator on a resizable ArrayBuffer shrunk or detached (sync
 * checks such a memory on every call); on a fixed ArrayBuffer detached, Kmalloc
 * (its fast paths read `undefined` and fall to its slow paths, which check),
 * BuddyAllocator, TlsfHeap, SlabCache and Arena (their slow paths and the
 * error paths their fast paths fall to check before they blame an address or
 * a damaged word), and ManagedHeap's methods (its allocation fast path bumps JS
 * copies of the run's bounds, so it notices at the run's end; its field
 * accessors check nothing and read `undefined`).
 */
import { describe, expect, it } from 'vitest';
import {
  Arena,
  BuddyAllocator,
  HeapCorruptionError,
  InvalidArgumentError,
  Kmalloc,
  ManagedHeap,
  Memory,
  SlabCache,
  TlsfHeap,
} from '../../src/index.js';
import { LOST, detach, resizable } from '../support/lost-buffer.js';

/** Each call throws the lost-buffer HeapCorruptionError. */
function expectLost(calls: Record<string, () => unknown>): void {
  for (const [name, call] of Object.entries(calls)) {
    let thrown: unknown = null;
    try {
      call();
    } catch (e) {
      thrown = e;
    }
    expect(thrown, name).toBeInstanceOf(HeapCorruptionError);
    expect((thrown as Error).message, name).toMatch(LOST);
  }
}

/** A Kmalloc heap over `buf` with live blocks of each tier: a size class, TLSF, whole pages. */
function kmallocWithBlocks(buf: ArrayBuffer): { k: Kmalloc; blocks: number[] } {
  const k = new Kmalloc({ memory: Memory.wrap(buf) });
  const blocks = [k.kmalloc(64), k.kmalloc(3000), k.kmalloc(100_000)];
  for (const p of blocks) k.memory.u8[p] = 7;
  return { k, blocks };
}

function kmallocCalls(k: Kmalloc, blocks: number[]): Record<string, () => unknown> {
  const calls: Record<string, () => unknown> = {
    'kmalloc(64)': () => k.kmalloc(64),
    'kmalloc(3000)': () => k.kmalloc(3000),
    'kmalloc(100000)': () => k.kmalloc(100_000),
    'kzalloc(64)': () => k.kzalloc(64),
    footprint: () => k.footprint(),
    shrink: () => k.shrink(),
    checkInvariants: () => k.checkInvariants(),
    slabinfo: () => k.slabinfo(),
    largeStats: () => k.largeStats(),
    forEachBlock: () => k.forEachBlock(() => {}),
    forEachTlsfChunk: () => k.forEachTlsfChunk(() => {}),
    'caches[0].stats': () => k.caches[0]!.stats(),
  };
  for (const p of blocks) {
    calls[`kfree(${p})`] = () => k.kfree(p);
    calls[`ksize(${p})`] = () => k.ksize(p);
    calls[`krealloc(${p}, 80)`] = () => k.krealloc(p, 80);
    calls[`krealloc(${p}, 5000)`] = () => k.krealloc(p, 5000);
    calls[`isAllocated(${p})`] = () => k.isAllocated(p);
    calls[`pageOwner(${p})`] = () => k.pageOwner(p);
  }
  return calls;
}

describe('a buffer detached or shrunk under a live heap: HeapCorruptionError from every call', () => {
  it('Kmalloc on a fixed ArrayBuffer, detached', () => {
    const buf = new ArrayBuffer(1 << 21);
    const { k, blocks } = kmallocWithBlocks(buf);
    detach(buf);
    expectLost(kmallocCalls(k, blocks));
  });

  it('Kmalloc on a resizable ArrayBuffer, shrunk, then detached', () => {
    const buf = resizable(1 << 21);
    const { k, blocks } = kmallocWithBlocks(buf);
    buf.resize(1 << 16); // the header and the first pages stay; the blocks' pages are gone
    expectLost(kmallocCalls(k, blocks));
    buf.resize(1 << 20);
    expectLost(kmallocCalls(k, blocks)); // still short of the 2 MiB it had
    detach(buf);
    expectLost(kmallocCalls(k, blocks));
  });

  it('BuddyAllocator, TlsfHeap, SlabCache and Arena on a resizable ArrayBuffer, shrunk', () => {
    const buf = resizable(1 << 20);
    const memory = Memory.wrap(buf);
    const buddy = new BuddyAllocator({ memory });
    const page = buddy.allocPages(2);
    const tlsf = new TlsfHeap(buddy, { chunkPages: 16 });
    const t = tlsf.alloc(100);
    const cache = new SlabCache(buddy, { name: 'obj', size: 96 });
    const o = cache.alloc();
    const arena = new Arena({ buddy });
    arena.alloc(100);
    buf.resize(1 << 12);
    expectLost({
      'buddy.allocPages': () => buddy.allocPages(1),
      'buddy.free': () => buddy.free(page),
      'buddy.checkInvariants': () => buddy.checkInvariants(),
      'tlsf.alloc': () => tlsf.alloc(100),
      'tlsf.free': () => tlsf.free(t),
      'tlsf.realloc': () => tlsf.realloc(t, 300),
      'cache.alloc': () => cache.alloc(),
      'cache.free': () => cache.free(o),
      'arena.alloc': () => arena.alloc(100),
    });
  });

  it('BuddyAllocator, TlsfHeap, SlabCache and Arena on a fixed ArrayBuffer, detached', () => {
    const buf = new ArrayBuffer(1 << 20);
    const buddy = new BuddyAllocator({ memory: Memory.wrap(buf) });
    const page = buddy.allocPages(3);
    const tlsf = new TlsfHeap(buddy, { chunkPages: 16 });
    const t = tlsf.alloc(100);
    tlsf.free(tlsf.alloc(40)); // a quick-listed block for the next alloc of its size
    const cache = new SlabCache(buddy, { name: 'obj', size: 96 });
    const o = cache.alloc();
    const arena = new Arena({ buddy });
    arena.alloc(100);
    detach(buf);
    expectLost({
      'buddy.allocPages(1)': () => buddy.allocPages(1),
      'buddy.allocPages(64)': () => buddy.allocPages(64),
      'buddy.free': () => buddy.free(page),
      'buddy.free(interior)': () => buddy.free(page + 4096),
      'buddy.stats': () => buddy.stats(),
      'buddy.checkInvariants': () => buddy.checkInvariants(),
      'buddy.pages': () => buddy.pages,
      'buddy.freePages': () => buddy.freePages,
      'buddy.isAllocated': () => buddy.isAllocated(page),
      'buddy.blockPages': () => buddy.blockPages(page),
      'buddy.freeCounts': () => buddy.freeCounts(),
      'buddy.buddyinfo': () => buddy.buddyinfo(),
      'buddy.forEachBlock': () => buddy.forEachBlock(() => {}),
      'tlsf.alloc(40)': () => tlsf.alloc(40),
      'tlsf.alloc(2000)': () => tlsf.alloc(2000),
      'tlsf.free': () => tlsf.free(t),
      'tlsf.realloc': () => tlsf.realloc(t, 300),
      'tlsf.usableSize': () => tlsf.usableSize(t),
      'tlsf.stats': () => tlsf.stats(),
      'tlsf.checkInvariants': () => tlsf.checkInvariants(),
      'tlsf.isAllocated': () => tlsf.isAllocated(t),
      'tlsf.footprint': () => tlsf.footprint(),
      'tlsf.shrink': () => tlsf.shrink(),
      'tlsf.forEachChunk': () => tlsf.forEachChunk(() => {}),
      'tlsf.forEachBlock': () => tlsf.forEachBlock(() => {}),
      'cache.alloc': () => cache.alloc(),
      'cache.free': () => cache.free(o),
      'cache.checkInvariants': () => cache.checkInvariants(),
      'cache.isAllocated': () => cache.isAllocated(o),
      'cache.shrink': () => cache.shrink(),
      'cache.stats': () => cache.stats(),
      'cache.footprint': () => cache.footprint(),
      'cache.forEachSlab': () => cache.forEachSlab(() => {}),
      'cache.freeObjects': () => cache.freeObjects(o - (o % 4096)),
      'arena.alloc': () => arena.alloc(100),
    });
  });

  it('Memory itself: byteLength, growable, grow and growTo name the loss (grow said out of memory)', () => {
    const fixed = new ArrayBuffer(1 << 16);
    const a = Memory.wrap(fixed);
    const shrinking = resizable(1 << 16);
    const b = Memory.wrap(shrinking);
    expect([a.byteLength, b.byteLength, b.growable]).toEqual([1 << 16, 1 << 16, true]);
    detach(fixed);
    shrinking.resize(1 << 12);
    for (const m of [a, b])
      expectLost({
        byteLength: () => m.byteLength,
        growable: () => m.growable,
        grow: () => m.grow(4096),
        growTo: () => m.growTo(1 << 20),
      });
  });

  it('a resizable ArrayBuffer its owner grows: no false alarm, the heap goes on', () => {
    const buf = resizable(1 << 21);
    const { k, blocks } = kmallocWithBlocks(buf);
    buf.resize(1 << 22);
    const p = k.kmalloc(64);
    k.kfree(p);
    for (const b of blocks) {
      expect(k.memory.u8[b]).toBe(7);
      k.kfree(b);
    }
    k.checkInvariants();
  });

  it('a constructor or attach given a memory whose buffer was detached: InvalidArgumentError; a heap cut short: HeapCorruptionError', () => {
    const fresh = new ArrayBuffer(1 << 20);
    const memory = Memory.wrap(fresh);
    detach(fresh);
    expect(() => new Kmalloc({ memory })).toThrow(InvalidArgumentError);
    expect(() => new BuddyAllocator({ memory })).toThrow(InvalidArgumentError);
    const made = new ArrayBuffer(1 << 20);
    new Kmalloc({ memory: Memory.wrap(made) });
    const again = Memory.wrap(made);
    detach(made);
    expect(() => Kmalloc.attach(again)).toThrow(InvalidArgumentError);
    const shrunk = resizable(1 << 20);
    const heap = new Kmalloc({ memory: Memory.wrap(shrunk) });
    shrunk.resize(1 << 16);
    // A truncated heap, as attach's fsck names one (README, Guarantees).
    expectLost({
      'Kmalloc.attach': () => Kmalloc.attach(heap.memory),
      'BuddyAllocator.attach': () => BuddyAllocator.attach(heap.memory),
    });
  });

  it('ManagedHeap on its buffer detached: its methods at once, its allocation by the end of the run', () => {
    const heap = new ManagedHeap({ bytes: 1 << 20 });
    const Node = heap.defineType('Node', { next: 'ref', value: 'i32' });
    const a = Node.alloc();
    const root = heap.root(a);
    detach(heap.memory.buffer as ArrayBuffer);
    expectLost({
      collect: () => heap.collect(),
      step: () => heap.step(),
      stats: () => heap.stats(),
      root: () => heap.root(a),
      'root.set': () => root.set(a),
      'next.set': () => Node.fields.next.set(a, a),
      defineType: () => heap.defineType('Other', { x: 'i32' }),
    });
    // The fast path hands out the rest of its run (JS copies of its bounds), then says so.
    let thrown: unknown = null;
    for (let i = 0; i < 100_000 && thrown === null; i++) {
      try {
        Node.alloc();
      } catch (e) {
        thrown = e;
      }
    }
    expect(thrown).toBeInstanceOf(HeapCorruptionError);
    expect((thrown as Error).message).toMatch(LOST);
  });
});
