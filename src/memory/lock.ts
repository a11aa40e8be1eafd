/**
 * Cross-worker locks in the buffer: one i32 word per lock, taken with
 * `Atomics.compareExchange`, waited on with `Atomics.wait` / `notify`.
 *
 * Lock order (mm/slub.c's comment is the model). A thread holding a lock
 * may take only locks further down this list, never one above it, so no
 * cycle (no deadlock) can form:
 *
 *   1. the kmalloc heap lock (word 0 of kmalloc's control block). A
 *      worker's own class pages and its own TLSF heap (a shared Kmalloc's
 *      medium tier, one per worker slot) take no lock, nor do large blocks
 *      (a free claims one with a compareExchange of its page descriptor);
 *      TLSF chunk refills and large blocks take the buddy lock alone (6),
 *      class page refills this lock then the buddy's
 *   2. the memkit header lock (header word 2; held only while a layer's
 *      state region is first laid out, e.g. the slab space)
 *   3. a TLSF heap's lock
 *   4. a slab cache's lock (word 0 of its cache descriptor), then
 *      the slab space lock (word 0 of the space; cache ids)
 *   5. an arena's lock (word 1 of its state; only to chain a chunk, rewind
 *      or reset: alloc bumps `top` with compareExchange, no lock)
 *   6. the buddy lock (word 0 of the buddy's control block): the innermost.
 *      The buddy never calls a layer above it, and takes nothing under it.
 *
 * Two locks of one level are never held together (a slab cache never
 * takes another cache's lock). A layer opened on another's attach path
 * (the buddy under a slab cache, a TLSF heap or kmalloc) takes its locks
 * under the upper layer's worker slot, so `recover(memory, slot)` of the
 * upper layer breaks them all.
 *
 * Lock word (i32):
 * ```
 *   bit 31       30          29 .. 0
 *   +--------+-----------+---------------------+
 *   |   0    | contended |  owner (slot + 1)   |     0 = free
 *   +--------+-----------+---------------------+
 * ```
 * The owner is the taker's worker slot (see {@link joinWorker}) plus one, so
 * a lock whose owner died can be found and broken by whoever saw it die
 * ({@link breakLock}). `contended` says somebody may sleep on the word, so
 * only then does `unlock` pay for an `Atomics.notify` (Drepper's "futexes
 * are tricky", mutex 2, with an owner field).
 *
 * Taking a lock: one compareExchange when it is free. Otherwise a short spin
 * (`Atomics.pause` where the engine has it), then sleep with `Atomics.wait`
 * until the holder's unlock wakes us. A browser's main thread may not
 * `Atomics.wait` (it throws there): it keeps spinning instead, which is
 * correct but burns its time slice, so keep the main thread off contended
 * heaps.
 *
 * Views after a lock: what a lock guards may point into bytes that another
 * worker grew the memory by (memory.ts), so a lock on a Memory's words is
 * taken with {@link lockMemory}, which syncs the views once it is held.
 *
 * Invariants:
 * - A lock is held by at most one owner; only the owner unlocks it (checked).
 * - A lock is never taken recursively (checked: a second take by its owner
 *   throws instead of deadlocking).
 * - Worker slots: bit s of the header's workers word is set while slot s is
 *   joined. Slot 0 is the thread that laid the heap out, always joined.
 *
 * @module
 */
import { HeapCorruptionError, MemkitError } from '../errors/index.js';
import type { Memory } from './memory.js';

/** Owner bits of a lock word. */
export const LOCK_OWNER_MASK = 0x3fff_ffff;
/** Set while a waiter may be sleeping on the word. */
export const LOCK_CONTENDED = 0x4000_0000;
/** Spins before a taker goes to sleep. */
const SPINS = 64;

const pause: (n: number) => void =
  typeof (Atomics as { pause?: unknown }).pause === 'function'
    ? (Atomics as unknown as { pause: (n: number) => void }).pause
    : () => {};

let waitAllowed: boolean | undefined;

/** True when this thread may block in `Atomics.wait` (false on a browser's main thread). */
export function canWait(): boolean {
  if (waitAllowed === undefined) {
    try {
      // value 1 != 0, so this returns 'not-equal' at once where waiting is allowed
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
      waitAllowed = true;
    } catch {
      waitAllowed = false;
    }
  }
  return waitAllowed;
}

/**
 * Takes the lock at `i32[index]` for worker slot `slot`. Returns at once when
 * the lock is free; otherwise spins, then sleeps until it is released.
 */
export function lock(i32: Int32Array, index: number, slot: number): void {
  const me = slot + 1;
  if (Atomics.compareExchange(i32, index, 0, me) === 0) return;
  lockSlow(i32, index, me, canWait());
}

/**
 * {@link lock} on `memory.i32[index]`, then `memory.sync()`: the structures
 * the lock guards may lead into bytes another worker grew the memory by
 * after this worker's last sync (memory.ts draws how growth is seen).
 */
export function lockMemory(memory: Memory, index: number, slot: number): void {
  lock(memory.i32, index, slot);
  memory.sync();
}

/** Takes the lock if it is free; never waits. */
export function tryLock(i32: Int32Array, index: number, slot: number): boolean {
  return Atomics.compareExchange(i32, index, 0, slot + 1) === 0;
}

/**
 * The contended path, exported for tests (`wait = false` is what a browser's
 * main thread does).
 */
export function lockSlow(i32: Int32Array, index: number, me: number, wait: boolean): void {
  for (let spin = 0; ; spin++) {
    const v = Atomics.load(i32, index);
    if ((v & LOCK_OWNER_MASK) === me) {
      throw new MemkitError(
        `lock word ${index} is already held by this worker (slot ${me - 1}): locks are not recursive`,
      );
    }
    if (v === 0) {
      // Taken after contention: keep the contended bit, as others may sleep.
      const next = spin < SPINS ? me : me | LOCK_CONTENDED;
      if (Atomics.compareExchange(i32, index, 0, next) === 0) return;
      continue;
    }
    const owner = v & LOCK_OWNER_MASK;
    if (v < 0 || owner === 0 || owner > MAX_WORKERS) {
      // No taker writes such a word (bit 31, no owner, an owner past the last slot):
      // it was overwritten, and nobody would ever release it.
      throw new HeapCorruptionError(
        `lock word ${index} holds ${v >>> 0}, which no worker writes (damaged)`,
        index << 2,
      );
    }
    if (spin < SPINS || !wait) {
      pause(spin);
      continue;
    }
    if ((v & LOCK_CONTENDED) === 0 && Atomics.compareExchange(i32, index, v, v | LOCK_CONTENDED) !== v) continue;
    Atomics.wait(i32, index, v | LOCK_CONTENDED);
  }
}

/** Releases the lock at `i32[index]`, which worker slot `slot` must hold. */
export function unlock(i32: Int32Array, index: number, slot: number): void {
  const me = slot + 1;
  if (Atomics.compareExchange(i32, index, me, 0) === me) return; // uncontended
  const v = Atomics.load(i32, index);
  if ((v & LOCK_OWNER_MASK) !== me) {
    throw new HeapCorruptionError(
      `unlock of lock word ${index} by worker slot ${slot}, but it is held by ${ownerName(v)}`,
      index << 2,
    );
  }
  Atomics.store(i32, index, 0);
  Atomics.notify(i32, index, 1);
}

/**
 * Breaks a lock held by worker slot `deadSlot` (a worker that exited while
 * holding it) and wakes a waiter. Returns false if that slot did not hold it.
 * The caller must know the dead worker is gone: the state the lock guarded
 * may be half-updated, so follow with the allocator's `checkInvariants()`.
 */
export function breakLock(i32: Int32Array, index: number, deadSlot: number): boolean {
  for (;;) {
    const v = Atomics.load(i32, index);
    if ((v & LOCK_OWNER_MASK) !== deadSlot + 1) return false;
    if (Atomics.compareExchange(i32, index, v, 0) === v) {
      Atomics.notify(i32, index, 1);
      return true;
    }
  }
}

/** The holder of a lock word, for messages. */
export function ownerName(v: number): string {
  return v === 0 ? 'nobody' : `worker slot ${(v & LOCK_OWNER_MASK) - 1}`;
}

/** Most workers that can be joined to one heap at once (bits of one word). */
export const MAX_WORKERS = 32;

/**
 * Claims a free worker slot in the bitmask word `i32[index]` and returns it.
 * Slot 0 belongs to the thread that laid the heap out.
 */
export function joinWorker(i32: Int32Array, index: number): number {
  for (;;) {
    const v = Atomics.load(i32, index);
    const slot = lowestClearBit(v | 1); // never slot 0
    if (slot < 0) throw new MemkitError(`no free worker slot: ${MAX_WORKERS - 1} workers are joined already`);
    if (Atomics.compareExchange(i32, index, v, v | (1 << slot)) === v) return slot;
  }
}

/** Gives worker slot `slot` back (a detach, or a recovery after the worker died). */
export function leaveWorker(i32: Int32Array, index: number, slot: number): void {
  if (slot < 1 || slot >= MAX_WORKERS) throw new MemkitError(`worker slot ${slot} is not in [1, ${MAX_WORKERS})`);
  const bit = 1 << slot;
  if ((Atomics.and(i32, index, ~bit) & bit) === 0) {
    throw new MemkitError(`worker slot ${slot} is not joined`);
  }
}

/** The lowest bit that is 0 in `v`, or -1 when every bit is set. */
function lowestClearBit(v: number): number {
  return 31 - Math.clz32(~v & (v + 1));
}
