/**
 * kmalloc size classes.
 *
 *   'kernel'   the kernel's kmalloc caches: 8 16 32 64 96 128 192 256 512 1k 2k 4k 8k
 *   n (1..16)  8-byte steps up to 64 bytes, then n classes per doubling
 *              (jemalloc and mimalloc use 4), each a multiple of 8 bytes
 *
 * Sizes above the largest class go straight to buddy pages (allocPagesExact).
 * A request is mapped to its class by one table lookup indexed by
 * `(size + 7) >> 3` (a Uint8Array of class indices), so the fast path does no
 * search.
 *
 * @module
 */
import { InvalidArgumentError, describe } from '../errors/index.js';

/** How finely kmalloc divides sizes: the kernel's table or n classes per doubling. */
export type SizeClassSpec = 'kernel' | number;

const KERNEL_CLASSES = [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192];

/** The class sizes for `spec`, ascending, up to `maxClass` bytes. */
export function classSizes(spec: SizeClassSpec, maxClass: number): number[] {
  if (spec === 'kernel') return KERNEL_CLASSES.filter((s) => s <= maxClass);
  if (!Number.isInteger(spec) || spec < 1 || spec > 16) {
    throw new InvalidArgumentError(`size classes: 'kernel' or 1..16 per doubling, got ${describe(spec)}`, 'classes');
  }
  const out: number[] = [];
  for (let s = 8; s <= 64 && s <= maxClass; s += 8) out.push(s);
  for (let lo = 64; lo < maxClass; lo *= 2) {
    for (let i = 1; i <= spec; i++) {
      const s = Math.ceil((lo + (lo * i) / spec) / 8) * 8;
      if (s > maxClass) break;
      if (s > out[out.length - 1]!) out.push(s);
    }
  }
  return out;
}

/** Lookup table: index `(size + 7) >> 3` gives the class index. */
export function classTable(sizes: readonly number[]): Uint8Array {
  if (sizes.length > 255) throw new InvalidArgumentError('at most 255 size classes');
  const max = sizes[sizes.length - 1]!;
  const table = new Uint8Array((max >> 3) + 1);
  let c = 0;
  for (let i = 0; i < table.length; i++) {
    while (sizes[c]! < i * 8) c++;
    table[i] = c;
  }
  return table;
}

/** The kernel's cache name for a class: kmalloc-96, kmalloc-1k. */
export function className(size: number): string {
  return size >= 1024 && size % 1024 === 0 ? `kmalloc-${size / 1024}k` : `kmalloc-${size}`;
}
