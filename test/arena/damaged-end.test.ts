/**
 * The arena's `end` word damaged upwards: until the twentieth session the fast
 * path trusted it and bumped past the current chunk (in buddy mode into
 * another allocator's pages). Now it bumps only while `end` reads what a slow
 * path last found in the chunk's header, so the next alloc takes the slow
 * path, which compares `end` with the header and throws HeapCorruptionError
 * with the arena as it was.
 */
import { describe, expect, it } from 'vitest';
import { Arena, BuddyAllocator, HeapCorruptionError } from '../../src/index.js';
import { S_END } from '../../src/arena/layout.js';

const makers: Array<[string, () => Arena]> = [
  ['a fixed arena', () => new Arena({ bytes: 4096 })],
  ['a growing arena', () => new Arena({ bytes: 4096, maxBytes: 1 << 16 })],
  ['a shared arena', () => new Arena({ bytes: 4096, maxBytes: 1 << 16, shared: true })],
  ['an arena on a buddy', () => new Arena({ buddy: new BuddyAllocator({ pages: 64 }), chunkPages: 1 })],
];

describe('Arena: a damaged end word hands out nothing past the chunk', () => {
  for (const [name, make] of makers) {
    for (const bump of [8, 4096, 0x10000]) {
      it(`${name}, end + ${bump}`, () => {
        const arena = make();
        for (let i = 0; i < 4; i++) arena.alloc(16); // the fast path has run (and trusts end)
        const chunk = arena.chunkList().at(-1)!;
        const u32 = arena.memory.u32;
        const w = (arena.stateAddress >>> 2) + S_END;
        u32[w] = u32[w]! + bump;
        const before = Buffer.from(arena.memory.u8);
        // Fill the chunk to its true end: every block inside it, and the first that is not throws.
        let threw = false;
        for (let i = 0; i < 1000 && !threw; i++) {
          try {
            const p = arena.alloc(16);
            expect(p + 16).toBeLessThanOrEqual(chunk.end);
          } catch (e) {
            expect(e).toBeInstanceOf(HeapCorruptionError);
            threw = true;
          }
        }
        expect(threw).toBe(true);
        expect(Buffer.compare(before, Buffer.from(arena.memory.u8))).toBe(0); // the first alloc threw
      });
    }
  }
});
