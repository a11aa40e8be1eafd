/**
 * Memory.create / wrap / grow / growTo and the header functions against the
 * bad-values table and odd buffers: detached, resizable, odd lengths, 0 bytes,
 * a wasm memory at its maximum. Each must answer with a MemkitError (or work),
 * never a TypeError/RangeError, and a refused call changes no byte.
 */
import { describe, expect, it } from 'vitest';
import {
  HeaderSlot,
  HeapCorruptionError,
  InvalidArgumentError,
  MemkitError,
  Memory,
  OutOfMemoryError,
  ensureHeader,
  hasHeader,
  readSlot,
  writeSlot,
} from '../../src/index.js';
import { badValues } from '../support/bad-values.js';

function detach(b: ArrayBuffer): void {
  structuredClone(b, { transfer: [b] });
}

describe('Memory.create options', () => {
  const ok = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 2 ** 32 - 65536;
  for (const [label, v] of badValues(64, 4096)) {
    it(`bytes = ${label}: typed error, or a memory of exactly that many bytes`, () => {
      if (ok(v)) {
        if ((v as number) > 1 << 24) return;
        expect(Memory.create({ bytes: v as number }).byteLength === v).toBe(true);
      } else expect(() => Memory.create({ bytes: v as number })).toThrow(InvalidArgumentError);
    });
    it(`maxBytes = ${label}: typed error or accepted, never coerced`, () => {
      if (ok(v) && (v as number) >= 64) {
        expect(Memory.create({ bytes: 64, maxBytes: v as number }).maxByteLength).toBe(v);
      } else if (ok(v)) {
        expect(() => Memory.create({ bytes: 64, maxBytes: v as number })).toThrow(InvalidArgumentError); // < bytes
      } else if (v !== undefined)
        expect(() => Memory.create({ bytes: 64, maxBytes: v as number })).toThrow(InvalidArgumentError);
    });
    if (typeof v !== 'boolean' && v !== undefined) {
      it(`shared = ${label}: InvalidArgumentError`, () => {
        expect(() => Memory.create({ bytes: 64, shared: v as boolean })).toThrow(InvalidArgumentError);
      });
    }
  }
  it('not an options object, or an unknown option: InvalidArgumentError', () => {
    for (const o of [null, 64, '64', [64], () => 0, 64n])
      expect(() => Memory.create(o as never)).toThrow(InvalidArgumentError);
    expect(() => Memory.create({ bytes: 64, max: 128 } as never)).toThrow(InvalidArgumentError);
  });
});

describe('Memory.wrap of odd buffers', () => {
  it('not a buffer at all: InvalidArgumentError', () => {
    for (const [, v] of badValues(64, 4096)) expect(() => Memory.wrap(v as never)).toThrow(InvalidArgumentError);
    expect(() => Memory.wrap(new Uint8Array(64) as never)).toThrow(InvalidArgumentError);
  });
  it('a detached ArrayBuffer, or an object that only inherits from ArrayBuffer / WebAssembly.Memory: InvalidArgumentError', () => {
    const b = new ArrayBuffer(64);
    detach(b);
    expect(() => Memory.wrap(b)).toThrow(InvalidArgumentError);
    expect(() => Memory.wrap(Object.create(ArrayBuffer.prototype))).toThrow(InvalidArgumentError);
    expect(() => Memory.wrap(Object.create(WebAssembly.Memory.prototype))).toThrow(InvalidArgumentError);
  });
  it('0-byte and 13-byte buffers wrap, but refuse a header (no room for it), writing nothing', () => {
    for (const n of [0, 13, 60]) {
      const m = Memory.wrap(new ArrayBuffer(n));
      expect(m.byteLength).toBe(n);
      expect(hasHeader(m)).toBe(false);
      expect(() => ensureHeader(m)).toThrow(InvalidArgumentError);
      expect([...m.u8].every((x) => x === 0)).toBe(true);
    }
  });
  it('a resizable or growable buffer whose length or maximum is not a multiple of 8: InvalidArgumentError', () => {
    expect(() => Memory.wrap(new ArrayBuffer(13, { maxByteLength: 64 }))).toThrow(InvalidArgumentError);
    expect(() => Memory.wrap(new ArrayBuffer(16, { maxByteLength: 65 }))).toThrow(InvalidArgumentError);
    expect(() => Memory.wrap(new SharedArrayBuffer(13, { maxByteLength: 64 }))).toThrow(InvalidArgumentError);
    expect(() => Memory.create({ bytes: 13, maxBytes: 64, shared: true })).toThrow(InvalidArgumentError);
  });
  it('a growable memory grows to a multiple of 8 (a grow by 1 byte used to throw RangeError from the views)', () => {
    const sh = Memory.create({ bytes: 64, maxBytes: 1 << 16, shared: true });
    sh.u8[3] = 7;
    expect(sh.grow(1)).toBe(72);
    expect(sh.u8[3]).toBe(7);
    const r = Memory.wrap(new ArrayBuffer(8, { maxByteLength: 64 }));
    expect(r.growTo(9)).toBe(16);
  });
  it('a buffer detached after it was wrapped: grow names the loss (HeapCorruptionError, not out of memory), ensureHeader InvalidArgumentError', () => {
    const rab = new ArrayBuffer(64, { maxByteLength: 128 });
    const a = Memory.wrap(rab);
    detach(rab);
    expect(() => a.grow(8)).toThrow(HeapCorruptionError);
    expect(() => a.growTo(128)).toThrow(/its owner detached \(transferred\) or shrank it/);
    expect(() => ensureHeader(a)).toThrow(InvalidArgumentError);
    const ab = new ArrayBuffer(128);
    const b = Memory.wrap(ab);
    detach(ab);
    expect(() => b.grow(8)).toThrow(MemkitError);
    expect(() => ensureHeader(b)).toThrow(InvalidArgumentError);
  });
  it('a WebAssembly.Memory at its maximum: grow is OutOfMemoryError, bytes kept', () => {
    const w = new WebAssembly.Memory({ initial: 1, maximum: 1 });
    const m = Memory.wrap(w);
    m.u8[5] = 9;
    expect(() => m.grow(1)).toThrow(OutOfMemoryError);
    expect(m.grow(0)).toBe(65536);
    expect(m.byteLength).toBe(65536);
    expect(m.u8[5]).toBe(9);
  });
});

describe('grow / growTo / header functions with bad values', () => {
  for (const [label, v] of badValues(64, 4096)) {
    it(`grow(${label}) and growTo(${label}): typed error or a valid grow, never a coercion`, () => {
      const m = Memory.create({ bytes: 1024, maxBytes: 1 << 16 });
      const valid = typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 2 ** 32 - 65536;
      for (const f of [() => m.grow(v as number), () => m.growTo(v as number)]) {
        if (!valid) expect(f).toThrow(InvalidArgumentError);
        else {
          try {
            f();
          } catch (e) {
            expect(e).toBeInstanceOf(OutOfMemoryError);
          }
        }
      }
    });
    it(`readSlot / writeSlot with slot or offset ${label}: typed error, the header unchanged`, () => {
      const m = Memory.create({ bytes: 1024 });
      ensureHeader(m);
      const before = m.u8.slice();
      if (!(typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 7)) {
        expect(() => readSlot(m, v as HeaderSlot)).toThrow(InvalidArgumentError);
        expect(() => writeSlot(m, v as HeaderSlot, 64)).toThrow(InvalidArgumentError);
      }
      if (!(typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 1024)) {
        expect(() => writeSlot(m, HeaderSlot.User0, v as number)).toThrow(InvalidArgumentError);
      }
      expect(m.u8).toEqual(before);
    });
  }
  it('the header functions refuse what is not a Memory', () => {
    for (const [, v] of badValues(64, 4096)) {
      expect(() => hasHeader(v as Memory)).toThrow(InvalidArgumentError);
      expect(() => ensureHeader(v as Memory)).toThrow(InvalidArgumentError);
    }
  });
});
