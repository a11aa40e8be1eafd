/**
 * A/B of two versions of kmalloc in ONE process (not part of `npm run bench`),
 * as bench/gc-ab.ts does for the collector: the two heaps alternate pass by
 * pass, so both see the same load.
 *
 * ```
 * npx tsx bench/kmalloc-ab.ts <revA> <revB> [passes=15] [random|<trace.rep.gz>]
 * ```
 * A rev is a git revision (its `src/`, `package.json` and `tsconfig.json` in a
 * temporary directory), `.` (the working tree) or a directory holding a source
 * tree. Each side gets this tree's bench/kmalloc-count.ts (the replay loop, so
 * both run the same loop, each its own copy: a monomorphic call site per side)
 * and its own module graph. Prints each side's median and best CPU time of a
 * pass, the median of the per-pass ratios B/A and the ratio of the minima.
 * The side loaded first has run slower by up to 10% in some processes: run
 * both orders and take both ratios (and, for small differences, count
 * instructions with bench/kmalloc-count.ts instead).
 *
 * @module
 */
import { execSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

type Count = typeof import('./kmalloc-count.js');

const repo = fileURLToPath(new URL('..', import.meta.url));

/** A directory holding `rev`'s sources, this tree's bench files the replay needs, and the repo's node_modules. */
function snapshot(rev: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'memkit-kab-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const parts = ['src', 'package.json', 'tsconfig.json'];
  if (rev === '.' || rev.startsWith('/')) {
    const from = rev === '.' ? repo : rev;
    for (const p of parts) cpSync(join(from, p), join(dir, p), { recursive: true });
  } else {
    execSync(`git archive ${JSON.stringify(rev)} ${parts.join(' ')} | tar -x -C ${JSON.stringify(dir)}`, {
      cwd: repo,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  mkdirSync(join(dir, 'bench'));
  for (const f of ['kmalloc-count.ts', 'workload.ts', 'replay.ts', 'harness.ts', 'bare-tlsf.ts'])
    cpSync(join(repo, 'bench', f), join(dir, 'bench', f));
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function main(): Promise<void> {
  const [revA = 'HEAD', revB = '.', passArg = '15', which = 'random'] = process.argv.slice(2);
  const passes = Number(passArg);
  const sides: { rev: string; m: Count; heap: ReturnType<Count['make']>; addr: Float64Array; ms: number[] }[] = [];
  let script: Awaited<ReturnType<Count['scriptOf']>> | null = null;
  for (const rev of [revA, revB]) {
    const m = (await import(join(snapshot(rev), 'bench', 'kmalloc-count.ts'))) as Count;
    script ??= await m.scriptOf(which);
    sides.push({ rev, m, heap: m.make(script), addr: new Float64Array(script.ids), ms: [] });
  }
  const s = script!;
  for (let r = 0; r < passes + 3; r++) {
    for (const side of r % 2 === 0 ? sides : [...sides].reverse()) {
      const t0 = cpuMs();
      side.m.pass(side.heap, s, side.addr);
      if (r >= 3) side.ms.push(cpuMs() - t0); // three passes each to warm up
    }
  }
  for (const side of sides) {
    const ns = (median(side.ms) * 1e6) / s.kind.length;
    console.log(
      `${side.rev}: median ${median(side.ms).toFixed(1)} ms a pass (${ns.toFixed(1)} ns an op), best ${Math.min(...side.ms).toFixed(1)} ms`,
    );
  }
  const [a, b] = sides as [(typeof sides)[0], (typeof sides)[0]];
  const ratios = b.ms.map((t, i) => t / a.ms[i]!);
  console.log(
    `B/A (${b.rev} / ${a.rev}): median of per-pass ratios ${median(ratios).toFixed(3)}, of the minima ${(Math.min(...b.ms) / Math.min(...a.ms)).toFixed(3)}`,
  );
}

await main();
