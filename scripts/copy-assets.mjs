// After tsc: copy the non-TypeScript files the compiled package loads at run
// time (the TLSF peer's wasm) into dist/, so dist/ works on its own.
import { cpSync, existsSync } from 'node:fs';

const assets = [['src/peers/tlsf/tlsf.wasm', 'dist/peers/tlsf/tlsf.wasm']];
for (const [from, to] of assets) {
  if (existsSync(from)) cpSync(from, to);
  else console.warn(`copy-assets: ${from} missing (run npm run build:tlsf)`);
}
