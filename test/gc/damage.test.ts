/**
 * A live ManagedHeap whose state block is damaged one word at a time (the
 * block lists, the pool of empty blocks, the root tables and stacks, the
 * mark and weak stacks, the finalization queue...), then its public methods
 * called: each answers or throws a MemkitError, none hangs, and neither the
 * memkit header nor a block the program allocated from the same backend
 * Kmalloc changes or is freed. Until 5 Dec, one damaged block-list head or
 * empty-pool count made a collect write into the memkit header, a root
 * table's length made collect or stats run 2^32 times, and a damaged
 * finalization-queue link threw the engine's TypeError; and until the
 * session after, a table address damaged to name the program's own block
 * (the sixth value of each word) made a collect, a pushRoot or a scope's
 * root write into that block. Runs in a child process (damage.child.ts)
 * under a watchdog.
 */
import { describe, expect, it } from 'vitest';
import { HeapCorruptionError, Kmalloc, ManagedHeap } from '../../src/index.js';
import { S_RFREE, S_ROOTS } from '../../src/gc/layout.js';
import { runDamageChild } from '../support/damage-child.js';

const CHILD = new URL('./damage.child.ts', import.meta.url);

describe('ManagedHeap: every method on a live heap with one damaged state word', () => {
  it('typed errors only, no hang, nothing of the program written or freed', async () => {
    const r = await runDamageChild(CHILD, [], 5000);
    expect(r.hung).toBeNull();
    expect(r.results).toEqual([]);
    expect(r.done).toBe(48 * 6);
  }, 120000);
});

describe("ManagedHeap: a damaged link of the root table's free list", () => {
  it('is refused (HeapCorruptionError) before a root is written past the table', () => {
    const k = new Kmalloc({ bytes: 4 << 20 });
    const heap = new ManagedHeap({ backend: k, autoCollect: false });
    const T = heap.defineType('T', { x: 'i32' });
    const mine = k.alloc(300); // the program's own block, past the root table
    k.memory.u8.fill(0x5a, mine, mine + 300);
    const u32 = k.memory.u32;
    const s = heap.stateAddress >>> 2;
    const rb = u32[s + S_ROOTS]! >>> 2;
    expect(mine >>> 2).toBeGreaterThan(rb);
    // The free list's head slot links to a slot inside the program's block (slot k - 1 at rb + 4 (k - 1)).
    const head = u32[s + S_RFREE]!;
    const into = Math.floor(((mine >>> 2) - rb) / 4) + 2;
    u32[rb + (head - 1) * 4 + 1] = into;
    const a = T.alloc();
    const r = heap.root(a); // takes the head slot: the damaged link becomes the head
    expect(() => heap.root(T.alloc())).toThrow(HeapCorruptionError);
    expect(k.memory.u8.subarray(mine, mine + 300).every((b) => b === 0x5a)).toBe(true);
    expect(r.value).toBe(a);
  });
});
