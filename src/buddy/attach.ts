/**
 * For the layers above the buddy (slab, tlsf): open the buddy allocator of a
 * Memory on their attach path. Not exported from the package root.
 *
 * @module
 */
import { HeapCorruptionError, MemkitError } from '../errors/index.js';
import { HeaderSlot } from '../memory/header.js';
import type { Memory } from '../memory/memory.js';
import { BuddyAllocator } from './buddy.js';

/**
 * The buddy allocator of `memory`, for the attach of a layer built on it:
 * "no buddy here" is, for that layer, "no `what` here", so it is a
 * HeapCorruptionError (with the address of the buddy's header slot) whatever
 * the buddy layer throws for it.
 */
export function attachBuddyUnder(memory: Memory, what: string): BuddyAllocator {
  try {
    return BuddyAllocator.attach(memory);
  } catch (e) {
    if (e instanceof HeapCorruptionError || !(e instanceof MemkitError)) throw e;
    throw new HeapCorruptionError(`no ${what} in this Memory: ${e.message}`, 16 + 4 * HeaderSlot.Buddy);
  }
}
