// After tsc: copy the non-TypeScript files the compiled package loads at run
// time (the TLSF peer's wasm, resolved beside dist/peers/tlsf.js) into dist/,
// so dist/ works on its own and ships them. A missing asset is an error: a
// package without it would fail only when a user runs `memkit replay`.
import { cpSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

const assets = [['src/peers/tlsf/tlsf.wasm', 'dist/peers/tlsf/tlsf.wasm']];
for (const [from, to] of assets) {
  if (!existsSync(from)) {
    console.error(`copy-assets: ${from} is missing (run npm run build:tlsf)`);
    process.exit(1);
  }
  mkdirSync(dirname(to), { recursive: true });
  cpSync(from, to);
}
