/**
 * ManagedHeap: a tracing mark-sweep garbage collector over typed objects
 * that live in a memkit Memory (lecture: "Garbage Collection": nodes that
 * are reachable from a root are safe; what cannot be reached is garbage).
 *
 * ## States of one collection cycle
 * ```
 *            start: the MARK bitmap is cleared (every object turns white),
 *                   roots are shaded (marked and pushed: gray)
 *   IDLE ----------------------------------------------------> MARK
 *    ^                                                          |  pop a gray object,
 *    |                                                          |  shade its strong
 *    |  nothing left to sweep: live stats, next threshold,      |  ref children; it is
 *    |  finalizers run                                          |  black once popped
 *    |                                                          v
 *   SWEEP <------------------------------------------------- stack empty:
 *     block by block: START &= MARK (32 slots per word);        weak fields to white
 *     empty blocks go back to kmalloc; large objects that       objects are cleared
 *     are white are freed (or queued for their finalizer)
 * ```
 * `collect()` runs a whole cycle at once (stop the world); `step(budget)`
 * runs a bounded slice of it (incremental). Between slices the program runs
 * and may change pointers, so the collector keeps the tri-color invariant
 * "no black object points to a white one" with a Dijkstra insertion write
 * barrier: storing a white object into a ref field (or a root) during MARK
 * shades it. Objects allocated during a cycle are born marked (black).
 *
 * ## Invariants (checked by test/gc)
 * - every object reachable from a root survives, field values intact;
 * - after a cycle that began with no mutation in flight, exactly the
 *   reachable objects are live (incremental == stop the world);
 * - a START bit is set iff an object starts there and is not swept yet, so
 *   a ref store checks its value in O(1).
 *
 * ## Files
 * This file is the public face only: it validates arguments and calls the
 * module that does the work on the internal state object (`state.ts`),
 * which it keeps in a private field. Layouts: `layout.ts`. Allocation:
 * `alloc.ts`, `blocks.ts`. Marking and sweeping: `collector.ts`. Roots and
 * scopes: `roots.ts`. Types and accessors: `types.ts`.
 *
 * ## One writer
 * The collector is single-worker (DESIGN principle 6): one ManagedHeap
 * instance allocates and collects. Another worker (or a copy of the
 * buffer) may `attach` read-only, to inspect (`graph()`, `stats()`, field
 * reads); a second writer gets an error while the first is attached.
 *
 * @module
 */
import {
  HeapCorruptionError,
  InvalidArgumentError,
  OutOfMemoryError,
  argumentError,
  checkInteger,
  checkOptions,
  describe,
  hex,
} from '../errors/index.js';
import { Kmalloc } from '../kmalloc/index.js';
import { HeaderSlot, hasHeader, readSlot, writeSlot } from '../memory/header.js';
import { Memory } from '../memory/memory.js';
import type { GcBackend } from './backend.js';
import { trimPool } from './blocks.js';
import { WHOLE, collectAll, collectStep } from './collector.js';
import { damagedHeader, heapGraph, type HeapGraph } from './graph.js';
import {
  CLASS_SIZES,
  CLASS_WORDS,
  FLAG_INCREMENTAL,
  F_CREDIT,
  F_ISSUED,
  F_THRESHOLD,
  KIND_OBJECT,
  PAUSE_RING,
  PHASE_IDLE,
  ROOT_WORDS,
  STATE_BYTES,
  STATE_MAGIC,
  STATE_VERSION,
  S_CLASSES,
  S_FLAGS,
  S_MAGIC,
  S_MCAP,
  S_MSTACK,
  S_OWNER,
  S_PAUSES,
  S_PCAP,
  S_RCAP,
  S_ROCAP,
  S_ROOTS,
  S_REFOFFS,
  S_SCAP,
  S_SSTACK,
  S_STOP,
  S_TCAP,
  S_TCOUNT,
  S_TYPES,
  S_VERSION,
  S_WCAP,
  S_WSTACK,
  TYPE_MASK,
  TYPE_WORDS,
  T_KIND,
} from './layout.js';
import {
  deleteGlobal,
  escapeRoot,
  getGlobal,
  leaveScope,
  makeRoot,
  makeRootWatched,
  readGlobalNames,
  setGlobal,
  type Escape,
  type Root,
} from './roots.js';
import { HeapState, type StateConfig } from './state.js';
import { heapStats, pauseRing, type HeapStats } from './stats.js';
import {
  defineArray,
  defineType,
  readDescriptor,
  type ArrayKind,
  type ArrayType,
  type FieldSpecs,
  type ObjectType,
  type TypeOptions,
} from './types.js';

/** Options of {@link ManagedHeap}. */
export interface ManagedHeapOptions {
  /**
   * Size of a new heap in bytes (a Kmalloc over a new Memory is created).
   * Ignored when `backend` is given. Default 16 MiB.
   */
  bytes?: number;
  /** Let the new heap's memory grow up to this many bytes. */
  maxBytes?: number;
  /** The allocator to draw objects from, e.g. an existing `Kmalloc`. */
  backend?: GcBackend;
  /** Collect in small steps as the program allocates (default false). */
  incremental?: boolean;
  /** Allocate at least this many bytes between cycles (default 1 MiB). */
  minThreshold?: number;
  /** Allocation between cycles = max(minThreshold, live bytes * growthFactor) (default 3). */
  growthFactor?: number;
  /** Incremental mode: bytes allocated between two automatic steps (default 64 KiB). */
  stepBytes?: number;
  /** Incremental mode: work units of an automatic step (default stepBytes / 8, about 0.2 ms). */
  stepBudget?: number;
  /** Collect automatically when the allocation threshold is passed (default true). */
  autoCollect?: boolean;
  /** Debugging aids that cost time (all off by default). */
  debug?: ManagedHeapDebug;
  /** Called (with `debug.rootLeaks`) for a root handle V8 collected while still unreleased (default: console.warn). */
  onLeakedRoot?: (address: number) => void;
  /** Called when a finalizer throws (default: console.error). */
  onFinalizerError?: (error: unknown, address: number) => void;
  /** Called with the length of every collector pause, in ms (for benchmarks). */
  onPause?: (ms: number) => void;
}

/** Debugging aids of a {@link ManagedHeap}. */
export interface ManagedHeapDebug {
  /**
   * Watch every unscoped root handle with a `FinalizationRegistry`: when V8
   * collects a handle that was never released, the heap calls
   * `onLeakedRoot` and releases its root. Costs about 0.5 µs per root.
   * Without it, `stats().rootHandles` still counts unreleased handles.
   */
  rootLeaks?: boolean;
}

/** Options of {@link ManagedHeap.attach}. */
export interface AttachOptions {
  /**
   * Attach for inspection only (default false): `graph()`, `stats()`,
   * `isLive`, `typeOf`, field reads. Allocation, roots and collection throw.
   * Any number of read-only heaps may attach, from any worker, while the
   * writer runs (what they read is a snapshot that may be mid-change).
   */
  readOnly?: boolean;
  /** Writer attach: the allocator (default `Kmalloc.attach(memory)`). */
  backend?: GcBackend;
  /** Options of the collector, as for the constructor. */
  options?: Omit<ManagedHeapOptions, 'bytes' | 'maxBytes' | 'backend'>;
}

/**
 * The state words of the inlined shadow-stack paths (pushRoot, popRoot) as
 * a const enum, so they compile to literals (see HotRoots in roots.ts);
 * test/gc/structure.test.ts checks them against layout.ts.
 */
// biome-ignore lint/suspicious/noConstEnum: inlined as literals by tsc and esbuild (the point of it)
export const enum HotHeap {
  S_SSTACK = 14,
  S_SCAP = 15,
  S_STOP = 16,
}

const DEFAULT_BYTES = 1 << 24;
const MIN_TABLE = 64;
/** Writer tokens: one per ManagedHeap made in this thread, never 0. */
let nextOwner = (Math.random() * 0x7fffffff) | 0 || 1;

/** The collector's options (the constructor's, less `bytes`, `maxBytes` and `backend`; attach's `options`). */
const COLLECTOR_OPTIONS = [
  'incremental',
  'minThreshold',
  'growthFactor',
  'stepBytes',
  'stepBudget',
  'autoCollect',
  'debug',
  'onPause',
  'onLeakedRoot',
  'onFinalizerError',
] as const;

/**
 * Checks the collector's options (`what` names them in errors' messages;
 * each error's `argument` is the option's bare name, or `options` for a
 * value that is no options object): an object naming no unknown option,
 * each option of its type and range, before anything is allocated or
 * written. Nothing is coerced: a string threshold, a truthy number for a
 * flag, a BigInt are refused.
 */
function checkCollectorOptions(
  options: unknown,
  what: string,
  known: readonly string[],
): Omit<ManagedHeapOptions, 'bytes' | 'maxBytes' | 'backend'> {
  const o = checkOptions(options as object | undefined, what, known, 'options') as Record<string, unknown>;
  const flag = (k: string): void => {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') throw argumentError(`${what}.${k}`, 'a boolean', o[k], k);
  };
  const callback = (k: string): void => {
    if (o[k] !== undefined && typeof o[k] !== 'function') throw argumentError(`${what}.${k}`, 'a function', o[k], k);
  };
  flag('incremental');
  flag('autoCollect');
  if (o.minThreshold !== undefined) checkInteger(o.minThreshold, `${what}.minThreshold`, 0, 2 ** 53, 'minThreshold');
  if (o.stepBytes !== undefined) checkInteger(o.stepBytes, `${what}.stepBytes`, 1, 2 ** 53, 'stepBytes');
  const g = o.growthFactor;
  if (g !== undefined && !(typeof g === 'number' && Number.isFinite(g) && g >= 0))
    throw argumentError(`${what}.growthFactor`, 'a finite number >= 0', g, 'growthFactor');
  // As step(budget): any positive number (Infinity: a whole cycle).
  const b = o.stepBudget;
  if (b !== undefined && !(typeof b === 'number' && b > 0))
    throw argumentError(`${what}.stepBudget`, 'a positive number', b, 'stepBudget');
  if (o.debug !== undefined) {
    const d = checkOptions(o.debug as ManagedHeapDebug, `${what}.debug`, ['rootLeaks'], 'debug');
    if (d.rootLeaks !== undefined && typeof d.rootLeaks !== 'boolean')
      throw argumentError(`${what}.debug.rootLeaks`, 'a boolean', d.rootLeaks, 'rootLeaks');
  }
  callback('onPause');
  callback('onLeakedRoot');
  callback('onFinalizerError');
  return o;
}

/** Checks a `backend` option (`what` names it in the message): an allocator over a memkit Memory (GcBackend). */
function checkBackend(b: unknown, what: string): void {
  if (b === undefined) return;
  const x = b as Partial<GcBackend> | null;
  if (
    typeof x !== 'object' ||
    x === null ||
    !(x.memory instanceof Memory) ||
    typeof x.alloc !== 'function' ||
    typeof x.free !== 'function'
  ) {
    throw argumentError(what, 'an allocator over a Memory (alloc, free, memory), such as a Kmalloc', b, 'backend');
  }
}

function resolveConfig(options: ManagedHeapOptions, readOnly: boolean): StateConfig {
  const stepBytes = options.stepBytes ?? 1 << 16;
  return {
    minThreshold: options.minThreshold ?? 1 << 20,
    growthFactor: options.growthFactor ?? 3,
    stepBytes,
    stepBudget: options.stepBudget ?? stepBytes / 8,
    autoCollect: options.autoCollect ?? true,
    readOnly,
    onLeakedRoot:
      options.onLeakedRoot ??
      ((a) => {
        console.warn(`memkit: a root of ${hex(a)} was never released; the ManagedHeap releases it now`);
      }),
    onFinalizerError:
      options.onFinalizerError ??
      ((e, a) => {
        console.error(`memkit: finalizer of ${hex(a)} threw`, e);
      }),
    onPause: options.onPause ?? null,
    rootLeaks: options.debug?.rootLeaks === true,
  };
}

/** A heap's state, resolved by `new` (laid out) or by `attach` (found). */
interface Resolved {
  readonly state: HeapState;
  readonly owner: number;
  readonly finalizers: Readonly<Record<string, TypeOptions>>;
}

/** Module-private key under which `attach` hands the constructor a resolved heap. */
const RESOLVED = Symbol('resolved heap');

/** Lays out a new heap's state over its backend (the constructor's work). */
function createState(options: ManagedHeapOptions): Resolved {
  // Every option is checked before the backend is touched (a bad one throws and allocates nothing).
  checkCollectorOptions(options, 'ManagedHeap options', ['bytes', 'maxBytes', 'backend', ...COLLECTOR_OPTIONS]);
  checkBackend(options.backend, 'ManagedHeap options.backend');
  // Their ranges are Kmalloc's to check; null is not "unset" (`??` would read it so).
  for (const k of ['bytes', 'maxBytes'] as const) {
    if (options[k] !== undefined && typeof options[k] !== 'number')
      throw argumentError(`ManagedHeap options.${k}`, 'a number of bytes', options[k], k);
  }
  const backend = options.backend ?? defaultBackend(options);
  const memory = backend.memory;
  memory.sync();
  let st: number;
  try {
    st = backend.alloc(STATE_BYTES);
  } catch (e) {
    if (e instanceof OutOfMemoryError) throw new OutOfMemoryError('ManagedHeap: no room for its state', STATE_BYTES);
    throw e;
  }
  const state = new HeapState(memory, backend, st, resolveConfig(options, false));
  state.v.u8.fill(0, st, st + STATE_BYTES);
  const u32 = state.v.u32;
  const s = state.s;
  u32[s + S_MAGIC] = STATE_MAGIC;
  u32[s + S_VERSION] = STATE_VERSION;
  state.setPhase(PHASE_IDLE);
  u32[s + S_FLAGS] = options.incremental === true ? FLAG_INCREMENTAL : 0;
  state.newTable(S_MSTACK, S_MCAP, 1024, 4);
  state.newTable(S_ROOTS, S_RCAP, MIN_TABLE, ROOT_WORDS * 4);
  state.newTable(S_SSTACK, S_SCAP, 256, 4);
  state.newTable(S_TYPES, S_TCAP, 16, TYPE_WORDS * 4);
  state.newTable(S_REFOFFS, S_ROCAP, 64, 4);
  state.newTable(S_WSTACK, S_WCAP, MIN_TABLE, 4);
  state.newTable(S_PAUSES, S_PCAP, PAUSE_RING, 8);
  const classBytes = CLASS_SIZES.length * CLASS_WORDS * 4;
  const ct = state.tryAlloc(classBytes);
  if (ct === 0) throw new OutOfMemoryError('ManagedHeap: no room for its size classes', classBytes);
  state.v.u8.fill(0, ct, ct + classBytes);
  state.v.u32[s + S_CLASSES] = ct;
  state.setClassTable(ct >>> 2, CLASS_SIZES.length);
  state.initRootFreeList(0);
  state.writeBackRoots();
  state.growBitmaps(memory.byteLength - 1);
  const f64 = state.v.f64;
  f64[state.sf + F_THRESHOLD] = state.config.minThreshold;
  f64[state.sf + F_CREDIT] = state.config.minThreshold;
  f64[state.sf + F_ISSUED] = state.config.minThreshold;
  const owner = takeToken();
  state.v.u32[s + S_OWNER] = owner;
  if (hasHeader(memory)) writeSlot(memory, HeaderSlot.Heap, st);
  return { state, owner, finalizers: {} };
}

function defaultBackend(options: ManagedHeapOptions): GcBackend {
  const bytes = options.bytes ?? DEFAULT_BYTES;
  return options.maxBytes === undefined ? new Kmalloc({ bytes }) : new Kmalloc({ bytes, maxBytes: options.maxBytes });
}

function takeToken(): number {
  const t = nextOwner;
  nextOwner = (nextOwner + 1) & 0x7fffffff || 1;
  return t;
}

/**
 * A garbage-collected heap of typed objects in a memkit Memory. See
 * `defineType`/`defineArray` for objects, `root`/`scope`/`pushRoot` for
 * roots, `collect`/`step` for collection.
 *
 * @example
 * ```ts
 * import { ManagedHeap } from 'memkit';
 * const heap = new ManagedHeap({ bytes: 1 << 20 });
 * const Node = heap.defineType('Node', { next: 'ref', value: 'i32' });
 * const head = heap.root(Node.alloc());
 * Node.fields.value.set(head.value, 42);
 * heap.collect();                      // head survives, its value is 42
 * head.release(); heap.collect();      // now it is freed
 * ```
 */
export class ManagedHeap {
  #st: HeapState;
  /** This instance's writer token (0: read-only, or detached). */
  #owner: number;
  /** Defined or rebound types by name. */
  #types: Map<string, ObjectType<FieldSpecs> | ArrayType>;
  /** The escape function of the scopes at each depth (made once per depth, no closure per scope). */
  #escapers: Escape[];

  constructor(options: ManagedHeapOptions = {}) {
    if (typeof options !== 'object' || options === null)
      throw new InvalidArgumentError('ManagedHeap options must be an object', 'options');
    // `new` lays out a new heap; `attach` resolves an existing one and
    // passes it here under a module-private key. Both end in the same fields.
    const resolved = (options as { [RESOLVED]?: Resolved })[RESOLVED] ?? createState(options);
    const st = resolved.state;
    this.#st = st;
    this.#owner = resolved.owner;
    this.#types = new Map();
    this.#escapers = [];
    if (st.config.rootLeaks) {
      st.registry = new FinalizationRegistry(([slot, gen]) => st.leakedRoot(slot, gen));
      // The backstop's root() is this instance's own: the shared one never
      // hands its handle to anything, so V8 may drop the handle of a root
      // made and released in one function (escape analysis).
      Object.defineProperty(this, 'root', {
        value: (obj: number): Root => makeRootWatched(st, obj),
      });
    }
    for (let id = 0, n = st.v.u32[st.s + S_TCOUNT]!; id < n; id++) this.#rebind(id, resolved.finalizers);
  }

  /** Rebuilds the type object of type `id` from its in-buffer descriptor. */
  #rebind(id: number, finalizers: Readonly<Record<string, TypeOptions>>): void {
    const st = this.#st;
    const d = readDescriptor(st, id);
    const given: unknown = Object.hasOwn(finalizers, d.name) ? finalizers[d.name] : undefined;
    if (given !== undefined && (typeof given !== 'object' || given === null)) {
      throw new InvalidArgumentError(`attach: types.${d.name} must be an object such as { finalizer }`, 'types');
    }
    const opts = (given ?? {}) as TypeOptions;
    if (opts.finalizer !== undefined && !d.finalizer) {
      throw new InvalidArgumentError(
        `attach: type ${d.name} was defined without a finalizer; one cannot be added on attach`,
        'types',
      );
    }
    const t =
      d.array !== null || st.v.u32[st.typeWord0(id) + T_KIND] !== KIND_OBJECT
        ? defineArray(st, d.name, d.array!, opts, id)
        : defineType(st, d.name, d.fields ?? {}, opts, id);
    if (!this.#types.has(d.name)) this.#types.set(d.name, t as ObjectType<FieldSpecs> | ArrayType);
  }

  /** An attached heap picks up the types and global names its writer added since. */
  #refresh(): void {
    const st = this.#st;
    st.sync();
    for (let id = st.typeMeta.length, n = st.word(S_TCOUNT); id < n; id++) this.#rebind(id, {});
    if (st.backend === null) readGlobalNames(st);
  }

  /**
   * Opens the ManagedHeap laid out in `memory` (by a heap made over a
   * `Kmalloc` of that memory): from another worker over a
   * `SharedArrayBuffer`, or over a copy of the buffer. Type objects are
   * rebuilt by name from the layouts in the buffer (`heap.type(name)`,
   * `heap.arrayType(name)`); `types` gives finalizers back by type name.
   *
   * The collector is single-worker: a writer attach while another writer
   * is attached (its heap not `detach()`ed) throws `InvalidArgumentError`;
   * attach with `{ readOnly: true }` to inspect instead.
   *
   * @throws HeapCorruptionError if `memory` holds no ManagedHeap state (or a damaged one).
   * @example
   * ```ts
   * import { ManagedHeap, Kmalloc, Memory } from 'memkit';
   * const memory = Memory.create({ bytes: 1 << 20, shared: true });
   * const heap = new ManagedHeap({ backend: new Kmalloc({ memory }) });
   * const Node = heap.defineType('Node', { next: 'ref', value: 'i32' });
   * heap.setGlobal('head', Node.alloc());
   * // in another worker, given memory.buffer:
   * const view = ManagedHeap.attach(Memory.wrap(memory.buffer), {}, { readOnly: true });
   * view.type('Node').fields.value.get(view.getGlobal('head'));   // 0
   * ```
   */
  static attach(
    memory: Memory,
    types: Readonly<Record<string, TypeOptions>> = {},
    options: AttachOptions = {},
  ): ManagedHeap {
    if (!(memory instanceof Memory))
      throw new InvalidArgumentError(
        `attach: memory must be a Memory (Memory.wrap(buffer)), got ${describe(memory)}`,
        'memory',
      );
    if (typeof types !== 'object' || types === null || Array.isArray(types))
      throw argumentError('attach: types', 'an object of { finalizer } by type name', types, 'types');
    checkOptions(options, 'attach: options', ['readOnly', 'backend', 'options'], 'options');
    if (options.readOnly !== undefined && typeof options.readOnly !== 'boolean')
      throw argumentError('attach: options.readOnly', 'a boolean', options.readOnly, 'readOnly');
    checkBackend(options.backend, 'attach: options.backend');
    checkCollectorOptions(options.options, 'attach: options.options', COLLECTOR_OPTIONS);
    memory.sync();
    const addr = hasHeader(memory) ? readSlot(memory, HeaderSlot.Heap) : 0;
    if (addr === 0 || (addr & 7) !== 0 || addr + STATE_BYTES > memory.byteLength) {
      throw new HeapCorruptionError('ManagedHeap.attach: no ManagedHeap state in this memory', addr);
    }
    const u32 = memory.u32;
    if (u32[(addr >>> 2) + S_MAGIC] !== STATE_MAGIC || u32[(addr >>> 2) + S_VERSION] !== STATE_VERSION) {
      throw new HeapCorruptionError(
        `ManagedHeap.attach: no ManagedHeap state (magic MKGC, version ${STATE_VERSION}) at ${hex(addr)}`,
        addr,
      );
    }
    const readOnly = options.readOnly === true;
    let owner = 0;
    if (!readOnly) {
      owner = takeToken();
      const i32 = memory.i32;
      const prev =
        memory.buffer instanceof SharedArrayBuffer
          ? Atomics.compareExchange(i32, (addr >>> 2) + S_OWNER, 0, owner)
          : i32[(addr >>> 2) + S_OWNER]!;
      if (prev !== 0) {
        throw new InvalidArgumentError(
          'ManagedHeap.attach: another writer is attached (the GC is single-worker); ' +
            'detach() it first, or attach with { readOnly: true } to inspect',
          'options',
        );
      }
      if (!(memory.buffer instanceof SharedArrayBuffer)) i32[(addr >>> 2) + S_OWNER] = owner;
    }
    let backend: GcBackend | null = null;
    if (!readOnly) {
      try {
        backend = options.backend ?? Kmalloc.attach(memory);
      } catch (e) {
        // No writer after all: give the token back (the heap stays as it was).
        const i = (addr >>> 2) + S_OWNER;
        if (memory.buffer instanceof SharedArrayBuffer) Atomics.compareExchange(memory.i32, i, owner, 0);
        else if (memory.i32[i] === owner) memory.i32[i] = 0;
        throw e;
      }
    }
    const state = new HeapState(memory, backend, addr, resolveConfig(options.options ?? {}, readOnly));
    state.setClassTable(state.word(S_CLASSES) >>> 2, CLASS_SIZES.length);
    state.loadBitmaps();
    readGlobalNames(state);
    const resolved: Resolved = { state, owner, finalizers: types };
    return new ManagedHeap({ [RESOLVED]: resolved } as ManagedHeapOptions);
  }

  /**
   * Leaves the heap: a writer gives up its writer token (another worker
   * may then attach as the writer). The instance must not be used after.
   *
   * @example
   * ```ts
   * const memory = Memory.create({ bytes: 1 << 20, shared: true });
   * const heap = new ManagedHeap({ backend: new Kmalloc({ memory }) });
   * heap.detach();                              // gives the writer token up
   * const writer = ManagedHeap.attach(memory);  // so another worker may be the writer
   * ```
   */
  detach(): void {
    const st = this.#st;
    if (this.#owner !== 0) {
      // The next writer starts from the root words (a lost buffer has no next writer).
      if (!st.memory.isLost()) {
        st.sync();
        st.writeBackRoots();
      }
      const i = st.s + S_OWNER;
      if (st.memory.buffer instanceof SharedArrayBuffer) Atomics.compareExchange(st.v.i32, i, this.#owner, 0);
      else if (st.v.i32[i] === this.#owner) st.v.i32[i] = 0;
      this.#owner = 0;
    }
  }

  /** Same as {@link ManagedHeap.detach}. */
  [Symbol.dispose](): void {
    this.detach();
  }

  /** The bytes objects live in. */
  get memory(): Memory {
    return this.#st.memory;
  }

  /**
   * The allocator objects come from.
   *
   * @throws InvalidArgumentError on a read-only attached heap (it has none).
   */
  get backend(): GcBackend {
    const b = this.#st.backend;
    if (b === null) throw new InvalidArgumentError('a read-only attached ManagedHeap has no backend');
    return b;
  }

  /** Address of the collector's state block. */
  get stateAddress(): number {
    return this.#st.address;
  }

  /** True for a heap attached with `{ readOnly: true }`. */
  get readOnly(): boolean {
    return this.#st.backend === null;
  }

  /**
   * Picks up new views after the memory's buffer was replaced (a
   * `WebAssembly.Memory` grown by wasm code). Only a number field's `set`
   * (and a ref field's set of 0) needs it: it reads nothing before it
   * writes, so until a sync it writes into the old buffer (lost). Every
   * other public operation picks the new buffer up by itself: the hot paths
   * (`alloc()`, `root()`, `pushRoot()`, field gets, ref stores, element
   * access, `length`, `is`) read a word first, and a word of a replaced
   * buffer reads undefined, which sends them to a slow branch that syncs (V8
   * drops that compare from the compiled code until such a read has
   * happened). Call it after wasm code grew the memory, before setting
   * number fields (test/memory/wasm-grow-api.test.ts holds each member to
   * this).
   *
   * @example
   * ```ts
   * const wasm = new WebAssembly.Memory({ initial: 16, maximum: 64 });
   * const heap = new ManagedHeap({ backend: new Kmalloc({ memory: Memory.wrap(wasm) }) });
   * wasm.grow(1); // as wasm code would: the buffer is replaced
   * heap.sync();  // new views, before setting number fields (everything else syncs by itself)
   * ```
   */
  sync(): void {
    this.#st.sync();
  }

  // ------------------------------------------------------------- collection

  /**
   * Does up to `budget` units of collector work (marking: one per object
   * and per ref slot; sweeping: one per bitmap word or large object),
   * starting a cycle when none is running. Returns true when a cycle
   * completed in this step.
   *
   * @example
   * ```ts
   * import { ManagedHeap } from 'memkit';
   * const heap = new ManagedHeap({ bytes: 1 << 20 });
   * let slices = 0;
   * while (!heap.step(10_000)) slices++; // the program runs between slices
   * ```
   */
  step(budget: number = this.#st.config.stepBudget): boolean {
    if (typeof budget !== 'number' || !(budget > 0))
      throw new InvalidArgumentError(`step budget must be positive, got ${describe(budget)}`, 'budget');
    this.#st.checkWritable('step');
    this.#st.sync();
    return collectStep(this.#st, Math.min(Math.ceil(budget), WHOLE));
  }

  /**
   * Stop-the-world collection: finishes a cycle in progress, then runs a
   * whole new cycle, so that afterwards exactly the objects reachable from
   * the roots are live. Finalizers of the freed objects run before it
   * returns.
   *
   * @example
   * ```ts
   * const kept = heap.root(T.alloc());
   * const garbage = T.alloc();
   * heap.collect();
   * heap.isLive(kept.value); heap.isLive(garbage); // true false
   * ```
   */
  collect(): void {
    this.#st.checkWritable('collect');
    this.#st.sync();
    collectAll(this.#st, false);
  }

  /**
   * Gives the pool of empty GC blocks back to the allocator (kmalloc, whose
   * pages go back to the buddy). Sweeps keep a pool the size of the next
   * cycle's allocation; call this to return memory now. Returns the bytes
   * given back.
   *
   * @example
   * ```ts
   * for (let i = 0; i < 1000; i++) T.alloc();
   * heap.collect(); // all garbage: their blocks go to the pool
   * heap.trim();    // the bytes given back to kmalloc
   * heap.trim();    // 0: the pool is empty now
   * ```
   */
  trim(): number {
    this.#st.checkWritable('trim');
    this.#st.sync();
    return trimPool(this.#st, 0);
  }

  /** True when automatic collection works in small steps. */
  get incremental(): boolean {
    this.#st.sync(); // a buffer detached under the heap: named, not read as false
    return (this.#st.word(S_FLAGS) & FLAG_INCREMENTAL) !== 0;
  }

  /** Sets whether automatic collection works in small steps (kept in the heap's memory); refused on a read-only view. */
  set incremental(on: boolean) {
    if (typeof on !== 'boolean') throw argumentError('incremental', 'a boolean', on);
    this.#st.checkWritable('incremental');
    this.#st.sync(); // a buffer detached under the heap: named, not a store into nothing
    const u32 = this.#st.v.u32;
    const i = this.#st.s + S_FLAGS;
    u32[i] = on ? u32[i]! | FLAG_INCREMENTAL : u32[i]! & ~FLAG_INCREMENTAL;
  }

  /** The collector's phase: 'idle', 'mark' or 'sweep'. */
  get phase(): 'idle' | 'mark' | 'sweep' {
    this.#st.sync(); // a buffer detached under the heap: named, not read as 'idle'
    return this.#st.phaseName();
  }

  // ------------------------------------------------------------------ types

  /**
   * Declares an object type. Field kinds: `'ref'`, `'weak'`, `'i32'`,
   * `'u32'`, `'f64'`, `'u8'`, `'i8'`, `'u16'`, `'i16'`, `{ bytes: n }`.
   *
   * @example
   * ```ts
   * import { ManagedHeap } from 'memkit';
   * const heap = new ManagedHeap({ bytes: 1 << 20 });
   * const Node = heap.defineType('Node', { left: 'ref', right: 'ref' });
   * const { left } = Node.fields;
   * const n = Node.alloc(); left.set(n, Node.alloc());
   * ```
   */
  defineType<F extends FieldSpecs>(name: string, fields: F, options?: TypeOptions): ObjectType<F> {
    this.#st.sync();
    const t = defineType(this.#st, name, fields, options);
    if (!this.#types.has(name)) this.#types.set(name, t as unknown as ObjectType<FieldSpecs>);
    return t;
  }

  /**
   * Declares an array type of `'ref'`, `'i32'`, `'f64'` or `'u8'` elements.
   *
   * @example
   * ```ts
   * import { ManagedHeap } from 'memkit';
   * const heap = new ManagedHeap({ bytes: 1 << 20 });
   * const Refs = heap.defineArray('Refs', 'ref');
   * const a = Refs.alloc(10); Refs.set(a, 0, a);
   * ```
   */
  defineArray(name: string, kind: ArrayKind, options?: TypeOptions): ArrayType {
    this.#st.sync();
    const t = defineArray(this.#st, name, kind, options);
    if (!this.#types.has(name)) this.#types.set(name, t);
    return t;
  }

  /**
   * The object type named `name` (the first defined under that name, or
   * rebuilt by `attach`). `F` is what the caller asserts its fields are.
   *
   * @throws InvalidArgumentError if there is no object type of that name.
   *
   * @example
   * ```ts
   * heap.defineType('Point', { x: 'f64', y: 'f64' });
   * const Point = heap.type<{ x: 'f64'; y: 'f64' }>('Point'); // e.g. in a heap attached elsewhere
   * Point.fields.x.set(Point.alloc(), 1.5);
   * ```
   */
  type<F extends FieldSpecs = FieldSpecs>(name: string): ObjectType<F> {
    this.#refresh();
    const t = this.#types.get(name);
    if (t === undefined || !('fields' in t))
      throw new InvalidArgumentError(`no object type named ${describe(name)}`, 'name');
    return t as unknown as ObjectType<F>;
  }

  /**
   * The array type named `name`.
   *
   * @throws InvalidArgumentError if there is no array type of that name.
   *
   * @example
   * ```ts
   * heap.defineArray('Bytes', 'u8');
   * const Bytes = heap.arrayType('Bytes');
   * const a = Bytes.alloc(16); // 16 zeroed bytes
   * ```
   */
  arrayType(name: string): ArrayType {
    this.#refresh();
    const t = this.#types.get(name);
    if (t === undefined || 'fields' in t)
      throw new InvalidArgumentError(`no array type named ${describe(name)}`, 'name');
    return t;
  }

  // ------------------------------------------------------------------ roots

  /**
   * Roots `obj` (or 0) until the returned handle is released. Inside a
   * `scope`, the root is released when the scope ends. Costs a slot in a
   * table in the buffer and the handle object, nothing else. Like field
   * access, it does not `sync()` (after wasm code grew the memory, call
   * `heap.sync()` first).
   *
   * @throws InvalidArgumentError if `obj` is not 0 or a live object.
   * @example
   * ```ts
   * import { ManagedHeap } from 'memkit';
   * const heap = new ManagedHeap({ bytes: 1 << 20 });
   * const T = heap.defineType('T', { x: 'i32' });
   * using r = heap.root(T.alloc());   // or: const r = ...; r.release();
   * ```
   */
  root(obj: number): Root {
    // A hot path: no sync() call; a buffer replaced under the views (wasm
    // code grew the memory) sends makeRoot to its slow branch, which syncs.
    // makeRoot checks `obj` (one function: see there). A read-only heap
    // takes its slow path (its root table's capacity copy is 0), which throws.
    return makeRoot(this.#st, obj);
  }

  /**
   * Runs `fn`; every root it makes (handles, and shadow-stack pushes) is
   * released when it returns or throws (like V8's HandleScope): entering
   * saves the shadow stack's height and the root generation counter;
   * leaving writes the height back and releases the roots of this scope
   * still in use (found among the roots made since it began: a few
   * nanoseconds each). `root()` and `release()` take the same path inside
   * a scope as outside. `escape(obj)` roots one object in the enclosing
   * scope (or, outside every scope, in a new unscoped root the caller
   * releases).
   *
   * @example
   * ```ts
   * import { ManagedHeap } from 'memkit';
   * const heap = new ManagedHeap({ bytes: 1 << 20 });
   * const Node = heap.defineType('Node', { next: 'ref' });
   * const list = heap.scope((escape) => {
   *   const a = heap.root(Node.alloc());        // released at the end
   *   return escape(a.value);                   // a Root the caller owns
   * });
   * list.release();
   * ```
   */
  scope<R>(fn: (escape: Escape) => R): R {
    const st = this.#st;
    if (typeof fn !== 'function') throw new InvalidArgumentError('scope: fn must be a function', 'fn');
    st.checkWritable('scope');
    st.sync();
    const stackTop = st.v.u32[st.s + S_STOP]!;
    const gen = st.rseq;
    const depth = ++st.scopeDepth;
    const escape = this.#escapers[depth] ?? this.#escaper(depth);
    try {
      return fn(escape);
    } finally {
      leaveScope(st, stackTop, gen);
    }
  }

  #escaper(depth: number): Escape {
    const st = this.#st;
    const e: Escape = (obj) => escapeRoot(st, obj, depth);
    this.#escapers[depth] = e;
    return e;
  }

  /**
   * Pushes `obj` (or 0) on the shadow stack: the cheapest root, for hot
   * code. Pop it with `popRoot()`; a scope restores the stack height.
   *
   * @throws InvalidArgumentError if `obj` is not 0 or a live object.
   *
   * @example
   * ```ts
   * const obj = T.alloc();
   * heap.pushRoot(obj); // rooted: a collection keeps it
   * heap.collect();
   * heap.popRoot();     // obj, no longer rooted
   * ```
   */
  pushRoot(obj: number): void {
    const st = this.#st;
    // A read-only heap refuses a non-zero obj in checkStore's slow path, and 0 here.
    if (obj !== 0) st.checkStore(obj);
    else if (st.backend === null) st.checkWritable('pushRoot');
    const u32 = st.v.u32;
    const s = st.s;
    const top = u32[s + HotHeap.S_STOP]!;
    // The stack's address and capacity as this writer set them (HeapState.tw), not the buffer's
    // words, which checkTables compares with them: a damaged word is never written through.
    const tw = st.tw;
    if (!(top < tw[HotHeap.S_SCAP]!)) return this.#pushRootSlow(obj);
    u32[(tw[HotHeap.S_SSTACK]! >>> 2) + top] = obj;
    u32[s + HotHeap.S_STOP] = top + 1;
  }

  /**
   * Pops the shadow stack and returns the object that was on top.
   *
   * @example
   * ```ts
   * heap.pushRoot(T.alloc());
   * heap.rootStackHeight; // 1
   * const obj = heap.popRoot();
   * heap.rootStackHeight; // 0
   * ```
   */
  popRoot(): number {
    const st = this.#st;
    if (st.backend === null) st.checkWritable('popRoot'); // a read-only heap: the stack is the writer's
    const u32 = st.v.u32;
    const s = st.s;
    const top = u32[s + HotHeap.S_STOP]!;
    if (!(top > 0 && top <= st.tw[HotHeap.S_SCAP]!)) return this.#popRootSlow();
    u32[s + HotHeap.S_STOP] = top - 1;
    return u32[(st.tw[HotHeap.S_SSTACK]! >>> 2) + top - 1]!;
  }

  /**
   * pushRoot when the stack read as full: it is (grow it), or the views are
   * of a buffer that wasm code replaced and read undefined (sync picks the
   * grow up; a detached buffer: sync names it).
   */
  #pushRootSlow(obj: number): void {
    const st = this.#st;
    st.sync();
    st.checkTables();
    const s = st.s;
    const top = st.v.u32[s + S_STOP]!;
    if (top === st.tw[S_SCAP]) {
      st.checkWritable('pushRoot');
      if (!st.growTable(S_SSTACK, S_SCAP, 4, 0)) throw new OutOfMemoryError('no room for the shadow stack', 4 * top);
    }
    const u32 = st.v.u32;
    u32[(st.tw[S_SSTACK]! >>> 2) + top] = obj;
    u32[s + S_STOP] = top + 1;
  }

  /**
   * popRoot when the height read 0 or undefined: views of a buffer that wasm
   * code replaced (or that was detached: sync names it), or a stack that is
   * really empty.
   */
  #popRootSlow(): number {
    const st = this.#st;
    st.sync();
    st.checkTables(); // a height past the capacity is damage: it throws
    const u32 = st.v.u32;
    const top = u32[st.s + S_STOP]!;
    if (top === 0) throw new InvalidArgumentError('popRoot on an empty shadow stack');
    u32[st.s + S_STOP] = top - 1;
    return u32[(st.tw[S_SSTACK]! >>> 2) + top - 1]!;
  }

  /** Height of the shadow stack. */
  get rootStackHeight(): number {
    this.#st.sync(); // a buffer detached under the heap: named, not read as undefined
    return this.#st.word(S_STOP);
  }

  /**
   * Sets (creating if needed) the named global root to `obj` (or 0).
   *
   * @example
   * ```ts
   * heap.setGlobal('config', T.alloc()); // rooted until replaced or deleted
   * heap.collect();
   * heap.isLive(heap.getGlobal('config')); // true
   * ```
   */
  setGlobal(name: string, obj: number): void {
    const st = this.#st;
    if (typeof name !== 'string')
      throw new InvalidArgumentError(`global name must be a string, got ${describe(name)}`, 'name');
    st.checkWritable('setGlobal');
    st.sync();
    st.checkTables(); // (the root table's address: a global is written there)
    if (obj !== 0) st.checkStore(obj);
    setGlobal(st, name, obj);
  }

  /**
   * The object in the named global root (0 when unset). An attached heap
   * sees the globals set before it attached (their names are in the buffer).
   *
   * @example
   * ```ts
   * heap.getGlobal('head'); // 0: not set
   * heap.setGlobal('head', T.alloc());
   * heap.typeOf(heap.getGlobal('head')); // 'T'
   * ```
   */
  getGlobal(name: string): number {
    if (typeof name !== 'string') throw argumentError('global name', 'a string', name, 'name');
    if (this.#st.backend === null) this.#refresh();
    else this.#st.sync(); // a buffer detached under the heap: named, not read as undefined
    return getGlobal(this.#st, name);
  }

  /**
   * Removes a named global root; returns false if there was none.
   *
   * @example
   * ```ts
   * heap.setGlobal('head', T.alloc());
   * heap.deleteGlobal('head'); // true
   * heap.deleteGlobal('head'); // false: there is none now
   * ```
   */
  deleteGlobal(name: string): boolean {
    if (typeof name !== 'string') throw argumentError('global name', 'a string', name, 'name');
    this.#st.checkWritable('deleteGlobal');
    this.#st.sync();
    return deleteGlobal(this.#st, name);
  }

  // ---------------------------------------------------------- introspection

  /**
   * Counters, pause percentiles, live bytes and objects.
   *
   * @example
   * ```ts
   * T.alloc();
   * heap.collect();
   * const { collections, liveObjects } = heap.stats(); // 1 0
   * ```
   */
  stats(): HeapStats {
    this.#st.sync();
    return heapStats(this.#st);
  }

  /**
   * Nodes, edges, roots and marks, for the visualizer.
   *
   * @example
   * ```ts
   * const head = heap.root(T.alloc());
   * T.fields.next.set(head.value, T.alloc());
   * const { nodes, edges, roots } = heap.graph(); // 2 nodes, 1 edge, 1 root
   * ```
   */
  graph(): HeapGraph {
    this.#refresh();
    return heapGraph(this.#st);
  }

  /**
   * The recorded pause times of the last (up to 1024) pauses, ms, oldest first.
   *
   * @example
   * ```ts
   * heap.collect();
   * heap.pauses().length; // 1: one pause so far
   * ```
   */
  pauses(): Float64Array {
    this.#st.sync(); // a buffer detached under the heap: named, not the engine's TypeError
    return pauseRing(this.#st);
  }

  /**
   * True when `obj` is a live object of this heap: allocated and not (yet)
   * found unreachable. Any value may be passed.
   *
   * @example
   * ```ts
   * const obj = T.alloc();
   * heap.isLive(obj); // true
   * heap.collect();   // obj was not rooted
   * heap.isLive(obj); // false
   * ```
   */
  isLive(obj: number): boolean {
    this.#st.sync();
    return this.#st.isLive(obj);
  }

  /**
   * Name of the type of the live object `obj`.
   *
   * @example
   * ```ts
   * heap.typeOf(T.alloc()); // 'T'
   * ```
   */
  typeOf(obj: number): string {
    const st = this.#st;
    this.#refresh();
    if (!this.isLive(obj)) throw st.badRef(obj, 'obj');
    const meta = st.typeMeta[st.v.u32[obj >>> 2]! & TYPE_MASK];
    if (meta === undefined) throw damagedHeader(st, obj);
    return meta.name;
  }

  /**
   * Bytes of the live object `obj`, header included (before rounding to a slot).
   *
   * @example
   * ```ts
   * heap.sizeOf(T.alloc()); // 16: the header included
   * ```
   */
  sizeOf(obj: number): number {
    if (!this.isLive(obj)) throw this.#st.badRef(obj, 'obj');
    return this.#st.objectSize(obj);
  }
}
