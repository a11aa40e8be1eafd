/**
 * In-buffer layout of an {@link Arena}: its state region and its chunk
 * headers. Everything the arena knows lives here, in the buffer (principle 1),
 * so a second instance made by `Arena.attach` sees the same arena.
 *
 * A memory-backed arena (`new Arena({ bytes })`) lays out its own Memory:
 * ```
 *  address 0        64            256         272            272+bytes
 *          +--------+-------------+-----------+--------------+--//--+-----------+-----
 *          | memkit | arena state | chunk 0   | chunk 0 data | pad  | chunk 1   | ...
 *          | header | (48 words)  | header    | (bytes)      | to 16| header    |
 *          +--------+-------------+-----------+--------------+--//--+-----------+-----
 *            slot Arena = 64 ----^                                    only with maxBytes:
 *                                                                     grown on demand
 * ```
 * An arena over a buddy allocator keeps its state at the start of its first
 * chunk (a buddy block), so the first chunk is never given back before
 * `dispose()`:
 * ```
 *  first block:  | arena state (192) | chunk header (16) | data ...         |
 *  later blocks: | chunk header (16) | data ...                             |
 * ```
 *
 * @module
 */

/** 'ARNA' read as a little-endian u32: marks a live arena state region. */
export const ARENA_MAGIC = 0x414e5241;

/**
 * The state region: 48 little-endian 32-bit words (192 bytes), 8-byte
 * aligned; every value is below 2^31 (see {@link ADDRESS_LIMIT}).
 * ```
 *  word  0        1        2        3        4        5        6        7
 *       +--------+--------+--------+--------+--------+--------+--------+--------+
 *       | magic  | lock   | mode   | top    | end    | cur    | first  | limit  |
 *       +--------+--------+--------+--------+--------+--------+--------+--------+
 *  word  8        9        10       11       12       13       14       15
 *       +--------+--------+--------+--------+--------+--------+--------+--------+
 *       | chunks |capacity| max    | grow   | gen    |pageSize| hiMark | depth  |
 *       +--------+--------+--------+--------+--------+--------+--------+--------+
 *  word  16       17       18       19       20          ...      44       45       46       47
 *       +--------+--------+--------+--------+--------+--//--+--------+--------+--------+--------+
 *       | gen 0  | floor 0| lo 0   | pin 0  | gen 1  |      | gen 7  | floor 7| lo 7   | pin 7  |
 *       +--------+--------+--------+--------+--------+--//--+--------+--------+--------+--------+
 *        the floor stack: `depth` entries (1..8) in use, floors rising
 * ```
 * - `top`: next free byte in the current chunk; `end`: one past its last
 *   byte. The hot path reads both and writes `top`, nothing else.
 *   Invariant: `cur + CHUNK_HEADER_BYTES <= top <= end`.
 * - `cur`: header address of the current chunk; `first`: of the first one.
 * - `limit`: memory mode: one past the last chunk ever made (chunks after
 *   `cur`, up to `limit`, are spares kept for reuse). 0 otherwise.
 * - `chunks`, `capacity`: chunks held and their usable bytes in total.
 * - `max`: cap on `capacity` (`maxBytes`); 0x7fffffff = no cap.
 * - `grow`: memory mode: least usable bytes of a new chunk; buddy mode:
 *   pages of a new chunk.
 * - `lock`: a shared arena's lock word (0 free, else the holder's worker slot + 1),
 *   taken to chain or reuse a chunk and by mark, rewind, reset and the reports.
 *
 * Marks and generations. A mark is `(gen mod 2^21) * 2^32 + top`. Offsets
 * below are bytes from the first data byte along the chunk chain (what
 * `used` counts), so they rise with allocation order in every mode.
 * - `gen`: the generation (int32, wrapping); a mark carries the one it was
 *   taken in. A rewind that releases the offset of a mark of the current
 *   generation starts a new one; `reset()` starts a new one too.
 * - `hiMark`: the highest offset of a mark taken in the current generation
 *   (-1: none), so a rewind that releases no current-generation mark needs
 *   no new generation.
 * - the floor stack: entry i = (gen_i, floor_i, lo_i, pin_i): every offset
 *   above floor_i was (re)allocated in generation gen_i or later; lo_i is
 *   the lowest offset above floor_i of a mark taken while entry i was on top
 *   (0x7fffffff: none), pin_i is 1 if one was taken right at floor_i. A mark
 *   (g, offset) is valid iff g >= the gen of the last entry whose floor is
 *   below offset; entry 0 is (the generation of the last reset, -1, ...). A
 *   rewind to offset f pops the entries with floor >= f and pushes (gen, f).
 *   When all eight are in use, two neighbours i, i+1 (never entry 0) merge
 *   into (gen_{i+1}, floor_i, min(lo_{i+1}, floor_{i+1} if pin_{i+1}), pin_i):
 *   that refuses the marks of entry i between floor_i and floor_{i+1}, and
 *   never accepts a stale one. The newest pair with lo_i >= floor_{i+1} is
 *   merged (its only marks there sit at floor_{i+1}: the mark that rewind
 *   went to, in a run()/scope already used), else the newest pair.
 */
export const STATE_WORDS = 48;
/** Bytes of the state region. */
export const STATE_BYTES = STATE_WORDS * 4;

/** Word indices into the state region. */
export const S_MAGIC = 0;
export const S_LOCK = 1;
export const S_MODE = 2;
export const S_TOP = 3;
export const S_END = 4;
export const S_CUR = 5;
export const S_FIRST = 6;
export const S_LIMIT = 7;
export const S_CHUNKS = 8;
export const S_CAPACITY = 9;
export const S_MAX = 10;
export const S_GROW = 11;
export const S_GEN = 12;
export const S_PAGE_SIZE = 13;
export const S_HI_MARK = 14;
export const S_DEPTH = 15;
export const S_FLOORS = 16;
/** Words per floor-stack entry (gen, floor, lo, pin). */
export const FLOOR_WORDS = 4;
/** Entries in the floor stack. */
export const FLOOR_PAIRS = 8;
/** `lo` of an entry with no mark above its floor. */
export const NO_MARK = 0x7fffffff;

/** `mode` word values. */
export const MODE_FIXED = 0;
export const MODE_MEMORY = 1;
export const MODE_BUDDY = 2;

/**
 * Every address and counter an arena keeps is below 2^31, so the fast path
 * can read the state through an `Int32Array` and stay in int32 arithmetic
 * (a `Uint32Array` measured about 10% slower). An arena's chunks therefore
 * lie in the first 2 GiB of its Memory.
 */
export const ADDRESS_LIMIT = 2 ** 31 - 1;

/** `max` word value meaning "no cap". */
export const NO_CAP = ADDRESS_LIMIT;

/**
 * A chunk header: 4 u32 words at the (16-aligned) start of every chunk.
 * ```
 *  byte  0        4        8        12       16
 *       +--------+--------+--------+--------+------------------------//--+
 *       | prev   | end    | used0  | waste0 | data: allocations ...      |
 *       +--------+--------+--------+--------+------------------------//--+
 *                    |                                                  ^
 *                    +--------------------------------------------------+
 * ```
 * - `prev`: header address of the chunk before it in the chain (0 = first).
 * - `end`: one past the chunk's last usable byte.
 * - `used0`, `waste0`: the arena's `used` and `waste` when this chunk became
 *   current, so `used = used0 + top - data` and a rewind into an earlier
 *   chunk restores both counters without a walk.
 *
 * The chain, newest first, is what `rewind` walks:
 * ```
 *   state.cur --> [chunk 2] --prev--> [chunk 1] --prev--> [chunk 0] --prev--> 0
 * ```
 */
export const CHUNK_HEADER_BYTES = 16;
/** Word offsets inside a chunk header. */
export const C_PREV = 0;
export const C_END = 1;
export const C_USED0 = 2;
export const C_WASTE0 = 3;

/** Chunk headers start on this boundary; data starts 16 bytes later. */
export const CHUNK_ALIGN = 16;

/** Largest alignment `alloc` accepts. */
export const MAX_ALIGN = 2 ** 30;

/** A mark carries its generation modulo this (a mark is `(gen mod 2^21) * 2^32 + address`). */
export const EPOCH_LIMIT = 2 ** 21;
/** 2^32: the multiplier of the generation inside a mark. */
export const MARK_EPOCH_UNIT = 2 ** 32;
