/**
 * Roots: what keeps objects alive ("pointers that are not on the heap, but
 * point to the heap", in the lecture's words). Every kind is a slot in a
 * table in the buffer, which marking reads:
 *
 * - {@link Root} handles, from `heap.root(obj)`. Outside a scope: a slot of
 *   the root table, taken from its free list, until `release()` (or `using`).
 *   Inside a scope: the next entry of the handle stack.
 * - Scopes (`heap.scope(fn)`, like V8's HandleScope): entering saves the
 *   handle stack's and the shadow stack's heights, leaving writes them back;
 *   every root made inside is gone. `escape(obj)` hands one object out to
 *   the enclosing scope.
 * - Global roots: named slots of the root table (`heap.setGlobal(name, obj)`).
 * - The shadow stack (`heap.pushRoot(obj)` / `heap.popRoot()`).
 *
 * A handle is one small JS object (slot, generation); making and releasing
 * one allocates nothing else and registers with nothing. Each root gets a
 * new generation from a counter in the state block, so a handle whose slot
 * was released and reused is inert (`alive` false). The
 * `FinalizationRegistry` backstop that warns about handles never released
 * is a debug option (`debug: { rootLeaks: true }`); without it,
 * `stats().rootHandles` counts the unscoped handles not released.
 *
 * @module
 */
import { InvalidArgumentError, OutOfMemoryError } from '../errors/index.js';
import {
  HANDLE_WORDS,
  HS_ADDR,
  HS_GEN,
  ROOT_WORDS,
  R_ADDR,
  R_GEN,
  R_NEXT,
  S_GLOBALS,
  S_HCAP,
  S_HSTACK,
  S_HTOP,
  S_RFREE,
  S_ROOTS,
  S_RSEQ,
  S_STOP,
} from './layout.js';
import type { HeapState } from './state.js';

/** Moves an escaped Root to its new slot. */
let moveRoot: (r: Root, slot: number, gen: number, scoped: boolean) => void;
/** The object an escaped Root holds (valid until its scope ends), -1 if it was released. */
let rootTarget: (r: Root) => number;
/** u32 index of a Root's entry (handle stack or root table), or -1 when released. */
let rootEntry: (r: Root) => number;

/**
 * A root: keeps one object (or null) alive until released.
 *
 * @example
 * ```ts
 * import { ManagedHeap } from 'memkit';
 * const heap = new ManagedHeap({ bytes: 1 << 20 });
 * const T = heap.defineType('T', { x: 'i32' });
 * const r = heap.root(T.alloc());
 * T.fields.x.set(r.value, 1);
 * r.release();
 * { using r2 = heap.root(T.alloc()); }   // released at the block's end
 * ```
 */
export class Root {
  // Private fields but no private methods (a private method gives every
  // instance a brand, set by an initializer call), and a `release()` small
  // enough to inline: a root made and released in one function then costs
  // a few typed-array operations and a handle V8 allocates inline.
  #st: HeapState;
  #slot: number;
  #gen: number;
  #scoped: boolean;

  private constructor(st: HeapState, slot: number, gen: number, scoped: boolean) {
    this.#st = st;
    this.#slot = slot;
    this.#gen = gen;
    this.#scoped = scoped;
  }

  static {
    moveRoot = (r, slot, gen, scoped) => {
      r.#slot = slot;
      r.#gen = gen;
      r.#scoped = scoped;
    };
    rootEntry = (r) => entryOf(r.#st, r.#slot, r.#gen, r.#scoped);
    rootTarget = (r) => {
      const w = rootEntry(r);
      return w < 0 ? -1 : r.#st.v.u32[w]!; // HS_ADDR = R_ADDR = 0
    };
  }

  /** True until released (by `release()`, by its scope ending, or by the debug backstop). */
  get alive(): boolean {
    return rootEntry(this) >= 0;
  }

  /** The rooted object (0 for null). Throws after release. */
  get value(): number {
    const w = rootEntry(this);
    if (w < 0) throw new InvalidArgumentError('this root was released');
    return this.#st.v.u32[w]!; // HS_ADDR = R_ADDR = 0
  }

  /** Roots another object (or 0) instead. Throws after release. */
  set(obj: number): void {
    const w = rootEntry(this);
    if (w < 0) throw new InvalidArgumentError('this root was released');
    if (obj !== 0) this.#st.checkStore(obj);
    this.#st.v.u32[w] = obj;
  }

  /** Stops rooting the object. Releasing twice does nothing. */
  release(): void {
    const st = this.#st;
    const slot = this.#slot;
    if (this.#scoped) {
      releaseHandle(st, slot, this.#gen);
      return;
    }
    // The common case, an unscoped root: its slot goes back on the free list.
    const u32 = st.v.u32;
    const s = st.s;
    const w = (u32[s + S_ROOTS]! >>> 2) + slot * ROOT_WORDS;
    if (u32[w + R_GEN] !== this.#gen) return;
    if (st.registry !== null) unwatchRoot(st, slot);
    u32[w + R_ADDR] = 0;
    u32[w + R_GEN] = 0;
    u32[w + R_NEXT] = u32[s + S_RFREE]!;
    u32[s + S_RFREE] = slot + 1;
  }

  /** Same as {@link Root.release}, for `using`. */
  [Symbol.dispose](): void {
    this.release();
  }
}

/** u32 index of the entry (slot, gen, scoped) names, or -1 when it was released. */
function entryOf(st: HeapState, slot: number, gen: number, scoped: boolean): number {
  const u32 = st.v.u32;
  if (scoped) {
    if (slot >= u32[st.s + S_HTOP]!) return -1;
    const w = (u32[st.s + S_HSTACK]! >>> 2) + slot * HANDLE_WORDS;
    return u32[w + HS_GEN] === gen ? w : -1;
  }
  const w = st.rootWord(slot);
  return u32[w + R_GEN] === gen ? w : -1;
}

/** Releases a handle-stack entry (a root made inside a scope). */
function releaseHandle(st: HeapState, slot: number, gen: number): void {
  const u32 = st.v.u32;
  const top = u32[st.s + S_HTOP]!;
  if (slot >= top) return;
  const base = u32[st.s + S_HSTACK]! >>> 2;
  const w = base + slot * HANDLE_WORDS;
  if (u32[w + HS_GEN] !== gen) return;
  u32[w + HS_ADDR] = 0;
  u32[w + HS_GEN] = 0;
  // Released in LIFO order (the common case), the entry is popped, with
  // any dead ones under it down to the scope's first entry; otherwise it
  // stays on the stack, dead, until its scope ends.
  if (slot === top - 1 && slot >= st.handleBase) {
    let t = slot;
    while (t > st.handleBase && u32[base + (t - 1) * HANDLE_WORDS + HS_GEN] === 0) t--;
    u32[st.s + S_HTOP] = t;
  }
}

/**
 * Debug backstop (`debug.rootLeaks`): watches an unscoped handle. The
 * unregister token is the slot's own token object, not the handle, so
 * `release()` never hands the handle to anything.
 */
function watchRoot(st: HeapState, r: Root, slot: number, gen: number): void {
  let token = st.slotTokens[slot];
  if (token === undefined) {
    token = { slot };
    st.slotTokens[slot] = token;
  }
  st.registry!.register(r, [slot, gen], token);
}

/** Debug backstop: the handle of `slot` was released. */
function unwatchRoot(st: HeapState, slot: number): void {
  const token = st.slotTokens[slot];
  if (token !== undefined) st.registry!.unregister(token);
}

/** The Root constructor, private to the class in the public types, called from this module. */
type RootConstructor = new (st: HeapState, slot: number, gen: number, scoped: boolean) => Root;
const RootCtor = Root as unknown as RootConstructor;

/** Pushes `obj` on the handle stack; returns the entry index. */
function pushHandle(st: HeapState, obj: number, gen: number): number {
  const s = st.s;
  let u32 = st.v.u32;
  const top = u32[s + S_HTOP]!;
  if (top === u32[s + S_HCAP]) {
    if (!st.growTable(S_HSTACK, S_HCAP, HANDLE_WORDS * 4, 0))
      throw new OutOfMemoryError('no room for the handle stack', top * 2 * HANDLE_WORDS * 4);
    u32 = st.v.u32;
  }
  const w = (u32[s + S_HSTACK]! >>> 2) + top * HANDLE_WORDS;
  u32[w + HS_ADDR] = obj;
  u32[w + HS_GEN] = gen;
  u32[s + S_HTOP] = top + 1;
  return top;
}

/**
 * `heap.root(obj)`: `obj` was checked by the caller. The handle has one
 * allocation site, and the common case (a writer outside every scope, a
 * free slot) is a few typed-array operations: small enough for V8 to
 * inline into the caller.
 */
export function makeRoot(st: HeapState, obj: number): Root {
  const u32 = st.v.u32;
  const s = st.s;
  const head = u32[s + S_RFREE]!;
  let slot = head - 1;
  let gen: number;
  let scoped = false;
  if (head !== 0 && st.fastRoots) {
    gen = (u32[s + S_RSEQ]! + 1) >>> 0 || 1;
    u32[s + S_RSEQ] = gen;
    const w = (u32[s + S_ROOTS]! >>> 2) + slot * ROOT_WORDS;
    u32[s + S_RFREE] = u32[w + R_NEXT]!;
    u32[w + R_ADDR] = obj;
    u32[w + R_GEN] = gen;
  } else {
    slot = rootSlotSlow(st, obj);
    gen = st.slowGen;
    scoped = st.scopeDepth > 0;
  }
  // One allocation site, and the handle is passed to nothing here (the
  // debug backstop watches it in makeRootWatched): V8's escape analysis can
  // then drop the handle of a root made and released in one function.
  return new RootCtor(st, slot, gen, scoped);
}

/**
 * makeRoot's other cases: inside a scope (the handle stack), a full root
 * table, or a read-only heap (throws). Returns the slot; the generation is
 * left in `st.slowGen`.
 */
function rootSlotSlow(st: HeapState, obj: number): number {
  st.checkWritable('root');
  const gen = st.nextGen();
  st.slowGen = gen;
  return st.scopeDepth > 0 ? pushHandle(st, obj, gen) : st.takeRootSlot(obj, gen);
}

/**
 * `heap.root(obj)` of a heap with the debug backstop (`debug.rootLeaks`):
 * an unscoped handle is watched by the `FinalizationRegistry`.
 */
export function makeRootWatched(st: HeapState, obj: number): Root {
  const scoped = st.scopeDepth > 0;
  const r = makeRoot(st, obj);
  if (!scoped) {
    const w = rootEntry(r);
    const slot = (w - (st.v.u32[st.s + S_ROOTS]! >>> 2)) / ROOT_WORDS;
    watchRoot(st, r, slot, st.v.u32[w + R_GEN]!);
  }
  return r;
}

/**
 * Hands one object out of a scope: `escape(obj)` roots `obj` in the
 * enclosing scope (or, outside every scope, in a new unscoped root that the
 * caller releases) and returns that root.
 */
export type Escape = (obj: number) => Root;

/**
 * `escape(obj)` of the scope at depth `depth` (1 = outermost): the object is
 * rooted on the handle stack now, and the Root moves out of that scope (to
 * the enclosing one's handles, or to the root table) when it ends.
 */
export function escapeRoot(st: HeapState, obj: number, depth: number): Root {
  if (st.scopeDepth < depth) throw new InvalidArgumentError('escape() called after its scope ended');
  if (obj !== 0) st.checkStore(obj);
  const gen = st.nextGen();
  const r = new RootCtor(st, pushHandle(st, obj, gen), gen, true);
  st.escapes.push(r);
  st.escapeDepths.push(depth);
  return r;
}

/**
 * Leaves a scope: writes back the two heights saved when it began, then
 * re-roots the objects escaped since it began (`escapesFrom` = escapes
 * pending then): out of this scope, or, for an outer scope's escape called
 * in here, kept pending in the enclosing scope.
 */
export function leaveScope(
  st: HeapState,
  handleTop: number,
  stackTop: number,
  escapesFrom: number,
  handleBase: number,
): void {
  const u32 = st.v.u32;
  const s = st.s;
  st.handleBase = handleBase;
  const depth = st.scopeDepth--;
  st.fastRoots = depth === 1;
  const n = st.escapes.length;
  if (n === escapesFrom) {
    u32[s + S_HTOP] = handleTop;
    if (u32[s + S_STOP]! > stackTop) u32[s + S_STOP] = stackTop;
    return;
  }
  const moving = st.escapes.splice(escapesFrom, n - escapesFrom) as Root[];
  const depths = st.escapeDepths.splice(escapesFrom, n - escapesFrom);
  const targets = moving.map((r) => rootTarget(r)); // before the entries are dropped
  u32[s + S_HTOP] = handleTop;
  if (u32[s + S_STOP]! > stackTop) u32[s + S_STOP] = stackTop;
  for (let i = 0; i < moving.length; i++) {
    const gen = st.nextGen();
    const obj = targets[i]!;
    const r = moving[i]!;
    if (obj < 0) continue; // released before its scope ended
    if (depths[i]! < depth) {
      // An outer scope's escape: stays rooted here until that scope ends.
      moveRoot(r, pushHandle(st, obj, gen), gen, true);
      st.escapes.push(r);
      st.escapeDepths.push(depths[i]!);
    } else if (depth > 1) {
      moveRoot(r, pushHandle(st, obj, gen), gen, true);
    } else {
      const slot = st.takeRootSlot(obj, gen);
      moveRoot(r, slot, gen, false);
      if (st.registry !== null) watchRoot(st, r, slot, gen);
    }
  }
}

/** `heap.setGlobal(name, obj)`: `obj` was checked by the caller. */
export function setGlobal(st: HeapState, name: string, obj: number): void {
  const slot = st.globalSlots.get(name);
  if (slot === undefined) {
    st.globalSlots.set(name, st.takeRootSlot(obj, st.nextGen()));
    writeGlobalNames(st);
  } else {
    st.v.u32[st.rootWord(slot) + R_ADDR] = obj;
  }
}

/** `heap.getGlobal(name)`. */
export function getGlobal(st: HeapState, name: string): number {
  const slot = st.globalSlots.get(name);
  return slot === undefined ? 0 : st.v.u32[st.rootWord(slot) + R_ADDR]!;
}

/** `heap.deleteGlobal(name)`. */
export function deleteGlobal(st: HeapState, name: string): boolean {
  const slot = st.globalSlots.get(name);
  if (slot === undefined) return false;
  st.globalSlots.delete(name);
  st.freeRootSlot(slot);
  writeGlobalNames(st);
  return true;
}

/** Writes the global root names into the buffer (for attach); names change rarely. */
function writeGlobalNames(st: HeapState): void {
  const text = new TextEncoder().encode(JSON.stringify(Object.fromEntries(st.globalSlots)));
  const d = st.tryAlloc(4 + text.length);
  if (d === 0) throw new OutOfMemoryError('no room for the names of the global roots', 4 + text.length);
  st.v.u32[d >>> 2] = text.length;
  st.v.u8.set(text, d + 4);
  const old = st.v.u32[st.s + S_GLOBALS]!;
  st.v.u32[st.s + S_GLOBALS] = d;
  if (old !== 0) st.free(old);
}

/** Reads the global root names from the buffer (attach). */
export function readGlobalNames(st: HeapState): void {
  const d = st.v.u32[st.s + S_GLOBALS]!;
  st.globalSlots.clear();
  if (d === 0) return;
  const n = st.v.u32[d >>> 2]!;
  // A copy: TextDecoder refuses views of a SharedArrayBuffer.
  const names = JSON.parse(new TextDecoder().decode(st.v.u8.slice(d + 4, d + 4 + n))) as Record<string, number>;
  for (const [name, slot] of Object.entries(names)) st.globalSlots.set(name, slot);
}
