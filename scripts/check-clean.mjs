#!/usr/bin/env node
// Fails (exit 1, listing the files) when the git work tree has changes:
// tracked files modified or deleted, or untracked files that .gitignore does
// not cover. Ignored build outputs (dist/, docs/api/, node_modules/) are fine.
// Run by .ci/run after `npm install` and after `npm test`.
//
//   node scripts/check-clean.mjs [what just ran]
import { execFileSync } from 'node:child_process';

const what = process.argv[2] ?? 'the previous step';
const out = execFileSync('git', ['status', '--porcelain', '--untracked-files=all'], { encoding: 'utf8' });
if (out.trim() !== '') {
  process.stderr.write(`check-clean: ${what} left the tree dirty:\n${out}`);
  process.exit(1);
}
console.log(`check-clean: the tree is clean after ${what}`);
