/**
 * A TLSF heap's construction and attach's check of its control words: the
 * options ({@link TlsfOptions}, {@link TlsfAttachOptions}), the resolved
 * state the one constructor of {@link TlsfHeap} takes ({@link TlsfState}),
 * `new TlsfHeap`'s checks and the control structure it writes
 * ({@link createHeap}), and attach's reading of one ({@link resolveHeap}).
 * The blocks and lists are checked after, by check.ts.
 *
 * Invariants: createHeap checks every argument before it takes the control
 * region from the buddy (a bad option changes nothing); resolveHeap trusts
 * no word of the buffer: each is checked against the buffer's length and
 * the buddy before it is used, and the first bad one is named in a
 * HeapCorruptionError with its address.
 *
 * Locks (the order is at the top of src/memory/lock.ts): createHeap runs
 * before any other worker can know the heap (the buddy takes its own lock
 * for the region); resolveHeap runs under the heap's lock on a shared
 * memory (TlsfHeap.attach takes it), and reads the buddy's state under it.
 *
 * @module
 */
import { BuddyAllocator } from '../buddy/index.js';
import { HeapCorruptionError, InvalidArgumentError, argumentError, checkOptions, hex } from '../errors/index.js';
import { HeaderSlot, type Memory, readSlot, writeSlot } from '../memory/index.js';
import {
  MAX_CHUNK_SHIFT,
  TLSF_MAGIC,
  TLSF_MAGIC_V1,
  TLSF_MAGIC_V2,
  T_BASE,
  T_CHUNKS,
  T_CHUNK_MAP,
  T_CHUNK_PAGES,
  T_CHUNK_SHIFT,
  T_KEY,
  T_MAGIC,
  T_MAX_CHUNKS,
  T_Q_LIMIT,
  T_SPARE,
  controlBytes,
  bitAt,
  joinAt,
  quickLimit,
} from './layout.js';

/** Options of {@link TlsfHeap}. */
export interface TlsfOptions {
  /** Buddy pages per chunk, a power of two (default 64: 256 KiB with 4 KiB pages). */
  chunkPages?: number;
  /**
   * Called after a chunk is added (`added` true) or given back to the buddy
   * (false). Kmalloc marks the chunk's pages in its page table here, so that
   * kfree(addr) of any address inside routes to this heap.
   */
  onChunk?: (addr: number, pages: number, added: boolean) => void;
  /**
   * Bytes the quick lists may hold in all (freed blocks under 1 KiB kept whole
   * for reuse by the next alloc of their size class, at most 8 per class;
   * flushed into the heap before it takes a chunk and by shrink). A multiple of
   * 8 up to the chunk size; 0: no quick lists. Default: a quarter chunk, at most 32 KiB.
   */
  quickBytes?: number;
}

/** Options of {@link TlsfHeap.attach}. */
export interface TlsfAttachOptions {
  /** Byte offset of the control structure ({@link TlsfHeap.region}); default: the first TLSF heap made in the Memory. */
  at?: number;
  /** As {@link TlsfOptions.onChunk} (a function is not stored in the buffer). */
  onChunk?: (addr: number, pages: number, added: boolean) => void;
}

/**
 * The resolved state of a heap: where its control structure is and what it
 * says. `new TlsfHeap(buddy, options)` computes it by checking the options
 * and writing a fresh control structure; `TlsfHeap.attach` by reading and
 * checking one already in the buffer. Both hand it to the one constructor.
 *
 * @internal
 */
export class TlsfState {
  constructor(
    readonly buddy: BuddyAllocator,
    readonly memory: Memory,
    readonly region: number,
    readonly chunkPages: number,
    readonly chunkShift: number,
    readonly maxChunks: number,
    readonly key: number,
    readonly onChunk: ((addr: number, pages: number, added: boolean) => void) | null,
    /** Bound on the bytes of the quick lists (0: no quick lists). */
    readonly quickBytes: number,
  ) {}
}

const OPTION_NAMES = ['chunkPages', 'onChunk', 'quickBytes'] as const;

/**
 * `new TlsfHeap(buddy, options)`: checks every argument, then (and only
 * then) takes the control region from the buddy and writes it.
 *
 * @internal
 */
export function createHeap(buddy: unknown, options: unknown): TlsfState {
  if (!(buddy instanceof BuddyAllocator)) throw argumentError('buddy', 'a BuddyAllocator', buddy);
  const memory = buddy.memory;
  if (memory === null)
    throw new InvalidArgumentError('TlsfHeap needs bytes: the buddy allocator is offsets-only', 'buddy');
  const o = checkOptions(options as TlsfOptions | undefined, 'options', OPTION_NAMES);
  const chunkPages = o.chunkPages === undefined ? 64 : o.chunkPages;
  if (!validChunk(buddy, chunkPages)) {
    throw argumentError(
      'chunkPages',
      `a power of two with 64 B <= chunk <= 1 GiB and at most 2^${buddy.maxOrder} pages`,
      o.chunkPages,
    );
  }
  if (o.onChunk !== undefined && typeof o.onChunk !== 'function')
    throw argumentError('onChunk', 'a function', o.onChunk);
  const chunkBytes = chunkPages * buddy.pageSize;
  const quickBytes = o.quickBytes === undefined ? quickLimit(chunkBytes) : o.quickBytes;
  if (
    typeof quickBytes !== 'number' ||
    !Number.isInteger(quickBytes) ||
    !(quickBytes >= 0) ||
    Object.is(quickBytes, -0) ||
    quickBytes > chunkBytes ||
    (quickBytes & 7) !== 0
  )
    throw argumentError('quickBytes', `a multiple of 8 in [0, ${chunkBytes}] (the chunk size)`, o.quickBytes);
  const chunkShift = 31 - Math.clz32(chunkBytes);
  const maxChunks = Math.ceil((buddy.maxPages * buddy.pageSize) / chunkBytes);
  const bytes = controlBytes(maxChunks);
  // Every argument is good: act.
  const region = buddy.allocPagesExact(Math.ceil(bytes / buddy.pageSize));
  memory.sync();
  const u32 = memory.u32;
  const c = region >>> 2;
  u32.fill(0, c, c + (bytes >>> 2));
  u32[c + T_MAGIC] = TLSF_MAGIC;
  u32[c + T_CHUNK_SHIFT] = chunkShift;
  u32[c + T_BASE] = buddy.base;
  u32[c + T_MAX_CHUNKS] = maxChunks;
  u32[c + T_CHUNK_PAGES] = chunkPages;
  const key = (Math.floor(Math.random() * 2 ** 32) | 1) >>> 0;
  u32[c + T_KEY] = key;
  u32[c + T_Q_LIMIT] = quickBytes;
  if (readSlot(memory, HeaderSlot.Tlsf) === 0) writeSlot(memory, HeaderSlot.Tlsf, region);
  return new TlsfState(buddy, memory, region, chunkPages, chunkShift, maxChunks, key, o.onChunk ?? null, quickBytes);
}

function validChunk(buddy: BuddyAllocator, chunkPages: unknown): chunkPages is number {
  if (typeof chunkPages !== 'number' || !Number.isInteger(chunkPages) || chunkPages < 1 || chunkPages > 2 ** 30)
    return false;
  const chunkBytes = chunkPages * buddy.pageSize;
  return (
    (chunkPages & (chunkPages - 1)) === 0 &&
    chunkPages <= 2 ** buddy.maxOrder &&
    chunkBytes >= 64 &&
    chunkBytes <= 2 ** MAX_CHUNK_SHIFT
  );
}

function corrupt(message: string, addr: number): never {
  throw new HeapCorruptionError(`tlsf: ${message}`, addr);
}

/**
 * attach: reads the control structure at `region` and checks every word of
 * it against the buffer and the buddy (magic, base, chunk geometry, the
 * chunk map's bits: each an allocated buddy block of one chunk inside the
 * buffer). The blocks and lists are checked after, by checkInvariants.
 *
 * @internal
 */
export function resolveHeap(buddy: BuddyAllocator, region: number, onChunk: TlsfState['onChunk']): TlsfState {
  const memory = buddy.memory;
  if (memory === null)
    throw new InvalidArgumentError('TlsfHeap needs bytes: the buddy allocator is offsets-only', 'buddy');
  memory.sync();
  const bytes = memory.buffer.byteLength;
  const u32 = memory.u32;
  const c = region >>> 2;
  const at = (word: number): number => region + 4 * word;
  if (region < buddy.base || (region - buddy.base) % buddy.pageSize !== 0 || region + T_CHUNK_MAP * 4 > bytes) {
    corrupt(
      `no TLSF heap at ${hex(region)} (not a page of the buddy with room for a control structure in the ${bytes}-byte buffer)`,
      region,
    );
  }
  if (u32[c + T_MAGIC] === TLSF_MAGIC_V1)
    corrupt(
      `the TLSF heap at ${hex(region)} has layout version 1 (magic TLSF, before the quick lists): not supported`,
      at(T_MAGIC),
    );
  if (u32[c + T_MAGIC] === TLSF_MAGIC_V2)
    corrupt(
      `the TLSF heap at ${hex(region)} has layout version 2 (magic TLS2, before chunks were joined into runs): not supported`,
      at(T_MAGIC),
    );
  if (u32[c + T_MAGIC] !== TLSF_MAGIC) corrupt(`no TLSF heap at ${hex(region)} (magic TLS3 missing)`, at(T_MAGIC));
  if (u32[c + T_BASE] !== buddy.base)
    corrupt(`control word base is ${hex(u32[c + T_BASE]!)}, the buddy's base is ${hex(buddy.base)}`, at(T_BASE));
  const chunkPages = u32[c + T_CHUNK_PAGES]!;
  if (!validChunk(buddy, chunkPages)) corrupt(`control word chunkPages is ${chunkPages}`, at(T_CHUNK_PAGES));
  const chunkBytes = chunkPages * buddy.pageSize;
  const chunkShift = u32[c + T_CHUNK_SHIFT]!;
  if (2 ** chunkShift !== chunkBytes)
    corrupt(`control word chunkShift is ${chunkShift}, chunks are ${chunkBytes} bytes`, at(T_CHUNK_SHIFT));
  const maxChunks = u32[c + T_MAX_CHUNKS]!;
  if (maxChunks !== Math.ceil((buddy.maxPages * buddy.pageSize) / chunkBytes))
    corrupt(`control word maxChunks is ${maxChunks}`, at(T_MAX_CHUNKS));
  if (region + controlBytes(maxChunks) > bytes)
    corrupt(`control structure at ${hex(region)} runs past the end of the ${bytes}-byte buffer (truncated?)`, region);
  const key = u32[c + T_KEY]!;
  if ((key & 1) === 0) corrupt(`control word key ${hex(key)} is even`, at(T_KEY));
  const quickBytes = u32[c + T_Q_LIMIT]!;
  if (quickBytes > chunkBytes || (quickBytes & 7) !== 0)
    corrupt(`control word qLimit is ${quickBytes}, not a multiple of 8 up to the chunk size`, at(T_Q_LIMIT));
  const words = (maxChunks + 31) >>> 5;
  let chunks = 0;
  for (let w = 0; w < words; w++) {
    const bits = u32[c + T_CHUNK_MAP + w]!;
    for (let b = 0; b < 32; b++) {
      if ((bits & (1 << b)) === 0) continue;
      const slot = w * 32 + b;
      const A = buddy.base + slot * chunkBytes;
      let owned = slot < maxChunks && A + chunkBytes <= bytes;
      if (owned) {
        try {
          owned = buddy.isAllocated(A) && buddy.blockPages(A) === chunkPages;
        } catch {
          owned = false;
        }
      }
      if (!owned)
        corrupt(
          `chunk map bit ${slot} names ${hex(A)}, not an allocated ${chunkBytes}-byte buddy block inside the buffer`,
          at(T_CHUNK_MAP + w),
        );
      chunks++;
    }
  }
  // A join bit says chunk i runs on from chunk i - 1: both must be the heap's.
  const j = c + joinAt(maxChunks);
  for (let w = 0; w < words; w++) {
    const bits = u32[j + w]!;
    for (let b = 0; b < 32; b++) {
      if ((bits & (1 << b)) === 0) continue;
      const slot = w * 32 + b;
      if (
        slot === 0 ||
        slot >= maxChunks ||
        !bitAt(u32, c + T_CHUNK_MAP, slot) ||
        !bitAt(u32, c + T_CHUNK_MAP, slot - 1)
      )
        corrupt(`join map bit ${slot} joins chunks the heap does not both hold`, at(joinAt(maxChunks) + w));
    }
  }
  if (u32[c + T_CHUNKS] !== chunks)
    corrupt(`control word chunks is ${u32[c + T_CHUNKS]!}, the chunk map has ${chunks}`, at(T_CHUNKS));
  const spare = u32[c + T_SPARE]!;
  if (spare !== 0 && (spare < buddy.base || (spare - buddy.base) % chunkBytes !== 0 || spare + chunkBytes > bytes)) {
    corrupt(`control word spare is ${hex(spare)}, not a chunk`, at(T_SPARE));
  }
  return new TlsfState(buddy, memory, region, chunkPages, chunkShift, maxChunks, key, onChunk, quickBytes);
}
