/**
 * In-buffer layout of a BuddyAllocator's state.
 *
 * The state region starts at a byte offset `S` (8-aligned) of the state
 * Memory: the data Memory itself for a memory-backed allocator (right after
 * the 64-byte memkit header), or a small Memory of its own in offsets-only
 * mode. The header slot `HeaderSlot.Buddy` holds `S`, which is how
 * `BuddyAllocator.attach` finds it.
 *
 * ```
 *  S + 4*i        u32 words of the control block
 *  +------+------+--------+---------+-------+----------+----------+------+
 *  | lock | magic| pgSize | pgShift | pages | maxPages | maxOrder | base |  0..7
 *  +------+------+--------+---------+-------+----------+----------+------+
 *  | freePages | usedBlocks | flags | linksOff | infoOff | nonEmpty | pcpOff | pcpConf |  8..15
 *  +-----------+------------+-------+----------+---------+----------+--------+---------+
 *  | head[0] head[1] ... head[31]    first free block of each order, -1   | 16..47
 *  | count[0] ... count[31]          free blocks of each order            | 48..79
 *  +----------------------------------------------------------------------+
 *  S + linksOff   i32 links[2 * maxPages]   (next, prev) page index of the
 *                                           neighbours on the free list, -1 = none;
 *                                           for an allocated head, links[2p] holds
 *                                           its length in pages
 *  S + infoOff    u8  info[maxPages]        one byte per page (below)
 *  S + pcpOff     i32 pcp[32][16]           shared memory only (pcpOff = 0 otherwise):
 *                                           the per-worker page lists, 64 bytes a
 *                                           worker slot (a cache line of its own):
 *       word 0 head of the slot's order-0 list (page index, -1 = empty)
 *       word 1 blocks on it
 *       word 2 head of the slot's order-1 list
 *       word 3 blocks on it
 *       words 4..15 unused
 *     A listed block is linked through links[2p] (next); its head's info
 *     byte is CACHED | order.
 *
 *  pcpConf = high | batch << 16: a worker gives `batch` pages back when it
 *  holds more than `high` pages on its lists, and takes `batch` pages' worth
 *  of blocks when the list it allocates from is empty.
 *
 *  The info byte:
 *
 *     7      6      5      4   3   2   1   0
 *   +------+------+------+-------------------+
 *   |ALLOC |FREE  |FREED |       order       |
 *   +------+------+------+-------------------+
 *   ALLOC  page heads an allocated block of 2^order pages
 *   FREE   page heads a free block of 2^order pages (it is on list head[order])
 *   ALLOC|FREE  (CACHED) page heads a block of 2^order pages (order 0 or 1)
 *          on a worker's per-worker list: free, but not on the buddy's lists
 *   FREED  the page was the start of a block that the user freed; kept so a
 *          second free of it is reported as a double free, not a wild pointer
 *   0      the page is inside a block (not its first page)
 * ```
 *
 * `nonEmpty` has bit k set exactly when head[k] != -1, so the allocator finds
 * the smallest order >= k with a free block in O(1) (count trailing zeros).
 *
 * @module
 */

/** 'BUDY' as a little-endian u32. */
export const BUDDY_MAGIC = 0x59445542;

/** Number of free lists (orders 0..31). */
export const MAX_ORDERS = 32;

// u32 word indices in the control block.
export const B_LOCK = 0;
export const B_MAGIC = 1;
export const B_PAGE_SIZE = 2;
export const B_PAGE_SHIFT = 3;
export const B_PAGES = 4;
export const B_MAX_PAGES = 5;
export const B_MAX_ORDER = 6;
export const B_BASE = 7;
export const B_FREE_PAGES = 8;
export const B_USED_BLOCKS = 9;
export const B_FLAGS = 10;
export const B_LINKS_OFF = 11;
export const B_INFO_OFF = 12;
export const B_NON_EMPTY = 13;
/** Byte offset (in the state Memory) of the per-worker list table; 0 = none (not a shared memory). */
export const B_PCP_OFF = 14;
/** The per-worker lists' `high` (bits 0..15) and `batch` (bits 16..31), in pages. */
export const B_PCP_CONF = 15;
export const B_HEADS = 16;
export const B_COUNTS = B_HEADS + MAX_ORDERS;
/** Bytes of the control block. */
export const CONTROL_BYTES = (B_COUNTS + MAX_ORDERS) * 4;

/** Flag bit: the allocator has no bytes (offsets only). */
export const FLAG_OFFSETS_ONLY = 1;

// Page info byte.
export const INFO_ORDER_MASK = 0x1f;
export const INFO_FREED = 0x20;
export const INFO_FREE = 0x40;
export const INFO_ALLOC = 0x80;
/** Both kind bits: the block is on a worker's per-worker list. */
export const INFO_CACHED = 0xc0;

/**
 * One worker slot's entry in the per-worker list table (a 64-byte line):
 * ```
 *  word  0 head of the order-0 list   1 its block count
 *        2 head of the order-1 list   3 its block count
 *        4 claim (below)              5 tenure: +1 when detach or recover frees a claim still held
 *        6..15 zero
 *
 *  claim  bit 31 .. 8          7       6     5 .. 0
 *        +-----------------+-------+-----+-----------+
 *        | tenure (24 bits)| DRAIN | REQ | slot + 1  |     0 = free
 *        +-----------------+-------+-----+-----------+
 * ```
 * The owner claims its entry with one compareExchange (0 -> tenure << 8 |
 * slot + 1) at its first 1- or 2-page call of a task and releases it in a
 * microtask; a worker that runs out of memory takes the lists of a free
 * entry itself (0 -> DRAIN | its slot + 1, under the buddy lock), and sets
 * REQ on a claimed one, which its owner answers at its next call.
 */
export const PCP_WORDS = 16;
/** Word of an entry: its claim. */
export const PCP_CLAIM = 4;
/** Word of an entry: its tenure count. */
export const PCP_TENURE = 5;
/** Claim bit: a worker that ran out of memory asks the owner to give its lists back. */
export const CLAIM_REQ = 0x40;
/** Claim bit: the lists are being drained by the worker whose slot + 1 is in bits 0..5. */
export const CLAIM_DRAIN = 0x80;
/** Worker slots in the table (MAX_WORKERS of memory/lock.ts). */
export const PCP_SLOTS = 32;
/** Bytes of the per-worker list table. */
export const PCP_TABLE_BYTES = PCP_WORDS * PCP_SLOTS * 4;
/** Largest order kept on the per-worker lists. */
export const PCP_MAX_ORDER = 1;

/** Sentinel for "no page" in links and heads. */
export const NIL = -1;

/**
 * How many pages of `pageSize` bytes a buddy laid out at `stateOff` in a
 * memory of `bytes` bytes can plan for: each page takes its bytes plus 9 of
 * state (8 of links, 1 of info; the control block is in the slack).
 */
export function pagesFitting(bytes: number, pageSize: number, stateOff: number): number {
  return Math.max(0, Math.floor((bytes - stateOff) / (pageSize + 9)));
}

/** Bytes of state needed for `maxPages` pages (control block + links + info). */
export function stateBytes(maxPages: number): number {
  return CONTROL_BYTES + 8 * maxPages + ((maxPages + 7) & ~7);
}

/**
 * Byte offset of the per-worker list table of a buddy whose state starts at
 * `stateOff` (a 64-byte boundary after links and info), on a shared memory.
 */
export function pcpTableOffset(stateOff: number, maxPages: number): number {
  return Math.ceil((stateOff + stateBytes(maxPages)) / 64) * 64;
}
