/**
 * A profiling aid (not part of `npm run bench`): the README's binary-trees on a
 * ManagedHeap, after a prelude that makes roots inside and outside `scope()`
 * (2M `root()`+`release()` pairs, half of them scoped: scopedRootsPrelude),
 * against the same runs with no prelude, each in its own process.
 *
 * `npx tsx bench/gc-scope-cliff.ts [none|scoped] [root|stack] [runs=6]` prints
 * each run's wall ms; with `node --trace-gc --import tsx` the scavenges show
 * whether V8 allocated the root handles. Before 5 Dec a root made inside a
 * scope took a branch of its own in `root()` and `release()`; V8's feedback
 * is per function, so after such a prelude the README's bottomUp no longer
 * inlined its per-node path: 307-339 ms a run against 256-281, 567
 * scavenges against 28. Since then both kinds take one path and the two
 * runs match (docs/gc.md, "Why one path").
 *
 * @module
 */
import { ManagedHeap } from '../src/gc/index.js';
import { binaryTreesHeap, scopedRootsPrelude } from './gc.js';

const prelude = process.argv[2] === 'scoped';
const style = process.argv[3] === 'stack' ? 'stack' : 'root';
const runs = Number(process.argv[4] ?? 6);
const depth = 16;
const bytes = Math.max(8 << 20, 16 * 2 ** (depth + 6)); // as bench/gc.ts

if (prelude) scopedRootsPrelude(100);
const ms: string[] = [];
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  binaryTreesHeap(new ManagedHeap({ bytes }), depth, style);
  ms.push((performance.now() - t0).toFixed(0));
}
console.log(
  `binary-trees depth ${depth}, ${style}() style, prelude ${prelude ? 'scoped' : 'none'}: ms a run ${ms.join(' ')}`,
);
