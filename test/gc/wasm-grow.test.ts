/**
 * ManagedHeap's hot paths after a wasm-side grow, with no `heap.sync()`:
 * allocation, roots, the shadow stack, ref stores, every kind of field get,
 * element access, an array's length and a type's `is`, at rest and in the
 * middle of an incremental cycle (where every ref store takes the write
 * barrier). Each must act on the new buffer, as if the memory had not grown:
 * the same values read back, the same objects kept by a collection. (A
 * number field's set, and a ref field's set of 0, read nothing before they
 * write: documented to need the sync, made here.)
 * (test/memory/wasm-grow-api.test.ts holds every public member to the same
 * against a twin; this file names the cases that were wrong before 3 Dec:
 * `root(obj)` and `pushRoot(obj)` threw "not a live object", `alloc()` and
 * `root(0)` wrote into the old buffer, gets read undefined.)
 */
import { describe, expect, it } from 'vitest';
import { Kmalloc, ManagedHeap, Memory } from '../../src/index.js';

function world(incremental: boolean) {
  const wasm = new WebAssembly.Memory({ initial: 64, maximum: 1024 });
  const heap = new ManagedHeap({
    backend: new Kmalloc({ memory: Memory.wrap(wasm), maxBytes: 1024 * 65536 }),
    incremental,
    stepBudget: 4,
  });
  const Node = heap.defineType('Node', {
    next: 'ref',
    peer: 'weak',
    i: 'i32',
    u: 'u32',
    d: 'f64',
    h: 'i16',
    b: 'u8',
  });
  const Refs = heap.defineArray('Refs', 'ref');
  const Ints = heap.defineArray('Ints', 'i32');
  /** What wasm code does: grow the memory; memkit's views are of the old buffer now. */
  const grow = (): void => {
    wasm.grow(1);
  };
  return { heap, Node, Refs, Ints, grow };
}

describe('ManagedHeap after a wasm-side grow, no heap.sync()', () => {
  for (const incremental of [false, true]) {
    it(`every hot path acts on the new buffer (${incremental ? 'in an incremental cycle' : 'at rest'})`, () => {
      const { heap, Node, Refs, Ints, grow } = world(incremental);
      const { next, peer, i, u, d, h, b } = Node.fields;
      const keep = heap.root(Node.alloc());
      for (let k = 0; k < 200; k++) Node.alloc(); // garbage, so a cycle has work
      if (incremental) {
        heap.step(1); // a cycle starts: every ref store now takes the barrier
        expect(heap.phase).not.toBe('idle');
      }
      grow();
      const a = Node.alloc();
      grow();
      const r = heap.root(a);
      grow();
      heap.pushRoot(keep.value);
      grow();
      const n = heap.root(0);
      grow();
      next.set(keep.value, a);
      grow();
      peer.set(a, keep.value);
      grow();
      heap.sync(); // a number (or null ref) set reads nothing first: documented
      i.set(a, -5);
      grow();
      heap.sync(); // a number (or null ref) set reads nothing first: documented
      u.set(a, 0xfffffff0);
      grow();
      heap.sync(); // a number (or null ref) set reads nothing first: documented
      d.set(a, 2.5);
      grow();
      heap.sync(); // a number (or null ref) set reads nothing first: documented
      h.set(a, -300);
      grow();
      heap.sync(); // a number (or null ref) set reads nothing first: documented
      b.set(a, 250);
      grow();
      const arr = Refs.alloc(3);
      grow();
      Refs.set(arr, 1, a);
      grow();
      n.set(arr);
      grow();
      const ints = Ints.alloc(2);
      grow();
      Ints.set(ints, 1, 77);
      grow();
      Refs.set(arr, 0, ints);
      grow();
      heap.sync(); // a number (or null ref) set reads nothing first: documented
      next.set(a, 0);
      grow();
      expect([next.get(keep.value), peer.get(a), i.get(a), u.get(a), d.get(a), h.get(a), b.get(a)]).toEqual([
        a,
        keep.value,
        -5,
        0xfffffff0,
        2.5,
        -300,
        250,
      ]);
      grow();
      expect([Refs.length(arr), Refs.get(arr, 1), Refs.get(arr, 0), Ints.get(ints, 1)]).toEqual([3, a, ints, 77]);
      grow();
      expect([Node.is(a), Refs.is(arr), Ints.is(ints), Node.is(arr)]).toEqual([true, true, true, false]);
      grow();
      expect(heap.popRoot()).toBe(keep.value);
      r.release();
      grow();
      heap.collect();
      // Kept: keep, a (through keep.next), arr and ints (through the root n); the garbage is gone.
      expect([heap.isLive(keep.value), heap.isLive(a), heap.isLive(arr), heap.isLive(ints)]).toEqual([
        true,
        true,
        true,
        true,
      ]);
      expect(heap.stats().liveObjects).toBe(4);
      (heap.backend as Kmalloc).checkInvariants();
    });
  }
});
