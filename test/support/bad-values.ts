import { expect } from 'vitest';
import { MemkitError } from '../../src/index.js';

/**
 * The bad values of the hardening issue, one table for every layer's
 * bad-input matrix: numbers out of range or not whole, other types, objects
 * that would coerce, and two addresses no allocator may act on (an interior
 * one, `live + 8`, and one from another heap).
 */
export function badValues(live: number, foreign: number): Array<[string, unknown]> {
  return [
    ['0', 0],
    ['-1', -1],
    ['1.5', 1.5],
    ['NaN', NaN],
    ['+Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['-0', -0],
    ['2^31', 2 ** 31],
    ['2^32', 2 ** 32],
    ['2^53', 2 ** 53],
    ['"64"', '64'],
    ['String(live)', String(live)],
    ['BigInt(live)', BigInt(live)],
    ['null', null],
    ['undefined', undefined],
    ['{ valueOf: live }', { valueOf: () => live }],
    ['[live]', [live]],
    ['true', true],
    ['false', false],
    ['live + 8 (interior)', live + 8],
    ['foreign address', foreign],
    ['a symbol', Symbol('x')],
    ['a function', () => live],
  ];
}

/** Calls f and returns what it threw; fails the test unless that is a MemkitError (`what` names the call). */
export function refused(what: string, f: () => unknown): unknown {
  let err: unknown;
  let threw = false;
  try {
    f();
  } catch (e) {
    err = e;
    threw = true;
  }
  expect(threw, `${what}: nothing thrown`).toBe(true);
  expect(err, `${what}: ${String(err)}`).toBeInstanceOf(MemkitError);
  return err;
}

/**
 * `badValues` with the coercible ones instrumented: the object with
 * `valueOf`, the array and the function push the name of each of their
 * `valueOf` / `toString` calls onto `ran`, so a sweep can tell that a method
 * coerced a value (ran is non-empty after the call) even when it refused it.
 */
export function recordingBadValues(live: number, foreign: number, ran: string[]): Array<[string, unknown]> {
  const recorder =
    <T>(name: string, v: T) =>
    (): T => {
      ran.push(name);
      return v;
    };
  return badValues(live, foreign).map(([label, x]): [string, unknown] => {
    if (label === '{ valueOf: live }')
      return [label, { valueOf: recorder('valueOf', live), toString: recorder('toString', String(live)) }];
    if (typeof x === 'object' && x !== null) {
      Object.defineProperty(x, 'toString', { value: recorder('toString', String(live)) });
      Object.defineProperty(x, 'valueOf', { value: recorder('valueOf', x) });
    }
    if (typeof x === 'function') Object.defineProperty(x, 'toString', { value: recorder('toString', 'f') });
    return [label, x];
  });
}

/** An error as a sweep reports it: its class and message. */
export function describeError(e: unknown): string {
  return e instanceof Error ? `${e.constructor.name}: ${e.message}` : `a throw of ${String(e)}`;
}
