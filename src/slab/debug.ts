/**
 * The slab cache's debug checks (SLUB's slub_debug: P poison, Z red zones,
 * F checks) and the free-pointer checks every cache makes: what runs when a
 * cache has `debug` on, and the messages of what they find. Each takes the
 * cache ({@link SlabCore}); none runs on the fast path of a cache without
 * debug.
 *
 * @module
 */
import { DoubleFreeError, HeapCorruptionError, hex } from '../errors/index.js';
import type { SlabCore } from './core.js';
import {
  FREE_TAG,
  F_CHECKS,
  F_POISON,
  F_RED_ZONE,
  PAGE_WORDS,
  POISON_END,
  POISON_FREE,
  P_FREELIST,
  RED_ACTIVE,
  RED_INACTIVE,
  RED_ZONE_BYTES,
} from './layout.js';

/** True when `slot` is on slab `pg`'s freelist (walks it, at most objectsPerSlab steps). */
export function onFreelist(c: SlabCore, pg: number, slot: number): boolean {
  const u32 = c.memory.u32;
  let p = u32[c.pt + pg * PAGE_WORDS + P_FREELIST]!;
  for (let n = 0; p !== 0 && n <= c.objectsPerSlab; n++) {
    if (p === slot) return true;
    if (c.offGrid(p, pg)) return false;
    const fpAddr = p + c.fpOffset;
    const raw = u32[fpAddr >>> 2]!;
    p = c.secret === 0 ? raw : (raw ^ c.secret ^ fpAddr) >>> 0;
  }
  return false;
}

/** The free object at `slot` of slab `pg` has a damaged free pointer or tag. */
export function corruptFreePointer(c: SlabCore, slot: number, next: number, pg: number): never {
  c.memory.checkLive(); // a detached buffer, not a write after free
  const start = c.base + ((pg << c.shift) >>> 0);
  throw new HeapCorruptionError(
    `${c.name}: Freepointer corrupt in object ${hex(slot + c.objOffset)} (free, in slab ${hex(start)}): ` +
      `next ${hex(next)}, or its tag, was overwritten (a write after free?)`,
    slot + c.objOffset,
  );
}

/** Debug checks on alloc; returns the decoded next pointer. */
export function checkAlloc(c: SlabCore, slot: number, raw: number, pg: number): number {
  const fpAddr = slot + c.fpOffset;
  const next = c.secret === 0 ? raw : (raw ^ c.secret ^ fpAddr) >>> 0;
  const u32 = c.memory.u32;
  if (u32[(fpAddr >>> 2) + 1] !== (raw ^ FREE_TAG ^ c.secret) >>> 0 || (next !== 0 && c.offGrid(next, pg))) {
    corruptFreePointer(c, slot, next, pg);
  }
  if ((c.flags & F_POISON) !== 0) checkPoison(c, slot);
  if ((c.flags & F_RED_ZONE) !== 0) {
    checkRedZones(c, slot, RED_INACTIVE);
    paintRedZones(c, slot, RED_ACTIVE);
  }
  return next;
}

/** Debug checks on free, then poisoning. */
export function checkFree(c: SlabCore, slot: number, pg: number): void {
  if ((c.flags & F_CHECKS) !== 0 && onFreelist(c, pg, slot)) {
    throw new DoubleFreeError(`${c.name}: free(${hex(slot + c.objOffset)}): Object already free`, slot + c.objOffset);
  }
  if ((c.flags & F_RED_ZONE) !== 0) {
    checkRedZones(c, slot, RED_ACTIVE);
    paintRedZones(c, slot, RED_INACTIVE);
  }
  if ((c.flags & F_POISON) !== 0) poison(c, slot);
}

// ---------------------------------------------------------------- debug
export function poison(c: SlabCore, slot: number): void {
  const u8 = c.memory.u8;
  const a = slot + c.objOffset;
  u8.fill(POISON_FREE, a, a + c.size - 1);
  u8[a + c.size - 1] = POISON_END;
}

export function checkPoison(c: SlabCore, slot: number): void {
  const u8 = c.memory.u8;
  const a = slot + c.objOffset;
  const end = a + c.size - 1;
  for (let i = a; i <= end; i++) {
    const want = i === end ? POISON_END : POISON_FREE;
    if (u8[i] !== want) {
      throw new HeapCorruptionError(
        `${c.name}: Poison overwritten in free object ${hex(a)} at ${hex(i)} (offset ${i - a}): 0x${u8[i]!.toString(16)} instead of 0x${want.toString(16)}`,
        i,
      );
    }
  }
}

export function paintRedZones(c: SlabCore, slot: number, byte: number): void {
  const u8 = c.memory.u8;
  const a = slot + c.objOffset;
  u8.fill(byte, a - RED_ZONE_BYTES, a);
  u8.fill(byte, a + c.size, a + c.size + RED_ZONE_BYTES);
}

export function checkRedZones(c: SlabCore, slot: number, byte: number): void {
  const u8 = c.memory.u8;
  const a = slot + c.objOffset;
  for (let i = a - RED_ZONE_BYTES; i < a; i++) {
    if (u8[i] !== byte)
      throw new HeapCorruptionError(
        `${c.name}: Left Redzone overwritten at ${hex(i)} before object ${hex(a)}: 0x${u8[i]!.toString(16)} instead of 0x${byte.toString(16)}`,
        i,
      );
  }
  for (let i = a + c.size; i < a + c.size + RED_ZONE_BYTES; i++) {
    if (u8[i] !== byte)
      throw new HeapCorruptionError(
        `${c.name}: Right Redzone overwritten at ${hex(i)} after object ${hex(a)}: 0x${u8[i]!.toString(16)} instead of 0x${byte.toString(16)}`,
        i,
      );
  }
}

/**
 * Throws HeapCorruptionError unless `pg`, read from a list head or link, is a
 * page of the buddy (the cold walks check it before they index the page
 * table with it: a damaged link would have them read or write any word).
 */
export function checkListPage(c: SlabCore, pg: number): void {
  if (!(pg < c.maxPages)) {
    c.memory.checkLive(); // a detached buffer's links read undefined
    throw new HeapCorruptionError(
      `${c.name}: a slab list links to page ${pg}, past the buddy's ${c.maxPages} pages`,
      c.c << 2,
    );
  }
}
