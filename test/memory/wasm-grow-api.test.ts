/**
 * The wasm-grow sweeps (test/memory/wasm-grow.test.ts, the wasm-grow cases of
 * the slab, TLSF and kmalloc hardening tests, test/gc/heap.test.ts) made
 * complete by construction: every public member of every heap class, called
 * right after the wasm side grew the `WebAssembly.Memory` under it (README,
 * Memory, Guarantees: "every allocator of these layers sees the new buffer at
 * its next call, reports and iterators included").
 *
 * Twin worlds: two identical heaps, each over its own `WebAssembly.Memory`
 * (`Memory.wrap(wasm)`, 2 MiB with room to grow), built by the same code with
 * live blocks of every tier. Before every call the GROWN world's memories
 * grow by one page from the "wasm side" (`wasm.grow(1)`, which detaches the
 * old buffer and every view over it), with no memkit call in between; the
 * TWIN is not grown. Each call is made on both, and then:
 * - the results must be equal: deep equal after normalizing (a typed-array
 *   view by its offset, length and bytes; an object of the world, a Memory,
 *   an allocator, a type, by its name in its world; another class instance
 *   by its class, its own number/string/boolean fields and the world's
 *   objects it names), or the same error (class and message) from both.
 *   Callbacks (forEachBlock and the like) record their visits, compared as
 *   lists;
 * - the grown world's memory must hold, byte for byte, what the twin's holds
 *   (a store dropped into the detached buffer shows here, at the call that
 *   dropped it), but for the words that differ by construction: the memkit
 *   header's length word (the memory's length) and a ManagedHeap's writer
 *   token (a counter, one per heap made). For that, the sweeps run with
 *   `performance.now` at 0 (the GC times its pauses, in its stats and in the
 *   buffer) and `Math.random` at 0.5 (the keys of the hardened free lists of
 *   slab, TLSF and kmalloc).
 *
 * The members come from the TypeScript compiler (test/support/public-api.ts,
 * as in lost-buffer-api.test.ts): for each subject below, the properties of
 * its declared instance type, inherited ones, getters and readonly fields
 * too, that are public API (no `private`/`protected`, no `#` name, no
 * `@internal` tag), and its public statics. Each subject has a table with
 * one entry per member; the test fails when a public member has no entry (a
 * new method forces a decision) and when an entry names no public member (a
 * stale table). Every exported class is either swept or named in NOT_SWEPT
 * with its reason, so a new exported class forces a decision too.
 *
 * Swept: Memory, BuddyAllocator, Arena, ArenaScope (`arena.scope()`),
 * SlabCache, TlsfHeap (standalone, and the one `Kmalloc.tlsf` is), Kmalloc,
 * KmallocCache (`k.caches[i]`), and ManagedHeap with Root (`heap.root`),
 * GcBackend (`heap.backend`), ObjectType (a small type, a large one, and
 * one whose size class has no run yet), ArrayType (each element kind),
 * NumberField (each kind) and BytesField (a small and a large object's).
 * Not swept: the classes in NOT_SWEPT (reasons there); the exported
 * interfaces that are plain data (options, stats, graphs); ByteAllocator,
 * PageSource and LeakScanTarget (interfaces the swept classes implement:
 * their members are swept as the classes' own).
 *
 * What an entry expects:
 * - `self`: the member picks the grow up by itself (it syncs): the same
 *   result and the same bytes with no sync in between.
 * - `afterSync`: documented as not syncing, so the grown world makes the sync
 *   the docs name after the grow and before the call (`heap.sync()`), and
 *   the results and bytes must then be equal: a number field's `set` (and a
 *   ref field's set of 0), which reads nothing before it writes (docs/gc.md,
 *   `heap.sync()`; ManagedHeap.sync's TSDoc). Until 3 Dec `alloc()`,
 *   `root()`, `pushRoot()`, field gets, element access, an array's `length`
 *   and a type's `is` were here too: they read a word first now, and take a
 *   slow branch that syncs when it reads `undefined`.
 * - `size`: a result that differs because the grown memory is bigger (a byte
 *   length, the buffer, a view of all of it), compared by the rule the entry
 *   states: each world's answer is about its own memory as it is now (its
 *   whole length, its current buffer, a view of all of it), and the grown
 *   world's holds the twin's (a length at least the twin's; a view with the
 *   twin's bytes). Memory's buffer and view fields are `size` entries that
 *   sync first (`memory.sync()`: they are fields, the views of the buffer at
 *   the last sync, and Memory.sync's TSDoc says to call it after the wasm
 *   code grew the memory).
 *
 * What it found when it was written (3 Dec), fixed since: ManagedHeap's
 * popRoot (said "empty" on a stack of 7), deleteGlobal (dropped its stores),
 * Root.value/set/release (took a live root for released), a large object's
 * alloc (lost its pacing credit) and an alloc that starts a new run (the
 * engine's TypeError): each now syncs on its slow or error branch.
 *
 * After the sweep of a subject's tables, every world's `checkInvariants()`
 * passes (a GC heap: its backend's, and `graph()`), the payload stamped in
 * blocks of every tier when the worlds were built, which no call touches, is
 * intact in the grown world, the memories are equal as after each call, and
 * the pages only the wasm side added are still zero.
 *
 * Members that end or tear down a heap (`detach`, `dispose`,
 * `[Symbol.dispose]`, a root's `release`) run on fresh twin worlds of their
 * own, each member on its pair; the statics (`attach`, `recover`, `create`,
 * `wrap`) on a pair of their own.
 */
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it, vi } from 'vitest';
import {
  Arena,
  type ArrayType,
  BuddyAllocator,
  type BytesField,
  type FieldSpecs,
  Kmalloc,
  ManagedHeap,
  Memory,
  type NumberField,
  type ObjectType,
  SlabCache,
  TlsfHeap,
} from '../../src/index.js';
import { apiNames, expectClassesCovered, expectEntries } from '../support/api-coverage.js';
import { describeError } from '../support/bad-values.js';
import { NODE_FIELDS } from '../support/field-kinds.js';

// ------------------------------------------------------------ the public API, as TypeScript sees it

// ------------------------------------------------------------ the worlds

/** A wasm page: what `wasm.grow(1)` adds. */
const WASM_PAGE = 65536;
/** The memories' maximum, in pages: the most calls a subject's world sees is about 110. */
const MAX_PAGES = 512;
/** Byte range of the memkit header's length word (H_LENGTH, word 13): the memory's length, which differs. */
const LENGTH_WORD = [52, 56] as const;
/** Byte offset of a ManagedHeap's writer token in its state block (S_OWNER, word 3): a counter, one per heap made. */
const S_OWNER_BYTE = 12;

/** A heap over one wasm memory, as the sweep sees it. */
interface Env {
  readonly wasm: WebAssembly.Memory;
  /** The world's objects a result may hold, by name: compared as `@name`. */
  readonly names: ReadonlyMap<object, string>;
  /** The checks run after a sweep (checkInvariants). */
  readonly checks: ReadonlyArray<readonly [string, () => unknown]>;
  /** Payload stamped when built: address and bytes. */
  readonly stamps: ReadonlyArray<readonly [number, readonly number[]]>;
  /** Byte ranges that differ between twins by construction (the header's length word: the memory's length; a writer token). */
  readonly ignore: ReadonlyArray<readonly [number, number]>;
}

function wasmMemory(pages: number): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: pages, maximum: MAX_PAGES });
}

/** Names the objects of a world (an array's elements as `name[i]`). */
function namesOf(objects: Record<string, object | readonly object[]>): Map<object, string> {
  const names = new Map<object, string>();
  for (const [name, o] of Object.entries(objects)) {
    if (Array.isArray(o)) o.forEach((x, i) => names.set(x, `${name}[${i}]`));
    else names.set(o, name);
  }
  return names;
}

/** Writes `n` bytes of a pattern at `addr` (seeded by `seed`) and returns the stamp. */
function stamp(memory: Memory, addr: number, n: number, seed: number): [number, number[]] {
  memory.sync();
  const bytes = Array.from({ length: n }, (_, i) => (seed * 31 + i * 7 + 1) & 0xff);
  memory.u8.set(bytes, addr);
  return [addr, bytes];
}

/** The bytes at `addr` now (a payload a heap's setters wrote). */
function snapshot(memory: Memory, addr: number, n: number): [number, number[]] {
  memory.sync();
  return [addr, Array.from(memory.u8.subarray(addr, addr + n))];
}

/** Memory, BuddyAllocator, TlsfHeap, SlabCache and Arena over one wasm memory, with live blocks. */
function layers() {
  const wasm = wasmMemory(32); // 2 MiB
  const memory = Memory.wrap(wasm);
  const buddy = new BuddyAllocator({ memory, pages: 256, maxPages: 1024 });
  const page = buddy.allocPages(2);
  const exact = buddy.allocPagesExact(3);
  const tlsf = new TlsfHeap(buddy, { chunkPages: 16 });
  const t = tlsf.alloc(100);
  tlsf.free(tlsf.alloc(40)); // a quick-listed block for the next alloc of its size
  const cache = new SlabCache(buddy, { name: 'obj', size: 96 });
  const o = cache.alloc();
  const objs = Array.from({ length: 12 }, () => cache.alloc());
  let slab = 0;
  cache.forEachSlab((addr) => {
    slab ||= addr;
  });
  const arena = new Arena({ buddy });
  const a = arena.alloc(100);
  const mark = arena.mark();
  const scope = arena.scope();
  arena.alloc(200);
  // Witnesses no call of the sweep touches: a block of each layer, stamped.
  const keep = new Arena({ buddy });
  const stamps = [
    stamp(memory, buddy.allocPages(1), 4096, 1),
    stamp(memory, tlsf.alloc(300), 300, 2),
    stamp(memory, cache.alloc(), 96, 3),
    stamp(memory, keep.alloc(500), 500, 4),
    stamp(memory, tlsf.alloc(5000), 5000, 5),
  ];
  expect([page, exact, t, o, slab, a].every((x) => x > 0)).toBe(true);
  const env: Env = {
    wasm,
    names: namesOf({ wasm, memory, buddy, tlsf, cache, arena, scope, keep }),
    checks: [
      ['buddy.checkInvariants', () => buddy.checkInvariants()],
      ['tlsf.checkInvariants', () => tlsf.checkInvariants()],
      ['cache.checkInvariants', () => cache.checkInvariants()],
      ['arena.checkInvariants', () => arena.checkInvariants()],
      ['keep.checkInvariants', () => keep.checkInvariants()],
    ],
    stamps,
    ignore: [LENGTH_WORD],
  };
  return { env, wasm, memory, buddy, page, exact, tlsf, t, cache, o, objs, slab, arena, a, mark, scope };
}

/** A Kmalloc over a wasm memory with live blocks of each tier (a size class, TLSF, whole pages). */
function kmallocHeap() {
  const wasm = wasmMemory(32);
  const memory = Memory.wrap(wasm);
  const k = new Kmalloc({ memory, maxBytes: 24 << 20 });
  const blocks = [k.kmalloc(64), k.kmalloc(3000), k.kmalloc(100_000)];
  const cache = k.caches.find((c) => c.size === k.ksize(blocks[0]!))!;
  let page = 0;
  cache.forEachSlab((addr) => {
    page ||= addr;
  });
  expect(page).toBeGreaterThan(0);
  const stamps = [64, 3000, 100_000].map((n, i) => stamp(memory, k.kmalloc(n), n, 10 + i));
  const env: Env = {
    wasm,
    names: namesOf({ wasm, memory, k, tlsf: k.tlsf, buddy: k.buddy, caches: k.caches }),
    checks: [['k.checkInvariants', () => k.checkInvariants()]],
    stamps,
    ignore: [LENGTH_WORD],
  };
  return { env, wasm, memory, k, blocks, cache, page };
}

/** A ManagedHeap over a Kmalloc over a wasm memory: objects of a small and a large type, an array of each kind, roots of each sort. */
function managedHeap() {
  const wasm = wasmMemory(32);
  const memory = Memory.wrap(wasm);
  const k = new Kmalloc({ memory, maxBytes: 24 << 20 });
  const heap = new ManagedHeap({ backend: k });
  const Node = heap.defineType('Node', NODE_FIELDS);
  const Big = heap.defineType('Big', { next: 'ref', raw: { bytes: 2000 } }); // a kmalloc block of its own
  const Mid = heap.defineType('Mid', { next: 'ref', raw: { bytes: 600 } }); // a size class with no run yet
  const Junk = heap.defineType('Junk', { next: 'ref', raw: { bytes: 300 } }); // garbage: whole blocks of it
  const arrays = [
    heap.defineArray('Refs', 'ref'),
    heap.defineArray('Ints', 'i32'),
    heap.defineArray('Floats', 'f64'),
    heap.defineArray('Bytes', 'u8'),
  ];
  const a = Node.alloc();
  const b = Node.alloc();
  Node.fields.next.set(a, b);
  Node.fields.weak.set(b, a);
  Node.fields.i32.set(a, -5);
  Node.fields.f64.set(a, 2.5);
  Node.fields.raw.set(a, [1, 2, 3]);
  const big = Big.alloc();
  const arrs = arrays.map((T) => T.alloc(4));
  arrays[0]!.set(arrs[0]!, 1, a);
  arrays[1]!.set(arrs[1]!, 2, -7);
  arrays[2]!.set(arrs[2]!, 3, 0.25);
  arrays[3]!.set(arrs[3]!, 0, 200);
  const root = heap.root(a);
  heap.setGlobal('g', b);
  heap.pushRoot(big);
  for (const arr of arrs) heap.pushRoot(arr);
  const block = heap.backend.alloc(64);
  // Garbage, for step, collect and trim to free (whole GC blocks of it), and a rooted chain for marking to walk.
  for (let i = 0; i < 150; i++) Junk.alloc();
  const chain = heap.root(Junk.alloc());
  for (let i = 0; i < 20; i++) {
    const n = Junk.alloc();
    Junk.fields.next.set(n, chain.value);
    chain.set(n);
  }
  // Witnesses no call of the sweep touches, rooted by globals the sweep leaves alone.
  const w = Node.alloc();
  heap.setGlobal('keep', w);
  Node.fields.raw.set(w, [9, 8, 7, 6, 5, 4, 3, 2]);
  Node.fields.f64.set(w, Math.PI);
  const wb = Big.alloc();
  heap.setGlobal('keepBig', wb);
  Big.fields.raw.set(
    wb,
    Array.from({ length: 2000 }, (_, i) => (i * 13) & 0xff),
  );
  const wi = arrays[1]!.alloc(50);
  heap.setGlobal('keepInts', wi);
  for (let i = 0; i < 50; i++) arrays[1]!.set(wi, i, i * 1000 - 7);
  const stamps = [
    snapshot(memory, w + Node.fields.raw.offset, 8),
    snapshot(memory, w + Node.fields.f64.offset, 8),
    snapshot(memory, wb + Big.fields.raw.offset, 2000),
    snapshot(memory, wi + 8, 200),
    stamp(memory, k.kmalloc(300), 300, 20),
  ];
  const env: Env = {
    wasm,
    names: namesOf({
      wasm,
      memory,
      heap,
      k,
      Node,
      Big,
      Mid,
      arrays,
      root,
      ...Object.fromEntries(Object.entries(Node.fields).map(([n, f]) => [`Node.fields.${n}`, f])),
      ...Object.fromEntries(Object.entries(Big.fields).map(([n, f]) => [`Big.fields.${n}`, f])),
    }),
    checks: [
      ['k.checkInvariants', () => k.checkInvariants()],
      ['heap.graph', () => heap.graph()],
    ],
    stamps,
    ignore: [LENGTH_WORD, [heap.stateAddress + S_OWNER_BYTE, heap.stateAddress + S_OWNER_BYTE + 4]],
  };
  return { env, wasm, memory, k, heap, Node, Big, Mid, arrays, a, b, big, arrs, root, block };
}

type Layers = ReturnType<typeof layers>;
type KmallocWorld = ReturnType<typeof kmallocHeap>;
type Managed = ReturnType<typeof managedHeap>;

// ------------------------------------------------------------ the tables' vocabulary

type Call = () => unknown;
type Expect = 'self' | 'afterSync' | 'size';
/** A `size` entry's rule: what is wrong with the grown world's and the twin's results (null: nothing). */
type Rule = (grown: unknown, twin: unknown, g: Env, t: Env) => string | null;

interface Entry {
  readonly expect: Expect;
  /** Why a member is not `self`. */
  readonly why: string;
  readonly calls: readonly Call[];
  /** The sync the docs name, made by the grown world after the grow (`afterSync`; `size` on a Memory view). */
  readonly sync?: () => void;
  /** How a `size` entry's results compare. */
  readonly rule?: Rule;
  /** Ends or tears down the heap: run on fresh worlds of its own. */
  readonly teardown?: boolean;
}

/** A member's entries (a member may have calls of several kinds). */
type Table = Readonly<Record<string, Entry | readonly Entry[]>>;
/** A subject's tables, each with the heap (its wasm memory) it runs on. */
type Part = readonly [Env, Table];

const self = (...calls: Call[]): Entry => ({ expect: 'self', why: '', calls });
const afterSync = (why: string, sync: () => void, ...calls: Call[]): Entry => ({
  expect: 'afterSync',
  why,
  sync,
  calls,
});
const size = (why: string, rule: Rule, ...calls: Call[]): Entry => ({ expect: 'size', why, rule, calls });
const syncedSize = (why: string, sync: () => void, rule: Rule, ...calls: Call[]): Entry => ({
  ...size(why, rule, ...calls),
  sync,
});
const teardown = (e: Entry): Entry => ({ ...e, teardown: true });

const entriesOf = (e: Entry | readonly Entry[]): readonly Entry[] => ('expect' in e ? [e] : (e as readonly Entry[]));

/** A call that passes a recording callback to `f`: its result and the visits' arguments. */
const visits =
  (f: (visit: (...args: unknown[]) => void) => unknown): Call =>
  () => {
    const seen: unknown[][] = [];
    const result = f((...args) => {
      seen.push(args);
    });
    return { result, seen };
  };

// ------------------------------------------------------------ comparing

/** What a call gave: a value or an error. */
type Outcome = { readonly threw: false; readonly value: unknown } | { readonly threw: true; readonly error: unknown };

function attempt(call: Call): Outcome {
  try {
    return { threw: false, value: call() };
  } catch (error) {
    return { threw: true, error };
  }
}

const isView = (x: object): x is ArrayBufferView => ArrayBuffer.isView(x);

/** A result made comparable across worlds (see the header comment). */
function normalize(x: unknown, names: ReadonlyMap<object, string>, depth = 0): unknown {
  if (typeof x === 'function') return names.has(x) ? `@${names.get(x)}` : '<function>';
  if (typeof x !== 'object' || x === null) return x;
  const name = names.get(x);
  if (name !== undefined) return `@${name}`;
  if (depth > 8) return '<deep>';
  if (isView(x)) {
    const bytes = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
    return {
      view: x.constructor.name,
      byteOffset: x.byteOffset,
      byteLength: x.byteLength,
      detached: x.buffer.byteLength === 0,
      bytes: Buffer.from(bytes).toString('base64'),
    };
  }
  if (x instanceof ArrayBuffer) return { arrayBuffer: x.byteLength };
  if (Array.isArray(x)) return x.map((v) => normalize(v, names, depth + 1));
  if (x instanceof Map) return { map: [...x].map((kv) => normalize(kv, names, depth + 1)) };
  if (x instanceof Set) return { set: [...x].map((v) => normalize(v, names, depth + 1)) };
  const proto = Object.getPrototypeOf(x);
  if (proto === Object.prototype || proto === null)
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, normalize(v, names, depth + 1)]));
  // Another class instance: its class, its own plain fields, and the world's objects it names.
  const own: Record<string, unknown> = { class: x.constructor.name };
  for (const [k, v] of Object.entries(x)) {
    if (typeof v !== 'object' && typeof v !== 'function') own[k] = v;
    else if (v !== null && names.has(v)) own[k] = `@${names.get(v)}`;
  }
  return own;
}

function show(x: unknown): string {
  const s = JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
  return s === undefined ? String(x) : s.length > 160 ? `${s.slice(0, 160)}...` : s;
}

/** First offset where `a` (the grown world's bytes) and `b` (the twin's) differ over `b`'s length, the `ignore` ranges aside; -1 if none. */
function firstDiff(a: Uint8Array, b: Uint8Array, ignore: ReadonlyArray<readonly [number, number]>): number {
  if (a.length < b.length) return a.length;
  const cuts = [...ignore].sort((x, y) => x[0] - y[0]);
  let from = 0;
  for (const [lo, hi] of [...cuts, [b.length, b.length] as const]) {
    const to = Math.min(lo, b.length);
    if (
      to > from &&
      !Buffer.from(a.buffer, a.byteOffset + from, to - from).equals(
        Buffer.from(b.buffer, b.byteOffset + from, to - from),
      )
    )
      for (let i = from; i < to; i++) if (a[i] !== b[i]) return i;
    from = Math.max(from, hi);
  }
  return -1;
}

/** What is wrong with one world's result under a `size` rule about its own memory. */
type OwnRule = (x: unknown, env: Env) => string | null;

/** A size rule: `own` holds for each world's result about its own memory, and the grown one's is at least the twin's. */
const sizeRule =
  (own: OwnRule, measure: (x: unknown) => number): Rule =>
  (g, t, G, T) => {
    const wrong = own(g, G) ?? own(t, T);
    if (wrong !== null) return wrong;
    return measure(g) >= measure(t) ? null : `the grown world's ${measure(g)} < the twin's ${measure(t)}`;
  };

/** A byte length: the world's whole memory now. */
const WHOLE_LENGTH: Rule = sizeRule(
  (x, env) =>
    x === env.wasm.buffer.byteLength ? null : `${show(x)}, not the memory's length ${env.wasm.buffer.byteLength}`,
  (x) => x as number,
);

/** The Memory's buffer: the wasm memory's current one. */
const CURRENT_BUFFER: Rule = sizeRule(
  (x, env) => (x === env.wasm.buffer ? null : `not the current buffer (${show(normalize(x, env.names))})`),
  (x) => (x as ArrayBuffer).byteLength,
);

/** A view of the whole memory: over the current buffer, all of it; the grown world's holds the twin's bytes. */
const WHOLE_VIEW: Rule = (g, t, G, T) => {
  const own = (x: unknown, env: Env): string | null => {
    if (!(typeof x === 'object' && x !== null && isView(x))) return `not a view: ${show(x)}`;
    if (x.buffer !== env.wasm.buffer) return `a ${x.constructor.name} of a buffer that is not the current one`;
    if (x.byteOffset !== 0 || x.byteLength !== env.wasm.buffer.byteLength)
      return `a ${x.constructor.name} of bytes ${x.byteOffset}..${x.byteOffset + x.byteLength}, not the whole ${env.wasm.buffer.byteLength}`;
    return null;
  };
  const wrong = own(g, G) ?? own(t, T);
  if (wrong !== null) return wrong;
  const bytes = (x: unknown) => {
    const v = x as ArrayBufferView;
    return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  };
  const d = firstDiff(bytes(g), bytes(t), G.ignore);
  return d < 0 ? null : `the grown world's view differs from the twin's at byte ${d}`;
};

/** A Memory (a new one, of the world's wasm memory): its byte length is the memory's. */
const MEMORY_OF_WORLD: Rule = sizeRule(
  (x, env) =>
    x instanceof Memory && x.byteLength === env.wasm.buffer.byteLength && x.wasm === env.wasm
      ? null
      : `not a Memory of the whole wasm memory: ${show(normalize(x, env.names))}`,
  (x) => (x as Memory).byteLength,
);

/** What is wrong with the two outcomes of a call under `entry` (null: nothing). */
function compare(entry: Entry, g: Outcome, t: Outcome, G: Env, T: Env): string | null {
  if (g.threw || t.threw) {
    const a = g.threw ? `threw ${describeError(g.error)}` : `returned ${show(normalize(g.value, G.names))}`;
    const b = t.threw ? `threw ${describeError(t.error)}` : `returned ${show(normalize(t.value, T.names))}`;
    return a === b ? null : `grown ${a}; twin ${b}`;
  }
  if (entry.expect === 'size') return entry.rule!(g.value, t.value, G, T);
  const a = normalize(g.value, G.names);
  const b = normalize(t.value, T.names);
  return isDeepStrictEqual(a, b) ? null : `grown returned ${show(a)}; twin ${show(b)}`;
}

// ------------------------------------------------------------ the tables

const memorySync = (memory: Memory) => () => memory.sync();

const memoryTable = ({ memory }: Layers): Table => {
  const view = (get: () => unknown): Entry =>
    syncedSize(
      "a view field: the views of the buffer at the last sync (Memory.sync's TSDoc: after the wasm code grew the " +
        'memory, sync); then a view of the whole current buffer, with the bytes of the twin',
      memorySync(memory),
      WHOLE_VIEW,
      get,
    );
  return {
    wasm: self(() => memory.wasm),
    shared: self(() => memory.shared),
    maxByteLength: self(() => memory.maxByteLength),
    buffer: syncedSize(
      'a field: the buffer at the last sync (its TSDoc: replaced when a WebAssembly.Memory grows); then the current one',
      memorySync(memory),
      CURRENT_BUFFER,
      () => memory.buffer,
    ),
    u8: view(() => memory.u8),
    u16: view(() => memory.u16),
    u32: view(() => memory.u32),
    i32: view(() => memory.i32),
    f64: view(() => memory.f64),
    dv: view(() => memory.dv),
    byteLength: size('the current size: the grown memory is bigger', WHOLE_LENGTH, () => memory.byteLength),
    growable: self(() => memory.growable),
    sync: self(
      () => memory.sync(),
      () => {
        memory.sync();
        return memory.u32[4];
      },
    ),
    grow: size(
      'returns the new byte length',
      WHOLE_LENGTH,
      () => memory.grow(WASM_PAGE),
      () => memory.grow(0),
      () => memory.grow(1),
    ),
    growTo: size(
      'returns the new byte length',
      WHOLE_LENGTH,
      () => memory.growTo(1000),
      () => memory.growTo(memory.byteLength + 1),
    ),
  };
};

const memoryStatics = ({ wasm }: Layers): Table => ({
  create: self(
    () => Memory.create({ bytes: WASM_PAGE }),
    () => Memory.create({ bytes: WASM_PAGE, maxBytes: 2 * WASM_PAGE }).byteLength,
  ),
  wrap: size('a Memory of the wasm memory, as big as it is now', MEMORY_OF_WORLD, () => Memory.wrap(wasm)),
});

const buddyTable = ({ buddy, page, exact }: Layers): Table => ({
  pageSize: self(() => buddy.pageSize),
  pageShift: self(() => buddy.pageShift),
  base: self(() => buddy.base),
  maxOrder: self(() => buddy.maxOrder),
  maxPages: self(() => buddy.maxPages),
  memory: self(() => buddy.memory),
  state: self(() => buddy.state),
  slot: self(() => buddy.slot),
  offsetsOnly: self(() => buddy.offsetsOnly),
  pages: self(() => buddy.pages),
  freePages: self(() => buddy.freePages),
  allocPages: self(
    () => buddy.allocPages(1),
    () => buddy.allocPages(64),
  ),
  allocPagesExact: self(() => buddy.allocPagesExact(3)),
  blockPages: self(() => buddy.blockPages(page)),
  isAllocated: self(
    () => buddy.isAllocated(page),
    () => buddy.isAllocated(page + 4096),
  ),
  freeList: self(
    () => buddy.freeList(0),
    () => buddy.freeList(3),
  ),
  freeCounts: self(() => buddy.freeCounts()),
  buddyinfo: self(() => buddy.buddyinfo()),
  stats: self(() => buddy.stats()),
  forEachBlock: self(visits((v) => buddy.forEachBlock(v))),
  checkInvariants: self(() => buddy.checkInvariants()),
  free: self(
    () => buddy.free(page),
    () => buddy.free(exact),
    () => buddy.free(page + 4096),
  ),
  grow: self(
    () => buddy.grow(1),
    () => buddy.grow(300),
    () => [buddy.pages, buddy.stats()],
  ),
  drain: self(() => buddy.drain()),
  detach: teardown(self(() => [buddy.detach(), buddy.stats()])),
  '[Symbol.dispose]': teardown(self(() => [buddy[Symbol.dispose](), buddy.freePages])),
});

const buddyStatics = ({ memory }: Layers): Table => ({
  attach: self(() => {
    const b = BuddyAllocator.attach(memory);
    return [b, b.stats(), b.slot];
  }),
  recover: self(
    () => BuddyAllocator.recover(memory, 1),
    () => BuddyAllocator.recover(memory, 5),
  ),
});

const tlsfTable = (tlsf: TlsfHeap, t: number): Table => ({
  name: self(() => tlsf.name),
  buddy: self(() => tlsf.buddy),
  memory: self(() => tlsf.memory),
  region: self(() => tlsf.region),
  chunkPages: self(() => tlsf.chunkPages),
  chunkBytes: self(() => tlsf.chunkBytes),
  maxSize: self(() => tlsf.maxSize),
  alloc: self(
    () => tlsf.alloc(40),
    () => tlsf.alloc(2000),
    () => tlsf.alloc(60_000),
  ),
  tryAlloc: self(
    () => tlsf.tryAlloc(40),
    () => tlsf.tryAlloc(2000),
    () => tlsf.tryAlloc(1 << 30),
  ),
  usableSize: self(() => tlsf.usableSize(t)),
  isAllocated: self(
    () => tlsf.isAllocated(t),
    () => tlsf.isAllocated(t + 8),
  ),
  footprint: self(() => tlsf.footprint()),
  bytes: size('the memory as a view: the grown one is bigger', WHOLE_VIEW, () => tlsf.bytes),
  forEachChunk: self(visits((v) => tlsf.forEachChunk(v))),
  forEachBlock: self(visits((v) => tlsf.forEachBlock(v))),
  stats: self(() => tlsf.stats()),
  checkInvariants: self(() => tlsf.checkInvariants()),
  realloc: self(
    () => tlsf.realloc(t, 300),
    () => tlsf.realloc(tlsf.alloc(64), 50),
  ),
  free: self(
    () => tlsf.free(tlsf.alloc(700)),
    () => tlsf.free(t),
  ),
  shrink: self(() => tlsf.shrink()),
  detach: teardown(self(() => [tlsf.detach(), tlsf.buddy.stats()])),
  '[Symbol.dispose]': teardown(self(() => [tlsf[Symbol.dispose](), tlsf.buddy.stats()])),
});

const tlsfStatics = ({ memory }: Layers): Table => ({
  attach: self(() => {
    const h = TlsfHeap.attach(memory);
    return [h, h.stats()];
  }),
  recover: self(
    () => TlsfHeap.recover(memory, 1),
    () => TlsfHeap.recover(memory, 6),
  ),
});

const slabTable = ({ cache, o, objs, slab }: Layers): Table => ({
  name: self(() => cache.name),
  size: self(() => cache.size),
  stride: self(() => cache.stride),
  align: self(() => cache.align),
  order: self(() => cache.order),
  objectsPerSlab: self(() => cache.objectsPerSlab),
  buddy: self(() => cache.buddy),
  memory: self(() => cache.memory),
  id: self(() => cache.id),
  flags: self(() => cache.flags),
  objOffset: self(() => cache.objOffset),
  fpOffset: self(() => cache.fpOffset),
  workerSlot: self(() => cache.workerSlot),
  alloc: self(
    () => cache.alloc(),
    () => cache.alloc(50),
  ),
  free: self(
    () => cache.free(o),
    () => cache.free(o),
  ),
  allocBulk: self(
    () => {
      const out = new Uint32Array(40);
      return [cache.allocBulk(40, out), out];
    },
    () => {
      const out = [0, 0];
      return [cache.allocBulk(2, out), out];
    },
  ),
  freeBulk: self(
    () => cache.freeBulk([objs[0]!, objs[1]!]),
    () => cache.freeBulk(new Uint32Array([objs[2]!, objs[3]!]), 1),
  ),
  stats: self(() => cache.stats()),
  footprint: self(() => cache.footprint()),
  slabinfoRow: self(() => cache.slabinfoRow()),
  forEachSlab: self(visits((v) => cache.forEachSlab(v))),
  freeObjects: self(() => cache.freeObjects(slab)),
  isAllocated: self(
    () => cache.isAllocated(o),
    () => objs.map((x) => cache.isAllocated(x)),
  ),
  checkInvariants: self(() => cache.checkInvariants()),
  shrink: self(
    () => cache.shrink(),
    () => cache.shrink(1),
  ),
  detach: teardown(self(() => [cache.detach(), cache.buddy.stats()])),
  '[Symbol.dispose]': teardown(self(() => [cache[Symbol.dispose](), cache.buddy.stats()])),
});

const slabStatics = ({ memory }: Layers): Table => ({
  attach: self(
    () => {
      const c = SlabCache.attach(memory);
      return [c, c.stats()];
    },
    () => SlabCache.attach(memory, { name: 'obj' }).stats(),
  ),
  recover: self(
    () => SlabCache.recover(memory, 1),
    () => SlabCache.recover(memory, 7),
  ),
});

const arenaTable = ({ arena, a, mark, buddy }: Layers): Table => ({
  memory: self(() => arena.memory),
  stateAddress: self(() => arena.stateAddress),
  buddy: self(() => arena.buddy),
  workerSlot: self(() => arena.workerSlot),
  alloc: self(
    () => arena.alloc(100),
    () => arena.alloc(24, 16),
    () => arena.alloc(1 << 16),
  ),
  mark: self(() => arena.mark()),
  used: self(() => arena.used),
  capacity: self(() => arena.capacity),
  bytes: size('the memory as a view: the grown one is bigger', WHOLE_VIEW, () => arena.bytes),
  view: self(
    () => arena.view(a, 100),
    () => arena.view(a, 0),
  ),
  stats: self(() => arena.stats()),
  chunkList: self(() => arena.chunkList()),
  checkInvariants: self(() => arena.checkInvariants()),
  scope: self(() => {
    const s = arena.scope();
    return [s.mark, arena.alloc(10), s[Symbol.dispose](), arena.used];
  }),
  run: self(
    visits((v) => arena.run(v)),
    () => arena.run((x) => x.alloc(300)),
  ),
  rewind: self(
    () => arena.rewind(mark),
    () => arena.rewind(mark),
  ),
  reset: self(() => [arena.reset(), arena.stats()]),
  dispose: teardown(self(() => [arena.dispose(), buddy.stats()])),
  '[Symbol.dispose]': teardown(self(() => [arena[Symbol.dispose](), buddy.stats()])),
  detach: teardown(self(() => [arena.detach(), arena.stats()])),
});

const arenaStatics = ({ memory, buddy }: Layers): Table => ({
  attach: self(
    () => {
      const x = Arena.attach(memory);
      return [x, x.stats()];
    },
    () => Arena.attach(memory, { buddy }).stats(),
  ),
  recover: self(
    () => Arena.recover(memory, 1),
    () => Arena.recover(memory, 9),
  ),
});

const arenaScopeTable = ({ scope, arena }: Layers): Table => ({
  mark: self(() => scope.mark),
  '[Symbol.dispose]': teardown(self(() => [scope[Symbol.dispose](), arena.stats()])),
});

const kmallocTable = ({ k, blocks }: KmallocWorld): Table => {
  const each = (f: (p: number) => unknown): Call[] => blocks.map((p) => () => f(p));
  const sizes = (f: (n: number) => unknown): Call[] => [64, 3000, 100_000].map((n) => () => f(n));
  return {
    name: self(() => k.name),
    buddy: self(() => k.buddy),
    memory: self(() => k.memory),
    caches: self(() => k.caches),
    classSizes: self(() => k.classSizes),
    maxClass: self(() => k.maxClass),
    largeAbove: self(() => k.largeAbove),
    debug: self(() => k.debug),
    tlsf: self(() => k.tlsf),
    workerSlot: self(() => k.workerSlot),
    alloc: self(...sizes((n) => k.alloc(n))),
    kmalloc: self(...sizes((n) => k.kmalloc(n))),
    kzalloc: self(...sizes((n) => k.kzalloc(n))),
    usableSize: self(...each((p) => k.usableSize(p))),
    ksize: self(...each((p) => k.ksize(p))),
    isAllocated: self(...each((p) => k.isAllocated(p))),
    pageOwner: self(...each((p) => k.pageOwner(p))),
    footprint: self(() => k.footprint()),
    bytes: size('the memory as a view: the grown one is bigger', WHOLE_VIEW, () => k.bytes),
    forEachBlock: self(visits((v) => k.forEachBlock(v))),
    forEachTlsfChunk: self(visits((v) => k.forEachTlsfChunk(v))),
    checkInvariants: self(() => k.checkInvariants()),
    slabinfo: self(() => k.slabinfo()),
    largeStats: self(() => k.largeStats()),
    realloc: self(...sizes((n) => k.realloc(k.kmalloc(n), 80)), ...sizes((n) => k.realloc(k.kmalloc(n), 5000))),
    krealloc: self(...sizes((n) => k.krealloc(k.kmalloc(n), 80)), ...sizes((n) => k.krealloc(k.kmalloc(n), 200_000))),
    free: self(...sizes((n) => k.free(k.kmalloc(n)))),
    kfree: self(...each((p) => k.kfree(p)), ...each((p) => k.kfree(p))),
    shrink: self(() => k.shrink()),
    detach: teardown(self(() => [k.detach(), k.footprint()])),
    '[Symbol.dispose]': teardown(self(() => [k[Symbol.dispose](), k.footprint()])),
  };
};

const kmallocStatics = ({ k }: KmallocWorld): Table => ({
  attach: self(() => {
    const x = Kmalloc.attach(k.memory);
    return [x, x.footprint(), x.slabinfo()];
  }),
  recover: self(
    () => Kmalloc.recover(k.memory, 1),
    () => Kmalloc.recover(k.memory, 3),
  ),
});

const kmallocCacheTable = ({ cache, page }: KmallocWorld): Table => ({
  name: self(() => cache.name),
  size: self(() => cache.size),
  stride: self(() => cache.stride),
  objectsPerSlab: self(() => cache.objectsPerSlab),
  pagesPerSlab: self(() => cache.pagesPerSlab),
  objOffset: self(() => cache.objOffset),
  forEachSlab: self(visits((v) => cache.forEachSlab(v))),
  freeObjects: self(() => cache.freeObjects(page)),
  stats: self(() => cache.stats()),
  slabinfoRow: self(() => cache.slabinfoRow()),
});

/** `heap.sync()`: what a hot path needs after a wasm-side grow. */
const heapSync = (heap: ManagedHeap) => () => heap.sync();
const NO_SYNC_FIELDS =
  "a number (or null ref) field's set reads nothing first: it writes through the views it holds until a sync " +
  '(docs/gc.md, heap.sync(); src/gc/types.ts, Field: a check would cost each store)';
const managedTable = ({ heap, Node, a, b }: Managed): Table => {
  return {
    memory: self(() => heap.memory),
    backend: self(() => heap.backend),
    stateAddress: self(() => heap.stateAddress),
    readOnly: self(() => heap.readOnly),
    sync: self(() => heap.sync()),
    incremental: self(
      () => heap.incremental,
      () => {
        heap.incremental = true;
      },
      () => heap.incremental,
      () => {
        heap.incremental = false;
      },
      () => heap.incremental,
    ),
    // Before phase: a cycle in progress for phase (and the members after it) to see.
    step: self(
      () => heap.step(),
      () => heap.step(1),
      () => [heap.step(10), heap.phase],
    ),
    phase: self(() => heap.phase),
    defineType: self(() => {
      const T = heap.defineType('Other', { x: 'i32', y: 'ref' });
      return [T, T.size, Object.keys(T.fields)];
    }),
    defineArray: self(() => heap.defineArray('Others', 'i32')),
    type: self(
      () => heap.type('Node'),
      () => heap.type('Ints'),
    ),
    arrayType: self(
      () => heap.arrayType('Ints'),
      () => heap.arrayType('none'),
    ),
    root: self(
      () => heap.root(a),
      () => heap.root(0),
      () => heap.root(12345),
    ),
    scope: self(
      visits((v) => heap.scope(v)),
      () => heap.scope((escape) => [heap.root(b).value, escape(a).value, heap.rootStackHeight]),
    ),
    pushRoot: self(
      () => heap.pushRoot(a),
      () => heap.pushRoot(0),
      () => heap.pushRoot(12345),
    ),
    // Its empty-stack branch syncs and looks again (it said "empty" on a stack of 7 before 3 Dec).
    popRoot: self(() => heap.popRoot()),
    rootStackHeight: self(() => heap.rootStackHeight),
    setGlobal: self(
      () => heap.setGlobal('h', a),
      () => heap.setGlobal('g', 0),
      () => heap.setGlobal('g', 12345),
    ),
    getGlobal: self(
      () => heap.getGlobal('h'),
      () => heap.getGlobal('keep'),
      () => heap.getGlobal('none'),
    ),
    // Syncs, as setGlobal and getGlobal (before 3 Dec its root-slot stores were dropped).
    deleteGlobal: self(
      () => heap.deleteGlobal('g'),
      () => heap.deleteGlobal('none'),
    ),
    isLive: self(
      () => heap.isLive(a),
      () => heap.isLive(b),
      () => heap.isLive(0),
      () => heap.isLive(a + 8),
    ),
    typeOf: self(
      () => heap.typeOf(a),
      () => heap.typeOf(a + 8),
    ),
    sizeOf: self(() => heap.sizeOf(a)),
    stats: self(() => heap.stats()),
    graph: self(() => heap.graph()),
    pauses: self(() => heap.pauses()),
    collect: self(
      () => [heap.collect(), heap.stats(), Node.is(a), heap.isLive(b)],
      () => heap.collect(),
    ),
    trim: self(
      () => heap.trim(),
      () => heap.trim(),
    ),
    detach: teardown(self(() => [heap.detach(), heap.backend.footprint?.()])),
    '[Symbol.dispose]': teardown(self(() => [heap[Symbol.dispose](), heap.backend.footprint?.()])),
  };
};

const managedStatics = ({ heap }: Managed): Table => ({
  attach: self(
    () => ManagedHeap.attach(heap.memory),
    () => {
      const r = ManagedHeap.attach(heap.memory, {}, { readOnly: true });
      return [r.stats(), r.graph(), r.getGlobal('keep')];
    },
  ),
});

const rootTable = ({ heap, root, b }: Managed): Table => ({
  alive: self(() => root.alive),
  // An entry that reads as released is read again after a sync (before 3 Dec: "this root was
  // released" for a live root, and a release that did nothing).
  value: self(() => root.value),
  set: self(
    () => root.set(b),
    () => root.set(0),
  ),
  release: teardown(self(() => [root.release(), root.alive, heap.stats().rootHandles])),
  '[Symbol.dispose]': teardown(self(() => [root[Symbol.dispose](), root.alive, heap.stats().rootHandles])),
});

const backendTable = ({ heap, block }: Managed): Table => {
  const backend = heap.backend;
  return {
    memory: self(() => backend.memory),
    alloc: self(
      () => backend.alloc(64),
      () => backend.alloc(100_000),
    ),
    free: self(() => backend.free(block)),
    footprint: self(() => backend.footprint?.()),
  };
};

const objectTypeTable = (_heap: ManagedHeap, T: ObjectType<FieldSpecs>, obj: number, alloc: Entry): Table => ({
  name: self(() => T.name),
  id: self(() => T.id),
  size: self(() => T.size),
  fields: self(() => T.fields),
  alloc,
  is: self(
    () => T.is(obj),
    () => T.is(0),
    () => T.is(obj + 8),
  ),
});

const arrayTypeTable = (_heap: ManagedHeap, T: ArrayType, arr: number, target: number): Table => {
  const value = T.kind === 'ref' ? target : T.kind === 'f64' ? 1.5 : 9;
  return {
    name: self(() => T.name),
    id: self(() => T.id),
    kind: self(() => T.kind),
    alloc: [
      self(() => T.alloc(4)),
      // 1000 elements: a kmalloc block of its own, but for bytes (1008: a size class with no run yet).
      // (allocLarge and a new run sync: before 3 Dec the large one's pacing credit was lost
      // and the new run threw the engine's TypeError.)
      self(() => T.alloc(1000)),
    ],
    get: self(
      () => [0, 1, 2, 3].map((i) => T.get(arr, i)),
      () => T.get(arr, 4),
    ),
    set: self(
      () => T.set(arr, 0, value),
      () => T.get(arr, 0),
      () => T.set(arr, 9, value),
    ),
    length: self(() => T.length(arr)),
    is: self(
      () => T.is(arr),
      () => T.is(target),
    ),
  };
};

const numberFieldTable = (heap: ManagedHeap, f: NumberField, obj: number, target: number): Table => {
  const hs = heapSync(heap);
  const value = f.kind === 'ref' || f.kind === 'weak' ? target : f.kind === 'f64' ? -0.75 : 100;
  return {
    name: self(() => f.name),
    kind: self(() => f.kind),
    offset: self(() => f.offset),
    get: self(
      () => f.get(obj),
      () => f.get(target),
    ),
    set: afterSync(
      NO_SYNC_FIELDS,
      hs,
      () => f.set(obj, value),
      () => f.get(obj),
      () => f.set(obj, 0),
      () => f.set(0, value),
    ),
  };
};

const bytesFieldTable = (f: BytesField, obj: number): Table => ({
  name: self(() => f.name),
  kind: self(() => f.kind),
  offset: self(() => f.offset),
  length: self(() => f.length),
  // A field past the views it holds syncs (docs/gc.md, heap.sync()).
  get: self(() => f.get(obj)),
  set: self(
    () => f.set(obj, [4, 5, 6, 7]),
    () => f.get(obj),
  ),
});

interface Subject {
  /** The exported class or interface. */
  readonly name: string;
  /** A fresh world and its tables: one per heap (or part of one: a field kind, an array kind). */
  make(): readonly Part[];
  /** A fresh world and its statics' table (a class with public statics). */
  statics?(): readonly Part[];
}

const on = <W extends { env: Env }>(w: W, ...tables: Table[]): Part[] => tables.map((t) => [w.env, t] as const);

const SUBJECTS: readonly Subject[] = [
  {
    name: 'Memory',
    make: () => {
      const w = layers();
      return on(w, memoryTable(w));
    },
    statics: () => {
      const w = layers();
      return on(w, memoryStatics(w));
    },
  },
  {
    name: 'BuddyAllocator',
    make: () => {
      const w = layers();
      return on(w, buddyTable(w));
    },
    statics: () => {
      const w = layers();
      return on(w, buddyStatics(w));
    },
  },
  {
    name: 'TlsfHeap',
    make: () => {
      const w = layers();
      const k = kmallocHeap();
      return [...on(w, tlsfTable(w.tlsf, w.t)), ...on(k, tlsfTable(k.k.tlsf, k.blocks[1]!))];
    },
    statics: () => {
      const w = layers();
      return on(w, tlsfStatics(w));
    },
  },
  {
    name: 'SlabCache',
    make: () => {
      const w = layers();
      return on(w, slabTable(w));
    },
    statics: () => {
      const w = layers();
      return on(w, slabStatics(w));
    },
  },
  {
    name: 'Arena',
    make: () => {
      const w = layers();
      return on(w, arenaTable(w));
    },
    statics: () => {
      const w = layers();
      return on(w, arenaStatics(w));
    },
  },
  {
    name: 'ArenaScope',
    make: () => {
      const w = layers();
      return on(w, arenaScopeTable(w));
    },
  },
  {
    name: 'Kmalloc',
    make: () => {
      const w = kmallocHeap();
      return on(w, kmallocTable(w));
    },
    statics: () => {
      const w = kmallocHeap();
      return on(w, kmallocStatics(w));
    },
  },
  {
    name: 'KmallocCache',
    make: () => {
      const w = kmallocHeap();
      return on(w, kmallocCacheTable(w));
    },
  },
  {
    name: 'ManagedHeap',
    make: () => {
      const w = managedHeap();
      return on(w, managedTable(w));
    },
    statics: () => {
      const w = managedHeap();
      return on(w, managedStatics(w));
    },
  },
  {
    name: 'Root',
    make: () => {
      const w = managedHeap();
      return on(w, rootTable(w));
    },
  },
  {
    name: 'GcBackend',
    make: () => {
      const w = managedHeap();
      return on(w, backendTable(w));
    },
  },
  {
    name: 'ObjectType',
    make: () => {
      const w = managedHeap();
      const { heap, Node, Big, Mid, a, big } = w;
      return on(
        w,
        objectTypeTable(
          heap,
          Node,
          a,
          self(() => Node.alloc()),
        ),
        objectTypeTable(
          heap,
          Big,
          big,
          self(() => Big.alloc()), // allocLarge syncs
        ),
        objectTypeTable(
          heap,
          Mid,
          a,
          self(() => Mid.alloc()), // a new run syncs
        ),
      );
    },
  },
  {
    name: 'ArrayType',
    make: () => {
      const w = managedHeap();
      return on(w, ...w.arrays.map((T, i) => arrayTypeTable(w.heap, T, w.arrs[i]!, w.b)));
    },
  },
  {
    name: 'NumberField',
    make: () => {
      const w = managedHeap();
      const fields = Object.values(w.Node.fields).filter((f): f is NumberField => f.kind !== 'bytes');
      return on(w, ...fields.map((f) => numberFieldTable(w.heap, f, w.a, w.b)));
    },
  },
  {
    name: 'BytesField',
    make: () => {
      const w = managedHeap();
      return on(w, bytesFieldTable(w.Node.fields.raw, w.a), bytesFieldTable(w.Big.fields.raw, w.big));
    },
  },
];

/** Exported classes the sweep leaves out, and why. */
const NOT_SWEPT: Readonly<Record<string, string>> = {
  MemkitError: 'an error: it holds no buffer',
  InvalidArgumentError: 'an error',
  OutOfMemoryError: 'an error',
  InvalidFreeError: 'an error',
  DoubleFreeError: 'an error',
  HeapCorruptionError: 'an error',
  SlabSpace:
    "the slab layer's page and cache tables, reached only through the static SlabSpace.of(buddy) (a cache's " +
    '`space` is @internal): word reads and writes at indexes its caller computes, as field access is; the ' +
    'SlabCache members that use it are swept',
  AllocationTracker:
    'a tool its user wraps around a heap (tools/leaks), not reached from one: its alloc, free, realloc and ' +
    "forEachBlock are the wrapped heap's, swept here",
};

// ------------------------------------------------------------ the sweep

const api = apiNames();

/** The distinct heaps of a world. */
const envsOf = (world: readonly Part[]): Env[] => [...new Set(world.map(([env]) => env))];

/** Grows every memory of the grown world from the wasm side; what went wrong. */
function growAll(world: readonly Part[]): string[] {
  const problems: string[] = [];
  for (const env of envsOf(world)) {
    const old = env.wasm.buffer;
    env.wasm.grow(1);
    if (old.byteLength !== 0) problems.push('a wasm grow left the old buffer attached');
  }
  return problems;
}

/** Calls made, by subject (for the count test). */
const swept = new Map<string, number>();

/** Where a call is: its table, member, entry and index. */
interface At {
  readonly p: number;
  readonly member: string;
  readonly e: number;
  readonly i: number;
}

/** What is wrong with the memories of a world pair right now (the grown one must hold the twin's bytes). */
function memoryProblem(grown: readonly Part[], twin: readonly Part[]): string | null {
  const ts = envsOf(twin);
  for (const [n, G] of envsOf(grown).entries()) {
    const g = new Uint8Array(G.wasm.buffer);
    const t = new Uint8Array(ts[n]!.wasm.buffer);
    const d = firstDiff(g, t, G.ignore);
    if (d >= 0) {
      const w = d & ~3;
      const word = (x: Uint8Array) => (w + 4 <= x.length ? new DataView(x.buffer).getUint32(w, true) : 'none');
      return `memory ${n}: the grown world's differs from the twin's at byte ${d} (word ${w}: ${word(g)}, twin ${word(t)})`;
    }
  }
  return null;
}

/** Runs the calls `pick` picks of the grown world's and the twin's tables, one by one. */
function run(subject: string, grown: readonly Part[], twin: readonly Part[], pick: (at: At, entry: Entry) => boolean) {
  const problems: string[] = [];
  grown.forEach(([G, gTable], p) => {
    const [T, tTable] = twin[p]!;
    for (const [member, gEntries] of Object.entries(gTable)) {
      const tEntries = entriesOf(tTable[member]!);
      entriesOf(gEntries).forEach((entry, e) => {
        entry.calls.forEach((call, i) => {
          if (!pick({ p, member, e, i }, entry)) return;
          problems.push(...growAll(grown));
          entry.sync?.();
          const g = attempt(call);
          const t = attempt(tEntries[e]!.calls[i]!);
          swept.set(subject, (swept.get(subject) ?? 0) + 1);
          const wrong = compare(entry, g, t, G, T) ?? memoryProblem(grown, twin);
          const where = `${member} (table ${p}, ${entry.expect} call ${i})`;
          if (wrong !== null) problems.push(`${where}: ${wrong}`);
        });
      });
    }
  });
  return problems;
}

/** After a sweep: invariants (when the heaps are still up), stamps, and the memories byte for byte. */
function afterSweep(grown: readonly Part[], twin: readonly Part[], invariants: boolean): string[] {
  const problems: string[] = [];
  const gs = envsOf(grown);
  const ts = envsOf(twin);
  if (invariants) {
    problems.push(...growAll(grown));
    for (const [w, envs] of [
      ['grown', gs],
      ['twin', ts],
    ] as const) {
      for (const env of envs) {
        for (const [name, check] of env.checks) {
          const o = attempt(check);
          if (o.threw) problems.push(`${w} world: ${name} threw ${describeError(o.error)}`);
        }
      }
    }
  }
  const mem = memoryProblem(grown, twin);
  if (mem !== null) problems.push(mem);
  gs.forEach((G, n) => {
    const g = new Uint8Array(G.wasm.buffer);
    const t = new Uint8Array(ts[n]!.wasm.buffer);
    for (const [addr, bytes] of G.stamps) {
      const now = Array.from(g.subarray(addr, addr + bytes.length));
      if (!isDeepStrictEqual(now, bytes))
        problems.push(`memory ${n}: the payload at ${addr} changed in the grown world`);
    }
    if (g.length <= t.length) problems.push(`memory ${n}: the grown world's is not bigger`);
    else if (!Buffer.from(g.buffer, t.length).equals(Buffer.alloc(g.length - t.length)))
      problems.push(`memory ${n}: memkit wrote in the pages only the wasm side added`);
  });
  return problems;
}

/**
 * Runs a subject's tables on twin worlds: the ordinary entries on one pair;
 * then each teardown member on a pair of its own.
 */
function sweep(subject: string, make: () => readonly Part[]): string[] {
  const grown = make();
  const twin = make();
  const problems = run(subject, grown, twin, (_at, e) => e.teardown !== true);
  problems.push(...afterSweep(grown, twin, true));
  const ends = new Set<string>();
  for (const [, table] of grown)
    for (const [member, entries] of Object.entries(table))
      if (entriesOf(entries).some((entry) => entry.teardown === true)) ends.add(member);
  for (const member of ends) {
    const g = make();
    const t = make();
    problems.push(...run(subject, g, t, (at, e) => at.member === member && e.teardown === true));
    problems.push(...afterSweep(g, t, false).map((x) => `after ${member}: ${x}`));
  }
  return problems;
}

/**
 * Runs `f` with a clock that stands still (the GC times its pauses, in its
 * stats and in the buffer) and a Math.random that always says 0.5 (the keys
 * of hardened free lists, kmalloc's and TLSF's: twins must hold the same bytes).
 */
function deterministic<R>(f: () => R): R {
  const now = vi.spyOn(performance, 'now').mockReturnValue(0);
  const random = vi.spyOn(Math, 'random').mockReturnValue(0.5);
  try {
    return f();
  } finally {
    now.mockRestore();
    random.mockRestore();
  }
}

describe('the public API the wasm-grow sweep covers', () => {
  it('every exported class is swept or named in NOT_SWEPT, and NOT_SWEPT names only exported classes', () => {
    expectClassesCovered(
      api,
      SUBJECTS.map((s) => s.name),
      NOT_SWEPT,
    );
  });

  for (const subject of SUBJECTS) {
    it(`${subject.name}: one entry for every public member and static, and none for anything else`, () => {
      const info = api.get(subject.name);
      expect(info, `${subject.name} is exported from src/index.ts as a class or interface`).toBeDefined();
      const parts = subject.make();
      expect(parts.length).toBeGreaterThan(0);
      for (const [, table] of parts) {
        expectEntries(info!.members, table, 'member');
        for (const [m, entries] of Object.entries(table)) {
          for (const e of entriesOf(entries)) {
            expect(e.calls.length, `${m}: at least one call`).toBeGreaterThan(0);
            expect(e.expect === 'self' || e.why !== '', `${m}: a reason`).toBe(true);
            expect(e.expect !== 'afterSync' || e.sync !== undefined, `${m}: afterSync names its sync`).toBe(true);
            expect(e.expect !== 'size' || e.rule !== undefined, `${m}: size states its rule`).toBe(true);
          }
        }
      }
      const statics = subject.statics?.().map(([, t]) => t) ?? [{}];
      for (const table of statics) {
        expectEntries(info!.statics, table, 'static');
      }
    });
  }
});

describe('every public member, called first after a wasm-side grow, gives what the twin that did not grow gives', () => {
  for (const subject of SUBJECTS) {
    it(subject.name, () => {
      const problems = deterministic(() => [
        ...sweep(subject.name, () => subject.make()),
        ...(subject.statics === undefined ? [] : sweep(subject.name, () => subject.statics!())),
      ]);
      expect(problems).toEqual([]);
    });
  }

  it('swept every subject', () => {
    expect(SUBJECTS.filter((s) => !((swept.get(s.name) ?? 0) > 0)).map((s) => s.name)).toEqual([]);
  });
});
