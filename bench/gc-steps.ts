/**
 * Where an incremental ManagedHeap's pauses come from (not part of `npm run
 * bench`): binary-trees in the README's root() style on an incremental heap,
 * every collector step recorded with the phase it started in and the phase it
 * left (idle->idle: clearing the MARK bitmap before a cycle; idle->mark: a
 * cycle's start; mark->sweep: the end of marking; sweep->idle: the cycle's
 * end). A step that is long in every round is work to bound; one long only
 * now and then is the thread being preempted.
 *
 * `npx tsx bench/gc-steps.ts [depth] [rounds]` (default 18, 3).
 *
 * @module
 */
import { ManagedHeap } from '../src/gc/index.js';
import { binaryTreesHeap } from './gc.js';

const depth = Number(process.argv[2] ?? 18);
const rounds = Number(process.argv[3] ?? 3);
for (let round = 0; round < rounds; round++) {
  const steps = new Map<string, number[]>();
  let before = 'idle';
  const heap: ManagedHeap = new ManagedHeap({
    bytes: Math.max(8 << 20, 16 * 2 ** (depth + 6)), // as bench/gc.ts
    incremental: true,
    onPause: (ms) => {
      const after = heap.stats().phase;
      const k = `${before}->${after}`;
      let xs = steps.get(k);
      if (xs === undefined) steps.set(k, (xs = []));
      xs.push(ms);
      before = after;
    },
  });
  const t0 = performance.now();
  binaryTreesHeap(heap, depth, 'root');
  const lines = [...steps].map(([k, xs]) => {
    xs.sort((a, b) => a - b);
    const q = (p: number): string => xs[Math.min(xs.length - 1, Math.floor(xs.length * p))]!.toFixed(3);
    return `  ${k.padEnd(12)} n=${String(xs.length).padStart(5)}  p50 ${q(0.5)}  p90 ${q(0.9)}  p99 ${q(0.99)}  max ${xs[xs.length - 1]!.toFixed(3)} ms`;
  });
  console.log(`depth ${depth}, round ${round}: ${(performance.now() - t0).toFixed(0)} ms\n${lines.join('\n')}`);
}
