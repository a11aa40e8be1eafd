/**
 * Instructions and cache misses per operation of kmalloc on a replay, counted
 * by valgrind's cachegrind (not part of `npm run bench`; needs `valgrind`, a
 * Debian package). Counts do not swing with the machine's load as times do,
 * so a change of a few percent shows: the way to see what a check or a
 * V8 inlining decision costs (docs/tlsf.md, docs/kmalloc.md).
 *
 * ```
 * npx tsx bench/kmalloc-count.ts [dir=.] [random|<trace.rep.gz>]
 * ```
 * `dir` is a source tree (this repository, or a snapshot of another
 * revision with this file copied into its bench/). The script bundles itself
 * from `dir` with esbuild, runs the bundle under cachegrind for 2 and for 6
 * passes of the replay on one heap (`node --no-concurrent-recompilation`, so
 * V8 compiles at the same points each run), and prints the difference per
 * operation: x86 instructions, D1 read and write misses, and misses of a
 * simulated 1 MiB L2 (`--LL=1048576,16,64`). Start-up, parsing and the first
 * pass's compilation cancel out. Two runs of the same tree differ by about
 * 10 instructions an operation.
 *
 * @module
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kmalloc } from '../src/kmalloc/index.js';
import { OpKind } from '../src/trace/index.js';
import { heapBytes } from './replay.js';
import { type Script, randomScript, traceScript } from './workload.js';

/** A Kmalloc for a script's replay (as the bench makes it). */
export function make(script: Script): Kmalloc {
  return new Kmalloc({ bytes: heapBytes(script), maxBytes: 2 ** 31 });
}

/** One pass of the script; `addr` holds each block's address by id. Returns an XOR of the addresses. */
export function pass(a: Kmalloc, s: Script, addr: Float64Array): number {
  let x = 0;
  const { kind, id, size } = s;
  for (let i = 0; i < kind.length; i++) {
    const k = kind[i];
    const b = id[i]!;
    if (k === OpKind.Alloc) {
      const p = a.alloc(size[i]!);
      addr[b] = p;
      x ^= p;
    } else if (k === OpKind.Free) a.free(addr[b]!);
    else addr[b] = a.realloc(addr[b]!, size[i]!);
  }
  return x;
}

/** The script named on the command line: the bench's random workload, or a trace file. */
export async function scriptOf(which: string): Promise<Script> {
  return which === 'random' ? randomScript(400_000) : traceScript(which);
}

const self = fileURLToPath(import.meta.url);

async function replay(passes: number, which: string): Promise<void> {
  const s = await scriptOf(which);
  const k = make(s);
  const addr = new Float64Array(s.ids);
  let x = 0;
  for (let r = 0; r < passes; r++) x ^= pass(k, s, addr);
  console.log(`${passes} passes, ${s.kind.length} ops a pass, ${x}`);
}

function count(dir: string, which: string): void {
  const out = mkdtempSync(join(tmpdir(), 'memkit-count-'));
  try {
    const bundle = join(out, 'count.mjs');
    const esbuild = join(fileURLToPath(new URL('..', import.meta.url)), 'node_modules', '.bin', 'esbuild');
    execFileSync(esbuild, [
      join(dir, 'bench', 'kmalloc-count.ts'),
      '--bundle',
      '--platform=node',
      '--format=esm',
      `--outfile=${bundle}`,
      '--log-level=error',
    ]);
    const run = (passes: number): string => {
      const r = spawnSync(
        'valgrind',
        [
          '--tool=cachegrind',
          '--cache-sim=yes',
          '--LL=1048576,16,64',
          '--cachegrind-out-file=/dev/null',
          '--smc-check=all-non-file',
          'node',
          '--no-concurrent-recompilation',
          bundle,
          '--replay',
          String(passes),
          which,
        ],
        { encoding: 'utf8', maxBuffer: 1 << 26 },
      );
      if (r.error !== undefined) throw new Error(`valgrind did not run (apt-get install valgrind): ${r.error.message}`);
      if (r.status !== 0) throw new Error(`the replay under valgrind failed:\n${r.stderr}`);
      return r.stdout + r.stderr; // the replay's line, then valgrind's summary
    };
    const parse = (text: string) => {
      const nums = (label: RegExp) =>
        (label.exec(text)?.[1] ?? '')
          .replace(/,/g, '')
          .split(/\D+/)
          .filter((x) => x !== '')
          .map(Number);
      const ops = Number(/(\d+) ops a pass/.exec(text)?.[1]);
      return {
        ops,
        i: nums(/I\s+refs:\s+([\d,]+)/)[0]!,
        d1: nums(/D1\s+misses:\s+(.*)/),
        ll: nums(/LLd\s+misses:\s+(.*)/),
      };
    };
    const a = parse(run(2));
    const b = parse(run(6));
    const per = (x: number, y: number) => ((y - x) / (4 * a.ops)).toFixed(2);
    console.log(
      `${dir} ${which}: ${per(a.i, b.i)} instructions an op; D1 misses ${per(a.d1[1]!, b.d1[1]!)} reads, ${per(a.d1[2]!, b.d1[2]!)} writes; ` +
        `1 MiB L2 misses ${per(a.ll[1]!, b.ll[1]!)} reads, ${per(a.ll[2]!, b.ll[2]!)} writes (passes 3-6, ${a.ops} ops a pass)`,
    );
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

const args = process.argv.slice(2);
if (args[0] === '--replay') await replay(Number(args[1]), args[2] ?? 'random');
else if (process.argv[1] !== undefined && resolve(process.argv[1]) === self)
  count(resolve(args[0] ?? '.'), args[1] ?? 'random');
