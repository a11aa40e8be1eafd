/**
 * In-buffer layout of an {@link Arena}: its state region and its chunk
 * headers. Everything the arena knows lives here, in the buffer (principle 1),
 * so a second instance made by `Arena.attach` sees the same arena.
 *
 * A memory-backed arena (`new Arena({ bytes })`) lays out its own Memory:
 * ```
 *  address 0        64            128         144            144+bytes
 *          +--------+-------------+-----------+--------------+--//--+-----------+-----
 *          | memkit | arena state | chunk 0   | chunk 0 data | pad  | chunk 1   | ...
 *          | header | (16 words)  | header    | (bytes)      | to 16| header    |
 *          +--------+-------------+-----------+--------------+--//--+-----------+-----
 *            slot Arena = 64 ----^                                    only with maxBytes:
 *                                                                     grown on demand
 * ```
 * An arena over a buddy allocator keeps its state at the start of its first
 * chunk (a buddy block), so the first chunk is never given back before
 * `dispose()`:
 * ```
 *  first block:  | arena state (64) | chunk header (16) | data ...          |
 *  later blocks: | chunk header (16) | data ...                             |
 * ```
 *
 * @module
 */

/** 'ARNA' read as a little-endian u32: marks a live arena state region. */
export const ARENA_MAGIC = 0x414e5241;

/**
 * The state region: 16 little-endian 32-bit words (64 bytes), 8-byte
 * aligned; every value is below 2^31 (see {@link ADDRESS_LIMIT}).
 * ```
 *  word  0        1        2        3        4        5        6        7
 *       +--------+--------+--------+--------+--------+--------+--------+--------+
 *       | magic  | lock   | mode   | top    | end    | cur    | first  | limit  |
 *       +--------+--------+--------+--------+--------+--------+--------+--------+
 *  word  8        9        10       11       12       13       14       15
 *       +--------+--------+--------+--------+--------+--------+--------+--------+
 *       | chunks |capacity| max    | grow   | epoch  |pageSize| (reserved, 0)   |
 *       +--------+--------+--------+--------+--------+--------+--------+--------+
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
 * - `epoch`: resets so far, modulo 2^21; part of every mark, so a mark from
 *   before a reset is recognised as stale.
 * - `lock`: reserved for the issue that makes allocators worker-safe.
 */
export const STATE_WORDS = 16;
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
export const S_EPOCH = 12;
export const S_PAGE_SIZE = 13;

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

/** Epochs wrap at this count (a mark is `epoch * 2^32 + address`). */
export const EPOCH_LIMIT = 2 ** 21;
/** 2^32: the multiplier of the epoch inside a mark. */
export const MARK_EPOCH_UNIT = 2 ** 32;
