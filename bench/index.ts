/**
 * `npm run bench [-- [module ...] [--json] [--quick]]`
 *
 * Runs every bench module present, in layer order (arena, buddy, slab,
 * kmalloc, gc), or only the ones named; a module whose file is not written
 * yet is skipped with a note. `--json` also writes `bench/results.json`
 * (modules run now replace their earlier entries; the others are kept).
 * `--quick` makes short rounds, for a smoke test.
 *
 * @module
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { DEFAULT_OPTIONS, QUICK_OPTIONS, benchSink, type BenchModule, type CaseResult } from './harness.js';

/** Bench modules, in layer order. */
const MODULES = ['arena', 'buddy', 'slab', 'kmalloc', 'gc', 'workers', 'workers-layers'] as const;

interface ResultsFile {
  node: string;
  cpu: string;
  modules: Record<string, { date: string; quick: boolean; cases: CaseResult[] }>;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const quick = args.includes('--quick');
  const unknownFlags = args.filter((a) => a.startsWith('--') && a !== '--json' && a !== '--quick');
  const names = args.filter((a) => !a.startsWith('--'));
  const unknown = names.filter((n) => !(MODULES as readonly string[]).includes(n));
  if (unknownFlags.length > 0 || unknown.length > 0) {
    console.error(`unknown: ${[...unknownFlags, ...unknown].join(' ')}`);
    console.error(`usage: npm run bench -- [${MODULES.join('|')} ...] [--json] [--quick]`);
    process.exitCode = 2;
    return;
  }
  const chosen = names.length > 0 ? names : [...MODULES];
  const options = quick ? QUICK_OPTIONS : DEFAULT_OPTIONS;
  const cpu = cpus()[0]?.model ?? 'unknown cpu';
  console.log(
    `# memkit benchmarks  (node ${process.version}, ${cpu}, ${options.rounds} rounds of ~${options.roundMs} ms, median)\n`,
  );

  const done: Record<string, CaseResult[]> = {};
  for (const name of chosen) {
    const file = new URL(`./${name}.ts`, import.meta.url);
    if (!existsSync(file)) {
      console.log(`# ${name}: skipped (bench/${name}.ts not written yet)\n`);
      continue;
    }
    console.log(`# ${name}\n`);
    const mod = (await import(`./${name}.js`)) as Partial<BenchModule>;
    if (typeof mod.run !== 'function') {
      console.error(`# ${name}: bench/${name}.ts exports no run(options)\n`);
      process.exitCode = 1;
      continue;
    }
    done[name] = await mod.run(options);
  }

  if (json) {
    const path = fileURLToPath(new URL('./results.json', import.meta.url));
    const prev: ResultsFile = existsSync(path)
      ? (JSON.parse(readFileSync(path, 'utf8')) as ResultsFile)
      : { node: '', cpu: '', modules: {} };
    const date = new Date().toISOString();
    const out: ResultsFile = { node: process.version, cpu, modules: { ...prev.modules } };
    for (const [name, cases] of Object.entries(done)) out.modules[name] = { date, quick, cases };
    writeFileSync(path, JSON.stringify(out, null, 2) + '\n');
    console.log(`wrote ${path}`);
  }
  if (benchSink() === 0x7fffffff) console.log(''); // keeps the checksums alive
}

await main();
