#!/usr/bin/env node
// Builds the package into dist/: tlsf.wasm (when missing), the TypeScript
// (incremental: the build info is dist/.tsbuildinfo, so deleting dist/
// rebuilds everything), then the assets. `npm install` runs it (prepare).
//
//   node scripts/build.mjs           (or: npm run build)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const step = (args) => {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
if (!existsSync(root + 'src/peers/tlsf/tlsf.wasm')) step(['scripts/build-tlsf.mjs']);
step([require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json']);
step(['scripts/copy-assets.mjs']);
