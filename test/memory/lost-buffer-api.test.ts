/**
 * The sweep of lost-buffer.test.ts made complete by construction: every
 * public member of every heap class, on a heap whose buffer its owner took
 * away (a fixed ArrayBuffer detached; a resizable ArrayBuffer shrunk).
 *
 * The members come from the TypeScript compiler (test/support/public-api.ts:
 * a Program over src/index.ts with the repo's tsconfig options): for each class or
 * interface below, the properties of its declared instance type, inherited
 * ones too, getters and readonly fields too, that are public API: no
 * `private`/`protected` modifier, no `#` name, and no `@internal` tag
 * (tsconfig.build.json strips those from the published types; the TypeScript
 * checker cannot see them as private, so they are kept out here); and its
 * public statics (`attach`, `recover`). Each subject has a table with one
 * entry per member; the test fails when a public member has no entry (a new
 * method forces a decision) and when an entry names no public member (a
 * stale table). Every exported class is either swept or named in NOT_SWEPT
 * with its reason, so a new exported class forces a decision too.
 *
 * Swept: Arena, BuddyAllocator, SlabCache, TlsfHeap (standalone, and the
 * one `Kmalloc.tlsf` is), Kmalloc, ManagedHeap; and what a user reaches from
 * them that reads the buffer: KmallocCache (`Kmalloc.caches[i]`), ArenaScope
 * (`arena.scope()`), Root (`heap.root`), GcBackend (`heap.backend`),
 * ObjectType (`heap.defineType`: a small type and a large one), ArrayType
 * (`heap.defineArray`: each element kind), NumberField and BytesField (an
 * ObjectType's `fields`: each kind). Not swept: the classes in NOT_SWEPT
 * (reasons there); the exported interfaces that are plain data (options,
 * stats, graphs: results, not handles on the heap); ByteAllocator and
 * PageSource (interfaces the swept classes implement: their members are
 * swept as the classes' own).
 *
 * What an entry expects (the calls use live addresses of blocks allocated
 * before the loss, real sizes, callbacks `() => {}`):
 * - `lost`: throws the lost-buffer HeapCorruptionError (Memory.checkLive) at once.
 * - `js`: answers from JS state without reading the buffer (a name, an
 *   options value, a Memory object, a worker slot, a teardown that has
 *   nothing to give back on an unshared heap): throws nothing, returns no NaN.
 * - `fast`: an allocation fast path that checks nothing (a per-op compare
 *   costs the hot paths 20-30%) and bumps JS copies of its run's bounds:
 *   called again and again it must end in the lost-buffer error (its slow
 *   path checks) and throw nothing else before.
 * - `unchecked`: a fast path with no slow path a lost buffer reaches (field
 *   and element access, an array's length and a type's `is`: typed-array
 *   reads and writes that read `undefined` or drop the store, docs/gc.md's
 *   C-like part; a root's release): it must throw nothing but the
 *   lost-buffer error (never the engine's TypeError).
 * - `refused` (statics only): a detached buffer given to attach or recover is
 *   a bad argument, InvalidArgumentError naming `memory`, as a constructor
 *   says (lost-buffer.test.ts); a buffer cut short (shrunk) is a damaged heap.
 *
 * Members that end or tear down a heap (`detach`, `dispose`,
 * `[Symbol.dispose]`, a root's `release`) run on fresh heaps of their own.
 */
import { describe, expect, it } from 'vitest';
import {
  Arena,
  type ArrayType,
  BuddyAllocator,
  type BytesField,
  type FieldSpecs,
  HeapCorruptionError,
  InvalidArgumentError,
  Kmalloc,
  ManagedHeap,
  Memory,
  type NumberField,
  type ObjectType,
  SlabCache,
  TlsfHeap,
} from '../../src/index.js';
import { LOST, type Resizable, detach, resizable } from '../support/lost-buffer.js';
import { apiNames, expectClassesCovered, expectEntries } from '../support/api-coverage.js';
import { describeError } from '../support/bad-values.js';
import { NODE_FIELDS } from '../support/field-kinds.js';

// ------------------------------------------------------------ the public API, as TypeScript sees it

// ------------------------------------------------------------ the tables' vocabulary

type Call = () => unknown;
type Expect = 'lost' | 'js' | 'fast' | 'unchecked' | 'refused';

interface Entry {
  readonly expect: Expect;
  /** Why a member answers without the check (every kind but `lost`). */
  readonly why: string;
  readonly calls: readonly Call[];
  /** Ends or tears down the heap: run on a fresh heap of its own. */
  readonly teardown?: boolean;
}

/** A member's entries (a member may have calls of several kinds). */
type Table = Readonly<Record<string, Entry | readonly Entry[]>>;

const lost = (...calls: Call[]): Entry => ({ expect: 'lost', why: '', calls });
const js = (why: string, ...calls: Call[]): Entry => ({ expect: 'js', why, calls });
const fast = (why: string, ...calls: Call[]): Entry => ({ expect: 'fast', why, calls });
const unchecked = (why: string, ...calls: Call[]): Entry => ({ expect: 'unchecked', why, calls });
const refused = (why: string, ...calls: Call[]): Entry => ({ expect: 'refused', why, calls });
const teardown = (e: Entry): Entry => ({ ...e, teardown: true });

const entriesOf = (e: Entry | readonly Entry[]): readonly Entry[] => ('expect' in e ? [e] : (e as readonly Entry[]));

/** Calls a `fast` member may make before it must have noticed (ManagedHeap's run: a block of objects). */
const FAST_LIMIT = 100_000;

function describeResult(x: unknown): string {
  if (typeof x === 'object' && x !== null) {
    if (ArrayBuffer.isView(x)) return `a ${x.constructor.name} of ${x.byteLength} bytes`;
    try {
      return JSON.stringify(x)?.slice(0, 80) ?? x.constructor.name;
    } catch {
      return x.constructor.name;
    }
  }
  return String(x);
}

const isLostError = (e: unknown): boolean => e instanceof HeapCorruptionError && LOST.test(e.message);

function hasNaN(x: unknown): boolean {
  if (typeof x === 'number') return Number.isNaN(x);
  if (x !== null && typeof x === 'object' && (Array.isArray(x) || Object.getPrototypeOf(x) === Object.prototype))
    return Object.values(x).some((v) => typeof v === 'number' && Number.isNaN(v));
  return false;
}

/** What is wrong with `call` under `entry` (null: nothing). */
function check(entry: Entry, call: Call): string | null {
  if (entry.expect === 'fast') {
    for (let i = 1; i <= FAST_LIMIT; i++) {
      try {
        call();
      } catch (e) {
        return isLostError(e) ? null : `threw ${describeError(e)} at call ${i}`;
      }
    }
    return `did not notice in ${FAST_LIMIT} calls`;
  }
  let outcome: string;
  let result: unknown;
  let thrown = false;
  try {
    result = call();
    outcome = `returned ${describeResult(result)}`;
  } catch (e) {
    thrown = true;
    if (isLostError(e)) outcome = 'lost';
    else outcome = `threw ${describeError(e)}`;
    if (entry.expect === 'refused') {
      const named = e instanceof InvalidArgumentError && e.argument === 'memory' && /detached/.test(e.message);
      return named ? null : `${outcome} (expected InvalidArgumentError naming memory)`;
    }
  }
  switch (entry.expect) {
    case 'lost':
      return outcome === 'lost' ? null : outcome;
    case 'unchecked':
      return !thrown || outcome === 'lost' ? null : outcome;
    case 'js':
      if (outcome === 'lost') return 'threw the lost-buffer error: it reads the buffer after all (make it `lost`)';
      if (thrown) return outcome;
      return hasNaN(result) ? `returned NaN: ${outcome}` : null;
    default:
      return `${outcome} (expected InvalidArgumentError naming memory)`;
  }
}

// ------------------------------------------------------------ the settings and the heaps

interface Setting {
  readonly name: string;
  /** True for the resizable buffer: every sync() of its Memory checks (see Memory.checkLive). */
  readonly resizable: boolean;
  /** A buffer of `bytes` for a heap. */
  buffer(bytes: number): ArrayBuffer;
  /** Takes the buffer away under the heap. */
  lose(buf: ArrayBuffer): void;
  /** A ManagedHeap, and the buffer it lives in. */
  managed(): { heap: ManagedHeap; buf: ArrayBuffer };
}

const SETTINGS: readonly Setting[] = [
  {
    name: 'a fixed ArrayBuffer, detached',
    resizable: false,
    buffer: (bytes) => new ArrayBuffer(bytes),
    lose: detach,
    managed: () => {
      const heap = new ManagedHeap({ bytes: 1 << 21 });
      return { heap, buf: heap.memory.buffer as ArrayBuffer };
    },
  },
  {
    name: 'a resizable ArrayBuffer, shrunk',
    resizable: true,
    buffer: resizable,
    // The memkit header and the first pages stay; the blocks are gone.
    lose: (buf) => (buf as Resizable).resize(buf.byteLength / 32),
    managed: () => {
      const buf = resizable(1 << 21);
      return { heap: new ManagedHeap({ backend: new Kmalloc({ memory: Memory.wrap(buf) }) }), buf };
    },
  },
];

/** BuddyAllocator, TlsfHeap, SlabCache and Arena over one buffer, with live blocks; then the loss. */
function layers(setting: Setting) {
  const buf = setting.buffer(1 << 20);
  const memory = Memory.wrap(buf);
  const buddy = new BuddyAllocator({ memory });
  const page = buddy.allocPages(2);
  const exact = buddy.allocPagesExact(3);
  const tlsf = new TlsfHeap(buddy, { chunkPages: 16 });
  const t = tlsf.alloc(100);
  tlsf.free(tlsf.alloc(40)); // a quick-listed block for the next alloc of its size
  const cache = new SlabCache(buddy, { name: 'obj', size: 96 });
  const o = cache.alloc();
  let slab = 0;
  cache.forEachSlab((addr) => {
    slab = addr;
  });
  const arena = new Arena({ buddy });
  const a = arena.alloc(100);
  const mark = arena.mark();
  const scope = arena.scope();
  arena.alloc(200);
  expect([page, exact, t, o, slab, a].every((x) => x > 0)).toBe(true);
  setting.lose(buf);
  return { setting, memory, buddy, page, exact, tlsf, t, cache, o, slab, arena, a, mark, scope };
}

/** A Kmalloc with live blocks of each tier (a size class, TLSF, whole pages); then the loss. */
function kmallocHeap(setting: Setting) {
  const buf = setting.buffer(1 << 21);
  const k = new Kmalloc({ memory: Memory.wrap(buf) });
  const blocks = [k.kmalloc(64), k.kmalloc(3000), k.kmalloc(100_000)];
  const cache = k.caches.find((c) => c.size === k.ksize(blocks[0]!))!;
  let page = 0;
  cache.forEachSlab((addr) => {
    page = addr;
  });
  expect(page).toBeGreaterThan(0);
  setting.lose(buf);
  return { setting, k, blocks, cache, page };
}

/** A ManagedHeap with objects of a small and a large type, an array of each kind, roots of each sort; then the loss. */
function managedHeap(setting: Setting) {
  const { heap, buf } = setting.managed();
  const Node = heap.defineType('Node', NODE_FIELDS);
  const Big = heap.defineType('Big', { next: 'ref', raw: { bytes: 2000 } }); // a kmalloc block of its own
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
  const big = Big.alloc();
  const arrs = arrays.map((T) => T.alloc(4));
  const root = heap.root(a);
  heap.setGlobal('g', b);
  heap.pushRoot(big);
  for (const arr of arrs) heap.pushRoot(arr);
  const block = heap.backend.alloc(64);
  setting.lose(buf);
  return { setting, heap, Node, Big, arrays, a, b, big, arrs, root, block };
}

type Layers = ReturnType<typeof layers>;
type KmallocWorld = ReturnType<typeof kmallocHeap>;
type Managed = ReturnType<typeof managedHeap>;

// ------------------------------------------------------------ the tables

const VISIT = (): void => {};
const FIELD = 'a readonly field, set at construction';

/** attach/recover on the memory of a lost heap: refused when detached, lost when cut short. */
const attachEntry = (setting: Setting, ...calls: Call[]): Entry =>
  setting.resizable
    ? lost(...calls)
    : refused('a detached buffer is a bad argument to attach, as to a constructor', ...calls);

const buddyTable = ({ buddy, page, exact }: Layers): Table => ({
  pageSize: js(FIELD, () => buddy.pageSize),
  pageShift: js(FIELD, () => buddy.pageShift),
  base: js(FIELD, () => buddy.base),
  maxOrder: js(FIELD, () => buddy.maxOrder),
  maxPages: js(FIELD, () => buddy.maxPages),
  memory: js(FIELD, () => buddy.memory),
  state: js(FIELD, () => buddy.state),
  slot: js(FIELD, () => buddy.slot),
  offsetsOnly: js('memory === null', () => buddy.offsetsOnly),
  pages: lost(() => buddy.pages),
  freePages: lost(() => buddy.freePages),
  allocPages: lost(
    () => buddy.allocPages(1),
    () => buddy.allocPages(64),
  ),
  allocPagesExact: lost(() => buddy.allocPagesExact(3)),
  free: lost(
    () => buddy.free(page),
    () => buddy.free(exact),
    () => buddy.free(page + 4096),
  ),
  grow: lost(() => buddy.grow(1)),
  blockPages: lost(() => buddy.blockPages(page)),
  isAllocated: lost(() => buddy.isAllocated(page)),
  freeList: lost(() => buddy.freeList(0)),
  freeCounts: lost(() => buddy.freeCounts()),
  buddyinfo: lost(() => buddy.buddyinfo()),
  stats: lost(() => buddy.stats()),
  forEachBlock: lost(() => buddy.forEachBlock(VISIT)),
  checkInvariants: lost(() => buddy.checkInvariants()),
  drain: js('an unshared buddy has no per-worker lists to give back', () => buddy.drain()),
  detach: teardown(js('only an attached instance has a worker slot to give back', () => buddy.detach())),
  '[Symbol.dispose]': teardown(js('detach()', () => buddy[Symbol.dispose]())),
});

const buddyStatics = ({ setting, memory }: Layers): Table => ({
  attach: attachEntry(setting, () => BuddyAllocator.attach(memory)),
  recover: attachEntry(setting, () => BuddyAllocator.recover(memory, 1)),
});

const tlsfTable = (tlsf: TlsfHeap, t: number): Table => ({
  name: js(FIELD, () => tlsf.name),
  buddy: js(FIELD, () => tlsf.buddy),
  memory: js(FIELD, () => tlsf.memory),
  region: js(FIELD, () => tlsf.region),
  chunkPages: js(FIELD, () => tlsf.chunkPages),
  chunkBytes: js(FIELD, () => tlsf.chunkBytes),
  maxSize: js(FIELD, () => tlsf.maxSize),
  alloc: lost(
    () => tlsf.alloc(40),
    () => tlsf.alloc(2000),
  ),
  tryAlloc: lost(
    () => tlsf.tryAlloc(40),
    () => tlsf.tryAlloc(2000),
  ),
  free: lost(() => tlsf.free(t)),
  realloc: lost(
    () => tlsf.realloc(t, 300),
    () => tlsf.realloc(t, 50),
  ),
  usableSize: lost(() => tlsf.usableSize(t)),
  isAllocated: lost(() => tlsf.isAllocated(t)),
  footprint: lost(() => tlsf.footprint()),
  bytes: lost(() => tlsf.bytes),
  shrink: lost(() => tlsf.shrink()),
  forEachChunk: lost(() => tlsf.forEachChunk(VISIT)),
  forEachBlock: lost(() => tlsf.forEachBlock(VISIT)),
  stats: lost(() => tlsf.stats()),
  checkInvariants: lost(() => tlsf.checkInvariants()),
  detach: teardown(js('an unshared heap holds no worker slot or per-worker pages', () => tlsf.detach())),
  '[Symbol.dispose]': teardown(js('detach()', () => tlsf[Symbol.dispose]())),
});

const tlsfStatics = ({ setting, memory }: Layers): Table => ({
  attach: attachEntry(setting, () => TlsfHeap.attach(memory)),
  recover: attachEntry(setting, () => TlsfHeap.recover(memory, 1)),
});

const slabTable = ({ setting, cache, o, slab }: Layers): Table => {
  // detach() syncs first: on a resizable buffer every sync checks; an unshared cache has nothing else to do.
  const leave = (call: Call): Entry =>
    teardown(setting.resizable ? lost(call) : js('an unshared cache holds no worker slot or slabs', call));
  return {
    name: js(FIELD, () => cache.name),
    size: js(FIELD, () => cache.size),
    stride: js(FIELD, () => cache.stride),
    align: js(FIELD, () => cache.align),
    order: js(FIELD, () => cache.order),
    objectsPerSlab: js(FIELD, () => cache.objectsPerSlab),
    buddy: js(FIELD, () => cache.buddy),
    memory: js(FIELD, () => cache.memory),
    id: js(FIELD, () => cache.id),
    flags: js(FIELD, () => cache.flags),
    objOffset: js(FIELD, () => cache.objOffset),
    fpOffset: js(FIELD, () => cache.fpOffset),
    workerSlot: js('a JS field', () => cache.workerSlot),
    alloc: lost(
      () => cache.alloc(),
      () => cache.alloc(50),
    ),
    free: lost(() => cache.free(o)),
    allocBulk: lost(
      () => cache.allocBulk(4, new Uint32Array(4)),
      () => cache.allocBulk(2, [0, 0]),
    ),
    freeBulk: lost(
      () => cache.freeBulk([o]),
      () => cache.freeBulk(new Uint32Array([o]), 1),
    ),
    shrink: lost(
      () => cache.shrink(),
      () => cache.shrink(1),
    ),
    stats: lost(() => cache.stats()),
    footprint: lost(() => cache.footprint()),
    slabinfoRow: lost(() => cache.slabinfoRow()),
    forEachSlab: lost(() => cache.forEachSlab(VISIT)),
    freeObjects: lost(() => cache.freeObjects(slab)),
    isAllocated: lost(() => cache.isAllocated(o)),
    checkInvariants: lost(() => cache.checkInvariants()),
    detach: leave(() => cache.detach()),
    '[Symbol.dispose]': leave(() => cache[Symbol.dispose]()),
  };
};

const slabStatics = ({ setting, memory }: Layers): Table => ({
  attach: attachEntry(
    setting,
    () => SlabCache.attach(memory),
    () => SlabCache.attach(memory, { name: 'obj' }),
  ),
  recover: attachEntry(setting, () => SlabCache.recover(memory, 1)),
});

const arenaTable = ({ arena, a, mark }: Layers): Table => ({
  memory: js(FIELD, () => arena.memory),
  stateAddress: js(FIELD, () => arena.stateAddress),
  buddy: js(FIELD, () => arena.buddy),
  workerSlot: js('a JS field', () => arena.workerSlot),
  alloc: lost(
    () => arena.alloc(100),
    () => arena.alloc(24, 16),
    () => arena.alloc(1 << 16),
  ),
  mark: lost(() => arena.mark()),
  rewind: lost(() => arena.rewind(mark)),
  reset: lost(() => arena.reset()),
  scope: lost(() => arena.scope()),
  run: lost(() => arena.run(VISIT)),
  used: lost(() => arena.used),
  capacity: lost(() => arena.capacity),
  bytes: lost(() => arena.bytes),
  view: lost(() => arena.view(a, 100)),
  stats: lost(() => arena.stats()),
  chunkList: lost(() => arena.chunkList()),
  checkInvariants: lost(() => arena.checkInvariants()),
  // A buddy arena gives its chunks back to the buddy: it reads the lost state.
  dispose: teardown(lost(() => arena.dispose())),
  '[Symbol.dispose]': teardown(lost(() => arena[Symbol.dispose]())),
  detach: teardown(js('only an attached instance has a worker slot to give back', () => arena.detach())),
});

const arenaStatics = ({ setting, memory }: Layers): Table => ({
  attach: attachEntry(setting, () => Arena.attach(memory)),
  recover: attachEntry(setting, () => Arena.recover(memory, 1)),
});

const arenaScopeTable = ({ scope }: Layers): Table => ({
  mark: js('the mark scope() took, a JS field', () => scope.mark),
  '[Symbol.dispose]': teardown(lost(() => scope[Symbol.dispose]())),
});

const kmallocTable = ({ k, blocks }: KmallocWorld): Table => {
  const each = (f: (p: number) => unknown): Call[] => blocks.map((p) => () => f(p));
  const sizes = (f: (n: number) => unknown): Call[] => [64, 3000, 100_000].map((n) => () => f(n));
  return {
    name: js(FIELD, () => k.name),
    buddy: js(FIELD, () => k.buddy),
    memory: js(FIELD, () => k.memory),
    caches: js(FIELD, () => k.caches),
    classSizes: js(FIELD, () => k.classSizes),
    maxClass: js(FIELD, () => k.maxClass),
    largeAbove: js(FIELD, () => k.largeAbove),
    debug: js(FIELD, () => k.debug),
    tlsf: js('the TlsfHeap object (swept as a TlsfHeap)', () => k.tlsf),
    workerSlot: js('a JS field', () => k.workerSlot),
    alloc: lost(...sizes((n) => k.alloc(n))),
    kmalloc: lost(...sizes((n) => k.kmalloc(n))),
    kzalloc: lost(...sizes((n) => k.kzalloc(n))),
    free: lost(...each((p) => k.free(p))),
    kfree: lost(...each((p) => k.kfree(p))),
    realloc: lost(...each((p) => k.realloc(p, 80)), ...each((p) => k.realloc(p, 5000))),
    krealloc: lost(...each((p) => k.krealloc(p, 80)), ...each((p) => k.krealloc(p, 200_000))),
    usableSize: lost(...each((p) => k.usableSize(p))),
    ksize: lost(...each((p) => k.ksize(p))),
    isAllocated: lost(...each((p) => k.isAllocated(p))),
    pageOwner: lost(...each((p) => k.pageOwner(p))),
    footprint: lost(() => k.footprint()),
    bytes: lost(() => k.bytes),
    forEachBlock: lost(() => k.forEachBlock(VISIT)),
    forEachTlsfChunk: lost(() => k.forEachTlsfChunk(VISIT)),
    shrink: lost(() => k.shrink()),
    checkInvariants: lost(() => k.checkInvariants()),
    slabinfo: lost(() => k.slabinfo()),
    largeStats: lost(() => k.largeStats()),
    detach: teardown(js('an unshared heap holds no worker slot', () => k.detach())),
    '[Symbol.dispose]': teardown(js('detach()', () => k[Symbol.dispose]())),
  };
};

const kmallocStatics = ({ setting, k }: KmallocWorld): Table => ({
  attach: attachEntry(setting, () => Kmalloc.attach(k.memory)),
  recover: attachEntry(setting, () => Kmalloc.recover(k.memory, 1)),
});

const kmallocCacheTable = ({ cache, page }: KmallocWorld): Table => ({
  name: js(FIELD, () => cache.name),
  size: js(FIELD, () => cache.size),
  stride: js(FIELD, () => cache.stride),
  objectsPerSlab: js(FIELD, () => cache.objectsPerSlab),
  pagesPerSlab: js(FIELD, () => cache.pagesPerSlab),
  objOffset: js(FIELD, () => cache.objOffset),
  forEachSlab: lost(() => cache.forEachSlab(VISIT)),
  freeObjects: lost(() => cache.freeObjects(page)),
  stats: lost(() => cache.stats()),
  slabinfoRow: lost(() => cache.slabinfoRow()),
});

const managedTable = ({ heap, a, b }: Managed): Table => ({
  memory: js('a JS field', () => heap.memory),
  backend: js('a JS field (swept as a GcBackend)', () => heap.backend),
  stateAddress: js('a JS field', () => heap.stateAddress),
  readOnly: js('backend === null', () => heap.readOnly),
  sync: lost(() => heap.sync()),
  step: lost(
    () => heap.step(),
    () => heap.step(1),
  ),
  collect: lost(() => heap.collect()),
  trim: lost(() => heap.trim()),
  incremental: lost(
    () => heap.incremental,
    () => {
      heap.incremental = true;
    },
  ),
  phase: lost(() => heap.phase),
  defineType: lost(() => heap.defineType('Other', { x: 'i32' })),
  defineArray: lost(() => heap.defineArray('Others', 'i32')),
  type: lost(() => heap.type('Node')),
  arrayType: lost(() => heap.arrayType('Ints')),
  root: [
    lost(() => heap.root(a)), // the store check fails and its slow path checks
    fast(
      'a root fast path: a null root takes a slot off the JS copy of the free list; the next goes to takeRootSlot, which checks',
      () => heap.root(0),
    ),
  ],
  scope: lost(() => heap.scope(VISIT)),
  pushRoot: [
    lost(() => heap.pushRoot(a)), // the store check fails and its slow path checks
    lost(() => heap.pushRoot(0)), // the stack reads full (undefined === undefined): growTable checks
  ],
  popRoot: lost(() => heap.popRoot()), // the height reads undefined, not > 0: the empty-stack branch checks
  rootStackHeight: lost(() => heap.rootStackHeight),
  setGlobal: lost(
    () => heap.setGlobal('h', a),
    () => heap.setGlobal('g', 0),
  ),
  getGlobal: lost(
    () => heap.getGlobal('g'),
    () => heap.getGlobal('none'),
  ),
  deleteGlobal: lost(() => heap.deleteGlobal('g')),
  stats: lost(() => heap.stats()),
  graph: lost(() => heap.graph()),
  pauses: lost(() => heap.pauses()),
  isLive: lost(
    () => heap.isLive(a),
    () => heap.isLive(b),
    () => heap.isLive(0),
  ),
  typeOf: lost(() => heap.typeOf(a)),
  sizeOf: lost(() => heap.sizeOf(a)),
  detach: teardown(js('the writer token goes back only where the word still holds it', () => heap.detach())),
  '[Symbol.dispose]': teardown(js('detach()', () => heap[Symbol.dispose]())),
});

const managedStatics = ({ setting, heap }: Managed): Table => ({
  attach: attachEntry(
    setting,
    () => ManagedHeap.attach(heap.memory),
    () => ManagedHeap.attach(heap.memory, {}, { readOnly: true }),
  ),
});

const rootTable = ({ root, b }: Managed): Table => ({
  alive: lost(() => root.alive),
  value: lost(() => root.value),
  set: lost(
    () => root.set(b),
    () => root.set(0),
  ),
  release: teardown(unchecked('a root fast path: its slot reads as released already', () => root.release())),
  '[Symbol.dispose]': teardown(unchecked('release()', () => root[Symbol.dispose]())),
});

const backendTable = ({ heap, block }: Managed): Table => {
  const backend = heap.backend;
  return {
    memory: js(FIELD, () => backend.memory),
    alloc: lost(
      () => backend.alloc(64),
      () => backend.alloc(100_000),
    ),
    free: lost(() => backend.free(block)),
    footprint: lost(() => backend.footprint?.()),
  };
};

const objectTypeTable = (T: ObjectType<FieldSpecs>, obj: number, alloc: Entry): Table => ({
  name: js(FIELD, () => T.name),
  id: js(FIELD, () => T.id),
  size: js(FIELD, () => T.size),
  fields: js(FIELD, () => T.fields),
  alloc,
  is: unchecked(
    'a type test: reads the header and the START bitmap as field access does (false)',
    () => T.is(obj),
    () => T.is(0),
  ),
});

const arrayTypeTable = (T: ArrayType, arr: number): Table => ({
  name: js(FIELD, () => T.name),
  id: js(FIELD, () => T.id),
  kind: js(FIELD, () => T.kind),
  alloc: [
    fast('allocation fast path: bumps JS copies of its size class run', () => T.alloc(4)),
    lost(() => T.alloc(1000)), // a kmalloc block of its own
  ],
  get: lost(() => T.get(arr, 0)), // the bounds check reads the length as undefined: bad() checks
  set: lost(() => T.set(arr, 0, 0)),
  length: unchecked('element access: one typed-array read (undefined)', () => T.length(arr)),
  is: unchecked('a type test: reads the header and the START bitmap as element access does (false)', () => T.is(arr)),
});

const numberFieldTable = (f: NumberField, obj: number, target: number): Table => {
  const read = unchecked('field access: one typed-array read (undefined)', () => f.get(obj));
  const store = (v: number): Entry => unchecked('field access: one typed-array store (dropped)', () => f.set(obj, v));
  const refStore: Entry[] = [
    lost(() => f.set(obj, target)), // the store check fails and its slow path checks
    unchecked('a null store: no check to fall to', () => f.set(obj, 0)),
  ];
  const weakStore: Entry[] = [
    lost(() => f.set(obj, target)), // checkObject reads the target as dead: its throw branch checks
    unchecked('a null store: no check to fall to', () => f.set(obj, 0)),
  ];
  return {
    name: js(FIELD, () => f.name),
    kind: js(FIELD, () => f.kind),
    offset: js(FIELD, () => f.offset),
    get: read,
    set: f.kind === 'ref' ? refStore : f.kind === 'weak' ? weakStore : store(1),
  };
};

const bytesFieldTable = (f: BytesField, obj: number): Table => ({
  name: js(FIELD, () => f.name),
  kind: js(FIELD, () => f.kind),
  offset: js(FIELD, () => f.offset),
  length: js(FIELD, () => f.length),
  // A field past the views' end syncs (a wasm-side grow), which names a lost buffer.
  get: lost(() => f.get(obj)),
  set: lost(() => f.set(obj, [1, 2, 3])),
});

interface Subject {
  /** The exported class or interface. */
  readonly name: string;
  /** Its tables on heaps that lost their buffer: one per heap (or part of one: a field kind, an array kind). */
  tables(setting: Setting): Table[];
  /** Its statics' table (a class with public statics). */
  statics?(setting: Setting): Table;
}

const SUBJECTS: readonly Subject[] = [
  {
    name: 'BuddyAllocator',
    tables: (s) => [buddyTable(layers(s))],
    statics: (s) => buddyStatics(layers(s)),
  },
  {
    name: 'TlsfHeap',
    tables: (s) => {
      const w = layers(s);
      const { k, blocks } = kmallocHeap(s);
      return [tlsfTable(w.tlsf, w.t), tlsfTable(k.tlsf, blocks[1]!)];
    },
    statics: (s) => tlsfStatics(layers(s)),
  },
  { name: 'SlabCache', tables: (s) => [slabTable(layers(s))], statics: (s) => slabStatics(layers(s)) },
  { name: 'Arena', tables: (s) => [arenaTable(layers(s))], statics: (s) => arenaStatics(layers(s)) },
  { name: 'ArenaScope', tables: (s) => [arenaScopeTable(layers(s))] },
  { name: 'Kmalloc', tables: (s) => [kmallocTable(kmallocHeap(s))], statics: (s) => kmallocStatics(kmallocHeap(s)) },
  { name: 'KmallocCache', tables: (s) => [kmallocCacheTable(kmallocHeap(s))] },
  {
    name: 'ManagedHeap',
    tables: (s) => [managedTable(managedHeap(s))],
    statics: (s) => managedStatics(managedHeap(s)),
  },
  { name: 'Root', tables: (s) => [rootTable(managedHeap(s))] },
  { name: 'GcBackend', tables: (s) => [backendTable(managedHeap(s))] },
  {
    name: 'ObjectType',
    tables: (s) => {
      const { Node, Big, a, big } = managedHeap(s);
      return [
        objectTypeTable(
          Node,
          a,
          fast('allocation fast path: bumps JS copies of its size class run', () => Node.alloc()),
        ),
        objectTypeTable(
          Big,
          big,
          lost(() => Big.alloc()),
        ),
      ];
    },
  },
  {
    name: 'ArrayType',
    tables: (s) => {
      const { arrays, arrs } = managedHeap(s);
      return arrays.map((T, i) => arrayTypeTable(T, arrs[i]!));
    },
  },
  {
    name: 'NumberField',
    tables: (s) => {
      const { Node, a, b } = managedHeap(s);
      return Object.values(Node.fields)
        .filter((f): f is NumberField => f.kind !== 'bytes')
        .map((f) => numberFieldTable(f, a, b));
    },
  },
  {
    name: 'BytesField',
    tables: (s) => {
      const { Node, a } = managedHeap(s);
      return [bytesFieldTable(Node.fields.raw, a)];
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
  Memory:
    "the buffer's own wrapper, below every heap, where the check lives (checkLive): its buffer and views are " +
    "the engine's objects, which read undefined past a lost buffer's end by the engine's rules; its byteLength, " +
    'growable, grow and growTo name the loss (lost-buffer.test.ts)',
  SlabSpace:
    "the slab layer's page and cache tables, reached only through the static SlabSpace.of(buddy) (a cache's " +
    '`space` is @internal): word reads and writes at indexes its caller computes, as field access is',
  AllocationTracker:
    'a tool its user wraps around a heap (tools/leaks), not reached from one: its alloc, free, realloc and ' +
    "forEachBlock are the wrapped heap's, swept here",
};

// ------------------------------------------------------------ the sweep

const api = apiNames();

/** What is wrong with the entries of `tables` that `pick` picks. */
function problemsOf(tables: readonly Table[], pick: (member: string, e: Entry) => boolean): string[] {
  const problems: string[] = [];
  tables.forEach((table, t) => {
    for (const [member, entries] of Object.entries(table)) {
      for (const entry of entriesOf(entries)) {
        if (!pick(member, entry)) continue;
        entry.calls.forEach((call, i) => {
          const wrong = check(entry, call);
          if (wrong !== null) problems.push(`${member} (table ${t}, ${entry.expect} call ${i}): ${wrong}`);
        });
      }
    }
  });
  return problems;
}

/** Runs every entry of `build()`'s tables: the ordinary ones on one set of heaps, each teardown member on heaps of its own. */
function sweep(build: () => Table[]): string[] {
  const tables = build();
  const problems = problemsOf(tables, (_m, e) => e.teardown !== true);
  const ends = new Set<string>();
  for (const table of tables)
    for (const [member, entries] of Object.entries(table))
      if (entriesOf(entries).some((e) => e.teardown === true)) ends.add(member);
  for (const member of ends) problems.push(...problemsOf(build(), (m) => m === member));
  return problems;
}

describe('the public API the sweep covers', () => {
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
      for (const setting of SETTINGS) {
        const tables = subject.tables(setting);
        expect(tables.length).toBeGreaterThan(0);
        for (const table of tables) {
          expectEntries(info!.members, table, 'member');
          for (const [m, entries] of Object.entries(table)) {
            for (const e of entriesOf(entries)) {
              expect(e.calls.length, `${m}: at least one call`).toBeGreaterThan(0);
              expect(e.expect === 'lost' || e.why !== '', `${m}: a reason`).toBe(true);
            }
          }
        }
        const statics = subject.statics?.(setting) ?? {};
        expectEntries(info!.statics, statics, 'static');
      }
    });
  }
});

describe('every public member on a heap whose buffer was lost', () => {
  for (const setting of SETTINGS) {
    describe(`on ${setting.name}`, () => {
      for (const subject of SUBJECTS) {
        it(subject.name, () => {
          const problems = sweep(() => subject.tables(setting));
          if (subject.statics !== undefined) problems.push(...sweep(() => [subject.statics!(setting)]));
          expect(problems).toEqual([]);
        });
      }
    });
  }
});
