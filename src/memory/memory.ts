/**
 * Memory: the bytes every memkit allocator works in.
 *
 * A `Memory` wraps one of
 *   - `ArrayBuffer`                 fixed, or resizable (`maxByteLength`)
 *   - `SharedArrayBuffer`           fixed, or growable; shareable with workers
 *   - `WebAssembly.Memory`          grows in 64 KiB wasm pages; its non-shared
 *                                   buffer is detached (replaced) by each grow,
 *                                   whether memkit or the wasm code grows it
 * and keeps typed views over it (`u8`, `u16`, `u32`, `i32`, `f64`, `dv`).
 *
 * Invariant: after `sync()` the views cover the whole buffer as memkit last
 * grew it. Every allocator calls `sync()` once at the start of each public
 * operation (and again after taking a lock), so a grow made by another
 * worker, or by the wasm code, is seen before memkit touches a byte.
 *
 * The views are fixed-length views, never length-tracking ones: in V8 11
 * (Node 20) a length-tracking view of a growable `SharedArrayBuffer` costs
 * about 13x a plain one per access, and `WebAssembly.Memory.buffer` costs
 * about 40 ns a read, so neither can be on a hot path. Instead, a memory
 * that another party may grow (shared, or a wasm memory) and that has a
 * memkit header is *watched*: the header's length word (H_LENGTH) holds the
 * byte length memkit grew it to, raised with compareExchange after each
 * grow, and `sync()` is one load and compare of that word against the
 * views' length. A wasm-side grow of a non-shared memory detaches the old
 * buffer, so the word reads `undefined` through the dead view: that also
 * refreshes. Without a header, a wasm memory is checked through `buffer`
 * (slow) and a growable SharedArrayBuffer gets length-tracking views (slow,
 * but right), until a header is written.
 *
 * Measured (bench/scratch, quiet machine, 64 B kmalloc/kfree pairs), before
 * this scheme: ArrayBuffer 42 ns, growable SharedArrayBuffer 347 ns, wasm
 * memory 103 ns, shared wasm memory 145 ns a pair.
 *
 * @module
 */
import {
  HeapCorruptionError,
  InvalidArgumentError,
  MemkitError,
  OutOfMemoryError,
  argumentError,
  checkInteger,
  checkOptions,
} from '../errors/index.js';

/** What a {@link Memory} can wrap. */
export type MemoryBacking = ArrayBuffer | SharedArrayBuffer | WebAssembly.Memory;

/** Options of {@link Memory.create}. */
export interface MemoryCreateOptions {
  /** Initial size in bytes. */
  bytes: number;
  /** Back the memory with a `SharedArrayBuffer` (for workers). */
  shared?: boolean;
  /**
   * Largest size `grow()` may reach. When larger than `bytes` the buffer is
   * resizable (`ArrayBuffer`) or growable (`SharedArrayBuffer`).
   */
  maxBytes?: number;
}

/** Size of one WebAssembly page. */
export const WASM_PAGE_BYTES = 65536;

/** Largest byte length memkit handles (addresses are unsigned 32-bit). */
export const MAX_MEMORY_BYTES = 2 ** 32 - WASM_PAGE_BYTES;

/**
 * The bytes an allocator works in, with typed views that stay valid across
 * `grow()`.
 *
 * @example
 * ```ts
 * const mem = Memory.create({ bytes: 1 << 16, maxBytes: 1 << 20 });
 * mem.u32[4] = 42;
 * mem.grow(1 << 16);          // now 128 KiB; mem.u32[4] is still 42
 * ```
 */
export class Memory {
  /** The wrapped `WebAssembly.Memory`, or `null`. */
  readonly wasm: WebAssembly.Memory | null;
  /** True when the bytes can be shared with other workers. */
  readonly shared: boolean;
  /** Largest byte length `grow()` can reach. */
  readonly maxByteLength: number;

  /** Grow by copying into a new, larger ArrayBuffer (see {@link Memory.create}). */
  private copyOnGrow = false;

  /**
   * The current buffer. It is replaced when a WebAssembly.Memory grows, and
   * when a growable non-shared Memory grows (by copying); read it, and the
   * views, after the operation that may grow, never keep them across one.
   */
  buffer: ArrayBuffer | SharedArrayBuffer;
  /** Byte view. */
  u8!: Uint8Array;
  /** 16-bit view (index = address >> 1). */
  u16!: Uint16Array;
  /** Unsigned 32-bit view (index = address >> 2). */
  u32!: Uint32Array;
  /** Signed 32-bit view (index = address >> 2); use with `Atomics`. */
  i32!: Int32Array;
  /** 64-bit float view (index = address >> 3). */
  f64!: Float64Array;
  /** DataView for unaligned access. */
  dv!: DataView;
  /**
   * Bytes the views cover (see the module comment).
   * @internal
   */
  viewBytes = 0;
  /** u32 index of the header's length word once watched, else -1. */
  private lengthWord = -1;
  /**
   * True when sync() must look: a watched memory (lengthWord >= 0), a wasm
   * memory with no header yet (then `u32[-1]` is undefined, never viewBytes, and
   * every sync compares buffers), or a resizable ArrayBuffer its owner wrapped
   * (every sync checks that the owner has not shrunk or detached it: see
   * checkLive). Set where those are set: the constructor and watchLength.
   */
  private watched = false;
  /** True while the views are length-tracking ones (see makeViews). */
  private tracking = false;

  private constructor(backing: MemoryBacking) {
    if (backing instanceof WebAssembly.Memory) {
      if (backing.buffer.byteLength > MAX_MEMORY_BYTES) {
        throw new InvalidArgumentError(
          `a memory of ${backing.buffer.byteLength} bytes is larger than memkit handles (${MAX_MEMORY_BYTES})`,
          'backing',
        );
      }
      this.wasm = backing;
      this.watched = true; // every sync compares buffers until a header is watched
      this.buffer = backing.buffer;
      this.shared = isShared(backing.buffer);
      // A wasm memory without a declared maximum may grow to 4 GiB - 64 KiB.
      this.maxByteLength = MAX_MEMORY_BYTES;
    } else {
      if (backing.byteLength > MAX_MEMORY_BYTES) {
        throw new InvalidArgumentError(
          `a buffer of ${backing.byteLength} bytes is larger than memkit handles (${MAX_MEMORY_BYTES})`,
          'backing',
        );
      }
      this.wasm = null;
      this.buffer = backing;
      this.shared = isShared(backing);
      this.maxByteLength = maxLengthOf(backing);
      const r = backing as { resizable?: boolean; growable?: boolean };
      // Length-tracking views (makeViews) can only be made over a multiple of their element size.
      if (
        (r.resizable === true || r.growable === true) &&
        (backing.byteLength % 8 !== 0 || this.maxByteLength % 8 !== 0)
      ) {
        throw new InvalidArgumentError(
          `a resizable or growable buffer must have a length and a maximum that are multiples of 8, got ${backing.byteLength} and ${this.maxByteLength}`,
          'backing',
        );
      }
      // Its owner may shrink it (resize) under a heap: every sync looks (u32[-1] is
      // undefined), as its length-tracking views already make every access slow.
      this.watched = r.resizable === true;
    }
    this.makeViews();
  }

  /**
   * Creates a new memory of `bytes` bytes (zeroed).
   *
   * @throws InvalidArgumentError if `bytes` or `maxBytes` is not a whole
   * number in range, `maxBytes < bytes`, `shared` is not a boolean, or an
   * option is unknown (`argument` names it).
   *
   * @example
   * ```ts
   * const mem = Memory.create({ bytes: 1 << 16 });                // an ArrayBuffer
   * const shared = Memory.create({ bytes: 1 << 16, shared: true }); // a SharedArrayBuffer
   * mem.byteLength; // 65536
   * ```
   */
  static create(options: MemoryCreateOptions): Memory {
    const o = checkOptions(options, 'Memory.create options', ['bytes', 'shared', 'maxBytes'], 'options');
    const bytes = checkInteger(o.bytes, 'bytes', 0, MAX_MEMORY_BYTES);
    const max = o.maxBytes === undefined ? bytes : checkInteger(o.maxBytes, 'maxBytes', 0, MAX_MEMORY_BYTES);
    if (max < bytes) throw new InvalidArgumentError(`maxBytes (${max}) is less than bytes (${bytes})`, 'maxBytes');
    if (o.shared !== undefined && typeof o.shared !== 'boolean') throw argumentError('shared', 'a boolean', o.shared);
    const growable = max > bytes;
    if (o.shared === true) {
      return new Memory(growable ? new SharedArrayBuffer(bytes, { maxByteLength: max }) : new SharedArrayBuffer(bytes));
    }
    // A growable non-shared memory is a fixed ArrayBuffer replaced by a
    // larger copy on grow (as a WebAssembly.Memory does), not a resizable
    // ArrayBuffer: V8 reads and writes length-tracking views about half as
    // fast, and allocator hot paths are made of such accesses.
    const m = new Memory(new ArrayBuffer(bytes));
    (m as { maxByteLength: number }).maxByteLength = max;
    m.copyOnGrow = true;
    return m;
  }

  /**
   * Wraps existing bytes: an `ArrayBuffer`, a `SharedArrayBuffer` (for
   * example one received from another worker) or a `WebAssembly.Memory`.
   *
   * @example
   * ```ts
   * const wasm = new WebAssembly.Memory({ initial: 1, maximum: 4 });
   * const mem = Memory.wrap(wasm); // or an ArrayBuffer, or a SharedArrayBuffer from a worker
   * mem.byteLength; // 65536: one wasm page
   * ```
   */
  static wrap(backing: MemoryBacking): Memory {
    if (!(backing instanceof ArrayBuffer || isShared(backing) || backing instanceof WebAssembly.Memory)) {
      throw argumentError('backing', 'an ArrayBuffer, a SharedArrayBuffer or a WebAssembly.Memory', backing);
    }
    try {
      return new Memory(backing);
    } catch (e) {
      if (e instanceof MemkitError) throw e;
      // A detached buffer, or an object that only inherits from one of the three (brand checks throw).
      throw argumentError(
        'backing',
        'a live (not detached) ArrayBuffer, SharedArrayBuffer or WebAssembly.Memory',
        backing,
      );
    }
  }

  /** Current size in bytes: what the views cover. A buffer taken away: HeapCorruptionError (checkLive). */
  get byteLength(): number {
    this.syncChecked();
    // Length-tracking views (an unwatched growable buffer) cover whatever it has grown to.
    return this.tracking ? this.buffer.byteLength : this.viewBytes;
  }

  /** True when `grow()` can add bytes. A buffer taken away: HeapCorruptionError (checkLive). */
  get growable(): boolean {
    this.checkLive();
    return this.maxByteLength > this.buffer.byteLength;
  }

  /**
   * Refreshes the views if the memory was grown (by memkit in this or
   * another worker, or by the wasm code). Cheap: one load and compare when
   * nothing changed.
   *
   * @example
   * ```ts
   * const wasm = new WebAssembly.Memory({ initial: 1, maximum: 4 });
   * const mem = Memory.wrap(wasm);
   * wasm.grow(1);  // as wasm code would: the old buffer is detached
   * mem.sync();
   * mem.u8.length; // 131072
   * ```
   */
  sync(): void {
    // Small on purpose (V8 inlines it into every allocator's alloc and free, and their
    // inlined bytecode shares one budget in the caller): 39 bytes of bytecode; the form
    // before, 51, took kfree out of a worker's loop (test/kmalloc/inlining.test.ts). An
    // unwatched memory reads one field; a watched word that moved, or a wasm memory with no
    // header yet (`u32[-1]` is undefined), goes out of line.
    if (this.watched && this.u32[this.lengthWord] !== this.viewBytes) this.syncSlow();
  }

  /**
   * sync's rest: the length word moved, a wasm memory with no length word (compare
   * buffers), or a resizable ArrayBuffer (is it still all there?).
   */
  private syncSlow(): void {
    if (this.lengthWord >= 0 || (this.wasm !== null && this.wasm.buffer !== this.buffer)) this.refresh();
    else if (this.wasm === null) this.checkLive();
  }

  /**
   * sync() and then checkLive(): what slow paths and reports call before they read
   * the heap (the fast paths call sync() alone; see checkLive).
   * @internal
   */
  syncChecked(): void {
    this.sync();
    this.checkLive();
  }

  /**
   * True when the buffer is smaller than the bytes memkit works in (detached or
   * shrunk by its owner: see checkLive).
   * @internal
   */
  isLost(): boolean {
    return this.wasm === null && this.buffer.byteLength < this.viewBytes;
  }

  /**
   * Throws HeapCorruptionError when the buffer is smaller than the bytes memkit
   * works in: its owner detached it (transferred it: `postMessage` with a transfer
   * list, `ArrayBuffer.prototype.transfer`) or shrank it (`resize`) under a live
   * heap, and the heap's metadata now points past its end. sync() calls it on every
   * operation for a resizable ArrayBuffer. For a fixed one a per-operation check
   * would cost the fast paths a load and a compare each, so the allocators call it
   * where their fast paths go when their reads come back `undefined` (the slow
   * paths, the error paths) and in their other public methods. A wasm memory
   * cannot shrink or be detached by its owner, and a SharedArrayBuffer cannot either.
   * @internal
   */
  checkLive(): void {
    if (this.isLost()) {
      throw new HeapCorruptionError(
        `memory: the buffer has ${this.buffer.byteLength} bytes, fewer than the ${this.viewBytes} memkit works in: its owner detached (transferred) or shrank it under a live heap`,
        this.buffer.byteLength,
      );
    }
  }

  /**
   * Starts watching the length word at u32 index `word` (the memkit header's
   * H_LENGTH), when another party may grow this memory. Called by the header
   * code once the header is known to be there.
   * @internal
   */
  watchLength(word: number): void {
    if (!(this.shared || this.wasm !== null)) return;
    if (this.lengthWord !== word) {
      this.lengthWord = word;
      this.watched = true;
      this.refresh(); // fixed-length views from here on
    }
  }

  /**
   * Remakes the views over the current buffer at its whole length, then
   * raises the watched length word to it (a stale or damaged word only
   * costs refreshes, never a wrong view).
   */
  /** The buffer's length now, which another worker or the wasm code may have raised (slow: not for hot paths). */
  private realBytes(): number {
    return (this.wasm !== null ? this.wasmBuffer(this.wasm) : this.buffer).byteLength;
  }

  /**
   * The wasm memory's buffer as long as the memory is now. V8 hands another
   * worker's grow of a shared wasm memory to this thread's `buffer` by an
   * interrupt, which it takes at its next stack check: until then `buffer`
   * is the old, shorter SharedArrayBuffer, while the length word (written
   * by the growing worker after its grow returned) already says more. Taken
   * for the memory's length, that old length once made refresh "mend" the
   * word down to it: this thread kept views that ended before pages the
   * buddy then handed it, and its writes there were lost (CI on 4 Dec,
   * test/workers/kmalloc-stress.test.ts, 'shared WebAssembly.Memory'). A
   * `grow(0)` updates the memory objects of the calling thread at once (V8
   * updates the growing isolate's synchronously), so the buffer read after
   * it is the memory's whole length.
   */
  private wasmBuffer(wasm: WebAssembly.Memory): ArrayBuffer | SharedArrayBuffer {
    const b = wasm.buffer;
    const w = this.lengthWord;
    if (w >= 0 && this.shared && Atomics.load(this.i32, w) >>> 0 > b.byteLength) {
      wasm.grow(0);
      return wasm.buffer;
    }
    return b;
  }

  /**
   * The memory's byte length now. A shared wasm memory's is the page count
   * `grow(0)` returns, which V8 reads from the memory itself (not from this
   * thread's `buffer`, which may be behind: see wasmBuffer); `grow(0)` on a
   * non-shared one would detach its buffer, and its `buffer` is never behind.
   */
  private lengthNow(): number {
    if (this.wasm !== null && this.shared) return this.wasm.grow(0) * WASM_PAGE_BYTES;
    return this.buffer.byteLength;
  }

  private refresh(): void {
    if (this.wasm !== null) this.buffer = this.wasmBuffer(this.wasm);
    this.makeViews();
    const w = this.lengthWord;
    if (w < 0) return;
    const i32 = this.i32;
    const n = this.viewBytes;
    for (;;) {
      const seen = Atomics.load(i32, w);
      // Only ever raised: a word above the memory's length was damaged; mend it. Above
      // this thread's views but within the memory, another worker grew it since (a
      // shared wasm memory): the next sync() refreshes again.
      if (seen >>> 0 === n || (seen >>> 0 > n && seen >>> 0 <= this.lengthNow())) return;
      if (Atomics.compareExchange(i32, w, seen, n | 0) === seen) return;
    }
  }

  /**
   * Grows the memory by at least `deltaBytes` (a wasm memory grows in whole
   * 64 KiB pages). Existing bytes are kept; the views stay valid.
   *
   * @returns the new byte length.
   * @throws OutOfMemoryError if the memory cannot grow that far (it is
   * unchanged then); HeapCorruptionError if its owner detached or shrank
   * the buffer under it.
   *
   * @example
   * ```ts
   * const mem = Memory.create({ bytes: 1 << 16, maxBytes: 1 << 20 });
   * mem.u32[4] = 42;
   * mem.grow(1 << 16); // 131072; mem.u32[4] is still 42
   * ```
   */
  grow(deltaBytes: number): number {
    checkInteger(deltaBytes, 'deltaBytes', 0, MAX_MEMORY_BYTES);
    return this.growTo(this.realBytes() + deltaBytes);
  }

  /**
   * Grows the memory so that it is at least `byteLength` bytes long. Does
   * nothing when it is already that long.
   *
   * @returns the new byte length.
   * @throws OutOfMemoryError if the memory cannot grow that far;
   * HeapCorruptionError if its owner detached or shrank the buffer under it.
   *
   * @example
   * ```ts
   * const mem = Memory.create({ bytes: 1 << 16, maxBytes: 1 << 20 });
   * mem.growTo(1 << 18); // 262144
   * mem.growTo(1000);    // 262144: already that long
   * ```
   */
  growTo(byteLength: number): number {
    checkInteger(byteLength, 'byteLength', 0, MAX_MEMORY_BYTES);
    this.checkLive(); // a buffer taken away cannot be grown back under a heap: named, not out of memory
    const now = this.realBytes();
    if (byteLength <= now) {
      if (now !== this.viewBytes) this.refresh(); // grown by another worker or the wasm code
      return now;
    }
    if (byteLength > this.maxByteLength) {
      throw new OutOfMemoryError(`memory cannot grow to ${byteLength} bytes (max ${this.maxByteLength})`, byteLength);
    }
    if (this.wasm !== null) {
      const pages = Math.ceil((byteLength - now) / WASM_PAGE_BYTES);
      try {
        this.wasm.grow(pages);
      } catch {
        throw new OutOfMemoryError(`WebAssembly.Memory refused to grow by ${pages} pages`, byteLength);
      }
      this.refresh();
    } else if (this.copyOnGrow) {
      // Grow geometrically so that n small grows cost O(n) copying in all.
      const next = Math.min(
        this.maxByteLength,
        Math.max(byteLength, Math.ceil((now * 1.5) / WASM_PAGE_BYTES) * WASM_PAGE_BYTES),
      );
      let fresh: ArrayBuffer;
      try {
        fresh = new ArrayBuffer(next);
      } catch {
        throw new OutOfMemoryError(`could not allocate an ArrayBuffer of ${next} bytes`, byteLength);
      }
      new Uint8Array(fresh).set(this.u8);
      this.buffer = fresh;
      this.makeViews();
    } else {
      const buf = this.buffer as unknown as { resize?(n: number): void; grow?(n: number): void };
      // A multiple of 8, so that the views can be remade over it (the constructor checked the maximum is one).
      const target = Math.min(this.maxByteLength, Math.ceil(byteLength / 8) * 8);
      try {
        if (typeof buf.resize === 'function') buf.resize(target);
        else if (typeof buf.grow === 'function') buf.grow(target);
        else throw new TypeError('not growable');
      } catch {
        // A fixed or detached buffer (resize throws on both), or the host refused the bytes.
        throw new OutOfMemoryError(`memory cannot grow to ${byteLength} bytes`, byteLength);
      }
      this.refresh();
    }
    return this.viewBytes;
  }

  private makeViews(): void {
    const b = this.buffer;
    const r = b as { resizable?: boolean; growable?: boolean };
    this.tracking = r.resizable === true || (r.growable === true && this.lengthWord < 0);
    if (this.tracking) {
      // Length-tracking views: they follow resize()/grow() by themselves
      // (an unwatched growable SharedArrayBuffer; a resizable ArrayBuffer
      // that the user wrapped: every view of one is slow in V8 11 anyway).
      this.u16 = new Uint16Array(b);
      this.u32 = new Uint32Array(b);
      this.i32 = new Int32Array(b);
      this.f64 = new Float64Array(b);
      this.u8 = new Uint8Array(b);
      this.dv = new DataView(b);
    } else {
      const n = b.byteLength;
      this.u16 = new Uint16Array(b, 0, n >>> 1);
      this.u32 = new Uint32Array(b, 0, n >>> 2);
      this.i32 = new Int32Array(b, 0, n >>> 2);
      this.f64 = new Float64Array(b, 0, Math.floor(n / 8));
      this.u8 = new Uint8Array(b, 0, n);
      this.dv = new DataView(b, 0, n);
      this.viewBytes = n;
      return;
    }
    this.viewBytes = b.byteLength;
  }
}

function isShared(b: unknown): b is SharedArrayBuffer {
  return typeof SharedArrayBuffer !== 'undefined' && b instanceof SharedArrayBuffer;
}

function maxLengthOf(b: ArrayBuffer | SharedArrayBuffer): number {
  const r = b as { maxByteLength?: number; resizable?: boolean; growable?: boolean };
  if ((r.resizable === true || r.growable === true) && typeof r.maxByteLength === 'number') return r.maxByteLength;
  return b.byteLength;
}
