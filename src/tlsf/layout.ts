/**
 * In-buffer layouts of the TLSF heap (two-level segregated fit, Masmano et
 * al. 2004): the block header inside the chunks, and the control structure
 * (bitmaps, free-list heads, chunk map, counters) in a region of its own.
 *
 * ## Size classes (the two levels)
 *
 * A block's size `s` (bytes, header included, a multiple of 8) names one
 * free list, `(fl, sl)`:
 * ```
 *   s < 256:   fl = 0,                  sl = s >> 3          (32 lists, 8 B apart)
 *   s >= 256:  fl = fls(s) - 7,         sl = the SL_BITS bits below the top bit
 *
 *   bit   31 .. fls(s)+1 | fls(s) | fls(s)-1 .. fls(s)-5 | fls(s)-6 .. 0
 *   s  =      0 ...      |   1    |        sl (5 bits)    |  ignored
 *                          '- fl -'
 * ```
 * so each power-of-two range [2^k, 2^(k+1)) is cut into SL_COUNT = 32 lists,
 * the last level of detail being 1/32 of the size (3 % at most). A list holds
 * blocks whose sizes map to it; `flMap` bit fl says "slMaps[fl] != 0", bit
 * sl of `slMaps[fl]` says "list (fl, sl) is not empty". alloc rounds the
 * request up to the next list boundary first (TLSF's mapping_search), so any
 * block on the list it finds is big enough: two `clz32`s and no list walk.
 *
 * @module
 */

// ------------------------------------------------------------------ blocks

/**
 * Block header, 8 bytes at the start of every block (H), payload at H + 8:
 * ```
 *  H + 0   +-------------------------------------------+-+-+-+
 *          |  size: bytes of the block, header included |0|P|F|   u32
 *  H + 4   +-------------------------------------------+-+-+-+
 *          |  tag = prevSize XOR (H * key)                  |   u32
 *  H + 8   +================================================+
 *          |  used: payload (size - 8 bytes)                |
 *          |  free: next free block on its list (H, 0 = none)   u32
 *  H + 12  |  free: prev free block on its list (H, 0 = none)   u32
 *          |  ...                                           |
 *  H+size  +------------------------------------------------+  next block's header
 *  F = FREE (bit 0): this block is free.
 *  P = PREV_FREE (bit 1): the block left of this one is free.
 * ```
 * prevSize (the size of the block just left of H, 0 for a chunk's first
 * block) is the boundary tag: free() finds a free left neighbour at
 * H - prevSize in O(1) and merges with it; PREV_FREE tells it whether to
 * look, so a free with a used left neighbour never reads that block.
 * The tag is stored XOR a multiple of H by a random per-heap `key`: "is addr
 * a used block's start?" is then O(1) and hard to fool by accident, since
 * the block right of a real block H carries `size(H) XOR (R * key)` at R + 4,
 * which no payload holds by chance (a constant-filled array would pass an
 * unkeyed size/prevSize check; the key is SLUB's freelist hardening idea).
 */
export const BLOCK_HEADER_BYTES = 8;
/** u32 offset of the size|flags word in a block header. */
export const BH_SIZE = 0;
/** u32 offset of the keyed prevSize tag. */
export const BH_TAG = 1;
/** u32 offset of the next-free link (free blocks only). */
export const BH_NEXT_FREE = 2;
/** u32 offset of the prev-free link (free blocks only). */
export const BH_PREV_FREE = 3;
/** Flag bit: the block is free. */
export const FREE = 1;
/** Flag bit: the block left of this one is free. */
export const PREV_FREE = 2;
/**
 * Flag bit: the block is on a quick list (see "Quick lists" below): free to
 * the caller, but used to TLSF's lists, bitmaps and merges. Never set with FREE.
 */
export const QUICK = 4;
/** The flag bits that a header may carry (QUICK aside). */
export const FLAGS = FREE | PREV_FREE;
/** Mask of the size bits of the first header word (flags in the low 3 bits). */
export const SIZE_MASK = ~7;
/** log2 of the block alignment and size granularity (8 bytes). */
export const ALIGN_SHIFT = 3;
/** Smallest block: a header and the two free-list links. */
export const MIN_BLOCK = 16;

/**
 * A chunk of C = 2^k bytes from the buddy, at address A (aligned to C
 * relative to the buddy's base, so A is found from any address inside):
 * ```
 *  A                                               A + C - 8     A + C
 *  +--------+-----------+--------+--------- ... ---+-------------+
 *  | block  |  block    | block  |                 |  sentinel   |
 *  +--------+-----------+--------+--------- ... ---+-------------+
 *  '- prevSize = 0                                  size 0, used, prevSize = last
 * ```
 * The blocks tile [A, A + C - 8) exactly; the 8-byte sentinel header at the
 * end stops merges to the right. An empty chunk is one free block of
 * C - 8 bytes (`whole`).
 *
 * Runs (TLSF's pool extension): a chunk the buddy hands out right above one
 * the heap holds is *joined* to it (its bit in the join map): the sentinel
 * below it becomes part of a free block that runs on into the new chunk, so
 * blocks may straddle the boundary and the end of the lower chunk is not
 * wasted (a 64 KiB chunk holds 14 blocks of 4,376 bytes and 4,264 bytes
 * that no such block fits; joined, the next block uses them). A run is a
 * chunk whose bit is clear and the joined chunks above it; its blocks tile
 * it up to one sentinel at its top chunk's end:
 * ```
 *  A (join bit clear)          A + C (join bit set)               A + 2C - 8
 *  +------+------ ... ---+------------+----------- ... ---+------+----------+
 *  | block|              |   block straddling A + C       | block| sentinel |
 *  +------+------ ... ---+------------+----------- ... ---+------+----------+
 * ```
 * A free that leaves a whole chunk free inside a larger free block cuts it
 * out (a sentinel at the end of the part below, the part above starts a run
 * with prevSize 0) where both remainders are empty or at least MIN_BLOCK,
 * so an empty chunk is still one free block of `whole` bytes at a chunk
 * start, kept as the spare or given back, as without runs.
 */
export const SENTINEL_BYTES = 8;
/** The largest block a TLSF heap with chunks of `chunkBytes` serves: the chunk less its sentinel and one header. */
export function maxBlockSize(chunkBytes: number): number {
  return chunkBytes - SENTINEL_BYTES - BLOCK_HEADER_BYTES;
}
/** Largest chunk: 2^30 bytes (block sizes stay below 2^30). */
export const MAX_CHUNK_SHIFT = 30;

// ----------------------------------------------------------- size classes

/** Second-level lists per power of two: 2^SL_BITS. */
export const SL_BITS = 5;
export const SL_COUNT = 1 << SL_BITS;
/** Sizes below SB_SIZE (256) live on fl 0 in linear 8-byte steps. */
export const SB_SHIFT = SL_BITS + ALIGN_SHIFT;
export const SB_SIZE = 1 << SB_SHIFT;
/** First-level lists: fl 0 (small) and one per power of two 2^8 .. 2^29. */
export const FL_COUNT = MAX_CHUNK_SHIFT - SB_SHIFT + 1;

// ------------------------------------------------------- control structure

/**
 * Control structure, u32 words at the region's byte offset R (taken from
 * the buddy with allocPagesExact):
 * ```
 *  word  0 +------+-------+-------+------------+--------+-------+------------+-----------+
 *          | lock | magic | flMap | chunkShift | chunks | spare | usedBlocks | usedBytes |
 *        8 +------+-------+-------+------------+--------+-------+------------+-----------+
 *          | base | maxChunks | chunkPages | key | qBytes | qLimit | reserved (2 words)   |
 *       16 +----------------------------------------------------------------------------+
 *          | slMaps[FL_COUNT]                       (one u32 bitmap per first level)    |
 *       40 +----------------------------------------------------------------------------+
 *          | heads[FL_COUNT * SL_COUNT]             (header address of each list's      |
 *          |                                         first block, 0 = empty)            |
 *      776 +----------------------------------------------------------------------------+
 *          | chunkMap[ceil(maxChunks / 32)]         bit i: the chunk at base + i*C is   |
 *          |                                         this heap's                        |
 *    joinAt+----------------------------------------------------------------------------+
 *          | joinMap[ceil(maxChunks / 32)]          bit i: chunk i is joined to chunk   |
 *          |                                         i - 1 (both held; no sentinel      |
 *          |                                         between them: "Runs" above)        |
 *   quickAt+----------------------------------------------------------------------------+
 *          | quick[Q_LISTS] = { head, count }       quick list of each list index       |
 *          +----------------------------------------------------------------------------+
 * ```
 * `spare` is the header address of the one wholly free chunk kept for
 * reuse (0 = none); `usedBytes` counts used blocks' sizes, headers included.
 * `lock` is the heap's lock word on a shared memory (src/memory/lock.ts): the
 * public methods of a TlsfHeap take it. A TlsfHeap under a Kmalloc takes
 * Kmalloc's heap lock instead (this word stays 0 there).
 */
export const TLSF_MAGIC = 0x33534c54; // 'TLS3' little-endian: layout version 3 (quick lists, runs)
/** The magic of layout version 1 (no quick lists), which attach refuses by name. */
export const TLSF_MAGIC_V1 = 0x46534c54; // 'TLSF'
/** The magic of layout version 2 (no join map), which attach refuses by name. */
export const TLSF_MAGIC_V2 = 0x32534c54; // 'TLS2'
export const T_LOCK = 0;
export const T_MAGIC = 1;
export const T_FL_MAP = 2;
export const T_CHUNK_SHIFT = 3;
export const T_CHUNKS = 4;
export const T_SPARE = 5;
export const T_USED_BLOCKS = 6;
export const T_USED_BYTES = 7;
export const T_BASE = 8;
export const T_MAX_CHUNKS = 9;
export const T_CHUNK_PAGES = 10;
export const T_KEY = 11;
/** Bytes of the blocks on the quick lists, headers included. */
export const T_Q_BYTES = 12;
/** The bound on T_Q_BYTES ({@link quickLimit} of the chunk size). */
export const T_Q_LIMIT = 13;
/** Word index of slMaps[0]. */
export const T_SL_MAPS = 16;
/** Word index of heads[0]; list (fl, sl) is heads[(fl << SL_BITS) + sl]. */
export const T_HEADS = T_SL_MAPS + 24;
/** Word index of the chunk map. */
export const T_CHUNK_MAP = T_HEADS + FL_COUNT * SL_COUNT;

// ------------------------------------------------------------ quick lists

/**
 * Quick lists (glibc's tcache, dlmalloc's fastbins, in the buffer): free
 * keeps a small block whole on a LIFO list of its size class instead of
 * merging it, and alloc pops it, with no bitmap, boundary-tag or neighbour
 * work. A quick-listed block keeps its header with QUICK set (FREE clear: to
 * TLSF's merges and lists it is a used block), its next link at H + 8.
 *
 * The lists are indexed as TLSF's own lists, `(fl << SL_BITS) + sl`, for the
 * first Q_FL first levels (blocks below Q_MAX = 1 KiB). free keys a block by
 * its floor class (mapping_insert, the list a free block of its size is on),
 * alloc a request by its ceiling class (mapping_search, the rounding of
 * TLSF's good fit), so every block on quick list i is at least the lower
 * bound of class i, which is at least every request rounding to i. Below
 * 256 B both are the size itself: the block fits exactly.
 *
 * Bounds: Q_DEPTH blocks per list and `qLimit` bytes in all. Before the heap
 * takes a new chunk from the buddy it puts every quick block back into TLSF
 * proper (merging it) and tries again, and shrink does so first, so the heap
 * never grows while a cached block could have served it.
 */
export const Q_FL = 3;
/** Quick lists: the TLSF lists of the first Q_FL first levels. */
export const Q_LISTS = Q_FL * SL_COUNT;
/** Blocks of this size and above are never quick-listed. */
export const Q_MAX = 1 << (SB_SHIFT + Q_FL - 1);
/** Blocks per quick list at most. */
export const Q_DEPTH = 8;
/** u32 words per quick list in the table: head, count. */
export const Q_WORDS = 2;

/** Bytes the quick lists may hold in all, for chunks of `chunkBytes`: a quarter chunk, at most 32 KiB. */
export function quickLimit(chunkBytes: number): number {
  return Math.min(chunkBytes >>> 2, 1 << 15);
}

/** Bit i of the bitmap at u32 index `at` (the chunk map, the join map). */
export function bitAt(u32: Uint32Array, at: number, i: number): boolean {
  return (u32[at + (i >>> 5)]! & (1 << (i & 31))) !== 0;
}

/** Sets (`on`) or clears bit i of the bitmap at u32 index `at`. */
export function setBit(u32: Uint32Array, at: number, i: number, on: boolean): void {
  const w = at + (i >>> 5);
  u32[w] = on ? u32[w]! | (1 << (i & 31)) : u32[w]! & ~(1 << (i & 31));
}

/** Word index (from the control structure's start) of the join map. */
export function joinAt(maxChunks: number): number {
  return T_CHUNK_MAP + ((maxChunks + 31) >>> 5);
}

/**
 * Whether a block of `size` bytes whose header is at offset `rel` of chunk
 * `slot` (-8: in the last 8 bytes of the chunk below) but that does not lie
 * inside that chunk is one run's block: the chunks it spans are joined (the
 * join map at u32 index `j`, of a heap with `maxChunks` chunk slots of
 * `chunkBytes`). For the O(1) address checks: the heap's own, and Kmalloc's
 * of other workers' frees.
 */
export function crossesJoined(
  u32: Uint32Array,
  j: number,
  maxChunks: number,
  chunkBytes: number,
  slot: number,
  rel: number,
  size: number,
): boolean {
  const whole = chunkBytes - SENTINEL_BYTES;
  if (rel < 0) return rel === -SENTINEL_BYTES && bitAt(u32, j, slot) && size + rel <= whole;
  return rel + size <= whole + chunkBytes && slot + 1 < maxChunks && bitAt(u32, j, slot + 1);
}

/** Word index (from the control structure's start) of the quick-list table. */
export function quickAt(maxChunks: number): number {
  return joinAt(maxChunks) + ((maxChunks + 31) >>> 5);
}

/** Bytes of a control structure whose chunk map has `maxChunks` bits. */
export function controlBytes(maxChunks: number): number {
  return (quickAt(maxChunks) + Q_LISTS * Q_WORDS) * 4;
}
