/**
 * The binary-trees benchmark of the Computer Language Benchmarks Game on a
 * {@link ManagedHeap} (stop-the-world and incremental) against the same
 * program on plain JS objects under V8's garbage collector.
 *
 * The program: a stretch tree of depth maxDepth + 1 is built, checked and
 * dropped; a long-lived tree of depth maxDepth is built and kept; then for
 * depth = 4, 6, ..., maxDepth, `1 << (maxDepth - depth + 4)` trees of that
 * depth are built and checked (check = node count); last, the long-lived
 * tree is checked. Every contender must print the same lines.
 *
 * Each round runs every contender once (rotated order); the time ratio is
 * the median over rounds of the ratio within a round. Pauses: every
 * ManagedHeap collector entry (a whole collection, or one incremental step),
 * and V8's GC events from `PerformanceObserver('gc')`.
 *
 * Run: `npm run bench -- gc` or `npx tsx bench/gc.ts`; depth with
 * `MEMKIT_BT_DEPTH=12` (default 16), rounds with `MEMKIT_BT_ROUNDS`.
 *
 * @module
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { ManagedHeap, type NumberField, type ObjectType } from '../src/gc/index.js';
import { quantile } from '../src/gc/stats.js';
import { DEFAULT_OPTIONS, formatRatio, type BenchOptions, type CaseResult, type RowResult } from './harness.js';

const MIN_DEPTH = 4;

// ------------------------------------------------------------ plain JS objects

class TreeNode {
  constructor(readonly left: TreeNode | null, readonly right: TreeNode | null) {}
}

function jsBottomUp(depth: number): TreeNode {
  return depth > 0 ? new TreeNode(jsBottomUp(depth - 1), jsBottomUp(depth - 1)) : new TreeNode(null, null);
}

function jsCheck(t: TreeNode): number {
  return t.left === null ? 1 : 1 + jsCheck(t.left) + jsCheck(t.right!);
}

/** binary-trees on V8 objects; returns the output lines. */
export function binaryTreesJs(maxDepth: number): string[] {
  const out: string[] = [];
  const stretch = maxDepth + 1;
  out.push(`stretch tree of depth ${stretch}\t check: ${jsCheck(jsBottomUp(stretch))}`);
  const longLived = jsBottomUp(maxDepth);
  for (let depth = MIN_DEPTH; depth <= maxDepth; depth += 2) {
    const iterations = 1 << (maxDepth - depth + MIN_DEPTH);
    let check = 0;
    for (let i = 0; i < iterations; i++) check += jsCheck(jsBottomUp(depth));
    out.push(`${iterations}\t trees of depth ${depth}\t check: ${check}`);
  }
  out.push(`long lived tree of depth ${maxDepth}\t check: ${jsCheck(longLived)}`);
  return out;
}

// ---------------------------------------------------------------- ManagedHeap

/**
 * The tree code for a ManagedHeap: a class, so that its methods (and the
 * accessor methods they call) stay monomorphic when several heaps run it.
 */
class HeapTrees {
  // `declare`d: set in the constructor only (exact field representations in V8).
  declare private readonly heap: ManagedHeap;
  declare private readonly Node: ObjectType<{ left: 'ref'; right: 'ref' }>;
  declare private readonly left: NumberField;
  declare private readonly right: NumberField;

  constructor(heap: ManagedHeap) {
    this.heap = heap;
    this.Node = heap.defineType('TreeNode', { left: 'ref', right: 'ref' });
    this.left = this.Node.fields.left;
    this.right = this.Node.fields.right;
  }

  /**
   * Each node is linked into its parent right after it is allocated, before
   * the next allocation (where a collection may run), so only the root of
   * the tree being built needs a root (on the shadow stack).
   */
  fill(n: number, depth: number): void {
    if (depth === 0) return;
    const l = this.Node.alloc();
    this.left.set(n, l);
    this.fill(l, depth - 1);
    const r = this.Node.alloc();
    this.right.set(n, r);
    this.fill(r, depth - 1);
  }

  bottomUp(depth: number): number {
    const n = this.Node.alloc();
    this.heap.pushRoot(n);
    this.fill(n, depth);
    return this.heap.popRoot();
  }

  check(t: number): number {
    const l = this.left.get(t);
    return l === 0 ? 1 : 1 + this.check(l) + this.check(this.right.get(t));
  }
}

/** binary-trees on a ManagedHeap; returns the output lines. */
export function binaryTreesHeap(heap: ManagedHeap, maxDepth: number): string[] {
  const t = new HeapTrees(heap);
  const out: string[] = [];
  const stretch = maxDepth + 1;
  out.push(`stretch tree of depth ${stretch}\t check: ${t.check(t.bottomUp(stretch))}`);
  const longLived = heap.root(t.bottomUp(maxDepth));
  for (let depth = MIN_DEPTH; depth <= maxDepth; depth += 2) {
    const iterations = 1 << (maxDepth - depth + MIN_DEPTH);
    let sum = 0;
    for (let i = 0; i < iterations; i++) sum += t.check(t.bottomUp(depth));
    out.push(`${iterations}\t trees of depth ${depth}\t check: ${sum}`);
  }
  out.push(`long lived tree of depth ${maxDepth}\t check: ${t.check(longLived.value)}`);
  longLived.release();
  return out;
}

/**
 * Heap size for a depth: room for the stretch tree, the long-lived tree, the
 * garbage between two collections (3x the live bytes) and an incremental
 * cycle's floating garbage, with slack: 64 MiB at depth 16.
 */
function heapBytes(maxDepth: number): number {
  return Math.max(8 << 20, 16 * 2 ** (maxDepth + 6));
}

// ---------------------------------------------------------------- measuring

/** The figures of one contender over all rounds. */
export interface BtRow {
  name: string;
  /** Median wall time of one whole program run, ms. */
  medianMs: number;
  /** Longest pause seen in any round, ms. */
  maxPauseMs: number;
  /** 99th percentile of all pauses of all rounds, ms. */
  p99PauseMs: number;
  /** Pauses per run (median). */
  pauses: number;
  /** V8 time ÷ this time, median over rounds (1 = as fast as V8). */
  speedVsV8: number;
  /**
   * The same with process CPU time (user + system) instead of wall time:
   * steadier on a loaded machine; V8's CPU includes its GC helper threads.
   */
  cpuVsV8: number;
}

/** The result of {@link measureBinaryTrees}. */
export interface BtResult {
  maxDepth: number;
  rounds: number;
  /** True when every contender printed the same lines. */
  outputIdentical: boolean;
  output: string[];
  rows: BtRow[];
}

interface Contender {
  name: string;
  run(): { out: string[]; pauses: number[] };
}

/** V8's GC events (start time, duration), collected for the whole run. */
const v8Gc: Array<[start: number, ms: number]> = [];
let v8Observer: PerformanceObserver | null = null;

function contenders(maxDepth: number): Contender[] {
  const heapRun = (incremental: boolean) => () => {
    const pauses: number[] = [];
    const heap = new ManagedHeap({ bytes: heapBytes(maxDepth), incremental, onPause: (ms) => pauses.push(ms) });
    const out = binaryTreesHeap(heap, maxDepth);
    return { out, pauses };
  };
  return [
    {
      name: 'V8 objects',
      run: () => {
        // GC entries arrive asynchronously: the caller picks this run's by time.
        const out = binaryTreesJs(maxDepth);
        return { out, pauses: [] };
      },
    },
    { name: 'ManagedHeap stop-the-world', run: heapRun(false) },
    { name: 'ManagedHeap incremental', run: heapRun(true) },
  ];
}

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Runs binary-trees `rounds` times per contender, interleaved. */
export async function measureBinaryTrees(maxDepth: number, rounds: number): Promise<BtResult> {
  if (v8Observer === null) {
    v8Observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) v8Gc.push([e.startTime, e.duration]);
    });
    v8Observer.observe({ entryTypes: ['gc'] });
  }
  const cs = contenders(maxDepth);
  const times: number[][] = cs.map(() => []);
  const cpus: number[][] = cs.map(() => []);
  const pauses: number[][] = cs.map(() => []);
  const pauseCounts: number[][] = cs.map(() => []);
  let output: string[] = [];
  let identical = true;
  // Warm-up at a small depth (JIT), not measured.
  for (const c of contenders(Math.min(maxDepth, 10))) c.run();
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < cs.length; k++) {
      const i = (k + r) % cs.length;
      const c0 = cpuMs();
      const t0 = performance.now();
      const res = cs[i]!.run();
      const t1 = performance.now();
      times[i]!.push(t1 - t0);
      cpus[i]!.push(cpuMs() - c0);
      await new Promise((resolve) => setTimeout(resolve, 5)); // let V8's gc entries arrive
      const own = i === 0 ? v8Gc.filter(([start]) => start >= t0 && start <= t1).map(([, ms]) => ms) : res.pauses;
      pauses[i]!.push(...own);
      pauseCounts[i]!.push(own.length);
      if (output.length === 0) output = res.out;
      else if (res.out.join('\n') !== output.join('\n')) identical = false;
    }
  }
  const med = (xs: number[]): number => quantile([...xs].sort((a, b) => a - b), 0.5);
  const rows = cs.map((c, i): BtRow => {
    const sorted = [...pauses[i]!].sort((a, b) => a - b);
    return {
      name: c.name,
      medianMs: med(times[i]!),
      maxPauseMs: sorted.length === 0 ? 0 : sorted[sorted.length - 1]!,
      p99PauseMs: quantile(sorted, 0.99),
      pauses: med(pauseCounts[i]!),
      speedVsV8: med(times[0]!.map((t, r) => t / times[i]![r]!)),
      cpuVsV8: med(cpus[0]!.map((t, r) => t / cpus[i]![r]!)),
    };
  });
  return { maxDepth, rounds, outputIdentical: identical, output, rows };
}

/** Renders a {@link BtResult} as text. */
export function formatBinaryTrees(r: BtResult): string {
  const lines = [`## binary-trees, depth ${r.maxDepth} (${r.rounds} rounds, median)`, ''];
  lines.push(...r.output.map((l) => '    ' + l), '');
  lines.push(`output identical in every run: ${r.outputIdentical ? 'yes' : 'NO'}`, '');
  const head = ['', 'ms/run', 'row ÷ V8 (wall time)', 'row ÷ V8 (CPU time)', 'pauses/run', 'max pause ms', 'p99 pause ms'];
  const body = r.rows.map((row) => [
    row.name, row.medianMs.toFixed(0), formatRatio(1 / row.speedVsV8), formatRatio(1 / row.cpuVsV8),
    String(row.pauses), row.maxPauseMs.toFixed(2), row.p99PauseMs.toFixed(2),
  ]);
  const widths = head.map((h, j) => Math.max(h.length, ...body.map((b) => b[j]!.length)));
  const line = (cells: string[]): string => cells.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join('  ');
  lines.push(line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line));
  const stw = r.rows[1]!;
  lines.push('', `goal: ManagedHeap within 2x of V8 at depth >= 16: time ratio ${formatRatio(1 / stw.speedVsV8)} ` +
    `${r.maxDepth >= 16 ? (1 / stw.speedVsV8 <= 2 ? 'MET' : 'NOT MET') : '(depth < 16: not judged)'}`);
  lines.push('(V8 pauses: its GC events from PerformanceObserver, some of them concurrent with the program;');
  lines.push(' ManagedHeap pauses: each collector entry, a whole collection or one incremental step)');
  return lines.join('\n');
}

/** Converts to the bench runner's result shape (one case; ops = runs). */
function toCaseResult(r: BtResult): CaseResult {
  const rows: RowResult[] = r.rows.map((row, i) => ({
    name: row.name,
    role: i === 0 ? 'peer' : 'memkit',
    opsPerSec: 1000 / row.medianMs,
    spread: 0,
    memkitOver: r.rows[1]!.speedVsV8 === 0 ? NaN : r.rows[1]!.speedVsV8 / row.speedVsV8,
    opsPerRound: 1,
    metrics: { maxPauseMs: row.maxPauseMs, p99PauseMs: row.p99PauseMs, pausesPerRun: row.pauses, cpuRatioVsV8: 1 / row.cpuVsV8 },
  }));
  const ratio = r.rows[1]!.speedVsV8;
  return {
    name: `binary-trees depth ${r.maxDepth}`,
    unit: 'runs',
    reference: r.rows[1]!.name,
    rows,
    goals: r.maxDepth < 16 ? [] : [{
      subject: r.rows[1]!.name, vs: r.rows[0]!.name, atLeast: 0.5, text: 'within 2x of V8 (depth >= 16)',
      ratio, met: ratio >= 0.5,
    }],
  };
}

/** Entry point for `bench/index.ts`. */
export async function run(options: BenchOptions = DEFAULT_OPTIONS): Promise<CaseResult[]> {
  const depth = Number(process.env['MEMKIT_BT_DEPTH'] ?? (options.quick ? 10 : 16));
  const rounds = Number(process.env['MEMKIT_BT_ROUNDS'] ?? (options.quick ? 2 : 5));
  const r = await measureBinaryTrees(depth, rounds);
  console.log(formatBinaryTrees(r) + '\n');
  return [toCaseResult(r)];
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await run();
}
