/**
 * The house rules of DESIGN.md, checked on the real import graph of src/:
 * no import cycle anywhere, and no layer imports a layer above it (nor a
 * sibling on the same level: slab and tlsf know nothing of each other).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../src');

/**
 * The layer of each top-level folder of src/, bottom first (DESIGN.md, "The
 * layers"). A file may import its own folder and folders of a lower level.
 * Files directly in src/ are the package's entry points, above everything,
 * except those that import nothing (compat.ts: type declarations), leaves below all.
 */
const LEVEL: Readonly<Record<string, number>> = {
  errors: 0,
  memory: 1,
  arena: 2,
  buddy: 3,
  slab: 4,
  tlsf: 4,
  kmalloc: 5,
  gc: 6,
  tools: 7,
  peers: 7,
  trace: 8,
  cli: 9,
};
const ENTRY_LEVEL = 100;

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Relative imports and re-exports of a file (type-only ones too: they still couple layers). */
function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles
    .map((f) => f.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
}

function folderOf(file: string): string {
  const rel = relative(SRC, file).split('/');
  return rel.length === 1 ? '' : (rel[0] ?? '');
}

function levelOf(file: string): number {
  const folder = folderOf(file);
  if (folder === '') return (graph.get(file) ?? []).length === 0 ? -1 : ENTRY_LEVEL;
  const level = LEVEL[folder];
  if (level === undefined) throw new Error(`src/${folder} has no level: add it to LEVEL in this test and to DESIGN.md`);
  return level;
}

const graph = new Map<string, string[]>(files(SRC).map((f) => [f, importsOf(f)]));

describe('the import graph of src/', () => {
  it('every import names a file that exists', () => {
    const missing: string[] = [];
    for (const [file, deps] of graph) {
      for (const d of deps) if (!graph.has(d)) missing.push(`${relative(SRC, file)} -> ${relative(SRC, d)}`);
    }
    expect(missing).toEqual([]);
  });

  it('no layer imports a layer above it or beside it', () => {
    const upward: string[] = [];
    for (const [file, deps] of graph) {
      for (const d of deps) {
        if (!graph.has(d) || folderOf(d) === folderOf(file)) continue;
        if (levelOf(d) >= levelOf(file)) upward.push(`${relative(SRC, file)} -> ${relative(SRC, d)}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('has no cycle', () => {
    const WHITE = 0;
    const GREY = 1;
    const BLACK = 2;
    const color = new Map<string, number>();
    const cycles: string[] = [];
    const path: string[] = [];
    const visit = (f: string): void => {
      color.set(f, GREY);
      path.push(f);
      for (const d of graph.get(f) ?? []) {
        const c = color.get(d) ?? WHITE;
        if (c === GREY) {
          const from = path.indexOf(d);
          cycles.push([...path.slice(from), d].map((p) => relative(SRC, p)).join(' -> '));
        } else if (c === WHITE && graph.has(d)) {
          visit(d);
        }
      }
      path.pop();
      color.set(f, BLACK);
    };
    for (const f of graph.keys()) if ((color.get(f) ?? WHITE) === WHITE) visit(f);
    expect(cycles).toEqual([]);
  });

  it('every folder has an entry file whose first comment says what the layer is and what it may import', () => {
    const silent: string[] = [];
    for (const folder of Object.keys(LEVEL)) {
      let text: string;
      try {
        text = readFileSync(join(SRC, folder, 'index.ts'), 'utf8');
      } catch {
        continue; // a level not present in this tree
      }
      const first = /^\/\*\*([\s\S]*?)\*\//.exec(text.trimStart())?.[1] ?? '';
      if (!/imports?\b/i.test(first)) silent.push(`src/${folder}/index.ts`);
    }
    expect(silent).toEqual([]);
  });
});
