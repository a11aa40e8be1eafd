import { describe, expect, it } from 'vitest';
import { ManagedHeap } from '../../src/index.js';

describe('marking needs no recursion', () => {
  it('a 1,000,000-long linked list is marked (explicit mark stack), kept intact, then freed', () => {
    const heap = new ManagedHeap({ bytes: 48 << 20, autoCollect: false });
    const Node = heap.defineType('Node', { next: 'ref', v: 'i32' });
    const { next, v } = Node.fields;
    const head = heap.root(Node.alloc());
    let p = head.value;
    for (let i = 1; i < 1_000_000; i++) {
      const n = Node.alloc();
      v.set(n, i);
      next.set(p, n);
      p = n;
    }
    heap.collect();
    expect(heap.stats().liveObjects).toBe(1_000_000);
    let sum = 0;
    let count = 0;
    for (let q = head.value; q !== 0; q = next.get(q)) {
      sum += v.get(q);
      count++;
    }
    expect(count).toBe(1_000_000);
    expect(sum).toBe((999_999 * 1_000_000) / 2);
    head.release();
    heap.collect();
    expect(heap.stats().liveObjects).toBe(0);
  });

  it('a ref array of 300,000 children grows the mark stack (in the buffer) as needed', () => {
    const heap = new ManagedHeap({ bytes: 32 << 20, autoCollect: false });
    const Leaf = heap.defineType('Leaf', { x: 'i32' });
    const Refs = heap.defineArray('Refs', 'ref');
    const arr = heap.root(Refs.alloc(300_000));
    for (let i = 0; i < 300_000; i++) Refs.set(arr.value, i, Leaf.alloc());
    heap.collect();
    expect(heap.stats().liveObjects).toBe(300_001);
  });

  it('when the mark stack cannot grow, marking overflows and rescans: nothing reachable is lost', () => {
    // One array of 120,000 refs, and leaves until the heap is full: marking
    // then needs a stack of 120,000 entries and there is no room to grow it.
    const heap = new ManagedHeap({ bytes: 2 << 20, autoCollect: false });
    const Leaf = heap.defineType('Leaf', { x: 'i32' });
    const Refs = heap.defineArray('Refs', 'ref');
    const arr = heap.root(Refs.alloc(120_000)).value;
    let n = 0;
    try {
      for (; n < 120_000; n++) {
        const l = Leaf.alloc();
        Leaf.fields.x.set(l, n);
        Refs.set(arr, n, l);
      }
    } catch {
      // the heap is full
    }
    expect(n).toBeGreaterThan(50_000);
    heap.collect();
    expect(heap.stats().markStackOverflows).toBeGreaterThan(0);
    expect(heap.stats().liveObjects).toBe(n + 1);
    for (let i = 0; i < n; i++) expect(Leaf.fields.x.get(Refs.get(arr, i))).toBe(i);
  });
});
