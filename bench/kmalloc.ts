/**
 * kmalloc benchmarks (issue 11):
 *
 *  1. Side-by-side replay (bench/replay.ts) of the random mixed-size workload
 *     (sizes 8..4096 B, up to 10,000 live blocks, random frees) and of every
 *     trace in `traces/` (or the directory in `MEMKIT_TRACES`), through
 *     Kmalloc, TLSF compiled to WebAssembly, and glibc's malloc when gcc is
 *     there: ops/s, the kmalloc / TLSF ratio (median and range over rounds),
 *     utilization. Goal: kmalloc >= 1.5x TLSF (2x the real goal), with
 *     utilization >= TLSF's - 0.01.
 *  2. The small tier's alloc+free pair (kmalloc(64) then kfree) against the
 *     hand-written free-list push/pop bound of bench/slab.ts. Goal: within 3x.
 *     Then the pair built up from that bound one piece at a time
 *     (bench/pair-steps.ts): where the rest of its time goes.
 *
 * Run: `npm run bench -- kmalloc` (`--quick`: 3 rounds, the random workload
 * and one trace). `MEMKIT_TRACES=dir` replays the traces of another
 * directory; `MEMKIT_KMALLOC_OPTIONS='{"maxClass":256}'` another Kmalloc
 * configuration.
 *
 * @module
 */
import { readdirSync } from 'node:fs';
import { Kmalloc } from '../src/kmalloc/index.js';
import {
  DEFAULT_OPTIONS,
  formatCase,
  runCases,
  type BenchOptions,
  type CaseResult,
  type Contender,
} from './harness.js';
import { pairSteps, pushPopBound } from './pair-steps.js';
import { cleanupGlibc, replaySideBySide, summaryTable } from './replay.js';
import { randomScript, traceScript, type Script } from './workload.js';

const SIZE = 64;
const PAIR = 'memkit Kmalloc kmalloc(64)+kfree';
const BOUND = 'lower bound: free-list push/pop';

function pairContender(): Contender {
  let k: Kmalloc | null = null;
  return {
    name: PAIR,
    role: 'memkit',
    setup() {
      k = new Kmalloc({ bytes: 1 << 22 });
      k.alloc(SIZE); // warm: the class has a current page, kept by a live block
    },
    run(n) {
      const a = k!;
      let s = 0;
      for (let i = 0; i < n; i++) {
        const p = a.alloc(SIZE);
        a.free(p);
        s ^= p;
      }
      return s;
    },
  };
}

/** Runs the kmalloc cases. */
export async function run(options: BenchOptions = DEFAULT_OPTIONS): Promise<CaseResult[]> {
  const traceDir =
    process.env.MEMKIT_TRACES !== undefined
      ? new URL(`file://${process.env.MEMKIT_TRACES.replace(/\/?$/, '/')}`)
      : new URL('../traces/', import.meta.url);
  const files = readdirSync(traceDir)
    .filter((f) => f.endsWith('.rep.gz') || f.endsWith('.rep'))
    .sort();
  const chosen = options.quick ? files.slice(0, 1) : files;
  const scripts: Script[] = [randomScript(options.quick ? 50_000 : 400_000)];
  for (const f of chosen) scripts.push(await traceScript(new URL(f, traceDir).pathname));
  const rounds = options.quick ? 3 : Math.max(5, options.rounds);
  // MEMKIT_KMALLOC_OPTIONS='{"maxClass":256}' measures another configuration.
  const kmallocOptions = JSON.parse(process.env.MEMKIT_KMALLOC_OPTIONS ?? '{}') as object;
  if (process.env.MEMKIT_KMALLOC_OPTIONS !== undefined)
    console.log(`Kmalloc options: ${process.env.MEMKIT_KMALLOC_OPTIONS}\n`);
  const results: CaseResult[] = [];
  try {
    for (const s of scripts) {
      const r = await replaySideBySide(s, rounds, kmallocOptions, options.quick);
      console.log(formatCase(r) + '\n');
      results.push(r);
    }
  } finally {
    cleanupGlibc();
  }
  console.log(
    `## kmalloc side-by-side replay: summary (ratio = median of per-round ratios, range over ${rounds} rounds)`,
  );
  console.log(summaryTable(results) + '\n');
  results.push(
    ...(await runCases(
      [
        {
          name: `kmalloc: alloc+free pairs, ${SIZE}-byte blocks (the size-class fast path)`,
          unit: 'pairs',
          contenders: [pairContender(), pushPopBound(BOUND)],
          goals: [{ subject: PAIR, vs: BOUND, atLeast: 1 / 3, text: 'kmalloc pairs within 3x of the lower bound' }],
        },
        pairSteps(),
      ],
      options,
    )),
  );
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
