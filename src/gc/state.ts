/**
 * The collector's internal state object: what `blocks`, `collector`,
 * `alloc`, `roots`, `types`, `graph` and `stats` work on, and what
 * `ManagedHeap` (the public face, `heap.ts`) holds in a private field.
 *
 * The state itself lives in the buffer (principle 1; see `layout.ts`); this
 * object only caches where it is (word indexes of the state block, the
 * bitmaps and the size-class table), the typed views, the options, and the
 * facts that cannot live in a buffer (type names and finalizers, global
 * root names). Its methods are the small primitives every other module
 * needs: growing a table, taking and freeing a root slot, pushing on the
 * mark stack, checking a ref store. It imports no other gc module, so the
 * modules form no circle:
 * ```
 *   layout, views  <-  state  <-  blocks  <-  collector  <-  alloc  <-  types
 *                               ^- roots, graph, stats       heap (the face) imports all
 * ```
 *
 * @module
 */
import { InvalidArgumentError, OutOfMemoryError, hex } from '../errors/index.js';
import type { Memory } from '../memory/memory.js';
import type { GcBackend } from './backend.js';
import {
  ARR_HEADER,
  BLOCK_HEADER,
  B_NEXT,
  B_NSLOTS,
  B_SLOT,
  FLAG_OVERFLOW,
  FLAG_WEAK_OVERFLOW,
  F_ALLOCATED,
  F_CREDIT,
  F_ISSUED,
  H_LEN,
  KIND_OBJECT,
  LARGE_PRE,
  PHASE_IDLE,
  PHASE_MARK,
  PHASE_SWEEP,
  ROOT_WORDS,
  R_ADDR,
  R_GEN,
  R_NEXT,
  S_BLOCKS,
  S_BMWORDS,
  S_FLAGS,
  S_LARGE,
  S_MARK,
  S_MCAP,
  S_MSTACK,
  S_MTOP,
  S_PHASE,
  S_RCAP,
  S_RFREE,
  S_ROOTS,
  S_RSEQ,
  S_START,
  S_TYPES,
  S_WCAP,
  S_WSTACK,
  S_WTOP,
  TYPE_MASK,
  TYPE_WORDS,
  T_KIND,
  T_SIZE,
} from './layout.js';
import { Views } from './views.js';

/** JS-side facts about a type that cannot live in the buffer (callbacks), and its field list. */
export interface TypeMeta {
  readonly name: string;
  readonly id: number;
  readonly array: boolean;
  /** Field names and byte offsets of ref (and weak) fields, for graph(). */
  readonly refFields: ReadonlyArray<{ name: string; offset: number; weak: boolean }>;
  readonly finalizer: ((obj: number) => void) | null;
}

/** Options the state keeps (resolved defaults). */
export interface StateConfig {
  readonly minThreshold: number;
  readonly growthFactor: number;
  readonly stepBytes: number;
  readonly stepBudget: number;
  readonly autoCollect: boolean;
  readonly readOnly: boolean;
  readonly onLeakedRoot: (address: number) => void;
  readonly onFinalizerError: (error: unknown, address: number) => void;
  readonly onPause: ((ms: number) => void) | null;
  /** Watch unscoped root handles with a FinalizationRegistry (debug). */
  readonly rootLeaks: boolean;
}

/** Internal state of one ManagedHeap (see the module comment). */
export class HeapState {
  // `declare`d and set in the constructor: V8 keeps exact field representations.
  declare readonly memory: Memory;
  /** The allocator; null for a read-only attached heap. */
  declare readonly backend: GcBackend | null;
  declare readonly v: Views;
  /** Address of the state block, and its u32 and f64 indexes. */
  declare readonly address: number;
  declare readonly s: number;
  declare readonly sf: number;
  /** u32 index of the size-class table (it never moves). */
  declare ct: number;
  /** u32 index of the START bitmap, of the MARK bitmap, and their words (caches of S_START, S_MARK, S_BMWORDS). */
  declare sb: number;
  declare mb: number;
  declare bmWords: number;
  /** Bytes the bitmaps cover (bmWords * 256): an object address is below it. */
  declare limit: number;
  /**
   * The collector's phase, a copy of the state word PHASE kept by the writer
   * (setPhase), so the write barrier reads a field, not the buffer.
   */
  declare phase: number;
  declare readonly config: StateConfig;
  /** JS-side type facts by type id. */
  declare readonly typeMeta: TypeMeta[];
  /** Global root name -> root slot. */
  declare readonly globalSlots: Map<string, number>;
  /** Open scopes. */
  declare scopeDepth: number;
  /** A writer outside every scope: `root()` takes the fast path (see roots.ts makeRoot). */
  declare fastRoots: boolean;
  /** The generation the last slow-path root got (see roots.ts). */
  declare slowGen: number;
  /** Handle-stack index of the innermost scope's first entry (releases never pop below it). */
  declare handleBase: number;
  /** Escaped roots waiting for their scope to end (Root objects; see roots.ts). */
  declare readonly escapes: unknown[];
  /** The depth of the scope each pending escape leaves. */
  declare readonly escapeDepths: number[];
  declare inCollector: boolean;
  declare runningFinalizers: boolean;
  /** Debug backstop for unscoped roots never released (config.rootLeaks). */
  declare registry: FinalizationRegistry<readonly [slot: number, gen: number]> | null;
  /** Unregister tokens of the debug backstop, one per root-table slot (see roots.ts). */
  declare readonly slotTokens: Array<{ readonly slot: number } | undefined>;

  constructor(memory: Memory, backend: GcBackend | null, address: number, config: StateConfig) {
    this.memory = memory;
    this.backend = backend;
    this.v = new Views(memory);
    this.address = address;
    this.s = address >>> 2;
    this.sf = address >>> 3;
    this.ct = 0;
    this.sb = 0;
    this.mb = 0;
    this.bmWords = 0;
    this.limit = 0;
    this.phase = memory.u32[(address >>> 2) + S_PHASE]!;
    this.config = config;
    this.typeMeta = [];
    this.globalSlots = new Map();
    this.scopeDepth = 0;
    this.fastRoots = backend !== null;
    this.slowGen = 0;
    this.handleBase = 0;
    this.escapes = [];
    this.escapeDepths = [];
    this.inCollector = false;
    this.runningFinalizers = false;
    this.registry = null;
    this.slotTokens = [];
  }

  /** Re-reads the cached bitmap indexes from the state block. */
  loadBitmaps(): void {
    const u32 = this.v.u32;
    this.sb = u32[this.s + S_START]! >>> 2;
    this.mb = u32[this.s + S_MARK]! >>> 2;
    this.bmWords = u32[this.s + S_BMWORDS]!;
    this.limit = this.bmWords * 256;
  }

  /** Sets the collector's phase (the state word and its JS copy). */
  setPhase(phase: number): void {
    this.v.u32[this.s + S_PHASE] = phase;
    this.phase = phase;
  }

  /** Picks up new views after the memory's buffer was replaced (a wasm memory grown by wasm code). */
  sync(): void {
    this.memory.sync();
    if (this.v.u32 !== this.memory.u32) this.v.refresh(this.memory);
  }

  /** Throws unless this heap may be changed from here. */
  checkWritable(what: string): void {
    if (this.backend === null) {
      throw new InvalidArgumentError(
        `${what}: this ManagedHeap was attached read-only (for inspection); the GC is single-worker`,
      );
    }
  }

  // ------------------------------------------------------------ tables

  /** Backend allocation that returns 0 instead of throwing OutOfMemoryError. */
  tryAlloc(size: number): number {
    const backend = this.backend;
    if (backend === null) return 0;
    let a: number;
    try {
      a = backend.alloc(size);
    } catch (e) {
      if (e instanceof OutOfMemoryError) return 0;
      throw e;
    }
    // The backend may have grown the memory (a wasm memory then has new views).
    if (this.v.u32 !== this.memory.u32) this.v.refresh(this.memory);
    return a;
  }

  /** Gives a block back to the backend. */
  free(addr: number): void {
    this.backend!.free(addr);
  }

  /** Allocates a zeroed table of `cap` entries of `entryBytes`, records it at words (addrWord, capWord). */
  newTable(addrWord: number, capWord: number, cap: number, entryBytes: number): void {
    const a = this.tryAlloc(cap * entryBytes);
    if (a === 0)
      throw new OutOfMemoryError(`ManagedHeap: no room for a table of ${cap * entryBytes} bytes`, cap * entryBytes);
    const mem = this.v;
    mem.u8.fill(0, a, a + cap * entryBytes);
    mem.u32[this.s + capWord] = cap;
    mem.u32[this.s + addrWord] = a;
  }

  /**
   * Replaces a table by one twice as large (at least `minCap` entries),
   * copying the old entries. Returns false when the backend has no room
   * (the old table is kept).
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
    this.free(oldAddr);
    return true;
  }

  /** Makes both bitmaps cover address `addr`. Throws OutOfMemoryError if it cannot. */
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
        if (a !== 0) this.free(a);
        throw new OutOfMemoryError(`no room to extend the GC bitmaps to ${hex(addr)}`, cap * 8);
      }
      const mem = this.v;
      for (const [word, to] of [
        [S_START, a],
        [S_MARK, b],
      ] as const) {
        const from = mem.u32[s + word]!;
        mem.u8.copyWithin(to, from, from + old * 4);
        mem.u8.fill(0, to + old * 4, to + cap * 4);
        mem.u32[s + word] = to;
        this.free(from);
      }
      mem.u32[s + S_BMWORDS] = cap;
    }
    this.loadBitmaps();
  }

  /** Extends the bitmaps to cover `addr`; on failure frees the fresh block `raw` and rethrows. */
  coverOrFree(addr: number, raw: number): void {
    try {
      this.growBitmaps(addr);
    } catch (e) {
      this.free(raw);
      throw e;
    }
  }

  // ------------------------------------------------------------ root table

  /** Chains the root slots [from, RCAP) onto the free list. */
  initRootFreeList(from: number): void {
    const u32 = this.v.u32;
    const s = this.s;
    const cap = u32[s + S_RCAP]!;
    const base = u32[s + S_ROOTS]! >>> 2;
    let head = u32[s + S_RFREE]!;
    for (let i = cap - 1; i >= from; i--) {
      const w = base + i * ROOT_WORDS;
      u32[w + R_ADDR] = 0;
      u32[w + R_GEN] = 0;
      u32[w + R_NEXT] = head;
      head = i + 1;
    }
    u32[s + S_RFREE] = head;
  }

  /** A new root generation (never 0). */
  nextGen(): number {
    const u32 = this.v.u32;
    const g = (u32[this.s + S_RSEQ]! + 1) >>> 0 || 1;
    u32[this.s + S_RSEQ] = g;
    return g;
  }

  /** Takes a root-table slot holding `obj` with generation `gen`; returns the slot index. */
  takeRootSlot(obj: number, gen: number): number {
    const s = this.s;
    let u32 = this.v.u32;
    let head = u32[s + S_RFREE]!;
    if (head === 0) {
      const old = u32[s + S_RCAP]!;
      if (!this.growTable(S_ROOTS, S_RCAP, ROOT_WORDS * 4, 0))
        throw new OutOfMemoryError('no room for the root table', old * 2 * ROOT_WORDS * 4);
      this.initRootFreeList(old);
      u32 = this.v.u32;
      head = u32[s + S_RFREE]!;
    }
    const w = (u32[s + S_ROOTS]! >>> 2) + (head - 1) * ROOT_WORDS;
    u32[s + S_RFREE] = u32[w + R_NEXT]!;
    u32[w + R_ADDR] = obj;
    u32[w + R_GEN] = gen;
    return head - 1;
  }

  /** u32 index of a root-table slot. */
  rootWord(slot: number): number {
    return (this.v.u32[this.s + S_ROOTS]! >>> 2) + slot * ROOT_WORDS;
  }

  /** Puts a root-table slot back on the free list. */
  freeRootSlot(slot: number): void {
    const u32 = this.v.u32;
    const s = this.s;
    const w = (u32[s + S_ROOTS]! >>> 2) + slot * ROOT_WORDS;
    u32[w + R_ADDR] = 0;
    u32[w + R_GEN] = 0;
    u32[w + R_NEXT] = u32[s + S_RFREE]!;
    u32[s + S_RFREE] = slot + 1;
  }

  /** Root-table slots in use (unscoped handles and globals): counted, for stats (not kept by the fast paths). */
  rootSlotsInUse(): number {
    const u32 = this.v.u32;
    let n = 0;
    for (let i = 0, cap = u32[this.s + S_RCAP]!, w = u32[this.s + S_ROOTS]! >>> 2; i < cap; i++, w += ROOT_WORDS) {
      if (u32[w + R_GEN] !== 0) n++;
    }
    return n;
  }

  /** The debug backstop found a root handle V8 collected while its slot is still live. */
  leakedRoot(slot: number, gen: number): void {
    const u32 = this.v.u32;
    if (slot >= u32[this.s + S_RCAP]!) return;
    const w = this.rootWord(slot);
    if (u32[w + R_GEN] !== gen) return;
    const addr = u32[w + R_ADDR]!;
    this.freeRootSlot(slot);
    this.config.onLeakedRoot(addr);
  }

  // ------------------------------------------------------------ marking

  /** Pushes a gray object; on a full stack that cannot grow, records an overflow. */
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

  /** Remembers an object with weak fields for the end of marking. */
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

  /** Marks `a` (non-zero) and pushes it if it was white. */
  shade(a: number): void {
    const u32 = this.v.u32;
    const mi = this.mb + (a >>> 8);
    const bit = 1 << ((a >>> 3) & 31);
    const m = u32[mi]!;
    if ((m & bit) === 0) {
      u32[mi] = m | bit;
      this.pushMark(a);
    }
  }

  // ------------------------------------------------------------ ref checks

  /**
   * Checks that `v` may be stored in a ref field or a root (a live object
   * of this heap) and applies the write barrier. `v` is not 0.
   */
  checkStore(v: number): void {
    // typeof first: a BigInt or an object must not reach `>>>` (a TypeError,
    // or a valueOf call). Kept small (one throw site, the phase from a JS
    // field): it is inlined into every ref store, root and pushRoot.
    if (
      typeof v !== 'number' ||
      v !== v >>> 0 ||
      (v & 7) !== 0 ||
      v >= this.limit ||
      (this.v.u32[this.sb + (v >>> 8)]! & (1 << ((v >>> 3) & 31))) === 0
    ) {
      throw this.badRef(v);
    }
    if (this.phase !== PHASE_IDLE) this.storeDuringCycle(v);
  }

  private storeDuringCycle(v: number): void {
    const phase = this.phase;
    const u32 = this.v.u32;
    const mi = this.mb + (v >>> 8);
    const bit = 1 << ((v >>> 3) & 31);
    if ((u32[mi]! & bit) !== 0) return;
    if (phase === PHASE_SWEEP) throw this.badRef(v);
    // Dijkstra barrier: shade the white target.
    u32[mi] = u32[mi]! | bit;
    this.pushMark(v);
  }

  /** The error for a ref value that is not a live object. */
  badRef(v: unknown): InvalidArgumentError {
    return new InvalidArgumentError(
      `${typeof v === 'number' && Number.isInteger(v) ? hex(v) : String(v)} is not a live object of this ManagedHeap (dead, freed, interior or foreign address)`,
    );
  }

  /** A weak field of `holder` was written during marking: remember the holder. */
  weakStored(holder: number): void {
    if (this.v.u32[this.s + S_PHASE] === PHASE_MARK) this.pushWeak(holder);
  }

  /** True when `obj` is a live object (any value may be passed). */
  isLive(obj: number): boolean {
    if (typeof obj !== 'number') return false;
    const bi = obj >>> 8;
    if (obj === 0 || obj !== obj >>> 0 || (obj & 7) !== 0 || bi >= this.bmWords) return false;
    const u32 = this.v.u32;
    const bit = 1 << ((obj >>> 3) & 31);
    if ((u32[this.sb + bi]! & bit) === 0) return false;
    return u32[this.s + S_PHASE] !== PHASE_SWEEP || (u32[this.mb + bi]! & bit) !== 0;
  }

  /** Throws unless `obj` is 0 or live. */
  checkObject(obj: number): void {
    if (obj !== 0 && !this.isLive(obj)) throw this.badRef(obj);
  }

  // ------------------------------------------------------------ objects

  /** Type-table word index of type `id`. */
  typeWord0(id: number): number {
    return (this.v.u32[this.s + S_TYPES]! >>> 2) + id * TYPE_WORDS;
  }

  /** The collector's phase, by name. */
  phaseName(): 'idle' | 'mark' | 'sweep' {
    const p = this.v.u32[this.s + S_PHASE];
    return p === PHASE_MARK ? 'mark' : p === PHASE_SWEEP ? 'sweep' : 'idle';
  }

  /** Type-table word index of the type of `obj`. */
  typeWord(obj: number): number {
    const u32 = this.v.u32;
    return (u32[this.s + S_TYPES]! >>> 2) + (u32[obj >>> 2]! & TYPE_MASK) * TYPE_WORDS;
  }

  /** Size of an object from its header and type entry. */
  objectSize(obj: number): number {
    const u32 = this.v.u32;
    const w = obj >>> 2;
    const t = this.typeWord(obj);
    return u32[t + T_KIND] === KIND_OBJECT
      ? u32[t + T_SIZE]!
      : (ARR_HEADER + u32[w + H_LEN]! * u32[t + T_SIZE]! + 7) & ~7;
  }

  /**
   * Calls fn for every object not yet freed: slots with a START bit in the
   * blocks (swept or not), then large objects.
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

  // ------------------------------------------------------------ accounting

  /** Refills the allocation credit with `bytes`. */
  setCredit(bytes: number): void {
    const f64 = this.v.f64;
    const sf = this.sf;
    f64[sf + F_ALLOCATED] = f64[sf + F_ALLOCATED]! + f64[sf + F_ISSUED]! - f64[sf + F_CREDIT]!;
    f64[sf + F_ISSUED] = bytes;
    f64[sf + F_CREDIT] = bytes;
  }

  /** State word. */
  word(word: number): number {
    return this.v.u32[this.s + word]!;
  }

  /** f64 counter. */
  counter(index: number): number {
    return this.v.f64[this.sf + index]!;
  }
}
