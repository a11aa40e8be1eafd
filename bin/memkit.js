#!/usr/bin/env node
// The `memkit` command (the package's `bin`). In the published package it
// runs dist/cli/main.js. In a checkout of the repository (src/ is there; the
// package does not ship it) it runs the sources through tsx, a
// devDependency: `npx memkit` then works right after `npm install`, with no
// build step, and never runs a stale dist/.
import { existsSync } from 'node:fs';

const src = new URL('../src/cli/main.ts', import.meta.url);
if (existsSync(src)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(src.href);
} else {
  await import(new URL('../dist/cli/main.js', import.meta.url).href);
}
