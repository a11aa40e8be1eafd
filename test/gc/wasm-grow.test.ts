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
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Kmalloc, ManagedHeap, Memory, type Root } from '../../src/index.js';
import { runs } from '../support/fuzz.js';

function world(incremental: boolean, autoCollect = true) {
  const wasm = new WebAssembly.Memory({ initial: 64, maximum: 1024 });
  const heap = new ManagedHeap({
    backend: new Kmalloc({ memory: Memory.wrap(wasm), maxBytes: 1024 * 65536 }),
    incremental,
    autoCollect,
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
      // A number (or null ref) set reads nothing first: it needs the sync, as documented.
      for (const [f, v] of [
        [i, -5],
        [u, 0xfffffff0],
        [d, 2.5],
        [h, -300],
        [b, 250],
      ] as const) {
        grow();
        heap.sync();
        f.set(a, v);
      }
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
      heap.sync();
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

describe('ManagedHeap scopes after a wasm-side grow, no heap.sync()', () => {
  for (const incremental of [false, true]) {
    it(`roots, releases and escapes inside a scope, and its end, act on the new buffer (${incremental ? 'in an incremental cycle' : 'at rest'})`, () => {
      const { heap, Node, grow } = world(incremental);
      const keep = heap.root(Node.alloc());
      for (let k = 0; k < 200; k++) Node.alloc(); // garbage, so a cycle has work
      if (incremental) {
        heap.step(1);
        expect(heap.phase).not.toBe('idle');
      }
      const made: number[] = [];
      const out = heap.scope((escape) => {
        grow();
        const a = heap.root(Node.alloc()); // released by the scope's end
        made.push(a.value);
        grow();
        const z = heap.root(0);
        grow();
        const b = heap.root(Node.alloc());
        made.push(b.value);
        grow();
        b.release(); // released inside
        grow();
        const e = escape(Node.alloc()); // the caller's
        made.push(e.value);
        grow();
        const e0 = escape(0);
        grow();
        expect([a.alive, z.alive, b.alive, e.alive, e0.alive]).toEqual([true, true, false, true, true]);
        e0.release();
        return e;
      });
      grow();
      expect(out.alive).toBe(true);
      expect(heap.stats().rootHandles).toBe(2);
      heap.collect();
      expect(made.map((o) => heap.isLive(o))).toEqual([false, false, true]);
      out.release();
      keep.release();
      grow();
      heap.collect();
      expect(heap.stats().liveObjects).toBe(0);
      (heap.backend as Kmalloc).checkInvariants();
    });
  }
});

/**
 * The same, as a property: random programs run on two heaps, one whose
 * memory wasm code grows at random points (no heap.sync() but before the
 * documented number and null-ref sets), one never grown; every answer must
 * be the same, and so must the heaps' objects and fields at the end.
 */
type Op =
  | { k: 'alloc' }
  | { k: 'array'; n: number }
  | { k: 'link'; a: number; b: number }
  | { k: 'unlink'; a: number }
  | { k: 'setI'; a: number; v: number }
  | { k: 'get'; a: number }
  | { k: 'elem'; a: number; i: number; b: number }
  | { k: 'root'; a: number }
  | { k: 'release'; r: number }
  | { k: 'push'; a: number }
  | { k: 'pop' }
  | { k: 'is'; a: number }
  | { k: 'step' }
  | { k: 'collect' }
  | { k: 'grow' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ k: 'alloc' as const }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 40 }).map((n) => ({ k: 'array' as const, n })) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('link' as const), a: fc.nat(), b: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('unlink' as const), a: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('setI' as const), a: fc.nat(), v: fc.integer() }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('get' as const), a: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('elem' as const), a: fc.nat(), i: fc.nat(), b: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('root' as const), a: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('release' as const), r: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('push' as const), a: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ k: 'pop' as const }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('is' as const), a: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ k: 'step' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'collect' as const }) },
  { weight: 3, arbitrary: fc.constant({ k: 'grow' as const }) },
);

/** One world: a heap, its objects (as this program made them, dead ones dropped at each collection), roots. */
function propertyWorld(incremental: boolean) {
  const w = world(incremental, false);
  const { heap } = w;
  // autoCollect off: objects die only at the program's own steps and collects, where the lists are pruned.
  return { ...w, objs: [] as number[], arrays: [] as number[], roots: [] as Root[], stack: 0, heap };
}

function runOn(w: ReturnType<typeof propertyWorld>, op: Op, grows: boolean): unknown {
  const { heap, Node, Refs, objs, arrays, roots } = w;
  const pick = (xs: readonly number[], i: number): number => xs[i % xs.length]!;
  const prune = (): void => {
    for (const xs of [objs, arrays]) {
      const live = xs.filter((o) => heap.isLive(o));
      xs.length = 0;
      xs.push(...live);
    }
  };
  switch (op.k) {
    case 'alloc':
      objs.push(Node.alloc());
      return objs.length;
    case 'array':
      arrays.push(Refs.alloc(op.n));
      return Refs.length(arrays[arrays.length - 1]!);
    case 'link':
      if (objs.length === 0) return null;
      Node.fields.next.set(pick(objs, op.a), pick(objs, op.b));
      return Node.fields.next.get(pick(objs, op.a));
    case 'unlink':
      if (objs.length === 0) return null;
      if (grows) heap.sync(); // a null ref store reads nothing first: documented
      Node.fields.next.set(pick(objs, op.a), 0);
      return null;
    case 'setI':
      if (objs.length === 0) return null;
      if (grows) heap.sync(); // a number field's set reads nothing first: documented
      Node.fields.i.set(pick(objs, op.a), op.v | 0);
      return null;
    case 'get':
      if (objs.length === 0) return null;
      return [
        Node.fields.next.get(pick(objs, op.a)),
        Node.fields.i.get(pick(objs, op.a)),
        Node.fields.d.get(pick(objs, op.a)),
      ];
    case 'elem': {
      if (arrays.length === 0 || objs.length === 0) return null;
      const arr = pick(arrays, op.a);
      const i = op.i % Refs.length(arr);
      Refs.set(arr, i, pick(objs, op.b));
      return [Refs.get(arr, i), Refs.length(arr)];
    }
    case 'root':
      if (objs.length === 0) return null;
      roots.push(heap.root(pick(objs, op.a)));
      return roots[roots.length - 1]!.value;
    case 'release': {
      if (roots.length === 0) return null;
      const [r] = roots.splice(op.r % roots.length, 1);
      r!.release();
      return roots.length;
    }
    case 'push':
      if (objs.length === 0) return null;
      heap.pushRoot(pick(objs, op.a));
      w.stack++;
      return heap.rootStackHeight;
    case 'pop':
      if (w.stack === 0) return null;
      w.stack--;
      return heap.popRoot();
    case 'is':
      if (objs.length === 0) return null;
      return [Node.is(pick(objs, op.a)), Refs.is(pick(objs, op.a)), heap.isLive(pick(objs, op.a))];
    case 'step': {
      const done = heap.step(8);
      prune();
      return [done, heap.phase, objs.length, arrays.length];
    }
    case 'collect':
      heap.collect();
      prune();
      return [objs.length, arrays.length, heap.stats().liveObjects];
    case 'grow':
      if (grows) w.grow();
      return null;
  }
}

describe('ManagedHeap after wasm-side grows, random programs against a twin never grown', () => {
  for (const incremental of [false, true]) {
    it(`the same answers and the same heap (${incremental ? 'incremental' : 'stop-the-world'})`, () => {
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 20, maxLength: 160 }), (ops) => {
          const grown = propertyWorld(incremental);
          const twin = propertyWorld(incremental);
          for (const [n, op] of ops.entries()) {
            const g = runOn(grown, op, true);
            const t = runOn(twin, op, false);
            expect(g, `op ${n}: ${JSON.stringify(op)}`).toEqual(t);
          }
          const fields = (w: ReturnType<typeof propertyWorld>): unknown[] =>
            w.objs.map((o) => [o, w.Node.fields.next.get(o), w.Node.fields.i.get(o)]);
          expect(fields(grown)).toEqual(fields(twin));
          expect(grown.heap.stats().liveObjects).toBe(twin.heap.stats().liveObjects);
          grown.heap.collect();
          twin.heap.collect();
          expect(grown.heap.stats().liveObjects).toBe(twin.heap.stats().liveObjects);
          (grown.heap.backend as Kmalloc).checkInvariants();
        }),
        { numRuns: runs(200), seed: incremental ? 14 : 41 },
      );
    }, 120_000);
  }
});
