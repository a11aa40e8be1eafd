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
import { memberName, publicTypes } from '../support/public-api.js';

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
    const missing: string[] = [];
    let methods = 0;
    for (const t of publicTypes()) {
      if (!t.isClass || EXEMPT_CLASSES.has(t.name)) continue;
      for (const m of [...t.members, ...t.statics]) {
        const decls = (m.declarations ?? []).filter(ts.isMethodDeclaration);
        if (decls.length === 0 || memberName(m).startsWith('[Symbol.')) continue;
        if (decls[0]!.getSourceFile().fileName.includes('/src/errors/')) continue;
        methods++;
        if (!decls.some((d) => ts.getJSDocTags(d).some((tag) => tag.tagName.text === 'example')))
          missing.push(`${t.name}.${memberName(m)}`);
      }
    }
    expect(methods).toBeGreaterThan(100); // the walk found the API (not an empty program)
    expect(missing, `public methods with no @example:\n${missing.join('\n')}`).toEqual([]);
  });
});
