/**
 * The benchmark harness: measures several contenders of one case in ONE run,
 * interleaved, and prints ops/s with ratios (memkit vs the lower bound vs the
 * peers), never a lone absolute time.
 *
 * How a case is measured:
 *  1. Calibration (also the warm-up): each contender's `run(n)` is called with
 *     n = 1, 2, 4, ... until one call takes `roundMs / 4`; n is then scaled so
 *     that a round takes about `roundMs`.
 *  2. `rounds` rounds; in each, every contender runs once, in an order rotated
 *     from round to round, so drift (thermal, GC, other processes) hits all
 *     contenders alike.
 *     With `opsMultiple`, n is rounded up to a multiple of it.
 *  3. A contender's figure is the median of its rounds' ops/s; `spread` is
 *     half the range of the rounds over that median. A ratio between two
 *     rows is the median over rounds of their ratio within the round (they
 *     ran moments apart, so load that drifts over the run cancels out).
 *
 * A contender's `run(n)` performs `n` operations (the case's `unit`) with its
 * own loop, so each loop stays monomorphic and the harness's call costs
 * nothing per operation. State carries over between calls (a workload resumes
 * where it stopped).
 *
 * A bench module (`bench/<name>.ts`, run by `bench/index.ts`) exports
 * `run(options): Promise<CaseResult[]>`, usually `return runCases([...], options)`.
 *
 * @module
 */

/** What a row is: memkit itself, a hand-written lower bound, or a peer. */
export type Role = 'memkit' | 'bound' | 'peer';

/** One allocator (or loop) measured in a case. */
export interface Contender {
  /** Row label. */
  readonly name: string;
  /** memkit, lower bound, or peer. */
  readonly role: Role;
  /** Called once before calibration; not timed. */
  setup?(): void | Promise<void>;
  /**
   * Performs `n` operations; timed. May return a number (a checksum), which
   * the harness keeps so the work cannot be optimized away.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a contender's loop may return nothing, or a checksum
  run(n: number): number | void;
  /** Extra figures printed after ops/s (for example utilization). */
  metrics?(): Record<string, number>;
  /** Called once after measuring; not timed. */
  teardown?(): void;
}

/** A goal from an issue: `subject` at least `atLeast` times the ops/s of `vs`. */
export interface Goal {
  /** Row name of the subject (usually the memkit row). */
  readonly subject: string;
  /** Row name it is compared with. */
  readonly vs: string;
  /** Smallest acceptable ops/s ratio subject / vs (1/1.5 = "within 1.5x"). */
  readonly atLeast: number;
  /** How the goal reads in the issue ("within 1.5x of the bump loop"). */
  readonly text: string;
}

/** One benchmark case: the same work done by several contenders. */
export interface BenchCase {
  /** Case title. */
  readonly name: string;
  /** What one operation is ("alloc+free pairs", "ops"); default "ops". */
  readonly unit?: string;
  /** Rows, in print order. The first `memkit` row is the reference. */
  readonly contenders: readonly Contender[];
  /** Goals checked and printed under the table. */
  readonly goals?: readonly Goal[];
  /**
   * Rounds are a whole multiple of this many operations (for a cyclic
   * workload script: every contender then replays whole cycles, the same
   * operations from the same heap states, whatever its speed).
   */
  readonly opsMultiple?: number;
}

/** Options of a bench run. */
export interface BenchOptions {
  /** Target duration of one round of one contender, in ms. */
  readonly roundMs: number;
  /** Rounds per contender (the median is reported). */
  readonly rounds: number;
  /** A short run (smoke test): small rounds. */
  readonly quick: boolean;
}

/** Default options: 9 rounds of ~100 ms per contender. */
export const DEFAULT_OPTIONS: BenchOptions = { roundMs: 100, rounds: 9, quick: false };
/** Quick options (`--quick`): 3 rounds of ~15 ms, for a smoke test. */
export const QUICK_OPTIONS: BenchOptions = { roundMs: 15, rounds: 3, quick: true };

/** The measured figures of one contender. */
export interface RowResult {
  /** Row label. */
  readonly name: string;
  /** memkit, lower bound, or peer. */
  readonly role: Role;
  /** Median ops/s over the rounds. */
  readonly opsPerSec: number;
  /** Half the range of the rounds' ops/s over the median (0.02 = ±2%). */
  readonly spread: number;
  /**
   * Reference (memkit) ops/s over this row's, the median of the per-round
   * ratios: how many times faster memkit is.
   */
  readonly memkitOver: number;
  /** Operations per round after calibration. */
  readonly opsPerRound: number;
  /** Extra figures from `metrics()`. */
  readonly metrics: Record<string, number>;
}

/** The result of a goal. */
export interface GoalResult extends Goal {
  /** Measured ops/s ratio subject / vs (median of the per-round ratios). */
  readonly ratio: number;
  /** ratio >= atLeast. */
  readonly met: boolean;
}

/** The measured figures of one case. */
export interface CaseResult {
  /** Case title. */
  readonly name: string;
  /** What one operation is. */
  readonly unit: string;
  /** Name of the reference row (first memkit row), or "" if none. */
  readonly reference: string;
  /** One row per contender, in the case's order. */
  readonly rows: readonly RowResult[];
  /** Goals and whether they were met. */
  readonly goals: readonly GoalResult[];
}

/** Keeps contenders' checksums alive so their work is not optimized away. */
let sink = 0;

/** Returns the checksum sink (so nothing the harness keeps is dead code). */
export function benchSink(): number {
  return sink;
}

function timeRun(c: Contender, n: number): number {
  const t0 = performance.now();
  const r = c.run(n);
  const dt = performance.now() - t0;
  if (typeof r === 'number') sink = (sink + r) | 0;
  return dt;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Ops per round for `c`, found by doubling (this is also the warm-up). */
function calibrate(c: Contender, roundMs: number): number {
  let n = 1;
  for (;;) {
    const dt = timeRun(c, n);
    if (dt >= roundMs / 4 || n >= 2 ** 30) {
      const perOp = dt / n;
      return Math.max(1, Math.round(roundMs / Math.max(perOp, 1e-9)));
    }
    n *= 2;
  }
}

/** Measures one case (see the module comment for the method). */
export async function measureCase(bc: BenchCase, options: BenchOptions = DEFAULT_OPTIONS): Promise<CaseResult> {
  const cs = bc.contenders;
  for (const c of cs) await c.setup?.();
  const mult = bc.opsMultiple ?? 1;
  const perRound = cs.map((c) => Math.ceil(calibrate(c, options.roundMs) / mult) * mult);
  const samples: number[][] = cs.map(() => []);
  for (let r = 0; r < options.rounds; r++) {
    for (let k = 0; k < cs.length; k++) {
      const i = (k + r) % cs.length;
      const dt = timeRun(cs[i]!, perRound[i]!);
      samples[i]!.push((perRound[i]! * 1000) / Math.max(dt, 1e-6));
    }
  }
  const ops = samples.map(median);
  // A ratio is the median over rounds of the ratio within each round: the two
  // contenders ran close in time, so load that drifts over the run cancels.
  const pairedRatio = (a: number, b: number): number => median(samples[a]!.map((x, r) => x / samples[b]![r]!));
  const refIndex = cs.findIndex((c) => c.role === 'memkit');
  const rows: RowResult[] = cs.map((c, i) => {
    const s = samples[i]!;
    return {
      name: c.name,
      role: c.role,
      opsPerSec: ops[i]!,
      spread: (Math.max(...s) - Math.min(...s)) / 2 / ops[i]!,
      memkitOver: refIndex >= 0 ? pairedRatio(refIndex, i) : NaN,
      opsPerRound: perRound[i]!,
      metrics: c.metrics?.() ?? {},
    };
  });
  for (const c of cs) c.teardown?.();
  const index = new Map(cs.map((c, i) => [c.name, i]));
  const goals: GoalResult[] = (bc.goals ?? []).map((g) => {
    const a = index.get(g.subject);
    const b = index.get(g.vs);
    const ratio = a !== undefined && b !== undefined ? pairedRatio(a, b) : NaN;
    return { ...g, ratio, met: ratio >= g.atLeast };
  });
  return {
    name: bc.name,
    unit: bc.unit ?? 'ops',
    reference: refIndex >= 0 ? cs[refIndex]!.name : '',
    rows,
    goals,
  };
}

/** Formats a rate with an SI suffix: 12.3 M, 456 k. */
export function formatRate(x: number): string {
  if (!Number.isFinite(x)) return '-';
  if (x >= 1e9) return (x / 1e9).toFixed(2) + ' G';
  if (x >= 1e6) return (x / 1e6).toFixed(2) + ' M';
  if (x >= 1e3) return (x / 1e3).toFixed(1) + ' k';
  return x.toFixed(0) + ' ';
}

/** Formats a ratio: 1.00x, 23.4x, 0.712x, 0.00412x. */
export function formatRatio(x: number): string {
  if (!Number.isFinite(x)) return '-';
  return (x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toPrecision(3)) + 'x';
}

/** Renders a case's table and its goals as text. */
export function formatCase(r: CaseResult): string {
  const metricKeys = [...new Set(r.rows.flatMap((row) => Object.keys(row.metrics)))];
  const head = ['', 'role', `${r.unit}/s`, '±', r.reference === '' ? 'ratio' : `${r.reference} ÷ row`, ...metricKeys];
  const body = r.rows.map((row) => [
    row.name,
    row.role,
    formatRate(row.opsPerSec),
    (row.spread * 100).toFixed(1) + '%',
    formatRatio(row.memkitOver),
    ...metricKeys.map((k) => {
      const v = row.metrics[k];
      return v === undefined ? '' : Number.isInteger(v) ? String(v) : v.toFixed(3);
    }),
  ]);
  const widths = head.map((h, j) => Math.max(h.length, ...body.map((b) => b[j]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join('  ');
  const out = [`## ${r.name}`, line(head), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const b of body) out.push(line(b));
  for (const g of r.goals) {
    out.push(
      `goal: ${g.subject} ${g.text}: ${g.subject} / ${g.vs} = ${formatRatio(g.ratio)} ` +
        `(need >= ${formatRatio(g.atLeast)}) ${g.met ? 'MET' : 'NOT MET'}`,
    );
  }
  return out.join('\n');
}

/** Measures each case in turn and prints its table as soon as it is done. */
export async function runCases(
  cases: readonly BenchCase[],
  options: BenchOptions = DEFAULT_OPTIONS,
): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const bc of cases) {
    const r = await measureCase(bc, options);
    console.log(formatCase(r) + '\n');
    results.push(r);
  }
  return results;
}

let copies = 0;

/**
 * A fresh copy of a timing loop, with type feedback of its own: each
 * contender's call sites then see one receiver class, as in a user's code.
 *
 * `new Function` alone is not enough: V8 caches compiled code by source text,
 * and closures made from one cached source share their feedback, so a second
 * `new Function` of the same text saw the first one's receivers (3+ classes
 * through one loop: megamorphic, nothing inlined; a push/pop pair behind
 * methods ran at 330 M/s instead of 560 M/s, and a step of bench/pair-steps.ts
 * at a third of its speed when it ran after the others). So each copy's source
 * carries a number of its own.
 */
export function freshLoop<F>(params: readonly string[], body: string): F {
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return new Function(...params, `// timing loop copy ${copies++}\n${body}`) as F;
}

/** Deterministic PRNG (mulberry32) for workloads every contender replays alike. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The contract of a bench module `bench/<name>.ts`. */
export interface BenchModule {
  /** Measures the module's cases (printing each table) and returns the results. */
  run(options: BenchOptions): Promise<CaseResult[]>;
}
