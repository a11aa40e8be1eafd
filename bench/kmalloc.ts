/**
 * kmalloc benchmarks (issue "Slab caches and kmalloc", Must show): the random
 * mixed-size workload (sizes 8..4096 B, up to 10,000 live blocks, random
 * frees) and every trace in traces/, each replayed identically by
 * memkit's Kmalloc, AssemblyScript's TLSF compiled to WebAssembly, and
 * `@thi.ng/malloc`. Rows report ops/s and utilization (peak live payload /
 * peak footprint, one full pass on a fresh allocator).
 *
 * @thi.ng/malloc's free is O(live blocks): on the traces its utilization pass
 * is cut at THING_UTIL_OPS ops (said in the row name).
 *
 * Run: `npm run bench -- kmalloc`.
 *
 * @module
 */
import { readdirSync } from 'node:fs';
import { Kmalloc } from '../src/kmalloc/index.js';
import { createThingAllocator } from '../src/peers/thing.js';
import { createTlsfAllocator } from '../src/peers/tlsf.js';
import { DEFAULT_OPTIONS, runCases, type BenchCase, type BenchOptions, type CaseResult } from './harness.js';
import { randomScript, scriptContender, traceScript, type Script } from './workload.js';

const MEMKIT = 'memkit Kmalloc';
const TLSF = 'TLSF (AssemblyScript, wasm)';
const THING_UTIL_OPS = 200_000;

function heapBytes(s: Script): number {
  return Math.max(1 << 20, Math.ceil((2 * s.peakPayload) / 65536) * 65536);
}

function scriptCase(s: Script, isTrace: boolean): BenchCase {
  const bytes = heapBytes(s);
  const thingName = isTrace ? `@thi.ng/malloc (utilization: first ${THING_UTIL_OPS / 1000}k ops)` : '@thi.ng/malloc';
  return {
    name: `kmalloc: ${s.name} (${(s.kind.length / 1e6).toFixed(2)} M ops a cycle)`,
    unit: 'ops',
    contenders: [
      scriptContender(MEMKIT, 'memkit', s, () => new Kmalloc({ bytes, maxBytes: 2 ** 31 })),
      scriptContender(TLSF, 'peer', s, () => createTlsfAllocator(bytes)),
      scriptContender(thingName, 'peer', s, () => createThingAllocator(Math.max(4 * bytes, 64 << 20)), isTrace ? THING_UTIL_OPS : Infinity),
    ],
    goals: [{ subject: MEMKIT, vs: TLSF, atLeast: 2, text: 'kmalloc at least 2x the ops/s of TLSF-in-wasm' }],
  };
}

/** Runs the kmalloc cases (`quick`: the random workload and one trace). */
export async function run(options: BenchOptions = DEFAULT_OPTIONS): Promise<CaseResult[]> {
  const traceDir = new URL('../traces/', import.meta.url);
  const files = readdirSync(traceDir).filter((f) => f.endsWith('.rep.gz') || f.endsWith('.rep')).sort();
  const chosen = options.quick ? files.slice(0, 1) : files;
  const scripts: Array<[Script, boolean]> = [[randomScript(options.quick ? 50_000 : 400_000), false]];
  for (const f of chosen) scripts.push([await traceScript(new URL(f, traceDir).pathname), true]);
  return runCases(scripts.map(([s, t]) => scriptCase(s, t)), options);
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
