/**
 * Making an arena: laying out its state region and first chunk in a new
 * Memory, or in the first block taken from a buddy (see layout.ts).
 *
 * @module
 */
import { InvalidArgumentError, OutOfMemoryError, hex } from '../errors/index.js';
import { HEADER_BYTES, HeaderSlot, Memory, ensureHeader, readSlot, writeSlot } from '../memory/index.js';
import type { ArenaBuddyOptions, ArenaMemoryOptions, ArenaOptions, PageSource } from './api.js';
import {
  ADDRESS_LIMIT, ARENA_MAGIC, CHUNK_ALIGN, CHUNK_HEADER_BYTES, C_END, C_PREV, C_USED0, C_WASTE0,
  MODE_BUDDY, MODE_FIXED, MODE_MEMORY, NO_CAP, STATE_BYTES, STATE_WORDS, S_CAPACITY, S_CHUNKS,
  S_CUR, S_END, S_EPOCH, S_FIRST, S_GROW, S_LIMIT, S_LOCK, S_MAGIC, S_MAX, S_MODE, S_PAGE_SIZE, S_TOP,
} from './layout.js';

/** Least usable bytes of a chunk added by growth, when not given. */
const MIN_CHUNK_BYTES = 256;
/** Default pages per chunk of a buddy-backed arena. */
const DEFAULT_CHUNK_PAGES = 4;

/** Where a new (or attached) arena lives. */
export interface ArenaInit {
  memory: Memory;
  at: number;
  buddy: PageSource | null;
}

/** True for `{ buddy, ... }` options. */
export function isBuddyOptions(o: ArenaOptions): o is ArenaBuddyOptions {
  return typeof o === 'object' && o !== null && 'buddy' in o && (o as ArenaBuddyOptions).buddy !== undefined;
}

function wholeNumber(n: unknown, what: string, min: number, max: number): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new InvalidArgumentError(`${what} must be a whole number in [${min}, ${max}], got ${String(n)}`);
  }
  return n;
}

/** Writes a fresh state region at `at` and the first chunk header at `chunk`. */
function writeState(
  memory: Memory, at: number, mode: number, chunk: number, end: number,
  limit: number, max: number, grow: number, pageSize: number,
): void {
  const u32 = memory.u32;
  const w = at >>> 2;
  for (let i = 0; i < STATE_WORDS; i++) u32[w + i] = 0;
  const c = chunk >>> 2;
  u32[c + C_PREV] = 0;
  u32[c + C_END] = end;
  u32[c + C_USED0] = 0;
  u32[c + C_WASTE0] = 0;
  u32[w + S_LOCK] = 0;
  u32[w + S_MODE] = mode;
  u32[w + S_TOP] = chunk + CHUNK_HEADER_BYTES;
  u32[w + S_END] = end;
  u32[w + S_CUR] = chunk;
  u32[w + S_FIRST] = chunk;
  u32[w + S_LIMIT] = limit;
  u32[w + S_CHUNKS] = 1;
  u32[w + S_CAPACITY] = end - (chunk + CHUNK_HEADER_BYTES);
  u32[w + S_MAX] = max;
  u32[w + S_GROW] = grow;
  u32[w + S_EPOCH] = 0;
  u32[w + S_PAGE_SIZE] = pageSize;
  u32[w + S_MAGIC] = ARENA_MAGIC;
}

/** Lays out a new Memory: header, state, first chunk (see layout.ts). */
export function createOnMemory(o: ArenaMemoryOptions): ArenaInit {
  if (typeof o !== 'object' || o === null) throw new InvalidArgumentError('Arena options must be an object');
  const at = HEADER_BYTES;
  const chunk = at + STATE_BYTES;
  const data = chunk + CHUNK_HEADER_BYTES;
  const bytes = wholeNumber(o.bytes, 'bytes', 0, ADDRESS_LIMIT - data);
  const maxBytes = o.maxBytes === undefined ? bytes : wholeNumber(o.maxBytes, 'maxBytes', bytes, ADDRESS_LIMIT - data);
  const chunkBytes = o.chunkBytes === undefined ? Math.max(bytes, MIN_CHUNK_BYTES) : wholeNumber(o.chunkBytes, 'chunkBytes', 1, ADDRESS_LIMIT);
  const growing = maxBytes > bytes;
  // Each chunk but the last has >= chunkBytes usable bytes; each costs a
  // header and up to 15 bytes of padding to the next 16-byte boundary.
  const maxChunks = growing ? 2 + Math.floor((maxBytes - bytes) / chunkBytes) : 1;
  const maxLen = Math.min(ADDRESS_LIMIT, chunk + maxChunks * (CHUNK_HEADER_BYTES + CHUNK_ALIGN) + maxBytes);
  const memory = Memory.create(
    growing ? { bytes: data + bytes, maxBytes: maxLen, shared: o.shared === true } : { bytes: data + bytes, shared: o.shared === true },
  );
  ensureHeader(memory);
  writeState(memory, at, growing ? MODE_MEMORY : MODE_FIXED, chunk, data + bytes, data + bytes, maxBytes, chunkBytes, 0);
  writeSlot(memory, HeaderSlot.Arena, at);
  return { memory, at, buddy: null };
}

/**
 * Gives `block` back and throws unless it can be an arena chunk: 16-byte
 * aligned (a page size of at least 16) and below {@link ADDRESS_LIMIT}.
 */
export function checkBlock(buddy: PageSource, block: number, size: number): void {
  if (block % CHUNK_ALIGN !== 0) {
    buddy.free(block);
    throw new InvalidArgumentError(`buddy block ${hex(block)} is not ${CHUNK_ALIGN}-byte aligned (use a page size of at least ${CHUNK_ALIGN})`);
  }
  if (block + buddy.blockPages(block) * buddy.pageSize > ADDRESS_LIMIT) {
    buddy.free(block);
    throw new OutOfMemoryError(`buddy block ${hex(block)} lies beyond the 2 GiB an arena can address`, size);
  }
}

/** Takes the first chunk from the buddy and puts the state at its start. */
export function createOnBuddy(o: ArenaBuddyOptions): ArenaInit {
  const buddy = o.buddy;
  const memory = buddy.memory;
  if (memory === null) throw new InvalidArgumentError('an arena needs a memory-backed buddy allocator (this one is offsets-only)');
  const chunkPages = o.chunkPages === undefined ? DEFAULT_CHUNK_PAGES : wholeNumber(o.chunkPages, 'chunkPages', 1, 2 ** 20);
  const max = o.maxBytes === undefined ? NO_CAP : wholeNumber(o.maxBytes, 'maxBytes', 1, ADDRESS_LIMIT);
  const pageSize = buddy.pageSize;
  const pages = Math.max(chunkPages, Math.ceil((STATE_BYTES + CHUNK_HEADER_BYTES + 1) / pageSize));
  const block = buddy.allocPages(pages);
  checkBlock(buddy, block, pages * pageSize);
  memory.sync();
  const chunk = block + STATE_BYTES;
  const data = chunk + CHUNK_HEADER_BYTES;
  const end = Math.min(block + buddy.blockPages(block) * pageSize, data + max);
  ensureHeader(memory);
  writeState(memory, block, MODE_BUDDY, chunk, end, 0, max, chunkPages, pageSize);
  if (readSlot(memory, HeaderSlot.Arena) === 0) writeSlot(memory, HeaderSlot.Arena, block);
  return { memory, at: block, buddy };
}
