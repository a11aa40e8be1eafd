/**
 * TSDoc on the public API: typedoc's validation (typedoc.json: the entry
 * points src/index.ts and src/trace/index.ts) must report nothing: no public
 * member without documentation (`notDocumented`), no `{@link}` that does not
 * resolve (`invalidLink`), no link to a symbol left out of the docs. Runs
 * the typedoc CLI with `--emit none`: it checks, writes nothing.
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
});
