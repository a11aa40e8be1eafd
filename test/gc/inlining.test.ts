/**
 * The README's tree code costs what the benchmark says only if V8 inlines the
 * whole per-node path into the user's function: `T.alloc()`, `heap.root()`,
 * both field `set`s and `release()`. V8 (Node 20) inlines at most 920 bytes of
 * bytecode into one function, and takes a candidate only if 1.2x its size
 * still fits; on 3 Dec, in a bundle (esbuild, as a bundler builds a user's
 * app), the second `set` was 2 bytes over and ran as a call (docs/gc.md). This
 * test runs the benchmark's README-style code (test/gc/fixtures/readme-trees.ts)
 * in a child with `--trace-turbo-inlining`, per file as tsx and `tsc` emit it
 * and bundled, and checks what V8 did: a change that makes one of these
 * functions bigger shows up here, not as a slower benchmark.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { describe, expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('./fixtures/readme-trees.ts', import.meta.url));

/** Runs node with the inlining trace on `args`; returns the trace (written to a file: see below). */
function trace(dir: string, args: string[]): string {
  // V8 prints the trace with C stdio; into a pipe (non-blocking under Node) part
  // of it was lost whenever the pipe was full. A file loses nothing.
  const file = join(dir, 'trace.txt');
  const fd = openSync(file, 'w');
  try {
    const r = spawnSync(process.execPath, ['--trace-turbo-inlining', ...args], {
      stdio: ['ignore', fd, 'pipe'],
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
  } finally {
    closeSync(fd);
  }
  const out = readFileSync(file, 'utf8');
  expect(out).toContain('done');
  return out;
}

/** Checks that every optimization of `bottomUp` in the trace inlined the whole per-node path. */
function expectWholePath(out: string): void {
  const into = (callee: string): number =>
    out
      .split('\n')
      .filter((l) => l.startsWith('Inlining') && l.includes(`<SharedFunctionInfo ${callee}>`))
      .filter((l) => / into \S+ \{\S+ <SharedFunctionInfo bottomUp>\}$/.test(l)).length;
  // Each line names one call site of one optimization of bottomUp (there may be more than one).
  const optimizations = into('alloc');
  expect(optimizations).toBeGreaterThanOrEqual(1);
  expect(into('root')).toBe(optimizations);
  expect(into('makeRoot')).toBe(optimizations);
  expect(into('release')).toBe(optimizations);
  expect(into('set')).toBe(2 * optimizations);
}

describe("ManagedHeap: the README's per-node path is inlined whole", () => {
  it('per file (as tsx and tsc emit the modules): alloc, root, both sets and release', () => {
    const dir = mkdtempSync(join(tmpdir(), 'memkit-inlining-'));
    try {
      expectWholePath(trace(dir, ['--import', 'tsx', fixture]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('bundled (esbuild, as an app bundler builds it): the same', () => {
    const dir = mkdtempSync(join(tmpdir(), 'memkit-inlining-'));
    try {
      const outfile = join(dir, 'trees.mjs');
      buildSync({
        entryPoints: [fixture],
        bundle: true,
        format: 'esm',
        platform: 'node',
        outfile,
        external: ['assemblyscript'],
        logLevel: 'error',
      });
      expectWholePath(trace(dir, [outfile]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
