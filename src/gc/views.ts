/**
 * The typed views the collector and the accessors read through.
 *
 * A copy of the Memory's views in an object whose fields are set in its
 * constructor (no `undefined` first), so V8 knows each field's exact
 * typed-array type and the hot paths skip a map check per access; measured
 * on binary-trees. It is refreshed in place by `ManagedHeap.sync()` (every
 * collection, every allocation that reaches the backend, every public
 * operation that is not a field access), so a Memory whose buffer was
 * replaced (a `WebAssembly.Memory` grown by wasm code) is picked up.
 *
 * @module
 */
import type { Memory } from '../memory/memory.js';

/** Typed views over the heap's memory (gc/-internal: not exported from the package root). */
export class Views {
  declare u8: Uint8Array;
  declare u16: Uint16Array;
  declare u32: Uint32Array;
  declare i32: Int32Array;
  declare f64: Float64Array;
  /**
   * The ref-store check's words (see HeapState.checkStore): `sb` is the u32
   * index of the START bitmap, `cl` the check's limit on `address >>> 8`:
   * the bitmap's words while no cycle runs, 0 during a cycle (so every
   * store then fails the quick check and takes the slow path, which
   * applies the write barrier). Kept here, beside `u32`, so that a ref
   * `set` checks and stores through one typed-array load.
   */
  declare sb: number;
  declare cl: number;

  constructor(m: Memory) {
    this.u8 = m.u8;
    this.u16 = m.u16;
    this.u32 = m.u32;
    this.i32 = m.i32;
    this.f64 = m.f64;
    this.sb = 0;
    this.cl = 0;
  }

  /** Copies the Memory's current views (after it replaced its buffer). */
  refresh(m: Memory): void {
    this.u8 = m.u8;
    this.u16 = m.u16;
    this.u32 = m.u32;
    this.i32 = m.i32;
    this.f64 = m.f64;
  }
}
