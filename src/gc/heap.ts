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
 * Layouts: see `layout.ts`. Marking and sweeping: `collector.ts`.
 *
 * @module
 */
import { InvalidArgumentError, OutOfMemoryError, hex } from '../errors/index.js';
import { Kmalloc } from '../kmalloc/index.js';
import { HeaderSlot, hasHeader, writeSlot } from '../memory/header.js';
import type { Memory } from '../memory/memory.js';
import type { GcBackend } from './backend.js';
import { Views } from './views.js';
import {
  cycleStart, drainMark, finishCycle, finishMark, runFinalizers, shade, sweepStep,
} from './collector.js';
import { coverOrFree, nextRun, trimPool } from './blocks.js';
import { heapGraph, type HeapGraph } from './graph.js';
import {
  ARR_HEADER, BLOCK_BYTES, BLOCK_HEADER, BLOCK_MAGIC, B_CLASS, B_LIVE, B_MAGIC, B_NEXT,
  B_NSLOTS, B_RAW, B_SLOT, B_AVAIL, CLASS_OF, CLASS_SIZES, CLASS_WORDS, C_AVAIL, C_BLOCK,
  C_CURSOR, C_LIMIT, FLAG_INCREMENTAL, FLAG_OVERFLOW, FLAG_WEAK_OVERFLOW, F_ALLOCATED, F_CREDIT, F_ISSUED,
  F_PAUSE_MAX, F_PAUSE_SUM, F_THRESHOLD, H_LEN, INFO_MAGIC, KIND_OBJECT, LARGE_PRE, MAX_SMALL,
  PHASE_IDLE, PHASE_MARK, PHASE_SWEEP, ROOT_WORDS, RS_FREE, RS_LIVE, R_ADDR, R_GEN, R_META,
  STATE_BYTES, STATE_MAGIC, STATE_VERSION, S_BLOCKS, S_BMWORDS, S_CLASSES, S_EMPTY, S_FLAGS,
  S_LARGE, S_MAGIC, S_MARK, S_MCAP, S_MSTACK, S_MTOP, S_NEMPTY, S_PAUSES, S_PCAP, S_PCOUNT,
  S_PHASE, S_RCAP, S_REFOFFS, S_RFREE, S_ROCAP, S_ROCOUNT, S_ROOTS, S_SCAP, S_SSTACK, S_START,
  S_STOP, S_TCAP, S_TCOUNT, S_TYPES, S_VERSION, S_WCAP, S_WSTACK, S_WTOP, TFLAG_FINALIZER,
  TYPE_MASK, TYPE_WORDS, T_FLAGS, T_KIND, T_NREFS, T_NWEAK, T_REFS, T_SIZE, T_WEAKS,
} from './layout.js';
import { deleteGlobal, getGlobal, makeRoot, runScope, setGlobal, type Escape, type Root } from './roots.js';
import { heapStats, type HeapStats } from './stats.js';
import {
  defineArray, defineType, type ArrayKind, type ArrayType, type FieldSpecs, type ObjectType, type TypeOptions,
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
  /** Called for a root handle V8 collected while still unreleased (default: console.warn). */
  onLeakedRoot?: (address: number) => void;
  /** Called when a finalizer throws (default: console.error). */
  onFinalizerError?: (error: unknown, address: number) => void;
  /** Called with the length of every collector pause, in ms (for benchmarks). */
  onPause?: (ms: number) => void;
}

/** JS-side facts about a type that cannot live in the buffer (names, callbacks). */
export interface TypeMeta {
  readonly name: string;
  readonly id: number;
  readonly array: boolean;
  /** Field names and byte offsets of ref (and weak) fields, for graph(). */
  readonly refFields: ReadonlyArray<{ name: string; offset: number; weak: boolean }>;
  readonly finalizer: ((obj: number) => void) | null;
}

const DEFAULT_BYTES = 1 << 24;
const MIN_TABLE = 64;
const PAUSE_RING = 1024;
/** A work budget meaning "all of it", as a small integer. */
const WHOLE = 0x3fffffff;

/**
 * A garbage-collected heap of typed objects in a memkit Memory. See
 * `defineType`/`defineArray` for objects, `root`/`scope`/`pushRoot` for
 * roots, `collect`/`step` for collection.
 *
 * @example
 * ```ts
 * const heap = new ManagedHeap({ bytes: 1 << 20 });
 * const Node = heap.defineType('Node', { next: 'ref', value: 'i32' });
 * const head = heap.root(Node.alloc());
 * Node.fields.value.set(head.value, 42);
 * heap.collect();                      // head survives, its value is 42
 * head.release(); heap.collect();      // now it is freed
 * ```
 */
export class ManagedHeap {
  // Fields set in the constructor are `declare`d (no class-field define
  // emitting `undefined` first), so V8 keeps exact field representations.
  /** The bytes objects live in. */
  declare readonly memory: Memory;
  /** The allocator objects come from. */
  declare readonly backend: GcBackend;
  /** @internal The typed views every hot path reads (see views.ts). */
  declare readonly v: Views;
  /** Address of the collector's state block. */
  declare readonly stateAddress: number;
  /** @internal u32 index of the state block. */
  declare readonly s: number;
  /** @internal f64 index of the state block. */
  declare readonly sf: number;
  /** @internal u32 index of the START bitmap (cache of S_START). */
  sb = 0;
  /** @internal u32 index of the MARK bitmap (cache of S_MARK). */
  mb = 0;
  /** @internal words in each bitmap (cache of S_BMWORDS). */
  bmWords = 0;
  /** @internal u32 index of the size-class table (it never moves). */
  declare readonly ct: number;
  /** @internal JS-side type facts by type id. */
  readonly typeMeta: TypeMeta[] = [];
  /** @internal slot chain (index + 1) of the innermost open scope. */
  scopeChain = 0;
  /** @internal number of open scopes. */
  scopeDepth = 0;
  /** @internal global root name -> slot. */
  readonly globalSlots = new Map<string, number>();
  /** @internal */
  declare readonly minThreshold: number;
  /** @internal */
  declare readonly growthFactor: number;
  declare private readonly stepBytes: number;
  declare private readonly stepBudget: number;
  declare private readonly autoCollect: boolean;
  private inCollector = false;
  /** @internal true while finalizers run (no nested finalizer runs). */
  runningFinalizers = false;
  /** @internal */
  readonly onLeakedRoot: (address: number) => void;
  /** @internal */
  readonly onFinalizerError: (error: unknown, address: number) => void;
  private readonly onPause: ((ms: number) => void) | null;
  /** @internal backstop for unscoped roots the program forgets. */
  declare readonly registry: FinalizationRegistry<{ slot: number; gen: number }>;

  constructor(options: ManagedHeapOptions = {}) {
    this.backend = options.backend ?? ManagedHeap.defaultBackend(options);
    this.memory = this.backend.memory;
    this.memory.sync();
    this.v = new Views(this.memory);
    this.minThreshold = options.minThreshold ?? 1 << 20;
    this.growthFactor = options.growthFactor ?? 3;
    this.stepBytes = options.stepBytes ?? 1 << 16;
    this.stepBudget = options.stepBudget ?? this.stepBytes / 8;
    this.autoCollect = options.autoCollect ?? true;
    this.onLeakedRoot = options.onLeakedRoot ?? ((a) => {
      console.warn(`memkit: a root of ${hex(a)} was never released; the ManagedHeap releases it now`);
    });
    this.onFinalizerError = options.onFinalizerError ?? ((e, a) => {
      console.error(`memkit: finalizer of ${hex(a)} threw`, e);
    });
    this.onPause = options.onPause ?? null;
    const st = this.tryAlloc(STATE_BYTES);
    if (st === 0) throw new OutOfMemoryError('ManagedHeap: no room for its state', STATE_BYTES);
    this.stateAddress = st;
    this.s = st >>> 2;
    this.sf = st >>> 3;
    const mem = this.v;
    mem.u8.fill(0, st, st + STATE_BYTES);
    const u32 = mem.u32;
    const s = this.s;
    u32[s + S_MAGIC] = STATE_MAGIC;
    u32[s + S_VERSION] = STATE_VERSION;
    u32[s + S_PHASE] = PHASE_IDLE;
    u32[s + S_FLAGS] = options.incremental === true ? FLAG_INCREMENTAL : 0;
    this.newTable(S_MSTACK, S_MCAP, 1024, 4);
    this.newTable(S_ROOTS, S_RCAP, MIN_TABLE, ROOT_WORDS * 4);
    this.newTable(S_SSTACK, S_SCAP, 256, 4);
    this.newTable(S_TYPES, S_TCAP, 16, TYPE_WORDS * 4);
    this.newTable(S_REFOFFS, S_ROCAP, 64, 4);
    this.newTable(S_WSTACK, S_WCAP, MIN_TABLE, 4);
    this.newTable(S_PAUSES, S_PCAP, PAUSE_RING, 8);
    const classBytes = CLASS_SIZES.length * CLASS_WORDS * 4;
    const ct = this.tryAlloc(classBytes);
    if (ct === 0) throw new OutOfMemoryError('ManagedHeap: no room for its size classes', classBytes);
    this.v.u8.fill(0, ct, ct + classBytes);
    this.v.u32[s + S_CLASSES] = ct;
    this.ct = ct >>> 2;
    this.initRootFreeList(0);
    this.growBitmaps(this.memory.byteLength - 1);
    const f64 = this.v.f64;
    f64[this.sf + F_THRESHOLD] = this.minThreshold;
    f64[this.sf + F_CREDIT] = this.minThreshold;
    f64[this.sf + F_ISSUED] = this.minThreshold;
    if (hasHeader(this.memory)) writeSlot(this.memory, HeaderSlot.Heap, st);
    this.registry = new FinalizationRegistry((held) => this.leakedRoot(held.slot, held.gen));
  }

  private static defaultBackend(options: ManagedHeapOptions): GcBackend {
    const bytes = options.bytes ?? DEFAULT_BYTES;
    return options.maxBytes === undefined ? new Kmalloc({ bytes }) : new Kmalloc({ bytes, maxBytes: options.maxBytes });
  }

  // ------------------------------------------------------------------ tables

  /** Allocates a zeroed table of `cap` entries of `entryBytes`, records it at words (addrWord, capWord). */
  private newTable(addrWord: number, capWord: number, cap: number, entryBytes: number): void {
    const a = this.tryAlloc(cap * entryBytes);
    if (a === 0) throw new OutOfMemoryError(`ManagedHeap: no room for a table of ${cap * entryBytes} bytes`, cap * entryBytes);
    const mem = this.v;
    mem.u8.fill(0, a, a + cap * entryBytes);
    mem.u32[this.s + capWord] = cap;
    mem.u32[this.s + addrWord] = a;
  }

  /**
   * @internal Replaces a table by one twice as large (at least `minCap`
   * entries), copying the old entries. Returns false when the backend has no
   * room (the old table is kept).
   */
  growTable(addrWord: number, capWord: number, entryBytes: number, minCap: number): boolean {
    const oldAddr = this.v.u32[this.s + addrWord]!;
    const oldCap = this.v.u32[this.s + capWord]!;
    const cap = Math.max(oldCap * 2, minCap);
    const a = this.tryAlloc(cap * entryBytes);
    if (a === 0) return false;
    const mem = this.v;
    mem.u8.copyWithin(a, oldAddr, oldAddr + oldCap * entryBytes);
    mem.u8.fill(0, a + oldCap * entryBytes, a + cap * entryBytes);
    mem.u32[this.s + capWord] = cap;
    mem.u32[this.s + addrWord] = a;
    this.backend.free(oldAddr);
    return true;
  }

  /** Backend allocation that returns 0 instead of throwing OutOfMemoryError. */
  private tryAlloc(size: number): number {
    let a: number;
    try {
      a = this.backend.alloc(size);
    } catch (e) {
      if (e instanceof OutOfMemoryError) return 0;
      throw e;
    }
    // The backend may have grown the memory (a wasm memory then has new views).
    if (this.v.u32 !== this.memory.u32) this.v.refresh(this.memory);
    return a;
  }

  /**
   * Picks up new views after the memory's buffer was replaced (a
   * `WebAssembly.Memory` grown by wasm code). Every collection and every
   * public operation except field and array element access calls it; call
   * it yourself after wasm code grew the memory, before touching fields.
   */
  sync(): void {
    this.memory.sync();
    if (this.v.u32 !== this.memory.u32) this.v.refresh(this.memory);
  }

  /** Makes both bitmaps cover address `addr`. Throws OutOfMemoryError if it cannot. */
  /** @internal */
  growBitmaps(addr: number): void {
    const need = Math.max((addr >>> 8) + 1, Math.ceil(this.memory.byteLength / 256));
    const s = this.s;
    if (this.v.u32[s + S_START] === 0) {
      this.newTable(S_START, S_BMWORDS, need, 4);
      this.newTable(S_MARK, S_BMWORDS, need, 4);
    } else {
      const old = this.v.u32[s + S_BMWORDS]!;
      const cap = Math.max(old * 2, need);
      const a = this.tryAlloc(cap * 4);
      const b = a === 0 ? 0 : this.tryAlloc(cap * 4);
      if (b === 0) {
        if (a !== 0) this.backend.free(a);
        throw new OutOfMemoryError(`no room to extend the GC bitmaps to ${hex(addr)}`, cap * 8);
      }
      const mem = this.v;
      for (const [word, to] of [[S_START, a], [S_MARK, b]] as const) {
        const from = mem.u32[s + word]!;
        mem.u8.copyWithin(to, from, from + old * 4);
        mem.u8.fill(0, to + old * 4, to + cap * 4);
        mem.u32[s + word] = to;
        this.backend.free(from);
      }
      mem.u32[s + S_BMWORDS] = cap;
    }
    this.sb = this.v.u32[s + S_START]! >>> 2;
    this.mb = this.v.u32[s + S_MARK]! >>> 2;
    this.bmWords = this.v.u32[s + S_BMWORDS]!;
  }

  private initRootFreeList(from: number): void {
    const u32 = this.v.u32;
    const s = this.s;
    const cap = u32[s + S_RCAP]!;
    const base = u32[s + S_ROOTS]! >>> 2;
    let head = u32[s + S_RFREE]!;
    for (let i = cap - 1; i >= from; i--) {
      const w = base + i * ROOT_WORDS;
      u32[w + R_ADDR] = 0;
      u32[w + R_META] = (head << 2) | RS_FREE;
      head = i + 1;
    }
    u32[s + S_RFREE] = head;
  }

  // ------------------------------------------------------------ allocation

  /**
   * @internal Allocates a zeroed object with header word `info` (magic,
   * scan code, type id) in a GC block of size class `cls` (`size` = the
   * class's slot size).
   */
  allocSmall(info: number, size: number, cls: number): number {
    // The fast path: bump through a run of free slots that was zeroed (and,
    // during a cycle, marked black) when the run began. Kept tiny so that V8
    // inlines it into the caller; the credit is charged per block in refill().
    const u32 = this.v.u32;
    const c = this.ct + cls * CLASS_WORDS;
    let a = u32[c + C_CURSOR]!;
    if (a >= u32[c + C_LIMIT]!) a = nextRun(this, cls, size);
    this.v.u32[c + C_CURSOR] = a + size;
    this.v.u32[this.sb + (a >>> 8)] |= 1 << ((a >>> 3) & 31);
    this.v.u32[a >>> 2] = info;
    return a;
  }

  /**
   * @internal Allocates a zeroed object of `size` bytes as its own kmalloc
   * block on the large-object list (large objects, and every object whose
   * type has a finalizer).
   */
  allocLarge(info: number, size: number): number {
    const mem = this.v;
    const ci = this.sf + F_CREDIT;
    const credit = mem.f64[ci]! - size;
    mem.f64[ci] = credit;
    if (credit < 0) this.allocationTrigger();
    const p = this.rawAlloc(size + LARGE_PRE);
    const a = p + LARGE_PRE;
    if (((a + size) >>> 8) >= this.bmWords) coverOrFree(this, a + size, p);
    const u32 = mem.u32;
    const s = this.s;
    u32[p >>> 2] = u32[s + S_LARGE]!;
    u32[(p >>> 2) + 1] = 0;
    u32[s + S_LARGE] = p;
    mem.u8.fill(0, a, a + size);
    u32[a >>> 2] = info;
    const bi = a >>> 8;
    const bit = 1 << ((a >>> 3) & 31);
    u32[this.sb + bi] |= bit;
    u32[this.mb + bi] |= bit;
    return a;
  }

  /** @internal Allocates an array object of `length` elements of `elemBytes`. */
  allocArray(info: number, length: number, elemBytes: number, large: boolean): number {
    if ((length >>> 0) !== length || length * elemBytes > 0x7fff0000) {
      throw new InvalidArgumentError(`array length must be a whole number that fits the heap, got ${String(length)}`);
    }
    const size = (ARR_HEADER + length * elemBytes + 7) & ~7;
    let a: number;
    if (size <= MAX_SMALL && !large) {
      const cls = CLASS_OF[size >>> 3]!;
      a = this.allocSmall(info, CLASS_SIZES[cls]!, cls);
    } else {
      a = this.allocLarge(info, size);
    }
    this.v.u32[(a >>> 2) + H_LEN] = length;
    return a;
  }

  /** Backend allocation; when it fails, collect everything and try once more. */
  /** @internal */
  rawAlloc(size: number): number {
    const a = this.tryAlloc(size);
    if (a !== 0) return a;
    if (this.inCollector) throw new OutOfMemoryError(`ManagedHeap: no room for ${size} bytes`, size);
    this.collect();
    this.trim();
    const b = this.tryAlloc(size);
    if (b !== 0) return b;
    throw new OutOfMemoryError(`ManagedHeap: no room for ${size} bytes even after a full collection`, size);
  }

  /** The allocation credit ran out: do collector work, then hand out new credit. */
  /** @internal */
  allocationTrigger(): void {
    if (!this.autoCollect || this.inCollector || this.runningFinalizers) {
      this.setCredit(this.stepBytes);
      return;
    }
    const u32 = this.v.u32;
    if ((u32[this.s + S_FLAGS]! & FLAG_INCREMENTAL) !== 0) {
      this.step(this.stepBudget);
      if (this.v.u32[this.s + S_PHASE] !== PHASE_IDLE) this.setCredit(this.stepBytes);
    } else {
      this.timed(true);
    }
  }

  /** @internal Refills the allocation credit with `bytes`. */
  setCredit(bytes: number): void {
    const f64 = this.v.f64;
    const sf = this.sf;
    f64[sf + F_ALLOCATED] = f64[sf + F_ALLOCATED]! + f64[sf + F_ISSUED]! - f64[sf + F_CREDIT]!;
    f64[sf + F_ISSUED] = bytes;
    f64[sf + F_CREDIT] = bytes;
  }

  // ------------------------------------------------------------ ref checks

  /**
   * @internal Checks that `v` may be stored in a ref field or a root (a live
   * object of this heap) and applies the write barrier. `v` is not 0.
   */
  checkStore(v: number): void {
    const bi = v >>> 8;
    if (v !== (v >>> 0) || (v & 7) !== 0 || bi >= this.bmWords ||
        (this.v.u32[this.sb + bi]! & (1 << ((v >>> 3) & 31))) === 0) {
      throw this.badRef(v);
    }
    const phase = this.v.u32[this.s + S_PHASE]!;
    if (phase !== PHASE_IDLE) this.storeDuringCycle(v, phase);
  }

  private storeDuringCycle(v: number, phase: number): void {
    const u32 = this.v.u32;
    const mi = this.mb + (v >>> 8);
    const bit = 1 << ((v >>> 3) & 31);
    if ((u32[mi]! & bit) !== 0) return;
    if (phase === PHASE_SWEEP) throw this.badRef(v);
    // Dijkstra barrier: shade the white target.
    u32[mi] = u32[mi]! | bit;
    this.pushMark(v);
  }

  /** @internal The error for a ref value that is not a live object. */
  badRef(v: number): InvalidArgumentError {
    return new InvalidArgumentError(
      `${typeof v === 'number' && Number.isInteger(v) ? hex(v) : String(v)} is not a live object of this ManagedHeap (dead, freed, interior or foreign address)`,
    );
  }

  /** @internal A weak field of `holder` was written during marking: remember the holder. */
  weakStored(holder: number): void {
    if (this.v.u32[this.s + S_PHASE] === PHASE_MARK) this.pushWeak(holder);
  }

  /**
   * True when `obj` is a live object of this heap: allocated and not (yet)
   * found unreachable. Any number may be passed.
   */
  isLive(obj: number): boolean {
    this.sync();
    const bi = obj >>> 8;
    if (obj === 0 || obj !== (obj >>> 0) || (obj & 7) !== 0 || bi >= this.bmWords) return false;
    const u32 = this.v.u32;
    const bit = 1 << ((obj >>> 3) & 31);
    if ((u32[this.sb + bi]! & bit) === 0) return false;
    return u32[this.s + S_PHASE] !== PHASE_SWEEP || (u32[this.mb + bi]! & bit) !== 0;
  }

  /** @internal Throws unless `obj` is 0 or live. */
  checkObject(obj: number): void {
    if (obj !== 0 && !this.isLive(obj)) throw this.badRef(obj);
  }

  /** Name of the type of the live object `obj`. */
  typeOf(obj: number): string {
    if (!this.isLive(obj)) throw this.badRef(obj);
    return this.typeMeta[this.v.u32[obj >>> 2]! & TYPE_MASK]!.name;
  }

  /** Bytes of the live object `obj`, header included (before rounding to a slot). */
  sizeOf(obj: number): number {
    if (!this.isLive(obj)) throw this.badRef(obj);
    return this.objectSize(obj);
  }

  /** @internal Size of an object from its header and type entry. */
  objectSize(obj: number): number {
    const u32 = this.v.u32;
    const w = obj >>> 2;
    const t = (u32[this.s + S_TYPES]! >>> 2) + (u32[w]! & TYPE_MASK) * TYPE_WORDS;
    return u32[t + T_KIND] === KIND_OBJECT ? u32[t + T_SIZE]! : (ARR_HEADER + u32[w + H_LEN]! * u32[t + T_SIZE]! + 7) & ~7;
  }

  /** @internal Pushes a gray object; on a full stack that cannot grow, records an overflow. */
  pushMark(a: number): void {
    const s = this.s;
    let u32 = this.v.u32;
    const top = u32[s + S_MTOP]!;
    if (top === u32[s + S_MCAP]) {
      // After one failed growth, stop trying until the overflow is handled.
      if ((u32[s + S_FLAGS]! & FLAG_OVERFLOW) !== 0 || !this.growTable(S_MSTACK, S_MCAP, 4, 0)) {
        this.v.u32[s + S_FLAGS] = this.v.u32[s + S_FLAGS]! | FLAG_OVERFLOW;
        return;
      }
      u32 = this.v.u32;
    }
    u32[(u32[s + S_MSTACK]! >>> 2) + top] = a;
    u32[s + S_MTOP] = top + 1;
  }

  /** @internal Remembers an object with weak fields for the end of marking. */
  pushWeak(a: number): void {
    const s = this.s;
    let u32 = this.v.u32;
    const top = u32[s + S_WTOP]!;
    if (top === u32[s + S_WCAP]) {
      if (!this.growTable(S_WSTACK, S_WCAP, 4, 0)) {
        u32[s + S_FLAGS] = u32[s + S_FLAGS]! | FLAG_WEAK_OVERFLOW; // finishMark visits every object
        return;
      }
      u32 = this.v.u32;
    }
    u32[(u32[s + S_WSTACK]! >>> 2) + top] = a;
    u32[s + S_WTOP] = top + 1;
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
   * while (!heap.step(10_000)) doSomeWork();   // a cycle in short slices
   * ```
   */
  step(budget: number = this.stepBudget): boolean {
    if (!(budget > 0)) throw new InvalidArgumentError(`step budget must be positive, got ${String(budget)}`);
    budget = Math.min(Math.ceil(budget), WHOLE);
    if (this.inCollector) return false;
    this.sync();
    const t0 = performance.now();
    this.inCollector = true;
    let done = false;
    try {
      const s = this.s;
      if (this.v.u32[s + S_PHASE] === PHASE_IDLE) cycleStart(this);
      if (this.v.u32[s + S_PHASE] === PHASE_MARK) {
        budget = drainMark(this, budget);
        if (budget > 0) finishMark(this);
      }
      if (budget > 0 && this.v.u32[s + S_PHASE] === PHASE_SWEEP && sweepStep(this, budget) > 0) {
        finishCycle(this);
        done = true;
      }
    } finally {
      this.inCollector = false;
    }
    this.recordPause(performance.now() - t0);
    runFinalizers(this);
    return done;
  }

  /**
   * Stop-the-world collection: finishes a cycle in progress, then runs a
   * whole new cycle, so that afterwards exactly the objects reachable from
   * the roots are live. Finalizers of the freed objects run before it
   * returns.
   */
  collect(): void {
    if (this.inCollector) return;
    this.sync();
    this.timed(false);
  }

  /** Runs cycles to their end as one timed pause: the current one, and a new one unless `onlyOne` finds one running. */
  private timed(onlyOne: boolean): void {
    const t0 = performance.now();
    this.inCollector = true;
    try {
      const running = this.v.u32[this.s + S_PHASE] !== PHASE_IDLE;
      if (running) this.completeCycle();
      if (!running || !onlyOne) {
        cycleStart(this);
        this.completeCycle();
      }
    } finally {
      this.inCollector = false;
    }
    this.recordPause(performance.now() - t0);
    runFinalizers(this);
  }

  /** Runs the current cycle to its end. */
  private completeCycle(): void {
    const s = this.s;
    // Budgets are small integers (Smis): a double budget such as Infinity
    // makes V8 compare as floats in the hot loops.
    if (this.v.u32[s + S_PHASE] === PHASE_MARK) {
      while (drainMark(this, WHOLE) <= 0) { /* more to mark */ }
      finishMark(this);
    }
    if (this.v.u32[s + S_PHASE] === PHASE_SWEEP) {
      while (sweepStep(this, WHOLE) <= 0) { /* more to sweep */ }
      finishCycle(this);
    }
  }

  private recordPause(ms: number): void {
    const u32 = this.v.u32;
    const f64 = this.v.f64;
    const s = this.s;
    const n = u32[s + S_PCOUNT]!;
    f64[(u32[s + S_PAUSES]! >>> 3) + (n % u32[s + S_PCAP]!)] = ms;
    u32[s + S_PCOUNT] = n + 1;
    if (ms > f64[this.sf + F_PAUSE_MAX]!) f64[this.sf + F_PAUSE_MAX] = ms;
    f64[this.sf + F_PAUSE_SUM] += ms;
    if (this.onPause !== null) this.onPause(ms);
  }

  /**
   * Gives the pool of empty GC blocks back to the allocator (kmalloc, whose
   * pages go back to the buddy). Sweeps keep a pool the size of the next
   * cycle's allocation; call this to return memory now. Returns the bytes
   * given back.
   */
  trim(): number {
    this.sync();
    return trimPool(this, 0);
  }

  /** True when automatic collection works in small steps. */
  get incremental(): boolean {
    return (this.v.u32[this.s + S_FLAGS]! & FLAG_INCREMENTAL) !== 0;
  }

  set incremental(on: boolean) {
    const u32 = this.v.u32;
    u32[this.s + S_FLAGS] = on ? u32[this.s + S_FLAGS]! | FLAG_INCREMENTAL : u32[this.s + S_FLAGS]! & ~FLAG_INCREMENTAL;
  }

  /** The collector's phase: 'idle', 'mark' or 'sweep'. */
  get phase(): 'idle' | 'mark' | 'sweep' {
    const p = this.v.u32[this.s + S_PHASE];
    return p === PHASE_MARK ? 'mark' : p === PHASE_SWEEP ? 'sweep' : 'idle';
  }

  // ------------------------------------------------------------- public API

  /**
   * Declares an object type. Field kinds: `'ref'`, `'weak'`, `'i32'`,
   * `'u32'`, `'f64'`, `'u8'`, `'i8'`, `'u16'`, `'i16'`, `{ bytes: n }`.
   *
   * @example
   * ```ts
   * const Node = heap.defineType('Node', { left: 'ref', right: 'ref' });
   * const { left } = Node.fields;
   * const n = Node.alloc(); left.set(n, Node.alloc());
   * ```
   */
  defineType<F extends FieldSpecs>(name: string, fields: F, options?: TypeOptions): ObjectType<F> {
    return defineType(this, name, fields, options);
  }

  /**
   * Declares an array type of `'ref'`, `'i32'`, `'f64'` or `'u8'` elements.
   *
   * @example
   * ```ts
   * const Refs = heap.defineArray('Refs', 'ref');
   * const a = Refs.alloc(10); Refs.set(a, 0, someObject);
   * ```
   */
  defineArray(name: string, kind: ArrayKind, options?: TypeOptions): ArrayType {
    return defineArray(this, name, kind, options);
  }

  /**
   * Roots `obj` (or 0) until the returned handle is released. Inside a
   * `scope`, the root is released when the scope ends.
   *
   * @throws InvalidArgumentError if `obj` is not 0 or a live object.
   * @example
   * ```ts
   * using r = heap.root(T.alloc());   // or: const r = ...; r.release();
   * ```
   */
  root(obj: number): Root {
    this.sync();
    return makeRoot(this, obj);
  }

  /**
   * Runs `fn`; every root it makes (handles, and shadow-stack pushes) is
   * released when it returns or throws. `escape(obj)` roots one object in
   * the enclosing scope (or in a new unscoped root outside every scope).
   *
   * @example
   * ```ts
   * const list = heap.scope((escape) => {
   *   const a = heap.root(Node.alloc());        // released at the end
   *   return escape(a.value);                   // a Root the caller owns
   * });
   * ```
   */
  scope<R>(fn: (escape: Escape) => R): R {
    this.sync();
    return runScope(this, fn);
  }

  /**
   * Pushes `obj` (or 0) on the shadow stack: the cheapest root, for hot
   * code. Pop it with `popRoot()`; a scope restores the stack height.
   *
   * @throws InvalidArgumentError if `obj` is not 0 or a live object.
   */
  pushRoot(obj: number): void {
    if (obj !== 0) this.checkStore(obj);
    let u32 = this.v.u32;
    const s = this.s;
    const top = u32[s + S_STOP]!;
    if (top === u32[s + S_SCAP]) {
      if (!this.growTable(S_SSTACK, S_SCAP, 4, 0)) throw new OutOfMemoryError('no room for the shadow stack', 4 * top);
      u32 = this.v.u32;
    }
    u32[(u32[s + S_SSTACK]! >>> 2) + top] = obj;
    u32[s + S_STOP] = top + 1;
  }

  /** Pops the shadow stack and returns the object that was on top. */
  popRoot(): number {
    const u32 = this.v.u32;
    const s = this.s;
    const top = u32[s + S_STOP]!;
    if (top === 0) throw new InvalidArgumentError('popRoot on an empty shadow stack');
    u32[s + S_STOP] = top - 1;
    return u32[(u32[s + S_SSTACK]! >>> 2) + top - 1]!;
  }

  /** Height of the shadow stack. */
  get rootStackHeight(): number {
    return this.v.u32[this.s + S_STOP]!;
  }

  /** Sets (creating if needed) the named global root to `obj` (or 0). */
  setGlobal(name: string, obj: number): void {
    this.sync();
    setGlobal(this, name, obj);
  }

  /** The object in the named global root (0 when unset). */
  getGlobal(name: string): number {
    return getGlobal(this, name);
  }

  /** Removes a named global root; returns false if there was none. */
  deleteGlobal(name: string): boolean {
    return deleteGlobal(this, name);
  }

  /** Counters, pause percentiles, live bytes and objects. */
  stats(): HeapStats {
    this.sync();
    return heapStats(this);
  }

  /** Nodes, edges, roots and marks, for the visualizer. */
  graph(): HeapGraph {
    return heapGraph(this);
  }

  /** The recorded pause times of the last (up to 1024) pauses, ms, oldest first. */
  pauses(): Float64Array {
    const u32 = this.v.u32;
    const s = this.s;
    const count = u32[s + S_PCOUNT]!;
    const cap = u32[s + S_PCAP]!;
    const n = Math.min(count, cap);
    const base = u32[s + S_PAUSES]! >>> 3;
    const ring = this.v.f64.slice(base, base + n);
    if (count <= cap) return ring;
    const k = count % cap;
    const out = new Float64Array(n);
    out.set(ring.subarray(k), 0);
    out.set(ring.subarray(0, k), n - k);
    return out;
  }

  // ---------------------------------------------------------- internals

  /** @internal Adds a type entry; offsets are byte offsets. Returns the type id. */
  addType(kind: number, size: number, refOffsets: number[], weakOffsets: number[], finalizer: boolean): number {
    const s = this.s;
    const id = this.v.u32[s + S_TCOUNT]!;
    if (id >= 0xffff) throw new InvalidArgumentError('too many types (65535)');
    if (id === this.v.u32[s + S_TCAP] && !this.growTable(S_TYPES, S_TCAP, TYPE_WORDS * 4, 0)) {
      throw new OutOfMemoryError('no room for the type table', TYPE_WORDS * 4);
    }
    const need = refOffsets.length + weakOffsets.length;
    while (this.v.u32[s + S_ROCOUNT]! + need > this.v.u32[s + S_ROCAP]!) {
      if (!this.growTable(S_REFOFFS, S_ROCAP, 4, 0)) throw new OutOfMemoryError('no room for the type table', need * 4);
    }
    const u32 = this.v.u32;
    const first = u32[s + S_ROCOUNT]!;
    const ro = u32[s + S_REFOFFS]! >>> 2;
    refOffsets.forEach((off, i) => { u32[ro + first + i] = off >>> 2; });
    weakOffsets.forEach((off, i) => { u32[ro + first + refOffsets.length + i] = off >>> 2; });
    u32[s + S_ROCOUNT] = first + need;
    const t = (u32[s + S_TYPES]! >>> 2) + id * TYPE_WORDS;
    u32[t + T_KIND] = kind;
    u32[t + T_SIZE] = size;
    u32[t + T_NREFS] = refOffsets.length;
    u32[t + T_REFS] = first;
    u32[t + T_NWEAK] = weakOffsets.length;
    u32[t + T_WEAKS] = first + refOffsets.length;
    u32[t + T_FLAGS] = finalizer ? TFLAG_FINALIZER : 0;
    u32[s + S_TCOUNT] = id + 1;
    return id;
  }

  /** @internal */
  leakedRoot(slot: number, gen: number): void {
    const u32 = this.v.u32;
    if (slot >= u32[this.s + S_RCAP]!) return;
    const w = this.rootWord(slot);
    if (u32[w + R_GEN] !== gen || (u32[w + R_META]! & 3) !== RS_LIVE) return;
    const addr = u32[w + R_ADDR]!;
    this.freeRootSlot(slot);
    this.onLeakedRoot(addr);
  }

  /** @internal Takes a root slot holding `obj` with META `meta`; returns the slot index. */
  takeRootSlot(obj: number, meta: number): number {
    const s = this.s;
    if (this.v.u32[s + S_RFREE] === 0) {
      const old = this.v.u32[s + S_RCAP]!;
      if (!this.growTable(S_ROOTS, S_RCAP, ROOT_WORDS * 4, 0)) throw new OutOfMemoryError('no room for the root table', old * 2);
      this.initRootFreeList(old);
    }
    const u32 = this.v.u32;
    const slot = u32[s + S_RFREE]! - 1;
    const w = this.rootWord(slot);
    u32[s + S_RFREE] = u32[w + R_META]! >>> 2;
    u32[w + R_ADDR] = obj;
    u32[w + R_META] = meta;
    return slot;
  }

  /** @internal u32 index of a root slot. */
  rootWord(slot: number): number {
    return (this.v.u32[this.s + S_ROOTS]! >>> 2) + slot * ROOT_WORDS;
  }

  /** @internal Puts a slot back on the free list and bumps its generation. */
  freeRootSlot(slot: number): void {
    const u32 = this.v.u32;
    const w = this.rootWord(slot);
    u32[w + R_ADDR] = 0;
    u32[w + R_GEN] = (u32[w + R_GEN]! + 1) >>> 0;
    u32[w + R_META] = (u32[this.s + S_RFREE]! << 2) | RS_FREE;
    u32[this.s + S_RFREE] = slot + 1;
  }

  /** @internal Releases every slot on a scope chain. */
  releaseChain(chain: number): void {
    while (chain !== 0) {
      const slot = chain - 1;
      chain = this.v.u32[this.rootWord(slot) + R_META]! >>> 2;
      this.freeRootSlot(slot);
    }
  }

  /** @internal state word. */
  stateWord(word: number): number {
    return this.v.u32[this.s + word]!;
  }

  /** @internal */
  setStateWord(word: number, value: number): void {
    this.v.u32[this.s + word] = value;
  }

  /** @internal Reads a state f64 counter. */
  counter(index: number): number {
    return this.v.f64[this.sf + index]!;
  }

  /** @internal Shades `obj` if it is white and marking is on. */
  shadeIfMarking(obj: number): void {
    if (obj !== 0 && this.v.u32[this.s + S_PHASE] === PHASE_MARK) shade(this, obj);
  }

  /**
   * @internal Calls fn for every object not yet freed: slots with a START bit
   * in the blocks (swept or not), then large objects.
   */
  forEachObject(fn: (obj: number) => void): void {
    const s = this.s;
    for (const head of [S_BLOCKS, S_BLOCKS + 1]) {
      for (let b = this.v.u32[s + head]!; b !== 0; b = this.v.u32[(b >>> 2) + B_NEXT]!) {
        const u32 = this.v.u32;
        const size = u32[(b >>> 2) + B_SLOT]!;
        const lim = b + BLOCK_HEADER + u32[(b >>> 2) + B_NSLOTS]! * size;
        for (let a = b + BLOCK_HEADER; a < lim; a += size) {
          if ((this.v.u32[this.sb + (a >>> 8)]! & (1 << ((a >>> 3) & 31))) !== 0) fn(a);
        }
      }
    }
    for (const head of [S_LARGE, S_LARGE + 1]) {
      for (let p = this.v.u32[s + head]!; p !== 0; p = this.v.u32[p >>> 2]!) fn(p + LARGE_PRE);
    }
  }

  /** @internal Type-table word index of the type of `obj`. */
  typeWord(obj: number): number {
    const u32 = this.v.u32;
    return (u32[this.s + S_TYPES]! >>> 2) + (u32[obj >>> 2]! & TYPE_MASK) * TYPE_WORDS;
  }

  /** @internal For the layout table: the block live-count word. */
  static readonly blockLiveWord = B_LIVE;
  /** @internal */
  static readonly classBlockWord = C_BLOCK;
}
