/**
 * The argument gate of ManagedHeap, table-driven (the GC layer's bad-input
 * matrix; test/buddy/bad-input-matrix.test.ts is the lower layers'): every
 * public method of the heap and of what it hands out (types, field
 * accessors, array types, roots, scopes), times every value of
 * `badValues(live, foreign)` in each argument position, on an idle heap and
 * on one in the middle of an incremental cycle. Each call must throw a
 * MemkitError subclass and leave the heap exactly as it was: the stats
 * counters, the graph (nodes, edges, roots), the shadow stack's height and
 * every byte of its memory; no valueOf is ever run. The few (method, value)
 * pairs where the value is in fact valid are listed by name: the call must
 * succeed, and change nothing unless the method `mutates`.
 *
 * Not refused, by design, and characterised below instead: field get/set
 * and array get/set/length do not check that `obj` (`arr`) is live
 * (docs/gc.md, "Rules of the road"), and number fields and elements are
 * typed-array stores.
 */
import { describe, expect, it } from 'vitest';
import { S_OWNER } from '../../src/gc/layout.js';
import {
  type ArrayKind,
  type ArrayType,
  HeaderSlot,
  HeapCorruptionError,
  InvalidArgumentError,
  ManagedHeap,
  Memory,
  MemkitError,
  type ObjectType,
  type Root,
  writeSlot,
} from '../../src/index.js';
import { badValues } from '../support/bad-values.js';
import { NODE_FIELDS } from '../support/field-kinds.js';

/** A field of every kind (test/support/field-kinds.ts), with the 6-byte bytes field this file always used. */
const NODE = { ...NODE_FIELDS, raw: { bytes: 6 } } as const;
type NodeSpec = typeof NODE;
const SCALARS = ['i32', 'u32', 'f64', 'u8', 'i8', 'u16', 'i16'] as const;
const KINDS: readonly ArrayKind[] = ['ref', 'i32', 'f64', 'u8'];

interface Env {
  heap: ManagedHeap;
  Node: ObjectType<NodeSpec>;
  arrays: Record<ArrayKind, ArrayType>;
  /** A live array of 4 elements of each kind (global roots). */
  arr: Record<ArrayKind, number>;
  /** `root` holds `live`; `other` is live.next, a global and on the shadow stack. */
  root: Root;
  live: number;
  other: number;
}

/**
 * A heap with objects of every field kind and arrays of every kind, rooted
 * in every way (a handle, globals, the shadow stack), collected once; with
 * `marking`, an incremental cycle is under way (phase 'mark').
 */
function makeEnv(marking = false): Env {
  const heap = new ManagedHeap({ bytes: 1 << 20, autoCollect: false });
  const Node = heap.defineType('Node', NODE);
  const arrays = Object.fromEntries(KINDS.map((k) => [k, heap.defineArray(`A_${k}`, k)])) as Record<
    ArrayKind,
    ArrayType
  >;
  const root = heap.root(Node.alloc());
  const live = root.value;
  const other = Node.alloc();
  heap.setGlobal('g', other);
  Node.fields.next.set(live, other);
  Node.fields.weak.set(other, live);
  Node.fields.i32.set(live, 7);
  const arr = {} as Record<ArrayKind, number>;
  for (const k of KINDS) {
    arr[k] = arrays[k].alloc(4);
    heap.setGlobal(`a_${k}`, arr[k]);
  }
  heap.pushRoot(other);
  heap.collect();
  if (marking) {
    while (heap.phase !== 'mark') heap.step(1);
  }
  return { heap, Node, arrays, arr, root, live, other };
}

/** An address where a heap of the same shape has an object and ours has none. */
const FOREIGN = ((): number => {
  const other = makeEnv();
  let f = 0;
  for (let i = 0; i < 20; i++) f = other.Node.alloc();
  return f;
})();

let valueOfRuns = 0;
/** badValues, with a valueOf that counts its runs. */
function values(env: Env): Array<[string, unknown]> {
  expect(env.heap.isLive(FOREIGN), 'the foreign address is free here').toBe(false);
  return badValues(env.live, FOREIGN).map(([label, x]): [string, unknown] =>
    label.startsWith('{ valueOf')
      ? [
          label,
          {
            valueOf: () => {
              valueOfRuns++;
              return env.live;
            },
          },
        ]
      : [label, x],
  );
}

const INTERIOR = 'live + 8 (interior)';
const FOREIGN_L = 'foreign address';
/** Labels of badValues that are numbers. */
const NUMBERS = ['0', '-1', '1.5', 'NaN', '+Infinity', '-Infinity', '-0', '2^31', '2^32', '2^53', INTERIOR, FOREIGN_L];
const ZEROS = ['0', '-0'];
const STRINGS = ['"64"', 'String(live)'];
const BIG = ['2^31', '2^32', '2^53', INTERIOR, FOREIGN_L];

interface Snapshot {
  state: string;
  bytes: Uint8Array;
}

function snapshot(env: Env): Snapshot {
  const h = env.heap;
  const s = h.stats();
  const state = [s.liveObjects, s.liveBytes, s.rootHandles, s.collections, s.bytesAllocated, s.bytesFreed];
  state.push(s.objectsFreed, s.pauses.count, h.rootStackHeight);
  return {
    state: JSON.stringify([state, s.phase, s.incremental, h.graph()]),
    bytes: h.memory.u8.slice(),
  };
}

/** [first, last] changed byte, or null when the memory is as it was. */
function changedRange(env: Env, before: Snapshot): [number, number] | null {
  const now = env.heap.memory.u8;
  expect(now.length).toBe(before.bytes.length);
  if (Buffer.compare(now, before.bytes) === 0) return null;
  let lo = 0;
  while (now[lo] === before.bytes[lo]) lo++;
  let hi = now.length - 1;
  while (now[hi] === before.bytes[hi]) hi--;
  return [lo, hi];
}

type Call = (env: Env, x: unknown) => unknown;
interface Method {
  name: string;
  call: Call;
  /** Values that are legitimately accepted: the call must succeed. */
  valid?: string[];
  /** A valid call may change the heap (it gets a new environment after). */
  mutates?: boolean;
  /** What every accepted call returns (a predicate: never throws). */
  returns?: unknown;
  /** Values not judged here (documented as unchecked; see the characterisations below). */
  unchecked?: string[];
  /** Does not touch the environment's heap: run in the idle environment only. */
  standalone?: boolean;
}

const F = <K extends keyof NodeSpec>(e: Env, k: K) => e.Node.fields[k];
const OPTS = (e: Env): { backend: ManagedHeap['backend'] } => ({ backend: e.heap.backend });

const METHODS: Method[] = [
  // The constructor. Collector options are tried over the heap's own backend: a refused
  // option must not allocate from it (no byte of its memory changes).
  { name: 'new ManagedHeap(x)', call: (_e, x) => new ManagedHeap(x as never), valid: ['undefined'], standalone: true },
  {
    name: 'new ManagedHeap({ bytes: x })',
    call: (_e, x) => new ManagedHeap({ bytes: x as number }),
    valid: ['2^31', 'undefined'],
    standalone: true,
  },
  {
    name: 'new ManagedHeap({ bytes: 2^16, maxBytes: x })',
    call: (_e, x) => new ManagedHeap({ bytes: 1 << 16, maxBytes: x as number }),
    valid: ['2^31', 'undefined'],
    standalone: true,
  },
  {
    name: 'new ManagedHeap({ backend: x })',
    call: (_e, x) => new ManagedHeap({ bytes: 1 << 16, backend: x as never }),
    valid: ['undefined'],
    standalone: true,
  },
  ...(
    [
      ['incremental', ['undefined', 'true', 'false']],
      ['autoCollect', ['undefined', 'true', 'false']],
      ['minThreshold', ['undefined', ...ZEROS, ...BIG]],
      ['growthFactor', ['undefined', ...ZEROS, '1.5', ...BIG]],
      ['stepBytes', ['undefined', ...BIG]],
      ['stepBudget', ['undefined', '1.5', '+Infinity', ...BIG]],
      ['debug', ['undefined']],
      ['onPause', ['undefined', 'a function']],
      ['onLeakedRoot', ['undefined', 'a function']],
      ['onFinalizerError', ['undefined', 'a function']],
    ] as const
  ).map(
    ([option, valid]): Method => ({
      name: `new ManagedHeap({ backend, ${option}: x })`,
      call: (e, x) => new ManagedHeap({ ...OPTS(e), [option]: x }),
      valid: [...valid],
      mutates: true,
    }),
  ),
  {
    name: 'new ManagedHeap({ backend, debug: { rootLeaks: x } })',
    call: (e, x) => new ManagedHeap({ ...OPTS(e), debug: { rootLeaks: x as boolean } }),
    valid: ['undefined', 'true', 'false'],
    mutates: true,
  },
  {
    name: 'new ManagedHeap({ backend, [typeof x]: x }), an unknown option',
    call: (e, x) => new ManagedHeap({ ...OPTS(e), [typeof x]: x } as never),
  },
  // attach. The heap's writer is attached: a writer attach is refused whatever else it is given.
  { name: 'ManagedHeap.attach(x)', call: (_e, x) => ManagedHeap.attach(x as never), standalone: true },
  {
    name: 'ManagedHeap.attach(memory, x, { readOnly: true })',
    call: (e, x) => ManagedHeap.attach(e.heap.memory, x as never, { readOnly: true }),
    valid: ['undefined', '{ valueOf: live }'], // an object of finalizers by type name: no type is named valueOf
  },
  {
    name: 'ManagedHeap.attach(memory, { Node: x }, { readOnly: true })',
    call: (e, x) => ManagedHeap.attach(e.heap.memory, { Node: x as never }, { readOnly: true }),
    valid: ['undefined'],
  },
  { name: 'ManagedHeap.attach(memory, {}, x)', call: (e, x) => ManagedHeap.attach(e.heap.memory, {}, x as never) },
  {
    name: 'ManagedHeap.attach(memory, {}, { readOnly: x })',
    call: (e, x) => ManagedHeap.attach(e.heap.memory, {}, { readOnly: x as boolean }),
    valid: ['true'],
  },
  {
    name: 'ManagedHeap.attach(memory, {}, { readOnly: true, backend: x })',
    call: (e, x) => ManagedHeap.attach(e.heap.memory, {}, { readOnly: true, backend: x as never }),
    valid: ['undefined'],
  },
  {
    name: 'ManagedHeap.attach(memory, {}, { readOnly: true, options: x })',
    call: (e, x) => ManagedHeap.attach(e.heap.memory, {}, { readOnly: true, options: x as never }),
    valid: ['undefined'],
  },
  {
    name: 'ManagedHeap.attach(memory, {}, { readOnly: true, options: { stepBytes: x } })',
    call: (e, x) => ManagedHeap.attach(e.heap.memory, {}, { readOnly: true, options: { stepBytes: x as number } }),
    valid: ['undefined', ...BIG],
  },
  // Types.
  {
    name: 'heap.defineType(x, { a: "i32" })',
    call: (e, x) => e.heap.defineType(x as string, { a: 'i32' }),
    valid: STRINGS,
    mutates: true,
  },
  { name: 'heap.defineType("T", x)', call: (e, x) => e.heap.defineType('T', x as never) },
  { name: 'heap.defineType("T", { a: x })', call: (e, x) => e.heap.defineType('T', { a: x as never }) },
  {
    name: 'heap.defineType("T", { a: { bytes: x } })',
    call: (e, x) => e.heap.defineType('T', { a: { bytes: x as number } }),
    valid: [INTERIOR, FOREIGN_L], // whole numbers up to 2^20
    mutates: true,
  },
  {
    name: 'heap.defineType("T", { a: "i32" }, x)',
    call: (e, x) => e.heap.defineType('T', { a: 'i32' }, x as never),
    valid: ['undefined'],
    mutates: true,
  },
  {
    name: 'heap.defineType("T", { a: "i32" }, { finalizer: x })',
    call: (e, x) => e.heap.defineType('T', { a: 'i32' }, { finalizer: x as never }),
    valid: ['undefined', 'a function'],
    mutates: true,
  },
  {
    name: 'heap.defineArray(x, "i32")',
    call: (e, x) => e.heap.defineArray(x as string, 'i32'),
    valid: STRINGS,
    mutates: true,
  },
  { name: 'heap.defineArray("A", x)', call: (e, x) => e.heap.defineArray('A', x as never) },
  {
    name: 'heap.defineArray("A", "i32", x)',
    call: (e, x) => e.heap.defineArray('A', 'i32', x as never),
    valid: ['undefined'],
    mutates: true,
  },
  {
    name: 'heap.defineArray("A", "i32", { finalizer: x })',
    call: (e, x) => e.heap.defineArray('A', 'i32', { finalizer: x as never }),
    valid: ['undefined', 'a function'],
    mutates: true,
  },
  { name: 'heap.type(x)', call: (e, x) => e.heap.type(x as string) },
  { name: 'heap.arrayType(x)', call: (e, x) => e.heap.arrayType(x as string) },
  { name: 'Node.is(x)', call: (e, x) => e.Node.is(x as number), returns: false },
  // Ref and bytes fields: the value is checked (obj is not: see below).
  { name: 'next.set(live, x)', call: (e, x) => F(e, 'next').set(e.live, x as number), valid: ZEROS, mutates: true },
  { name: 'weak.set(live, x)', call: (e, x) => F(e, 'weak').set(e.live, x as number), valid: ZEROS, mutates: true },
  { name: 'raw.set(live, x)', call: (e, x) => F(e, 'raw').set(e.live, x as never), valid: ['[live]'], mutates: true },
  // Arrays: lengths, indexes and ref elements are checked; a non-number array is refused.
  ...KINDS.flatMap((k): Method[] => [
    {
      name: `A_${k}.alloc(x)`,
      call: (e, x) => e.arrays[k].alloc(x as number),
      valid: [...ZEROS, INTERIOR, FOREIGN_L],
      mutates: true,
    },
    { name: `A_${k}.get(arr, x)`, call: (e, x) => e.arrays[k].get(e.arr[k], x as number), valid: ZEROS },
    {
      name: `A_${k}.set(arr, x, 0)`,
      call: (e, x) => e.arrays[k].set(e.arr[k], x as number, 0),
      valid: ZEROS,
      mutates: true,
    },
    { name: `A_${k}.get(x, 0)`, call: (e, x) => e.arrays[k].get(x as number, 0), unchecked: NUMBERS },
    { name: `A_${k}.set(x, 0, 0)`, call: (e, x) => e.arrays[k].set(x as number, 0, 0), unchecked: NUMBERS },
    { name: `A_${k}.length(x)`, call: (e, x) => e.arrays[k].length(x as number), unchecked: NUMBERS },
    { name: `A_${k}.is(x)`, call: (e, x) => e.arrays[k].is(x as number), returns: false },
  ]),
  {
    name: 'A_ref.set(arr, 0, x)',
    call: (e, x) => e.arrays.ref.set(e.arr.ref, 0, x as number),
    valid: ZEROS,
    mutates: true,
  },
  // Roots.
  { name: 'heap.root(x)', call: (e, x) => e.heap.root(x as number), valid: ZEROS, mutates: true },
  { name: 'root.set(x)', call: (e, x) => e.root.set(x as number), valid: ZEROS, mutates: true },
  { name: 'heap.scope(x)', call: (e, x) => e.heap.scope(x as never), valid: ['a function'] },
  {
    name: 'escape(x) (outermost scope)',
    call: (e, x) => e.heap.scope((escape) => escape(x as number)),
    valid: ZEROS,
    mutates: true,
  },
  {
    name: 'escape(x) (nested scope)',
    call: (e, x) => e.heap.scope(() => e.heap.scope((escape) => escape(x as number))),
    valid: ZEROS,
    mutates: true,
  },
  { name: 'heap.pushRoot(x)', call: (e, x) => e.heap.pushRoot(x as number), valid: ZEROS, mutates: true },
  {
    name: 'heap.setGlobal(x, live)',
    call: (e, x) => e.heap.setGlobal(x as string, e.live),
    valid: STRINGS,
    mutates: true,
  },
  { name: 'heap.setGlobal("g", x)', call: (e, x) => e.heap.setGlobal('g', x as number), valid: ZEROS, mutates: true },
  {
    name: 'heap.setGlobal("fresh", x)',
    call: (e, x) => e.heap.setGlobal('fresh', x as number),
    valid: ZEROS,
    mutates: true,
  },
  { name: 'heap.getGlobal(x)', call: (e, x) => e.heap.getGlobal(x as string), valid: STRINGS },
  { name: 'heap.deleteGlobal(x)', call: (e, x) => e.heap.deleteGlobal(x as string), valid: STRINGS },
  // Collection and inspection.
  {
    name: 'heap.step(x)',
    call: (e, x) => e.heap.step(x as number),
    valid: ['undefined', '1.5', '+Infinity', ...BIG],
    mutates: true,
  },
  { name: 'heap.isLive(x)', call: (e, x) => e.heap.isLive(x as number), returns: false },
  { name: 'heap.typeOf(x)', call: (e, x) => e.heap.typeOf(x as number) },
  { name: 'heap.sizeOf(x)', call: (e, x) => e.heap.sizeOf(x as number) },
  {
    name: 'heap.incremental = x',
    call: (e, x) => {
      e.heap.incremental = x as boolean;
    },
    valid: ['true', 'false'],
    mutates: true,
  },
];

describe.each([
  ['idle', false],
  ['marking (an incremental cycle under way)', true],
])('bad-input matrix: ManagedHeap, %s', (_phase, marking) => {
  it('covers every method with at least 20 bad values', () => {
    expect(badValues(0, 0).length).toBeGreaterThanOrEqual(20);
    expect(METHODS.length).toBeGreaterThanOrEqual(80);
  });

  const methods = METHODS.filter((m) => !(marking && m.standalone === true));
  it.each(methods.map((m) => [m.name, m] as const))('%s', (_name, method) => {
    let env = makeEnv(marking);
    let before = snapshot(env); // the heap as it is before each call (a refused call changes nothing)
    let refused = 0;
    for (const [label, x] of values(env)) {
      if (method.unchecked?.includes(label) === true) continue;
      const runs = valueOfRuns;
      let err: unknown = null;
      let result: unknown;
      try {
        result = method.call(env, x);
      } catch (e) {
        err = e;
      }
      const context = `${method.name} with ${label}`;
      expect(valueOfRuns, `${context}: ran valueOf`).toBe(runs);
      const valid = method.returns !== undefined || method.valid?.includes(label) === true;
      if (valid) {
        expect(err, `${context}: valid, should succeed`).toBeNull();
        if (method.returns !== undefined) expect(result, `${context}: returned`).toBe(method.returns);
      } else {
        expect(err, `${context}: should throw a MemkitError`).toBeInstanceOf(MemkitError);
        refused++;
      }
      if (valid && method.mutates === true) {
        env = makeEnv(marking); // whatever it changed, the next value gets a heap as it was
        before = snapshot(env);
        continue;
      }
      expect(changedRange(env, before), `${context}: bytes changed`).toBeNull();
      expect(snapshot(env).state, `${context}: state changed`).toBe(before.state);
    }
    if (method.returns === undefined) expect(refused).toBeGreaterThan(0);
  });
});

describe('odd environments', () => {
  it('a read-only attached heap refuses every change with InvalidArgumentError, and not a byte changes', () => {
    const env = makeEnv();
    const view = ManagedHeap.attach(Memory.wrap(env.heap.memory.buffer), {}, { readOnly: true });
    const Node = view.type<NodeSpec>('Node');
    const Ints = view.arrayType('A_i32');
    const calls: Array<[string, () => unknown]> = [
      ['collect()', () => view.collect()],
      ['step(100)', () => view.step(100)],
      ['trim()', () => view.trim()],
      ['root(0)', () => view.root(0)],
      ['root(live)', () => view.root(env.live)],
      ['scope(fn)', () => view.scope(() => 1)],
      ['pushRoot(live)', () => view.pushRoot(env.live)],
      ['pushRoot(0)', () => view.pushRoot(0)],
      ['popRoot()', () => view.popRoot()],
      ['next.set(live, other)', () => Node.fields.next.set(env.live, env.other)],
      ['weak.set(live, other)', () => Node.fields.weak.set(env.live, env.other)],
      ['A_ref.set(arr, 0, live)', () => view.arrayType('A_ref').set(env.arr.ref, 0, env.live)],
      ['setGlobal("g", 0)', () => view.setGlobal('g', 0)],
      ['deleteGlobal("g")', () => view.deleteGlobal('g')],
      ['defineType', () => view.defineType('T', { a: 'i32' })],
      ['defineArray', () => view.defineArray('A', 'i32')],
      ['Node.alloc()', () => Node.alloc()],
      ['A_i32.alloc(1)', () => Ints.alloc(1)],
      ['incremental = true', () => (view.incremental = true)],
      ['backend', () => view.backend],
    ];
    const before = snapshot(env);
    for (const [name, call] of calls) expect(call, name).toThrow(InvalidArgumentError);
    expect(changedRange(env, before)).toBeNull();
    expect(snapshot(env).state).toBe(before.state);
    // Reads work, and see the writer's objects.
    expect(view.getGlobal('g')).toBe(env.other);
    expect(Node.fields.i32.get(env.live)).toBe(7);
  });

  it('a released root, an escape after its scope, an empty shadow stack: InvalidArgumentError, nothing changes', () => {
    const env = makeEnv();
    const r = env.heap.root(env.live);
    r.release();
    let late: ((obj: number) => Root) | null = null;
    env.heap.scope((escape) => {
      late = escape;
    });
    const before = snapshot(env);
    expect(r.alive).toBe(false);
    expect(() => r.value).toThrow(InvalidArgumentError);
    expect(() => r.set(env.live)).toThrow(InvalidArgumentError);
    expect(() => r.set(0)).toThrow(InvalidArgumentError);
    r.release(); // twice: nothing
    expect(() => late!(env.live)).toThrow(InvalidArgumentError);
    expect(env.heap.popRoot()).toBe(env.other);
    expect(() => env.heap.popRoot()).toThrow(InvalidArgumentError);
    env.heap.pushRoot(env.other); // as it was
    expect(changedRange(env, before)).toBeNull();
    expect(snapshot(env).state).toBe(before.state);
  });

  it('a field kind named after an Object.prototype member ("toString", "constructor", ...) is refused', () => {
    const env = makeEnv();
    const before = snapshot(env);
    for (const kind of ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf', 'bytes', '', 'I32'])
      expect(() => env.heap.defineType('T', { a: kind as never }), kind).toThrow(InvalidArgumentError);
    for (const kind of ['toString', 'constructor', '__proto__', 'I32'])
      expect(() => env.heap.defineArray('A', kind as never), kind).toThrow(InvalidArgumentError);
    expect(changedRange(env, before)).toBeNull();
    expect(snapshot(env).state).toBe(before.state);
  });

  it('a writer attach with a bad backend or bad options takes no writer token (over a detached copy)', () => {
    const env = makeEnv();
    const copy = Memory.wrap(env.heap.memory.buffer.slice(0));
    copy.u32[(env.heap.stateAddress >>> 2) + S_OWNER] = 0; // as after detach()
    const before = copy.u8.slice();
    const budgets = ['undefined', '1.5', '+Infinity', ...BIG]; // valid stepBudget values
    for (const [label, x] of values(env)) {
      if (label !== 'undefined')
        expect(() => ManagedHeap.attach(copy, {}, { backend: x as never }), `backend ${label}`).toThrow(MemkitError);
      if (!budgets.includes(label))
        expect(() => ManagedHeap.attach(copy, {}, { options: { stepBudget: x as number } }), label).toThrow(
          MemkitError,
        );
      expect(Buffer.compare(copy.u8, before), label).toBe(0);
    }
    const writer = ManagedHeap.attach(copy); // the token is free: the writer attaches
    expect(writer.readOnly).toBe(false);
  });

  it('a writer attach whose Kmalloc.attach fails gives the writer token back', () => {
    const env = makeEnv();
    const copy = Memory.wrap(env.heap.memory.buffer.slice(0));
    const owner = (env.heap.stateAddress >>> 2) + S_OWNER;
    copy.u32[owner] = 0;
    writeSlot(copy, HeaderSlot.Kmalloc, 8); // no kmalloc state there
    expect(() => ManagedHeap.attach(copy)).toThrow(MemkitError);
    expect(copy.u32[owner]).toBe(0);
    expect(() => ManagedHeap.attach(copy, {}, { readOnly: true })).not.toThrow();
  });

  it('a damaged object header: graph(), typeOf(), collect() and step() throw HeapCorruptionError (no endless walk)', () => {
    // A type id no type has: its "ref count" would be read from past the type table.
    for (const info of [0xa7ff7777, 0xffffffff]) {
      for (const call of [
        (h: ManagedHeap) => h.graph(),
        (h: ManagedHeap) => h.typeOf(h.getGlobal('g')),
        (h: ManagedHeap) => h.collect(),
        (h: ManagedHeap) => {
          for (let i = 0; i < 1000; i++) h.step(100);
        },
      ]) {
        const env = makeEnv();
        env.heap.memory.u32[env.other >>> 2] = info;
        expect(() => call(env.heap), `${call} with header ${info}`).toThrow(HeapCorruptionError);
      }
    }
    // An array length of 2^31 - 1: its "elements" would be walked for minutes.
    for (const call of [(h: ManagedHeap) => h.graph(), (h: ManagedHeap) => h.collect()]) {
      const env = makeEnv();
      env.heap.memory.u32[(env.arr.ref >>> 2) + 1] = 0x7fffffff;
      expect(() => call(env.heap), `${call} with a damaged length`).toThrow(HeapCorruptionError);
    }
  });
});

/**
 * What a typed array of `kind` stores for `x` (the reference behaviour of
 * number fields and elements), or the class of the error it throws.
 */
function typedStore(kind: (typeof SCALARS)[number], x: unknown): unknown {
  const views = {
    i32: Int32Array,
    u32: Uint32Array,
    f64: Float64Array,
    u8: Uint8Array,
    i8: Int8Array,
    u16: Uint16Array,
    i16: Int16Array,
  };
  const a = new views[kind](1);
  try {
    a[0] = x as number;
  } catch (e) {
    return (e as Error).constructor;
  }
  return a[0];
}

describe('documented: number fields and elements are typed-array stores (not checked)', () => {
  it.each(SCALARS)('%s field: set(live, x) stores what a typed array stores, and only in the field', (kind) => {
    const env = makeEnv();
    const field = F(env, kind);
    const wide: Array<[string, unknown]> = [
      ['2^40', 2 ** 40],
      ['-2^40 - 1', -(2 ** 40) - 1],
      ['1e-9', 1e-9],
    ];
    for (const [label, x] of [...values(env), ...wide]) {
      const before = snapshot(env);
      const expected = typedStore(kind, x);
      if (typeof expected === 'function') {
        // A BigInt or a symbol: the typed array's TypeError, nothing written.
        expect(() => field.set(env.live, x as number), label).toThrow(expected as typeof TypeError);
        expect(changedRange(env, before), label).toBeNull();
        continue;
      }
      field.set(env.live, x as number);
      expect(Object.is(field.get(env.live), expected), `${kind} ${label}: ${field.get(env.live)}`).toBe(true);
      const range = changedRange(env, before);
      if (range !== null) {
        expect(range[0], label).toBeGreaterThanOrEqual(env.live + field.offset);
        expect(range[1], label).toBeLessThan(env.live + env.Node.size);
      }
    }
  });

  it.each(['i32', 'f64', 'u8'] as const)('A_%s.set(arr, 0, x) stores what a typed array stores', (kind) => {
    const env = makeEnv();
    const A = env.arrays[kind];
    const a = env.arr[kind];
    for (const [label, x] of values(env)) {
      const expected = typedStore(kind, x);
      if (typeof expected === 'function') {
        expect(() => A.set(a, 0, x as number), label).toThrow(expected as typeof TypeError);
        continue;
      }
      A.set(a, 0, x as number);
      expect(Object.is(A.get(a, 0), expected), `${kind} ${label}`).toBe(true);
    }
  });
});

describe('field and element stores through a bad obj (docs/gc.md: obj is not checked to be live)', () => {
  /** The memkit header: no object starts in it, and `obj >>> 2` of null, NaN, 2^32... lands there. */
  const HEADER = 64;
  /** Values whose `>>> 2` is 0 (so the store's index is in the header): a field of null. */
  const NULLISH: unknown[] = [0, -0, null, undefined, NaN, 1.5, 2 ** 32, 2 ** 53, false, true, Infinity, -Infinity];

  it.each([...SCALARS, 'next', 'weak', 'raw'] as const)(
    '%s: a store through null (0, NaN, undefined, 2^32...) throws InvalidArgumentError and writes nothing; no store lands in the header',
    (kind) => {
      const env = makeEnv();
      const field = F(env, kind) as { set(o: unknown, v: unknown): void; get(o: unknown): unknown };
      const v = kind === 'raw' ? [1, 2, 3] : kind === 'next' || kind === 'weak' ? env.other : 5;
      for (const x of NULLISH) {
        const before = snapshot(env);
        expect(() => field.set(x, v), `set ${String(x)}`).toThrow(InvalidArgumentError);
        expect(changedRange(env, before), `set ${String(x)}`).toBeNull();
      }
      for (const [label, x] of values(env)) {
        if (typeof x === 'bigint' || typeof x === 'symbol') continue; // below: the engine's TypeError
        const before = snapshot(env);
        try {
          field.set(x, v);
        } catch (e) {
          expect(e, label).toBeInstanceOf(MemkitError);
        }
        const range = changedRange(env, before);
        if (range !== null)
          expect(range[0], `set ${label} wrote [${range[0]}, ${range[1]}]`).toBeGreaterThanOrEqual(HEADER);
        env.heap.memory.u8.set(before.bytes);
      }
    },
  );

  it("a BigInt or symbol obj still throws the engine's TypeError (from `>>>`); nothing is written", () => {
    const env = makeEnv();
    const { i32, next } = env.Node.fields;
    const before = snapshot(env);
    for (const x of [BigInt(env.live), Symbol('x')]) {
      expect(() => i32.get(x as never)).toThrow(TypeError);
      expect(() => i32.set(x as never, 1)).toThrow(TypeError);
      expect(() => next.set(x as never, 0)).toThrow(TypeError);
    }
    expect(changedRange(env, before)).toBeNull();
  });

  it('a string obj converts as `>>>` converts it (a number field store is not type-checked); the bytes field refuses it', () => {
    const env = makeEnv();
    const { i32, raw } = env.Node.fields;
    i32.set(String(env.live) as never, 1234);
    expect(i32.get(env.live)).toBe(1234); // the write went to live's field
    i32.set(env.live, 7);
    const before = snapshot(env);
    for (const x of [String(env.live), '64', [env.live]]) {
      expect(() => raw.set(x as never, [1])).toThrow(InvalidArgumentError);
      expect(() => raw.get(x as never)).toThrow(InvalidArgumentError);
    }
    expect(changedRange(env, before)).toBeNull();
  });

  it.each(KINDS)('A_%s: a number arr that is no array reads and writes nothing in the header', (kind) => {
    const env = makeEnv();
    const A = env.arrays[kind];
    for (const [label, x] of values(env)) {
      if (!NUMBERS.includes(label)) continue;
      const before = snapshot(env);
      const whole = typeof x === 'number' && x >>> 0 === x && x >= HEADER;
      for (const call of [() => A.length(x as number), () => A.get(x as number, 0), () => A.set(x as number, 0, 0)]) {
        if (!whole) expect(call, label).toThrow(InvalidArgumentError);
        else
          try {
            call();
          } catch (e) {
            expect(e, label).toBeInstanceOf(MemkitError);
          }
      }
      const range = changedRange(env, before);
      if (range !== null) expect(range[0], `${label} wrote [${range[0]}, ${range[1]}]`).toBeGreaterThanOrEqual(HEADER);
      env.heap.memory.u8.set(before.bytes);
    }
  });
});
