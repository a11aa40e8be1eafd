/**
 * What the long incremental steps are (not part of `npm run bench`; Linux
 * only): binary-trees in the README's root() style on an incremental heap
 * (as bench/gc.ts runs it), every step over `limit` ms listed with what
 * the kernel says the main thread did meanwhile. After each step the
 * thread's `/proc/thread-self/schedstat` is read (time on a CPU, time
 * waiting on a run queue, ns), so for each step we know how long the thread
 * waited for a CPU between the end of the previous step and the end of
 * this one (a window of the step plus the mutator's short stretch before it).
 * A long step whose window holds about as much run-queue wait as the step
 * is over budget was preempted; one that held the CPU the whole time did
 * work on the main thread (ours, or V8's: a deopt, a code install, a GC).
 * The process's minor page faults in the same window are counted too (a
 * fresh page touched for the first time costs a fault and its zeroing).
 * V8's own GCs are listed from a `PerformanceObserver`. Mind the observer
 * effect: this onPause callback allocates (heap.stats(), resourceUsage()), so
 * V8's own collections tend to run in it, outside the step, where without it
 * they run inside a step (a step is then the only code that allocates: see
 * docs/gc.md, seventh session, and bench/gc.ts's ownPauses).
 *
 * `npx tsx bench/gc-outliers.ts [depth=16] [rounds=3] [limit=0.5]`. With
 * `live` as a fourth argument each long step is also printed as it ends, so
 * that under a terminal (`script -qc "node --trace-opt --trace-deopt
 * --import tsx bench/gc-outliers.ts 16 1 0.5 live" log`) V8's lines about
 * optimizing and deoptimizing fall in order between them.
 *
 * @module
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { ManagedHeap } from '../src/gc/index.js';
import { binaryTreesHeap } from './gc.js';

const depth = Number(process.argv[2] ?? 16);
const rounds = Number(process.argv[3] ?? 3);
const limit = Number(process.argv[4] ?? 0.5);
const live = process.argv[5] === 'live';

const fd = openSync('/proc/thread-self/schedstat', 'r');
const buf = Buffer.alloc(128);
/** [ns on a CPU, ns waiting on a run queue] of this thread. */
function sched(): [number, number] {
  const n = readSync(fd, buf, 0, buf.length, 0);
  const f = buf.toString('latin1', 0, n).split(' ');
  return [Number(f[0]), Number(f[1])];
}

const v8Gc: Array<[number, number]> = [];
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) v8Gc.push([e.startTime, e.duration]);
});
obs.observe({ entryTypes: ['gc'] });

interface Step {
  at: number;
  ms: number;
  kind: string;
  runMs: number;
  waitMs: number;
  faults: number;
}

for (let round = 0; round < rounds; round++) {
  const steps: Step[] = [];
  let before = 'idle';
  let last = sched();
  let lastFaults = process.resourceUsage().minorPageFault;
  let count = 0;
  const heap: ManagedHeap = new ManagedHeap({
    bytes: Math.max(8 << 20, 16 * 2 ** (depth + 6)), // as bench/gc.ts
    incremental: true,
    onPause: (ms) => {
      count++;
      const after = heap.stats().phase;
      const kind = `${before}->${after}`;
      before = after;
      const faults = process.resourceUsage().minorPageFault;
      if (ms < limit) {
        last = sched();
        lastFaults = faults;
        return;
      }
      const at = performance.now();
      const now = sched();
      steps.push({
        at,
        ms,
        kind,
        runMs: (now[0] - last[0]) / 1e6,
        waitMs: (now[1] - last[1]) / 1e6,
        faults: faults - lastFaults,
      });
      lastFaults = faults;
      if (live)
        process.stdout.write(
          `### step ${kind} ${ms.toFixed(3)} ms, run queue ${((now[1] - last[1]) / 1e6).toFixed(3)} ms\n`,
        );
      last = now;
    },
  });
  const t0 = performance.now();
  binaryTreesHeap(heap, depth, 'root');
  const t1 = performance.now();
  await new Promise((r) => setTimeout(r, 10)); // the GC entries arrive asynchronously
  let preempted = 0;
  const lines = steps.map((s) => {
    const gc = v8Gc.filter(([st, d]) => st < s.at && st + d > s.at - s.ms);
    const pre = s.waitMs >= 0.5 * (s.ms - limit / 2);
    if (pre) preempted++;
    return `  +${(s.at - t0).toFixed(1).padStart(8)} ms  ${s.kind.padEnd(12)} ${s.ms.toFixed(3)} ms: window on CPU ${s.runMs.toFixed(3)}, run queue ${s.waitMs.toFixed(3)} ms, ${s.faults} page faults${pre ? '  (preempted)' : ''}${gc.length > 0 ? `  V8 GC ${gc.map(([, d]) => d.toFixed(2)).join(', ')} ms` : ''}`;
  });
  console.log(
    `depth ${depth}, round ${round}: ${(t1 - t0).toFixed(0)} ms, ${count} steps, ${steps.length} over ${limit} ms (${preempted} preempted)`,
  );
  if (lines.length > 0) console.log(lines.join('\n'));
}
obs.disconnect();
closeSync(fd);
