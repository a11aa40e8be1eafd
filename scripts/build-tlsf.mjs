#!/usr/bin/env node
// Builds src/peers/tlsf/tlsf.wasm: AssemblyScript's TLSF allocator (the
// `minimal` runtime's memory manager, std/assembly/rt/tlsf.ts) behind four
// exports, used as a peer in benchmarks and tests. The wasm is generated,
// never committed: `npm install` runs this from `prepare`.
//
//   node scripts/build-tlsf.mjs          (or: npm run build:tlsf)
//
// The source is src/peers/tlsf/assembly/tlsf.as; `asc` wants a `.ts` entry,
// so it is handed over in memory as `tlsf.ts` (a `.ts` file in src/ would be
// type-checked by tsc, which does not know AssemblyScript's types).
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = root + 'src/peers/tlsf/tlsf.wasm';
if (process.argv.includes('--if-missing') && existsSync(out)) process.exit(0);
const { default: asc } = await import('assemblyscript/asc');
const source = await readFile(root + 'src/peers/tlsf/assembly/tlsf.as', 'utf8');

const result = await asc.compileString(
  { 'tlsf.ts': source },
  {
    runtime: 'minimal', // links rt/tlsf.ts (stub would be a bump allocator)
    optimizeLevel: 3, // asc's release defaults: -O3, asserts kept, so a
    shrinkLevel: 0, // bad free traps instead of corrupting the heap
  },
);
if (result.error || !result.binary) {
  process.stderr.write(result.stderr.toString());
  throw result.error ?? new Error('asc produced no binary');
}
await writeFile(out, result.binary);
console.log(`build-tlsf: wrote ${out} (${result.binary.length} bytes)`);
