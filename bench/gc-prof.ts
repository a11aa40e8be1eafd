/**
 * A profiling aid for the collector (not part of `npm run bench`): builds one
 * of the full-collect structures of bench/gc.ts and times `collect()` on it.
 * `npx tsx bench/gc-prof.ts list|tree|arrays [repeats]`; with `node --cpu-prof`
 * for a profile.
 *
 * @module
 */
import { ManagedHeap } from '../src/gc/index.js';

const shape = process.argv[2] ?? 'list';
const repeats = Number(process.argv[3] ?? 30);
const heap = new ManagedHeap({ bytes: 96 << 20, autoCollect: false });
if (shape === 'list') {
  const Node = heap.defineType('Node', { next: 'ref', value: 'i32' });
  const { next } = Node.fields;
  let cur = Node.alloc();
  heap.setGlobal('root', cur);
  for (let i = 1; i < 1_000_000; i++) {
    const n = Node.alloc();
    next.set(cur, n);
    cur = n;
  }
} else if (shape === 'tree') {
  const Tree = heap.defineType('Tree', { left: 'ref', right: 'ref' });
  const { left, right } = Tree.fields;
  const fill = (t: number, d: number): void => {
    if (d === 0) return;
    const l = Tree.alloc();
    left.set(t, l);
    fill(l, d - 1);
    const r = Tree.alloc();
    right.set(t, r);
    fill(r, d - 1);
  };
  const root = Tree.alloc();
  heap.setGlobal('root', root);
  fill(root, 19);
} else {
  const Node = heap.defineType('Node', { next: 'ref', value: 'i32' });
  const Refs = heap.defineArray('Refs', 'ref');
  const outer = Refs.alloc(1000);
  heap.setGlobal('root', outer);
  for (let i = 0; i < 1000; i++) {
    const a = Refs.alloc(999);
    Refs.set(outer, i, a);
    for (let j = 0; j < 999; j++) Refs.set(a, j, Node.alloc());
  }
}
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
