/**
 * `npm run bench -- workers`: one Kmalloc heap in a SharedArrayBuffer used by
 * 1, 2 and 4 worker threads, on two workloads (bench/workers/native.c says
 * which), against glibc malloc from as many threads (built with the system's
 * gcc when there is one). Prints total ops/s (allocs + frees) and the scaling
 * against one worker. The single-threaded row is the same loop on a
 * non-shared heap in this thread: what the concurrency machinery costs.
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
import type { BenchOptions, CaseResult, RowResult } from './harness.js';

const WINDOW = 1024;
const RING = 4096;
const RING0 = 4;
const HEAP = 256 << 20;

interface Row {
  workload: string;
  contender: string;
  workers: number;
  opsPerSec: number;
}

function singleThreaded(ops: number): number {
  const k = new Kmalloc({ bytes: HEAP });
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
      const p = k.kmalloc(16 + (next() % 497));
      u8[p] = 1;
      win[s] = p;
    }
  };
  loop(300_000); // warm-up, untimed, as each worker does
  const t0 = performance.now();
  loop(ops);
  for (let s = 0; s < WINDOW; s++) if (win[s] !== 0) k.kfree(win[s]!);
  return ops / ((performance.now() - t0) / 1000);
}

async function memkit(mode: 'local' | 'pc', workers: number, ops: number): Promise<number> {
  const memory = Memory.create({ bytes: HEAP, shared: true });
  new Kmalloc({ memory });
  const control = new SharedArrayBuffer((RING0 + (workers >> 1) * (RING + 2) + 2) * 4);
  const ctl = new Int32Array(control);
  const ws = Array.from({ length: workers }, (_, index) => {
    const role = mode === 'local' ? 'local' : index % 2 === 0 ? 'producer' : 'consumer';
    return new Worker(new URL('./workers/worker.mjs', import.meta.url), {
      workerData: { heap: memory.buffer, control, mode: role, index, ops },
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
  const done = ws.map(
    (w) =>
      new Promise<{ ms: number }>((r, j) => {
        w.once('message', r);
        w.once('error', j);
      }),
  );
  Atomics.store(ctl, 0, 1);
  Atomics.notify(ctl, 0);
  const times = await Promise.all(done);
  await Promise.all(ws.map((w) => w.terminate()));
  return (ops * workers) / (Math.max(...times.map((t) => t.ms)) / 1000);
}

function nativeBinary(): string | null {
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

function glibc(bin: string, mode: 'local' | 'pc', workers: number, ops: number): number {
  const [n, s] = execFileSync(bin, [mode, String(workers), String(ops)], { encoding: 'utf8' })
    .trim()
    .split(' ')
    .map(Number);
  return n! / s!;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

export async function run(options: BenchOptions): Promise<CaseResult[]> {
  const quick = options.rounds <= 3;
  const ops = quick ? 100_000 : 1_000_000;
  const reps = quick ? 1 : 3;
  const bin = nativeBinary();
  const rows: Row[] = [];
  const st = median(Array.from({ length: reps }, () => singleThreaded(ops)));
  rows.push({ workload: 'thread-local', contender: 'memkit, one thread, not shared', workers: 1, opsPerSec: st });
  for (const mode of ['local', 'pc'] as const) {
    for (const n of mode === 'local' ? [1, 2, 4] : [2, 4]) {
      const m: number[] = [];
      for (let r = 0; r < reps; r++) m.push(await memkit(mode, n, ops));
      const workload = mode === 'local' ? 'thread-local' : 'producer/consumer';
      rows.push({ workload, contender: 'memkit Kmalloc (shared heap)', workers: n, opsPerSec: median(m) });
      if (bin !== null) {
        rows.push({
          workload,
          contender: 'glibc malloc (C, pthreads)',
          workers: n,
          opsPerSec: median(Array.from({ length: reps }, () => glibc(bin, mode, n, ops * 4))),
        });
      }
    }
  }
  if (bin === null) console.log('(no gcc: the glibc rows are skipped)');
  const one = (c: string, w: string): number =>
    rows.find((r) => r.contender === c && r.workload === w && r.workers === (w === 'thread-local' ? 1 : 2))
      ?.opsPerSec ?? NaN;
  console.log('| workload | contender | workers | M ops/s | vs its smallest run |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.workload} | ${r.contender} | ${r.workers} | ${(r.opsPerSec / 1e6).toFixed(2)} | ${(r.opsPerSec / one(r.contender, r.workload)).toFixed(2)}x |`,
    );
  }
  const oneWorker = rows.find((r) => r.contender.startsWith('memkit Kmalloc') && r.workers === 1)!.opsPerSec;
  console.log(`\none shared worker / single-threaded, not shared: ${(oneWorker / st).toFixed(2)}x (goal >= 0.85x)\n`);
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
    const role = r.contender.startsWith('glibc') ? 'peer' : 'memkit';
    (c.rows as RowResult[]).push({
      name: r.contender,
      role,
      opsPerSec: r.opsPerSec,
      spread: NaN,
      memkitOver: NaN,
      opsPerRound: ops,
      metrics: {},
    });
  }
  return cases;
}
