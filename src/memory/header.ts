/**
 * The memkit header: the first 64 bytes of a Memory that memkit manages.
 *
 * It is how `attach` finds an allocator's state in a buffer that another
 * worker (or an earlier run, or a copy) set up, and it is why address 0 is
 * never handed out to a user.
 *
 * ```
 *  byte  0        4        8        12       16
 *        +--------+--------+--------+--------+
 *     0  | magic  | version| lock   | flags  |   magic = 'MKIT' (little endian)
 *        +--------+--------+--------+--------+
 *    16  | slot 0 | slot 1 | slot 2 | slot 3 |   byte offset of each layer's
 *        +--------+--------+--------+--------+   state region, 0 = absent
 *    32  | slot 4 | slot 5 | slot 6 | slot 7 |   (see {@link HeaderSlot})
 *        +--------+--------+--------+--------+
 *    48  | workers| length | reserved (zero) |   workers: bit s set while worker
 *        +--------+--------+-----------------+   slot s is joined (memory/lock.ts)
 *    64  first byte after the header
 * ```
 * `length` is the byte length memkit last grew the memory to (raised with
 * compareExchange; 0 in a header written before it existed): other workers'
 * `Memory.sync()` compare it with their views' length (memory.ts).
 * `lock` is reserved (0); each allocator's own lock word is in its state
 * (Kmalloc's: word 0 of its control block).
 *
 * @module
 */
import { HeapCorruptionError, InvalidArgumentError, argumentError, checkInteger } from '../errors/index.js';
import { Memory } from './memory.js';

/** 'MKIT' read as a little-endian u32. */
export const HEADER_MAGIC = 0x54494b4d;
/**
 * Layout version; bumped when any in-buffer layout changes, so that attach
 * refuses a buffer another version laid out (a typed error, nothing read
 * further) instead of misreading it.
 *
 *   1  the first layout
 *   2  (3 Dec 2026) a SlabCache worker's active slab stays on the worker's own
 *      slab list (src/slab/worker.ts); a version-1 buffer has it off the list
 */
export const HEADER_VERSION = 2;
/** Bytes taken by the header at address 0. */
export const HEADER_BYTES = 64;

/** u32 index of each header field. */
export const H_MAGIC = 0;
export const H_VERSION = 1;
export const H_LOCK = 2;
export const H_FLAGS = 3;
/** u32 index of the bitmask of joined worker slots (bit 0: the thread that laid the heap out). */
export const H_WORKERS = 12;
export const H_SLOTS = 4;
/** u32 index of the byte length memkit last grew the memory to (see memory.ts). */
export const H_LENGTH = 13;
/** Number of directory slots. */
export const HEADER_SLOT_COUNT = 8;

/** Which directory slot holds which layer's state offset. */
export const HeaderSlot = {
  /** The buddy allocator's state (BuddyAllocator.attach finds it here). */
  Buddy: 0,
  /** The kmalloc heap's control block (Kmalloc.attach finds it here). */
  Kmalloc: 1,
  /** The ManagedHeap's state (ManagedHeap.attach finds it here). */
  Heap: 2,
  /** The arena registered in this Memory (Arena.attach's default). */
  Arena: 3,
  /** Free for the application: memkit itself never reads or writes it. */
  User0: 4,
  /** The slab space (SlabCache.attach finds its caches here). */
  Slab: 5,
  /** The first TLSF heap made in this Memory (TlsfHeap.attach's default). */
  Tlsf: 6,
} as const;
/** A directory slot number. */
export type HeaderSlot = (typeof HeaderSlot)[keyof typeof HeaderSlot];

/** Throws InvalidArgumentError unless `memory` is a {@link Memory}. */
function checkMemory(memory: unknown): void {
  if (!(memory instanceof Memory)) throw argumentError('memory', 'a Memory', memory);
}

/** True when `memory` starts with a memkit header. */
export function hasHeader(memory: Memory): boolean {
  checkMemory(memory);
  if (memory.isLost()) {
    // A heap cut short (its header still there: a resizable buffer shrunk) is a damaged
    // heap; a buffer with nothing left (detached) is a bad argument to a constructor or attach.
    if (memory.u32[H_MAGIC] === HEADER_MAGIC) memory.checkLive();
    throw new InvalidArgumentError(
      "the memory's buffer is detached, or smaller than when it was wrapped or last grown",
      'memory',
    );
  }
  memory.sync();
  if (!(memory.viewBytes >= HEADER_BYTES && memory.u32[H_MAGIC] === HEADER_MAGIC)) return false;
  memory.watchLength(H_LENGTH);
  return true;
}

/**
 * Writes a fresh header at address 0 unless one is there already. Returns
 * true if it wrote one.
 */
export function ensureHeader(memory: Memory): boolean {
  if (hasHeader(memory)) return false;
  if (memory.viewBytes < HEADER_BYTES) {
    throw new InvalidArgumentError(
      `a memory of ${memory.viewBytes} bytes has no room for the ${HEADER_BYTES}-byte memkit header`,
      'memory',
    );
  }
  const u32 = memory.u32;
  for (let i = 0; i < HEADER_BYTES >>> 2; i++) u32[i] = 0;
  u32[H_MAGIC] = HEADER_MAGIC;
  u32[H_VERSION] = HEADER_VERSION;
  // A buffer detached after it was wrapped drops every write (its views read undefined).
  if (u32[H_MAGIC] !== HEADER_MAGIC) throw new InvalidArgumentError("the memory's buffer is detached", 'memory');
  memory.watchLength(H_LENGTH);
  return true;
}

/** Reads the state offset stored in `slot` (0 when absent). */
export function readSlot(memory: Memory, slot: HeaderSlot): number {
  checkInteger(slot, 'slot', 0, HEADER_SLOT_COUNT - 1);
  checkHeader(memory);
  return memory.u32[H_SLOTS + slot]!;
}

/** Stores the state offset of a layer in `slot`. */
export function writeSlot(memory: Memory, slot: HeaderSlot, offset: number): void {
  checkInteger(slot, 'slot', 0, HEADER_SLOT_COUNT - 1);
  checkHeader(memory);
  checkInteger(offset, 'offset', 0, memory.viewBytes - 1); // 0 = absent, else inside the memory
  memory.u32[H_SLOTS + slot] = offset >>> 0;
}

/** Throws HeapCorruptionError unless `memory` has a memkit header of this version. */
export function checkHeader(memory: Memory): void {
  if (!hasHeader(memory)) {
    throw new HeapCorruptionError('no memkit header at address 0 (magic MKIT missing)', 0);
  }
  const v = memory.u32[H_VERSION];
  if (v !== HEADER_VERSION) {
    throw new HeapCorruptionError(`memkit header version ${String(v)}, this memkit reads ${HEADER_VERSION}`, 4);
  }
}
