import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BuddyAllocator,
  InvalidArgumentError,
  Kmalloc,
  ManagedHeap,
  Memory,
  OutOfMemoryError,
} from '../../src/index.js';
import { S_MARK, S_START } from '../../src/gc/layout.js';
import { runs } from '../support/fuzz.js';

/** A heap that collects only when told to. */
function manual(bytes = 1 << 22): ManagedHeap {
  return new ManagedHeap({ bytes, autoCollect: false });
}

describe('ManagedHeap: what is unreachable is garbage', () => {
  it('frees an unreachable two-object cycle, keeps it while rooted', () => {
    const heap = manual();
    const Node = heap.defineType('Node', { next: 'ref', id: 'i32' });
    const { next, id } = Node.fields;
    const r = heap.root(Node.alloc());
    const a = r.value;
    const b = Node.alloc();
    next.set(a, b);
    next.set(b, a);
    id.set(a, 1);
    id.set(b, 2);
    heap.collect();
    expect(heap.isLive(a) && heap.isLive(b)).toBe(true);
    expect([id.get(a), id.get(b), next.get(a), next.get(b)]).toEqual([1, 2, b, a]);
    r.release();
    heap.collect();
    expect(heap.isLive(a)).toBe(false);
    expect(heap.isLive(b)).toBe(false);
    expect(heap.stats().liveObjects).toBe(0);
    expect(heap.stats().objectsFreed).toBe(2);
  });

  it('frees a ring of 10,000 objects once its last root goes, and every byte allocated is freed', () => {
    const heap = manual();
    const Node = heap.defineType('Node', { next: 'ref' });
    const first = heap.root(Node.alloc());
    let prev = first.value;
    for (let i = 1; i < 10_000; i++) {
      const n = Node.alloc();
      Node.fields.next.set(prev, n);
      prev = n;
    }
    Node.fields.next.set(prev, first.value);
    heap.collect();
    expect(heap.stats().liveObjects).toBe(10_000);
    first.release();
    heap.collect();
    const st = heap.stats();
    expect(st.liveObjects).toBe(0);
    expect(st.bytesFreed).toBe(st.bytesAllocated);
  });

  it('keeps every field of every reachable object exact across collections (random graphs)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            i32: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
            u32: fc.nat({ max: 2 ** 32 - 1 }),
            f64: fc.double(),
            u8: fc.nat({ max: 255 }),
            i8: fc.integer({ min: -128, max: 127 }),
            u16: fc.nat({ max: 65535 }),
            i16: fc.integer({ min: -32768, max: 32767 }),
            tag: fc.uint8Array({ minLength: 5, maxLength: 5 }),
            a: fc.nat(),
            b: fc.nat(),
            rooted: fc.boolean(),
            garbage: fc.nat({ max: 20 }),
          }),
          { minLength: 1, maxLength: 60 },
        ),
        (specs) => {
          const heap = manual();
          const T = heap.defineType('T', {
            i32: 'i32',
            u32: 'u32',
            f64: 'f64',
            u8: 'u8',
            i8: 'i8',
            u16: 'u16',
            i16: 'i16',
            tag: { bytes: 5 },
            a: 'ref',
            b: 'ref',
          });
          const G = heap.defineType('Garbage', { x: 'ref', y: 'f64' });
          const f = T.fields;
          const objs: number[] = [];
          const roots = [];
          for (const sp of specs) {
            const o = T.alloc();
            objs.push(o);
            if (sp.rooted || objs.length === 1) roots.push(heap.root(o));
            f.i32.set(o, sp.i32);
            f.u32.set(o, sp.u32);
            f.f64.set(o, sp.f64);
            f.u8.set(o, sp.u8);
            f.i8.set(o, sp.i8);
            f.u16.set(o, sp.u16);
            f.i16.set(o, sp.i16);
            f.tag.set(o, sp.tag);
            for (let g = 0; g < sp.garbage; g++) G.fields.x.set(G.alloc(), o);
          }
          // Edges only to earlier objects or to rooted ones, so both stay live.
          specs.forEach((sp, i) => {
            f.a.set(objs[i]!, objs[sp.a % objs.length]!);
            if (sp.b % 3 !== 0) f.b.set(objs[i]!, objs[sp.b % objs.length]!);
          });
          const reachable = new Set<number>();
          const visit = (o: number): void => {
            if (o === 0 || reachable.has(o)) return;
            reachable.add(o);
            visit(f.a.get(o));
            visit(f.b.get(o));
          };
          for (const r of roots) visit(r.value);
          for (let round = 0; round < 3; round++) {
            heap.collect();
            specs.forEach((sp, i) => {
              const o = objs[i]!;
              if (!reachable.has(o)) return;
              expect(heap.isLive(o)).toBe(true);
              expect([
                f.i32.get(o),
                f.u32.get(o),
                f.f64.get(o),
                f.u8.get(o),
                f.i8.get(o),
                f.u16.get(o),
                f.i16.get(o),
              ]).toEqual([sp.i32, sp.u32, sp.f64, sp.u8, sp.i8, sp.u16, sp.i16]);
              expect(Array.from(f.tag.get(o))).toEqual(Array.from(sp.tag));
              expect(f.a.get(o)).toBe(objs[sp.a % objs.length]);
              expect(f.b.get(o)).toBe(sp.b % 3 !== 0 ? objs[sp.b % objs.length] : 0);
            });
            expect(heap.stats().liveObjects).toBe(reachable.size);
            for (let g = 0; g < 50; g++) G.alloc();
          }
        },
      ),
      { numRuns: runs(60) },
    );
  });
});

describe('ManagedHeap: arrays', () => {
  it('ref arrays keep their elements alive; number arrays keep their values', () => {
    const heap = manual();
    const Leaf = heap.defineType('Leaf', { v: 'f64' });
    const Refs = heap.defineArray('Refs', 'ref');
    const I = heap.defineArray('I', 'i32');
    const F = heap.defineArray('F', 'f64');
    const B = heap.defineArray('B', 'u8');
    const arr = heap.root(Refs.alloc(300)); // large: its own kmalloc block
    for (let i = 0; i < 300; i += 3) {
      const l = Leaf.alloc();
      Leaf.fields.v.set(l, i / 7);
      Refs.set(arr.value, i, l);
    }
    const i32 = heap.root(I.alloc(5));
    const f64 = heap.root(F.alloc(3));
    const u8 = heap.root(B.alloc(2000));
    [-1, 0, 7, 2 ** 31 - 1, -(2 ** 31)].forEach((v, i) => I.set(i32.value, i, v));
    F.set(f64.value, 2, Math.PI);
    B.set(u8.value, 1999, 255);
    for (let g = 0; g < 1000; g++) Leaf.alloc();
    heap.collect();
    expect(Refs.length(arr.value)).toBe(300);
    for (let i = 0; i < 300; i++) {
      const l = Refs.get(arr.value, i);
      if (i % 3 === 0) expect(Leaf.fields.v.get(l)).toBe(i / 7);
      else expect(l).toBe(0);
    }
    expect([0, 1, 2, 3, 4].map((i) => I.get(i32.value, i))).toEqual([-1, 0, 7, 2 ** 31 - 1, -(2 ** 31)]);
    expect([F.get(f64.value, 0), F.get(f64.value, 2)]).toEqual([0, Math.PI]);
    expect(B.get(u8.value, 1999)).toBe(255);
    expect(heap.stats().liveObjects).toBe(4 + 100);
    expect(Refs.is(arr.value) && !Refs.is(i32.value) && I.is(i32.value)).toBe(true);
  });

  it('a bad index or length throws InvalidArgumentError and changes nothing', () => {
    const heap = manual();
    const I = heap.defineArray('I', 'i32');
    const a = heap.root(I.alloc(4)).value;
    I.set(a, 3, 9);
    for (const i of [-1, 4, 1.5, NaN, 2 ** 32]) {
      expect(() => I.get(a, i)).toThrow(InvalidArgumentError);
      expect(() => I.set(a, i, 1)).toThrow(InvalidArgumentError);
    }
    expect(I.get(a, 3)).toBe(9);
    const before = heap.stats().bytesAllocated;
    for (const n of [-1, 1.5, NaN, 2 ** 31]) expect(() => I.alloc(n)).toThrow(InvalidArgumentError);
    expect(heap.stats().bytesAllocated).toBe(before);
    expect(I.length(I.alloc(0))).toBe(0);
  });
});

describe('ManagedHeap: bad definitions and budgets', () => {
  it('an unknown field kind, a bad byte count or array kind, or a bad step budget throws and defines nothing', () => {
    const heap = manual();
    const T = heap.defineType('T', { x: 'i32' });
    expect(() => heap.defineType('Bad', { a: 'nope' } as never)).toThrow(InvalidArgumentError);
    expect(() => heap.defineType('Bad', { a: { bytes: 0 } })).toThrow(InvalidArgumentError);
    expect(() => heap.defineType('Bad', { a: { bytes: 1.5 } })).toThrow(InvalidArgumentError);
    expect(() => heap.defineType('Bad', { a: 'i32' }, { finalizer: 5 } as never)).toThrow(InvalidArgumentError);
    expect(() => heap.defineArray('Bad', 'i32', null as never)).toThrow(InvalidArgumentError);
    expect(() => heap.defineArray('Bad', 'nope' as never)).toThrow(InvalidArgumentError);
    expect(() => heap.defineArray('Bad', 'u16' as never)).toThrow(InvalidArgumentError);
    for (const b of [0, -1, NaN]) expect(() => heap.step(b)).toThrow(InvalidArgumentError);
    expect(heap.phase).toBe('idle');
    const U = heap.defineType('U', { y: 'f64' });
    expect(U.id).toBe(T.id + 1); // the failed definitions took no type id
  });
});

describe('ManagedHeap: ref stores are checked', () => {
  it('storing a dead, interior, foreign or malformed address throws and leaves the field as it was', () => {
    const heap = manual();
    const other = manual();
    const T = heap.defineType('T', { r: 'ref', w: 'weak', n: 'i32' });
    const O = other.defineType('O', { x: 'ref' });
    const holder = heap.root(T.alloc()).value;
    const target = T.alloc();
    T.fields.r.set(holder, target);
    const dead = T.alloc();
    heap.collect(); // dead is unreachable: freed
    expect(heap.isLive(dead)).toBe(false);
    const kmallocBlock = heap.backend.alloc(16); // a real block, but not a managed object
    const startBase = heap.memory.u32[(heap.stateAddress >>> 2) + S_START]! >>> 2;
    const markBase = heap.memory.u32[(heap.stateAddress >>> 2) + S_MARK]! >>> 2;
    expect(markBase).toBeGreaterThan(startBase); // so the addresses below are past the START bitmap
    let foreign = 0;
    for (let i = 0; i < 100 && foreign === 0; i++) {
      const o = O.alloc();
      if (!heap.isLive(o)) foreign = o;
    }
    let coerced = 0;
    const valueOf = {
      valueOf: () => {
        coerced++;
        return target;
      },
    };
    const bad = [
      dead,
      target + 4,
      target + 8,
      kmallocBlock,
      foreign,
      1,
      -16,
      2.5,
      NaN,
      2 ** 40,
      // The same low 32 bits as a live object (`>>>` wraps them), or the right value plus a fraction.
      target + 2 ** 32,
      target - 2 ** 32,
      target + 2 ** 35,
      target + 0.5,
      -target,
      2 ** 32,
      2 ** 32 - 8,
      2 ** 53,
      Infinity,
      -Infinity,
      heap.memory.byteLength + 64,
      // Past the START bitmap's span: the quick check reads the START word
      // through the whole memory's view, so without its limit these would
      // read holder's and target's MARK words (set: they are live) and pass.
      ...[holder, target].map((x) => x + (markBase - startBase) * 256),
      BigInt(target),
      valueOf,
      String(target),
      [target],
      true,
      null,
      undefined,
    ] as unknown as number[];
    for (const v of bad) {
      expect(() => T.fields.r.set(holder, v), String(v)).toThrow(InvalidArgumentError);
      expect(() => T.fields.w.set(holder, v), String(v)).toThrow(InvalidArgumentError);
      expect(() => heap.root(v)).toThrow(InvalidArgumentError);
      expect(() => heap.pushRoot(v)).toThrow(InvalidArgumentError);
      expect(() => heap.setGlobal('g', v)).toThrow(InvalidArgumentError);
      expect(T.fields.r.get(holder)).toBe(target);
      expect(T.fields.w.get(holder)).toBe(0);
    }
    expect(heap.rootStackHeight).toBe(0);
    expect(heap.getGlobal('g')).toBe(0);
    expect(coerced).toBe(0); // never converted with valueOf
    T.fields.r.set(holder, 0);
    expect(T.fields.r.get(holder)).toBe(0);
  });
});

describe('ManagedHeap: ref stores are checked during a cycle too', () => {
  // While a cycle runs, the inlined check's filter is empty and every store
  // goes through HeapState.storeSlow (the START check, then the barrier).
  it('in marking and in sweeping, bad values throw and change nothing; a store in marking shades its target', () => {
    for (const phase of ['mark', 'sweep'] as const) {
      const heap = manual();
      const other = manual();
      const T = heap.defineType('T', { r: 'ref', w: 'weak', n: 'i32' });
      const O = other.defineType('O', { x: 'ref' });
      const holder = heap.root(T.alloc()).value;
      const target = T.alloc();
      T.fields.r.set(holder, target);
      // Of another size class, in a block kept by a live neighbour, so that
      // the garbage below does not reuse its slot.
      const D = heap.defineType('D', { a: 'f64', b: 'f64', c: 'f64' });
      heap.root(D.alloc());
      const dead = D.alloc();
      heap.collect(); // dead is freed
      // Garbage made before the cycle: white in it, and not yet swept early in the sweep.
      const garbage: number[] = [];
      for (let i = 0; i < 20_000; i++) garbage.push(T.alloc());
      let foreign = 0;
      for (let i = 0; i < 100 && foreign === 0; i++) {
        const o = O.alloc();
        if (!heap.isLive(o)) foreign = o;
      }
      heap.step(1);
      while (heap.phase !== phase) heap.step(1);
      const bad: unknown[] = [dead, target + 4, foreign, 2.5, target + 0.5, target + 2 ** 32, -16, NaN, BigInt(target)];
      bad.push({ valueOf: () => target }, String(target), null, undefined);
      // In the sweep, unmarked objects are dead too, also those in blocks it has not reached yet.
      const white = garbage[garbage.length - 1]!;
      if (phase === 'sweep') for (let i = 0; i < garbage.length; i += 500) bad.push(garbage[i]);
      for (const v of bad) {
        expect(() => T.fields.r.set(holder, v as number), `${phase} ${String(v)}`).toThrow(InvalidArgumentError);
        expect(() => heap.root(v as number), String(v)).toThrow(InvalidArgumentError);
        expect(() => heap.pushRoot(v as number), String(v)).toThrow(InvalidArgumentError);
        expect(T.fields.r.get(holder)).toBe(target);
        expect(heap.phase).toBe(phase);
      }
      expect(heap.rootStackHeight).toBe(0);
      if (phase === 'mark') {
        // The write barrier: a white object stored now survives this cycle.
        T.fields.r.set(holder, white);
        T.fields.r.set(holder, target);
        while (!heap.step(1000)) {
          /* finish the cycle */
        }
        expect(heap.isLive(white)).toBe(true);
        expect(heap.isLive(garbage[0]!)).toBe(false);
        expect(heap.isLive(dead)).toBe(false);
      }
      while ((heap.phase as string) !== 'idle') heap.step(1000);
      T.fields.r.set(holder, target); // and back to the inlined check
      expect(() => T.fields.r.set(holder, dead)).toThrow(InvalidArgumentError);
    }
  });
});

describe('ManagedHeap: collection is automatic', () => {
  it('allocating 100x the heap size in garbage never runs out, and collects', () => {
    const heap = new ManagedHeap({ bytes: 1 << 20, minThreshold: 1 << 17 });
    const T = heap.defineType('T', { a: 'ref', b: 'ref', c: 'f64' });
    const keep = heap.root(T.alloc());
    let prev = keep.value;
    for (let i = 0; i < (100 << 20) / T.size; i++) {
      const t = T.alloc();
      if (i % 1000 === 0) {
        T.fields.a.set(prev, t); // a growing chain stays live
        prev = t;
      }
    }
    const st = heap.stats();
    expect(st.collections).toBeGreaterThan(5);
    heap.collect();
    expect(heap.stats().liveObjects).toBe(1 + Math.ceil((100 << 20) / T.size / 1000));
  });

  it('when live data does not fit it throws OutOfMemoryError, and works again once roots are released', () => {
    const heap = new ManagedHeap({ bytes: 1 << 20 });
    const T = heap.defineType('T', { next: 'ref', pad: { bytes: 100 } });
    const head = heap.root(T.alloc());
    let prev = head.value;
    let oom: unknown = null;
    try {
      for (;;) {
        const t = T.alloc();
        T.fields.next.set(prev, t);
        prev = t;
      }
    } catch (e) {
      oom = e;
    }
    expect(oom).toBeInstanceOf(OutOfMemoryError);
    head.release();
    for (let i = 0; i < 20_000; i++) T.alloc();
    heap.collect();
    expect(heap.stats().liveObjects).toBe(0);
  });

  it('empty GC blocks and large objects go back to kmalloc (trim returns everything)', () => {
    const k = new Kmalloc({ bytes: 1 << 22 });
    const heap = new ManagedHeap({ backend: k, autoCollect: false });
    // Types are permanent (their descriptors stay in kmalloc): define them first.
    const T = heap.defineType('T', { x: 'f64' });
    const Big = heap.defineArray('Big', 'f64');
    const before = k.footprint();
    for (let i = 0; i < 20_000; i++) T.alloc();
    for (let i = 0; i < 10; i++) Big.alloc(5000);
    expect(k.footprint()).toBeGreaterThan(before + 20_000 * 16);
    heap.collect();
    heap.trim();
    expect(k.footprint()).toBe(before);
  });
});

describe('ManagedHeap over a WebAssembly.Memory', () => {
  it('keeps working while the memory grows (by kmalloc, then by "wasm code" behind its back)', () => {
    const wasm = new WebAssembly.Memory({ initial: 64, maximum: 1024 });
    const buddy = new BuddyAllocator({ pages: 200, memory: Memory.wrap(wasm), maxPages: 4000 });
    const heap = new ManagedHeap({ backend: new Kmalloc({ buddy }), minThreshold: 1 << 16 });
    const T = heap.defineType('T', { next: 'ref', v: 'f64' });
    const r = heap.root(T.alloc());
    let p = r.value;
    const before = wasm.buffer.byteLength;
    for (let i = 0; i < 200_000; i++) {
      const n = T.alloc();
      T.fields.v.set(n, i);
      T.fields.next.set(p, n);
      p = n;
    }
    expect(wasm.buffer.byteLength).toBeGreaterThan(before); // kmalloc grew it
    wasm.grow(10); // the old buffer is detached
    heap.sync();
    let sum = 0;
    let count = 0;
    for (let q = T.fields.next.get(r.value); q !== 0; q = T.fields.next.get(q)) {
      sum += T.fields.v.get(q);
      count++;
    }
    expect([count, sum]).toEqual([200_000, (199_999 * 200_000) / 2]);
    heap.collect();
    expect(heap.stats().liveObjects).toBe(200_001);
  });

  it('a bytes field after a wasm-side grow: get and set pick the grow up themselves; past the memory, no object', () => {
    const wasm = new WebAssembly.Memory({ initial: 64, maximum: 1024 });
    const buddy = new BuddyAllocator({ pages: 200, memory: Memory.wrap(wasm), maxPages: 4000 });
    const heap = new ManagedHeap({ backend: new Kmalloc({ buddy }) });
    const T = heap.defineType('T', { raw: { bytes: 16 }, v: 'i32' });
    const o = T.alloc();
    T.fields.raw.set(o, [1, 2, 3]);
    wasm.grow(1); // the views the field holds are of a detached buffer now; no heap.sync()
    expect([...T.fields.raw.get(o).subarray(0, 4)]).toEqual([1, 2, 3, 0]); // was the engine's TypeError
    wasm.grow(1);
    T.fields.raw.set(o, [9]); // was dropped
    expect(new Uint8Array(wasm.buffer)[o + T.fields.raw.offset]).toBe(9);
    // An address whose field would end past the memory is no object: refused, not a view cut short.
    const end = wasm.buffer.byteLength - 8;
    expect(() => T.fields.raw.get(end)).toThrow(InvalidArgumentError);
    expect(() => T.fields.raw.set(end, [1])).toThrow(InvalidArgumentError);
  });
});

describe('ManagedHeap: introspection', () => {
  it('stats, typeOf, sizeOf and graph describe the heap', () => {
    const heap = manual();
    const Node = heap.defineType('Node', { l: 'ref', r: 'weak', v: 'i32' });
    const root = heap.root(Node.alloc());
    const child = Node.alloc();
    Node.fields.l.set(root.value, child);
    Node.fields.r.set(child, root.value);
    heap.setGlobal('answer', child);
    heap.pushRoot(child);
    Node.alloc();
    heap.collect();
    expect(heap.typeOf(child)).toBe('Node');
    expect(heap.sizeOf(child)).toBe(8 + 12 + 4);
    const g = heap.graph();
    expect(g.phase).toBe('idle');
    expect(g.nodes.map((n) => n.id).sort()).toEqual([root.value, child].sort());
    expect(g.edges).toEqual(
      expect.arrayContaining([
        { from: root.value, to: child, field: 'l', weak: false },
        { from: child, to: root.value, field: 'r', weak: true },
      ]),
    );
    expect(g.roots).toEqual(
      expect.arrayContaining([
        { kind: 'handle', target: root.value },
        { kind: 'global', name: 'answer', target: child },
        { kind: 'stack', target: child },
      ]),
    );
    const st = heap.stats();
    expect(st.collections).toBe(1);
    expect(st.liveObjects).toBe(2);
    expect(st.pauses.count).toBe(1);
    expect(st.pauses.maxMs).toBeGreaterThanOrEqual(st.pauses.p50Ms);
    expect(st.bytesAllocated).toBe(3 * Node.size);
    expect(st.bytesFreed).toBe(Node.size);
    expect(st.liveBytes).toBe(2 * Node.size);
  });
});
