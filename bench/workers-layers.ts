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
 * in this thread. Prints total ops/s (allocs + frees).
 *
 * On a busy 2-core machine the figures are noisy: compare rows of one run.
 */
import { Worker } from 'node:worker_threads';
import { BuddyAllocator, Memory, SlabCache } from '../src/index.js';
import type { BenchOptions, CaseResult, RowResult } from './harness.js';
import { controlBytes } from './ring.js';
import { WARM_UP } from './workers.js';

const WINDOW = 256;
const HEAP = 64 << 20;

type Layer = 'slab' | 'buddy';

interface Row {
  layer: Layer;
  workload: string;
  contender: string;
  workers: number;
  opsPerSec: number;
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

async function shared(layer: Layer, mode: 'local' | 'pc', workers: number, ops: number, global: boolean, pcp = true) {
  const memory = Memory.create({ bytes: HEAP, shared: true });
  make(layer, memory, pcp);
  const control = new SharedArrayBuffer(controlBytes(workers >> 1));
  const ctl = new Int32Array(control);
  const ws = Array.from({ length: workers }, (_, index) => {
    const role = mode === 'local' ? 'local' : index % 2 === 0 ? 'producer' : 'consumer';
    return new Worker(new URL('./workers-layers/worker.mjs', import.meta.url), {
      workerData: { heap: memory.buffer, control, layer, mode: role, index, ops, global },
    });
  });
  const next = <T>(w: Worker): Promise<T> =>
    new Promise<T>((r, j) => {
      w.once('message', r);
      w.once('error', j);
    });
  await Promise.all(ws.map((w) => next<unknown>(w)));
  const done = ws.map((w) => next<{ ms: number }>(w));
  Atomics.store(ctl, 0, 1);
  Atomics.notify(ctl, 0);
  const times = await Promise.all(done);
  await Promise.all(ws.map((w) => w.terminate()));
  return (ops * workers) / (Math.max(...times.map((t) => t.ms)) / 1000);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

export async function run(options: BenchOptions): Promise<CaseResult[]> {
  const quick = options.rounds <= 3;
  // 4M ops a worker: about 0.15 s a run; at 1M (40 ms) thread start skew and the JIT's
  // background compiles of a 100k warm-up decided the 2- and 4-worker rows.
  const ops = quick ? 100_000 : 4_000_000;
  const reps = quick ? 1 : 3;
  const rows: Row[] = [];
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
        const m = kinds.map(() => [] as number[]);
        for (let r = 0; r < reps; r++)
          for (let k = 0; k < kinds.length; k++)
            m[k]!.push(await shared(layer, mode, n, ops, kinds[k] === 'global', kinds[k] !== 'nopcp'));
        kinds.forEach((kind, k) => {
          const contender =
            kind === 'global' ? 'memkit + one global lock' : kind === 'nopcp' ? 'memkit, pcp: false' : 'memkit';
          rows.push({ layer, workload, contender, workers: n, opsPerSec: median(m[k]!) });
        });
      }
    }
  }
  console.log(
    '| layer | workload | contender | workers | M ops/s | memkit / global lock | memkit / one thread | memkit / pcp: false |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  const like = (r: Row, contender: string): Row | undefined =>
    rows.find(
      (x) => x.layer === r.layer && x.workload === r.workload && x.workers === r.workers && x.contender === contender,
    );
  for (const r of rows) {
    const g = like(r, 'memkit + one global lock');
    const one = like(r, 'one thread, not shared');
    const nopcp = like(r, 'memkit, pcp: false');
    const ratio = (x: Row | undefined): string =>
      r.contender === 'memkit' && x !== undefined ? `${(r.opsPerSec / x.opsPerSec).toFixed(2)}x` : '';
    console.log(
      `| ${r.layer} | ${r.workload} | ${r.contender} | ${r.workers} | ${(r.opsPerSec / 1e6).toFixed(2)} | ${ratio(g)} | ${ratio(one)} | ${ratio(nopcp)} |`,
    );
  }
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
      role: r.contender === 'memkit' ? 'memkit' : 'peer',
      opsPerSec: r.opsPerSec,
      spread: NaN,
      memkitOver: NaN,
      opsPerRound: ops,
      metrics: {},
    });
  }
  return cases;
}
