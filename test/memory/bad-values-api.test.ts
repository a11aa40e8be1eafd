/**
 * README's "Bad input is refused, and nothing happens" made complete by
 * construction, as lost-buffer-api.test.ts does for a lost buffer: every
 * parameter of every public method of every heap class, given each value of
 * `badValues(live, foreign)` (test/support/bad-values.ts) with valid values
 * in the other positions.
 *
 * The methods and their parameters come from the TypeScript compiler
 * (`publicMethods` of test/support/public-api.ts: a Program over
 * src/index.ts with the repo's tsconfig options): for each class or
 * interface below, every public method that takes a parameter (inherited
 * ones too; a setter counts as a method of one parameter), and its public
 * statics (`attach`, `recover`, `create`, `wrap`), with each parameter's name
 * and what its declared type is (number, function, object, other). Each
 * subject has a table with one entry per such method (one per overload): the
 * test fails when a public method with parameters has no entry, when an entry
 * names no such method (a stale table), and when an entry names a parameter
 * the method does not have. A number or function parameter is swept unless
 * its entry exempts it with a reason; an object or other parameter (an
 * options object, a name, a boolean) must be named either way. So a new
 * method, or a new parameter, forces a decision. Every exported class or
 * interface with such methods is either swept or named in NOT_SWEPT with its
 * reason, so a new exported class forces one too.
 *
 * Swept: what lost-buffer-api.test.ts sweeps (Arena, ArenaScope,
 * BuddyAllocator, SlabCache, TlsfHeap alone and as `k.tlsf`, Kmalloc,
 * KmallocCache, ManagedHeap, Root, GcBackend, ObjectType small and large,
 * ArrayType of each kind, NumberField of each kind, BytesField) and Memory.
 *
 * For each swept position and each bad value (a function parameter gets the
 * bad values that are not functions, and `{}`), on a heap with live blocks:
 * the buffer (every byte) and the stats of every allocator in it are taken
 * first, then the call is made, and it must
 * - throw a MemkitError subclass; an InvalidArgumentError must name the
 *   parameter in its `argument`: exactly the name the typings show (a
 *   setter's: the property's name), or, at an object or other parameter (an
 *   options object, a name), an option's name: a key of the valid argument
 *   or of the bad value (`misnamed`; the other subclasses have no `argument`),
 * - run no `valueOf` or `toString` of the value (the object with `valueOf`,
 *   the array and the function record every call of theirs),
 * - leave every byte of the buffer and every stat as they were, and
 * - leave the heap's checkInvariants() (where it has one) passing.
 * A refused call changes nothing, so the heap is reused for the next value.
 *
 * What a method's TSDoc or README documents as valid is listed per
 * (method, parameter, value), with its reason and the answer expected:
 * - `noop`: accepted, answers `answer`, and changes nothing (checked as
 *   above): `isAllocated(0)` is false, `kfree(0)` does nothing.
 * - `accepts`: accepted, answers `answer`, and may change the heap (the
 *   next value gets a fresh heap): `kmalloc(0)`, a null root.
 * - `unchecked`: by design not checked (docs/gc.md: field and element
 *   access do not check `obj`): nothing is required, and the buffer is put
 *   back after the call.
 * - `found`: a value a method does not refuse as it should, left as it is
 *   because a fix would cost a fast path: 'FOUND: what happens'; the test
 *   fails once the method refuses it (the allowance is stale then).
 */
import { describe, expect, it } from 'vitest';
import {
  Arena,
  type ArrayKind,
  type ArrayType,
  type BytesField,
  BuddyAllocator,
  type FieldSpecs,
  InvalidArgumentError,
  InvalidFreeError,
  Kmalloc,
  type KmallocCache,
  ManagedHeap,
  MemkitError,
  Memory,
  OutOfMemoryError,
  type NumberField,
  type ObjectType,
  type Root,
  SlabCache,
  TlsfHeap,
} from '../../src/index.js';
import { badValues, describeError, recordingBadValues } from '../support/bad-values.js';
import { NODE_FIELDS } from '../support/field-kinds.js';
import { type PublicMethod, type PublicParam, publicMethods } from '../support/public-api.js';

// ------------------------------------------------------------ the tables' vocabulary

type Args = readonly unknown[];

/** What an accepted call must answer. */
interface Answer {
  readonly text: string;
  test(result: unknown): boolean;
}
/** Answers exactly `v` (Object.is). */
const is = (v: unknown): Answer => ({ text: String(v), test: (r) => Object.is(r, v) });
/** Answers a value `test` holds for. */
const that = (text: string, test: (r: unknown) => boolean): Answer => ({ text, test });
const ADDRESS = that('an address', (r) => typeof r === 'number' && r >>> 0 === r && r >= 64);
const NOTHING = is(undefined);
const ZERO = that('0', (r) => r === 0);
const BOOLEAN = that('a boolean', (r) => typeof r === 'boolean');
const has = (text: string, key: string): Answer => that(text, (r) => typeof r === 'object' && r !== null && key in r);
const OBJECT_TYPE = has('an ObjectType', 'fields');
const ARRAY_TYPE = has('an ArrayType', 'kind');
const ROOT = has('a Root', 'alive');
const VIEW = (n: number): Answer => that(`${n} bytes`, (r) => r instanceof Uint8Array && r.length === n);

type Kind = 'noop' | 'accepts' | 'unchecked' | 'found';

/** How one (method, parameter, value) is judged when it is not refused. */
interface Allowance {
  readonly kind: Kind;
  readonly why: string;
  readonly answer?: Answer;
  /**
   * A size that may not fit: OutOfMemoryError is an answer too, which must
   * change nothing (`unchanged`), or may follow a full collection (`collected`:
   * a ManagedHeap collects before it gives up, TSDoc "may run the collector first").
   */
  readonly mayNotFit?: 'unchanged' | 'collected';
}
const noop = (why: string, answer: Answer): Allowance => ({ kind: 'noop', why, answer });
const accepts = (why: string, answer: Answer): Allowance => ({ kind: 'accepts', why, answer });
/** `accepts`, for a size the heap may have no room for (then OutOfMemoryError, nothing changed). */
const fits = (why: string, answer: Answer): Allowance => ({ kind: 'accepts', why, answer, mayNotFit: 'unchanged' });
/** `fits`, for a ManagedHeap: its OutOfMemoryError comes after a full collection. */
const fitsAfterCollecting = (why: string, answer: Answer): Allowance => ({
  kind: 'accepts',
  why: `${why} (else OutOfMemoryError after a full collection: "may run the collector first")`,
  answer,
  mayNotFit: 'collected',
});
const unchecked = (why: string): Allowance => ({ kind: 'unchecked', why });
const found = (what: string): Allowance => ({ kind: 'found', why: `FOUND: ${what}` });

/** Allowances by value label (a label of badValues, or '{}' for a function parameter). */
type Allowances = Readonly<Record<string, Allowance>>;

/** One parameter position of an entry. */
interface Position {
  readonly swept: boolean;
  /** Why it is not swept (an exempt position). */
  readonly why: string;
  readonly allow: Allowances;
}
const swept = (...allow: Allowances[]): Position => ({ swept: true, why: '', allow: Object.assign({}, ...allow) });
const exempt = (why: string): Position => ({ swept: false, why, allow: {} });

interface Entry<W> {
  /** Valid arguments on a fresh heap: the call with all of them succeeds. */
  readonly args: (w: W) => Args;
  /**
   * Positions by parameter name. A number or function parameter not named
   * is swept with no allowance; any other must be named.
   */
  readonly params: Readonly<Record<string, Position>>;
}
const call = <W>(args: (w: W) => Args, params: Record<string, Position> = {}): Entry<W> => ({ args, params });

/** A subject's entries by method name (an overloaded method: one entry per public signature). */
type Table<W> = Readonly<Record<string, Entry<W> | readonly Entry<W>[]>>;

const entriesOf = <W>(e: Entry<W> | readonly Entry<W>[]): readonly Entry<W>[] => ('args' in e ? [e] : e);

// ------------------------------------------------------------ the values

const LABELS = badValues(0, 0).map(([label]) => label);
const INTERIOR = 'live + 8 (interior)';
const FOREIGN = 'foreign address';
/** The labels of the values that are whole numbers in [0, 2^32): addresses a method may look at. */
const ADDRESSES = ['0', '-0', '2^31', INTERIOR, FOREIGN];
/** The labels of 0 and -0. */
const ZEROS = ['0', '-0'];
/** The labels of the strings. */
const STRINGS = ['"64"', 'String(live)'];

/** The same allowance for each of `labels`. */
const each = (labels: readonly string[], a: Allowance): Allowances =>
  Object.fromEntries(labels.map((label) => [label, a]));

/** An optional parameter: `undefined` is its default. */
const OPTIONAL = 'optional: undefined is the default';
const optional = (answer: Answer, mutates = false): Allowances => ({
  undefined: mutates ? accepts(OPTIONAL, answer) : noop(OPTIONAL, answer),
});

/** Calls of a value's `valueOf` and `toString` (the instrumented values record theirs here). */
const ran: string[] = [];

/**
 * The values swept at a parameter: badValues with the coercible ones
 * instrumented (the object with valueOf, the array and the function record a
 * call of their valueOf or toString); a function parameter gets those that
 * are not functions, and `{}`.
 */
function valuesFor(param: PublicParam, live: number, foreign: number): Array<[string, unknown]> {
  const values = recordingBadValues(live, foreign, ran);
  return param.kind === 'function' ? [...values.filter(([label]) => label !== 'a function'), ['{}', {}]] : values;
}
const FUNCTION_LABELS = [...LABELS.filter((l) => l !== 'a function'), '{}'];

// ------------------------------------------------------------ a heap's state

interface Snapshot {
  readonly bytes: Uint8Array;
  /** The stats of every allocator in the buffer, as JSON. */
  readonly stats: string;
}

/** What a world (a heap with live blocks, and what it hands out) tells the sweep. */
interface World {
  /** The buffer every allocator of the world lives in. */
  readonly memory: Memory;
  /** The stats of every allocator of the world. */
  stats(): unknown;
  /** Each allocator's checkInvariants(). */
  check(): void;
}

function snapshot(w: World): Snapshot {
  w.memory.sync();
  return { bytes: w.memory.u8.slice(), stats: JSON.stringify(w.stats()) };
}

/** What changed since `before` (null: nothing). */
function changes(w: World, before: Snapshot): string | null {
  w.memory.sync();
  const now = w.memory.u8;
  if (now.length !== before.bytes.length) return `the buffer went from ${before.bytes.length} to ${now.length} bytes`;
  if (Buffer.compare(now, before.bytes) !== 0) {
    let lo = 0;
    while (now[lo] === before.bytes[lo]) lo++;
    let hi = now.length - 1;
    while (now[hi] === before.bytes[hi]) hi--;
    return `bytes [${lo}, ${hi}] changed`;
  }
  const stats = JSON.stringify(w.stats());
  if (stats !== before.stats) return `stats changed: ${before.stats.slice(0, 300)} -> ${stats.slice(0, 300)}`;
  try {
    w.check();
  } catch (e) {
    return `checkInvariants: ${describeError(e)}`;
  }
  return null;
}

function describeResult(x: unknown): string {
  if (typeof x === 'object' && x !== null) {
    if (ArrayBuffer.isView(x)) return `a ${x.constructor.name} of ${x.byteLength} bytes`;
    if (!Array.isArray(x) && Object.getPrototypeOf(x) !== Object.prototype) return `a ${x.constructor.name}`;
    try {
      return JSON.stringify(x)?.slice(0, 80) ?? x.constructor.name;
    } catch {
      return x.constructor.name;
    }
  }
  return typeof x === 'bigint' ? `${x}n` : String(x);
}

/**
 * What is wrong with the `argument` of `err`, a refusal of `bad` at `param`
 * of `method` (`valid`: the valid argument there), or null. An
 * InvalidArgumentError names the parameter as the typings show it (a setter:
 * its property); at an object or other parameter it may name an option
 * instead: a key of the valid argument or of the bad value. Other
 * MemkitErrors name no argument.
 */
function misnamed(method: string, param: PublicParam, valid: unknown, bad: unknown, err: unknown): string | null {
  if (!(err instanceof InvalidArgumentError)) return null;
  const expected = method.startsWith('set ') ? method.slice(4) : param.name;
  const keys = (x: unknown): string[] => (typeof x === 'object' && x !== null ? Object.keys(x) : []);
  const named =
    err.argument === expected ||
    (param.kind !== 'number' &&
      param.kind !== 'function' &&
      err.argument !== undefined &&
      [...keys(valid), ...keys(bad)].includes(err.argument));
  return named
    ? null
    : `InvalidArgumentError names argument ${JSON.stringify(err.argument)}, not "${expected}": ${err.message}`;
}

/** Calls `method` of `target` (a setter `set x`: assigns). */
function invoke(target: object, method: string, args: Args): unknown {
  const t = target as Record<string, unknown>;
  if (method.startsWith('set ')) {
    t[method.slice(4)] = args[0];
    return undefined;
  }
  return Reflect.apply(t[method] as (...a: unknown[]) => unknown, target, args);
}

// ------------------------------------------------------------ the worlds

const VISIT = (): void => {};

/** BuddyAllocator, TlsfHeap, SlabCache and Arena over one growable buffer, each with live blocks. */
function layers() {
  const memory = Memory.wrap(new ArrayBuffer(1 << 20, { maxByteLength: 1 << 21 }));
  const buddy = new BuddyAllocator({ memory, maxPages: 512 });
  const page = buddy.allocPages(2);
  const exact = buddy.allocPagesExact(3);
  const tlsf = new TlsfHeap(buddy, { chunkPages: 16 });
  const t = tlsf.alloc(100);
  tlsf.free(tlsf.alloc(40)); // a quick-listed block
  const cache = new SlabCache(buddy, { name: 'obj', size: 96 });
  const o = cache.alloc();
  let slab = 0;
  cache.forEachSlab((addr) => {
    slab = addr;
  });
  const arena = new Arena({ buddy });
  arena.alloc(40);
  arena.reset(); // generation 1: a mark is (generation mod 2^21) * 2^32 + top, so a plain address is no mark
  const a = arena.alloc(100);
  const mark = arena.mark();
  arena.alloc(200);
  return {
    memory,
    buddy,
    page,
    exact,
    tlsf,
    t,
    cache,
    o,
    slab,
    arena,
    a,
    mark,
    stats: () => [buddy.stats(), buddy.freeCounts(), tlsf.stats(), tlsf.footprint(), cache.stats(), arena.stats()],
    check: () => {
      buddy.checkInvariants();
      tlsf.checkInvariants();
      cache.checkInvariants();
      arena.checkInvariants();
    },
  };
}
type Layers = ReturnType<typeof layers>;

/** Addresses a twin of `layers()` hands out next: free in ours (another heap's blocks). */
const LAYERS_FOREIGN = (() => {
  const w = layers();
  return { page: w.buddy.allocPages(2), t: w.tlsf.alloc(100), o: w.cache.alloc(), a: w.arena.alloc(100) };
})();

/** A Kmalloc with a live block of each tier (a size class, TLSF, whole pages). */
function kmallocHeap() {
  const memory = Memory.wrap(new ArrayBuffer(1 << 21));
  const k = new Kmalloc({ memory });
  const blocks = [k.kmalloc(64), k.kmalloc(3000), k.kmalloc(100_000)] as const;
  const cache = k.caches.find((c) => c.size === k.ksize(blocks[0]))!;
  let page = 0;
  cache.forEachSlab((addr) => {
    page = addr;
  });
  return {
    memory,
    k,
    blocks,
    cache,
    page,
    stats: () => [k.footprint(), k.slabinfo(), k.largeStats(), k.tlsf.stats(), k.caches.map((c) => c.stats())],
    check: () => k.checkInvariants(),
  };
}
type KmallocWorld = ReturnType<typeof kmallocHeap>;

const KMALLOC_FOREIGN = (() => {
  const { k } = kmallocHeap();
  return [k.kmalloc(64), k.kmalloc(3000), k.kmalloc(100_000)] as const;
})();

/** The number and ref fields of NODE_FIELDS: one NumberField of each kind. */
const NUMBER_FIELDS = Object.keys(NODE_FIELDS).filter((f) => f !== 'raw') as Array<
  Exclude<keyof typeof NODE_FIELDS, 'raw'>
>;
const ARRAY_KINDS: readonly ArrayKind[] = ['ref', 'i32', 'f64', 'u8'];

/** A ManagedHeap with objects of a small and a large type, an array of each kind, roots of each sort. */
function managedHeap() {
  const heap = new ManagedHeap({ bytes: 1 << 20, autoCollect: false });
  const Node = heap.defineType('Node', NODE_FIELDS);
  const Big = heap.defineType('Big', { next: 'ref', raw: { bytes: 2000 } }); // a kmalloc block of its own
  const arrays = ARRAY_KINDS.map((kind) => heap.defineArray(`A_${kind}`, kind));
  const a = Node.alloc();
  const b = Node.alloc();
  Node.fields.next.set(a, b);
  Node.fields.weak.set(b, a);
  Node.fields.i32.set(a, 7);
  const big = Big.alloc();
  const arrs = arrays.map((T) => T.alloc(4));
  const root = heap.root(a);
  heap.setGlobal('g', b);
  heap.pushRoot(big);
  for (const arr of arrs) heap.pushRoot(arr);
  const block = heap.backend.alloc(64);
  const backend = heap.backend as Kmalloc;
  return {
    memory: heap.memory,
    heap,
    Node,
    Big,
    arrays,
    a,
    b,
    big,
    arrs,
    root,
    block,
    stats: () => [heap.stats(), heap.graph(), heap.rootStackHeight, heap.phase, backend.footprint()],
    check: () => backend.checkInvariants(), // a ManagedHeap has none of its own: its Kmalloc's
  };
}
type Managed = ReturnType<typeof managedHeap>;

/** Where a twin of `managedHeap()` has objects and arrays, and ours has none. */
const MANAGED_FOREIGN = (() => {
  const w = managedHeap();
  let node = 0;
  for (let i = 0; i < 20; i++) node = w.Node.alloc();
  return { node, big: w.Big.alloc(), arrs: w.arrays.map((T) => T.alloc(4)), block: w.heap.backend.alloc(64) };
})();

/** A growable Memory with a header and a few bytes written. */
function memoryWorld() {
  const memory = Memory.create({ bytes: 1 << 12, maxBytes: 1 << 16 });
  memory.u8.set([1, 2, 3], 100);
  return { memory, stats: () => [memory.byteLength, memory.maxByteLength], check: () => {} };
}
type MemoryWorld = ReturnType<typeof memoryWorld>;

// ------------------------------------------------------------ the tables

const ISALLOCATED = 'true only for the start of a live block: any other whole address in [0, 2^32) is false';

const buddyTable: Table<Layers> = {
  allocPages: call(() => [1]),
  allocPagesExact: call(() => [3]),
  free: call((w) => [w.page]),
  grow: call(() => [1], { n: swept(each(ZEROS, noop('growing by no pages does nothing', NOTHING))) }),
  blockPages: call((w) => [w.page]),
  isAllocated: call((w) => [w.page], { addr: swept(each(ADDRESSES, noop(ISALLOCATED, is(false)))) }),
  freeList: call(() => [0], {
    order: swept(each(ZEROS, noop('order 0: the free list of single pages', that('an array', Array.isArray)))),
  }),
  buddyinfo: call(() => ['Normal'], {
    zone: swept(
      each(
        STRINGS,
        noop(
          'any string names the zone',
          that('a buddyinfo line', (r) => /^Node 0, zone/.test(`${r}`)),
        ),
      ),
      optional(that('a buddyinfo line', (r) => /zone +Normal/.test(`${r}`))),
    ),
  }),
  forEachBlock: call(() => [VISIT]),
};

const buddyStatics: Table<Layers> = {
  attach: call((w) => [w.memory], { memory: swept() }),
  recover: call((w) => [w.memory, 5], { memory: swept() }),
};

const tlsfTable = (live: (w: Layers | KmallocWorld) => number): Table<Layers | KmallocWorld> => ({
  alloc: call(() => [100]),
  tryAlloc: call(() => [100]),
  free: call((w) => [live(w)]),
  realloc: call((w) => [live(w), 300]),
  usableSize: call((w) => [live(w)]),
  isAllocated: call((w) => [live(w)], { addr: swept(each(ADDRESSES, noop(ISALLOCATED, is(false)))) }),
  forEachChunk: call(() => [VISIT]),
  forEachBlock: call(() => [VISIT]),
});

const tlsfStatics: Table<Layers> = {
  attach: call((w) => [w.memory], {
    memory: swept(),
    options: swept(optional(that('a TlsfHeap', (r) => r instanceof TlsfHeap))),
  }),
  recover: call((w) => [w.memory, 5], { memory: swept(), at: swept(optional(is(false))) }),
};

const slabTable: Table<Layers> = {
  alloc: call(() => [], {
    requested: swept(
      optional(ADDRESS, true),
      each(ADDRESSES, accepts('requested only goes into an OutOfMemoryError: any whole number in [0, 2^32)', ADDRESS)),
    ),
  }),
  free: call((w) => [w.o]),
  allocBulk: call(() => [2, new Uint32Array(2)], {
    n: swept(each(ZEROS, noop('no objects', ZERO))),
    out: swept(),
  }),
  freeBulk: call((w) => [[w.o]], {
    addrs: swept({ '[live]': accepts('an array of one live object', NOTHING) }),
    n: swept(optional(NOTHING, true), each(ZEROS, noop('frees none', NOTHING))),
  }),
  shrink: call(() => [], {
    keep: swept(optional(is(0)), each(ADDRESSES, noop('no empty slab to give back: keeps them all', is(0)))),
  }),
  forEachSlab: call(() => [VISIT]),
  freeObjects: call((w) => [w.slab]),
  isAllocated: call((w) => [w.o], { addr: swept(each(ADDRESSES, noop(ISALLOCATED, is(false)))) }),
};

const slabStatics: Table<Layers> = {
  attach: call((w) => [w.memory], {
    memory: swept(),
    options: swept(optional(that('a SlabCache', (r) => r instanceof SlabCache))),
  }),
  recover: call((w) => [w.memory, 5], { memory: swept() }),
};

const arenaTable: Table<Layers> = {
  alloc: call(() => [100, 8], { align: swept(optional(ADDRESS, true)) }),
  rewind: call((w) => [w.mark]),
  run: call(() => [() => 1]),
  view: call((w) => [w.a, 8], {
    addr: swept(each(['0', '-0', INTERIOR, FOREIGN], noop('a view of any bytes inside the memory', VIEW(8)))),
    length: swept(each(ZEROS, noop('an empty view', VIEW(0)))),
  }),
};

const arenaStatics: Table<Layers> = {
  attach: call((w) => [w.memory, { buddy: w.buddy }], { memory: swept(), options: swept() }),
  recover: call((w) => [w.memory, 5], { memory: swept() }),
};

const sizes = (more: Allowances = {}): Record<string, Position> => ({
  size: swept(each(ZEROS, accepts('0 gives a unique smallest block, as malloc(0)', ADDRESS)), more),
});
const KFREE0 = noop('kfree(0) does nothing, as in the kernel', NOTHING);

const kmallocTable: Table<KmallocWorld> = {
  alloc: call(() => [64], sizes()),
  kmalloc: call(() => [64], sizes()),
  kzalloc: call(() => [64], sizes()),
  free: call((w) => [w.blocks[0]]),
  kfree: call((w) => [w.blocks[0]], { addr: swept(each(ZEROS, KFREE0)) }),
  realloc: call((w) => [w.blocks[0], 80], {
    addr: swept(each(ZEROS, accepts('realloc(0, n) allocates', ADDRESS))),
    size: swept(each(ZEROS, accepts('realloc(p, 0) frees and returns 0', is(0)))),
  }),
  krealloc: call((w) => [w.blocks[0], 80], {
    addr: swept(each(ZEROS, accepts('krealloc(0, n) allocates', ADDRESS))),
    size: swept(each(ZEROS, accepts('krealloc(p, 0) frees and returns 0', is(0)))),
  }),
  usableSize: call((w) => [w.blocks[0]]),
  ksize: call((w) => [w.blocks[0]]),
  isAllocated: call((w) => [w.blocks[0]], { addr: swept(each(ADDRESSES, noop(ISALLOCATED, is(false)))) }),
  pageOwner: call((w) => [w.blocks[0]], {
    addr: swept(
      each(
        ADDRESSES,
        noop(
          'the worker slot whose class page holds addr (0 on an unshared heap), -1 on no class page (TSDoc)',
          that('0 or -1', (r) => r === 0 || r === -1),
        ),
      ),
    ),
  }),
  forEachBlock: call(() => [VISIT]),
  forEachTlsfChunk: call(() => [VISIT]),
};

const kmallocStatics: Table<KmallocWorld> = {
  attach: call((w) => [w.memory], { memory: swept() }),
  recover: call((w) => [w.memory, 5], { memory: swept() }),
};

const kmallocCacheTable: Table<KmallocWorld> = {
  forEachSlab: call(() => [VISIT]),
  freeObjects: call((w) => [w.page]),
};

const NULL_ROOT = accepts('0 is null: a root, global or slot that holds nothing', NOTHING);
const NULL_STORE = accepts('0 is null: a ref that points nowhere', NOTHING);

const managedTable: Table<Managed> = {
  step: call(() => [1], {
    budget: swept(
      optional(BOOLEAN, true),
      each(
        ['1.5', '+Infinity', '2^31', '2^32', '2^53', INTERIOR, FOREIGN],
        accepts('a budget is any amount of work > 0 (rounded up, capped at a whole cycle)', BOOLEAN),
      ),
    ),
  }),
  'set incremental': call(() => [true], {
    on: swept(each(['true', 'false'], accepts('a boolean', NOTHING))),
  }),
  defineType: call(() => ['T', { x: 'i32' }], {
    name: swept(each(STRINGS, accepts('any string names a type', OBJECT_TYPE))),
    fields: swept(),
    options: swept(optional(OBJECT_TYPE, true)),
  }),
  defineArray: call(() => ['T', 'i32'], {
    name: swept(each(STRINGS, accepts('any string names a type', ARRAY_TYPE))),
    kind: swept(),
    options: swept(optional(ARRAY_TYPE, true)),
  }),
  type: call(() => ['Node'], { name: swept() }),
  arrayType: call(() => ['A_i32'], { name: swept() }),
  root: call((w) => [w.a], {
    obj: swept(each(ZEROS, accepts('0 is null: a root that holds nothing', ROOT))),
  }),
  scope: call(() => [() => 1]),
  pushRoot: call((w) => [w.a], { obj: swept(each(ZEROS, NULL_ROOT)) }),
  setGlobal: call((w) => ['g', w.a], {
    name: swept(each(STRINGS, accepts('any string names a global', NOTHING))),
    obj: swept(each(ZEROS, NULL_ROOT)),
  }),
  getGlobal: call(() => ['g'], { name: swept(each(STRINGS, noop('any string names a global: 0 when unset', is(0)))) }),
  deleteGlobal: call(() => ['g'], {
    name: swept(each(STRINGS, noop('any string names a global: false when there is none', is(false)))),
  }),
  isLive: call((w) => [w.a], { obj: swept(each(LABELS, noop('"Any value may be passed" (TSDoc)', is(false)))) }),
  typeOf: call((w) => [w.a]),
  sizeOf: call((w) => [w.a]),
};

const managedStatics: Table<Managed> = {
  attach: call((w) => [w.memory, {}, { readOnly: true }], {
    memory: swept(),
    types: swept(optional(that('a ManagedHeap', (r) => r instanceof ManagedHeap)), {
      '{ valueOf: live }': noop(
        'an object of finalizers by type name: no type is named valueOf or toString',
        that('a ManagedHeap', (r) => r instanceof ManagedHeap),
      ),
    }),
    options: swept(),
  }),
};

const rootTable: Table<Managed> = {
  set: call((w) => [w.b], { obj: swept(each(ZEROS, NULL_ROOT)) }),
};

const backendTable: Table<Managed> = {
  alloc: call(
    () => [64],
    sizes(each([INTERIOR, FOREIGN], fits('a size: any whole number the heap has room for', ADDRESS))),
  ),
  free: call((w) => [w.block]),
};

const IS = 'a type test: false for any value that is not a live object of the type';

const objectTypeTable: Table<Managed> = {
  is: call((w) => [w.a], { obj: swept(each(LABELS, noop(IS, is(false)))) }),
};

/** docs/gc.md: field and element access do not check that `obj` is live (a typed-array read or write). */
const UNCHECKED_OBJ = 'docs/gc.md: field and element access do not check that obj is live';
/** docs/gc.md: arrays and the bytes field refuse any obj outside [64, 2^32); inside, it is unchecked. */
const IN_RANGE = ['2^31', INTERIOR, FOREIGN];

const arrayTypeTable = (kind: ArrayKind, i: number): Table<Managed> => {
  const arr = (w: Managed): number => w.arrs[i]!;
  const element = that('an element', (r) => typeof r === 'number');
  return {
    alloc: call(() => [4], {
      length: swept(
        each(ZEROS, accepts('an empty array', ADDRESS)),
        each([INTERIOR, FOREIGN], fitsAfterCollecting('a length: any whole number the heap has room for', ADDRESS)),
      ),
    }),
    get: call((w) => [arr(w), 0], {
      arr: swept(each(IN_RANGE, unchecked(UNCHECKED_OBJ))),
      index: swept(each(ZEROS, noop('element 0', element))),
    }),
    set: call((w) => [arr(w), 0, kind === 'ref' ? w.a : 5], {
      arr: swept(each(IN_RANGE, unchecked(UNCHECKED_OBJ))),
      index: swept(each(ZEROS, accepts('element 0', NOTHING))),
      value:
        kind === 'ref'
          ? swept(each(ZEROS, NULL_STORE))
          : exempt('docs/gc.md: number elements store what a typed array stores'),
    }),
    length: call((w) => [arr(w)], { arr: swept(each(IN_RANGE, unchecked(UNCHECKED_OBJ))) }),
    is: call((w) => [arr(w)], { obj: swept(each(LABELS, noop(IS, is(false)))) }),
  };
};

/** docs/gc.md: a store through null (0, NaN, undefined, 2^32: an index in the header) throws and writes nothing. */
const NULLISH = [
  '0',
  '-0',
  '1.5',
  'NaN',
  '+Infinity',
  '-Infinity',
  '2^32',
  '2^53',
  'null',
  'undefined',
  'true',
  'false',
];

const numberFieldTable = (kind: NumberField['kind']): Table<Managed> => {
  const ref = kind === 'ref' || kind === 'weak';
  return {
    get: call((w) => [w.a], { obj: exempt(UNCHECKED_OBJ) }),
    set: call((w) => [w.a, ref ? w.b : 5], {
      obj: swept(
        each(
          LABELS.filter((l) => !NULLISH.includes(l)),
          unchecked(`${UNCHECKED_OBJ}; only a store through null (0, NaN, undefined, 2^32...) is refused`),
        ),
      ),
      value: ref ? swept(each(ZEROS, NULL_STORE)) : exempt('docs/gc.md: number fields store what a typed array stores'),
    }),
  };
};

const bytesFieldTable: Table<Managed> = {
  get: call((w) => [w.a], { obj: swept(each(IN_RANGE, unchecked(UNCHECKED_OBJ))) }),
  set: call((w) => [w.a, [1, 2, 3]], {
    obj: swept(each(IN_RANGE, unchecked(UNCHECKED_OBJ))),
    value: swept({ '[live]': accepts('an array of numbers: each byte stored as a Uint8Array stores it', NOTHING) }),
  }),
};

const memoryTable: Table<MemoryWorld> = {
  grow: call(() => [8], {
    deltaBytes: swept(
      each(ZEROS, noop('growing by 0 bytes does nothing', is(1 << 12))),
      each(
        [INTERIOR, FOREIGN],
        accepts('a byte count the memory has room for', that('the new length', Number.isInteger)),
      ),
    ),
  }),
  growTo: call(() => [1 << 13], {
    byteLength: swept(
      each(
        ['0', '-0', INTERIOR, FOREIGN],
        noop(
          'a length the memory has already: nothing to do',
          that('the length', (r) => r === 1 << 12),
        ),
      ),
    ),
  }),
};

const memoryStatics: Table<MemoryWorld> = {
  create: call(() => [{ bytes: 64 }], { options: swept() }),
  wrap: call(() => [new ArrayBuffer(64)], { backing: swept() }),
};

// ------------------------------------------------------------ the subjects

/** One table to sweep: a subject's instance (or its class, for statics) in a world. */
interface Sweep {
  /** The exported class or interface. */
  readonly subject: string;
  /** Which instance (a field kind, `k.tlsf`...). */
  readonly label: string;
  readonly isStatic: boolean;
  build(): World;
  target(w: World): object;
  live(w: World): number;
  foreign(w: World): number;
  readonly table: Table<World>;
}

/**
 * A subject's sweep in the worlds `build` makes: its instance `target(w)`,
 * `live` the address of one of its live blocks (or objects), `foreign` an
 * address where a twin heap has one and this one has none; with `statics`,
 * the sweep of its class's statics too.
 */
function sweepsOf<W extends World>(s: {
  subject: string;
  label?: string;
  build: () => W;
  target: (w: W) => object;
  live: (w: W) => number;
  foreign: number;
  table: Table<W>;
  statics?: { cls: object; table: Table<W> };
}): Sweep[] {
  const { statics, foreign, ...rest } = s;
  const instance = { label: '', isStatic: false, ...rest, foreign: () => foreign };
  const out = [instance as unknown as Sweep];
  if (statics !== undefined)
    out.push({ ...instance, isStatic: true, target: () => statics.cls, table: statics.table } as unknown as Sweep);
  return out;
}

const SWEEPS: readonly Sweep[] = [
  ...sweepsOf({
    subject: 'BuddyAllocator',
    build: layers,
    target: (w) => w.buddy,
    live: (w) => w.page,
    foreign: LAYERS_FOREIGN.page,
    table: buddyTable,
    statics: { cls: BuddyAllocator, table: buddyStatics },
  }),
  ...sweepsOf({
    subject: 'TlsfHeap',
    build: layers,
    target: (w) => w.tlsf,
    live: (w) => w.t,
    foreign: LAYERS_FOREIGN.t,
    table: tlsfTable((w) => (w as Layers).t),
    statics: { cls: TlsfHeap, table: tlsfStatics },
  }),
  ...sweepsOf({
    subject: 'TlsfHeap',
    label: 'k.tlsf',
    build: kmallocHeap,
    target: (w) => w.k.tlsf,
    live: (w) => w.blocks[1],
    foreign: KMALLOC_FOREIGN[1],
    table: tlsfTable((w) => (w as KmallocWorld).blocks[1]),
  }),
  ...sweepsOf({
    subject: 'SlabCache',
    build: layers,
    target: (w) => w.cache,
    live: (w) => w.o,
    foreign: LAYERS_FOREIGN.o,
    table: slabTable,
    statics: { cls: SlabCache, table: slabStatics },
  }),
  ...sweepsOf({
    subject: 'Arena',
    build: layers,
    target: (w) => w.arena,
    live: (w) => w.a,
    foreign: LAYERS_FOREIGN.a,
    table: arenaTable,
    statics: { cls: Arena, table: arenaStatics },
  }),
  ...sweepsOf({
    subject: 'ArenaScope',
    build: layers,
    target: (w) => w.arena.scope(),
    live: (w) => w.a,
    foreign: LAYERS_FOREIGN.a,
    table: {}, // [Symbol.dispose] and mark take nothing
  }),
  ...sweepsOf({
    subject: 'Kmalloc',
    build: kmallocHeap,
    target: (w) => w.k,
    live: (w) => w.blocks[0],
    foreign: KMALLOC_FOREIGN[0],
    table: kmallocTable,
    statics: { cls: Kmalloc, table: kmallocStatics },
  }),
  ...sweepsOf({
    subject: 'KmallocCache',
    build: kmallocHeap,
    target: (w): KmallocCache => w.cache,
    live: (w) => w.page,
    foreign: KMALLOC_FOREIGN[0],
    table: kmallocCacheTable,
  }),
  ...sweepsOf({
    subject: 'ManagedHeap',
    build: managedHeap,
    target: (w) => w.heap,
    live: (w) => w.a,
    foreign: MANAGED_FOREIGN.node,
    table: managedTable,
    statics: { cls: ManagedHeap, table: managedStatics },
  }),
  ...sweepsOf({
    subject: 'Root',
    build: managedHeap,
    target: (w): Root => w.root,
    live: (w) => w.a,
    foreign: MANAGED_FOREIGN.node,
    table: rootTable,
  }),
  ...sweepsOf({
    subject: 'GcBackend',
    build: managedHeap,
    target: (w) => w.heap.backend,
    live: (w) => w.block,
    foreign: MANAGED_FOREIGN.block,
    table: backendTable,
  }),
  ...(['Node', 'Big'] as const).flatMap((name) =>
    sweepsOf({
      subject: 'ObjectType',
      label: name === 'Node' ? 'a small type' : 'a large type',
      build: managedHeap,
      target: (w): ObjectType<FieldSpecs> => (name === 'Node' ? w.Node : w.Big),
      live: (w) => (name === 'Node' ? w.a : w.big),
      foreign: name === 'Node' ? MANAGED_FOREIGN.node : MANAGED_FOREIGN.big,
      table: objectTypeTable,
    }),
  ),
  ...ARRAY_KINDS.flatMap((kind, i) =>
    sweepsOf({
      subject: 'ArrayType',
      label: `of ${kind}`,
      build: managedHeap,
      target: (w): ArrayType => w.arrays[i]!,
      live: (w) => w.arrs[i]!,
      foreign: MANAGED_FOREIGN.arrs[i]!,
      table: arrayTypeTable(kind, i),
    }),
  ),
  ...NUMBER_FIELDS.flatMap((name) =>
    sweepsOf({
      subject: 'NumberField',
      label: name,
      build: managedHeap,
      target: (w): NumberField => w.Node.fields[name],
      live: (w) => w.a,
      foreign: MANAGED_FOREIGN.node,
      table: numberFieldTable(NODE_FIELDS[name]),
    }),
  ),
  ...sweepsOf({
    subject: 'BytesField',
    build: managedHeap,
    target: (w): BytesField => w.Node.fields.raw,
    live: (w) => w.a,
    foreign: MANAGED_FOREIGN.node,
    table: bytesFieldTable,
  }),
  ...sweepsOf({
    subject: 'Memory',
    build: memoryWorld,
    target: (w) => w.memory,
    live: () => 64,
    foreign: 1 << 12,
    table: memoryTable,
    statics: { cls: Memory, table: memoryStatics },
  }),
];

/** Exported classes and interfaces with public methods that take parameters, not swept, and why. */
const NOT_SWEPT: Readonly<Record<string, string>> = {
  MemkitError: "an error: its statics are the engine's Error.captureStackTrace and prepareStackTrace",
  InvalidArgumentError: 'an error',
  OutOfMemoryError: 'an error',
  InvalidFreeError: 'an error',
  DoubleFreeError: 'an error',
  HeapCorruptionError: 'an error',
  ByteAllocator: 'an interface the swept TlsfHeap and Kmalloc implement: swept as their own methods',
  PageSource: 'an interface the swept BuddyAllocator implements: swept as its own methods',
  SlabSpace:
    "the slab layer's page and cache tables, reached only through the static SlabSpace.of(buddy): word reads " +
    'and writes at indexes its caller computes, as field access is (test/slab/bad-input.test.ts)',
  AllocationTracker:
    'a tool its user wraps around a heap (tools/leaks), not reached from one: its alloc, free, realloc and ' +
    "forEachBlock are the wrapped heap's, swept here (test/tools/leaks.test.ts)",
  LeakScanTarget: 'an interface findLeaks reads (Kmalloc and AllocationTracker implement it)',
  SlabCacheOptions: "an options object: `ctor` is the user's callback, which the cache calls",
  SlabAttachOptions: "an options object: `ctor` is the user's callback",
  TlsfOptions: "an options object: `onChunk` is the user's callback",
  TlsfAttachOptions: "an options object: `onChunk` is the user's callback",
  ManagedHeapOptions: "an options object: its `on...` members are the user's callbacks",
  TypeOptions: "an options object: `finalizer` is the user's callback",
};

// ------------------------------------------------------------ the sweep

const API = publicMethods();

/** The compiler's methods of a sweep's subject (its statics, or its instance methods). */
function methodsOf(s: Sweep): PublicMethod[] {
  return (API.get(s.subject) ?? []).filter((m) => m.isStatic === s.isStatic);
}

/** The positions of an entry (given or defaulted), and what is wrong with it. */
function positionsOf(entry: Entry<World>, params: readonly PublicParam[]): { positions: Position[]; wrong: string[] } {
  const wrong: string[] = [];
  const names = params.map((p) => p.name);
  for (const name of Object.keys(entry.params))
    if (!names.includes(name)) wrong.push(`names a parameter it does not have: ${name}`);
  const positions = params.map((p): Position => {
    const given = entry.params[p.name];
    if (given !== undefined) return given;
    if (p.kind !== 'number' && p.kind !== 'function')
      wrong.push(`${p.name} (${p.kind}: ${p.type}) is neither swept nor exempt`);
    return swept();
  });
  positions.forEach((pos, i) => {
    if (!pos.swept && pos.why === '') wrong.push(`${params[i]!.name}: exempt with no reason`);
    const labels = params[i]!.kind === 'function' ? FUNCTION_LABELS : LABELS;
    for (const [label, a] of Object.entries(pos.allow)) {
      if (!labels.includes(label)) wrong.push(`${params[i]!.name}: an allowance for no value: ${label}`);
      if (a.why === '') wrong.push(`${params[i]!.name} = ${label}: an allowance with no reason`);
      if ((a.kind === 'noop' || a.kind === 'accepts') !== (a.answer !== undefined))
        wrong.push(`${params[i]!.name} = ${label}: an answer is for noop and accepts only`);
    }
  });
  return { positions, wrong };
}

/**
 * Sweeps position `i` of `entry` of `method`: every value, on a heap reused
 * while calls are refused. Returns what is wrong.
 */
function sweepPosition(s: Sweep, method: string, entry: Entry<World>, params: readonly PublicParam[], i: number) {
  const problems: string[] = [];
  const param = params[i]!;
  const pos = positionsOf(entry, params).positions[i]!;
  // The valid call succeeds (on a heap of its own).
  {
    const w = s.build();
    try {
      invoke(s.target(w), method, entry.args(w));
    } catch (e) {
      problems.push(`the valid call threw ${describeError(e)}`);
      return problems;
    }
  }
  let w = s.build();
  let before = snapshot(w);
  for (const [label, x] of valuesFor(param, s.live(w), s.foreign(w))) {
    const at = `${param.name} = ${label}`;
    const args = [...entry.args(w)];
    const valid = args[i];
    args[i] = x;
    ran.length = 0;
    let threw = false;
    let err: unknown;
    let result: unknown;
    try {
      result = invoke(s.target(w), method, args);
    } catch (e) {
      threw = true;
      err = e;
    }
    const coerced = ran.length > 0 ? `ran ${ran.join(', ')} of the value` : null;
    const outcome = threw ? `threw ${describeError(err)}` : `returned ${describeResult(result)}`;
    const allowance = pos.allow[label];
    let wrong: string | null = null;
    let fresh = false;
    const outOfMemory = allowance?.mayNotFit !== undefined && err instanceof OutOfMemoryError;
    if (outOfMemory && allowance?.mayNotFit === 'collected') {
      fresh = true;
    } else if (allowance === undefined || allowance.kind === 'found' || outOfMemory) {
      if (!threw) wrong = `not refused: ${outcome}`;
      else if (!(err instanceof MemkitError)) wrong = outcome;
      else wrong = coerced ?? changes(w, before) ?? misnamed(method, param, valid, x, err);
      if (allowance !== undefined && !outOfMemory) {
        // A bug left in place: it must still be there (else the allowance is stale).
        wrong = wrong === null ? `refused now: the allowance "${allowance.why}" is stale` : null;
        fresh = true;
      }
    } else {
      if (allowance.kind === 'unchecked') {
        w.memory.sync();
        if (w.memory.u8.length === before.bytes.length) w.memory.u8.set(before.bytes);
        fresh = changes(w, before) !== null;
      } else {
        if (threw) wrong = `${allowance.kind} (${allowance.why}), but ${outcome}`;
        else if (!allowance.answer!.test(result))
          wrong = `${allowance.kind} (${allowance.why}): answers ${allowance.answer!.text}, but ${outcome}`;
        else if (coerced !== null) wrong = coerced;
        else if (allowance.kind === 'noop') wrong = changes(w, before);
        else fresh = true; // accepted: whatever it changed, the next value gets a fresh heap
      }
    }
    if (wrong !== null) {
      problems.push(`${at}: ${wrong}`);
      fresh = true;
    }
    if (fresh) {
      w = s.build();
      before = snapshot(w);
    }
  }
  return problems;
}

const name = (s: Sweep): string =>
  `${s.isStatic ? `${s.subject} statics` : s.subject}${s.label ? ` (${s.label})` : ''}`;

describe('the public API the sweep covers', () => {
  it('every exported class or interface with methods that take parameters is swept or named in NOT_SWEPT', () => {
    const swept = new Set(SWEEPS.map((s) => s.subject));
    const withMethods = [...API].filter(([, ms]) => ms.length > 0).map(([n]) => n);
    expect(withMethods.filter((c) => !swept.has(c) && !(c in NOT_SWEPT))).toEqual([]);
    expect(Object.keys(NOT_SWEPT).filter((c) => !withMethods.includes(c))).toEqual([]);
    expect(Object.keys(NOT_SWEPT).filter((c) => swept.has(c))).toEqual([]);
  });

  for (const s of SWEEPS) {
    it(`${name(s)}: one entry for every public method with parameters, each parameter swept or exempt`, () => {
      expect(API.has(s.subject), `${s.subject} is exported from src/index.ts`).toBe(true);
      const methods = methodsOf(s);
      expect(
        methods.map((m) => m.name).filter((m) => !Object.hasOwn(s.table, m)),
        'public methods with parameters and no entry',
      ).toEqual([]);
      expect(
        Object.keys(s.table).filter((m) => !methods.some((pm) => pm.name === m)),
        'entries of no public method with parameters',
      ).toEqual([]);
      const wrong: string[] = [];
      for (const m of methods) {
        const entries = entriesOf(s.table[m.name] ?? []);
        if (entries.length !== m.signatures.length)
          wrong.push(`${m.name}: ${entries.length} entries for ${m.signatures.length} signatures`);
        entries.forEach((e, j) => {
          if (m.signatures[j] !== undefined)
            for (const w of positionsOf(e, m.signatures[j]!).wrong) wrong.push(`${m.name}: ${w}`);
        });
      }
      expect(wrong).toEqual([]);
    });
  }
  it('sweeps more than 3000 (method, parameter, value) cases', () => {
    let cases = 0;
    for (const s of SWEEPS)
      for (const m of methodsOf(s)) {
        const entries = entriesOf(s.table[m.name] ?? []);
        m.signatures.forEach((params, j) => {
          const entry = entries[j];
          if (entry !== undefined)
            positionsOf(entry, params).positions.forEach((pos, i) => {
              if (pos.swept) cases += valuesFor(params[i]!, 64, 64).length;
            });
        });
      }
    expect(cases).toBeGreaterThan(3000);
  });

  // A static sweep for each subject whose class has public statics with parameters.
  it('every subject with public statics that take parameters has a statics table', () => {
    const subjects = new Set(SWEEPS.map((s) => s.subject));
    const missing = [...subjects].filter(
      (subject) =>
        (API.get(subject) ?? []).some((m) => m.isStatic) && !SWEEPS.some((s) => s.subject === subject && s.isStatic),
    );
    expect(missing).toEqual([]);
  });
});

describe('every parameter of every public method, given each bad value', () => {
  for (const s of SWEEPS.filter((s) => methodsOf(s).length > 0)) {
    describe(name(s), () => {
      for (const m of methodsOf(s)) {
        const entries = entriesOf(s.table[m.name] ?? []);
        m.signatures.forEach((params, j) => {
          const entry = entries[j];
          if (entry === undefined) return; // the coverage test names it
          params.forEach((p, i) => {
            const pos = positionsOf(entry, params).positions[i]!;
            const title = `${m.name}(${params.map((q) => (q === p ? `[${q.name}]` : q.name)).join(', ')})`;
            if (!pos.swept) return; // exempt: its reason is in the table (the coverage test requires one)
            it(title, () => {
              const problems = sweepPosition(s, m.name, entry, params, i);
              expect(problems, problems.join('\n')).toEqual([]);
            });
          });
        });
      }
    });
  }
});

describe('the sweep itself: a probe method that breaks each rule is caught', () => {
  const X: PublicParam = { name: 'x', kind: 'number', optional: false, type: 'number' };
  const refuse = (): never => {
    throw new InvalidArgumentError('x must be 8', 'x');
  };
  /**
   * The problems the sweep finds in `probe(x)` (8 is its valid argument), on a Memory world; or
   * in `probe(options)`, with `param` and its valid argument `valid`.
   */
  const sweepProbe = (
    probe: (w: MemoryWorld, x: unknown) => unknown,
    params: Record<string, Position> = {},
    param: PublicParam = X,
    valid: unknown = 8,
  ) => {
    const [s] = sweepsOf({
      subject: 'Memory',
      label: 'a probe',
      build: memoryWorld,
      target: (w) => ({ probe: (x: unknown) => (x === valid ? valid : probe(w, x)) }),
      live: () => 64,
      foreign: 1 << 12,
      table: {},
    });
    return sweepPosition(s!, 'probe', call(() => [valid], params) as Entry<World>, [param], 0).join('\n');
  };

  it('a method that refuses every value passes', () => {
    expect(sweepProbe(refuse)).toBe('');
  });
  it('a value that is not refused, a coercion, an error of the engine, a write, a grown buffer', () => {
    expect(sweepProbe((_w, x) => (Object.is(x, 0) ? 0 : refuse()))).toMatch(/^x = 0: not refused: returned 0$/);
    const coerces = sweepProbe((_w, x) => (Number(x) === 0 ? 0 : refuse()));
    expect(coerces).toMatch(/x = \{ valueOf: live \}: ran valueOf of the value/);
    expect(coerces).toMatch(/x = a symbol: threw TypeError/);
    expect(
      sweepProbe((w) => {
        w.memory.u8[100] = 9;
        refuse();
      }),
    ).toMatch(/^x = 0: bytes \[100, 100\] changed$/m);
    expect(
      sweepProbe((w) => {
        w.memory.grow(8);
        refuse();
      }),
    ).toMatch(/^x = 0: the buffer went from 4096 to \d+ bytes$/m);
  });
  it('an InvalidArgumentError that names another argument, or none', () => {
    const naming = (argument: string | undefined) => (): never => {
      throw new InvalidArgumentError('x must be 8', argument);
    };
    expect(sweepProbe(naming('y'))).toMatch(/^x = 0: InvalidArgumentError names argument "y", not "x": x must be 8$/m);
    expect(sweepProbe(naming(undefined))).toMatch(/^x = 0: InvalidArgumentError names argument undefined, not "x"/m);
    expect(sweepProbe(naming('x probe'))).toMatch(/^x = 0: InvalidArgumentError names argument "x probe", not "x"/m);
    // At a number parameter, a key of the bad value is no name of it.
    expect(sweepProbe(naming('valueOf'))).toMatch(
      /^x = \{ valueOf: live \}: InvalidArgumentError names argument "valueOf"/m,
    );
    // Other MemkitErrors name no argument: not checked.
    expect(
      sweepProbe(() => {
        throw new InvalidFreeError('x is no block', 0);
      }),
    ).toBe('');
  });
  it('at an options parameter: the parameter, or an option (a key of the valid value or of the bad one)', () => {
    const OPTIONS: PublicParam = { name: 'options', kind: 'object', optional: false, type: '{ bytes: number }' };
    const naming = (argument: (x: unknown) => string) => (_w: MemoryWorld, x: unknown) => {
      throw new InvalidArgumentError('options must be { bytes: 8 }', argument(x));
    };
    const sweepOptions = (argument: (x: unknown) => string) =>
      sweepProbe(naming(argument), { options: swept() }, OPTIONS, { bytes: 8 });
    // Only `{ valueOf: live }` has a key valueOf (the instrumented array's valueOf is not enumerable).
    const ownKey = (x: unknown): boolean => typeof x === 'object' && x !== null && Object.keys(x).includes('valueOf');
    expect(sweepOptions(() => 'options')).toBe('');
    expect(sweepOptions(() => 'bytes')).toBe('');
    expect(sweepOptions((x) => (ownKey(x) ? 'valueOf' : 'options'))).toBe('');
    expect(sweepOptions((x) => (ownKey(x) ? 'options' : 'valueOf'))).toMatch(
      /^options = 0: InvalidArgumentError names argument "valueOf", not "options"/m,
    );
    expect(sweepOptions(() => 'Memory.create options')).toMatch(
      /^options = null: InvalidArgumentError names argument "Memory.create options", not "options"/m,
    );
  });
  it('an allowance whose answer is wrong, and a FOUND allowance that is stale', () => {
    expect(sweepProbe((_w, x) => (Object.is(x, 0) ? 1 : refuse()), { x: swept({ 0: noop('zero', is(0)) }) })).toBe(
      'x = 0: noop (zero): answers 0, but returned 1',
    );
    expect(sweepProbe((_w, x) => (Object.is(x, 0) ? 0 : refuse()), { x: swept({ 0: found('0 is taken') }) })).toBe('');
    expect(sweepProbe(refuse, { x: swept({ 0: found('0 is taken') }) })).toBe(
      'x = 0: refused now: the allowance "FOUND: 0 is taken" is stale',
    );
  });
});
