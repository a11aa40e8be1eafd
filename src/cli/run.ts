/**
 * The `memkit` command: `replay` and `info`. {@link run} takes the arguments
 * and returns the exit code (0 ok, 1 verification failure, 2 bad usage or
 * bad input file), so it can be driven from tests as well as from `main.ts`.
 *
 * @module
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { MemkitError } from '../errors/index.js';
import type { ByteAllocator } from '../memory/byte-allocator.js';
import { ALLOCATORS, allocatorNames, type AllocatorEntry, type AllocatorFactory } from '../trace/allocators.js';
import { readTrace } from '../trace/read.js';
import { replay, type ReplayResult } from '../trace/replay.js';
import { traceInfo } from '../trace/stats.js';
import { truncateTrace, type Trace } from '../trace/trace.js';
import { formatBytes, formatCount, resultJson, resultsTable } from './format.js';
import { plotSvg } from './plot.js';
import { Progress } from './progress.js';

/** Exit codes. */
export const Exit = { Ok: 0, VerificationFailed: 1, Usage: 2 } as const;

/** Where the command writes. */
export interface CliIo {
  /** Results. */
  stdout: NodeJS.WritableStream;
  /** Messages, progress. */
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

/** Bad usage: exit code 2. */
class UsageError extends MemkitError {
  override name = 'UsageError';
}

const MAIN_HELP = `memkit: replay allocation traces through memkit's allocators and peers

Usage:
  memkit replay <trace...> [options]   replay traces, print utilization, fragmentation, ops/s
  memkit info <trace...> [--json]      op counts, size quartiles, peak live bytes
  memkit <command> --help              help for a command

Exit codes: 0 ok, 1 an allocator failed verification, 2 bad usage or bad input file.
`;

function replayHelp(): string {
  const names = allocatorNames();
  const w = Math.max(...names.map((n) => n.length));
  return `Usage: memkit replay <trace...> [options]

Replays each trace (CS:APP malloc-lab format, plain or .gz) through each
allocator, verifying it (payload patterns, overlaps) unless --no-verify, and
prints one row per trace and allocator.

Options:
  -a, --allocator <list>  comma-separated allocators (default: all of them)
      --json              print a JSON array of results instead of the table
      --no-verify         no payload or overlap checks: time the bare allocator
      --plot <file.svg>   write footprint and live payload over time as SVG
      --max-ops <n>       replay only the first n ops of each trace; or per
                          allocator and/or trace: --max-ops thing=300000,
                          --max-ops @bash=1000,thing@perl.rep.gz=500000
      --module <file.js>  load more allocators: a module exporting
                          \`allocators = { name: async (heapBytes) => ByteAllocator }\`
  -h, --help              this help

Allocators:
${names.map((n) => `  ${n.padEnd(w)}  ${ALLOCATORS[n]!.description}`).join('\n')}

Columns: speed = ops/s over the ops/s of the trace's first row; peak payload
= most requested bytes live at once; peak footprint =
most bytes the allocator held; utilization = their ratio; int./ext. frag =
internal / external fragmentation at the payload peak, as a share of the
footprint there; failures = out-of-memory errors.
`;
}

const INFO_HELP = `Usage: memkit info <trace...> [--json] [--max-ops <n>]

Prints, per trace: the header, op counts, request size quartiles (min, 25%,
median, 75%, max), peak live payload and peak live blocks.
`;

/**
 * Runs the command line `argv` (without `node` and the script).
 *
 * @returns the exit code.
 */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const err = (s: string): void => void io.stderr.write(s.endsWith('\n') ? s : s + '\n');
  try {
    const [cmd, ...rest] = argv;
    if (cmd === undefined) {
      err(MAIN_HELP);
      return Exit.Usage;
    }
    if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
      io.stdout.write(cmd === 'help' && rest[0] === 'replay' ? replayHelp() : cmd === 'help' && rest[0] === 'info' ? INFO_HELP : MAIN_HELP);
      return Exit.Ok;
    }
    if (cmd === 'replay') return await replayCommand(rest, io);
    if (cmd === 'info') return await infoCommand(rest, io);
    throw new UsageError(`unknown command "${cmd}" (expected replay or info; memkit --help)`);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`memkit: ${e.message}`);
      return Exit.Usage;
    }
    if (e instanceof MemkitError) {
      err(`memkit: ${e.message}`);
      return Exit.Usage;
    }
    const x = e as { code?: string; message?: string };
    if (typeof x?.code === 'string' && x.code.startsWith('ERR_PARSE_ARGS')) {
      err(`memkit: ${x.message ?? String(e)}`);
      return Exit.Usage;
    }
    err(`memkit: internal error: ${(e as Error)?.stack ?? String(e)}`);
    return Exit.Usage;
  }
}

/**
 * `--max-ops N` (everything) or `--max-ops KEY=N,...` where KEY is an
 * allocator (`thing`), a trace (`@perl`, the file name with or without
 * `.rep.gz`/`.rep`) or both (`thing@perl`).
 */
interface OpCaps {
  all: number | undefined;
  caps: Array<{ allocator: string | null; trace: string | null; n: number }>;
}

function parseMaxOps(v: string | undefined): OpCaps {
  if (v === undefined || /^\d+$/.test(v)) return { all: maxOpsOption(v), caps: [] };
  const caps: OpCaps['caps'] = [];
  for (const part of v.split(',')) {
    const m = /^\s*([\w.-]*)(?:@([\w.-]+))?=(\d+)\s*$/.exec(part);
    if (m === null || (m[1] === '' && m[2] === undefined)) {
      throw new UsageError(`--max-ops takes N or KEY=N,... (KEY: allocator, @trace or allocator@trace); got "${v}"`);
    }
    caps.push({ allocator: m[1] === '' ? null : m[1]!, trace: m[2] ?? null, n: Number(m[3]) });
  }
  return { all: undefined, caps };
}

/** The smallest cap that applies to (trace file, allocator), or undefined. */
function capFor(caps: OpCaps['caps'], file: string, allocator: string): number | undefined {
  const bare = file.replace(/\.rep(\.gz)?$|\.gz$/, '');
  let n: number | undefined;
  for (const c of caps) {
    if (c.allocator !== null && c.allocator !== allocator) continue;
    if (c.trace !== null && c.trace !== file && c.trace !== bare) continue;
    n = n === undefined ? c.n : Math.min(n, c.n);
  }
  return n;
}

function maxOpsOption(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--max-ops takes a whole number, got "${v}"`);
  return Number(v);
}

async function loadTrace(path: string, maxOps: number | undefined): Promise<Trace> {
  return readTrace(path, maxOps === undefined ? {} : { maxOps });
}

async function replayCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      allocator: { type: 'string', short: 'a' },
      json: { type: 'boolean', default: false },
      'no-verify': { type: 'boolean', default: false },
      plot: { type: 'string' },
      'max-ops': { type: 'string' },
      module: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    io.stdout.write(replayHelp());
    return Exit.Ok;
  }
  if (positionals.length === 0) throw new UsageError('replay needs at least one trace file (memkit replay --help)');
  const registry = new Map<string, AllocatorEntry>(Object.entries(ALLOCATORS));
  for (const m of values.module ?? []) await loadModule(m, registry);
  const names = values.allocator === undefined ? allocatorNames() : values.allocator.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) throw new UsageError('--allocator needs at least one name');
  for (const n of names) {
    if (!registry.has(n)) throw new UsageError(`unknown allocator "${n}" (known: ${[...registry.keys()].join(', ')})`);
  }
  if (values.plot !== undefined && !values.plot.endsWith('.svg')) throw new UsageError(`--plot writes SVG: give a file name ending in .svg, got "${values.plot}"`);
  const { all: maxOps, caps } = parseMaxOps(values['max-ops']);
  for (const c of caps) {
    if (c.allocator !== null && !names.includes(c.allocator)) throw new UsageError(`--max-ops names allocator "${c.allocator}", which is not replayed`);
  }
  const verify = !values['no-verify'];
  const json = values.json;
  const progress = new Progress(io.stderr, !json && io.stderr.isTTY === true);
  const results: ReplayResult[] = [];
  let failed = false;
  for (const path of positionals) {
    const trace = await loadTrace(path, maxOps);
    for (const name of names) {
      let a: ByteAllocator;
      let probeOn: ByteAllocator;
      try {
        a = await registry.get(name)!.create(trace.heapSize);
        probeOn = await registry.get(name)!.create(trace.heapSize);
      } catch (e) {
        throw new UsageError(`cannot create allocator "${name}": ${(e as Error).message}`);
      }
      progress.start(`${trace.file} ${name}`);
      const cap = capFor(caps, trace.file, name);
      const r = replay(cap === undefined ? trace : truncateTrace(trace, cap), a, {
        verify,
        probeOn,
        samples: values.plot !== undefined ? 800 : 0,
        onProgress: progress.enabled ? (d, t) => progress.update(d, t) : undefined,
      });
      progress.done();
      results.push(r);
      if (r.violation !== null) {
        failed = true;
        io.stderr.write(`memkit: verification failed: ${r.violation}\n`);
      }
    }
  }
  if (json) {
    io.stdout.write(JSON.stringify(results.map(resultJson), null, 2) + '\n');
  } else {
    io.stdout.write(resultsTable(results) + '\n');
    if (!verify) io.stdout.write('(--no-verify: no payload or overlap checks)\n');
  }
  if (values.plot !== undefined) {
    await writeFile(values.plot, plotSvg(results));
    if (!json) io.stderr.write(`memkit: wrote ${values.plot}\n`);
  }
  return failed ? Exit.VerificationFailed : Exit.Ok;
}

/** Adds the allocators of a `--module` file to `registry`. */
async function loadModule(file: string, registry: Map<string, AllocatorEntry>): Promise<void> {
  let mod: { allocators?: Record<string, unknown> };
  try {
    mod = (await import(pathToFileURL(resolve(file)).href)) as typeof mod;
  } catch (e) {
    throw new UsageError(`cannot load --module ${file}: ${(e as Error).message}`);
  }
  const a = mod.allocators;
  if (a === null || typeof a !== 'object') throw new UsageError(`--module ${file} does not export \`allocators\` (an object of factories)`);
  for (const [name, f] of Object.entries(a)) {
    if (typeof f !== 'function') throw new UsageError(`--module ${file}: allocators.${name} is not a function`);
    registry.set(name, { description: `from ${file}`, create: f as AllocatorFactory });
  }
}

async function infoCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      json: { type: 'boolean', default: false },
      'max-ops': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    io.stdout.write(INFO_HELP);
    return Exit.Ok;
  }
  if (positionals.length === 0) throw new UsageError('info needs at least one trace file (memkit info --help)');
  const maxOps = maxOpsOption(values['max-ops']);
  const infos = [];
  for (const path of positionals) infos.push({ ...traceInfo(await loadTrace(path, maxOps)) });
  if (values.json) {
    io.stdout.write(JSON.stringify(infos, null, 2) + '\n');
    return Exit.Ok;
  }
  for (const i of infos) {
    const q = i.sizeQuartiles;
    io.stdout.write([
      `${i.file}`,
      `  ops             ${i.ops} (${i.allocs} a, ${i.frees} f, ${i.reallocs} r)`,
      `  ids             ${i.ids}`,
      `  heap size       ${i.heapSize} (header)`,
      `  request sizes   min ${q[0]}, q1 ${q[1]}, median ${q[2]}, q3 ${q[3]}, max ${q[4]} bytes`,
      `  peak live       ${formatBytes(i.peakPayload)} (${i.peakPayload} bytes) after op ${i.peakOp}`,
      `  peak blocks     ${formatCount(i.peakBlocks)} live at once; ${i.liveAtEnd} live at the end`,
      '',
    ].join('\n'));
  }
  return Exit.Ok;
}

