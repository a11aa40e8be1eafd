/**
 * Side-by-side replay (issue 11): each script (a trace of a real program, or
 * the random 8..4096 B workload) replayed through memkit's Kmalloc, the TLSF
 * allocator compiled to WebAssembly (src/peers/tlsf.ts), and glibc's malloc
 * when the system has gcc (bench/glibc-replay.c, built on the fly into a
 * temporary directory; only its replay loop is timed, by itself).
 *
 * How it measures: each contender has its own copy of the replay loop (a
 * `new Function`, so its call sites stay monomorphic) and calls the API as the
 * README teaches it (`k.alloc(size)`, `k.free(p)`, `k.realloc(p, size)`).
 * Each JavaScript contender first runs untimed passes until its speed stops
 * improving (warmUp: V8 compiles a JS allocator's rarer paths over the first
 * few million ops). A pass replays the script enough times over to make at
 * least 2 M ops (repeatsOf). A round makes one pass per JavaScript
 * contender, in an order rotated from round to round; the native passes are
 * timed in one run of their own program, before the rounds (glibcSide says
 * why). The figure is the median over rounds, and a ratio is the median over
 * rounds of the ratio within the round, so load from other processes that
 * drifts over the run cancels out. Utilization is peak live
 * payload / peak footprint over one pass on a fresh allocator (glibc:
 * mallinfo2's arena + mmapped bytes).
 *
 * A second, steadier figure beside it: the ratio of the contenders' best
 * (minimum) CPU time per pass (`process.cpuUsage`, the whole process, so V8's
 * compiler and GC threads count; JavaScript sides only). Load on the other core
 * moves wall-clock rounds by tens of percent on a 2-core VM; the minimum CPU
 * time of a pass moves much less. The goal is judged on the median ratio.
 *
 * @module
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kmalloc } from '../src/kmalloc/index.js';
import type { ByteAllocator } from '../src/memory/index.js';
import { createTlsfAllocator } from '../src/peers/tlsf.js';
import { OpKind } from '../src/trace/index.js';
import { BareTlsf } from './bare-tlsf.js';
import { formatRatio, freshLoop, type CaseResult, type RowResult } from './harness.js';
import { measureUtilization, type Script } from './workload.js';

/** Row names. */
export const KMALLOC = 'memkit Kmalloc';
export const TLSF = 'TLSF (AssemblyScript, wasm)';
export const GLIBC = 'glibc malloc (native C)';
export const BARE = 'bare JS TLSF, no checks (bench/bare-tlsf.ts)';

type Loop = (a: ByteAllocator, kind: Uint8Array, id: Int32Array, size: Uint32Array, addr: Float64Array) => number;

/** A fresh copy of the replay loop (own type feedback: monomorphic per contender; see freshLoop). */
function makeLoop(): Loop {
  return freshLoop<Loop>(
    ['a', 'kind', 'id', 'size', 'addr'],
    `
    let s = 0;
    const n = kind.length;
    for (let i = 0; i < n; i++) {
      const k = kind[i], b = id[i];
      if (k === ${OpKind.Alloc}) { const p = a.alloc(size[i]); addr[b] = p; s ^= p; }
      else if (k === ${OpKind.Free}) a.free(addr[b]);
      else addr[b] = a.realloc(addr[b], size[i]);
    }
    return s;`,
  );
}

/** The native replayer, built once per process; null without gcc. */
let glibcBinary: string | null | undefined;
let tempDir: string | null = null;

function buildGlibc(): string | null {
  if (glibcBinary !== undefined) return glibcBinary;
  glibcBinary = null;
  try {
    tempDir = mkdtempSync(join(tmpdir(), 'memkit-glibc-'));
    const out = join(tempDir, 'glibc-replay');
    const src = fileURLToPath(new URL('./glibc-replay.c', import.meta.url));
    execFileSync('gcc', ['-O2', '-o', out, src], { stdio: 'pipe' });
    glibcBinary = out;
  } catch {
    glibcBinary = null;
  }
  return glibcBinary;
}

/** Removes the temporary directory of the native replayer. */
export function cleanupGlibc(): void {
  if (tempDir !== null) rmSync(tempDir, { recursive: true, force: true });
  tempDir = null;
  glibcBinary = undefined;
}

/** Writes `s` in the native replayer's format; returns the file path. */
function writeScript(s: Script): string {
  const n = s.kind.length;
  const pad = (4 - (n & 3)) & 3;
  const buf = Buffer.alloc(8 + n + pad + 8 * n);
  buf.writeUInt32LE(n, 0);
  buf.writeUInt32LE(s.ids, 4);
  Buffer.from(s.kind.buffer, s.kind.byteOffset, n).copy(buf, 8);
  Buffer.from(s.id.buffer, s.id.byteOffset, 4 * n).copy(buf, 8 + n + pad);
  Buffer.from(s.size.buffer, s.size.byteOffset, 4 * n).copy(buf, 8 + n + pad + 4 * n);
  const path = join(tempDir!, `${s.name.replace(/[^\w.-]/g, '_')}.ops`);
  writeFileSync(path, buf);
  return path;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** One contender of a side-by-side replay. */
interface Side {
  name: string;
  role: 'memkit' | 'peer' | 'bound';
  /** Replays the script once; returns the seconds it took. */
  pass(): number;
  /** CPU seconds of the last pass (the whole process); NaN for the native side. */
  cpu: number;
  utilization: number;
  /** Untimed passes run before the rounds (see warmUp). */
  warmPasses: number;
}

/**
 * A pass replays the script this many times over (at least REPEAT_OPS ops):
 * a 300 k-op trace replays in 7 ms, shorter than the scheduler's slice on a
 * loaded 2-core VM, so one preemption decided a round.
 */
const REPEAT_OPS = 2_000_000;
/** Warm-up: at least MIN_WARM_PASSES passes, then until a pass is no faster than 0.95x the best before it, twice running, or MAX_WARM_PASSES. */
const MIN_WARM_PASSES = 4;
const MAX_WARM_PASSES = 12;

/** The number of times a pass replays `s` (once with `--quick`: a smoke test). */
export function repeatsOf(s: Script, quick = false): number {
  return quick ? 1 : Math.max(1, Math.round(REPEAT_OPS / s.kind.length));
}

/**
 * Untimed passes until the side's speed stops improving. One pass is not
 * enough for a JavaScript allocator: V8 compiles its rarely taken paths
 * (a new page, a page given back, realloc's moves) only after enough calls
 * of each, over the first few million ops (`node --trace-opt` on gcc-cc1:
 * `allocSmall`, `newPage`, `releasePage`, `shrinkSpare` optimized in the
 * third to the fourth pass, `freeRest` in the seventh, the pass time falling
 * from 29-41 ms to 7 ms), and a long-running
 * program runs them optimized. Every side gets the same rule.
 */
export function warmUp(side: Pick<Side, 'pass' | 'warmPasses'>, quick: boolean): void {
  let best = Infinity;
  let calm = 0;
  let n = 0;
  while ((calm < 2 || n < MIN_WARM_PASSES) && n < (quick ? 1 : MAX_WARM_PASSES)) {
    const t = side.pass();
    n++;
    calm = t < best * 0.95 ? 0 : calm + 1;
    best = Math.min(best, t);
  }
  side.warmPasses = n;
}

async function jsSide(
  quick: boolean,
  name: string,
  role: 'memkit' | 'peer' | 'bound',
  s: Script,
  make: () => ByteAllocator | Promise<ByteAllocator>,
): Promise<Side> {
  const utilization = await measureUtilization(s, await make());
  const a = await make();
  const loop = makeLoop();
  const addr = new Float64Array(s.ids);
  const repeats = repeatsOf(s, quick);
  let sink = 0;
  const side: Side = {
    name,
    role,
    utilization,
    cpu: NaN,
    warmPasses: 0,
    pass() {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (let r = 0; r < repeats; r++) sink ^= loop(a, s.kind, s.id, s.size, addr);
      const dt = (performance.now() - t0) / 1000;
      const c = process.cpuUsage(c0);
      side.cpu = (c.user + c.system) / 1e6;
      if (sink === 0x7fffffff) console.log('');
      return dt;
    },
  };
  warmUp(side, quick); // the first pass also lays the heap out
  return side;
}

/**
 * The native side. Its passes are all timed in one run of the native
 * program, before the JavaScript rounds, so that no process is created
 * between two JavaScript passes (where a fork may write-protect this
 * process's pages for the next pass to fault back: a scratch test with a
 * spawn between passes was too noisy to say by how much), and because the
 * drift that rotating the order cancels is the JavaScript sides'. pass()
 * hands those times out in order.
 */
function glibcSide(s: Script, bin: string, rounds: number, quick: boolean): Side {
  const file = writeScript(s);
  const u = spawnSync(bin, [file, 'util'], { encoding: 'utf8' });
  const repeats = repeatsOf(s, quick);
  // One warm-up pass, then rounds x repeats timed passes of the script, one line each (ns).
  const r = spawnSync(bin, [file, 'time', String(rounds * repeats)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`glibc-replay failed: ${r.stderr}`);
  const ns = r.stdout.trim().split('\n').map(Number);
  let next = 0;
  return {
    name: GLIBC,
    role: 'peer',
    utilization: Number(u.stdout.trim()),
    cpu: NaN,
    warmPasses: 1, // the native program's own untimed pass
    pass() {
      let t = 0;
      for (let i = 0; i < repeats; i++) t += ns[next++]!;
      return t / 1e9;
    },
  };
}

/** Heap bytes for a script: twice its peak payload, at least 1 MiB (the replay CLI's rule). */
export function heapBytes(s: Script): number {
  return Math.max(1 << 20, Math.ceil((2 * s.peakPayload) / 65536) * 65536);
}

/**
 * Replays `s` side by side through Kmalloc, TLSF-in-wasm and (with gcc)
 * glibc, `rounds` rounds; returns the case as the harness reports cases.
 * The random workload also gets the bare JS TLSF of bench/bare-tlsf.ts, as
 * a bound: the most a JS TLSF could gain on TLSF-in-wasm there.
 */
export async function replaySideBySide(
  s: Script,
  rounds: number,
  kmallocOptions: object = {},
  quick = false,
): Promise<CaseResult> {
  const bytes = heapBytes(s);
  const sides: Side[] = [
    await jsSide(quick, KMALLOC, 'memkit', s, () => new Kmalloc({ bytes, maxBytes: 2 ** 31, ...kmallocOptions })),
    await jsSide(quick, TLSF, 'peer', s, () => createTlsfAllocator(bytes)),
  ];
  // The random workload is TLSF's (88% of its sizes): how fast a JS TLSF can be at all.
  if (s.name.startsWith('random')) sides.push(await jsSide(quick, BARE, 'bound', s, () => new BareTlsf(bytes)));
  const bin = buildGlibc();
  if (bin !== null) sides.push(glibcSide(s, bin, rounds, quick));
  const secs: number[][] = sides.map(() => []);
  const bestCpu = sides.map(() => Infinity);
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < sides.length; j++) {
      const i = (j + r) % sides.length;
      secs[i]!.push(sides[i]!.pass());
      bestCpu[i] = Math.min(bestCpu[i]!, sides[i]!.cpu);
    }
  }
  const ops = s.kind.length * repeatsOf(s, quick);
  const rate = secs.map((xs) => xs.map((t) => ops / t));
  const ratio = (a: number, b: number): number[] => rate[a]!.map((x, r) => x / rate[b]![r]!);
  const rows: RowResult[] = sides.map((side, i) => ({
    name: side.name,
    role: side.role,
    opsPerSec: median(rate[i]!),
    spread: (Math.max(...rate[i]!) - Math.min(...rate[i]!)) / 2 / median(rate[i]!),
    memkitOver: median(ratio(0, i)),
    opsPerRound: ops,
    metrics: {
      utilization: side.utilization,
      ratioMin: Math.min(...ratio(0, i)),
      ratioMax: Math.max(...ratio(0, i)),
      ratioBestCpu: bestCpu[i]! / bestCpu[0]!, // NaN for the native side
      warmPasses: side.warmPasses,
    },
  }));
  const vsTlsf = median(ratio(0, 1));
  const utilOk = sides[0]!.utilization >= sides[1]!.utilization - 0.01;
  return {
    name: `kmalloc replay: ${s.name} (${(ops / 1e6).toFixed(2)} M ops a pass, ${rounds} rounds)`,
    unit: 'ops',
    reference: KMALLOC,
    rows,
    goals: [
      {
        subject: KMALLOC,
        vs: TLSF,
        atLeast: 1.5,
        text: `at least 1.5x TLSF-in-wasm's ops/s (goal 2x), utilization >= TLSF's - 0.01 (${utilOk ? 'yes' : 'NO'})`,
        ratio: vsTlsf,
        met: vsTlsf >= 1.5 && utilOk,
      },
    ],
  };
}

/** One summary line per case: the figures issue 11 asks for. */
export function summaryTable(results: readonly CaseResult[]): string {
  const head = [
    'script',
    'kmalloc Mops/s',
    'TLSF Mops/s',
    'glibc Mops/s',
    'kmalloc/TLSF (min..max)',
    'by best CPU time',
    'util kmalloc',
    'util TLSF',
    'util glibc',
  ];
  const body = results.map((r) => {
    const row = (n: string): RowResult | undefined => r.rows.find((x) => x.name === n);
    const k = row(KMALLOC)!;
    const t = row(TLSF)!;
    const g = row(GLIBC);
    const m = (x: RowResult | undefined): string => (x === undefined ? '-' : (x.opsPerSec / 1e6).toFixed(1));
    const u = (x: RowResult | undefined): string => (x === undefined ? '-' : x.metrics.utilization!.toFixed(3));
    return [
      r.name.replace(/^kmalloc replay: /, '').replace(/ \(.*$/, ''),
      m(k),
      m(t),
      m(g),
      `${formatRatio(t.memkitOver)} (${formatRatio(t.metrics.ratioMin!)}..${formatRatio(t.metrics.ratioMax!)})`,
      formatRatio(t.metrics.ratioBestCpu!),
      u(k),
      u(t),
      u(g),
    ];
  });
  const widths = head.map((h, j) => Math.max(h.length, ...body.map((b) => b[j]!.length)));
  const line = (cells: string[]): string =>
    '| ' + cells.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join(' | ') + ' |';
  return [line(head), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...body.map(line)].join('\n');
}
