/**
 * A ManagedHeap's large objects are a list linked through the word before
 * each object, which the sweep walks and frees the unmarked ones of. On a
 * backend the program also allocates from (a Kmalloc it passed), a link
 * damaged to name one of the program's own blocks made the sweep free that
 * block (until the twentieth session). Now each link must be an object's
 * start (its START bit) before the sweep reads or frees anything there.
 */
import { describe, expect, it } from 'vitest';
import { HeapCorruptionError, Kmalloc, ManagedHeap } from '../../src/index.js';

describe('ManagedHeap: a damaged large-object link frees nothing of another owner', () => {
  it('a link naming a block the program allocated from the same Kmalloc', () => {
    const k = new Kmalloc({ bytes: 8 << 20 });
    const heap = new ManagedHeap({ backend: k, autoCollect: false });
    const Big = heap.defineArray('Big', 'i32');
    const a = Big.alloc(2000); // a large object (8 KiB), unrooted: the next collect sweeps it
    const mine = k.alloc(100); // the program's own block
    k.memory.u8.fill(7, mine, mine + 100);
    k.memory.u32[(a - 8) >>> 2] = mine; // the large-object link before `a`
    expect(() => heap.collect()).toThrow(HeapCorruptionError);
    expect(k.isAllocated(mine)).toBe(true);
    expect(k.memory.u8.subarray(mine, mine + 100).every((v) => v === 7)).toBe(true);
  });
});
