/**
 * In-buffer layouts of the garbage-collected heap (principle 1: the
 * collector's state lives in the buffer, in typed views, not in JS objects).
 *
 * Every block below comes from the heap's backend allocator (kmalloc), so
 * the GC state sits in the same Memory as the objects it manages.
 *
 * ## Where objects live
 * Small objects (<= MAX_SMALL bytes, no finalizer) live in GC blocks: the
 * collector's own slabs, BLOCK_BYTES each, taken from kmalloc (whose large
 * blocks are buddy pages) and given back when a sweep leaves them empty.
 * A block holds slots of one size class. Large objects and objects with a
 * finalizer are single kmalloc blocks on a linked list.
 *
 * Two bitmaps with one bit per 8 bytes of the whole Memory (bit = address/8)
 * say where objects are, so the sweep never asks the allocator to enumerate
 * anything and frees 32 slots with one word operation:
 * ```
 *   START  bit set <=> an object starts here (allocated, not yet swept)
 *   MARK   bit set <=> reached in this cycle, or allocated since the cycle
 *          began (allocation is black); cleared when a cycle starts
 *   sweep of a block, word by word:  START &= MARK
 *   live(obj)  <=> START(obj) and (phase != SWEEP or MARK(obj))
 * ```
 *
 * ## Object header (8 bytes, 8-aligned)
 * ```
 *  byte 0                                   4                 8
 *       +-----------------------------------+-----------------+-----------
 *       | info                              | length / 0      | fields ...
 *       +-----------------------------------+-----------------+-----------
 *   info:  31        24 23            16 15                  0
 *          +-----------+----------------+---------------------+
 *          |  0xA7     |  scan code     |  type id            |
 *          +-----------+----------------+---------------------+
 *   scan code: how marking finds the strong refs without the type table:
 *          0..250  the first `code` words after the header are the refs
 *                  (object types put their ref fields first)
 *          0xFE    a ref array: `length` words after the header
 *          0xFF    ask the type table (types with weak fields, > 250 refs)
 *   length: element count of an array object (elements start at byte 8)
 * ```
 * A large (or finalizable) object has an 8-byte pre-header in front of it,
 * in the same kmalloc block: `| next large block | 0 | object ... |`.
 *
 * ## GC block (BLOCK_BYTES, 256-byte aligned so bitmap words never straddle)
 * ```
 *   0 MAGIC 'GCBK'  1 CLASS  2 SLOT (bytes)  3 NSLOTS  4 NEXT (block list)
 *   5 AVAIL (next block of the class with free slots)  6 LIVE (slots live
 *   after the last sweep)  7 RAW (address kmalloc returned)
 *   slot i at block + BLOCK_HEADER + i * SLOT
 * ```
 *
 * ## State block (u32 word index from the state address)
 * ```
 *   0 MAGIC 'MKGC'   1 VERSION   2 PHASE (0 idle, 1 mark, 2 sweep)
 *   3 OWNER (writer token: 0 none; see ManagedHeap.attach)
 *   4 BLOCKS (list of GC blocks not being swept)
 *   5 BSWEEP (next block to sweep; the list is detached when sweep begins)
 *   6 FINQ (finalization queue, chained through pre-headers)
 *   7 FLAGS (bit 0 incremental, bit 1 mark stack overflowed, bit 2 weak overflow)
 *   8 MSTACK  9 MCAP 10 MTOP        mark stack: block, capacity, top
 *  11 ROOTS  12 RCAP 13 RFREE       root table (handles, globals): block, slots, free list
 *                                   (RFREE and RSEQ: written when the heap is laid out and by
 *                                   detach(); while a writer is attached its JS fields are the
 *                                   exact ones: HeapState.rfree)
 *  14 SSTACK 15 SCAP 16 STOP        shadow stack (pushRoot/popRoot)
 *  17 TYPES  18 TCAP 19 TCOUNT      type table
 *  20 REFOFFS 21 ROCAP 22 ROCOUNT   ref-field word offsets of all types
 *  23 START  24 BMWORDS 25 MARK     the two bitmaps, BMWORDS words each
 *  26 WSTACK 27 WCAP 28 WTOP        objects holding weak fields (this cycle)
 *  29 PAUSES 30 PCAP 31 PCOUNT      ring of the last PCAP pause times (f64 ms)
 *  32 LARGE  33 LSWEEP              large-object list, its unswept part
 *  34 CLASSES                       size-class table (CLASS_WORDS per class)
 *  35 EMPTY  36 NEMPTY              pool of empty GC blocks
 *  37 38 39                        0 (version 4 and before: a handle stack for scoped roots)
 *  40 RSEQ                          generation counter of roots (never 0)
 *  41 CLEARED                      MARK words cleared so far while idle, before an
 *                                   incremental cycle starts (0 when none)
 *  42 GLOBALS                       names of the global roots: a block
 *                                   `| byte length | UTF-8 JSON {name: slot} |`
 *  then f64 counters (f64 index from state/8): see F_* below.
 * ```
 * Growable tables (mark stack, roots, shadow stack, types, bitmaps, weak
 * stack) are blocks replaced by a twice-as-large block when full.
 *
 * @module
 */
import { classSizes, classTable } from '../kmalloc/classes.js';

/** Bytes of an object header. */
export const OBJ_HEADER = 8;
/** Bytes of an array header (elements start right after it). */
export const ARR_HEADER = 8;
/** Word offset of `info` within a header. */
export const H_INFO = 0;
/** Word offset of an array's length. */
export const H_LEN = 1;
/** Bytes of the pre-header of a large object. */
export const LARGE_PRE = 8;

/** Top byte of every info word. */
export const INFO_MAGIC = 0xa7 << 24;
/** Mask of the type id. */
export const TYPE_MASK = 0xffff;
/** Shift of the scan code in the info word, and its special values. */
export const SCAN_SHIFT = 16;
export const SCAN_MAX_DIRECT = 250;
export const SCAN_ARRAY = 0xfe;
export const SCAN_TABLE = 0xff;

/** Collector phases (state word PHASE). */
export const PHASE_IDLE = 0;
export const PHASE_MARK = 1;
export const PHASE_SWEEP = 2;

/** 'MKGC' as a little-endian u32. */
export const STATE_MAGIC = 0x43474b4d;
/**
 * The buffer format's version: `attach` refuses any other. 4 since 5 Dec: a
 * pooled empty block carries EMPTY_MAGIC (it had 0), which the pool's walkers
 * check, so a version-3 buffer with pooled blocks would be read as damaged.
 * 5 since 5 Dec, later: roots made inside a scope are root-table slots with
 * their scope's depth (R_DEPTH), not handle-stack entries (words 37-39).
 */
export const STATE_VERSION = 5;

// State words.
export const S_MAGIC = 0;
export const S_VERSION = 1;
export const S_PHASE = 2;
export const S_BLOCKS = 4;
export const S_BSWEEP = 5;
export const S_FINQ = 6;
export const S_FLAGS = 7;
export const S_MSTACK = 8;
export const S_MCAP = 9;
export const S_MTOP = 10;
export const S_ROOTS = 11;
export const S_RCAP = 12;
export const S_RFREE = 13;
export const S_SSTACK = 14;
export const S_SCAP = 15;
export const S_STOP = 16;
export const S_TYPES = 17;
export const S_TCAP = 18;
export const S_TCOUNT = 19;
export const S_REFOFFS = 20;
export const S_ROCAP = 21;
export const S_ROCOUNT = 22;
export const S_START = 23;
export const S_BMWORDS = 24;
export const S_MARK = 25;
export const S_WSTACK = 26;
export const S_WCAP = 27;
export const S_WTOP = 28;
export const S_PAUSES = 29;
export const S_PCAP = 30;
export const S_PCOUNT = 31;
export const S_LARGE = 32;
export const S_LSWEEP = 33;
export const S_CLASSES = 34;
export const S_EMPTY = 35;
export const S_NEMPTY = 36;
export const S_OWNER = 3;
export const S_RSEQ = 40;
export const S_CLEARED = 41;
export const S_GLOBALS = 42;
/** Pause times kept in the PAUSES ring. */
export const PAUSE_RING = 1024;
/** FLAGS bits. */
export const FLAG_INCREMENTAL = 1;
export const FLAG_OVERFLOW = 2;
export const FLAG_WEAK_OVERFLOW = 4;

/**
 * f64 counters, as an f64 index relative to (state address / 8).
 * ```
 *  24 ALLOCATED   bytes allocated up to the last credit refill
 *  25 FREED       bytes freed by sweeps
 *  26 OVERFLOWS   times the mark stack could not grow (marking rescanned)
 *  27 OBJ_FREED   objects freed
 *  28 LIVE        live bytes after the last complete cycle
 *  29 LIVE_OBJS   live objects after the last complete cycle
 *  30 CREDIT      bytes that may still be allocated before the collector runs
 *  31 THRESHOLD   allocation between cycles (scales with live bytes)
 *  32 CYCLES      completed collection cycles
 *  33 PAUSE_MAX   longest pause, ms
 *  34 PAUSE_SUM   sum of pauses, ms
 *  35 SWEPT_LIVE  bytes found live by the running sweep
 *  36 SWEPT_OBJS  objects found live by the running sweep
 *  37 ISSUED      credit handed out at the last refill
 * ```
 */
export const F_ALLOCATED = 24;
export const F_FREED = 25;
export const F_OVERFLOWS = 26;
export const F_OBJ_FREED = 27;
export const F_LIVE = 28;
export const F_LIVE_OBJS = 29;
export const F_CREDIT = 30;
export const F_THRESHOLD = 31;
export const F_CYCLES = 32;
export const F_PAUSE_MAX = 33;
export const F_PAUSE_SUM = 34;
export const F_SWEPT_LIVE = 35;
export const F_SWEPT_OBJS = 36;
export const F_ISSUED = 37;
/** Bytes of the state block. */
export const STATE_BYTES = 38 * 8;

/** Bytes of a GC block, and of its header. */
export const BLOCK_BYTES = 16384;
export const BLOCK_HEADER = 64;
/** 'GCBK' as a little-endian u32. */
export const BLOCK_MAGIC = 0x4b424347;
/** 'GCEB': the B_MAGIC of an empty block in the pool (S_EMPTY), not in use. */
export const EMPTY_MAGIC = 0x42454347;
export const B_MAGIC = 0;
export const B_CLASS = 1;
export const B_SLOT = 2;
export const B_NSLOTS = 3;
export const B_NEXT = 4;
export const B_AVAIL = 5;
export const B_LIVE = 6;
export const B_RAW = 7;

/**
 * Size classes of GC blocks (slot bytes), and the size-class table in the
 * buffer, CLASS_WORDS per class:
 * ```
 *  0 CURSOR  next slot of the current run (0 = no current block)
 *  1 LIMIT   end of the current run: the free slots [CURSOR, LIMIT) were
 *            zeroed (and, during a cycle, marked) when the run began, so
 *            allocation there is a bump of CURSOR plus a START bit
 *  2 AVAIL   blocks of this class with free slots (swept since)
 *  3 BLOCK   the current block
 * ```
 */
export const CLASS_SIZES: readonly number[] = classSizes(4, 1024);
/** Largest object kept in GC blocks. */
export const MAX_SMALL = 1024;
export const CLASS_WORDS = 4;
export const C_CURSOR = 0;
export const C_LIMIT = 1;
export const C_AVAIL = 2;
export const C_BLOCK = 3;
/**
 * Size class of an object of `size` bytes (a multiple of 8, <= MAX_SMALL):
 * CLASS_OF[size >> 3]. The same table kmalloc uses (four classes per
 * doubling, `kmalloc/classes.ts`), so GC slots and kmalloc slabs agree.
 */
export const CLASS_OF: Uint8Array = classTable(CLASS_SIZES);

/**
 * Type table entry, TYPE_WORDS u32 words per type id:
 * ```
 *  0 KIND     0 object, 1 ref array, 2 i32 array, 3 f64 array, 4 u8 array
 *  1 SIZE     object: bytes including the header; array: element bytes
 *  2 NREFS    strong ref fields (objects)
 *  3 REFS     index of the first word offset in the REFOFFS table
 *  4 NWEAK    weak ref fields
 *  5 WEAKS    index of the first weak word offset in REFOFFS
 *  6 FLAGS    bit 0: has a finalizer
 *  7 DESC     address of the type's descriptor (see T_DESC)
 * ```
 */
export const TYPE_WORDS = 8;
export const T_KIND = 0;
export const T_SIZE = 1;
export const T_NREFS = 2;
export const T_REFS = 3;
export const T_NWEAK = 4;
export const T_WEAKS = 5;
export const T_FLAGS = 6;
export const TFLAG_FINALIZER = 1;

export const KIND_OBJECT = 0;
export const KIND_REF_ARRAY = 1;
export const KIND_I32_ARRAY = 2;
export const KIND_F64_ARRAY = 3;
export const KIND_U8_ARRAY = 4;

/**
 * Root table slot (handles and named globals), ROOT_WORDS u32 words:
 * ```
 *  0 ADDR   the rooted object (0 = null); meaningless when the slot is free
 *           (Root.release leaves it: read GEN first)
 *  1 NEXT   free slot: index + 1 of the next free slot (0 = end)
 *  2 GEN    0 when free; else the root's generation (from RSEQ), so a
 *           handle whose slot was released and reused is inert
 *  3 DEPTH  the depth of the scope whose end releases it (0: none, an
 *           unscoped root or a global)
 * ```
 * A root made inside a scope takes a slot as any other, with its scope's
 * depth: the scope's end releases the slots of its depth that are still in
 * use. So `root()` and `release()` have one path for both.
 */
export const ROOT_WORDS = 4;
export const R_ADDR = 0;
export const R_NEXT = 1;
export const R_GEN = 2;
export const R_DEPTH = 3;
/**
 * Not in the buffer: the mask of the writer's ring of the last roots' slots
 * by generation (HeapState.gslots, GEN_MASK + 1 entries), which a scope's
 * end reads; here so that the hot path's const-enum copy is checked too.
 */
export const GEN_MASK = 4095;

/**
 * Type descriptor (for attach): T_DESC of a type entry points to a kmalloc
 * block `| byte length u32 | UTF-8 JSON |` with the type's name, kind and
 * fields, so another worker can rebuild its accessors by name.
 */
export const T_DESC = 7;
