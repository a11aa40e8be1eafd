/**
 * Kmalloc's debug heap (the `debug` option: SLUB's slub_debug P and Z) and
 * the messages of a bad free. With `debug`, a class page's slot is
 *
 *   | link, tag / 0xcc red zone (8) | object | 0xcc red zone (8) |
 *
 * a free object is poisoned (0x6b .. 0xa5) and its right zone is 0xbb. Each
 * function takes the heap ({@link KmallocCore}); none runs on the fast path
 * (a debug heap's pages have other owner values, so the fast paths never see
 * them).
 *
 * @module
 */
import { DoubleFreeError, HeapCorruptionError, InvalidFreeError, hex } from '../errors/index.js';
import { OWNER_CLASS, OWNER_LARGE, OWNER_TLSF } from '../slab/layout.js';
import type { KmallocCore } from './core.js';
import { inLargeCaches } from './large-cache.js';

/** Debug red zone bytes on each side of an object (the left one holds the link and tag when free). */
export const RED_ZONE = 8;
const POISON_FREE = 0x6b;
const POISON_END = 0xa5;
export const RED_ACTIVE = 0xcc;
const RED_INACTIVE = 0xbb;

/** Poisons the free object of `slot` (class `cls`) and marks its right red zone inactive. */
export function poisonSlot(c: KmallocCore, cls: number, slot: number): void {
  const u8 = c.memory.u8;
  const size = c.classSizes[cls]!;
  const a = slot + RED_ZONE;
  u8.fill(POISON_FREE, a, a + size - 1);
  u8[a + size - 1] = POISON_END;
  u8.fill(RED_INACTIVE, a + size, a + size + RED_ZONE);
}

/** Fills the left red zone of `slot` with `left`, the right one with `right`. */
export function paintZones(c: KmallocCore, cls: number, slot: number, left: number, right: number): void {
  const u8 = c.memory.u8;
  const a = slot + RED_ZONE;
  const size = c.classSizes[cls]!;
  u8.fill(left, slot, a);
  u8.fill(right, a + size, a + size + RED_ZONE);
}

/** Debug: a free block's poison and right red zone must be intact. */
export function checkFreeBytes(c: KmallocCore, cls: number, slot: number): void {
  const u8 = c.memory.u8;
  const a = slot + RED_ZONE;
  const size = c.classSizes[cls]!;
  for (let i = a; i < a + size + RED_ZONE; i++) {
    const want = i < a + size - 1 ? POISON_FREE : i === a + size - 1 ? POISON_END : RED_INACTIVE;
    if (u8[i] !== want) {
      throw new HeapCorruptionError(
        `kmalloc: ${i < a + size ? 'Poison' : 'Right Redzone'} overwritten in free block ${hex(a)} at ${hex(i)}: 0x${u8[i]!.toString(16)} instead of 0x${want.toString(16)}`,
        i,
      );
    }
  }
}

/** Debug free of the live block at `slot`: both red zones must be intact (active). */
export function checkRedZones(c: KmallocCore, cls: number, slot: number): void {
  const u8 = c.memory.u8;
  const a = slot + RED_ZONE;
  const size = c.classSizes[cls]!;
  for (let i = slot; i < a + size + RED_ZONE; i++) {
    if (i === a) i = a + size;
    if (u8[i] !== RED_ACTIVE) {
      throw new HeapCorruptionError(
        `kmalloc: ${i < a ? 'Left' : 'Right'} Redzone overwritten at ${hex(i)} ${i < a ? 'before' : 'after'} block ${hex(a)}: 0x${u8[i]!.toString(16)} instead of 0x${RED_ACTIVE.toString(16)}`,
        i,
      );
    }
  }
}

/**
 * The error of a free of `addr` that is no live block, its page's owner
 * `own`: an interior or never-handed-out address, a double free of a large
 * block (the buddy tells), or a wild pointer. Call it under the heap lock.
 */
export function badFree(c: KmallocCore, addr: number, own: number): never {
  if (own >= OWNER_CLASS && own < OWNER_TLSF)
    throw new InvalidFreeError(`kfree(${hex(addr)}): not the start of a block (or never handed out)`, addr);
  if (own === OWNER_LARGE) throw new InvalidFreeError(`kfree(${hex(addr)}): interior pointer into a large block`, addr);
  // A large block a worker keeps in its cache (large-cache.ts) was freed already.
  if (c.med !== null && ((addr - c.base) & (c.pageSize - 1)) === 0 && inLargeCaches(c, addr))
    throw new DoubleFreeError(`kfree(${hex(addr)}): block already free (double free)`, addr);
  const pg = c.space.pageOf(addr);
  if (pg >= 0 && pg < c.buddy.pages && !c.buddy.isAllocated(addr)) {
    // Let the buddy tell a double free of a large block from a wild pointer.
    try {
      c.buddy.blockPages(addr);
    } catch (e) {
      if (e instanceof DoubleFreeError)
        throw new DoubleFreeError(`kfree(${hex(addr)}): block already free (double free)`, addr);
    }
  }
  throw new InvalidFreeError(`kfree(${hex(addr)}): not a block allocated by kmalloc`, addr);
}
