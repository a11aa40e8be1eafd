/**
 * Hot-path modules keep module-local copies of their layout constants (V8
 * reads an imported binding through its module cell on every use, and the
 * allocators' fast paths are made of such reads: SlabCache alloc+free pairs
 * ran at 20 M/s with imports and 35-54 M/s with local copies, node 20). This
 * check, run once when such a module loads, makes each copy provably equal to
 * its definition.
 *
 * @module
 */

/** Throws if any `copies[name]` differs from `layout[name]`. */
export function checkLayoutCopies(layout: Readonly<Record<string, unknown>>, copies: Readonly<Record<string, number>>): void {
  for (const name of Object.keys(copies)) {
    if (layout[name] !== copies[name]) {
      throw new Error(`memkit internal error: layout constant ${name} is ${String(layout[name])} but a hot path uses ${copies[name]}`);
    }
  }
}
