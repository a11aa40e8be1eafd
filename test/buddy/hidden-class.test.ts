/**
 * Principle 3 and issue 9: `new X(options)` and `X.attach(memory)` go
 * through one constructor, so they make objects of one hidden class. V8's
 * `%HaveSameMap` says so; it needs `--allow-natives-syntax`, so the check
 * runs in a child node process.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

it('constructed and attached allocators share a hidden class (%HaveSameMap)', () => {
  const script = fileURLToPath(new URL('./fixtures/same-map.ts', import.meta.url));
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', script], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(r.stderr).toBe('');
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, boolean>;
  expect(out).toEqual({
    'buddy: new vs attach': true,
    'buddy offsets-only: new vs attach': true,
    'buddy: memory-backed vs offsets-only': true,
    'buddy: after use': true,
    'arena: new vs attach': true,
    'arena over a buddy: new vs attach': true,
    'arena: fixed vs over a buddy': true,
    'arena: after use': true,
    'control: buddy vs arena': false,
  });
}, 60_000);
