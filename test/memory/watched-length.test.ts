/**
 * Growth seen through the header's length word (memory.ts): a memory that
 * another party may grow keeps fixed-length views (fast in V8), and `sync()`
 * refreshes them when the word says memkit grew it, or when a wasm-side grow
 * detached them.
 */
import { describe, expect, it } from 'vitest';
import { Memory, ensureHeader } from '../../src/index.js';
import { H_LENGTH } from '../../src/memory/header.js';

/** True when `view` is a fixed-length view (it does not follow its buffer's growth). */
function fixedLength(m: Memory): boolean {
  return m.u32.length * 4 === m.viewBytes && m.u8.length === m.viewBytes;
}

describe('the watched length word', () => {
  it('two Memory objects over one growable SharedArrayBuffer: a grow by one is seen by the other at its next sync', () => {
    const a = Memory.create({ bytes: 1 << 16, maxBytes: 1 << 20, shared: true });
    ensureHeader(a);
    const b = Memory.wrap(a.buffer);
    expect(b.u32[H_LENGTH]).toBe(1 << 16);
    ensureHeader(b); // the header is there: b starts watching
    expect(fixedLength(a)).toBe(true);
    expect(fixedLength(b)).toBe(true);
    a.growTo(3 << 16);
    expect(a.u32[H_LENGTH]).toBe(3 << 16);
    expect(b.u32.length).toBe((1 << 16) / 4); // b has not synced yet
    a.u32[(2 << 16) / 4] = 0xabcd;
    b.sync();
    expect(b.viewBytes).toBe(3 << 16);
    expect(b.u32[(2 << 16) / 4]).toBe(0xabcd);
    expect(fixedLength(b)).toBe(true);
  });

  it('a growable SharedArrayBuffer without a header keeps length-tracking views (slow, but never stale)', () => {
    const a = Memory.create({ bytes: 1 << 16, maxBytes: 1 << 20, shared: true });
    const b = Memory.wrap(a.buffer);
    a.growTo(2 << 16);
    expect(b.u8.length).toBe(2 << 16);
  });

  it('a damaged length word costs a refresh, never a wrong view, and is mended', () => {
    const m = Memory.create({ bytes: 1 << 16, maxBytes: 1 << 20, shared: true });
    ensureHeader(m);
    for (const bad of [0, 1, 0xffffffff, (1 << 16) + 4, 123456789]) {
      m.u32[H_LENGTH] = bad;
      m.sync();
      expect(m.viewBytes).toBe(1 << 16);
      expect(fixedLength(m)).toBe(true);
      // a word above the buffer's length is mended; one below it is raised
      expect(m.u32[H_LENGTH]).toBe(1 << 16);
    }
  });

  it('a shared WebAssembly.Memory grown by the wasm side: growTo counts from its real length', () => {
    const wasm = new WebAssembly.Memory({ initial: 1, maximum: 16, shared: true });
    const m = Memory.wrap(wasm);
    ensureHeader(m);
    wasm.grow(2); // the wasm code grows it: no word written
    expect(m.byteLength).toBe(1 << 16); // memkit does not need those bytes yet
    expect(m.growTo(2 << 16)).toBe(3 << 16); // already there: no wasm page added
    expect(wasm.buffer.byteLength).toBe(3 << 16);
    expect(m.viewBytes).toBe(3 << 16);
  });

  it("a shared WebAssembly.Memory whose buffer lags another worker's grow: sync does not mend the word down, and its views cover the new bytes", () => {
    // V8 hands a grow done in another worker to this thread's `buffer` by an
    // interrupt taken at its next stack check; until then `buffer` is the
    // old SharedArrayBuffer. `grow(0)` brings it up to date (V8 updates the
    // calling thread's memory objects at once). This subclass plays that:
    // `buffer` returns the old one while `lag` is set, grow() clears it.
    const bufferOf = Object.getOwnPropertyDescriptor(WebAssembly.Memory.prototype, 'buffer')!.get!;
    class LaggingMemory extends WebAssembly.Memory {
      lag: ArrayBuffer | null = null; // a SharedArrayBuffer, typed as the base class has it
      override get buffer(): ArrayBuffer {
        return this.lag ?? (bufferOf.call(this) as ArrayBuffer);
      }
      override grow(delta: number): number {
        this.lag = null;
        return super.grow(delta);
      }
    }
    const wasm = new LaggingMemory({ initial: 1, maximum: 16, shared: true });
    const m = Memory.wrap(wasm);
    ensureHeader(m);
    // Another worker grows the memory by two pages and writes the length word, as its
    // refresh does; this thread's buffer still has the old length.
    wasm.lag = wasm.buffer;
    WebAssembly.Memory.prototype.grow.call(wasm, 2);
    const real = new Int32Array(bufferOf.call(wasm) as SharedArrayBuffer);
    Atomics.store(real, H_LENGTH, 3 << 16);
    real[(2 << 16) / 4] = 0x1234; // written by the other worker in the new bytes
    expect(wasm.buffer.byteLength).toBe(1 << 16); // lagging
    m.sync();
    expect(Atomics.load(real, H_LENGTH)).toBe(3 << 16); // not mended down to the lagging length
    expect(m.viewBytes).toBe(3 << 16);
    expect(m.u32[(2 << 16) / 4]).toBe(0x1234);
    // A word above the memory's real length is still damage, and still mended.
    wasm.lag = wasm.buffer;
    Atomics.store(real, H_LENGTH, 9 << 16);
    m.sync();
    expect(Atomics.load(real, H_LENGTH)).toBe(3 << 16);
    expect(m.viewBytes).toBe(3 << 16);
  });

  it('a non-shared WebAssembly.Memory with a header: a wasm-side grow detaches the views, sync sees it', () => {
    const wasm = new WebAssembly.Memory({ initial: 1, maximum: 16 });
    const m = Memory.wrap(wasm);
    ensureHeader(m);
    m.u32[100] = 77;
    wasm.grow(1);
    expect(m.u32.length).toBe(0); // detached
    m.sync();
    expect(m.viewBytes).toBe(2 << 16);
    expect(m.u32[100]).toBe(77);
  });
});

describe('byteLength of length-tracking views', () => {
  it('a resizable ArrayBuffer resized by its owner: byteLength follows it', () => {
    const buf = new ArrayBuffer(1 << 16, { maxByteLength: 1 << 20 });
    const m = Memory.wrap(buf);
    buf.resize(2 << 16);
    expect(m.byteLength).toBe(2 << 16);
    expect(m.u8.length).toBe(2 << 16);
  });
});
