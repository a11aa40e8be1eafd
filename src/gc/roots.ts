/**
 * Roots: what keeps objects alive ("pointers that are not on the heap, but
 * point to the heap", in the lecture's words).
 *
 * - {@link Root} handles, from `heap.root(obj)`: a slot in the in-buffer
 *   root table, until `release()` (or `using`, via `Symbol.dispose`).
 * - Scopes (`heap.scope(fn)`, like V8's HandleScope): every root made inside
 *   is released when `fn` returns or throws; `escape(obj)` hands one object
 *   out to the enclosing scope.
 * - Global roots: named slots (`heap.setGlobal(name, obj)`).
 * - The shadow stack (`heap.pushRoot(obj)` / `heap.popRoot()`): the cheapest
 *   roots, for hot code; a scope also restores the stack height.
 *
 * A `FinalizationRegistry` watches unscoped handles only as a backstop: if V8
 * collects a handle that was never released, the heap warns and releases it.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors/index.js';
import type { ManagedHeap } from './heap.js';
import { RS_LIVE, RS_RELEASED, RS_SCOPED, R_ADDR, R_GEN, R_META, S_STOP } from './layout.js';

/**
 * A root: keeps one object (or null) alive until released.
 *
 * @example
 * ```ts
 * const r = heap.root(T.alloc());
 * T.fields.x.set(r.value, 1);
 * r.release();
 * { using r2 = heap.root(T.alloc()); }   // released at the block's end
 * ```
 */
export class Root {
  /** @internal */
  constructor(private readonly heap: ManagedHeap, private readonly slot: number, private readonly gen: number) {}

  /** True until released (by `release()`, by its scope ending, or by the backstop). */
  get alive(): boolean {
    const u32 = this.heap.v.u32;
    const w = this.heap.rootWord(this.slot);
    const state = u32[w + R_META]! & 3;
    return u32[w + R_GEN] === this.gen && (state === RS_LIVE || state === RS_SCOPED);
  }

  /** The rooted object (0 for null). Throws after release. */
  get value(): number {
    if (!this.alive) throw new InvalidArgumentError('this root was released');
    return this.heap.v.u32[this.heap.rootWord(this.slot) + R_ADDR]!;
  }

  /** Roots another object (or 0) instead. Throws after release. */
  set(obj: number): void {
    if (!this.alive) throw new InvalidArgumentError('this root was released');
    if (obj !== 0) this.heap.checkStore(obj);
    this.heap.v.u32[this.heap.rootWord(this.slot) + R_ADDR] = obj;
  }

  /** Stops rooting the object. Releasing twice does nothing. */
  release(): void {
    if (!this.alive) return;
    const heap = this.heap;
    const w = heap.rootWord(this.slot);
    const u32 = heap.v.u32;
    if ((u32[w + R_META]! & 3) === RS_SCOPED) {
      // Stays on its scope's chain (off the free list) until the scope ends.
      u32[w + R_ADDR] = 0;
      u32[w + R_META] = (u32[w + R_META]! & ~3) | RS_RELEASED;
    } else {
      heap.registry.unregister(this);
      heap.freeRootSlot(this.slot);
    }
  }

  /** Same as {@link Root.release}, for `using`. */
  [Symbol.dispose](): void {
    this.release();
  }
}

/** @internal `heap.root(obj)`. */
export function makeRoot(heap: ManagedHeap, obj: number): Root {
  if (obj !== 0) heap.checkStore(obj);
  let root: Root;
  if (heap.scopeDepth > 0) {
    const slot = heap.takeRootSlot(obj, (heap.scopeChain << 2) | RS_SCOPED);
    heap.scopeChain = slot + 1;
    root = new Root(heap, slot, heap.v.u32[heap.rootWord(slot) + R_GEN]!);
  } else {
    root = unscopedRoot(heap, obj);
  }
  return root;
}

function unscopedRoot(heap: ManagedHeap, obj: number): Root {
  const slot = heap.takeRootSlot(obj, RS_LIVE);
  const gen = heap.v.u32[heap.rootWord(slot) + R_GEN]!;
  const root = new Root(heap, slot, gen);
  heap.registry.register(root, { slot, gen }, root);
  return root;
}

/**
 * Hands one object out of a scope: `escape(obj)` roots `obj` in the
 * enclosing scope (or, outside every scope, in a new unscoped root that the
 * caller releases) and returns that root.
 */
export type Escape = (obj: number) => Root;

/** @internal `heap.scope(fn)`. */
export function runScope<R>(heap: ManagedHeap, fn: (escape: Escape) => R): R {
  const outerChain = heap.scopeChain;
  const stackTop = heap.stateWord(S_STOP);
  let parentChain = outerChain;
  const depth = heap.scopeDepth;
  const escape: Escape = (obj) => {
    if (obj !== 0) heap.checkStore(obj);
    if (depth === 0) return unscopedRoot(heap, obj);
    const slot = heap.takeRootSlot(obj, (parentChain << 2) | RS_SCOPED);
    parentChain = slot + 1;
    return new Root(heap, slot, heap.v.u32[heap.rootWord(slot) + R_GEN]!);
  };
  heap.scopeChain = 0;
  heap.scopeDepth = depth + 1;
  try {
    return fn(escape);
  } finally {
    heap.releaseChain(heap.scopeChain);
    heap.scopeChain = parentChain;
    heap.scopeDepth = depth;
    if (heap.stateWord(S_STOP) > stackTop) heap.setStateWord(S_STOP, stackTop);
  }
}

/** @internal `heap.setGlobal(name, obj)`. */
export function setGlobal(heap: ManagedHeap, name: string, obj: number): void {
  if (obj !== 0) heap.checkStore(obj);
  const slot = heap.globalSlots.get(name);
  if (slot === undefined) {
    heap.globalSlots.set(name, heap.takeRootSlot(obj, RS_LIVE));
  } else {
    heap.v.u32[heap.rootWord(slot) + R_ADDR] = obj;
  }
}

/** @internal `heap.getGlobal(name)`. */
export function getGlobal(heap: ManagedHeap, name: string): number {
  const slot = heap.globalSlots.get(name);
  return slot === undefined ? 0 : heap.v.u32[heap.rootWord(slot) + R_ADDR]!;
}

/** @internal `heap.deleteGlobal(name)`. */
export function deleteGlobal(heap: ManagedHeap, name: string): boolean {
  const slot = heap.globalSlots.get(name);
  if (slot === undefined) return false;
  heap.globalSlots.delete(name);
  heap.freeRootSlot(slot);
  return true;
}
