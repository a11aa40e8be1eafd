/**
 * The `memkit` command: `replay` and `info`. {@link run} takes the arguments
 * and returns the exit code (0 ok, 1 verification failure, 2 bad usage or
 * bad input file), so it can be driven from tests as well as from `main.ts`.
 *
 * @module
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { MemkitError } from '../errors/index.js';
import type { ByteAllocator } from '../memory/byte-allocator.js';
import {
  ALLOCATORS,
  allocatorNames,
  defaultAllocatorNames,
  type AllocatorEntry,
  type AllocatorFactory,
} from '../trace/allocators.js';
import { readTrace } from '../trace/read.js';
import { replay, type ReplayResult } from '../trace/replay.js';
import { traceInfo } from '../trace/stats.js';
import { truncateTrace, type Trace } from '../trace/trace.js';
import { ResultsStream, formatBytes, formatCount, resultJson } from './format.js';
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

/** The package's version, from its package.json (two levels up from src/cli/ or dist/cli/). */
export function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

const MAIN_HELP = `memkit: replay allocation traces through memkit's allocators and peers

Usage:
  memkit replay <trace...> [options]   replay traces, print utilization, fragmentation, ops/s
  memkit info <trace...> [--json]      op counts, size quartiles, peak live bytes
  memkit <command> --help              help for a command
  memkit --version                     the version

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
  -a, --allocator <list>  comma-separated allocators (default: ${defaultAllocatorNames().join(',')};
                          the others are slow on big traces: name them to run them)
      --json              print a JSON array of results instead of the table
      --no-verify         no payload or overlap checks: time the bare allocator
      --plot <file.svg>   write footprint and live payload over time as SVG
      --max-ops <n>       replay only the first n ops (n >= 1) of each trace; or
                          per allocator and/or trace: --max-ops thing=300000,
                          --max-ops @bash=1000,thing@perl.rep.gz=500000
      --module <file.js>  load more allocators: a module exporting
                          \`allocators = { name: async (heapBytes) => ByteAllocator }\`
  -h, --help              this help

Rows are printed as each replay ends. A comparison peer that is not
installed (thing needs the optional package @thi.ng/malloc) is skipped with
a note.

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

/** Options that take a value: a value starting with `-` (`--max-ops -5`) is still their value. */
const VALUE_OPTIONS = new Set(['--allocator', '-a', '--plot', '--max-ops', '--module']);

/**
 * `--max-ops -5` becomes `--max-ops=-5`, so that it is refused by the
 * option's own check (one line naming the option) rather than by Node's
 * option parser as an ambiguous option.
 */
function joinDashValues(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const v = args[i + 1];
    if (VALUE_OPTIONS.has(a) && v?.startsWith('-') && v !== '--' && !VALUE_OPTIONS.has(v) && !/^--?[a-z]/i.test(v)) {
      out.push(`${a}=${v}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/** One line: the first line of `s`, or all of it with newlines as spaces when short. */
function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * Runs the command line `argv` (without `node` and the script).
 *
 * @returns the exit code.
 */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const err = (s: string): void => void io.stderr.write(s.endsWith('\n') ? s : s + '\n');
  try {
    const [cmd, ...rest] = argv;
    if (cmd === undefined) throw new UsageError('no command given (expected replay or info; memkit --help)');
    if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
      io.stdout.write(
        cmd === 'help' && rest[0] === 'replay'
          ? replayHelp()
          : cmd === 'help' && rest[0] === 'info'
            ? INFO_HELP
            : MAIN_HELP,
      );
      return Exit.Ok;
    }
    if (cmd === '--version' || cmd === '-v' || cmd === 'version') {
      io.stdout.write(`memkit ${version()}\n`);
      return Exit.Ok;
    }
    if (cmd === 'replay') return await replayCommand(joinDashValues(rest), io);
    if (cmd === 'info') return await infoCommand(joinDashValues(rest), io);
    throw new UsageError(`unknown command "${cmd}" (expected replay or info; memkit --help)`);
  } catch (e) {
    if (e instanceof MemkitError) {
      err(`memkit: ${oneLine(e.message)}`);
      return Exit.Usage;
    }
    const x = e as { code?: string; message?: string };
    if (typeof x?.code === 'string' && x.code.startsWith('ERR_PARSE_ARGS')) {
      const unknown = /^Unknown option '([^']+)'/.exec(x.message ?? '');
      err(
        `memkit: ${unknown !== null ? `unknown option ${unknown[1]}` : oneLine(x.message ?? String(e))} (memkit --help)`,
      );
      return Exit.Usage;
    }
    // Not expected: still one line; the stack only with MEMKIT_DEBUG=1.
    const detail = process.env.MEMKIT_DEBUG ? `\n${(e as Error)?.stack ?? ''}` : '';
    err(`memkit: internal error: ${oneLine((e as Error)?.message ?? String(e))}${detail}`);
    return Exit.Usage;
  }
}

/**
 * `--max-ops N` (everything) or `--max-ops KEY=N,...` where KEY is an
 * allocator (`thing`), a trace (`@perl`, the file name with or without
 * `.rep.gz`/`.rep`) or both (`thing@perl`). Every N is a whole number >= 1.
 */
interface OpCaps {
  all: number | undefined;
  caps: Array<{ allocator: string | null; trace: string | null; n: number }>;
}

const MAX_OPS_LIMIT = 2 ** 31;

/** A positive whole number (at most 2^31) for `--max-ops`. */
function positiveCount(text: string, what: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= MAX_OPS_LIMIT)) {
    throw new UsageError(`${what} takes a whole number from 1 to ${MAX_OPS_LIMIT}, got "${text}"`);
  }
  return n;
}

function parseMaxOps(v: string | undefined): OpCaps {
  if (v === undefined) return { all: undefined, caps: [] };
  if (!v.includes('=')) return { all: positiveCount(v.trim(), '--max-ops'), caps: [] };
  const caps: OpCaps['caps'] = [];
  for (const part of v.split(',')) {
    const m = /^\s*([\w.-]*)(?:@([\w.-]+))?=(.*?)\s*$/.exec(part);
    if (m === null || (m[1] === '' && m[2] === undefined)) {
      throw new UsageError(`--max-ops takes N or KEY=N,... (KEY: allocator, @trace or allocator@trace); got "${v}"`);
    }
    caps.push({
      allocator: m[1] === '' ? null : m[1]!,
      trace: m[2] ?? null,
      n: positiveCount(m[3]!, `--max-ops ${part.trim()}`),
    });
  }
  return { all: undefined, caps };
}

/** The trace's file name without `.rep.gz` / `.rep` / `.gz`. */
function bareName(file: string): string {
  return file.replace(/\.rep(\.gz)?$|\.gz$/, '');
}

/** The smallest cap that applies to (trace file, allocator), or undefined. */
function capFor(o: OpCaps, file: string, allocator: string): number | undefined {
  const bare = bareName(file);
  let n = o.all;
  for (const c of o.caps) {
    if (c.allocator !== null && c.allocator !== allocator) continue;
    if (c.trace !== null && c.trace !== file && c.trace !== bare) continue;
    n = n === undefined ? c.n : Math.min(n, c.n);
  }
  return n;
}

/** Refuses an output file that cannot be written: a missing or read-only directory, a directory, a read-only file. */
function checkWritable(file: string, option: string): void {
  const abs = resolve(file);
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(abs, { throwIfNoEntry: false });
  } catch (e) {
    throw new UsageError(`${option} ${file}: ${(e as Error).message}`);
  }
  if (st?.isDirectory()) throw new UsageError(`${option} ${file}: is a directory`);
  const target = st === undefined ? dirname(abs) : abs;
  try {
    accessSync(target, constants.W_OK);
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why =
      code === 'ENOENT'
        ? `directory ${dirname(file)} does not exist`
        : code === 'EACCES' || code === 'EPERM'
          ? `cannot write ${st === undefined ? `in ${dirname(file)}` : 'the file'}`
          : (e as Error).message;
    throw new UsageError(`${option} ${file}: ${why}`);
  }
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
  // Everything is checked before any replay starts.
  if (positionals.length === 0) throw new UsageError('replay needs at least one trace file (memkit replay --help)');
  if (values.plot !== undefined) {
    if (!values.plot.endsWith('.svg'))
      throw new UsageError(`--plot writes SVG: give a file name ending in .svg, got "${values.plot}"`);
    checkWritable(values.plot, '--plot');
  }
  const opCaps = parseMaxOps(values['max-ops']);
  const registry = new Map<string, AllocatorEntry>(Object.entries(ALLOCATORS));
  for (const m of values.module ?? []) await loadModule(m, registry);
  const asked = values.allocator !== undefined;
  let names = !asked
    ? defaultAllocatorNames()
    : [
        ...new Set(
          values
            .allocator!.split(',')
            .map((s) => s.trim())
            .filter((s) => s !== ''),
        ),
      ];
  if (names.length === 0) throw new UsageError('--allocator needs at least one name');
  for (const n of names) {
    if (!registry.has(n)) throw new UsageError(`unknown allocator "${n}" (known: ${[...registry.keys()].join(', ')})`);
  }
  for (const c of opCaps.caps) {
    if (c.allocator !== null && !registry.has(c.allocator))
      throw new UsageError(
        `--max-ops names unknown allocator "${c.allocator}" (known: ${[...registry.keys()].join(', ')})`,
      );
    if (c.allocator !== null && !names.includes(c.allocator))
      throw new UsageError(
        `--max-ops names allocator "${c.allocator}", which is not replayed (replayed: ${names.join(', ')})`,
      );
    if (c.trace !== null && !positionals.some((p) => basename(p) === c.trace || bareName(basename(p)) === c.trace)) {
      throw new UsageError(
        `--max-ops names trace "${c.trace}", which is not one of the traces given (${positionals.map((p) => bareName(basename(p))).join(', ')})`,
      );
    }
  }
  // Headers first: a missing or malformed file is reported before any work.
  const headers: Trace[] = [];
  for (const path of positionals) headers.push(await readTrace(path, { maxOps: 0 }));
  // Optional peers that are not there are skipped, with a note.
  const kept: string[] = [];
  for (const n of names) {
    const why = await registry.get(n)!.available?.();
    if (why === undefined || why === null) kept.push(n);
    else io.stderr.write(`memkit: skipping ${n}: ${oneLine(why)}\n`);
  }
  names = kept;
  if (names.length === 0) throw new UsageError('no allocator left to replay');

  const verify = !values['no-verify'];
  const json = values.json;
  const progress = new Progress(io.stderr, !json && io.stderr.isTTY === true);
  let totalOps = 0;
  for (const h of headers)
    for (const n of names) totalOps += Math.min(h.declaredOps, capFor(opCaps, h.file, n) ?? Infinity);
  progress.begin(totalOps);
  const table = new ResultsStream(
    headers.map((h) => h.file),
    names,
  );
  let headerDone = json; // the header goes out with the first row
  const results: ReplayResult[] = [];
  let failed = false;
  for (const [k, path] of positionals.entries()) {
    const file = headers[k]!.file;
    // Read only as far as the largest cap of this trace's rows needs.
    const caps = names.map((n) => capFor(opCaps, file, n));
    const readCap = caps.includes(undefined) ? undefined : Math.max(...(caps as number[]));
    const trace = await readTrace(path, readCap === undefined ? {} : { maxOps: readCap });
    for (const [j, name] of names.entries()) {
      let a: ByteAllocator;
      let probeOn: ByteAllocator;
      try {
        a = await registry.get(name)!.create(trace.heapSize);
        probeOn = await registry.get(name)!.create(trace.heapSize);
      } catch (e) {
        throw new UsageError(`cannot create allocator "${name}": ${(e as Error).message}`);
      }
      progress.start(`${trace.file} ${name}`);
      const cap = caps[j];
      const r = replay(cap === undefined ? trace : truncateTrace(trace, cap), a, {
        verify,
        probeOn,
        samples: values.plot !== undefined ? 800 : 0,
        onProgress: progress.enabled ? (d, t) => progress.update(d, t) : undefined,
      });
      progress.done(r.ops);
      results.push(r);
      if (!json) {
        io.stdout.write((headerDone ? '' : table.header() + '\n') + table.row(r) + '\n');
        headerDone = true;
      }
      if (r.violation !== null) {
        failed = true;
        io.stderr.write(`memkit: verification failed: ${oneLine(r.violation)}\n`);
      }
    }
  }
  if (json) {
    io.stdout.write(JSON.stringify(results.map(resultJson), null, 2) + '\n');
  } else if (!verify) {
    io.stdout.write('(--no-verify: no payload or overlap checks)\n');
  }
  if (values.plot !== undefined) {
    try {
      await writeFile(values.plot, plotSvg(results));
    } catch (e) {
      throw new UsageError(`--plot ${values.plot}: ${(e as Error).message}`);
    }
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
  if (a === null || typeof a !== 'object')
    throw new UsageError(`--module ${file} does not export \`allocators\` (an object of factories)`);
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
  const v = values['max-ops'];
  const maxOps = v === undefined ? undefined : positiveCount(v, '--max-ops');
  const infos = [];
  for (const path of positionals)
    infos.push({ ...traceInfo(await readTrace(path, maxOps === undefined ? {} : { maxOps })) });
  if (values.json) {
    io.stdout.write(JSON.stringify(infos, null, 2) + '\n');
    return Exit.Ok;
  }
  for (const i of infos) {
    const q = i.sizeQuartiles;
    io.stdout.write(
      [
        `${i.file}`,
        `  ops             ${i.ops} (${i.allocs} a, ${i.frees} f, ${i.reallocs} r)`,
        `  ids             ${i.ids}`,
        `  heap size       ${i.heapSize} (header)`,
        `  request sizes   min ${q[0]}, q1 ${q[1]}, median ${q[2]}, q3 ${q[3]}, max ${q[4]} bytes`,
        `  peak live       ${formatBytes(i.peakPayload)} (${i.peakPayload} bytes) after op ${i.peakOp}`,
        `  peak blocks     ${formatCount(i.peakBlocks)} live at once; ${i.liveAtEnd} live at the end`,
        '',
      ].join('\n'),
    );
  }
  return Exit.Ok;
}
