/**
 * Typed errors shared by every memkit layer.
 *
 * Every error a memkit allocator throws extends {@link MemkitError}. An
 * allocator that throws leaves its state exactly as it was before the call
 * (principle 4 of DESIGN.md), so a caller may catch and carry on.
 *
 * @module
 */

/** Base class of every error memkit throws. */
export class MemkitError extends Error {
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
  override name = 'InvalidArgumentError';
}

/**
 * The allocator has no block for the request right now. The allocator stays
 * usable: free something, or grow the memory, and try again.
 */
export class OutOfMemoryError extends MemkitError {
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
  override name = 'DoubleFreeError';
}

/**
 * A debug check found allocator metadata or a freed object overwritten: a
 * red zone, poison bytes, a free pointer. `address` names where.
 */
export class HeapCorruptionError extends MemkitError {
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
 * Checks that `n` is a whole number in `[min, max]` and returns it; throws
 * {@link InvalidArgumentError} naming `what` otherwise. Not for hot paths:
 * callers check the common case inline and call this only to build the error.
 */
export function checkInteger(n: number, what: string, min: number, max: number): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new InvalidArgumentError(
      `${what} must be a whole number in [${min}, ${max}], got ${String(n)}`,
    );
  }
  return n;
}
