/**
 * A profiling aid for the collector (not part of `npm run bench`): builds one
 * of the full-collect structures of bench/gc.ts and times `collect()` on it.
 * `npx tsx bench/gc-prof.ts list|tree|arrays [repeats]`; with `node --cpu-prof`
 * for a profile.
 *
 * @module
 */
import { ManagedHeap } from '../src/gc/index.js';
import { buildArrays, buildList, buildTree } from './gc.js';

const shape = process.argv[2] ?? 'list';
const repeats = Number(process.argv[3] ?? 30);
const heap = new ManagedHeap({ bytes: 96 << 20, autoCollect: false });
(shape === 'list' ? buildList : shape === 'tree' ? buildTree : buildArrays)(heap);
const ms: number[] = [];
const cpu: number[] = [];
for (let r = 0; r < repeats; r++) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  heap.collect();
  ms.push(performance.now() - t0);
  const c1 = process.cpuUsage(c0);
  cpu.push((c1.user + c1.system) / 1000);
}
cpu.sort((a, b) => a - b);
const live = heap.stats().liveObjects;
ms.sort((a, b) => a - b);
console.log(
  `${shape}: ${live} live, collect min ${ms[0]!.toFixed(2)} median ${ms[ms.length >> 1]!.toFixed(2)} ms wall, CPU min ${cpu[0]!.toFixed(2)} median ${cpu[cpu.length >> 1]!.toFixed(2)} ms (${repeats} runs)`,
);
