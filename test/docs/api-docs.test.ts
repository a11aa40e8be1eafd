/**
 * TSDoc on the public API: typedoc's validation (typedoc.json: the entry
 * points src/index.ts and src/trace/index.ts) must report nothing: no public
 * member without documentation (`notDocumented`), no `{@link}` that does not
 * resolve (`invalidLink`), no link to a symbol left out of the docs. Runs
 * the typedoc CLI with `--emit none`: it checks, writes nothing.
 *
 * And every public method of an exported class has an `@example` (found
 * with the TypeScript compiler), which test/docs/codeblocks.test.ts runs.
 *
 * typedoc.json sets `disableSources` (no links to a source host): the docs
 * build the same in a clone with no git remote, as CI's is.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';

const root = resolve(import.meta.dirname, '../..');

/** typedoc's closing count ("Found 0 errors and 1 warnings"), not a finding. */
const SUMMARY = /^Found \d+ errors? and \d+ warnings?$/;

/** The `[warning]` and `[error]` messages typedoc prints, colours stripped. */
function findings(output: string): string[] {
  const out: string[] = [];
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the ANSI escape is what this strips.
  for (const raw of output.replace(/\u001b\[[0-9;]*m/g, '').split('\n')) {
    const m = /^\[(warning|error)\]\s*(.*)$/.exec(raw.trim());
    if (m === null) continue;
    const text = m[2]!;
    if (SUMMARY.test(text)) continue;
    out.push(`[${m[1]}] ${text}`);
  }
  return out;
}

describe('API docs (typedoc validation)', () => {
  it('typedoc.json turns on the notDocumented and invalidLink checks', () => {
    const config = JSON.parse(readFileSync(join(root, 'typedoc.json'), 'utf8')) as {
      validation?: { notDocumented?: boolean; invalidLink?: boolean };
    };
    expect(config.validation?.notDocumented).toBe(true);
    expect(config.validation?.invalidLink).toBe(true);
  });

  it('documents every public member, with no broken link', () => {
    const r = spawnSync(
      process.execPath,
      [
        join(root, 'node_modules/typedoc/bin/typedoc'),
        '--emit',
        'none',
        // Warnings stay warnings (the config makes them errors): this test lists them itself.
        '--treatWarningsAsErrors',
        'false',
        '--validation.notDocumented',
        'true',
        '--validation.invalidLink',
        'true',
      ],
      { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' }, timeout: 100_000 },
    );
    if (r.error !== undefined) throw r.error;
    const output = `${r.stdout}\n${r.stderr}`;
    const found = findings(output);
    expect(found, `typedoc reported ${found.length} problem(s):\n${found.join('\n')}`).toEqual([]);
    expect(r.status, `typedoc exited with ${String(r.status)}:\n${output}`).toBe(0);
  }, 120_000);

  it('gives every public method of an exported class an @example (which codeblocks.test.ts runs)', () => {
    // Left out: SlabSpace (the slab layer's page and cache tables, used by layers above, not by
    // programs), and [Symbol.dispose] (each class's example shows `using`).
    const EXEMPT_CLASSES = new Set(['SlabSpace']);
    const config = ts.readConfigFile(join(root, 'tsconfig.json'), ts.sys.readFile);
    const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
    const entry = join(root, 'src/index.ts');
    const program = ts.createProgram([entry], { ...options, noEmit: true });
    const checker = program.getTypeChecker();
    const missing: string[] = [];
    let methods = 0;
    for (const exported of checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(entry)!)!)) {
      const sym = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      if ((sym.flags & ts.SymbolFlags.Class) === 0 || EXEMPT_CLASSES.has(exported.name)) continue;
      const members = [
        ...checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(sym)),
        ...checker.getPropertiesOfType(checker.getTypeOfSymbol(sym)).filter((p) => p.name !== 'prototype'),
      ];
      for (const m of members) {
        const decls = (m.declarations ?? []).filter(ts.isMethodDeclaration);
        const first = decls[0];
        if (first === undefined || m.name.startsWith('__@') || ts.isPrivateIdentifier(first.name)) continue;
        if (ts.getCombinedModifierFlags(first) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) continue;
        if (decls.some((d) => ts.getJSDocTags(d).some((t) => t.tagName.text === 'internal'))) continue;
        if (first.getSourceFile().fileName.includes('/src/errors/')) continue;
        methods++;
        if (!decls.some((d) => ts.getJSDocTags(d).some((t) => t.tagName.text === 'example')))
          missing.push(`${exported.name}.${m.name}`);
      }
    }
    expect(methods).toBeGreaterThan(100); // the walk found the API (not an empty program)
    expect(missing, `public methods with no @example:\n${missing.join('\n')}`).toEqual([]);
  });
});
