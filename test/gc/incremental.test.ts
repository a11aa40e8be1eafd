import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManagedHeap, type Root } from '../../src/index.js';
import { runs } from '../support/fuzz.js';

/**
 * A random program against a model: objects with two strong refs, one weak
 * ref and an id; roots come and go; collector steps of random budgets (and
 * the odd stop-the-world collect) run between mutations.
 */
type Cmd =
  | { k: 'alloc'; root: boolean }
  | { k: 'child'; obj: number; field: 'a' | 'b'; len: number }
  | { k: 'set'; obj: number; field: 'a' | 'b' | 'w'; to: number | null }
  | { k: 'unroot'; pick: number }
  | { k: 'root'; pick: number }
  | { k: 'step'; budget: number }
  | { k: 'collect' };

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ k: fc.constant('alloc' as const), root: fc.boolean() }) },
  {
    weight: 5,
    arbitrary: fc.record({
      k: fc.constant('child' as const),
      obj: fc.nat(),
      field: fc.constantFrom('a' as const, 'b' as const),
      len: fc.oneof(fc.constant(1), fc.integer({ min: 2, max: 30 })),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      k: fc.constant('set' as const),
      obj: fc.nat(),
      field: fc.constantFrom('a' as const, 'b' as const, 'w' as const),
      to: fc.option(fc.nat(), { freq: 2 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('unroot' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('root' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('step' as const), budget: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('collect' as const) }) },
);

interface ModelObj {
  id: number;
  addr: number;
  a: ModelObj | null;
  b: ModelObj | null;
  w: ModelObj | null;
}

function runProgram(cmds: Cmd[]): void {
  const heap = new ManagedHeap({ bytes: 1 << 21, autoCollect: false, incremental: true });
  const T = heap.defineType('T', { a: 'ref', b: 'ref', w: 'weak', id: 'i32' });
  const f = T.fields;
  const objs: ModelObj[] = []; // model objects the heap may still hold
  const roots = new Map<ModelObj, Root>();
  let nextId = 1;

  const reachable = (): Set<ModelObj> => {
    const seen = new Set<ModelObj>();
    const stack = [...roots.keys()];
    while (stack.length > 0) {
      const o = stack.pop()!;
      if (seen.has(o)) continue;
      seen.add(o);
      if (o.a !== null) stack.push(o.a);
      if (o.b !== null) stack.push(o.b);
    }
    return seen;
  };
  /** Safety: reachable objects are live and intact; freed ones were unreachable. */
  const audit = (): void => {
    const reach = reachable();
    for (let i = objs.length - 1; i >= 0; i--) {
      const o = objs[i]!;
      const live = heap.isLive(o.addr) && f.id.get(o.addr) === o.id;
      if (reach.has(o)) {
        expect(live, `reachable object ${o.id} was freed`).toBe(true);
        expect([f.a.get(o.addr), f.b.get(o.addr)]).toEqual([o.a?.addr ?? 0, o.b?.addr ?? 0]);
        // A weak field holds its target or was cleared because the target died.
        const w = f.w.get(o.addr);
        if (w === 0) o.w = null;
        else expect(w).toBe(o.w?.addr);
      } else if (!live) {
        objs.splice(i, 1);
      }
    }
    // No live object's weak field may name a freed object.
    for (const o of objs) if (o.w !== null && !objs.includes(o.w)) expect(reach.has(o)).toBe(false);
  };

  for (const c of cmds) {
    switch (c.k) {
      case 'alloc': {
        const o: ModelObj = { id: nextId++, addr: T.alloc(), a: null, b: null, w: null };
        f.id.set(o.addr, o.id);
        objs.push(o);
        // An unrooted new object is garbage at once, unless linked before the next step.
        if (c.root) roots.set(o, heap.root(o.addr));
        break;
      }
      case 'child': {
        // A chain of new objects reachable only through the heap.
        const reach = [...reachable()];
        if (reach.length === 0) break;
        let holder = reach[c.obj % reach.length]!;
        for (let i = 0; i < c.len; i++) {
          const o: ModelObj = { id: nextId++, addr: T.alloc(), a: null, b: null, w: null };
          f.id.set(o.addr, o.id);
          objs.push(o);
          f[c.field].set(holder.addr, o.addr);
          holder[c.field] = o;
          holder = o;
        }
        break;
      }
      case 'set': {
        // Only objects the program can still name: reachable ones (or fresh garbage, which is harmless).
        const reach = [...reachable()];
        if (reach.length === 0) break;
        const holder = reach[c.obj % reach.length]!;
        const target = c.to === null ? null : reach[c.to % reach.length]!;
        f[c.field].set(holder.addr, target?.addr ?? 0);
        holder[c.field] = target;
        break;
      }
      case 'unroot': {
        const keys = [...roots.keys()];
        if (keys.length === 0) break;
        const o = keys[c.pick % keys.length]!;
        roots.get(o)!.release();
        roots.delete(o);
        break;
      }
      case 'root': {
        const reach = [...reachable()];
        if (reach.length === 0) break;
        const o = reach[c.pick % reach.length]!;
        if (!roots.has(o)) roots.set(o, heap.root(o.addr));
        break;
      }
      case 'step':
        heap.step(c.budget);
        break;
      case 'collect':
        heap.collect();
        break;
    }
    audit();
  }
  // Finish the cycle in flight (it may keep floating garbage), then one more
  // incremental cycle with no mutation must leave exactly the reachable set,
  // which is also what a stop-the-world collection leaves.
  while (heap.phase !== 'idle') heap.step(7);
  audit();
  while (!heap.step(13)) {
    /* one whole incremental cycle */
  }
  audit();
  const reach = reachable();
  const liveAfterIncremental = objs
    .filter((o) => heap.isLive(o.addr))
    .map((o) => o.id)
    .sort();
  expect(liveAfterIncremental).toEqual([...reach].map((o) => o.id).sort());
  expect(heap.stats().liveObjects).toBe(reach.size);
  heap.collect();
  expect(
    objs
      .filter((o) => heap.isLive(o.addr))
      .map((o) => o.id)
      .sort(),
  ).toEqual(liveAfterIncremental);
}

describe('incremental collection', () => {
  it('gives the same live set as stop-the-world under random mutation (write barrier keeps reachable objects)', () => {
    fc.assert(
      fc.property(fc.array(cmdArb, { minLength: 20, maxLength: 300 }), (cmds) => runProgram(cmds)),
      {
        numRuns: runs(150),
      },
    );
  });

  it('the Dijkstra barrier saves a white object moved behind a black one during marking', () => {
    const heap = new ManagedHeap({ bytes: 1 << 21, autoCollect: false });
    const T = heap.defineType('T', { a: 'ref' });
    // r2 -> chain of 500 -> B ; r1 -> A. Roots are pushed in slot order, so
    // r1 (the later slot) is popped and scanned first.
    const r2 = heap.root(T.alloc());
    const r1 = heap.root(T.alloc());
    let p = r2.value;
    for (let i = 0; i < 500; i++) {
      const n = T.alloc();
      T.fields.a.set(p, n);
      p = n;
    }
    const b = T.alloc();
    T.fields.a.set(p, b);
    heap.step(3); // r1's object is black now, B is still white
    expect(heap.phase).toBe('mark');
    T.fields.a.set(r1.value, b); // black -> white: the barrier shades B
    T.fields.a.set(p, 0); // the only other path to B is cut
    while (!heap.step(5)) {
      /* finish */
    }
    expect(heap.isLive(b)).toBe(true);
    expect(T.fields.a.get(r1.value)).toBe(b);
  });

  it('objects born during a cycle (in marking or in an unfinished sweep) survive it: allocation is black', () => {
    for (const phase of ['mark', 'sweep'] as const) {
      const heap = new ManagedHeap({ bytes: 1 << 22, autoCollect: false });
      const T = heap.defineType('T', { next: 'ref', v: 'i32' });
      const keep = heap.root(T.alloc());
      // 40 blocks of garbage and a live chain, so that both phases take many steps.
      let p = keep.value;
      for (let i = 0; i < 30_000; i++) {
        const t = T.alloc();
        if (i % 3 === 0) {
          T.fields.next.set(p, t);
          p = t;
        }
      }
      while (heap.phase !== phase) heap.step(8);
      // Born now: 5000 objects (the current run, new runs, new blocks).
      const born: number[] = [];
      for (let i = 0; i < 5000; i++) {
        const t = T.alloc();
        T.fields.v.set(t, i);
        born.push(t);
      }
      expect(heap.phase).toBe(phase);
      // Unrooted until the cycle is over: they survive it because they are
      // born black (the next cycle would free them).
      while (!heap.step(8)) {
        /* finish this cycle */
      }
      born.forEach((t, i) => {
        expect(heap.isLive(t)).toBe(true);
        expect(T.fields.v.get(t)).toBe(i);
      });
      const holder = heap.root(0);
      for (const [i, t] of born.entries()) T.fields.next.set(t, i > 0 ? born[i - 1]! : 0);
      holder.set(born[born.length - 1]!);
      heap.collect();
      expect(heap.stats().liveObjects).toBe(1 + 10_000 + 5000);
    }
  });

  it('a big heap clears its MARK bitmap in slices before a cycle; objects made meanwhile are traced, old marks gone', () => {
    // 64 MiB: a MARK bitmap of 4 slices, so steps from idle stay idle (clearing)
    // a few times. Between those steps the program replaces everything it holds
    // with new objects: a large array born then must not be black (it would not
    // be scanned, and its children would be freed), and the marks of the last
    // cycle must all be gone (an old black object is not scanned either).
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 6 }), (sizes) => {
        const heap = new ManagedHeap({ bytes: 64 << 20, autoCollect: false, incremental: true });
        const Node = heap.defineType('Node', { next: 'ref', v: 'i32' });
        const Refs = heap.defineArray('Refs', 'ref');
        const holder = heap.root(Refs.alloc(400)); // a large object (1608 bytes)
        const fillFresh = (tag: number): void => {
          for (let i = 0; i < 400; i++) {
            if (i % 2 === 0) {
              const n = Node.alloc();
              Node.fields.v.set(n, tag * 1000 + i);
              Refs.set(holder.value, i, n);
            } else {
              const arr = Refs.alloc(sizes[i % sizes.length]! + 300); // large: born while idle
              Refs.set(holder.value, i, arr);
              for (let j = 0; j < 3; j++) {
                const n = Node.alloc();
                Node.fields.v.set(n, tag * 1000 + i * 10 + j);
                Refs.set(arr, j, n);
              }
            }
          }
        };
        fillFresh(0);
        while (!heap.step(1000)) {
          /* a whole cycle: its marks stay in the bitmap */
        }
        const old: number[] = [];
        for (let i = 0; i < 400; i++) old.push(Refs.get(holder.value, i));
        let idleSteps = 0;
        let tag = 1;
        for (;;) {
          heap.step(1);
          if (heap.phase !== 'idle') break;
          idleSteps++;
          fillFresh(tag++);
        }
        expect(idleSteps).toBeGreaterThan(0);
        const last = tag - 1;
        while (!heap.step(50)) {
          /* finish the cycle */
        }
        for (const o of old) expect(heap.isLive(o)).toBe(false);
        for (let i = 0; i < 400; i++) {
          const x = Refs.get(holder.value, i);
          expect(heap.isLive(x)).toBe(true);
          if (i % 2 === 0) expect(Node.fields.v.get(x)).toBe(last * 1000 + i);
          else {
            for (let j = 0; j < 3; j++) {
              const n = Refs.get(x, j);
              expect(heap.isLive(n)).toBe(true);
              expect(Node.fields.v.get(n)).toBe(last * 1000 + i * 10 + j);
            }
          }
        }
        // Exactly the reachable set after one more (stepped) cycle, as collect() leaves it.
        while (!heap.step(1000)) {
          /* next cycle */
        }
        const stepped = heap.stats().liveObjects;
        heap.collect();
        expect(stepped).toBe(1 + 200 + 200 * 4);
        expect(heap.stats().liveObjects).toBe(stepped);
      }),
      { numRuns: runs(4) },
    );
  });

  it('after a cycle that frees much, steps give the pool of empty blocks back by slices (not in one pause)', () => {
    const run = (extraSteps: number): number => {
      const heap = new ManagedHeap({ bytes: 32 << 20, autoCollect: false, incremental: true });
      const T = heap.defineType('T', { next: 'ref', v: 'i32' });
      const head = heap.root(T.alloc());
      let p = head.value;
      for (let i = 0; i < 600_000; i++) {
        const n = T.alloc();
        T.fields.next.set(p, n);
        p = n;
      }
      heap.collect(); // about 9.6 MB live: the next threshold (and the pool's limit) is 3x that
      head.release();
      while (!heap.step(100_000)) {
        /* the cycle that frees the list: its ~590 blocks go to the pool */
      }
      expect(heap.stats().liveObjects).toBe(0);
      for (let i = 0; i < extraSteps; i++) heap.step(1);
      return heap.trim() / (16 << 10); // blocks still pooled
    };
    // The cycle's end trims at most 32 blocks toward the new limit (64 blocks: 1 MiB)...
    expect(run(0)).toBeGreaterThan(400);
    // ... and every later step 32 more, down to that limit.
    expect(run(30)).toBeLessThanOrEqual(64);
  });

  it('automatic incremental collection keeps pauses bounded by the step budget', () => {
    const pauses: number[] = [];
    const heap = new ManagedHeap({ bytes: 1 << 23, incremental: true, onPause: (ms) => pauses.push(ms) });
    const T = heap.defineType('T', { a: 'ref', b: 'ref' });
    const keep = heap.root(T.alloc());
    // A live tree of 2^15 nodes, then lots of garbage.
    const build = (n: number, d: number): void => {
      if (d === 0) return;
      const l = T.alloc();
      T.fields.a.set(n, l);
      build(l, d - 1);
      const r = T.alloc();
      T.fields.b.set(n, r);
      build(r, d - 1);
    };
    build(keep.value, 14);
    for (let i = 0; i < 1_000_000; i++) T.alloc();
    expect(heap.stats().collections).toBeGreaterThan(2);
    heap.collect();
    expect(heap.stats().liveObjects).toBe(2 ** 15 - 1);
    expect(pauses.length).toBeGreaterThan(20);
  });

  it('an automatic step stops at its deadline: a budget of a whole cycle still marks a 1M list over many steps, losing nothing', () => {
    let unfinished = 0; // steps that left a cycle running
    // stepBudget: 2^29 units, a whole cycle's work in one step were there no deadline.
    const heap: ManagedHeap = new ManagedHeap({
      bytes: 64 << 20,
      incremental: true,
      stepBudget: 1 << 29,
      growthFactor: 0.25,
      onPause: () => {
        if (heap.phase !== 'idle') unfinished++;
      },
    });
    const T = heap.defineType('T', { next: 'ref', v: 'i32' });
    const head = heap.root(T.alloc());
    let p = head.value;
    for (let i = 1; i < 1_000_000; i++) {
      const n = T.alloc();
      T.fields.v.set(n, i);
      T.fields.next.set(p, n);
      p = n;
    }
    heap.collect();
    const c0 = heap.stats().collections;
    unfinished = 0;
    // Garbage until the next cycle (it starts after some 4 MB) has ended.
    for (let i = 0; i < 4000 && heap.stats().collections === c0; i++) for (let j = 0; j < 1000; j++) T.alloc();
    expect(heap.stats().collections).toBe(c0 + 1); // an incremental cycle, not a full collect
    // Marking 1M objects takes milliseconds: without the deadline the cycle is one step.
    expect(unfinished).toBeGreaterThan(2);
    let n = 0;
    let wrong = 0;
    for (let q = head.value; q !== 0; q = T.fields.next.get(q)) if (T.fields.v.get(q) !== n++) wrong++;
    expect(n).toBe(1_000_000);
    expect(wrong).toBe(0);
  });
});

describe('finalizers and weak fields', () => {
  it('each dead object is finalized exactly once, live ones never; the finalizer reads the object', () => {
    const seen = new Map<number, number>();
    const heap = new ManagedHeap({ bytes: 1 << 21, autoCollect: false });
    const File = heap.defineType(
      'File',
      { fd: 'i32', next: 'ref' },
      {
        finalizer: (obj) => seen.set(File.fields.fd.get(obj), (seen.get(File.fields.fd.get(obj)) ?? 0) + 1),
      },
    );
    const keep = heap.root(File.alloc());
    File.fields.fd.set(keep.value, 0);
    for (let fd = 1; fd <= 100; fd++) {
      const f = File.alloc();
      File.fields.fd.set(f, fd);
      if (fd % 2 === 0) {
        File.fields.next.set(f, File.fields.next.get(keep.value));
        File.fields.next.set(keep.value, f);
      }
    }
    heap.collect();
    heap.collect();
    expect([...seen.keys()].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => 2 * i + 1));
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    keep.release();
    heap.collect();
    heap.collect();
    expect(seen.size).toBe(101);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    expect(heap.stats().liveObjects).toBe(0);
  });

  it('a finalizer may allocate; one that throws is reported and the others still run', () => {
    const errors: unknown[] = [];
    const heap = new ManagedHeap({ bytes: 1 << 21, autoCollect: false, onFinalizerError: (e) => errors.push(e) });
    const Log = heap.defineType('Log', { n: 'i32' });
    let finalized = 0;
    const R = heap.defineType(
      'R',
      { n: 'i32' },
      {
        finalizer: (obj) => {
          finalized++;
          heap.setGlobal('last', Log.alloc());
          if (R.fields.n.get(obj) === 3) throw new Error('bad finalizer');
        },
      },
    );
    for (let i = 0; i < 5; i++) R.fields.n.set(R.alloc(), i);
    heap.collect();
    expect(finalized).toBe(5);
    expect(errors).toHaveLength(1);
    expect(heap.isLive(heap.getGlobal('last'))).toBe(true);
  });

  it('weak fields are cleared when their target dies, kept while it is strongly reachable (stop-the-world and incremental)', () => {
    for (const incremental of [false, true]) {
      const heap = new ManagedHeap({ bytes: 1 << 21, autoCollect: false });
      const Cache = heap.defineType('Cache', { entry: 'weak', strong: 'ref' });
      const Entry = heap.defineType('Entry', { v: 'f64' });
      const cache = heap.root(Cache.alloc());
      const a = Entry.alloc();
      const b = Entry.alloc();
      Cache.fields.entry.set(cache.value, a);
      const holder = heap.root(Cache.alloc());
      Cache.fields.entry.set(holder.value, b);
      Cache.fields.strong.set(holder.value, b);
      if (incremental) {
        heap.step(1);
        // Set during marking to a white object that then dies.
        const c = Entry.alloc();
        Cache.fields.entry.set(cache.value, c);
        while (!heap.step(2)) {
          /* finish */
        }
        expect(heap.isLive(c)).toBe(true); // born black: survives this cycle
        while (!heap.step(2)) {
          /* a second cycle */
        }
        expect(heap.isLive(c)).toBe(false);
      } else {
        heap.collect();
        expect(heap.isLive(a)).toBe(false);
      }
      expect(Cache.fields.entry.get(cache.value)).toBe(0);
      expect(Cache.fields.entry.get(holder.value)).toBe(b);
      expect(heap.isLive(b)).toBe(true);
    }
  });
});
