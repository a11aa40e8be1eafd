/**
 * `@thi.ng/malloc`'s `MemPool` as a {@link ByteAllocator}, for comparison.
 *
 * MemPool is a first-fit allocator over an ArrayBuffer. Each block has an
 * 8-byte header in front of the address it returns, and the pool keeps two
 * address-ordered lists (free and used), so `free` and `realloc` walk the used
 * list (O(live blocks)) and `free` then compacts the free list.
 *
 * ```
 *  buffer:  [state 28 B][pad][hdr|data ][hdr|data    ] ...  top ->  (unused) end
 *  hdr:     u32 blockSize (header included, a multiple of align)  u32 next
 * ```
 * `realloc` is the adapter's own (malloc + copy + free): MemPool's is broken
 * (see {@link ThingAllocator.realloc}).
 *
 * The adapter reads, without changing anything: `usableSize(p)` =
 * blockSize(p - 8) - 8, and `footprint()` = `top` (the end of the highest
 * block; MemPool lowers it when the top block is freed).
 *
 * The package is loaded with a dynamic `import()` by {@link createThingAllocator},
 * so memkit needs it only when this allocator is chosen.
 *
 * @module
 */
import { InvalidArgumentError, InvalidFreeError, MemkitError, OutOfMemoryError, hex } from '../errors/index.js';
import type { ByteAllocator } from '../memory/byte-allocator.js';

/** The part of MemPool's API the adapter uses. */
interface MemPoolLike {
  malloc(bytes: number): number;
  realloc(ptr: number, bytes: number): number;
  free(ptr: number): boolean;
}

/** Options of {@link ThingAllocator}. */
export interface ThingOptions {
  /** Use MemPool's own `realloc` (broken, see {@link ThingAllocator.realloc}) instead of malloc + copy + free. */
  nativeRealloc?: boolean;
}

/** The optional peer package this adapter needs. */
export const THING_PACKAGE: string = '@thi.ng/malloc';

/** MemPool state slot 2 (a u32 at `start + 8`) holds `top`. */
const STATE_TOP = 2;
/** Bytes of a MemPool block header. */
const BLOCK_HEADER = 8;

/**
 * The adapter over one MemPool (state at byte 0 of the buffer).
 *
 * @example
 * ```ts
 * const a = await createThingAllocator(1 << 20);
 * const p = a.alloc(100);
 * a.usableSize(p);   // 104: 100 rounded to 8, header not counted
 * a.free(p);
 * ```
 */
export class ThingAllocator implements ByteAllocator {
  /** Name in reports. */
  readonly name: string = 'thing';
  /** The buffer's bytes. */
  readonly bytes: Uint8Array;
  private readonly pool: MemPoolLike;
  private readonly u32: Uint32Array;
  private readonly nativeRealloc: boolean;

  /** Wraps a MemPool created over `buf` with `start: 0`. */
  constructor(pool: MemPoolLike, buf: ArrayBuffer, options: ThingOptions = {}) {
    this.pool = pool;
    this.nativeRealloc = options.nativeRealloc === true;
    if (this.nativeRealloc) this.name = 'thing-native-realloc';
    this.bytes = new Uint8Array(buf);
    this.u32 = new Uint32Array(buf);
  }

  /** `malloc(size)` (a size of 0 allocates 1 byte, as MemPool refuses 0). */
  alloc(size: number): number {
    if (!(size >= 0 && size < 2 ** 32) || Math.floor(size) !== size) {
      throw new InvalidArgumentError(`size must be a whole number in [0, 2^32), got ${String(size)}`);
    }
    // MemPool rounds the size up in 32-bit arithmetic: a request near 2^32
    // wraps and "succeeds" with a tiny block. Beyond the buffer it cannot fit.
    if (size > this.bytes.length - BLOCK_HEADER)
      throw new OutOfMemoryError(`thing: ${size} bytes is more than its ${this.bytes.length}-byte buffer`, size);
    const p = this.pool.malloc(size === 0 ? 1 : size);
    if (p === 0) throw new OutOfMemoryError(`thing: no block of ${size} bytes`, size);
    return p;
  }

  /** `free(addr)`; InvalidFreeError when MemPool does not know the block. */
  free(addr: number): void {
    if (!this.pool.free(addr)) throw new InvalidFreeError(`thing: ${hex(addr)} is not an allocated block`, addr);
  }

  /**
   * In place when `size` fits the block, else `malloc` + copy + `free`
   * (the old block is untouched on OutOfMemoryError). With `nativeRealloc`,
   * MemPool's own `realloc`, which is broken in @thi.ng/malloc 6.1.150:
   *
   * 1. shrinking the top block by less than `minSplit` lowers `top` but not
   *    the block's size, so the next block starts inside it; once it is
   *    freed, the free block covers that next block's header, and a later
   *    `malloc` hands out bytes over it (writing them breaks the lists);
   * 2. a realloc that moves the block calls `free(block)` with the header
   *    address, which `free` shifts by the header size again: the old block
   *    is never freed (a leak of every moved block).
   *
   * `memkit replay` finds both (a failed free, out-of-memory errors); see
   * test/trace/adapters.test.ts.
   */
  realloc(addr: number, size: number): number {
    if (!(size >= 0 && size < 2 ** 32) || Math.floor(size) !== size) {
      throw new InvalidArgumentError(`size must be a whole number in [0, 2^32), got ${String(size)}`);
    }
    if (!this.nativeRealloc) {
      const have = this.usableSize(addr);
      if (size <= have) return addr;
      const q = this.alloc(size);
      this.bytes.copyWithin(q, addr, addr + have);
      this.free(addr);
      return q;
    }
    if (size > this.bytes.length - BLOCK_HEADER)
      throw new OutOfMemoryError(`thing: ${size} bytes is more than its ${this.bytes.length}-byte buffer`, size);
    const p = this.pool.realloc(addr, size === 0 ? 1 : size);
    if (p === 0) throw new OutOfMemoryError(`thing: realloc(${hex(addr)}, ${size}) failed`, size);
    return p;
  }

  /** The block's size from its header, minus the header. */
  usableSize(addr: number): number {
    return this.u32[(addr - BLOCK_HEADER) >>> 2]! - BLOCK_HEADER;
  }

  /** `top`: bytes of the buffer below the end of the highest block. */
  footprint(): number {
    return this.u32[STATE_TOP]!;
  }
}

/**
 * Creates a MemPool of about `2 * heapBytes + 1 MiB` bytes (align 8, split
 * and compact on) and wraps it.
 *
 * @throws MemkitError naming the package when `@thi.ng/malloc` is not installed.
 */
export async function createThingAllocator(heapBytes: number, options: ThingOptions = {}): Promise<ThingAllocator> {
  let mod: { MemPool: new (opts: { buf: ArrayBuffer; start?: number; align?: 8 }) => MemPoolLike };
  try {
    // An optional peer: the specifier is a variable so that no bundler tries
    // to resolve it, and memkit runs without it (`memkit replay` skips "thing").
    mod = (await import(/* @vite-ignore */ THING_PACKAGE)) as typeof mod;
  } catch (e) {
    throw new MemkitError(
      `the "thing" allocator needs the package @thi.ng/malloc (npm install @thi.ng/malloc): ${(e as Error).message}`,
    );
  }
  const size = Math.min(2 ** 32 - 65536, Math.ceil((2 * heapBytes + (1 << 20)) / 65536) * 65536);
  const buf = new ArrayBuffer(size);
  const pool = new mod.MemPool({ buf, start: 0, align: 8 });
  return new ThingAllocator(pool, buf, options);
}

/**
 * Null when `@thi.ng/malloc` can be loaded, else a one-line note saying how
 * to get it (it is an optional peer dependency of memkit).
 */
export async function thingAvailable(): Promise<string | null> {
  try {
    await import(/* @vite-ignore */ THING_PACKAGE);
    return null;
  } catch {
    return `needs the optional package ${THING_PACKAGE} (npm install ${THING_PACKAGE})`;
  }
}
