/**
 * A ManagedHeap over a 3 GiB Kmalloc: objects at addresses past 2^31, where
 * an address read as an int32 turns negative (a `>> 3` for `>>> 3`, a `| 0`
 * on an address, would show here as a lost object or a bitmap bit of the
 * wrong word). A 2 GiB block taken from the backend first puts every GC
 * block above 2^31. Stop-the-world and incremental cycles, refs, numbers,
 * arrays, roots and graph() must all see the same objects as on a small heap.
 */
import { describe, expect, it } from 'vitest';
import { Kmalloc, ManagedHeap } from '../../src/index.js';

const GIB = 2 ** 30;

describe('ManagedHeap with objects past 2^31 (a 3 GiB backend)', () => {
  it('a list and arrays above 2^31 survive collections whole; garbage there is freed; graph() sees them', () => {
    const backend = new Kmalloc({ bytes: 3 * GIB });
    const low = backend.kmalloc(2 * GIB); // the largest block: everything after it lies above 2^31
    const heap = new ManagedHeap({ backend, autoCollect: false });
    const Node = heap.defineType('Node', { next: 'ref', v: 'i32', items: 'ref' });
    const Items = heap.defineArray('Items', 'ref');
    const next = Node.fields.next;
    const v = Node.fields.v;
    const items = Node.fields.items;
    const N = 50_000;
    const head = heap.root(0);
    for (let i = 0; i < N; i++) {
      const n = Node.alloc();
      next.set(n, head.value);
      v.set(n, i);
      if (i % 1000 === 0) {
        const a = Items.alloc(8);
        Items.set(a, 3, head.value); // an array element pointing back into the list
        items.set(n, a);
      }
      head.set(n);
      Node.alloc(); // garbage between the live nodes
    }
    expect(head.value).toBeGreaterThan(2 ** 31);

    const walk = (): number => {
      let c = 0;
      for (let p = head.value; p !== 0; p = next.get(p)) {
        expect(p).toBeGreaterThan(2 ** 31);
        expect(v.get(p)).toBe(N - 1 - c);
        const a = items.get(p);
        if (a !== 0) expect(Items.get(a, 3)).toBe(next.get(p));
        c++;
      }
      return c;
    };
    heap.collect();
    expect(heap.stats().liveObjects).toBe(N + N / 1000);
    expect(walk()).toBe(N);

    // An incremental cycle, the list changed under it (the write barrier on high addresses).
    heap.step();
    const second = next.get(head.value);
    next.set(head.value, next.get(second)); // drop one node mid-cycle
    while (heap.phase !== 'idle') heap.step();
    heap.collect();
    expect(heap.stats().liveObjects).toBe(N - 1 + N / 1000);

    const g = heap.graph();
    expect(g.nodes.length).toBe(N - 1 + N / 1000);
    expect(g.nodes.every((n) => n.id > 2 ** 31)).toBe(true);

    head.release();
    heap.collect();
    expect(heap.stats().liveObjects).toBe(0);
    backend.kfree(low);
    backend.checkInvariants();
  });
});
