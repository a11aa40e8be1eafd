/**
 * `npm run demo` (demo/lecture.ts) is what a student runs first: the
 * lecture's own examples on memkit. It runs here as a user runs it (a child
 * process, no colour), and what it prints must be what the lecture says:
 * the buddy walkthrough's blocks step by step, the arena that looks the same
 * after a clear as when new, the slab that hands the freed object out again,
 * the kernel's kmalloc classes, and a collection that keeps what the roots
 * reach (a cycle included) and frees the rest (a cycle included).
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

function runDemo(): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'demo/lecture.ts'], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
    timeout: 60_000,
  });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout;
}

/** The lines of the section that starts with the line beginning `head`, up to the next blank line. */
function section(out: string, head: string): string[] {
  const lines = out.split('\n');
  const at = lines.findIndex((l) => l.startsWith(head));
  expect(at, head).toBeGreaterThanOrEqual(0);
  const end = lines.indexOf('', at);
  return lines.slice(at, end < 0 ? undefined : end);
}

describe('npm run demo: the lecture on memkit', () => {
  const out = runDemo();

  it('the buddy walkthrough on 16 pages: splits, rounding, coalescing back to one block, an exact allocation', () => {
    for (const line of [
      'A = allocPages(1): split until a block fits -> pages 0-0',
      'B = allocPages(2): split until a block fits -> pages 2-3',
      'C = allocPages(3): rounded up to 2^2 pages; split until a block fits -> pages 4-7',
      'D = allocPages(1): split until a block fits -> pages 1-1',
    ])
      expect(out).toContain(line);
    expect(section(out, 'D = allocPages(1)').join('\n')).toContain(
      'A 0-0 (2^0), D 1-1 (2^0), B 2-3 (2^1), C 4-7 (2^2), free 8-15 (2^3)',
    );
    expect(section(out, 'free(A)').join('\n')).toContain('free 0-1 (2^1), B 2-3 (2^1)'); // A and D merged
    expect(section(out, 'free(B)').join('\n')).toContain('free 0-15 (2^4)'); // all one block again
    expect(section(out, 'allocPagesExact(5)').join('\n')).toContain(
      'X 0-4 (5 of 2^3), free 5-5 (2^0), free 6-7 (2^1), free 8-15 (2^3)',
    );
  });

  it('the arena: alloc 4, alloc 16 right after it, and after a clear it looks as when new', () => {
    const lines = section(out, 'start ');
    const bar = (prefix: string): string => {
      const l = lines.find((x) => x.startsWith(prefix));
      expect(l, prefix).toBeDefined();
      return l!.slice(l!.indexOf('['));
    };
    const a = Number(/alloc\(4, 1\) {2}-> (\d+)/.exec(lines.join('\n'))?.[1]);
    const b = Number(/alloc\(16, 1\) -> (\d+)/.exec(lines.join('\n'))?.[1]);
    expect(b - a).toBe(4);
    expect(bar('alloc(16, 1)')).toContain('used 20/64 bytes');
    expect(bar('reset()')).toBe(bar('start'));
  });

  it('the slab cache hands the freed object out again, and shrink gives its empty slab back', () => {
    expect(out).toContain('alloc hands out the first free object again: same address');
    expect(section(out, 'shrink()')[0]).toMatch(/partial 0 full 0 empty 0\s*$/);
  });

  it("kmalloc rounds to the kernel's classes up to 4 KiB, then TLSF and whole pages", () => {
    const ksize = new Map(
      [...out.matchAll(/kmalloc\(\s*(\d+)\) -> ksize\s+(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]),
    );
    expect([...ksize]).toEqual([
      [8, 8],
      [30, 32],
      [100, 128],
      [1000, 1024],
      [5000, 5000],
      [20000, 20480],
    ]);
    expect(out).toMatch(/^kmalloc-128 +1 +32 +128 +32 +1 :/m);
  });

  it('garbage collection: the graph as drawn, what a root reaches is kept, the rest (a cycle too) freed', () => {
    expect(out).toContain('nodes  A B C D E F');
    expect(out).toContain('edges  A->B A->C B->C C->A D->E F->F');
    expect(out).toContain('roots  A (a local variable)');
    expect(out).toMatch(/kept: A B C\n\s+not reachable, freed: +D E F\n/);
    expect(out).toContain('release the root, collect(): 0 objects live');
  });
});
