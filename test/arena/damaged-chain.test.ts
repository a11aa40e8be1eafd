/**
 * A buddy arena gives chunks back (reset, rewind, dispose) by walking its
 * chain of prev links from the current chunk. One damaged link pointing at
 * another owner's buddy block made `reset` give that block to the buddy
 * (until the twentieth session). Now the chain is walked first: it must lead
 * to the first chunk in as many steps as the arena has chunks.
 */
import { describe, expect, it } from 'vitest';
import { Arena, BuddyAllocator, HeapCorruptionError } from '../../src/index.js';
import { C_PREV } from '../../src/arena/layout.js';

function world() {
  const buddy = new BuddyAllocator({ pages: 64 });
  const arena = new Arena({ buddy, chunkPages: 1 });
  const m = arena.mark();
  for (let i = 0; i < 3; i++) arena.alloc(3000); // the first chunk, then two more
  const foreign = buddy.allocPages(1); // another owner's block
  const chunks = arena.chunkList().map((c) => c.address);
  return { buddy, arena, m, foreign, chunks };
}

describe('Arena on a buddy: a damaged chunk link gives back no block of another owner', () => {
  const calls: Array<[string, (w: ReturnType<typeof world>) => void]> = [
    ['reset', (w) => w.arena.reset()],
    ['rewind', (w) => w.arena.rewind(w.m)],
    ['dispose', (w) => w.arena.dispose()],
  ];
  for (const [name, call] of calls) {
    for (const at of [1, 2]) {
      it(`${name}, the prev link of chunk ${3 - at} (of 0, 1, 2) naming the foreign block`, () => {
        const w = world();
        expect(w.chunks.length).toBe(3);
        const u32 = w.arena.memory.u32;
        const c = w.chunks[w.chunks.length - at]!;
        u32[(c >>> 2) + C_PREV] = w.foreign;
        const before = Buffer.from(w.arena.memory.u8);
        expect(() => call(w)).toThrow(HeapCorruptionError);
        expect(w.buddy.isAllocated(w.foreign)).toBe(true);
        expect(Buffer.compare(before, Buffer.from(w.arena.memory.u8))).toBe(0);
      });
    }
  }
});
