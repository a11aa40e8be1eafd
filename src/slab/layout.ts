/**
 * In-buffer layouts of the slab layer (the kernel keeps these in struct page
 * and struct kmem_cache; memkit keeps them in one "slab space" region that it
 * takes from the buddy allocator when the first cache is made on it).
 *
 * Slab space region (u32 words, at byte offset R):
 * ```
 *  R +  0  +------+-------+----------+--------+-------------+
 *          | lock | magic | maxPages | caches | pageTableOff|   control (16 words)
 *          +------+-------+----------+--------+-------------+
 *  R + cacheTableOff   MAX_CACHES cache descriptors of CACHE_WORDS words
 *  R + pageTableOff    maxPages page descriptors of PAGE_WORDS words
 * ```
 *
 * Page descriptor (one per buddy page, PAGE_WORDS = 8 words, so descriptor
 * `pg` is at word `pageTable + (pg << 3)`: a shift, no multiply). The slab
 * space owns this table; every layer that marks pages in it (slab caches,
 * kmalloc's size-class pages, its TLSF chunks and large blocks) writes the
 * owner field through the names below, never a bare mask.
 * ```
 *  word 1 (INFO), every page:
 *    31            24 23            16 15                             0
 *   +----------------+----------------+--------------------------------+
 *   |  high half: meaning chosen by   |  owner                         |
 *   |  the owner (see rows below)     |                                |
 *   +----------------+----------------+--------------------------------+
 *   owner  0                        OWNER_NONE   free, metadata, or not a
 *                                                page anyone marked
 *          1 .. MAX_CACHES          a SlabCache: cache id + 1
 *          OWNER_CLASS + c          a kmalloc size-class page of class c
 *          OWNER_CLASS_DEBUG + c    the same, debug checks on (slow path)
 *          OWNER_TLSF               a page of a TLSF chunk of kmalloc
 *          OWNER_LARGE              first page of a kmalloc large block
 *
 *  SlabCache slab (owner = cache id + 1):
 *        word 0      word 1                 word 2      word 3      word 4   5..7
 *  head  freelist  | inuse << 16 | owner  | next slab | prev slab | unused | -
 *  tail  head page | TAIL_MARK << 16 | own|    -      |    -      |   -    | -
 *
 *  kmalloc size-class page (owner = OWNER_CLASS + c; mimalloc's mi_page_t):
 *        word 0      word 1                         word 2     word 3     word 4
 *  head  free      | heap << 24 | 0 << 16 | owner | next page| prev page| unused
 *  tail  -         | heap << 24 | k << 16 | owner |    -     |    -     |   -
 *        word 5        word 6                       word 7
 *  head  local_free  | FULL << 16 | used          | thread_free | TF_FULL (bit 0)
 *
 *  kmalloc large block (owner = OWNER_LARGE, on its first page only):
 *        word 0: the block's pages   word 1: OWNER_LARGE   words 2, 3: -
 *        word 4: check word, pages ^ imul(address, key | 1), which free tests
 *        (a damaged INFO or pages word must not give pages to the buddy)   words 5..7: -
 * ```
 * A class page's tail k pages after its head says k in bits 16..23, so
 * free(addr) finds the head from any page with one subtract, no branch.
 * For a kmalloc class page, `free` holds blocks given back when the page
 * stops being its class's current page: while it is current, the blocks
 * alloc pops and free pushes live on the owner's own curFree word
 * (kmalloc/layout.ts) and count as used here. `local_free` is the list free
 * pushes on otherwise (taken over as a whole when the page is current and
 * curFree runs dry: free-list sharding); `thread_free`
 * holds the frees that arrive from another worker, pushed with one
 * compareExchange and taken by the owner in one exchange (its bit 0,
 * TF_FULL, says the page is FULL and no remote free has come since: the
 * first one that clears it hands the page back to its owner); `heap` (bits
 * 24..31 of INFO, on every page of a class page) names the owning worker
 * slot, or HEAP_ABANDONED. `used` counts blocks handed out (a block on
 * thread_free counts until its owner collects it, one on curFree while the
 * page is current); FULL (bit 16 of word 6)
 * marks a page taken off its class's queue because it had no free block.
 *
 * `unused` is the address of the first slot never put on the freelist (for a
 * SlabCache 0 when every slot has been; for a kmalloc class page the end of its
 * last slot then, so that free checks `addr < unused` in one compare): a new
 * slab's freelist is built lazily, a few slots at a time (mimalloc's
 * "extend"), so making a slab costs O(1), not O(objects).
 * `freelist` is the address of the slab's first free object (0 = none); each
 * free object holds the (encoded) address of the next one at `fpOffset` in its
 * slot. A slab of 2^order pages has one head page and 2^order - 1 tail pages,
 * so free(addr) finds its slab from any page in O(1).
 *
 * Cache descriptor (kmem_cache, CACHE_WORDS words): see the C_* constants.
 * Lists: a slab is on exactly one of partial / full / empty, decided by its
 * inuse count: 0 < inuse < objsPerSlab  partial;  inuse = objsPerSlab  full;
 * inuse = 0  empty.
 *
 * @module
 */

/** 'SLAB' as a little-endian u32. */
export const SPACE_MAGIC = 0x42414c53;
/** Most caches one slab space holds. */
export const MAX_CACHES = 128;

export const S_LOCK = 0;
export const S_MAGIC = 1;
export const S_MAX_PAGES = 2;
export const S_CACHES = 3;
export const S_PAGE_TABLE = 4;
export const S_CACHE_TABLE = 5;
export const SPACE_CONTROL_WORDS = 16;

/** Words per page descriptor (a power of two: descriptor = pageTable + (pg << PAGE_SHIFT)). */
export const PAGE_WORDS = 8;
/** log2(PAGE_WORDS). */
export const PAGE_SHIFT = 3;
export const P_FREELIST = 0;
export const P_INFO = 1;
export const P_NEXT = 2;
export const P_PREV = 3;
export const P_UNUSED = 4;
/** kmalloc class page: head of the list of blocks freed since the last collect. */
export const P_LOCAL_FREE = 5;
/** kmalloc class page: blocks in use (bits 0..15) and FULL (bit 16). */
export const P_USED = 6;
/** kmalloc class page: frees from other workers (a list pushed with compareExchange; bit 0 is TF_FULL). */
export const P_THREAD_FREE = 7;
/** P_USED flag: the page is off its class's queue because it had no free block. */
export const USED_FULL = 0x10000;
/** Mask of the used count in P_USED. */
export const USED_MASK = 0xffff;

// ------------------------------------------------------- the owner field

/** Mask of the owner field in P_INFO (its low 16 bits). */
export const OWNER_MASK = 0xffff;
/** Shift of P_INFO's high half, whose meaning the owner chooses. */
export const INFO_HIGH_SHIFT = 16;
/** No owner: a free page, metadata, or a page nobody marked. */
export const OWNER_NONE = 0;
/** kmalloc size-class page of class c: OWNER_CLASS + c. */
export const OWNER_CLASS = 0x8000;
/** kmalloc size-class page of class c with debug checks: OWNER_CLASS_DEBUG + c. */
export const OWNER_CLASS_DEBUG = 0xc000;
/** Most size classes a kmalloc heap may have (owner values stay distinct). */
export const MAX_CLASSES = 0x4000 - 2;
/** Every page of a kmalloc TLSF chunk. */
export const OWNER_TLSF = 0xfffe;
/** The first page of a kmalloc large block. */
export const OWNER_LARGE = 0xffff;
/** Class pages: bits 16..23 of P_INFO hold the page's distance from its head page. */
export const HEAD_DELTA_MASK = 0xff;
/** Class pages: bits 24..31 of P_INFO hold the owning worker slot (its heap), or HEAP_ABANDONED. */
export const HEAP_SHIFT = 24;
/** Class pages: the heap byte of a page whose worker left with blocks still live in it. */
export const HEAP_ABANDONED = 0xff;
/** P_THREAD_FREE bit 0: the page is FULL and waits, off every list, for its first remote free. */
export const TF_FULL = 1;

/** The owner field of a P_INFO word. */
export function infoOwner(info: number): number {
  return info & OWNER_MASK;
}

/** The high half of a P_INFO word (its meaning depends on the owner). */
export function infoHigh(info: number): number {
  return info >>> INFO_HIGH_SHIFT;
}

/** A P_INFO word from an owner and a high half. */
export function makeInfo(owner: number, high: number): number {
  return ((high << INFO_HIGH_SHIFT) | owner) >>> 0;
}
/** Slots put on the freelist at a time when a slab's freelist runs dry. */
export const EXTEND_SLOTS = 16;
/** inuse value that marks a tail page of a multi-page slab. */
export const TAIL_MARK = 0xffff;

/** Words per cache descriptor. */
export const CACHE_WORDS = 32;
export const C_LOCK = 0;
export const C_FLAGS = 1;
export const C_SIZE = 2; // object size asked for
export const C_STRIDE = 3; // bytes per slot
export const C_OBJ_OFFSET = 4; // offset of the object in its slot (left red zone)
export const C_FP_OFFSET = 5; // offset of the free pointer in its slot
export const C_ALIGN = 6;
export const C_ORDER = 7;
export const C_OBJS = 8; // objects per slab
export const C_PARTIAL = 9; // list heads: page index, -1 = empty list
export const C_FULL = 10;
export const C_EMPTY = 11;
export const C_N_PARTIAL = 12;
export const C_N_FULL = 13;
export const C_N_EMPTY = 14;
export const C_ACTIVE = 15; // objects in use
export const C_SECRET = 16; // random value for free-pointer hardening
export const C_MIN_EMPTY = 17; // empty slabs kept by free and shrink
export const C_ALLOCS = 18;
export const C_FREES = 19;
export const C_SLABS_MADE = 20;
export const C_SLABS_FREED = 21;
export const C_NAME = 24; // name: up to 24 bytes of UTF-8, zero padded (words 24..29)
export const C_NAME_BYTES = 24;

/** Cache flags (C_FLAGS). */
export const F_POISON = 1;
export const F_RED_ZONE = 2;
export const F_HARDENED = 4;
export const F_CHECKS = 8; // consistency checks (double free by freelist walk, pointer checks)
export const F_CTOR = 16;

/** Poison byte of a free object (POISON_FREE). */
export const POISON_FREE = 0x6b;
/** Last byte of a poisoned object (POISON_END). */
export const POISON_END = 0xa5;
/** Red zone byte of an allocated object (SLUB_RED_ACTIVE). */
export const RED_ACTIVE = 0xcc;
/** Red zone byte of a free object (SLUB_RED_INACTIVE). */
export const RED_INACTIVE = 0xbb;
/** Bytes of red zone on each side of an object when red zones are on. */
export const RED_ZONE_BYTES = 8;
/**
 * Marks a free object: the word after the free pointer holds
 * `next ^ FREE_TAG ^ secret`, so free() recognizes a probably-free object in
 * O(1) and confirms it by walking the slab's freelist.
 */
export const FREE_TAG = 0x46524545;

// Per-worker active slabs (docs/workers.md). Head-page descriptor words that
// the words above leave unused for a SlabCache slab:
/** Word 5: worker slot + 1 of the worker whose active slab this is; 0 = on a list. */
export const P_OWNER = 5;
/**
 * Word 7: while the slab is active, the head of its remote-free list (objects
 * freed by other workers, pushed with one compareExchange, 0 = empty); while
 * it is on a list, SEALED, so that a free that reads it takes the cache lock.
 */
export const P_REMOTE = 7;
/** P_REMOTE of a slab on a list (never an object address: those are 8-aligned). */
export const SEALED = 1;
/** "No slab" in a cache's list head or link (the u32 view of -1). */
export const SLAB_NIL = 0xffffffff;
