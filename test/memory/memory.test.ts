import { describe, expect, it } from 'vitest';
import { BuddyAllocator, HeapCorruptionError, Kmalloc, SlabCache } from '../../src/index.js';
import {
  InvalidArgumentError,
  Memory,
  OutOfMemoryError,
  ensureHeader,
  hasHeader,
  readSlot,
  writeSlot,
  HeaderSlot,
} from '../../src/index.js';

describe('Memory', () => {
  it('creates a fixed ArrayBuffer with typed views', () => {
    const m = Memory.create({ bytes: 1024 });
    expect(m.buffer).toBeInstanceOf(ArrayBuffer);
    expect(m.byteLength).toBe(1024);
    expect(m.growable).toBe(false);
    m.u32[3] = 0xdeadbeef;
    expect(m.u8[12]).toBe(0xef);
    expect(m.dv.getUint32(12, true)).toBe(0xdeadbeef);
    expect(() => m.grow(1)).toThrow(OutOfMemoryError);
    expect(m.byteLength).toBe(1024);
  });

  it('grows a non-shared memory by copying: bytes kept, views refreshed, capped at maxBytes', () => {
    const m = Memory.create({ bytes: 65536, maxBytes: 1 << 20 });
    m.f64[7] = Math.PI;
    const old = m.buffer;
    expect(m.grow(65536)).toBeGreaterThanOrEqual(131072);
    expect(m.buffer).not.toBe(old);
    expect(m.f64[7]).toBe(Math.PI);
    expect(m.u8.length).toBe(m.byteLength);
    m.growTo(1 << 20);
    expect(m.byteLength).toBe(1 << 20);
    expect(() => m.grow(1)).toThrow(OutOfMemoryError);
    expect(m.f64[7]).toBe(Math.PI);
  });

  it('grows a shared memory in place (growable SharedArrayBuffer): the buffer stays the same object', () => {
    const m = Memory.create({ bytes: 4096, maxBytes: 16384, shared: true });
    const b = m.buffer;
    m.u32[1] = 7;
    m.grow(8192);
    expect(m.buffer).toBe(b);
    expect(m.byteLength).toBe(12288);
    expect(m.u32[1]).toBe(7);
    expect(m.u32.length).toBe(12288 / 4);
  });

  it('wraps a WebAssembly.Memory and notices a grow done behind its back', () => {
    const w = new WebAssembly.Memory({ initial: 1, maximum: 4 });
    const m = Memory.wrap(w);
    m.u8[100] = 9;
    w.grow(1); // detaches the buffer m saw
    m.sync();
    expect(m.byteLength).toBe(131072);
    expect(m.u8[100]).toBe(9);
    m.grow(1);
    expect(m.byteLength).toBe(196608); // whole wasm pages
  });

  it('wraps resizable ArrayBuffers with length-tracking views', () => {
    const rab = new ArrayBuffer(8, { maxByteLength: 64 });
    const m = Memory.wrap(rab);
    m.growTo(32);
    expect(m.u32.length).toBe(8);
    expect(m.maxByteLength).toBe(64);
  });

  it('refuses bad sizes', () => {
    for (const bytes of [-1, 1.5, NaN, Infinity]) expect(() => Memory.create({ bytes })).toThrow(InvalidArgumentError);
    expect(() => Memory.create({ bytes: 100, maxBytes: 50 })).toThrow(InvalidArgumentError);
    expect(() => Memory.wrap({} as ArrayBuffer)).toThrow(InvalidArgumentError);
  });

  it('keeps the memkit header at address 0', () => {
    const m = Memory.create({ bytes: 4096 });
    expect(hasHeader(m)).toBe(false);
    expect(ensureHeader(m)).toBe(true);
    expect(ensureHeader(m)).toBe(false);
    writeSlot(m, HeaderSlot.Arena, 1234);
    expect(readSlot(m, HeaderSlot.Arena)).toBe(1234);
    expect(String.fromCharCode(...m.u8.slice(0, 4))).toBe('MKIT');
  });

  it('attach refuses a buffer of another layout version (version 1: the slab lists before 3 Dec), changing nothing', () => {
    const memory = Memory.create({ bytes: 1 << 20 });
    new Kmalloc({ memory }).kmalloc(40);
    const buddy = new BuddyAllocator({ pages: 64 });
    new SlabCache(buddy, { name: 'node', size: 32 }).alloc();
    for (const m of [memory, buddy.memory!]) m.u32[1] = 1; // H_VERSION
    const before = [memory.u8.slice(), buddy.memory!.u8.slice()];
    expect(() => Kmalloc.attach(memory)).toThrow(HeapCorruptionError);
    expect(() => Kmalloc.attach(memory)).toThrow(/version 1, this memkit reads 2/);
    expect(() => SlabCache.attach(buddy.memory!, { name: 'node' })).toThrow(/version 1, this memkit reads 2/);
    expect(() => BuddyAllocator.attach(buddy.memory!)).toThrow(HeapCorruptionError);
    expect([memory.u8, buddy.memory!.u8]).toEqual(before);
  });
});
