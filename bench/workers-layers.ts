/**
 * `npm run bench -- workers-layers`: one SlabCache (64-byte objects) and one
 * BuddyAllocator (1-page blocks) in a SharedArrayBuffer, used by 1, 2 and 4
 * worker threads (bench/workers-layers/worker.ts), on two workloads:
 * thread-local (each worker frees its own blocks, a window of 256 live) and
 * producer/consumer (every block freed by the other worker of a pair,
 * handed over through a ring). Contenders: memkit as it is (its per-layer
 * locks; the buddy with its per-worker page lists), memkit with one global
 * lock around every call (the naive design), and for the buddy, memkit with
 * no per-worker lists (`pcp: false`: the buddy lock on every call, as
 * before the lists). `MEMKIT_LAYERS=buddy` (or `slab`) runs one layer,
 * `MEMKIT_WORKLOADS=local` (or `pc`) one workload. The single-threaded row is the same loop on an unshared memory
 * in this thread. Prints total ops/s (allocs + frees), and per CPU-second
 * of the process (all threads) while the workers ran.
 * With 1 and 2 workers the thread-local workload also runs, in each
 * repetition, in as many separate processes with a memory each
 * (processes(), as bench/workers.ts's) and, with 2, as two workers with a
 * memory each in this process: what the machine gives copies of the loop
 * that share nothing, measured moments apart from the shared memory, with
 * the ratios of each repetition.
 *
 * On a busy 2-core machine the figures are noisy: compare rows of one run.
 */
import { cpus, loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import { BuddyAllocator, Memory, SlabCache } from '../src/index.js';
import type { BenchOptions, CaseResult, RowResult } from './harness.js';
import { together } from './processes.js';
import { controlBytes } from './ring.js';
import { WARM_UP } from './workers.js';

const WINDOW = 256;
const HEAP = 64 << 20;

export type Layer = 'slab' | 'buddy';

interface Row {
  layer: Layer;
  workload: string;
  contender: string;
  workers: number;
  opsPerSec: number;
  /** Ops per second of CPU time used by the whole process (all threads; all processes for PROCESSES) while the workers ran. */
  opsPerCpuSec?: number;
}

/** A run's ops per wall-clock second and per CPU second. */
interface Rate {
  wall: number;
  cpu: number;
}

function make(layer: Layer, memory: Memory, pcp = true): { alloc: () => number; free: (a: number) => void } {
  const buddy = new BuddyAllocator({ memory, pageSize: 4096, ...(pcp ? {} : { pcp: false as const }) });
  if (layer === 'buddy') return { alloc: () => buddy.allocPages(1), free: (a) => buddy.free(a) };
  const c = new SlabCache(buddy, { name: 'bench', size: 64 });
  return { alloc: () => c.alloc(), free: (a) => c.free(a) };
}

function singleThreaded(layer: Layer, ops: number): number {
  const memory = Memory.create({ bytes: HEAP });
  const { alloc, free } = make(layer, memory);
  const u8 = memory.u8;
  const win = new Float64Array(WINDOW);
  let seed = 12345;
  const loop = (n: number): void => {
    for (let i = 0; i < n; i += 2) {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      const s = (seed >>> 0) & (WINDOW - 1);
      if (win[s] !== 0) free(win[s]!);
      const p = alloc();
      u8[p] = 1;
      win[s] = p;
    }
  };
  loop(Math.min(ops, WARM_UP)); // as long as each worker warms up (bench/workers.ts says why)
  const t0 = performance.now();
  loop(ops);
  const ms = performance.now() - t0;
  for (let s = 0; s < WINDOW; s++) if (win[s] !== 0) free(win[s]!);
  return ops / (ms / 1000);
}

/** shared()'s settings beyond the layer, the workload and the worker count. */
interface RunOptions {
  /** One global lock around every call (the naive design). */
  global?: boolean;
  /** The buddy's per-worker page lists (default on). */
  pcp?: boolean;
  /** A memory (and SlabCache or buddy) of its own for each worker, in this one process, instead of one for all. */
  heapEach?: boolean;
  /** Runs once every worker has warmed up, just before the go (bench/workers-layers/solo.ts waits there for its parent's go). */
  beforeStart?: () => Promise<void>;
}

/** A new shared memory with the layer made in it; returns its buffer. */
function newHeap(layer: Layer, pcp: boolean): SharedArrayBuffer {
  const memory = Memory.create({ bytes: HEAP, shared: true });
  make(layer, memory, pcp);
  return memory.buffer as SharedArrayBuffer;
}

/**
 * One run: the layer in a shared memory, `workers` workers on it
 * (bench/workers-layers/worker.ts), timed from the go signal to the last
 * worker's end; total ops per second and per CPU second of this process.
 */
export async function shared(
  layer: Layer,
  mode: 'local' | 'pc',
  workers: number,
  ops: number,
  run: RunOptions = {},
): Promise<Rate> {
  const { global = false, pcp = true, heapEach = false, beforeStart } = run;
  const heap = newHeap(layer, pcp);
  const control = new SharedArrayBuffer(controlBytes(workers >> 1));
  const ctl = new Int32Array(control);
  const ws = Array.from({ length: workers }, (_, index) => {
    const role = mode === 'local' ? 'local' : index % 2 === 0 ? 'producer' : 'consumer';
    return new Worker(new URL('./workers-layers/worker.mjs', import.meta.url), {
      workerData: {
        heap: heapEach && index > 0 ? newHeap(layer, pcp) : heap,
        control,
        layer,
        mode: role,
        index,
        ops,
        global,
      },
    });
  });
  const next = <T>(w: Worker): Promise<T> =>
    new Promise<T>((r, j) => {
      w.once('message', r);
      w.once('error', j);
    });
  await Promise.all(ws.map((w) => next<unknown>(w)));
  if (beforeStart !== undefined) await beforeStart();
  const done = ws.map((w) => next<{ ms: number }>(w));
  const c0 = process.cpuUsage();
  Atomics.store(ctl, 0, 1);
  Atomics.notify(ctl, 0);
  const times = await Promise.all(done);
  const c = process.cpuUsage(c0);
  await Promise.all(ws.map((w) => w.terminate()));
  return {
    wall: (ops * workers) / (Math.max(...times.map((t) => t.ms)) / 1000),
    cpu: (ops * workers) / ((c.user + c.system) / 1e6),
  };
}

/**
 * The thread-local workload in `n` separate processes at once, each with the
 * layer in a shared memory of its own and one worker on it
 * (bench/workers-layers/solo.ts, bench/processes.ts): nothing shared, not a
 * memory, not a V8 instance, so their scaling is what this machine gives
 * copies of the loop that share nothing (as bench/workers.ts's processes()).
 * All their ops over the slowest one's time, and over all their CPU time.
 */
async function processes(layer: Layer, n: number, ops: number): Promise<Rate> {
  const rates = await together<Rate>(new URL('./workers-layers/solo.ts', import.meta.url), [layer, String(ops)], n);
  return {
    wall: (n * ops) / Math.max(...rates.map((r) => ops / r.wall)),
    cpu: (n * ops) / rates.reduce((t, r) => t + ops / r.cpu, 0),
  };
}

/** A table row: the medians of a contender's runs. */
function rowOf(layer: Layer, workload: string, contender: string, workers: number, rs: Rate[]): Row {
  const opsPerSec = median(rs.map((r) => r.wall));
  return { layer, workload, contender, workers, opsPerSec, opsPerCpuSec: median(rs.map((r) => r.cpu)) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

const MEMKIT = 'memkit';
const PROCESSES = 'memkit, one process each, a memory each';
const HEAP_EACH = 'memkit, a memory per worker, one process';

/** Per layer, thread-local, the same-moment ratios of each repetition. */
interface SameMoment {
  /** 1 worker: shared memory ÷ one process. */
  one: number[];
  /** 2 workers: [one shared memory ÷ a memory per worker in one process, a memory per worker ÷ two processes, one shared memory ÷ two processes]. */
  two: number[][];
}

export async function run(options: BenchOptions): Promise<CaseResult[]> {
  const quick = options.rounds <= 3;
  // 4M ops a worker: about 0.15 s a run; at 1M (40 ms) thread start skew and the JIT's
  // background compiles of a 100k warm-up decided the 2- and 4-worker rows.
  const ops = quick ? 100_000 : 4_000_000;
  const reps = quick ? 1 : 3;
  const rows: Row[] = [];
  const sameMoment = new Map<Layer, SameMoment>();
  const only = process.env.MEMKIT_LAYERS;
  for (const layer of (['slab', 'buddy'] as const).filter((l) => only === undefined || only === l)) {
    const st = median(Array.from({ length: reps }, () => singleThreaded(layer, ops)));
    rows.push({ layer, workload: 'thread-local', contender: 'one thread, not shared', workers: 1, opsPerSec: st });
    const workloads = process.env.MEMKIT_WORKLOADS; // `local` or `pc`: one workload only
    for (const mode of (['local', 'pc'] as const).filter((m) => workloads === undefined || workloads === m)) {
      for (const n of mode === 'local' ? [1, 2, 4] : [2, 4]) {
        const workload = mode === 'local' ? 'thread-local' : 'producer/consumer';
        // the buddy also without its per-worker lists; the contenders' rounds alternate
        const kinds = layer === 'buddy' ? (['memkit', 'global', 'nopcp'] as const) : (['memkit', 'global'] as const);
        const m = kinds.map(() => [] as Rate[]);
        // Thread-local, 1 and 2 workers: the same loop in as many processes that share nothing
        // runs in each repetition too, so the two are measured moments apart (processes()).
        // With 2 workers, also a memory per worker in this process: sharing's own cost.
        const withProcesses = mode === 'local' && n <= 2;
        const ps: Rate[] = [];
        const he: Rate[] = [];
        for (let r = 0; r < reps; r++) {
          for (let k = 0; k < kinds.length; k++)
            m[k]!.push(await shared(layer, mode, n, ops, { global: kinds[k] === 'global', pcp: kinds[k] !== 'nopcp' }));
          if (withProcesses) ps.push(await processes(layer, n, ops));
          if (withProcesses && n === 2) he.push(await shared(layer, mode, n, ops, { heapEach: true }));
        }
        kinds.forEach((kind, k) => {
          const contender =
            kind === 'global' ? 'memkit + one global lock' : kind === 'nopcp' ? 'memkit, pcp: false' : MEMKIT;
          rows.push(rowOf(layer, workload, contender, n, m[k]!));
        });
        if (!withProcesses) continue;
        rows.push(rowOf(layer, workload, PROCESSES, n, ps));
        const mine = m[0]!; // kinds[0] is memkit
        const sm = sameMoment.get(layer) ?? { one: [], two: [] };
        sameMoment.set(layer, sm);
        if (n === 1) sm.one = mine.map((x, r) => x.wall / ps[r]!.wall);
        else {
          rows.push(rowOf(layer, workload, HEAP_EACH, n, he));
          sm.two = mine.map((x, r) => [x.wall / he[r]!.wall, he[r]!.wall / ps[r]!.wall, x.wall / ps[r]!.wall]);
        }
      }
    }
  }
  console.log(
    '| layer | workload | contender | workers | M ops/s | vs 1 worker | M ops per CPU-second | memkit / global lock | memkit / one thread | memkit / pcp: false |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  const like = (r: Row, contender: string, workers = r.workers): Row | undefined =>
    rows.find(
      (x) => x.layer === r.layer && x.workload === r.workload && x.workers === workers && x.contender === contender,
    );
  /** A row's 1-worker row: its contender's (memkit's for a memory per worker: with one worker, the same thing). */
  const oneWorker = (r: Row): Row | undefined =>
    r.workers > 1 ? like(r, r.contender === HEAP_EACH ? MEMKIT : r.contender, 1) : undefined;
  for (const r of rows) {
    const g = like(r, 'memkit + one global lock');
    const one = like(r, 'one thread, not shared');
    const nopcp = like(r, 'memkit, pcp: false');
    const over = (x: Row | undefined): string => (x === undefined ? '' : `${(r.opsPerSec / x.opsPerSec).toFixed(2)}x`);
    const ratio = (x: Row | undefined): string => (r.contender === MEMKIT ? over(x) : '');
    console.log(
      `| ${r.layer} | ${r.workload} | ${r.contender} | ${r.workers} | ${(r.opsPerSec / 1e6).toFixed(2)} | ${over(oneWorker(r))} | ${r.opsPerCpuSec === undefined ? '' : (r.opsPerCpuSec / 1e6).toFixed(2)} | ${ratio(g)} | ${ratio(one)} | ${ratio(nopcp)} |`,
    );
  }
  for (const [layer, sm] of sameMoment) {
    if (sm.two.length === 0) continue;
    const col = (xs: number[]): string => `${median(xs).toFixed(2)} (${xs.map((x) => x.toFixed(2)).join(' ')})`;
    const at = (contender: string, workers: number): Row | undefined =>
      rows.find(
        (x) => x.layer === layer && x.workload === 'thread-local' && x.workers === workers && x.contender === contender,
      );
    const twoOverOne = (contender: string, f: (r: Row) => number): string => {
      const [two, one] = [at(contender, 2), at(contender === HEAP_EACH ? MEMKIT : contender, 1)];
      return two === undefined || one === undefined ? '-' : (f(two) / f(one)).toFixed(2);
    };
    // Per CPU-second, 2 / 1 is 1 when the second worker costs each op nothing (no lock waits, no
    // cache lines moving between cores); the wall-clock 2 / 1 also depends on how many cores were free.
    const both = (contender: string): string =>
      `${twoOverOne(contender, (r) => r.opsPerSec)}x (per CPU-second ${twoOverOne(contender, (r) => r.opsPerCpuSec ?? NaN)}x)`;
    console.log(
      `\n${layer}, thread-local, 2 workers / 1 (goal >= 1.7x): one shared memory ${both(MEMKIT)}; ` +
        `the same loop in separate processes, a memory each ${both(PROCESSES)}; ` +
        `a memory per worker in one process (÷ memkit's 1 worker) ${both(HEAP_EACH)}\n` +
        `  repetition by repetition (median, then each): 1 worker, shared memory ÷ one process ${col(sm.one)};\n` +
        `  2 workers: one shared memory ÷ a memory per worker in one process ${col(sm.two.map((x) => x[0]!))};\n` +
        `  a memory per worker in one process ÷ two processes ${col(sm.two.map((x) => x[1]!))}; ` +
        `one shared memory ÷ two processes ${col(sm.two.map((x) => x[2]!))}`,
    );
  }
  // Other processes on the machine take cores from the workers and the processes alike; the
  // ratios of one repetition are measured moments apart, but a busy machine still skews them.
  const load = loadavg().map((x) => x.toFixed(1));
  console.log(`\nload average at the end: ${load.join(' ')} (${cpus().length} cores)`);
  console.log('');
  const cases: CaseResult[] = [];
  for (const r of rows) {
    const name = `workers-layers: ${r.layer}, ${r.workload}, ${r.workers} worker(s)`;
    let c = cases.find((x) => x.name === name);
    if (c === undefined) {
      c = { name, unit: 'alloc or free', reference: '', rows: [], goals: [] };
      cases.push(c);
    }
    (c.rows as RowResult[]).push({
      name: r.contender,
      role: r.contender === MEMKIT ? 'memkit' : 'peer',
      opsPerSec: r.opsPerSec,
      spread: NaN,
      memkitOver: NaN,
      opsPerRound: ops,
      metrics: {},
    });
  }
  return cases;
}
