/**
 * A profiling aid for the collector (not part of `npm run bench`): builds one
 * of the full-collect structures of bench/gc.ts and times `collect()` on it,
 * or runs binary-trees on a ManagedHeap alone (no V8 contender).
 * `npx tsx bench/gc-prof.ts list|tree|arrays [repeats]`, or
 * `npx tsx bench/gc-prof.ts bt [depth=16] [runs=3] [root|stack]` (prints each run's CPU time, the
 * collector's pauses and the rest, the mutator's; `MEMKIT_GC_OPTIONS='{"minThreshold":131072}'`
 * passes heap options); with
 * `node --cpu-prof --import tsx` for a profile, or `node --trace-gc --import tsx`
 * to count V8's collections (binary-trees on the heap allocates no V8 objects
 * when V8 drops the root handles: about 16-26 scavenges for three runs at depth 16).
 *
 * @module
 */
import { ManagedHeap, type ManagedHeapOptions } from '../src/gc/index.js';
import { binaryTreesHeap, buildArrays, buildList, buildTree } from './gc.js';

const shape = process.argv[2] ?? 'list';
if (shape === 'bt') {
  const depth = Number(process.argv[3] ?? 16);
  const runs = Number(process.argv[4] ?? 3);
  const style = process.argv[5] === 'stack' ? 'stack' : 'root';
  const bytes = Math.max(8 << 20, 16 * 2 ** (depth + 6)); // as bench/gc.ts
  const heapOptions = JSON.parse(process.env.MEMKIT_GC_OPTIONS ?? '{}') as ManagedHeapOptions;
  for (let i = 0; i < 2; i++) binaryTreesHeap(new ManagedHeap({ bytes: 8 << 20 }), 12, style);
  const cpu: number[] = [];
  const pauses: number[] = [];
  let collections = 0;
  for (let r = 0; r < runs; r++) {
    const heap = new ManagedHeap({ bytes, ...heapOptions });
    const c0 = process.cpuUsage();
    binaryTreesHeap(heap, depth, style);
    const c1 = process.cpuUsage(c0);
    cpu.push((c1.user + c1.system) / 1000);
    const st = heap.stats();
    pauses.push(st.pauses.totalMs);
    collections = st.collections;
  }
  const ms = (xs: number[]): string => xs.map((x) => x.toFixed(0)).join(' ');
  console.log(
    `binary-trees depth ${depth}, ${style}() style${process.env.MEMKIT_GC_OPTIONS ? `, ${process.env.MEMKIT_GC_OPTIONS}` : ''}: ` +
      `CPU ms a run ${ms(cpu)}; the collector's pauses ${ms(pauses)} (${collections} collections a run); ` +
      `the mutator (CPU less pauses) ${ms(cpu.map((c, i) => c - pauses[i]!))}`,
  );
} else {
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
}
