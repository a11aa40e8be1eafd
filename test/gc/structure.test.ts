import { readFileSync, readdirSync } from 'node:fs';
import { expect, it } from 'vitest';

const dir = new URL('../../src/gc/', import.meta.url);

/** Imports of each gc/ module (type-only ones too): file -> gc files it imports, and other imports. */
function imports(): Map<string, { local: string[]; outside: string[] }> {
  const out = new Map<string, { local: string[]; outside: string[] }>();
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.ts'))) {
    const text = readFileSync(new URL(f, dir), 'utf8');
    const specs = [...text.matchAll(/^(?:import|export)[^'"]*?from\s+'([^']+)'/gms)].map((m) => m[1]!);
    out.set(f, {
      local: specs.filter((s) => s.startsWith('./')).map((s) => s.slice(2).replace(/\.js$/, '.ts')),
      outside: specs.filter((s) => !s.startsWith('./')),
    });
  }
  return out;
}

it('gc/ modules import each other without a circle (type-only imports included)', () => {
  const graph = imports();
  expect(graph.size).toBeGreaterThan(8);
  const state = new Map<string, 1 | 2>(); // 1 visiting, 2 done
  const cycles: string[] = [];
  const visit = (f: string, path: string[]): void => {
    if (state.get(f) === 2) return;
    if (state.get(f) === 1) {
      cycles.push([...path.slice(path.indexOf(f)), f].join(' -> '));
      return;
    }
    state.set(f, 1);
    for (const g of graph.get(f)?.local ?? []) visit(g, [...path, f]);
    state.set(f, 2);
  };
  for (const f of graph.keys()) visit(f, []);
  expect(cycles).toEqual([]);
  // heap.ts is the face: no other module imports it.
  for (const [f, { local }] of graph) if (f !== 'index.ts') expect(local, f).not.toContain('heap.ts');
});

it('gc/ imports only the layers below it (kmalloc, memory, errors) and the leak tool it re-exports', () => {
  for (const [f, { outside }] of imports()) {
    for (const spec of outside)
      expect(spec, f).toMatch(/^\.\.\/(kmalloc|memory|errors)\/|^\.\.\/tools\/leaks\/index\.js$/);
  }
});

it('the const-enum copies of layout words in the inlined fast paths equal layout.ts', async () => {
  const layout = (await import('../../src/gc/layout.js')) as unknown as Record<string, unknown>;
  // A const enum compiles to literals where it is used, so its source text is what is checked.
  let checked = 0;
  for (const f of ['roots.ts', 'alloc.ts', 'heap.ts', 'state.ts']) {
    const text = readFileSync(new URL(f, dir), 'utf8');
    const body = /export const enum Hot\w+ \{([^}]*)\}/.exec(text)?.[1];
    expect(body, f).toBeDefined();
    const members = [...body!.matchAll(/(\w+) = (\d+)/g)];
    expect(members.length, f).toBeGreaterThan(1);
    for (const [, name, value] of members) {
      expect(Number(value), `${f}: ${name}`).toBe(layout[name!]);
      checked++;
    }
  }
  expect(checked).toBeGreaterThan(10);
});

it("the mark loop's literal scan-code masks (0xff0000, 0x10000, 0x20000) are the layout's codes << SCAN_SHIFT", async () => {
  const { SCAN_SHIFT } = await import('../../src/gc/layout.js');
  const text = readFileSync(new URL('collector.ts', dir), 'utf8');
  // The array loop compares the info word's scan-code byte in place, as literals.
  expect(text).toContain('u32[cw]! & 0xff0000');
  expect(0xff << SCAN_SHIFT).toBe(0xff0000);
  expect(1 << SCAN_SHIFT).toBe(0x10000);
  expect(2 << SCAN_SHIFT).toBe(0x20000);
});

it('the Root handle class has no # members (with them V8 often allocated a handle it could otherwise drop)', () => {
  const text = readFileSync(new URL('roots.ts', dir), 'utf8');
  const start = text.indexOf('export class Root {');
  expect(start).toBeGreaterThan(0);
  const body = text.slice(start, text.indexOf('\n}\n', start));
  expect(body).toContain('release(): void');
  expect(body.match(/#\w+/g) ?? []).toEqual([]);
});
