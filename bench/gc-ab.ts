/**
 * A/B of two versions of the collector in ONE process (not part of
 * `npm run bench`): on a busy machine, two processes run minutes apart see
 * different loads, while two heaps alternated in one process see the same.
 *
 * ```
 * npx tsx bench/gc-ab.ts <revA> <revB> bt [depth=16] [rounds=5] [root|stack]
 * npx tsx bench/gc-ab.ts <revA> <revB> collect [list|tree|arrays] [collections=40]
 * ```
 * A rev is a git revision (a snapshot of its `src/`, `bench/`,
 * `package.json` and `tsconfig.json` in a temporary directory) or `.` (the
 * working tree). Each side has its own module graph, so V8 compiles its
 * code apart from the other's. A side must bring its `package.json` and
 * `tsconfig.json`: without them tsx compiles the snapshot differently (as
 * CommonJS, without the project's target), which once changed how often V8
 * allocated the Root handle. Run the same rev on both sides first: the B/A
 * ratio it prints is the noise floor (a few percent either way). Some JIT
 * outcomes are bimodal from process to process (whether V8's escape
 * analysis drops a handle, say): one process shows one mode, so also
 * compare across several processes (bench/gc.ts's rows, `--trace-gc`).
 *
 * `bt`: binary-trees as the bench runs it (README root() style by default),
 * sides alternating within each round, V8 objects once a round as the
 * reference; process CPU time. `collect`: warms each side's collector up on
 * small lists, trees and ref arrays (as `npm run bench` has with
 * binary-trees), builds the structure in one heap of each side, then
 * alternates full `collect()`s; wall time. Single processes still differ
 * by a few percent either way (and at times by up to 20% in favour of one
 * order): run both orders, several processes each, and take the
 * geometric mean of new/old.
 *
 * @module
 */
import { execSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

type Bench = typeof import('./gc.js');
type Gc = typeof import('../src/gc/index.js');

const repo = fileURLToPath(new URL('..', import.meta.url));

/** A directory holding `rev`'s src, bench and package files, with the repo's node_modules. */
function snapshot(rev: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'memkit-ab-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const parts = ['src', 'bench', 'package.json', 'tsconfig.json'];
  if (rev === '.') {
    for (const p of parts) cpSync(join(repo, p), join(dir, p), { recursive: true });
  } else {
    execSync(`git archive ${JSON.stringify(rev)} ${parts.join(' ')} | tar -x -C ${JSON.stringify(dir)}`, {
      cwd: repo,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

async function load(rev: string): Promise<{ rev: string; bench: Bench; gc: Gc }> {
  const dir = snapshot(rev);
  const bench = (await import(join(dir, 'bench', 'gc.ts'))) as Bench;
  const gc = (await import(join(dir, 'src', 'gc', 'index.ts'))) as Gc;
  return { rev, bench, gc };
}

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const range = (xs: number[]): string => `${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}`;

async function main(): Promise<void> {
  const [revA, revB, what = 'bt', arg, count, style = 'root'] = process.argv.slice(2);
  if (revA === undefined || revB === undefined || (what !== 'bt' && what !== 'collect')) {
    console.error('usage: npx tsx bench/gc-ab.ts <revA> <revB> bt [depth] [rounds] [root|stack]');
    console.error('       npx tsx bench/gc-ab.ts <revA> <revB> collect [list|tree|arrays] [collections]');
    process.exitCode = 2;
    return;
  }
  const sides = [await load(revA), await load(revB)];
  if (what === 'bt') {
    const depth = Number(arg ?? 16);
    const rounds = Number(count ?? 5);
    const st = style === 'stack' ? 'stack' : 'root';
    const bytes = Math.max(8 << 20, 16 * 2 ** (depth + 6)); // as bench/gc.ts
    for (let i = 0; i < 2; i++) {
      for (const s of sides) s.bench.binaryTreesHeap(new s.gc.ManagedHeap({ bytes: 8 << 20 }), 12, st);
      sides[0]!.bench.binaryTreesJs(12);
    }
    const t: number[][] = [[], []];
    const js: number[] = [];
    let identical = true;
    for (let r = 0; r < rounds; r++) {
      let c0 = cpuMs();
      const ref = sides[0]!.bench.binaryTreesJs(depth).join('\n');
      js.push(cpuMs() - c0);
      for (let k = 0; k < 2; k++) {
        const i = (k + r) % 2;
        const s = sides[i]!;
        c0 = cpuMs();
        const out = s.bench.binaryTreesHeap(new s.gc.ManagedHeap({ bytes }), depth, st).join('\n');
        t[i]!.push(cpuMs() - c0);
        identical &&= out === ref;
      }
    }
    const ratio = t[1]!.map((b, r) => b / t[0]![r]!);
    const [a, b, v8] = [quantile(t[0]!, 0.5), quantile(t[1]!, 0.5), quantile(js, 0.5)];
    console.log(
      `binary-trees depth ${depth}, ${st}() style, ${rounds} rounds, CPU ms median: ` +
        `A ${revA} ${a.toFixed(0)} (${(a / v8).toFixed(2)}x V8), B ${revB} ${b.toFixed(0)} (${(b / v8).toFixed(2)}x V8), ` +
        `V8 ${v8.toFixed(0)}; B/A median ${quantile(ratio, 0.5).toFixed(2)} [${range(ratio)}]; ` +
        `min A ${Math.min(...t[0]!).toFixed(0)}, B ${Math.min(...t[1]!).toFixed(0)}, V8 ${Math.min(...js).toFixed(0)} (B/A of the minima ${(Math.min(...t[1]!) / Math.min(...t[0]!)).toFixed(2)}); ` +
        `output identical to V8's: ${identical ? 'yes' : 'NO'}`,
    );
    if (!identical) process.exitCode = 1;
    return;
  }
  const shape = arg ?? 'tree';
  const n = Number(count ?? 40);
  // Warm the collector up on small structures of every shape first (as
  // `npm run bench` does with binary-trees): otherwise its first call is a
  // 1M-object marathon, compiled on-stack (OSR) half-way and deoptimized
  // after, and which code the later collections run differs from process
  // to process (a tree collect 25% apart: bimodal).
  for (const s of sides) warmUp(s.gc);
  const heaps = sides.map((s) => {
    const heap = new s.gc.ManagedHeap({ bytes: 96 << 20, autoCollect: false });
    (shape === 'list' ? s.bench.buildList : shape === 'arrays' ? s.bench.buildArrays : s.bench.buildTree)(heap);
    return heap;
  });
  const t: number[][] = [[], []];
  for (let r = 0; r < n; r++) {
    for (let k = 0; k < 2; k++) {
      const i = (k + r) % 2;
      const t0 = performance.now();
      heaps[i]!.collect();
      t[i]!.push(performance.now() - t0);
    }
  }
  const live = heaps.map((h) => h.stats().liveObjects);
  const ratio = t[1]!.map((b, r) => b / t[0]![r]!);
  const fmt = (xs: number[]): string =>
    `min ${quantile(xs, 0).toFixed(2)} p25 ${quantile(xs, 0.25).toFixed(2)} median ${quantile(xs, 0.5).toFixed(2)} ms`;
  console.log(
    `collect(), ${shape}, ${n} each: A ${revA} ${fmt(t[0]!)}; B ${revB} ${fmt(t[1]!)}; ` +
      `B/A median ${quantile(ratio, 0.5).toFixed(2)}; live objects ${live[0]} / ${live[1]}`,
  );
  if (live[0] !== live[1]) process.exitCode = 1;
}

/** Small lists, trees and ref arrays, collected often: the collector's code optimized with feedback from all of them. */
function warmUp(gc: Gc): void {
  const heap = new gc.ManagedHeap({ bytes: 8 << 20, autoCollect: false });
  const Node = heap.defineType('Node', { next: 'ref', value: 'i32' });
  const Tree = heap.defineType('Tree', { left: 'ref', right: 'ref' });
  const Refs = heap.defineArray('Refs', 'ref');
  let list = Node.alloc();
  heap.setGlobal('list', list);
  for (let i = 0; i < 2000; i++) {
    const c = Node.alloc();
    Node.fields.next.set(c, list);
    list = c;
    heap.setGlobal('list', list);
  }
  const tree = (d: number): number => {
    const t = Tree.alloc();
    if (d > 0) {
      heap.pushRoot(t);
      Tree.fields.left.set(t, tree(d - 1));
      Tree.fields.right.set(t, tree(d - 1));
      heap.popRoot();
    }
    return t;
  };
  heap.setGlobal('tree', tree(11));
  const outer = Refs.alloc(20);
  heap.setGlobal('arrays', outer);
  for (let i = 0; i < 20; i++) {
    const a = Refs.alloc(100);
    Refs.set(outer, i, a);
    for (let j = 0; j < 100; j++) Refs.set(a, j, Node.alloc());
  }
  for (let i = 0; i < 300; i++) heap.collect();
}

await main();
