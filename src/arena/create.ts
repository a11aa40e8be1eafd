/**
 * Making or opening an arena: the {@link ArenaInit} record the arena's one
 * constructor takes. `ArenaInit.create` lays out a state region and a first
 * chunk in a new Memory, or in the first block taken from a buddy (see
 * layout.ts); `ArenaInit.open` finds an existing one and checks it (the
 * attach fsck).
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
  describe,
  checkOptions,
  hex,
} from '../errors/index.js';
import { H_WORKERS } from '../memory/header.js';
import { HEADER_BYTES, HeaderSlot, Memory, checkHeader, ensureHeader, readSlot, writeSlot } from '../memory/index.js';
import { joinWorker, leaveWorker, lockMemory, unlock } from '../memory/lock.js';
import type { ArenaAttachOptions, ArenaBuddyOptions, ArenaMemoryOptions, ArenaOptions, PageSource } from './api.js';
import {
  ADDRESS_LIMIT,
  ARENA_MAGIC,
  CHUNK_ALIGN,
  CHUNK_HEADER_BYTES,
  C_END,
  C_PREV,
  C_USED0,
  C_WASTE0,
  FLOOR_PAIRS,
  FLOOR_WORDS,
  MODE_BUDDY,
  NO_MARK,
  MODE_FIXED,
  MODE_MEMORY,
  NO_CAP,
  STATE_BYTES,
  STATE_WORDS,
  S_CAPACITY,
  S_CHUNKS,
  S_CUR,
  S_DEPTH,
  S_END,
  S_FIRST,
  S_FLOORS,
  S_GEN,
  S_GROW,
  S_HI_MARK,
  S_LIMIT,
  S_LOCK,
  S_MAGIC,
  S_MAX,
  S_MODE,
  S_PAGE_SIZE,
  S_TOP,
} from './layout.js';

/** Least usable bytes of a chunk added by growth, when not given. */
const MIN_CHUNK_BYTES = 256;
/** Default pages per chunk of a buddy-backed arena. */
const DEFAULT_CHUNK_PAGES = 4;
/** `new Arena()`: a 4 KiB first chunk that grows on demand up to 256 MiB. */
export const DEFAULT_ARENA_OPTIONS: Readonly<ArenaMemoryOptions> = Object.freeze({ bytes: 4096, maxBytes: 2 ** 28 });

const MEMORY_OPTIONS = ['bytes', 'maxBytes', 'chunkBytes', 'shared'] as const;
const BUDDY_OPTIONS = ['buddy', 'chunkPages', 'maxBytes'] as const;
const ATTACH_OPTIONS = ['at', 'buddy'] as const;

/**
 * Where an arena's state is: what both `new Arena(options)` and
 * `Arena.attach(memory)` compute, and the only thing the arena's
 * constructor reads. Not exported from the package root; its constructor
 * is private, so the only records are those `create` and `open` make.
 */
export class ArenaInit {
  private constructor(
    /** The bytes the arena's addresses index. */
    readonly memory: Memory,
    /** Address of the state region. */
    readonly at: number,
    /** The page source of a buddy-backed arena, else `null`. */
    readonly buddy: PageSource | null,
    /** The instance's worker slot (0: the maker, an unshared memory, or a per-worker buddy-backed arena). */
    readonly slot: number = 0,
    /** True when the instance joined `slot` itself (attach of a shared arena), so detach gives it back. */
    readonly ownsSlot: boolean = false,
  ) {}

  /** Checks the options, then lays out a new arena (nothing is made if an option is bad). */
  static create(options: ArenaOptions | undefined): ArenaInit {
    if (options === undefined) return createOnMemory(DEFAULT_ARENA_OPTIONS);
    if (typeof options !== 'object' || options === null || Array.isArray(options)) {
      throw argumentError('options', 'an options object', options);
    }
    return isBuddyOptions(options) ? createOnBuddy(options) : createOnMemory(options);
  }

  /**
   * Finds the arena registered in `memory` (or at `options.at`) and checks
   * its state: every word against the buffer's length and the others, the
   * chunk chain (walked at most `chunks` steps, so a cycle cannot hang),
   * the spares, the counters, the floor stack; with a buddy, that every
   * chunk is a block the buddy holds allocated.
   *
   * @throws HeapCorruptionError naming the first word that is wrong;
   * InvalidArgumentError for a bad argument or a missing `buddy`.
   */
  static open(memory: Memory, options: ArenaAttachOptions | undefined): ArenaInit {
    if (!(memory instanceof Memory)) throw argumentError('memory', 'a Memory', memory);
    const o = checkOptions(options, 'Arena.attach options', ATTACH_OPTIONS, 'options');
    memory.sync();
    let at: number;
    if (o.at === undefined) {
      checkHeader(memory);
      at = readSlot(memory, HeaderSlot.Arena);
      if (at === 0)
        throw new HeapCorruptionError(
          'no arena is registered in this memory (header slot Arena is 0)',
          16 + 4 * HeaderSlot.Arena,
        );
    } else {
      at = checkInteger(o.at, 'at', 0, 2 ** 32 - 1);
    }
    const len = memory.buffer.byteLength;
    if (at % 8 !== 0 || at < HEADER_BYTES || at + STATE_BYTES > len) {
      throw new HeapCorruptionError(
        `arena state address ${hex(at)} is not an 8-aligned address after the header with ${STATE_BYTES} bytes inside the ${len}-byte memory`,
        at,
      );
    }
    const s = memory.i32;
    const w = at >>> 2;
    if (memory.u32[w + S_MAGIC] !== ARENA_MAGIC) {
      throw new HeapCorruptionError(`no arena state at ${hex(at)} (magic 'ARNA' missing)`, at);
    }
    let buddy: PageSource | null = null;
    if (s[w + S_MODE] !== MODE_BUDDY && o.buddy !== undefined) {
      throw new InvalidArgumentError(
        'this arena takes no chunks from a buddy allocator: attach it without { buddy }',
        'buddy',
      );
    }
    if (s[w + S_MODE] === MODE_BUDDY) {
      if (o.buddy === undefined) {
        throw new InvalidArgumentError(
          'this arena takes its chunks from a buddy allocator: pass { buddy } to attach',
          'buddy',
        );
      }
      buddy = checkPageSource(o.buddy);
      const bm = buddy.memory;
      if (bm === null || (bm !== memory && bm.buffer !== memory.buffer)) {
        throw new InvalidArgumentError('the buddy given to attach does not manage this memory', 'buddy');
      }
    }
    if (!memory.shared || buddy !== null) {
      checkState(memory, at, buddy);
      return new ArenaInit(memory, at, buddy);
    }
    // A shared arena (memory mode on a shared memory): join, then check it
    // under its lock, as another worker may be allocating in it.
    checkHeader(memory);
    const slot = joinWorker(memory.i32, H_WORKERS);
    try {
      lockMemory(memory, w + S_LOCK, slot);
      try {
        checkState(memory, at, buddy);
      } finally {
        unlock(memory.i32, w + S_LOCK, slot);
      }
    } catch (e) {
      leaveWorker(memory.i32, H_WORKERS, slot);
      throw e;
    }
    return new ArenaInit(memory, at, buddy, slot, true);
  }

  /** The record for a state `create` has just written (this module only). */
  static made(memory: Memory, at: number, buddy: PageSource | null): ArenaInit {
    return new ArenaInit(memory, at, buddy);
  }
}

/** True for `{ buddy, ... }` options. */
function isBuddyOptions(o: ArenaOptions): o is ArenaBuddyOptions {
  return 'buddy' in o;
}

/** Throws unless `b` has the members of a {@link PageSource}. */
function checkPageSource(b: unknown): PageSource {
  const p = b as Partial<PageSource> | null;
  if (
    typeof p !== 'object' ||
    p === null ||
    typeof p.allocPages !== 'function' ||
    typeof p.free !== 'function' ||
    typeof p.blockPages !== 'function' ||
    typeof p.pageSize !== 'number'
  ) {
    throw argumentError('buddy', 'a BuddyAllocator (or a PageSource)', b);
  }
  return p as PageSource;
}

/** Writes a fresh state region at `at` and the first chunk header at `chunk`. */
function writeState(
  memory: Memory,
  at: number,
  mode: number,
  chunk: number,
  end: number,
  limit: number,
  max: number,
  grow: number,
  pageSize: number,
): void {
  const u32 = memory.u32;
  const s = memory.i32;
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
  s[w + S_GEN] = 0;
  u32[w + S_PAGE_SIZE] = pageSize;
  s[w + S_HI_MARK] = -1;
  s[w + S_DEPTH] = 1;
  s[w + S_FLOORS] = 0;
  s[w + S_FLOORS + 1] = -1;
  s[w + S_FLOORS + 2] = NO_MARK;
  s[w + S_FLOORS + 3] = 0;
  u32[w + S_MAGIC] = ARENA_MAGIC;
}

/** Lays out a new Memory: header, state, first chunk (see layout.ts). */
function createOnMemory(options: ArenaMemoryOptions): ArenaInit {
  const o = checkOptions(options, 'Arena options', MEMORY_OPTIONS, 'options');
  const at = HEADER_BYTES;
  const chunk = at + STATE_BYTES;
  const data = chunk + CHUNK_HEADER_BYTES;
  if (o.bytes === undefined)
    throw argumentError('bytes', `a whole number in [0, ${ADDRESS_LIMIT - data}] (or pass { buddy })`, o.bytes);
  const bytes = checkInteger(o.bytes, 'bytes', 0, ADDRESS_LIMIT - data);
  const maxBytes = o.maxBytes === undefined ? bytes : checkInteger(o.maxBytes, 'maxBytes', bytes, ADDRESS_LIMIT - data);
  const chunkBytes =
    o.chunkBytes === undefined
      ? Math.max(bytes, MIN_CHUNK_BYTES)
      : checkInteger(o.chunkBytes, 'chunkBytes', 1, ADDRESS_LIMIT);
  if (o.shared !== undefined && typeof o.shared !== 'boolean') throw argumentError('shared', 'a boolean', o.shared);
  const growing = maxBytes > bytes;
  // Each chunk but the last has >= chunkBytes usable bytes; each costs a
  // header and up to 15 bytes of padding to the next 16-byte boundary.
  const maxChunks = growing ? 2 + Math.floor((maxBytes - bytes) / chunkBytes) : 1;
  const maxLen = Math.min(ADDRESS_LIMIT, chunk + maxChunks * (CHUNK_HEADER_BYTES + CHUNK_ALIGN) + maxBytes);
  const memory = Memory.create(
    growing
      ? { bytes: data + bytes, maxBytes: maxLen, shared: o.shared === true }
      : { bytes: data + bytes, shared: o.shared === true },
  );
  ensureHeader(memory);
  writeState(
    memory,
    at,
    growing ? MODE_MEMORY : MODE_FIXED,
    chunk,
    data + bytes,
    data + bytes,
    maxBytes,
    chunkBytes,
    0,
  );
  writeSlot(memory, HeaderSlot.Arena, at);
  return ArenaInit.made(memory, at, null);
}

/**
 * Gives `block` back and throws unless it can be an arena chunk: 16-byte
 * aligned (a page size of at least 16) and below {@link ADDRESS_LIMIT}.
 */
export function checkBlock(buddy: PageSource, block: number, size: number): void {
  // A PageSource is the user's: what it answers is checked before a chunk header is written there.
  const pages: unknown = typeof block === 'number' && block >>> 0 === block ? buddy.blockPages(block) : 0;
  const bytes = buddy.memory === null ? 0 : buddy.memory.buffer.byteLength;
  if (
    !(typeof block === 'number' && block >>> 0 === block && block >= HEADER_BYTES) ||
    !(typeof pages === 'number' && Number.isInteger(pages) && pages >= 1) ||
    block + pages * buddy.pageSize > bytes
  ) {
    if (typeof block === 'number' && block >>> 0 === block) buddy.free(block);
    throw new InvalidArgumentError(
      `the buddy gave block ${describe(block)} of ${describe(pages)} pages, not inside its ${bytes}-byte memory`,
      'buddy',
    );
  }
  if (block % CHUNK_ALIGN !== 0) {
    buddy.free(block);
    throw new InvalidArgumentError(
      `buddy block ${hex(block)} is not ${CHUNK_ALIGN}-byte aligned (use a page size of at least ${CHUNK_ALIGN})`,
      'buddy',
    );
  }
  if (block + buddy.blockPages(block) * buddy.pageSize > ADDRESS_LIMIT) {
    buddy.free(block);
    throw new OutOfMemoryError(`buddy block ${hex(block)} lies beyond the 2 GiB an arena can address`, size);
  }
}

/** Takes the first chunk from the buddy and puts the state at its start. */
function createOnBuddy(options: ArenaBuddyOptions): ArenaInit {
  const o = checkOptions(options, 'Arena options', BUDDY_OPTIONS, 'options');
  const buddy = checkPageSource(o.buddy);
  const memory = buddy.memory;
  if (!(memory instanceof Memory))
    throw new InvalidArgumentError(
      'an arena needs a memory-backed buddy allocator (this one is offsets-only)',
      'buddy',
    );
  const chunkPages =
    o.chunkPages === undefined ? DEFAULT_CHUNK_PAGES : checkInteger(o.chunkPages, 'chunkPages', 1, 2 ** 20);
  const max = o.maxBytes === undefined ? NO_CAP : checkInteger(o.maxBytes, 'maxBytes', 1, ADDRESS_LIMIT);
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
  return ArenaInit.made(memory, block, buddy);
}

/**
 * The attach fsck: every state word and chunk header checked against the
 * buffer and each other (see layout.ts for what each must be). Throws
 * HeapCorruptionError naming the first one wrong.
 */
export function checkState(memory: Memory, at: number, buddy: PageSource | null): void {
  const len = memory.buffer.byteLength;
  const s = memory.i32;
  const u32 = memory.u32;
  const w = at >>> 2;
  const NAMES = [
    'magic',
    'lock',
    'mode',
    'top',
    'end',
    'cur',
    'first',
    'limit',
    'chunks',
    'capacity',
    'max',
    'grow',
    'gen',
    'pageSize',
    'hiMark',
    'depth',
  ];
  const word = (i: number): number => s[w + i]!;
  const bad = (i: number, why: string): never => {
    const name =
      i < NAMES.length
        ? NAMES[i]!
        : `floor stack word ${i - S_FLOORS} (entry ${Math.floor((i - S_FLOORS) / FLOOR_WORDS)})`;
    throw new HeapCorruptionError(`arena state word ${name} at ${hex(at + 4 * i)} = ${word(i)}: ${why}`, at + 4 * i);
  };
  const badChunk = (c: number, why: string): never => {
    throw new HeapCorruptionError(`arena chunk header at ${hex(c)}: ${why}`, c);
  };
  const mode = word(S_MODE);
  if (mode !== MODE_FIXED && mode !== MODE_MEMORY && mode !== MODE_BUDDY)
    bad(S_MODE, 'not a mode (0 fixed, 1 memory, 2 buddy)');
  const first = word(S_FIRST);
  if (first !== at + STATE_BYTES) bad(S_FIRST, `the first chunk is right after the state, at ${hex(at + STATE_BYTES)}`);
  const inside = (x: number): boolean => x >= 0 && x <= Math.min(len, ADDRESS_LIMIT);
  const chunks = word(S_CHUNKS);
  if (chunks < 1 || chunks > len / CHUNK_ALIGN) bad(S_CHUNKS, 'not a chunk count the memory can hold');
  // The chain, newest first, from cur back to first: at most `chunks` steps.
  const cur = word(S_CUR);
  // A memory-backed arena's chunks follow its first; a buddy-backed one's are buddy blocks
  // anywhere in the memory (a block below the first is handed out as readily as one above).
  const low = mode === MODE_BUDDY ? HEADER_BYTES : at + STATE_BYTES;
  const endOf = (c: number): number => {
    if (!(c >= low && c % CHUNK_ALIGN === 0 && c + CHUNK_HEADER_BYTES <= len))
      badChunk(c, `not a 16-aligned chunk header inside the ${len}-byte memory`);
    const e = u32[(c >>> 2) + C_END]!;
    if (!(e >= c + CHUNK_HEADER_BYTES && inside(e)))
      badChunk(c, `end ${e} is not after the header and inside the memory`);
    if (buddy !== null) {
      const block = c === first ? at : c;
      let pages = 0;
      try {
        pages = buddy.blockPages(block);
      } catch (err) {
        if (err instanceof MemkitError) badChunk(c, `block ${hex(block)} is not allocated in the buddy`);
        throw err;
      }
      if (e > block + pages * buddy.pageSize) badChunk(c, `end ${e} passes its buddy block`);
    }
    return e;
  };
  let inChain = 0;
  let capacity = 0;
  let c = cur;
  let newer = -1; // the chunk after c in the chain
  for (;;) {
    if (++inChain > chunks) bad(S_CHUNKS, 'the chain from cur is longer than chunks (a cycle?)');
    const e = endOf(c);
    capacity += e - (c + CHUNK_HEADER_BYTES);
    const used0 = u32[(c >>> 2) + C_USED0]!;
    const waste0 = u32[(c >>> 2) + C_WASTE0]!;
    if (used0 > ADDRESS_LIMIT || waste0 > ADDRESS_LIMIT) badChunk(c, 'used0 or waste0 out of range');
    // The chunk after c was entered with used0 + waste0 = c's + c's usable bytes.
    if (
      newer >= 0 &&
      u32[(newer >>> 2) + C_USED0]! + u32[(newer >>> 2) + C_WASTE0]! !== used0 + waste0 + (e - (c + CHUNK_HEADER_BYTES))
    ) {
      badChunk(newer, 'used0 + waste0 is not that of the chunk before it plus its usable bytes');
    }
    if (mode !== MODE_BUDDY && newer >= 0 && newer < e)
      badChunk(newer, 'chunks of a memory-backed arena lie in rising address order');
    const prev = u32[(c >>> 2) + C_PREV]!;
    if (c === first) {
      if (prev !== 0 || used0 !== 0 || waste0 !== 0) badChunk(c, 'the first chunk has prev 0, used0 0, waste0 0');
      break;
    }
    if (prev === 0) badChunk(c, `the chain ends before the first chunk ${hex(first)}`);
    newer = c;
    c = prev;
  }
  const top = word(S_TOP);
  const end = word(S_END);
  if (end !== u32[(cur >>> 2) + C_END]) bad(S_END, `not the end of the current chunk (${u32[(cur >>> 2) + C_END]!})`);
  if (!(top >= cur + CHUNK_HEADER_BYTES && top <= end))
    bad(S_TOP, `not inside the current chunk [${cur + CHUNK_HEADER_BYTES}, ${end}]`);
  // Memory mode: the chunks tile [first, limit) in address order, each at
  // the 16-aligned end of the one before; the chain is some of them, the
  // rest are spares (after cur, or passed over as too small for a request).
  const limit = word(S_LIMIT);
  if (mode === MODE_BUDDY) {
    if (limit !== 0) bad(S_LIMIT, 'a buddy-backed arena has limit 0');
  } else {
    if (!(inside(limit) && limit >= end))
      bad(S_LIMIT, `not inside the memory and at or after the current chunk's end ${end}`);
    if (mode === MODE_FIXED && (chunks !== 1 || limit !== end))
      bad(S_CHUNKS, 'a fixed arena has one chunk, its end at limit');
    let all = 0;
    let spareBytes = 0;
    let chainSeen = 0;
    const chain = new Set<number>();
    for (let x = cur, n = 0; n < inChain; n++, x = u32[(x >>> 2) + C_PREV]!) chain.add(x);
    let lastEnd = 0;
    for (let x = first; x < limit; ) {
      if (++all > chunks) bad(S_CHUNKS, 'more chunks between first and limit than chunks counts');
      const e = endOf(x);
      if (chain.has(x)) chainSeen++;
      else spareBytes += e - (x + CHUNK_HEADER_BYTES);
      lastEnd = e;
      x = alignUp16(e);
    }
    if (lastEnd !== limit) bad(S_LIMIT, `not the end of the last chunk (${lastEnd})`);
    if (all !== chunks || chainSeen !== inChain)
      bad(S_CHUNKS, `${all} chunks between first and limit, ${chainSeen} of the ${inChain} in the chain among them`);
    capacity += spareBytes;
  }
  if (mode === MODE_BUDDY && inChain !== chunks) bad(S_CHUNKS, `${inChain} chunks in the chain`);
  if (word(S_CAPACITY) !== capacity) bad(S_CAPACITY, `the chunks hold ${capacity} usable bytes`);
  const max = word(S_MAX);
  if (!(max >= 0 && max >= (mode === MODE_BUDDY ? 1 : 0))) bad(S_MAX, 'not a byte count');
  if (mode !== MODE_BUDDY && capacity > max) bad(S_MAX, `below the capacity ${capacity}`);
  if (word(S_GROW) < 1 || (mode === MODE_BUDDY && word(S_GROW) > 2 ** 20)) bad(S_GROW, 'not a chunk size');
  if (mode === MODE_BUDDY && word(S_PAGE_SIZE) !== buddy!.pageSize)
    bad(S_PAGE_SIZE, `not the buddy's page size ${buddy!.pageSize}`);
  // Marks: the floor stack rises, its generations never pass gen.
  const gen = word(S_GEN);
  const used = u32[(cur >>> 2) + C_USED0]! + top - (cur + CHUNK_HEADER_BYTES);
  const depth = word(S_DEPTH);
  if (depth < 1 || depth > FLOOR_PAIRS) bad(S_DEPTH, `not in [1, ${FLOOR_PAIRS}]`);
  if (word(S_HI_MARK) < -1 || word(S_HI_MARK) > used) bad(S_HI_MARK, `not in [-1, used ${used}]`);
  if (word(S_FLOORS + 1) !== -1) bad(S_FLOORS + 1, 'the first floor is -1');
  for (let i = 0; i < depth; i++) {
    const e = S_FLOORS + FLOOR_WORDS * i;
    const g = word(e);
    const f = word(e + 1);
    if (((gen - g) | 0) < 0) bad(e, `a generation after gen ${gen}`);
    if (f > used) bad(e + 1, `a floor above used ${used}`);
    if (word(e + 2) <= f) bad(e + 2, 'the lowest mark above the floor is not above it');
    if (word(e + 3) !== 0 && word(e + 3) !== 1) bad(e + 3, 'a pin is 0 or 1');
    if (i > 0 && (f <= word(e - FLOOR_WORDS + 1) || ((g - word(e - FLOOR_WORDS)) | 0) <= 0)) {
      bad(e, 'floors and generations rise along the stack');
    }
  }
}

function alignUp16(x: number): number {
  return Math.ceil(x / CHUNK_ALIGN) * CHUNK_ALIGN;
}
