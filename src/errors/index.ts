/**
 * Below every layer: the typed errors they all throw, and the argument gates
 * of their public boundaries. Imports nothing.
 *
 * Every error a memkit allocator throws extends {@link MemkitError}. An
 * allocator that throws leaves its state exactly as it was before the call
 * (principle 4 of DESIGN.md), so a caller may catch and carry on.
 *
 * @module
 */

/** Base class of every error memkit throws. */
export class MemkitError extends Error {
  /** Always `'MemkitError'`: what `String(e)` prints before the message. */
  override name = 'MemkitError';
}

/**
 * An argument is malformed: a size that is negative, fractional, NaN,
 * Infinity or larger than the allocator can ever give, an alignment that is
 * not a power of two, an option out of range.
 *
 * @example
 * ```ts
 * try { arena.alloc(-1); } catch (e) { e instanceof InvalidArgumentError; }
 * ```
 */
export class InvalidArgumentError extends MemkitError {
  /** Always `'InvalidArgumentError'`: what `String(e)` prints before the message. */
  override name = 'InvalidArgumentError';
  /**
   * The name of the argument or option that was refused, when one is named:
   * for an argument of a public method, the parameter's name as the typings
   * show it (`'addr'`, `'obj'`, `'options'`; a setter's: the property's
   * name), or, inside an options object, the option's name (`'bytes'`, an
   * unknown option's key). test/memory/bad-values-api.test.ts checks it for
   * every parameter of every public method.
   */
  readonly argument: string | undefined;
  constructor(message: string, argument?: string) {
    super(message);
    this.argument = argument;
  }
}

/**
 * The allocator has no block for the request right now. The allocator stays
 * usable: free something, or grow the memory, and try again.
 */
export class OutOfMemoryError extends MemkitError {
  /** Always `'OutOfMemoryError'`: what `String(e)` prints before the message. */
  override name = 'OutOfMemoryError';
  /** The size that was asked for, in the unit of the call (bytes or pages). */
  readonly requested: number;
  constructor(message: string, requested: number) {
    super(message);
    this.requested = requested;
  }
}

/**
 * `free(addr)` of an address that this allocator never handed out: outside
 * its range, not at a block start (an interior pointer), or misaligned.
 */
export class InvalidFreeError extends MemkitError {
  /** Always `'InvalidFreeError'`: what `String(e)` prints before the message. */
  override name = 'InvalidFreeError';
  /** The address passed to free. */
  readonly address: number;
  constructor(message: string, address: number) {
    super(message);
    this.address = address;
  }
}

/** `free(addr)` of a block that is already free. */
export class DoubleFreeError extends InvalidFreeError {
  /** Always `'DoubleFreeError'`: what `String(e)` prints before the message. */
  override name = 'DoubleFreeError';
}

/**
 * A debug check found allocator metadata or a freed object overwritten: a
 * red zone, poison bytes, a free pointer. `address` names where.
 */
export class HeapCorruptionError extends MemkitError {
  /** Always `'HeapCorruptionError'`: what `String(e)` prints before the message. */
  override name = 'HeapCorruptionError';
  /** The address of the damaged object or metadata. */
  readonly address: number;
  constructor(message: string, address: number) {
    super(message);
    this.address = address;
  }
}

/** Formats an address the way the kernel prints one: `0x` and hex digits. */
export function hex(addr: number): string {
  return '0x' + (addr >>> 0).toString(16).padStart(8, '0');
}

/**
 * Describes any value for an error message without running user code (no
 * `valueOf`, `toString` or getters of the value are called).
 */
export function describe(x: unknown): string {
  switch (typeof x) {
    case 'number':
      return Object.is(x, -0) ? '-0' : String(x);
    case 'bigint':
      return `${x.toString()}n`;
    case 'string':
      return JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}...` : x);
    case 'undefined':
      return 'undefined';
    case 'boolean':
      return x ? 'true' : 'false';
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
    default:
      return x === null ? 'null' : Array.isArray(x) ? 'an array' : 'an object';
  }
}

/**
 * The error for an argument `what` that is not `expected`. Callers check the
 * common case inline (`(a >>> 0) === a` costs nothing on a fast path) and call
 * this only to build the error, on the cold side of the branch.
 *
 * `what` starts the message; `argument` (by default `what`) is the error's
 * {@link InvalidArgumentError.argument}: the bare parameter or option name,
 * when the message names it with more words (`'Arena.attach options'`,
 * `'options'`).
 *
 * @example
 * ```ts
 * const addr = 1.5;
 * const e = (addr >>> 0) !== addr ? argumentError('addr', 'an address', addr) : null;
 * if (e?.message !== 'addr must be an address, got 1.5' || e.argument !== 'addr') throw new Error('unexpected');
 * const o = argumentError('Memory.create options', 'an options object', null, 'options');
 * if (o.message !== 'Memory.create options must be an options object, got null' || o.argument !== 'options')
 *   throw new Error('unexpected');
 * ```
 */
export function argumentError(what: string, expected: string, got: unknown, argument = what): InvalidArgumentError {
  return new InvalidArgumentError(`${what} must be ${expected}, got ${describe(got)}`, argument);
}

/** True when `x` is a number that is a whole number in `[min, max]` (no coercion). */
export function isIntegerIn(x: unknown, min: number, max: number): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= min && x <= max;
}

/**
 * Checks that `n` is a whole number in `[min, max]` and returns it; throws
 * {@link InvalidArgumentError} naming `what` otherwise (a string, a BigInt,
 * an object with `valueOf`, NaN, a fraction: all refused, never coerced);
 * `argument` (by default `what`) is the name the error carries, as for
 * {@link argumentError}. Not for hot paths: callers check the common case
 * inline and call this only to build the error.
 */
export function checkInteger(n: unknown, what: string, min: number, max: number, argument?: string): number {
  if (!isIntegerIn(n, min, max)) {
    throw argumentError(what, `a whole number in [${min}, ${max}]`, n, argument);
  }
  return n;
}

/**
 * Checks that `x` is an address: a whole number in `[0, 2^32)`. Returns it;
 * throws {@link InvalidArgumentError} naming `what` otherwise.
 */
export function checkAddress(x: unknown, what: string): number {
  if (typeof x !== 'number' || x >>> 0 !== x) {
    throw argumentError(what, 'an address (a whole number in [0, 2^32))', x);
  }
  return x;
}

/**
 * Checks that `o` is an options object (or undefined, read as `{}`), and that
 * it names no option outside `known`; returns it. A misspelt option is an
 * error, not a silent default. `what` starts the messages; `argument` (by
 * default `what`) is the parameter's name the error carries when `o` is not
 * an object (an unknown option's error carries the option's key).
 */
export function checkOptions<T extends object>(
  o: T | undefined,
  what: string,
  known: readonly string[],
  argument?: string,
): Partial<T> {
  if (o === undefined) return {};
  if (typeof o !== 'object' || o === null || Array.isArray(o)) {
    throw argumentError(what, 'an options object', o, argument);
  }
  for (const key of Object.keys(o)) {
    if (!known.includes(key)) {
      throw new InvalidArgumentError(`${what}: unknown option "${key}" (known: ${known.join(', ')})`, key);
    }
  }
  return o;
}
