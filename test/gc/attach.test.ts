import { execFileSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { HeapCorruptionError, InvalidArgumentError, Kmalloc, ManagedHeap, Memory } from '../../src/index.js';

/** A heap in a SharedArrayBuffer with a list, an array and some garbage. */
function sharedHeap() {
  const memory = Memory.create({ bytes: 4 << 20, shared: true });
  const heap = new ManagedHeap({ backend: new Kmalloc({ memory }), autoCollect: false });
  const Node = heap.defineType('Node', { next: 'ref', value: 'i32' });
  const Vec = heap.defineArray('Vec', 'f64');
  let head = 0;
  for (let i = 1; i <= 100; i++) {
    const n = Node.alloc();
    Node.fields.value.set(n, i);
    Node.fields.next.set(n, head);
    head = n;
    heap.setGlobal('list', n); // keeps the list built so far alive
  }
  const vec = Vec.alloc(3);
  [1.5, -2, 1e100].forEach((x, i) => Vec.set(vec, i, x));
  heap.setGlobal('vec', vec);
  for (let i = 0; i < 50; i++) Node.alloc(); // garbage
  heap.collect();
  return { memory, heap, Node };
}

describe('ManagedHeap.attach', () => {
  it('a worker attached read-only reads the same objects and the same graph; it cannot write', async () => {
    const { memory, heap } = sharedHeap();
    const worker = new Worker(new URL('./fixtures/attach-worker.mjs', import.meta.url), {
      workerData: { buffer: memory.buffer },
    });
    const msg = await new Promise<{
      sum: number;
      count: number;
      vecValues: number[];
      writerError: string;
      allocError: string;
      graph: ReturnType<ManagedHeap['graph']>;
      stats: ReturnType<ManagedHeap['stats']>;
      typeOfList: string;
    }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(msg.count).toBe(100);
    expect(msg.sum).toBe(5050);
    expect(msg.vecValues).toEqual([1.5, -2, 1e100]);
    expect(msg.typeOfList).toBe('Node');
    expect(msg.graph).toEqual(heap.graph());
    expect(msg.graph.nodes.length).toBe(101);
    expect(msg.graph.roots.map((r) => r.name).sort()).toEqual(['list', 'vec']);
    expect(msg.stats.liveObjects).toBe(heap.stats().liveObjects);
    expect(msg.writerError).toMatch(/^InvalidArgumentError: .*single-worker/);
    expect(msg.allocError).toBe('InvalidArgumentError');
  });

  it('a second writer is refused while the first is attached, and accepted after detach(); finalizers re-bind by name', () => {
    const memory = Memory.create({ bytes: 2 << 20 });
    const first = new ManagedHeap({ backend: new Kmalloc({ memory }), autoCollect: false });
    const Res = first.defineType(
      'Res',
      { id: 'i32' },
      {
        finalizer: () => {
          /* the first instance's */
        },
      },
    );
    const r = Res.alloc();
    Res.fields.id.set(r, 7);
    expect(() => ManagedHeap.attach(memory)).toThrow(InvalidArgumentError);
    first.detach();
    const finalized: number[] = [];
    const second = ManagedHeap.attach(memory, {
      Res: { finalizer: (o) => finalized.push(second.type<{ id: 'i32' }>('Res').fields.id.get(o)) },
    });
    expect(second.isLive(r)).toBe(true);
    second.collect();
    expect(finalized).toEqual([7]);
    expect(second.isLive(r)).toBe(false);
    // the second writer allocates and collects as the first did
    const T = second.type<{ id: 'i32' }>('Res');
    const kept = second.root(T.alloc());
    second.collect();
    expect(second.isLive(kept.value)).toBe(true);
    expect(() => ManagedHeap.attach(memory, { Res: {} })).toThrow(/another writer/);
  });

  it("a writer attached after detach() goes on with the first one's root free list, generations and open run", () => {
    // The JS copies of the root free list, the generation counter and the
    // size classes' runs are loaded from the buffer: the second writer must
    // neither reuse a slot the first left rooted nor hand out a slot of the
    // first's open run again.
    const memory = Memory.create({ bytes: 2 << 20 });
    const first = new ManagedHeap({ backend: new Kmalloc({ memory }), autoCollect: false });
    const Node = first.defineType('Node', { next: 'ref', value: 'i32' });
    const kept = first.root(Node.alloc());
    Node.fields.value.set(kept.value, 1);
    first.root(Node.alloc()).release(); // its slot heads the free list
    const c = Node.alloc();
    Node.fields.value.set(c, 2);
    first.setGlobal('c', c);
    // Roots made after the last slow path (setGlobal writes the buffer's free-list
    // words): root() keeps the head in its JS field, and detach() writes it back.
    const late = first.root(Node.alloc());
    first.root(Node.alloc()).release();
    const lateObj = late.value;
    Node.fields.value.set(lateObj, 3);
    const keptObj = kept.value;
    first.detach();
    const second = ManagedHeap.attach(memory);
    const N = second.type<{ next: 'ref'; value: 'i32' }>('Node');
    const made: number[] = [];
    const roots = [];
    for (let i = 0; i < 20; i++) {
      const o = N.alloc();
      N.fields.value.set(o, 100 + i);
      made.push(o);
      roots.push(second.root(o));
    }
    expect(made.includes(keptObj) || made.includes(c) || made.includes(lateObj)).toBe(false);
    expect(new Set(made).size).toBe(made.length);
    second.collect();
    expect([second.isLive(keptObj), N.fields.value.get(keptObj), N.fields.value.get(c)]).toEqual([true, 1, 2]);
    expect([second.isLive(lateObj), N.fields.value.get(lateObj)]).toEqual([true, 3]);
    expect(made.map((o) => N.fields.value.get(o))).toEqual(made.map((_, i) => 100 + i));
    for (const r of roots) r.release();
    second.collect();
    expect([
      second.isLive(keptObj),
      second.isLive(c),
      second.isLive(lateObj),
      made.some((o) => second.isLive(o)),
    ]).toEqual([true, true, true, false]);
  });

  it('attach where there is no heap, or a damaged one, throws HeapCorruptionError', () => {
    const bare = Memory.create({ bytes: 1 << 20 });
    expect(() => ManagedHeap.attach(bare)).toThrow(HeapCorruptionError);
    const memory = Memory.create({ bytes: 1 << 20 });
    new Kmalloc({ memory }); // a header, but no heap
    expect(() => ManagedHeap.attach(memory)).toThrow(HeapCorruptionError);
    const withHeap = Memory.create({ bytes: 1 << 20 });
    const heap = new ManagedHeap({ backend: new Kmalloc({ memory: withHeap }) });
    withHeap.u32[heap.stateAddress >>> 2] = 0xdead; // the magic
    expect(() => ManagedHeap.attach(withHeap, {}, { readOnly: true })).toThrow(HeapCorruptionError);
  });

  it('rejects bad arguments with InvalidArgumentError', () => {
    const { memory } = sharedHeap();
    for (const bad of [null, 1, 'x'])
      expect(() => ManagedHeap.attach(memory, bad as never)).toThrow(InvalidArgumentError);
    for (const bad of [null, undefined, 1, memory.buffer, {}])
      expect(() => ManagedHeap.attach(bad as never, {}, { readOnly: true })).toThrow(InvalidArgumentError);
    expect(() => ManagedHeap.attach(memory, { Node: 5 } as never, { readOnly: true })).toThrow(InvalidArgumentError);
    expect(() => ManagedHeap.attach(memory, {}, null as never)).toThrow(InvalidArgumentError);
    const view = ManagedHeap.attach(memory, {}, { readOnly: true });
    expect(() => view.type('Nope')).toThrow(InvalidArgumentError);
    expect(() => view.collect()).toThrow(InvalidArgumentError);
    expect(() => view.root(0)).toThrow(InvalidArgumentError);
    // A live object: the same error, and not a byte of the buffer changes (no root slot, no generation taken).
    const before = memory.u8.slice();
    expect(() => view.root(view.getGlobal('list'))).toThrow(/read-only/);
    expect(() => view.root(0)).toThrow(/read-only/);
    let changed = 0;
    for (let i = 0; i < before.length; i++) if (memory.u8[i] !== before[i]) changed++;
    expect(changed).toBe(0);
    expect(() => ManagedHeap.attach(memory, { Node: { finalizer: () => {} } }, { readOnly: true })).toThrow(
      /without a finalizer/,
    );
  });

  it("a read-only heap cannot allocate from its writer's open run: it throws, and the writer goes on where it was", () => {
    // The writer has a run open (allocated since its last collection): the
    // run's cursor and limit are in the buffer, and the read-only heap must
    // not bump them (its allocations read an empty JS copy of the run).
    const { memory, heap, Node } = sharedHeap();
    const a = Node.alloc();
    const Arr = heap.defineArray('Arr', 'i32');
    const arr = Arr.alloc(2); // 16 bytes, Node's size class
    const before = memory.u8.slice();
    const view = ManagedHeap.attach(memory, {}, { readOnly: true });
    const N = view.type<{ next: 'ref'; value: 'i32' }>('Node');
    const A = view.arrayType('Arr');
    expect(() => N.alloc()).toThrow(/read-only/);
    expect(() => A.alloc(2)).toThrow(/read-only/);
    let changed = 0;
    for (let i = 0; i < before.length; i++) if (memory.u8[i] !== before[i]) changed++;
    expect(changed).toBe(0);
    const b = Node.alloc();
    expect([arr - a, b - arr]).toEqual([Node.size, Node.size]); // the same run, slot after slot
    expect(heap.isLive(b) && !view.isLive(0)).toBe(true);
  });

  it('an attached heap has the same hidden class as a constructed one (%HaveSameMap)', () => {
    const script = `
      import { Kmalloc, ManagedHeap, Memory } from './src/index.ts';
      const memory = Memory.create({ bytes: 1 << 20 });
      const a = new ManagedHeap({ backend: new Kmalloc({ memory }) });
      a.defineType('T', { x: 'i32' });
      const b = ManagedHeap.attach(memory, {}, { readOnly: true });
      const other = { x: 1 };
      console.log(JSON.stringify({ same: %HaveSameMap(a, b), control: %HaveSameMap(a, other) }));
    `;
    const out = execFileSync(
      process.execPath,
      ['--allow-natives-syntax', '--import', 'tsx', '--input-type=module', '-e', script],
      {
        cwd: new URL('../..', import.meta.url).pathname,
        encoding: 'utf8',
      },
    );
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ same: true, control: false });
  });
});
