/**
 * Docs that run: every ```ts block of README.md and docs/*.md, and every
 * ```ts block under an `@example` tag of the TSDoc in src/, is executed
 * against the package (`memkit` resolves to src/index.ts, `memkit/trace` to
 * src/trace/index.ts). The files are read when the test runs, so a block
 * edited in a doc is checked as it is now.
 *
 * - A block meant as a fragment is marked ```ts no-run (keep it rare).
 * - An `@example` block of a member may use the object it documents
 *   (`arena`, `heap`, a type `T`) without making it: it gets a fresh one.
 * - An `@example` block may use the names exported by `memkit`,
 *   `memkit/trace` and the module it documents without importing them (TSDoc
 *   examples show the call, not the imports); README and docs blocks must
 *   import what they use, as a reader would copy them.
 * - {@link KNOWN_BROKEN} lists blocks known not to run, each with the reason;
 *   they are run too and must still fail (when one is fixed, this test says
 *   to take it off the list).
 *
 * @module
 */
import { describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = resolve(import.meta.dirname, '../..');
const ENTRY: Record<string, string> = {
  memkit: join(root, 'src/index.ts'),
  'memkit/trace': join(root, 'src/trace/index.ts'),
};

/**
 * Blocks known not to run, outside this test's area (the lead decides their
 * fix), keyed by `path | first line of the block` (stable while lines move)
 * -> why. Each is still run, and must still fail.
 */
const KNOWN_BROKEN: Record<string, string> = {};

/** The key of a block in {@link KNOWN_BROKEN}. */
function key(b: Block): string {
  const first = b.code.split('\n').find((l) => l.trim() !== '') ?? '';
  return `${b.where.replace(/:\d+$/, '')} | ${first.trim()}`;
}

interface Block {
  /** `path:line` of the opening fence (1-based, path relative to the repo). */
  where: string;
  /** Source file the block comes from (for @example: the module it documents). */
  file: string;
  code: string;
  example: boolean;
  noRun: boolean;
}

/** The ```ts blocks of a Markdown file. */
function markdownBlocks(path: string): Block[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)```(ts|typescript)\b(.*)$/.exec(lines[i]!);
    if (m === null) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]!); i++) body.push(lines[i]!.slice(m[1]!.length));
    out.push({
      where: `${relative(root, path)}:${start + 1}`,
      file: path,
      code: body.join('\n'),
      example: false,
      noRun: /\bno-run\b/.test(m[3]!),
    });
  }
  return out;
}

/** The ```ts blocks under `@example` in the doc comments of a TypeScript file. */
function exampleBlocks(path: string): Block[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const out: Block[] = [];
  let inExample = false;
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!.replace(/^\s*\/?\*+\s?/, '');
    if (/^\s*\*\//.test(lines[i]!) || !/^\s*\*/.test(lines[i]!)) inExample = false;
    if (/^@example\b/.test(text)) {
      inExample = true;
      continue;
    }
    if (/^@\w/.test(text)) inExample = false;
    const m = /^```(ts|typescript)\b(.*)$/.exec(text);
    if (!inExample || m === null) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!.replace(/^\s*\*\s?/, '')); i++)
      body.push(lines[i]!.replace(/^\s*\*( |$)/, ''));
    out.push({
      where: `${relative(root, path)}:${start + 1}`,
      file: path,
      code: body.join('\n'),
      example: true,
      noRun: /\bno-run\b/.test(m[2]!),
    });
  }
  return out;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? walk(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [],
  );
}

const docs = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
const blocks = [
  ...docs.flatMap((f) => markdownBlocks(join(root, f))),
  ...walk(join(root, 'src')).flatMap(exampleBlocks),
];
const tmp = mkdtempSync(join(tmpdir(), 'memkit-docs-'));

/** The block as a module: `memkit` imports pointed at src/; for examples, the names they use imported. */
async function moduleText(b: Block): Promise<string> {
  let code = b.code.replace(
    /(from\s+|import\s*\(\s*)(['"])(memkit(?:\/trace)?)\2/g,
    (_m, pre: string, q: string, spec: string) => `${pre}${q}${pathToFileURL(ENTRY[spec]!).href}${q}`,
  );
  if (b.example) {
    // A member example may use the object it documents without making it: it gets a fresh one.
    const declared = (n: string): boolean =>
      new RegExp(`\\b(const|let|var|using|function|class)\\s+${n}\\b|\\(\\s*${n}\\s*[,)]`).test(code);
    const fixtures: string[] = [];
    if (/\bheap\b/.test(code) && !declared('heap')) fixtures.push('const heap = new ManagedHeap({ bytes: 1 << 20 });');
    if (/\bT\b/.test(code) && !declared('T'))
      fixtures.push("const T = heap.defineType('T', { next: 'ref', value: 'i32' });");
    if (/\barena\b/.test(code) && !declared('arena')) fixtures.push('const arena = new Arena({ bytes: 1 << 16 });');
    code = fixtures.join('\n') + '\n' + code;
    const sources = [ENTRY.memkit!, ENTRY['memkit/trace']!, b.file];
    const imports: string[] = [];
    const taken = new Set<string>();
    for (const src of sources) {
      const names = Object.keys((await import(pathToFileURL(src).href)) as object).filter(
        (n) =>
          !taken.has(n) &&
          new RegExp(`\\b${n}\\b`).test(code) &&
          !new RegExp(`\\b(const|let|var|function|class)\\s+${n}\\b|\\{[^}]*\\b${n}\\b[^}]*\\}\\s*=`).test(code) &&
          !new RegExp(`import[^;]*\\b${n}\\b`).test(code),
      );
      for (const n of names) taken.add(n);
      if (names.length > 0) imports.push(`import { ${names.join(', ')} } from '${pathToFileURL(src).href}';`);
    }
    code = imports.join('\n') + '\n' + code;
  }
  return code + '\nexport {};\n';
}

async function runBlock(b: Block, k: number): Promise<void> {
  const file = join(tmp, `block-${k}.ts`);
  writeFileSync(file, await moduleText(b));
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    await import(pathToFileURL(file).href);
  } finally {
    log.mockRestore();
  }
}

describe('code blocks in README.md, docs/*.md and @example run', () => {
  it('finds the blocks: README, docs/ and @example blocks', () => {
    expect(blocks.filter((b) => b.where.startsWith('README.md')).length).toBeGreaterThan(0);
    expect(blocks.filter((b) => b.where.startsWith('docs/')).length).toBeGreaterThan(0);
    expect(blocks.filter((b) => b.example).length).toBeGreaterThan(0);
  });

  for (const [k, b] of blocks.entries()) {
    if (b.noRun) {
      it.skip(`${b.where} (marked no-run)`, () => {});
      continue;
    }
    const broken = KNOWN_BROKEN[key(b)];
    if (broken !== undefined) {
      it(`${b.where} is known not to run (${broken}): it must still fail`, async () => {
        await expect(runBlock(b, k), `${b.where} runs now: take it off KNOWN_BROKEN`).rejects.toThrow();
      });
    } else {
      it(b.where, async () => {
        await runBlock(b, k);
      });
    }
  }
});
