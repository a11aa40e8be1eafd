/**
 * ManagedHeap benchmarks, every comparison within one run:
 *
 * 1. binary-trees (the Computer Language Benchmarks Game) at depths 16 and
 *    18, on a {@link ManagedHeap} written as the README shows (one
 *    `heap.root()` per inner node under construction, released when its
 *    children are linked: the "root() style"), stop-the-world and
 *    incremental, and the same program with `pushRoot`/`popRoot` (the
 *    cheapest roots), against the same program on plain V8 objects;
 * 2. roots: `root()`+`release()`, `scope()` enter+leave and
 *    `pushRoot()`+`popRoot()` pairs;
 * 3. a full `collect()` of 1M live objects (a list, a binary tree, arrays
 *    of refs) against AssemblyScript's ITCMS (`--runtime incremental`,
 *    `__collect()`) on the same structures.
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
 * Run: `npm run bench -- gc` or `npx tsx bench/gc.ts`; depths with
 * `MEMKIT_BT_DEPTH=12,14` (default 16,18), rounds with `MEMKIT_BT_ROUNDS`.
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { ManagedHeap, type NumberField, type ObjectType } from '../src/gc/index.js';
import { quantile } from '../src/gc/stats.js';
import {
  DEFAULT_OPTIONS,
  formatRatio,
  runCases,
  type BenchCase,
  type BenchOptions,
  type CaseResult,
  type RowResult,
} from './harness.js';

const MIN_DEPTH = 4;

// ------------------------------------------------------------ plain JS objects

class TreeNode {
  constructor(
    readonly left: TreeNode | null,
    readonly right: TreeNode | null,
  ) {}
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
 * The tree code as the README shows it (root() style): a node is rooted
 * while its children are allocated (an allocation may collect), and its
 * root released once they are linked in. A class, so that its methods (and
 * the accessor methods they call) stay monomorphic when several heaps run it.
 */
class ReadmeTrees {
  declare private readonly heap: ManagedHeap;
  declare private readonly Tree: ObjectType<{ left: 'ref'; right: 'ref' }>;
  declare private readonly left: NumberField;
  declare private readonly right: NumberField;

  constructor(heap: ManagedHeap) {
    this.heap = heap;
    this.Tree = heap.defineType('Tree', { left: 'ref', right: 'ref' });
    this.left = this.Tree.fields.left;
    this.right = this.Tree.fields.right;
  }

  bottomUp(depth: number): number {
    const t = this.Tree.alloc();
    if (depth > 0) {
      const r = this.heap.root(t);
      this.left.set(t, this.bottomUp(depth - 1));
      this.right.set(t, this.bottomUp(depth - 1));
      r.release();
    }
    return t;
  }

  check(t: number): number {
    const l = this.left.get(t);
    return l === 0 ? 1 : 1 + this.check(l) + this.check(this.right.get(t));
  }
}

/** The same with the shadow stack (`pushRoot`/`popRoot`) instead of handles. */
class StackTrees {
  declare private readonly heap: ManagedHeap;
  declare private readonly Tree: ObjectType<{ left: 'ref'; right: 'ref' }>;
  declare private readonly left: NumberField;
  declare private readonly right: NumberField;

  constructor(heap: ManagedHeap) {
    this.heap = heap;
    this.Tree = heap.defineType('Tree', { left: 'ref', right: 'ref' });
    this.left = this.Tree.fields.left;
    this.right = this.Tree.fields.right;
  }

  bottomUp(depth: number): number {
    const t = this.Tree.alloc();
    if (depth > 0) {
      this.heap.pushRoot(t);
      this.left.set(t, this.bottomUp(depth - 1));
      this.right.set(t, this.bottomUp(depth - 1));
      this.heap.popRoot();
    }
    return t;
  }

  check(t: number): number {
    const l = this.left.get(t);
    return l === 0 ? 1 : 1 + this.check(l) + this.check(this.right.get(t));
  }
}

/**
 * What a program that also roots inside scopes does before its tree code:
 * `rounds` times, 10,000 `root()`+`release()` pairs inside a scope, then
 * 10,000 outside (bench/gc-scope-cliff.ts, test/gc/inlining.test.ts).
 */
export function scopedRootsPrelude(rounds: number): void {
  const heap = new ManagedHeap({ bytes: 1 << 20, autoCollect: false });
  const T = heap.defineType('T', { x: 'i32' });
  const obj = T.alloc();
  heap.setGlobal('obj', obj);
  for (let k = 0; k < rounds; k++) {
    heap.scope(() => {
      for (let i = 0; i < 10_000; i++) heap.root(obj).release();
      return 0;
    });
    for (let i = 0; i < 10_000; i++) heap.root(obj).release();
  }
}

/** binary-trees on a ManagedHeap; returns the output lines. */
export function binaryTreesHeap(heap: ManagedHeap, maxDepth: number, style: 'root' | 'stack' = 'root'): string[] {
  const t = style === 'root' ? new ReadmeTrees(heap) : new StackTrees(heap);
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
  /**
   * The longest pause without the V8 garbage collections that ran inside it
   * (ManagedHeap rows; for V8's row the same as maxPauseMs), ms. See ownPauses.
   */
  maxOwnPauseMs: number;
  /** The V8 collection time inside the pause that maxPauseMs is, ms. */
  v8InMaxPauseMs: number;
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
  /** The incremental heap's longest step in the first, untimed run of the process's warm-up (cold code), ms. */
  coldMaxPauseMs: number;
}

interface Contender {
  name: string;
  /** pauses: each collector entry's ms; ends: performance.now() as each ended. */
  run(): { out: string[]; pauses: number[]; ends: number[] };
}

/** V8's GC events (start time, duration), collected for the whole run. */
const v8Gc: Array<[start: number, ms: number]> = [];
let v8Observer: PerformanceObserver | null = null;

function contenders(maxDepth: number): Contender[] {
  const heapRun = (incremental: boolean, style: 'root' | 'stack') => () => {
    const pauses: number[] = [];
    const ends: number[] = [];
    const heap = new ManagedHeap({
      bytes: heapBytes(maxDepth),
      incremental,
      onPause: (ms) => {
        ends.push(performance.now());
        pauses.push(ms);
      },
    });
    const out = binaryTreesHeap(heap, maxDepth, style);
    return { out, pauses, ends };
  };
  return [
    {
      name: 'V8 objects',
      run: () => {
        // GC entries arrive asynchronously: the caller picks this run's by time.
        const out = binaryTreesJs(maxDepth);
        return { out, pauses: [], ends: [] };
      },
    },
    { name: 'ManagedHeap root() style, stop-the-world', run: heapRun(false, 'root') },
    { name: 'ManagedHeap root() style, incremental', run: heapRun(true, 'root') },
    { name: 'ManagedHeap pushRoot style, stop-the-world', run: heapRun(false, 'stack') },
  ];
}

/**
 * Each pause less the V8 collections that ran inside it. A collector step
 * that allocates a JavaScript object (performance.now() returns a fresh heap
 * number on Node 20) is, in this program, the only code that allocates any:
 * the tree code allocates none (the handles are escape-analysed away). So
 * V8's incremental marking of its own heap advances, and finishes with its
 * atomic pause, inside our steps (seen with `perf record -e
 * sched:sched_switch --call-graph dwarf`: MarkCompactCollector::CollectGarbage
 * under a step, once a round, when a new heap's 64 MiB ArrayBuffer is
 * external memory pressure). Those milliseconds are V8's, and its row shows
 * them as its own pauses too; both figures are printed.
 */
export function ownPauses(
  pauses: number[],
  ends: number[],
  gc: Array<[number, number]>,
): { own: number[]; v8: number[] } {
  const own: number[] = [];
  const v8: number[] = [];
  for (let i = 0; i < pauses.length; i++) {
    const e = ends[i]!;
    const s = e - pauses[i]!;
    let inside = 0;
    for (const [gs, gd] of gc) inside += Math.max(0, Math.min(e, gs + gd) - Math.max(s, gs));
    own.push(Math.max(0, pauses[i]! - inside));
    v8.push(inside);
  }
  return { own, v8 };
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
  const ownPause: number[][] = cs.map(() => []);
  const v8Inside: number[][] = cs.map(() => []);
  const pauseCounts: number[][] = cs.map(() => []);
  let output: string[] = [];
  let identical = true;
  // Warm-up (JIT), not measured: twice at depth 16 at most, so that the
  // collector's loops, rare steps included, are optimized before the first
  // measured pause (`bench/gc-steps.ts 16 6`: the first run in a process has
  // steps of 0.6-2.4 ms in cold code, the five after it none over 0.31 ms;
  // two runs at depth 14 left some of that for the first measured round).
  // The first (cold) run's longest incremental step is kept and printed.
  let coldMaxPauseMs = 0;
  for (const [k, c] of contenders(Math.min(maxDepth, 16)).entries()) {
    const first = c.run();
    if (k === 2) coldMaxPauseMs = Math.max(0, ...first.pauses); // the incremental contender
    c.run();
  }
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
      const ps = i === 0 ? v8Gc.filter(([start]) => start >= t0 && start <= t1).map(([, ms]) => ms) : res.pauses;
      pauses[i]!.push(...ps);
      pauseCounts[i]!.push(ps.length);
      const split = i === 0 ? { own: ps, v8: ps.map(() => 0) } : ownPauses(res.pauses, res.ends, v8Gc);
      ownPause[i]!.push(...split.own);
      v8Inside[i]!.push(...split.v8);
      if (output.length === 0) output = res.out;
      else if (res.out.join('\n') !== output.join('\n')) identical = false;
    }
  }
  const med = (xs: number[]): number =>
    quantile(
      [...xs].sort((a, b) => a - b),
      0.5,
    );
  const rows = cs.map((c, i): BtRow => {
    const sorted = [...pauses[i]!].sort((a, b) => a - b);
    const maxPauseMs = sorted.at(-1) ?? 0;
    const maxAt = pauses[i]!.indexOf(maxPauseMs); // -1 with no pause
    return {
      name: c.name,
      medianMs: med(times[i]!),
      maxPauseMs,
      p99PauseMs: quantile(sorted, 0.99),
      maxOwnPauseMs: Math.max(0, ...ownPause[i]!),
      v8InMaxPauseMs: v8Inside[i]![maxAt] ?? 0,
      pauses: med(pauseCounts[i]!),
      speedVsV8: med(times[0]!.map((t, r) => t / times[i]![r]!)),
      cpuVsV8: med(cpus[0]!.map((t, r) => t / cpus[i]![r]!)),
    };
  });
  return { maxDepth, rounds, outputIdentical: identical, output, rows, coldMaxPauseMs };
}

/** Renders a {@link BtResult} as text. */
export function formatBinaryTrees(r: BtResult): string {
  const lines = [`## binary-trees, depth ${r.maxDepth} (${r.rounds} rounds, median)`, ''];
  lines.push(...r.output.map((l) => '    ' + l), '');
  lines.push(`output identical in every run: ${r.outputIdentical ? 'yes' : 'NO'}`, '');
  const head = [
    '',
    'ms/run',
    'row ÷ V8 (wall time)',
    'row ÷ V8 (CPU time)',
    'pauses/run',
    'max pause ms',
    'max without V8 GC inside',
    'p99 pause ms',
  ];
  const body = r.rows.map((row) => [
    row.name,
    row.medianMs.toFixed(0),
    formatRatio(1 / row.speedVsV8),
    formatRatio(1 / row.cpuVsV8),
    String(row.pauses),
    row.maxPauseMs.toFixed(2),
    row.maxOwnPauseMs.toFixed(2),
    row.p99PauseMs.toFixed(2),
  ]);
  const widths = head.map((h, j) => Math.max(h.length, ...body.map((b) => b[j]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join('  ');
  lines.push(line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line));
  const stw = r.rows[1]!;
  const inc = r.rows[2]!;
  lines.push(
    '',
    `goal: ManagedHeap (README's root() style) within 1.5x of V8 at depth >= 16: time ratio ${formatRatio(1 / stw.speedVsV8)} ` +
      `${r.maxDepth >= 16 ? (1 / stw.speedVsV8 <= 1.5 ? 'MET' : 'NOT MET') : '(depth < 16: not judged)'}`,
  );
  lines.push(
    `goal: incremental max pause < 1 ms: the collector's own ${inc.maxOwnPauseMs.toFixed(2)} ms ` +
      `${inc.maxOwnPauseMs < 1 ? 'MET' : 'NOT MET'}; as measured ${inc.maxPauseMs.toFixed(2)} ms ` +
      `${inc.maxPauseMs < 1 ? 'MET' : 'NOT MET'} (V8's own collections inside that step: ${inc.v8InMaxPauseMs.toFixed(2)} ms; ` +
      `the warm-up's first run, cold code: ${r.coldMaxPauseMs.toFixed(2)} ms)`,
  );
  lines.push('(V8 pauses: its GC events from PerformanceObserver, some of them concurrent with the program;');
  lines.push(' ManagedHeap pauses: each collector entry, a whole collection or one incremental step;');
  lines.push(' "without V8 GC inside": less the V8 collections that ran within it, which are V8\'s: see ownPauses)');
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
    metrics: {
      maxPauseMs: row.maxPauseMs,
      p99PauseMs: row.p99PauseMs,
      pausesPerRun: row.pauses,
      cpuRatioVsV8: 1 / row.cpuVsV8,
    },
  }));
  const ratio = r.rows[1]!.speedVsV8;
  return {
    name: `binary-trees depth ${r.maxDepth}`,
    unit: 'runs',
    reference: r.rows[1]!.name,
    rows,
    goals:
      r.maxDepth < 16
        ? []
        : [
            {
              subject: r.rows[1]!.name,
              vs: r.rows[0]!.name,
              atLeast: 1 / 1.5,
              text: 'within 1.5x of V8 (depth >= 16)',
              ratio,
              met: ratio >= 1 / 1.5,
            },
          ],
  };
}

// ------------------------------------------------------------------ roots

/** root()+release(), scope() and pushRoot()+popRoot() pairs, side by side. */
function rootCases(): BenchCase[] {
  const heap = new ManagedHeap({ bytes: 1 << 22, autoCollect: false });
  const T = heap.defineType('T', { x: 'i32' });
  const obj = T.alloc();
  heap.setGlobal('obj', obj);
  const empty = (): number => 0;
  // Two cases, measured one after the other: the roots made inside a scope
  // take the other branch of the same root()/release() code, and V8's
  // feedback for that code is per function, not per call site. Mixed in one
  // case at 50/50 (a program that does both equally often), the slow branch
  // gets inlined too and V8 runs out of its inlining budget before it can
  // drop the handle objects (about 30 ns a pair instead of about 15).
  const pairs: BenchCase = {
    name: 'roots: make and drop one root',
    unit: 'pairs',
    contenders: [
      {
        name: 'root() + release()',
        role: 'memkit',
        run: (n) => {
          for (let i = 0; i < n; i++) heap.root(obj).release();
        },
      },
      {
        name: 'pushRoot() + popRoot()',
        role: 'bound',
        run: (n) => {
          for (let i = 0; i < n; i++) {
            heap.pushRoot(obj);
            heap.popRoot();
          }
        },
      },
    ],
    goals: [
      {
        subject: 'root() + release()',
        vs: 'pushRoot() + popRoot()',
        atLeast: 1 / 3,
        text: 'root()+release() within 3x of pushRoot()+popRoot()',
      },
    ],
  };
  const scoped: BenchCase = {
    name: 'roots: scopes',
    unit: 'pairs',
    contenders: [
      {
        name: 'root() + release() inside a scope',
        role: 'memkit',
        run: (n) =>
          heap.scope(() => {
            for (let i = 0; i < n; i++) heap.root(obj).release();
            return 0;
          }),
      },
      {
        name: 'scope() enter + leave',
        role: 'memkit',
        run: (n) => {
          for (let i = 0; i < n; i++) heap.scope(empty);
        },
      },
      {
        name: 'pushRoot() + popRoot()',
        role: 'bound',
        run: (n) => {
          for (let i = 0; i < n; i++) {
            heap.pushRoot(obj);
            heap.popRoot();
          }
        },
      },
    ],
  };
  return [pairs, scoped];
}

// ------------------------------------------------------------ full collect

/** AssemblyScript source of the same structures, for ITCMS. */
const AS_SOURCE = `
class Node { next: Node | null = null; value: i32 = 0; }
class Tree { left: Tree | null = null; right: Tree | null = null; }
let head: Node | null = null;
let tree: Tree | null = null;
let arrays: StaticArray<StaticArray<Node | null> | null> | null = null;
export function buildList(n: i32): void {
  let h = new Node(); head = h;
  for (let i = 1; i < n; i++) { const x = new Node(); h.next = x; h = x; }
}
function bottomUp(d: i32): Tree {
  const t = new Tree();
  if (d > 0) { t.left = bottomUp(d - 1); t.right = bottomUp(d - 1); }
  return t;
}
export function buildTree(d: i32): void { tree = bottomUp(d); }
export function buildArrays(n: i32, m: i32): void {
  const outer = new StaticArray<StaticArray<Node | null> | null>(n); arrays = outer;
  for (let i = 0; i < n; i++) {
    const a = new StaticArray<Node | null>(m); outer[i] = a;
    for (let j = 0; j < m; j++) a[j] = new Node();
  }
}
export function clear(): void { head = null; tree = null; arrays = null; }
`;

interface ItcmsExports {
  buildList(n: number): void;
  buildTree(d: number): void;
  buildArrays(n: number, m: number): void;
  clear(): void;
  __collect(): void;
}

/**
 * The compiler's part of {@link itcms}, run in a child process: it imports
 * AssemblyScript's compiler, compiles the source on stdin and writes the wasm
 * to the file named by argv[1]. Exit code 2: the compiler is not installed.
 */
const COMPILE_SCRIPT = `
let asc;
try { asc = (await import('assemblyscript/asc')).default; } catch { process.exit(2); }
const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const r = await asc.compileString(Buffer.concat(chunks).toString('utf8'), {
  runtime: 'incremental', exportRuntime: true, optimizeLevel: 3, shrinkLevel: 0, initialMemory: 1024,
});
if (r.error !== null || r.binary === null) { console.error(String(r.error)); process.exit(1); }
(await import('node:fs')).writeFileSync(process.argv[1], r.binary);
`;

/**
 * Compiles AS_SOURCE with `--runtime incremental -O3` (cached in the temp
 * directory), in a child process: the compiler, once loaded, keeps a large
 * JavaScript heap (some 230 MB) and wasm memory alive, which V8 collected
 * during the timed loop (`node --trace-gc`), and ManagedHeap's timed
 * collects ran 1.1x-1.2x slower in that process, back to back or not
 * (measureCollect with the compiler imported and not, 4 Dec: tree 5.6 ->
 * 4.9 ms, arrays 5.4 -> 4.7).
 */
async function itcms(): Promise<ItcmsExports | null> {
  let version: string;
  try {
    const pkg = new URL('../node_modules/assemblyscript/package.json', import.meta.url);
    version = (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
  } catch {
    return null; // not installed (a production install)
  }
  const key = createHash('sha256')
    .update(AS_SOURCE + version)
    .digest('hex')
    .slice(0, 16);
  const file = join(tmpdir(), `memkit-itcms-${key}.wasm`);
  if (!existsSync(file)) {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', COMPILE_SCRIPT, file], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      input: AS_SOURCE,
      stdio: ['pipe', 'inherit', 'inherit'],
    });
    if (r.status !== 0 || !existsSync(file)) return null;
  }
  const binary: Uint8Array = readFileSync(file);
  const { instance } = (await WebAssembly.instantiate(new Uint8Array(binary), {
    env: {
      abort: () => {
        throw new Error('AssemblyScript abort');
      },
      seed: () => 1,
    },
  })) as unknown as WebAssembly.WebAssemblyInstantiatedSource;
  return instance.exports as unknown as ItcmsExports;
}

/** Timings of one structure: ManagedHeap collect() and ITCMS __collect(), ms. */
export interface CollectRow {
  name: string;
  liveObjects: number;
  heapMs: number[];
  itcmsMs: number[];
  /**
   * The same collections in process CPU time (user + system), ms: on a
   * shared machine the wall time also counts the time the thread waited
   * for a core.
   */
  heapCpuMs: number[];
  /**
   * A second collect() right after each timed one, with nothing in between:
   * the structure is still in the caches (L2 and the large shared L3 of a
   * server), where the timed one finds it evicted by ITCMS's collect of its
   * own copy. What the mark loop costs apart from reading the heap from
   * memory; the goal is judged on heapMs, the cold one, as a program's own
   * work between collections evicts the heap too.
   */
  warmMs: number[];
  /**
   * Longest step of the incremental cycles over the same structure after the first
   * (default step budget), wall ms: as binary-trees' max pause, measured once the
   * step code is optimized.
   */
  incrementalMaxStepMs: number;
  /** 99th percentile of those steps, wall ms. */
  incrementalP99StepMs: number;
  /** Longest step of the first cycle (cold code: the step paths run unoptimized at first). */
  incrementalColdMaxStepMs: number;
}

const LIST_N = 1_000_000;
const TREE_DEPTH = 19; // 2^20 - 1 nodes
const ARRAYS = [1000, 999] as const; // 1000 arrays of 999 refs: 1000 + 999,000 + 1 objects
/** Incremental cycles timed per structure after the first, cold one. */
const INCREMENTAL_CYCLES = 3;

/** The full-collect structures (bench/gc-prof.ts builds them too): a 1M-object list from global 'root'. */
export function buildList(heap: ManagedHeap): void {
  const Node = heap.defineType('Node', { next: 'ref', value: 'i32' });
  const { next } = Node.fields;
  let cur = Node.alloc();
  heap.setGlobal('root', cur);
  for (let i = 1; i < LIST_N; i++) {
    const n = Node.alloc();
    next.set(cur, n);
    cur = n;
  }
}

/** A complete binary tree of 2^20 - 1 nodes from global 'root'. */
export function buildTree(heap: ManagedHeap): void {
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
  fill(root, TREE_DEPTH);
}

/** 1000 arrays of 999 refs to small objects, from global 'root'. */
export function buildArrays(heap: ManagedHeap): void {
  const Node = heap.defineType('Node', { next: 'ref', value: 'i32' });
  const Refs = heap.defineArray('Refs', 'ref');
  const outer = Refs.alloc(ARRAYS[0]);
  heap.setGlobal('root', outer);
  for (let i = 0; i < ARRAYS[0]; i++) {
    const a = Refs.alloc(ARRAYS[1]);
    Refs.set(outer, i, a);
    for (let j = 0; j < ARRAYS[1]; j++) Refs.set(a, j, Node.alloc());
  }
}

/** Builds each structure in a fresh heap, then times full collections, alternating with ITCMS. */
export async function measureCollect(repeats: number): Promise<CollectRow[]> {
  const as = await itcms();
  const rows: CollectRow[] = [];
  const shapes: Array<[string, (heap: ManagedHeap) => void, (() => void) | null]> = [
    ['1M-object list', buildList, as === null ? null : () => as.buildList(LIST_N)],
    ['1M-node binary tree', buildTree, as === null ? null : () => as.buildTree(TREE_DEPTH)],
    ['1000 arrays of 999 refs', buildArrays, as === null ? null : () => as.buildArrays(ARRAYS[0], ARRAYS[1])],
  ];
  for (const [name, build, buildAs] of shapes) {
    const heap = new ManagedHeap({ bytes: 96 << 20, autoCollect: false });
    build(heap);
    heap.collect();
    if (buildAs !== null) {
      as!.clear();
      as!.__collect();
      buildAs();
      as!.__collect();
    }
    const heapMs: number[] = [];
    const itcmsMs: number[] = [];
    const heapCpuMs: number[] = [];
    const warmMs: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const c0 = cpuMs();
      let t0 = performance.now();
      heap.collect();
      heapMs.push(performance.now() - t0);
      heapCpuMs.push(cpuMs() - c0);
      t0 = performance.now();
      heap.collect();
      warmMs.push(performance.now() - t0);
      if (buildAs !== null) {
        t0 = performance.now();
        as!.__collect();
        itcmsMs.push(performance.now() - t0);
      }
    }
    const pauses: number[] = [];
    const inc = new ManagedHeap({
      bytes: 96 << 20,
      autoCollect: false,
      incremental: true,
      onPause: (ms) => pauses.push(ms),
    });
    build(inc);
    inc.collect();
    // The first cycle runs the step paths cold (`bench/gc-steps.ts` shows the same
    // for binary-trees); its longest step is kept apart, then INCREMENTAL_CYCLES more.
    pauses.length = 0;
    while (!inc.step()) {
      /* one cycle in default-sized steps */
    }
    const coldMax = Math.max(...pauses);
    pauses.length = 0;
    for (let i = 0; i < INCREMENTAL_CYCLES; i++) {
      while (!inc.step()) {
        /* one cycle in default-sized steps */
      }
    }
    rows.push({
      name,
      liveObjects: heap.stats().liveObjects,
      heapMs,
      itcmsMs,
      heapCpuMs,
      warmMs,
      incrementalMaxStepMs: Math.max(...pauses),
      incrementalP99StepMs: quantile(
        [...pauses].sort((a, b) => a - b),
        0.99,
      ),
      incrementalColdMaxStepMs: coldMax,
    });
  }
  if (as !== null) as.clear();
  return rows;
}

function formatCollect(rows: CollectRow[]): string {
  const med = (xs: number[]): number =>
    quantile(
      [...xs].sort((a, b) => a - b),
      0.5,
    );
  const min = (xs: number[]): number => Math.min(...xs);
  const lines = [
    '## full collect() of live objects vs AssemblyScript ITCMS __collect() (same run, alternating)',
    '',
    "(Each timed collect finds its heap out of the caches, evicted by ITCMS's collect in between, as a",
    "program's own work would; 'back to back' is a second collect right after it, the heap still cached.)",
    '',
  ];
  const head = [
    '',
    'live objects',
    'ManagedHeap ms (min / median)',
    'CPU ms (min / median)',
    'back to back, ms (median)',
    'ITCMS ms (min / median)',
    'ITCMS ÷ ManagedHeap (median)',
    'incremental step ms (max / p99; first cycle max)',
  ];
  const body = rows.map((r) => [
    r.name,
    String(r.liveObjects),
    `${min(r.heapMs).toFixed(1)} / ${med(r.heapMs).toFixed(1)}`,
    `${min(r.heapCpuMs).toFixed(1)} / ${med(r.heapCpuMs).toFixed(1)}`,
    med(r.warmMs).toFixed(1),
    r.itcmsMs.length === 0 ? 'n/a' : `${min(r.itcmsMs).toFixed(1)} / ${med(r.itcmsMs).toFixed(1)}`,
    r.itcmsMs.length === 0 ? 'n/a' : formatRatio(med(r.itcmsMs.map((t, i) => t / r.heapMs[i]!))),
    `${r.incrementalMaxStepMs.toFixed(2)} / ${r.incrementalP99StepMs.toFixed(2)}; ${r.incrementalColdMaxStepMs.toFixed(2)}`,
  ]);
  const widths = head.map((h, j) => Math.max(h.length, ...body.map((b) => b[j]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join('  ');
  lines.push(line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line), '');
  for (const r of rows) {
    const m = med(r.heapMs);
    const cpu = med(r.heapCpuMs);
    lines.push(
      `goal (${r.name}): <= 5 ms: median ${m.toFixed(1)} ms wall (${cpu.toFixed(1)} ms CPU) ${m <= 5 ? 'MET' : 'NOT MET'}; ahead of ITCMS: ` +
        (r.itcmsMs.length === 0
          ? 'n/a (assemblyscript not installed)'
          : med(r.itcmsMs.map((t, i) => t / r.heapMs[i]!)) > 1
            ? 'MET'
            : 'NOT MET'),
    );
  }
  return lines.join('\n');
}

function collectCases(rows: CollectRow[]): CaseResult[] {
  const med = (xs: number[]): number =>
    quantile(
      [...xs].sort((a, b) => a - b),
      0.5,
    );
  return rows.map((r): CaseResult => {
    const ratio = r.itcmsMs.length === 0 ? NaN : med(r.itcmsMs.map((t, i) => t / r.heapMs[i]!));
    const rowsOut: RowResult[] = [
      {
        name: 'ManagedHeap collect()',
        role: 'memkit',
        opsPerSec: 1000 / med(r.heapMs),
        spread: 0,
        memkitOver: 1,
        opsPerRound: 1,
        metrics: {
          medianMs: med(r.heapMs),
          backToBackMedianMs: med(r.warmMs),
          incrementalMaxStepMs: r.incrementalMaxStepMs,
          incrementalP99StepMs: r.incrementalP99StepMs,
          incrementalColdMaxStepMs: r.incrementalColdMaxStepMs,
        },
      },
    ];
    if (r.itcmsMs.length > 0) {
      rowsOut.push({
        name: 'AssemblyScript ITCMS __collect()',
        role: 'peer',
        opsPerSec: 1000 / med(r.itcmsMs),
        spread: 0,
        memkitOver: ratio,
        opsPerRound: 1,
        metrics: { medianMs: med(r.itcmsMs) },
      });
    }
    return {
      name: `full collect, ${r.name}`,
      unit: 'collections',
      reference: 'ManagedHeap collect()',
      rows: rowsOut,
      goals:
        r.itcmsMs.length === 0
          ? []
          : [
              {
                subject: 'ManagedHeap collect()',
                vs: 'AssemblyScript ITCMS __collect()',
                atLeast: 1,
                text: 'ahead of ITCMS',
                ratio,
                met: ratio >= 1,
              },
            ],
    };
  });
}

/** Entry point for `bench/index.ts`. */
export async function run(options: BenchOptions = DEFAULT_OPTIONS): Promise<CaseResult[]> {
  const env = process.env.MEMKIT_BT_DEPTH;
  const depths = env !== undefined ? env.split(',').map(Number) : options.quick ? [10] : [16, 18];
  const rounds = Number(process.env.MEMKIT_BT_ROUNDS ?? (options.quick ? 2 : 3));
  const out: CaseResult[] = [];
  for (const depth of depths) {
    const r = await measureBinaryTrees(depth, depth >= 18 ? Math.max(1, rounds - 1) : rounds);
    console.log(formatBinaryTrees(r) + '\n');
    out.push(toCaseResult(r));
  }
  out.push(...(await runCases(rootCases(), options)));
  const collect = await measureCollect(options.quick ? 3 : 9);
  console.log(formatCollect(collect) + '\n');
  out.push(...collectCases(collect));
  return out;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await run();
}
