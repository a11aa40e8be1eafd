/**
 * Every public operation of Memory, BuddyAllocator and Arena works after the
 * wasm side grows a WebAssembly.Memory (which detaches the buffer memkit's
 * views were made over): two identical heaps run the same script; one of
 * them is grown "by the wasm code" between every step; all results must be
 * the same, reports and iterators included.
 */
import { describe, expect, it } from 'vitest';
import { Arena, BuddyAllocator, Memory } from '../../src/index.js';

interface Heap {
  wasm: WebAssembly.Memory;
  mem: Memory;
  buddy: BuddyAllocator;
  arena: Arena;
}

function makeHeap(): Heap {
  const wasm = new WebAssembly.Memory({ initial: 4, maximum: 200 });
  const mem = Memory.wrap(wasm);
  const buddy = new BuddyAllocator({ memory: mem, pages: 32, pageSize: 1024, maxPages: 512 });
  const arena = new Arena({ buddy, chunkPages: 1 });
  return { wasm, mem, buddy, arena };
}

/** Every public method, each step a (name, call) whose result is recorded. */
function script(h: Heap): Array<[string, () => unknown]> {
  const { mem, buddy, arena } = h;
  const kept: number[] = [];
  let mark = 0;
  const blocks: Array<[number, number, boolean, number]> = [];
  return [
    ['memory.byteLength', () => mem.byteLength > 0],
    [
      'memory.u8 sees the data',
      () => {
        mem.sync();
        return mem.u8[buddy.base];
      },
    ],
    [
      'buddy.allocPages',
      () => {
        const a = buddy.allocPages(3);
        kept.push(a);
        mem.sync();
        mem.u8[a] = 7;
        return a;
      },
    ],
    [
      'buddy.allocPagesExact',
      () => {
        const a = buddy.allocPagesExact(5);
        kept.push(a);
        return a;
      },
    ],
    ['buddy.pages', () => buddy.pages],
    ['buddy.freePages', () => buddy.freePages],
    ['buddy.blockPages', () => buddy.blockPages(kept[0]!)],
    ['buddy.isAllocated', () => buddy.isAllocated(kept[1]!)],
    ['buddy.freeCounts', () => buddy.freeCounts()],
    ['buddy.freeList', () => buddy.freeList(0).concat(buddy.freeList(2))],
    ['buddy.buddyinfo', () => buddy.buddyinfo()],
    ['buddy.stats', () => buddy.stats()],
    [
      'buddy.forEachBlock',
      () => {
        blocks.length = 0;
        buddy.forEachBlock((...b) => blocks.push(b));
        return blocks.slice();
      },
    ],
    ['buddy.checkInvariants', () => buddy.checkInvariants()],
    [
      'buddy.grow',
      () => {
        buddy.grow(8);
        return buddy.pages;
      },
    ],
    [
      'buddy.free',
      () => {
        buddy.free(kept.pop()!);
        return buddy.freePages;
      },
    ],
    ['BuddyAllocator.attach', () => BuddyAllocator.attach(mem).stats()],
    [
      'arena.alloc',
      () => {
        const p = arena.alloc(100);
        mem.sync();
        mem.u8[p] = 9;
        return p;
      },
    ],
    [
      'arena.mark',
      () => {
        mark = arena.mark();
        return mark;
      },
    ],
    ['arena.alloc big', () => arena.alloc(3000)],
    ['arena.used', () => arena.used],
    ['arena.capacity', () => arena.capacity],
    ['arena.stats', () => arena.stats()],
    ['arena.chunkList', () => arena.chunkList()],
    ['arena.bytes', () => arena.bytes.length === mem.byteLength],
    ['arena.view', () => Array.from(arena.view(kept[0]!, 2))],
    ['arena.checkInvariants', () => arena.checkInvariants()],
    [
      'arena.rewind',
      () => {
        arena.rewind(mark);
        return arena.stats();
      },
    ],
    ['arena.run', () => arena.run((a) => a.alloc(16))],
    [
      'arena.scope',
      () => {
        {
          using _s = arena.scope();
          arena.alloc(8);
        }
        return arena.used;
      },
    ],
    ['Arena.attach', () => Arena.attach(mem, { buddy }).stats()],
    [
      'arena.reset',
      () => {
        arena.reset();
        return arena.stats();
      },
    ],
    [
      'memory.grow',
      () => {
        mem.grow(1);
        return mem.byteLength === h.wasm.buffer.byteLength;
      },
    ],
    [
      'memory.growTo',
      () => {
        mem.growTo(mem.byteLength + 1);
        return mem.byteLength === h.wasm.buffer.byteLength;
      },
    ],
    [
      'buddy.free last',
      () => {
        buddy.free(kept.pop()!);
        return buddy.freeCounts();
      },
    ],
    ['buddy.checkInvariants end', () => buddy.checkInvariants()],
  ];
}

describe('a wasm-side grow between any two calls changes no result', () => {
  it('runs every public method on a grown and a not-grown twin and compares', () => {
    const plain = makeHeap();
    const grown = makeHeap();
    const a = script(plain);
    const b = script(grown);
    let grows = 0;
    for (let i = 0; i < a.length; i++) {
      const before = grown.wasm.buffer;
      grown.wasm.grow(1); // as wasm code would: the old buffer is detached
      grows++;
      expect(before.byteLength).toBe(0); // detached: every view over it is dead
      const [name, run] = a[i]!;
      expect(b[i]![1](), name).toEqual(run());
    }
    expect(grows).toBe(a.length);
    expect(grown.mem.byteLength).toBeGreaterThan(plain.mem.byteLength);
  });
});
