/**
 * `npm run bench -- workers`: one Kmalloc heap in a SharedArrayBuffer used by
 * 1, 2 and 4 worker threads, on two workloads (bench/workers/native.c says
 * which), with three contenders: memkit as it is (per-worker pages), memkit
 * with one global lock word taken around every kmalloc and kfree (the naive
 * design), and glibc malloc from as many threads (built with the system's
 * gcc when there is one). Prints total ops/s (allocs + frees) and the scaling
 * against the smallest run. The single-threaded row is the same loop on a
 * non-shared heap in this thread: what the concurrency machinery costs.
 * With 1 and 2 workers the thread-local workload also runs, in each
 * repetition, in as many separate processes with a heap each (processes())
 * and, with 2, as two workers with a heap each in this process: what the
 * machine gives copies of the loop that share nothing, measured moments
 * apart from the shared heap.
 * The producer/consumer workload runs in pairs: 2 and 4 workers. A third
 * workload, thread-local with sizes 16 B .. 4 KiB, sets a shared heap with
 * maxClass 512 (sizes above it in the TLSF tier, under the heap lock) beside
 * the default maxClass 4096 (per-worker class pages for them too), with the
 * heap's footprint; and a thread-local 4 KiB-32 KiB workload (the TLSF tier:
 * per-worker TLSF heaps beside one global lock, 1 and 2 workers).
 * A last workload, the thread-local loop with no allocator in JS workers and C
 * threads, measures the machine's own scaling (the ceiling of the goal's).
 * `MEMKIT_WORKLOADS=local|pc|medium|tlsf|ceiling` runs one workload;
 * `MEMKIT_KMALLOC_OPTIONS='{"maxClass":64}'` measures another Kmalloc configuration.
 *
 * Goals (issue 12, on a 2-core machine): thread-local, 2 workers >= 1.7x one;
 * one worker >= 0.85x the single-threaded speed; producer/consumer >= 3x the
 * global-lock design.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Kmalloc, Memory } from '../src/index.js';
import { lock, unlock } from '../src/memory/lock.js';
import type { BenchOptions, CaseResult, RowResult } from './harness.js';
import { together } from './processes.js';
import { RING, controlBytes } from './ring.js';

const WINDOW = 1024;

/**
 * Untimed ops before a timed loop (each worker's, and the single-threaded
 * row's). V8 optimizes an allocator's rarer paths (a new page, a page given
 * back) only after many calls of each, over the first few million ops
 * (bench/replay.ts's warmUp says how it was seen); with 1 M, that compiling
 * went on in the timed loop, on the core a second worker needs. Thread-local
 * 2 workers / 1, five runs each on a quiet machine: 1.62x-1.84x (median
 * 1.74x) with 1 M, 1.61x-2.03x (median 1.82x) with 4 M.
 */
export const WARM_UP = 4_000_000;

/**
 * `x % span` for a uint32 `x` and a `span` below 2^15, in int32 arithmetic: the same
 * number. V8 takes `%` of a uint32 at or above 2^31 as a float remainder (x87 `fprem`:
 * a quarter of the producer's samples in a perf profile, and about half the time of the
 * thread-local loop), where native.c's is an integer division. Each step stays below 2^31.
 */
export function remainder(x: number, span: number): number {
  return ((((x >>> 16) % span) << 16) | (x & 0xffff)) % span;
}

const HEAP = 256 << 20;

interface Row {
  workload: string;
  contender: string;
  workers: number;
  opsPerSec: number;
  /** Ops per second of CPU time used by the whole process (all threads) while the workers ran. */
  opsPerCpuSec: number;
  /** The heap's footprint (bytes taken from the buddy) at the end of the timed loop, windows live. */
  footprint?: number;
}

/** A run's ops per wall-clock second and per CPU second, and the heap's footprint at its end. */
interface Rate {
  wall: number;
  cpu: number;
  footprint?: number;
}

/** The medium-size workload's largest size (the others: 16 B .. 512 B). */
const MEDIUM_MAX = 4096;

const KMALLOC_OPTIONS = JSON.parse(process.env.MEMKIT_KMALLOC_OPTIONS ?? '{}') as object;

function singleThreaded(ops: number): Rate {
  const k = new Kmalloc({ bytes: HEAP, ...KMALLOC_OPTIONS });
  const u8 = k.memory.u8;
  const win = new Float64Array(WINDOW);
  let seed = 12345;
  const next = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  const loop = (n: number): void => {
    for (let i = 0; i < n; i += 2) {
      const s = next() & (WINDOW - 1);
      if (win[s] !== 0) k.kfree(win[s]!);
      const p = k.kmalloc(16 + remainder(next(), 497));
      u8[p] = 1;
      win[s] = p;
    }
  };
  loop(WARM_UP); // warm-up, untimed, as each worker does
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  loop(ops);
  for (let s = 0; s < WINDOW; s++) if (win[s] !== 0) k.kfree(win[s]!);
  const c = process.cpuUsage(c0);
  return { wall: ops / ((performance.now() - t0) / 1000), cpu: ops / ((c.user + c.system) / 1e6) };
}

/**
 * Load-independent checks in this thread, timed by CPU time, the contenders
 * alternating round by round: (a) the thread-local loop on an unshared heap
 * and on a shared one through an attached instance (a worker slot with the
 * concurrency machinery on); (b) the producer/consumer pattern without
 * threads: one instance allocates 4096 blocks, another frees them all
 * (remote frees), per-worker and with a lock word taken around every call.
 * No core is contended here, so (b) leaves out what contention adds to the
 * global lock; it is what each design costs per operation.
 */
function inProcess(
  ops: number,
  rounds: number,
): { unshared: number; unsharedSame: number; shared: number; pcPerWorker: number; pcGlobal: number } {
  const cpu = (f: () => void): number => {
    const c0 = process.cpuUsage();
    f();
    const c = process.cpuUsage(c0);
    return ops / ((c.user + c.system) / 1e6);
  };
  const loop = (k: Kmalloc, seed0: number) => (): void => {
    const u8 = k.memory.u8;
    const win = new Float64Array(WINDOW);
    let seed = seed0;
    for (let i = 0; i < ops; i += 2) {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      const s = (seed >>> 0) & (WINDOW - 1);
      if (win[s] !== 0) k.kfree(win[s]!);
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      const p = k.kmalloc(16 + remainder(seed >>> 0, 497));
      u8[p] = 1;
      win[s] = p;
    }
    for (let s = 0; s < WINDOW; s++) if (win[s] !== 0) k.kfree(win[s]!);
  };
  const memory = Memory.create({ bytes: HEAP, shared: true });
  const maker = new Kmalloc({ memory, ...KMALLOC_OPTIONS });
  const unshared = new Kmalloc({ bytes: HEAP, ...KMALLOC_OPTIONS });
  // The same size classes as the shared heap (whose maxClass defaults to 512 B, not 64 B).
  const unsharedSame = new Kmalloc({ bytes: HEAP, ...KMALLOC_OPTIONS, maxClass: maker.maxClass });
  const worker = Kmalloc.attach(Memory.wrap(memory.buffer));
  const producer = Kmalloc.attach(Memory.wrap(memory.buffer));
  const consumer = Kmalloc.attach(Memory.wrap(memory.buffer));
  const lockWords = new Int32Array(new SharedArrayBuffer(8));
  const batch = new Float64Array(RING);
  const pc = (global: boolean) => (): void => {
    let seed = 777;
    const u8 = producer.memory.u8;
    for (let done = 0; done < ops; done += 2 * RING) {
      for (let i = 0; i < RING; i++) {
        seed ^= seed << 13;
        seed ^= seed >>> 17;
        seed ^= seed << 5;
        if (global) lock(lockWords, 0, 1);
        const p = producer.kmalloc(16 + remainder(seed >>> 0, 497));
        if (global) unlock(lockWords, 0, 1);
        u8[p] = 1;
        batch[i] = p;
      }
      for (let i = 0; i < RING; i++) {
        if (global) lock(lockWords, 0, 2);
        consumer.kfree(batch[i]!);
        if (global) unlock(lockWords, 0, 2);
      }
    }
  };
  const r = {
    unshared: [] as number[],
    unsharedSame: [] as number[],
    shared: [] as number[],
    pcPerWorker: [] as number[],
    pcGlobal: [] as number[],
  };
  const a = loop(unshared, 12345);
  const e = loop(unsharedSame, 12345);
  const b = loop(worker, 12345);
  const c = pc(false);
  const d = pc(true);
  for (let i = 0; i < rounds + 1; i++) {
    const x = [cpu(a), cpu(b), cpu(c), cpu(d), cpu(e)];
    if (i === 0) continue; // warm-up
    r.unshared.push(x[0]!);
    r.unsharedSame.push(x[4]!);
    r.shared.push(x[1]!);
    r.pcPerWorker.push(x[2]!);
    r.pcGlobal.push(x[3]!);
  }
  return {
    unshared: median(r.unshared),
    unsharedSame: median(r.unsharedSame),
    shared: median(r.shared),
    pcPerWorker: median(r.pcPerWorker),
    pcGlobal: median(r.pcGlobal),
  };
}

/** memkit()'s settings beyond the workload and the worker count. */
interface RunOptions {
  /** Sizes are minSize .. maxSize (default 16 .. 512 B). */
  maxSize?: number;
  minSize?: number;
  /** Kmalloc options of the heap (default MEMKIT_KMALLOC_OPTIONS). */
  options?: object;
  /** Runs once every worker has warmed up, just before the go (bench/workers/solo.ts waits there for its parent's go). */
  beforeStart?: () => Promise<void>;
  /** A heap of its own for each worker (in this one process) instead of one heap for all. */
  heapEach?: boolean;
}

/** A new shared Kmalloc heap; returns its buffer. */
function newHeap(options: object): SharedArrayBuffer {
  const memory = Memory.create({ bytes: HEAP, shared: true });
  new Kmalloc({ memory, ...options });
  return memory.buffer as SharedArrayBuffer;
}

/**
 * One run: a shared Kmalloc heap, `workers` workers on it (bench/workers/worker.ts),
 * timed from the go signal to the last worker's end.
 */
export async function memkit(
  mode: 'local' | 'pc' | 'spin',
  workers: number,
  ops: number,
  global: boolean,
  run: RunOptions = {},
): Promise<Rate> {
  const { maxSize = 512, minSize = 16, options = KMALLOC_OPTIONS, beforeStart, heapEach = false } = run;
  const shared = newHeap(options);
  const control = new SharedArrayBuffer(controlBytes(workers >> 1));
  const ctl = new Int32Array(control);
  const ws = Array.from({ length: workers }, (_, index) => {
    const role = mode === 'local' || mode === 'spin' ? mode : index % 2 === 0 ? 'producer' : 'consumer';
    return new Worker(new URL('./workers/worker.mjs', import.meta.url), {
      workerData: {
        heap: heapEach && index > 0 ? newHeap(options) : shared,
        control,
        mode: role,
        index,
        ops,
        global,
        maxSize,
        minSize,
      },
    });
  });
  const ready = ws.map(
    (w) =>
      new Promise((r, j) => {
        w.once('message', r);
        w.once('error', j);
      }),
  );
  await Promise.all(ready);
  if (beforeStart !== undefined) await beforeStart();
  const done = ws.map(
    (w) =>
      new Promise<{ ms: number; footprint: number }>((r, j) => {
        w.once('message', r);
        w.once('error', j);
      }),
  );
  const c0 = process.cpuUsage();
  Atomics.store(ctl, 0, 1);
  Atomics.notify(ctl, 0);
  const times = await Promise.all(done);
  const c = process.cpuUsage(c0);
  await Promise.all(ws.map((w) => w.terminate()));
  return {
    wall: (ops * workers) / (Math.max(...times.map((t) => t.ms)) / 1000),
    cpu: (ops * workers) / ((c.user + c.system) / 1e6),
    footprint: Math.max(...times.map((t) => t.footprint)),
  };
}

export function nativeBinary(): string | null {
  try {
    const dir = mkdtempSync(join(tmpdir(), 'memkit-native-'));
    const out = join(dir, 'native');
    execFileSync('gcc', ['-O2', '-pthread', fileURLToPath(new URL('./workers/native.c', import.meta.url)), '-o', out], {
      stdio: 'ignore',
    });
    return out;
  } catch {
    return null;
  }
}

/**
 * The host's core-to-core round trip now, ns: two C threads hand one cache line back and
 * forth (native.c's pingpong mode; the median of three probes of 200,000 round trips). On
 * this VM it moves between about 60 and about 320 ns from one few seconds to the next (its
 * two vCPUs are placed near or far on the host), so each producer/consumer repetition
 * prints the value next to it.
 */
export function roundTripNs(bin: string): number {
  const probes = [0, 1, 2].map(() => {
    const [n, s] = execFileSync(bin, ['pingpong', '2', '200000'], { encoding: 'utf8' }).trim().split(' ').map(Number);
    return (s! / n!) * 1e9;
  });
  return median(probes);
}

function glibc(bin: string, mode: 'local' | 'pc' | 'spin', workers: number, ops: number, maxSize = 512): Rate {
  const [n, s, cpu] = execFileSync(bin, [mode, String(workers), String(ops), String(maxSize)], { encoding: 'utf8' })
    .trim()
    .split(' ')
    .map(Number);
  return { wall: n! / s!, cpu: n! / cpu! };
}

/**
 * Thread-local, sizes 16 B .. MEDIUM_MAX: with maxClass 512 (the shared
 * heap's default until 2 Dec) sizes above it go to the one TLSF tier under
 * the heap lock; with the default maxClass (MEDIUM_MAX) they take per-worker
 * class pages too (mimalloc's answer for medium sizes: more size classes,
 * bigger pages), at the footprint the last column shows. glibc from as many
 * threads beside.
 */
async function medium(bin: string | null, ops: number, reps: number): Promise<Row[]> {
  const workload = `thread-local, 16 B-${MEDIUM_MAX / 1024} KiB`;
  const narrow = { ...KMALLOC_OPTIONS, maxClass: 512 };
  const rows: Row[] = [];
  for (const n of [1, 2]) {
    const m: Rate[] = [];
    const w: Rate[] = [];
    const c: Rate[] = [];
    for (let r = 0; r < reps; r++) {
      m.push(await memkit('local', n, ops, false, { maxSize: MEDIUM_MAX, options: narrow }));
      w.push(await memkit('local', n, ops, false, { maxSize: MEDIUM_MAX }));
      if (bin !== null) c.push(glibc(bin, 'local', n, ops * 4, MEDIUM_MAX));
    }
    const row = (contender: string, rs: Rate[]): Row => rowOf(workload, contender, n, rs);
    rows.push(row(`${PER_WORKER}, maxClass 512`, m), row(`${PER_WORKER}, maxClass ${MEDIUM_MAX} (the default)`, w));
    if (bin !== null) rows.push(row(GLIBC, c));
  }
  return rows;
}

const SPIN = 'the same loop, no allocator';

/**
 * The machine's own scaling: the thread-local loop with no allocator (the same
 * PRNG calls and window, a byte written per step), in JS workers and in C
 * threads. Two JS workers share the 2 cores with V8's background threads (the
 * compilers, the GC helpers) where one worker leaves them a core, so this is
 * the ceiling of what an allocator's loop can scale to here.
 */
async function ceiling(bin: string | null, ops: number, reps: number): Promise<Row[]> {
  const rows: Row[] = [];
  for (const n of [1, 2, 4]) {
    const js: Rate[] = [];
    const c: Rate[] = [];
    for (let r = 0; r < reps; r++) {
      js.push(await memkit('spin', n, ops, false));
      if (bin !== null) c.push(glibc(bin, 'spin', n, ops * 4));
    }
    rows.push(rowOf(SPIN, 'JS workers', n, js));
    if (bin !== null) rows.push(rowOf(SPIN, 'C threads', n, c));
  }
  return rows;
}

const PROCESSES = 'memkit Kmalloc, one process each, unshared heaps';
const HEAP_EACH = 'memkit Kmalloc, a heap per worker, one process';

/**
 * The thread-local workload in `n` separate processes at once, each with a
 * heap of its own and one worker on it (bench/workers/solo.ts): nothing is
 * shared between them, not a heap, not a V8 instance, so their scaling is
 * what this machine gives two copies of the loop that share nothing (on this
 * VM it swings from run to run as much as the shared heap's does). The
 * processes warm up, then start together on their parent's go
 * (IPC messages, bench/processes.ts); the rate is all their ops over the
 * slowest one's time.
 */
async function processes(n: number, ops: number): Promise<Rate> {
  const rates = await together<Rate>(new URL('./workers/solo.ts', import.meta.url), [String(ops)], n);
  const slowest = Math.max(...rates.map((r) => ops / r.wall));
  return { wall: (n * ops) / slowest, cpu: rates.reduce((t, r) => t + r.cpu, 0) / n };
}

/** The TLSF workload's sizes: 4 KiB .. 32 KiB, all above the shared heap's default maxClass. */
const TLSF_MIN = 4 << 10;
const TLSF_MAX = 32 << 10;

/**
 * Thread-local, sizes 4 KiB .. 32 KiB (above the shared heap's maxClass):
 * the TLSF tier. Each worker allocates from a TLSF heap of its own slot and
 * frees into it without the heap lock (src/kmalloc/medium.ts); beside it the
 * same heap with one global lock around every call, which is what every
 * medium call paid before per-worker TLSF heaps (the one TLSF heap under the
 * kmalloc heap lock). Sizes that whole pages serve with at most 1/32 waste
 * (about 14% of these) take the large tier, under the heap lock, in both.
 */
async function tlsf(ops: number, reps: number): Promise<Row[]> {
  const workload = `thread-local, ${TLSF_MIN >> 10}-${TLSF_MAX >> 10} KiB`;
  const rows: Row[] = [];
  for (const n of [1, 2]) {
    const m: Rate[] = [];
    const g: Rate[] = [];
    for (let r = 0; r < reps; r++) {
      m.push(await memkit('local', n, ops, false, { maxSize: TLSF_MAX, minSize: TLSF_MIN }));
      g.push(await memkit('local', n, ops, true, { maxSize: TLSF_MAX, minSize: TLSF_MIN }));
    }
    rows.push(rowOf(workload, PER_WORKER, n, m), rowOf(workload, GLOBAL_LOCK, n, g));
  }
  return rows;
}

/** A table row: the medians of a contender's runs (the footprint where its runs measured one). */
function rowOf(workload: string, contender: string, workers: number, rs: Rate[]): Row {
  const fp = rs.map((r) => r.footprint ?? 0);
  return {
    workload,
    contender,
    workers,
    opsPerSec: median(rs.map((r) => r.wall)),
    opsPerCpuSec: median(rs.map((r) => r.cpu)),
    ...(fp.every((f) => f > 0) ? { footprint: median(fp) } : {}),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

const PER_WORKER = 'memkit Kmalloc (per-worker pages)';
const GLOBAL_LOCK = 'memkit Kmalloc, one global lock around every call';
const GLIBC = 'glibc malloc (C, pthreads)';

export async function run(options: BenchOptions): Promise<CaseResult[]> {
  const quick = options.rounds <= 3;
  // 4M ops a worker: about 0.1 s of work at 40 M ops/s. With 1M (25 ms) one GC pause or a
  // late tier-up moved a single worker's figure between 29 and 42 M ops/s from run to run.
  const ops = quick ? 100_000 : 4_000_000;
  const reps = quick ? 1 : 5;
  const bin = nativeBinary();
  const rows: Row[] = [];
  if (process.env.MEMKIT_KMALLOC_OPTIONS !== undefined)
    console.log(`Kmalloc options: ${process.env.MEMKIT_KMALLOC_OPTIONS}\n`);
  const sts = Array.from({ length: reps }, () => singleThreaded(ops));
  const st = median(sts.map((r) => r.wall));
  rows.push({
    workload: 'thread-local',
    contender: 'memkit, one thread, not shared',
    workers: 1,
    opsPerSec: st,
    opsPerCpuSec: median(sts.map((r) => r.cpu)),
  });
  /**
   * Per repetition, thread-local, 2 workers: one heap ÷ a heap each (one process), a heap
   * each ÷ two processes, one heap ÷ two processes.
   */
  let sameMoment: number[][] = [];
  /** Producer/consumer, per worker count, per repetition: round trip (ns), per-worker and global-lock ops/s. */
  const pcTrips = new Map<number, number[][]>();
  // MEMKIT_WORKLOADS=pc (or local, medium, tlsf) runs one workload only.
  const workloads = (['local', 'pc', 'medium', 'tlsf', 'ceiling'] as const).filter(
    (w) => (process.env.MEMKIT_WORKLOADS ?? w) === w,
  );
  for (const mode of workloads) {
    if (mode === 'ceiling') {
      rows.push(...(await ceiling(bin, ops, reps)));
      continue;
    }
    if (mode === 'medium') {
      rows.push(...(await medium(bin, ops, reps)));
      continue;
    }
    if (mode === 'tlsf') {
      rows.push(...(await tlsf(ops / 4, reps))); // a quarter of the ops: each block is 4-32 KiB
      continue;
    }
    for (const n of mode === 'local' ? [1, 2, 4] : [2, 4]) {
      const workload = mode === 'local' ? 'thread-local' : 'producer/consumer';
      // The contenders take turns within each repetition, so a change in the machine's load
      // hits them alike.
      const m: Rate[] = [];
      const g: Rate[] = [];
      const c: Rate[] = [];
      // Thread-local, 1 and 2 workers: the same loop in as many processes that share nothing
      // runs in each repetition too, so the two are measured moments apart (processes()).
      // With 2 workers, also a heap per worker in this process: heap sharing's own cost.
      const ps: Rate[] = [];
      const he: Rate[] = [];
      const withProcesses = mode === 'local' && n <= 2;
      const trips: number[] = []; // producer/consumer: the round trip before each repetition
      for (let r = 0; r < reps; r++) {
        if (mode === 'pc' && bin !== null) trips.push(roundTripNs(bin));
        m.push(await memkit(mode, n, ops, false));
        g.push(await memkit(mode, n, ops, true));
        if (bin !== null) c.push(glibc(bin, mode, n, ops * 4));
        if (withProcesses) ps.push(await processes(n, ops));
        if (withProcesses && n === 2) he.push(await memkit(mode, n, ops, false, { heapEach: true }));
      }
      const row = (contender: string, rs: Rate[]): Row => rowOf(workload, contender, n, rs);
      rows.push(row(PER_WORKER, m), row(GLOBAL_LOCK, g));
      if (bin !== null) rows.push(row(GLIBC, c));
      if (withProcesses) rows.push(row(PROCESSES, ps));
      if (trips.length > 0)
        pcTrips.set(
          n,
          trips.map((t, r) => [t, m[r]!.wall, g[r]!.wall]),
        );
      if (he.length > 0) {
        rows.push(row(HEAP_EACH, he));
        sameMoment = m.map((x, r) => [x.wall / he[r]!.wall, he[r]!.wall / ps[r]!.wall, x.wall / ps[r]!.wall]);
      }
    }
  }
  if (bin === null) console.log('(no gcc: the glibc rows are skipped)');
  const at = (c: string, w: string, n: number): number =>
    rows.find((r) => r.contender === c && r.workload === w && r.workers === n)?.opsPerSec ?? NaN;
  const one = (c: string, w: string): number => at(c, w, w === 'producer/consumer' ? 2 : 1);
  console.log(
    '| workload | contender | workers | M ops/s | vs its smallest run | M ops per CPU-second | heap footprint, MiB |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const fp = r.footprint === undefined ? '' : (r.footprint / 2 ** 20).toFixed(1);
    console.log(
      `| ${r.workload} | ${r.contender} | ${r.workers} | ${(r.opsPerSec / 1e6).toFixed(2)} | ${Number.isNaN(one(r.contender, r.workload)) ? '-' : `${(r.opsPerSec / one(r.contender, r.workload)).toFixed(2)}x`} | ${(r.opsPerCpuSec / 1e6).toFixed(2)} | ${fp} |`,
    );
  }
  // On a machine other processes keep busy, the workers do not get a core each and wall-clock
  // scaling says more about the load than about the allocator; ops per CPU-second does not
  // depend on how many cores were free (but counts spinning, and GC threads, as work).
  const load = (await import('node:os')).loadavg();
  console.log(
    `\nload average during the run: ${load.map((x) => x.toFixed(1)).join(' ')} (${(await import('node:os')).cpus().length} cores)`,
  );
  const goal = (what: string, v: number, want: number): void => {
    if (Number.isNaN(v)) return; // that workload did not run (MEMKIT_WORKLOADS)
    console.log(`${what}: ${v.toFixed(2)}x (goal >= ${want}x: ${v >= want ? 'met' : 'NOT met'})`);
  };
  console.log('');
  goal('one worker (shared heap) / one thread, not shared', at(PER_WORKER, 'thread-local', 1) / st, 0.85);
  goal(
    'thread-local, 2 workers / 1 worker',
    at(PER_WORKER, 'thread-local', 2) / at(PER_WORKER, 'thread-local', 1),
    1.7,
  );
  const ceil = (c: string): string => (at(c, SPIN, 2) / at(c, SPIN, 1)).toFixed(2);
  if (!Number.isNaN(at('JS workers', SPIN, 1)))
    console.log(
      `  the machine's ceiling, 2 / 1 on the same loop with no allocator: JS workers ${ceil('JS workers')}x, C threads ${ceil('C threads')}x`,
    );
  if (sameMoment.length > 0) {
    const col = (j: number): string => {
      const xs = sameMoment.map((x) => x[j]!);
      return `${median(xs).toFixed(2)} (${xs.map((x) => x.toFixed(2)).join(' ')})`;
    };
    console.log(
      `  the same loop in two processes, a heap each, 2 / 1: ${(at(PROCESSES, 'thread-local', 2) / at(PROCESSES, 'thread-local', 1)).toFixed(2)}x\n` +
        `  2 workers, repetition by repetition (median, then each): one shared heap ÷ a heap per worker in one process ${col(0)};\n` +
        `  a heap per worker in one process ÷ two processes ${col(1)}; one shared heap ÷ two processes ${col(2)}`,
    );
  }
  for (const n of [2, 4]) {
    goal(
      `producer/consumer, ${n} workers, per-worker / global lock`,
      at(PER_WORKER, 'producer/consumer', n) / at(GLOBAL_LOCK, 'producer/consumer', n),
      3,
    );
    const reps = pcTrips.get(n);
    if (reps !== undefined)
      console.log(
        `  repetition by repetition (the host's core-to-core round trip just before, ns: per-worker ÷ global lock, M ops/s): ${reps
          .map(
            ([t, m, g]) =>
              `${t!.toFixed(0)} ns: ${(m! / g!).toFixed(2)}x (${(m! / 1e6).toFixed(1)} / ${(g! / 1e6).toFixed(1)})`,
          )
          .join('; ')}`,
      );
  }
  const ip = inProcess(ops, quick ? 3 : 9);
  console.log(
    `\nIn this thread, by CPU time (load-independent; median of ${quick ? 3 : 9} alternating rounds, M ops per CPU-second):`,
  );
  console.log(
    `  thread-local loop: unshared heap ${(ip.unshared / 1e6).toFixed(2)} (with the shared heap's maxClass: ${(ip.unsharedSame / 1e6).toFixed(2)}), attached instance on a shared heap ${(ip.shared / 1e6).toFixed(2)}: ${(ip.shared / ip.unshared).toFixed(2)}x (${(ip.shared / ip.unsharedSame).toFixed(2)}x)`,
  );
  console.log(
    `  producer/consumer pattern, one thread (remote frees, no contention): per-worker ${(ip.pcPerWorker / 1e6).toFixed(2)}, lock word around every call ${(ip.pcGlobal / 1e6).toFixed(2)}: ${(ip.pcPerWorker / ip.pcGlobal).toFixed(2)}x`,
  );
  console.log('');
  // One case per workload and worker count: each row ran alone (workers need the whole machine), so
  // ratios here are of medians over separate runs, not per-round ratios.
  const cases: CaseResult[] = [];
  for (const r of rows) {
    const name = `workers: ${r.workload}, ${r.workers} worker(s)`;
    let c = cases.find((x) => x.name === name);
    if (c === undefined) {
      c = { name, unit: 'alloc or free', reference: '', rows: [], goals: [] };
      cases.push(c);
    }
    const role = r.contender === GLIBC || r.contender === GLOBAL_LOCK ? 'peer' : 'memkit';
    (c.rows as RowResult[]).push({
      name: r.contender,
      role,
      opsPerSec: r.opsPerSec,
      spread: NaN,
      memkitOver: NaN,
      opsPerRound: ops,
      metrics: { opsPerCpuSec: r.opsPerCpuSec },
    });
  }
  return cases;
}
