/**
 * A heap's buffer taken away under it, as its owner would: the helpers of
 * test/memory/lost-buffer*.test.ts.
 */
import { expect } from 'vitest';

/** The message of the lost-buffer HeapCorruptionError (Memory.checkLive). */
export const LOST = /fewer than the \d+ memkit works in: its owner detached \(transferred\) or shrank it/;

/** A resizable ArrayBuffer (ES2024): `resize` can shrink it under a heap. */
export type Resizable = ArrayBuffer & { resize(n: number): void };

/** A resizable ArrayBuffer of `bytes`, growable to 4x. */
export function resizable(bytes: number): Resizable {
  return new ArrayBuffer(bytes, { maxByteLength: bytes * 4 }) as Resizable;
}

/** Detaches `buf` as a postMessage with a transfer list does. */
export function detach(buf: ArrayBuffer): void {
  structuredClone(buf, { transfer: [buf] });
  expect(buf.byteLength).toBe(0);
}
