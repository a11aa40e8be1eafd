/**
 * TlsfHeap's bad-input matrix beyond test/tlsf/hardening.test.ts:
 * `TlsfHeap.recover(memory, slot, at)` x every bad value, addresses of the
 * wrong kind (a block's header, a chunk's first byte, its sentinel, a free
 * or quick-listed block, just past the heap), forEachBlock / forEachChunk
 * with a visit that throws (the lock of a shared heap is released) or frees
 * and allocates mid-walk, shrink while blocks are live, and a live heap whose
 * block headers or control words are damaged under it: each method then
 * answers with a MemkitError or a sound answer, never a write outside the heap.
 */
import { describe, expect, it } from 'vitest';
import { BuddyAllocator, HEADER_BYTES, InvalidArgumentError, Memory, MemkitError, TlsfHeap } from '../../src/index.js';
import { badValues, refused } from '../support/bad-values.js';

function world(shared = false) {
  const memory = Memory.create({ bytes: 1 << 20, shared });
  const buddy = new BuddyAllocator({ memory });
  const heap = new TlsfHeap(buddy, { chunkPages: 8 });
  const blocks = [100, 2000, 40, 7000, 300, 24, 24].map((n) => heap.alloc(n));
  heap.free(blocks[2]!); // a free block
  heap.free(blocks[5]!); // a quick-listed one
  return { memory, buddy, heap, blocks };
}

describe('TlsfHeap.recover', () => {
  it('refuses a bad memory, slot or at with a MemkitError and writes nothing', () => {
    const { memory, heap, blocks } = world(true);
    const before = Buffer.from(memory.u8);
    const vals: Array<[string, unknown]> = [...badValues(heap.region, 4096), ['{}', {}]];
    let valueOf = 0;
    const counting = {
      valueOf: () => {
        valueOf++;
        return heap.region;
      },
    };
    for (const [l, x] of vals) {
      refused(`recover(${l}, 1)`, () => TlsfHeap.recover(x as Memory, 1));
      if (!(typeof x === 'number' && Number.isInteger(x) && x >= 1 && x <= 31))
        refused(`recover(memory, ${l})`, () => TlsfHeap.recover(memory, x as number));
      if (l !== 'undefined') refused(`recover(memory, 1, ${l})`, () => TlsfHeap.recover(memory, 1, x as number));
      expect(Buffer.compare(memory.u8, before), l).toBe(0);
    }
    for (const at of [counting, String(heap.region), heap.region + 0.5, heap.region + 4, blocks[0]!])
      refused(`recover(memory, 1, ${String(at)})`, () => TlsfHeap.recover(memory, 1, at as number));
    expect(valueOf).toBe(0);
    expect(Buffer.compare(memory.u8, before)).toBe(0);
    expect(TlsfHeap.recover(memory, 3, heap.region)).toBe(false); // a slot nobody holds: nothing to do
    expect(Buffer.compare(memory.u8, before)).toBe(0);
  });
});

describe('TlsfHeap: addresses of the wrong kind', () => {
  it('free / usableSize / realloc refuse them; isAllocated says false; the memory byte-identical', () => {
    const { memory, heap, blocks } = world();
    const chunks: number[] = [];
    heap.forEachChunk((a) => chunks.push(a));
    const chunk = chunks[0]!;
    const [a, b] = [blocks[0]!, blocks[1]!];
    const wrong: Array<[string, number]> = [
      ["a block's header", a - 8],
      ["a block's header + 4", a - 4],
      ["a block's second word", a + 8],
      ["a block's last word", a + heap.usableSize(a) - 8],
      ["a block's end (the next header)", a + heap.usableSize(a)],
      ['a free block', blocks[2]!],
      ['a quick-listed block', blocks[5]!],
      ["a chunk's first byte", chunk],
      ["a chunk's first byte + 16 (inside its first block)", chunk + 16],
      ["a chunk's sentinel", chunk + heap.chunkBytes - 8],
      ["a chunk's end", chunk + heap.chunkBytes],
      ['the control region', heap.region],
      ['the control region + 16', heap.region + 16],
      ['the memkit header', 16],
      ['the buddy base', heap.buddy.base],
      ['just past the memory', memory.buffer.byteLength],
      ['the last word of the memory', memory.buffer.byteLength - 8],
      ['2^32 - 8', 2 ** 32 - 8],
      ['b - 16', b - 16],
    ];
    const stats = JSON.stringify(heap.stats());
    let n = 0;
    for (const [l, x] of wrong) {
      expect(heap.isAllocated(x), `isAllocated(${l})`).toBe(false);
      for (const [name, call] of [
        ['free', () => heap.free(x)],
        ['usableSize', () => heap.usableSize(x)],
        ['realloc(x, 8)', () => heap.realloc(x, 8)],
        ['realloc(x, 9000)', () => heap.realloc(x, 9000)],
      ] as const) {
        const before = Buffer.from(memory.u8);
        refused(`${name}(${l})`, call);
        expect(Buffer.compare(memory.u8, before), `${name}(${l})`).toBe(0);
        expect(JSON.stringify(heap.stats())).toBe(stats);
        n++;
      }
    }
    expect(n).toBe(wrong.length * 4);
    heap.checkInvariants();
  });
});

describe('TlsfHeap: walks and shrink', () => {
  it('a visit that throws: the error passes through, and a shared heap is unlocked after', () => {
    const { memory, heap } = world(true);
    const boom = new Error('boom');
    expect(() =>
      heap.forEachBlock(() => {
        throw boom;
      }),
    ).toThrow(boom);
    expect(() =>
      heap.forEachChunk(() => {
        throw boom;
      }),
    ).toThrow(boom);
    const other = TlsfHeap.attach(memory); // takes the lock: it would wait forever if held
    other.free(other.alloc(500));
    other.detach();
    heap.checkInvariants();
  });

  it('a visit that frees and allocates mid-walk: every visited block existed, the heap stays sound', () => {
    const { heap } = world();
    const live = new Set<number>();
    for (let i = 0; i < 100; i++) live.add(heap.alloc([24, 100, 700, 3000][i % 4]!));
    const used: number[] = [];
    heap.forEachBlock((a, _s, free) => {
      if (!free) used.push(a);
    });
    const seen: number[] = [];
    heap.forEachBlock((a, _s, free) => {
      seen.push(a);
      if (!free && live.has(a)) {
        heap.free(a);
        live.delete(a);
        live.add(heap.alloc(50));
      }
    });
    expect(seen.filter((a) => used.includes(a)).length).toBe(used.length);
    heap.checkInvariants();
    const chunks: number[] = [];
    heap.forEachChunk((A) => {
      chunks.push(A);
      heap.alloc(heap.maxSize); // takes a new chunk mid-walk
    });
    expect(new Set(chunks).size).toBe(chunks.length);
    heap.checkInvariants();
  });

  it('shrink with live blocks keeps them and their bytes', () => {
    const { heap, memory } = world();
    const live = [24, 100, 700, 3000, 9000].map((s) => heap.alloc(s));
    live.forEach((b, i) => memory.u8.fill(i + 1, b, b + heap.usableSize(b)));
    heap.shrink();
    heap.shrink();
    heap.checkInvariants();
    live.forEach((b, i) => {
      expect(heap.isAllocated(b)).toBe(true);
      expect(memory.u8.subarray(b, b + heap.usableSize(b)).every((v) => v === i + 1)).toBe(true);
    });
  });

  it('forEachBlock / forEachChunk refuse a non-function on an empty heap too', () => {
    const heap = new TlsfHeap(new BuddyAllocator({ pages: 64 }), { chunkPages: 8 });
    for (const [l, x] of badValues(64, 4096)) {
      if (l === 'a function') continue;
      expect(() => heap.forEachBlock(x as never), l).toThrow(InvalidArgumentError);
      expect(() => heap.forEachChunk(x as never), l).toThrow(InvalidArgumentError);
    }
  });
});

describe('TlsfHeap: a live heap damaged under it', () => {
  it('each word of the first blocks and of the control region, flipped: every method answers typed or sound, writes stay inside the heap', () => {
    let typed = 0;
    let answered = 0;
    const bad: string[] = [];
    for (const flip of [0xffffffff, 0x80000000, 0x7, 0x10, 0x1000]) {
      for (let w = 0; w < 96; w++) {
        const { memory, heap, blocks } = world();
        const chunks: number[] = [];
        heap.forEachChunk((a) => chunks.push(a));
        // Words 0..31: the first blocks of the chunk; 32..95: the control region's first 64 words.
        const word = w < 32 ? (chunks[0]! >>> 2) + w : (heap.region >>> 2) + (w - 32);
        memory.u32[word] = memory.u32[word]! ^ flip;
        // Outside the heap: a buddy block of someone else's (filled), and the memkit header.
        const canary = heap.buddy.allocPages(4);
        const canaryBytes = 4 * heap.buddy.pageSize;
        memory.u8.fill(0x5a, canary, canary + canaryBytes);
        const guard = Buffer.from(memory.u8.subarray(0, HEADER_BYTES));
        for (const call of [
          () => heap.usableSize(blocks[0]!),
          () => heap.isAllocated(blocks[1]!),
          () => heap.free(blocks[0]!),
          () => heap.realloc(blocks[1]!, 5000),
          () => heap.alloc(64),
          () => heap.alloc(5000),
          () => heap.stats(),
          () => heap.forEachBlock(() => {}),
          () => heap.checkInvariants(),
          () => heap.shrink(),
          () => heap.footprint(),
        ]) {
          try {
            call();
            answered++;
          } catch (e) {
            expect(e, `word ${w} ^ ${flip.toString(16)}: ${String(e)}`).toBeInstanceOf(MemkitError);
            typed++;
          }
        }
        if (Buffer.compare(memory.u8.subarray(0, HEADER_BYTES), guard) !== 0)
          bad.push(`${w}^${flip.toString(16)}:header`);
        if (!memory.u8.subarray(canary, canary + canaryBytes).every((v) => v === 0x5a))
          bad.push(`${w}^${flip.toString(16)}:canary`);
      }
    }
    expect(bad).toEqual([]);
    expect(typed).toBeGreaterThan(0);
    expect(answered).toBeGreaterThan(0);
  });
});
