/**
 * A live ManagedHeap whose state block is damaged one word at a time (the
 * block lists, the pool of empty blocks, the root tables and stacks, the
 * mark and weak stacks, the finalization queue...), then its public methods
 * called: each answers or throws a MemkitError, none hangs, and neither the
 * memkit header nor a block the program allocated from the same backend
 * Kmalloc changes or is freed. Until 5 Dec, one damaged block-list head or
 * empty-pool count made a collect write into the memkit header, a root
 * table's length made collect or stats run 2^32 times, and a damaged
 * finalization-queue link threw the engine's TypeError. Runs in a child
 * process (damage.child.ts) under a watchdog.
 */
import { describe, expect, it } from 'vitest';
import { runDamageChild } from '../support/damage-child.js';

const CHILD = new URL('./damage.child.ts', import.meta.url);

describe('ManagedHeap: every method on a live heap with one damaged state word', () => {
  it('typed errors only, no hang, nothing of the program written or freed', async () => {
    const r = await runDamageChild(CHILD, [], 5000);
    expect(r.hung).toBeNull();
    expect(r.results).toEqual([]);
    expect(r.done).toBe(48 * 5);
  }, 120000);
});
