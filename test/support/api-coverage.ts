/**
 * The coverage checks of the sweeps that take memkit's public API from the
 * TypeScript compiler (test/memory/lost-buffer-api.test.ts,
 * test/memory/wasm-grow-api.test.ts, test/workers/attach-api.test.ts): each
 * swept subject has a table with one entry per public member, and every
 * exported class is swept or excused with a reason. A new member or class
 * then fails the sweep until someone decides what it should do.
 */
import { expect } from 'vitest';
import { memberName, publicTypes } from './public-api.js';

/** An exported class's or interface's public member names (sorted). */
export interface ApiNames {
  readonly isClass: boolean;
  /** Public instance members, inherited ones too. */
  readonly members: readonly string[];
  /** Public static members (of a class). */
  readonly statics: readonly string[];
}

/** The public member names of every class and interface src/index.ts exports, by exported name. */
export function apiNames(): Map<string, ApiNames> {
  return new Map(
    publicTypes().map((t) => [
      t.name,
      { isClass: t.isClass, members: t.members.map(memberName).sort(), statics: t.statics.map(memberName).sort() },
    ]),
  );
}

/** Fails unless `table` has an entry for each of `names` and none for anything else. */
export function expectEntries(names: readonly string[], table: object, what: 'member' | 'static'): void {
  expect(
    names.filter((m) => !Object.hasOwn(table, m)),
    `public ${what}s with no entry`,
  ).toEqual([]);
  expect(
    Object.keys(table).filter((m) => !names.includes(m)),
    `entries of no public ${what}`,
  ).toEqual([]);
}

/**
 * Fails unless every exported class is swept or named in `excused` (with
 * its reason), and `excused` names only exported classes that are not swept.
 */
export function expectClassesCovered(
  api: ReadonlyMap<string, ApiNames>,
  swept: Iterable<string>,
  excused: Readonly<Record<string, string>>,
): void {
  const sweptNames = new Set(swept);
  const classes = [...api].filter(([, a]) => a.isClass).map(([name]) => name);
  expect(
    classes.filter((c) => !sweptNames.has(c) && !Object.hasOwn(excused, c)),
    'exported classes neither swept nor excused',
  ).toEqual([]);
  expect(
    Object.keys(excused).filter((c) => !classes.includes(c)),
    'excuses of no exported class',
  ).toEqual([]);
  expect(
    Object.keys(excused).filter((c) => sweptNames.has(c)),
    'classes both swept and excused',
  ).toEqual([]);
  expect(
    Object.entries(excused).filter(([, why]) => why === ''),
    'excuses with no reason',
  ).toEqual([]);
}
