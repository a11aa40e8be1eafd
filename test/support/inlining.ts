/**
 * V8's inlining decisions, as the inlining tests read them: runs a fixture in a
 * child node with `--trace-turbo-inlining`, per file (tsx) or bundled (esbuild,
 * as an app bundler builds it), and counts what was inlined into a function.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { expect } from 'vitest';

/** Runs node with the inlining trace on `args` in `dir`; returns the trace. */
function trace(dir: string, args: string[], env: Record<string, string>): string {
  // V8 prints the trace with C stdio; into a pipe (non-blocking under Node) part
  // of it was lost whenever the pipe was full. A file loses nothing.
  const file = join(dir, 'trace.txt');
  const fd = openSync(file, 'w');
  try {
    const r = spawnSync(process.execPath, ['--trace-turbo-inlining', ...args], {
      stdio: ['ignore', fd, 'pipe'],
      encoding: 'utf8',
      env: { ...process.env, ...env },
    });
    expect(r.status, r.stderr).toBe(0);
  } finally {
    closeSync(fd);
  }
  const out = readFileSync(file, 'utf8');
  expect(out).toContain('done');
  return out;
}

/**
 * The inlining trace of `fixture` (a file that prints `done` at its end), run per
 * file with tsx, or bundled by esbuild first.
 */
export function inliningTrace(fixture: string, how: 'per file' | 'bundled', env: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'memkit-inlining-'));
  try {
    if (how === 'per file') return trace(dir, ['--import', 'tsx', fixture], env);
    const outfile = join(dir, 'fixture.mjs');
    buildSync({
      entryPoints: [fixture],
      bundle: true,
      format: 'esm',
      platform: 'node',
      outfile,
      external: ['assemblyscript'],
      logLevel: 'error',
    });
    return trace(dir, [outfile], env);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** How many times the trace inlined `callee` into `caller` (one line per call site per optimization). */
export function inlinedInto(out: string, callee: string, caller: string): number {
  const into = new RegExp(` into \\S+ \\{\\S+ <SharedFunctionInfo ${caller}>\\}$`);
  return out
    .split('\n')
    .filter((l) => l.startsWith('Inlining') && l.includes(`<SharedFunctionInfo ${callee}>`) && into.test(l)).length;
}
