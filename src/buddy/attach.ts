/**
 * For the layers above the buddy (slab, tlsf, kmalloc): open the buddy
 * allocator of a Memory on their attach path, and break its lock when they
 * recover a dead worker. Not exported from the package root.
 *
 * @module
 */
import { HeapCorruptionError, MemkitError } from '../errors/index.js';
import { HeaderSlot } from '../memory/header.js';
import type { Memory } from '../memory/memory.js';
import { type BuddyAllocator, breakBuddyLock, drainBuddySlot, openBuddy } from './buddy.js';

/**
 * The buddy allocator of `memory`, for the attach of a layer built on it:
 * "no buddy here" is, for that layer, "no `what` here", so it is a
 * HeapCorruptionError (with the address of the buddy's header slot) whatever
 * the buddy layer throws for it.
 *
 * `slot` is the worker slot the upper layer's attach joined (0 on an
 * unshared memory, or for the heap's maker): the buddy instance takes its
 * lock under that slot and does not join one of its own (its `detach` gives
 * nothing back; the upper layer's does). On a shared memory with per-worker
 * lists it keeps that slot's order-0/1 lists: the upper layer's `detach`
 * must call {@link detachBuddyUnder}, its `recover` {@link recoverBuddyUnder}.
 */
export function attachBuddyUnder(memory: Memory, what: string, slot = 0): BuddyAllocator {
  try {
    return openBuddy(memory, slot, false);
  } catch (e) {
    if (e instanceof HeapCorruptionError || !(e instanceof MemkitError)) throw e;
    throw new HeapCorruptionError(`no ${what} in this Memory: ${e.message}`, 16 + 4 * HeaderSlot.Buddy);
  }
}

/**
 * For an upper layer's `recover(memory, slot)`: breaks the buddy lock if the
 * dead worker's `slot` held it, and gives the blocks on the slot's
 * per-worker lists back to the buddy (the upper layer frees the slot).
 * Pages the rest of that recover gives back through a buddy opened under
 * `slot` land on those lists again: a recover that gives pages back calls
 * this once more at its end, before it frees the slot. Returns whether
 * the dead worker held the lock; false when `memory` has no buddy allocator.
 */
export function recoverBuddyUnder(memory: Memory, slot: number): boolean {
  let broke: boolean;
  try {
    broke = breakBuddyLock(memory, slot);
  } catch (e) {
    if (e instanceof HeapCorruptionError) return false;
    throw e;
  }
  drainBuddySlot(memory, slot);
  return broke;
}

/**
 * For an upper layer's `detach()`: gives the blocks on the per-worker lists
 * of `buddy`'s slot (the buddy it opened with {@link attachBuddyUnder})
 * back to the buddy, under the buddy lock. Call it after the layer has
 * given its own pages back (they may land on those lists). Nothing to do on
 * an unshared memory, for slot 0, or without lists.
 */
export function detachBuddyUnder(buddy: BuddyAllocator): void {
  buddy.leaveLists();
}
