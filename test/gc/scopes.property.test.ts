/**
 * Roots and scopes against a model (fast-check): random programs of root(),
 * release(), nested scope()s, escape(), setGlobal() and collect(). The model
 * keeps each handle's object and who releases it (its owner: 0 for the caller,
 * else the depth of the scope whose end releases it); after every collect()
 * each object a live handle or a global holds must be live, every other one
 * dead, and stats().rootHandles must count the unreleased handles owned by the
 * caller. A scope's end must release exactly its own roots and the escapes to
 * it: not an outer scope's, not an unscoped one, not a global set inside it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Kmalloc, ManagedHeap, type Root } from '../../src/index.js';
import { runs } from '../support/fuzz.js';

type Op =
  | { k: 'root' }
  | { k: 'release'; pick: number }
  | { k: 'enter' }
  | { k: 'leave' }
  | { k: 'escape'; up: number }
  | { k: 'global'; name: number }
  | { k: 'burst'; keep: number }
  | { k: 'collect' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Op>({ k: 'root' }) },
  { weight: 5, arbitrary: fc.nat(1000).map<Op>((pick) => ({ k: 'release', pick })) },
  { weight: 2, arbitrary: fc.constant<Op>({ k: 'enter' }) },
  { weight: 2, arbitrary: fc.constant<Op>({ k: 'leave' }) },
  { weight: 1, arbitrary: fc.nat(3).map<Op>((up) => ({ k: 'escape', up })) },
  { weight: 1, arbitrary: fc.nat(2).map<Op>((name) => ({ k: 'global', name })) },
  { weight: 1, arbitrary: fc.constant<Op>({ k: 'collect' }) },
  // More roots than the generation ring holds (GEN_RING, 4096): the scopes
  // open around it end by a walk of the whole root table.
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }).map<Op>((keep) => ({ k: 'burst', keep })) },
);

interface Handle {
  root: Root;
  obj: number;
  /** 0: the caller releases it; d > 0: the end of the scope at depth d does. */
  owner: number;
  released: boolean;
}

function runProgram(ops: Op[]): void {
  const heap = new ManagedHeap({ bytes: 1 << 22, autoCollect: false });
  const Node = heap.defineType('Node', { next: 'ref', v: 'i32' });
  const handles: Handle[] = [];
  const globals = new Map<string, number>();
  const objects: number[] = []; // every object made, live or not

  const check = (): void => {
    heap.collect();
    const held = new Set<number>(globals.values());
    for (const h of handles) if (!h.released) held.add(h.obj);
    for (const o of objects) expect(heap.isLive(o), `object ${o}`).toBe(held.has(o));
    for (const h of handles) expect(h.root.alive).toBe(!h.released);
    expect(heap.stats().rootHandles).toBe(handles.filter((h) => !h.released && h.owner === 0).length);
  };

  let i = 0;
  // Runs ops from i at scope depth `depth` until a 'leave' (or the end) closes it.
  const run = (depth: number, escapes: Array<(obj: number) => Root>): void => {
    while (i < ops.length) {
      const op = ops[i++]!;
      if (op.k === 'root') {
        const obj = Node.alloc();
        objects.push(obj);
        handles.push({ root: heap.root(obj), obj, owner: depth, released: false });
      } else if (op.k === 'release') {
        const h = handles[op.pick % Math.max(1, handles.length)];
        if (h !== undefined) {
          h.root.release(); // a second release, or one after its scope ended, does nothing
          h.released = true;
        }
      } else if (op.k === 'enter') {
        heap.scope((escape) => {
          run(depth + 1, [...escapes, escape]);
          return 0;
        });
        // its end released its roots and the escapes to it
        for (const h of handles) if (h.owner > depth) h.released = true;
      } else if (op.k === 'leave') {
        if (depth > 0) return;
      } else if (op.k === 'escape') {
        if (depth === 0) continue;
        const at = Math.max(1, depth - op.up); // the escape of the scope at this depth
        const obj = Node.alloc();
        objects.push(obj);
        handles.push({ root: escapes[at - 1]!(obj), obj, owner: at - 1, released: false });
      } else if (op.k === 'burst') {
        for (let j = 0; j < 4200; j++) {
          const obj = Node.alloc();
          const r = heap.root(obj);
          if (j % 1400 < op.keep) {
            objects.push(obj);
            handles.push({ root: r, obj, owner: depth, released: false });
          } else {
            r.release();
          }
        }
        heap.collect(); // the burst's released objects go (they are not in the model's list)
      } else if (op.k === 'global') {
        const obj = Node.alloc();
        objects.push(obj);
        heap.setGlobal(`g${op.name}`, obj); // set inside a scope or not: a global stays
        globals.set(`g${op.name}`, obj);
      } else {
        check();
      }
    }
  };
  run(0, []);
  check();
  for (const h of handles) h.root.release();
  for (const name of globals.keys()) heap.deleteGlobal(name);
  heap.collect();
  expect(heap.stats().liveObjects).toBe(0);
  expect(heap.stats().rootHandles).toBe(0);
}

describe('roots and scopes against a model', () => {
  it('random programs of root, release, nested scopes, escape, globals and collect', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 120 }), (ops) => runProgram(ops)),
      { numRuns: runs(300) },
    );
  });

  it("a scope's end releases the roots it made on every path: a growing table, escapes to an enclosing scope", () => {
    const heap = new ManagedHeap({ bytes: 1 << 22, autoCollect: false });
    const Node = heap.defineType('Node', { next: 'ref', v: 'i32' });
    const made: number[] = [];
    let escaped = 0;
    heap.scope(() => {
      heap.scope((escape) => {
        // 300 roots: the table (64 slots at first) grows, so some take the slow path
        for (let i = 0; i < 300; i++) made.push(heap.root(Node.alloc()).value);
        heap.scope(() => {
          escaped = escape(Node.alloc()).value; // rooted in the outer scope
        });
        heap.collect();
        expect(made.every((o) => heap.isLive(o))).toBe(true);
      });
      heap.collect();
      expect(made.some((o) => heap.isLive(o))).toBe(false);
      expect(heap.isLive(escaped)).toBe(true); // until the outer scope ends
    });
    heap.collect();
    expect(heap.isLive(escaped)).toBe(false);
    expect(heap.stats().liveObjects).toBe(0);
  });

  it('a scope that releases its roots in any order leaves the root table as it found it', () => {
    const k = new Kmalloc({ bytes: 1 << 22 });
    const heap = new ManagedHeap({ backend: k, autoCollect: false });
    const Node = heap.defineType('Node', { next: 'ref', v: 'i32' });
    const obj = Node.alloc();
    heap.setGlobal('obj', obj);
    const before = k.footprint();
    heap.scope(() => {
      for (let i = 0; i < 200_000; i++) heap.root(obj).release(); // LIFO: one slot, reused
      const rs = Array.from({ length: 50 }, () => heap.root(obj));
      for (let i = 0; i < 50; i += 2) rs[i]!.release(); // out of order
      return 0; // the other 25 go at the scope's end
    });
    expect(heap.stats().rootHandles).toBe(0);
    expect(k.footprint()).toBe(before); // the root table did not grow
  });
});
