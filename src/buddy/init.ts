/**
 * How a buddy allocator is made and opened: its options ({@link BuddyOptions}),
 * the counters it reports, and {@link BuddyInit}, the one record its
 * constructor takes, computed from the options (a fresh state laid out and
 * its control block written) or read back from a Memory and checked word by
 * word (the shallow half of the attach fsck).
 *
 * @module
 */
import {
  HeapCorruptionError,
  InvalidArgumentError,
  argumentError,
  checkInteger,
  checkOptions,
  hex,
} from '../errors/index.js';
import {
  HEADER_BYTES,
  H_SLOTS,
  HeaderSlot,
  checkHeader,
  ensureHeader,
  hasHeader,
  readSlot,
  writeSlot,
} from '../memory/header.js';
import { MAX_MEMORY_BYTES, Memory } from '../memory/memory.js';
import { alignUp } from './core.js';
import {
  BUDDY_MAGIC,
  B_BASE,
  B_COUNTS,
  B_FLAGS,
  B_FREE_PAGES,
  B_HEADS,
  B_INFO_OFF,
  B_LINKS_OFF,
  B_MAGIC,
  B_MAX_ORDER,
  B_MAX_PAGES,
  B_NON_EMPTY,
  B_PAGES,
  B_PAGE_SHIFT,
  B_PAGE_SIZE,
  B_PCP_OFF,
  B_USED_BLOCKS,
  CONTROL_BYTES,
  FLAG_OFFSETS_ONLY,
  MAX_ORDERS,
  NIL,
  PCP_TABLE_BYTES,
  pagesFitting,
  pcpTableOffset,
  stateBytes,
} from './layout.js';
import { checkPcpWords, formatPcpTable, resolvePcp } from './pcp.js';

/** Options of {@link BuddyAllocator}. Every one is optional: `new BuddyAllocator()` is 256 pages of 4 KiB (1 MiB). */
export interface BuddyOptions {
  /** Pages managed now (default 256, or, with `memory`, all that fit). */
  pages?: number;
  /** Bytes per page, a power of two in [1, 2^30] (default 4096). */
  pageSize?: number;
  /** Lay the allocator out in this Memory (after its header) instead of a new one. */
  memory?: Memory;
  /** No bytes at all: hand out offsets into a buffer that lives elsewhere (a GPU buffer). */
  offsetsOnly?: boolean;
  /** Offset of page 0 in offsets-only mode (default 0); `base + maxPages * pageSize` must be at most 2^32. */
  base?: number;
  /** Largest block order (default: the largest that fits `maxPages`; at most 31). */
  maxOrder?: number;
  /** Pages `grow()` may reach (default `pages`, or what the Memory's maxByteLength allows). */
  maxPages?: number;
  /**
   * The per-worker page lists (the kernel's per-CPU page lists), made on a
   * shared `memory` only (ignored otherwise): each attached worker keeps
   * order-0 and order-1 blocks on lists of its own, taken and given back
   * without the buddy lock. `high`: pages a worker may keep before it gives
   * `batch` back; `batch`: pages' worth of blocks it takes from the buddy
   * when its list is empty (`1 <= batch <= high <= 65535`). Default: `high`
   * = maxPages / 64 (at least 1, at most 1024), `batch` = high / 4 (at least 1,
   * at most 63). `false`: no lists, every call takes the buddy lock.
   */
  pcp?:
    | {
        /** Pages a worker may hold on its lists before it gives some back (1 to 65535). */
        high?: number;
        /** Pages' worth of blocks a worker takes when its list is empty, and gives back past `high` (1 to `high`). */
        batch?: number;
      }
    | false;
}

/** The option names {@link BuddyAllocator} knows; any other is an error. */
const BUDDY_OPTIONS = ['pages', 'pageSize', 'memory', 'offsetsOnly', 'base', 'maxOrder', 'maxPages', 'pcp'] as const;

/** Pages of `new BuddyAllocator()` with no `pages` option. */
const DEFAULT_PAGES = 256;

/** Largest page count (page indices are int32 in the links table). */
export const MAX_PAGE_COUNT = 2 ** 31 - 1;

/** A snapshot of the allocator's counters. */
export interface BuddyStats {
  /** Pages managed. */
  pages: number;
  /** Bytes per page. */
  pageSize: number;
  /** Pages in free blocks: on the buddy's free lists or on a worker's per-worker list. */
  freePages: number;
  /** Of `freePages`, those on the workers' per-worker lists (not on the buddy's lists: `freeCounts()` leaves them out). */
  cachedPages: number;
  /** Pages in allocated blocks. */
  usedPages: number;
  /** Allocated blocks (blocks on per-worker lists not counted). */
  usedBlocks: number;
  /** Free blocks (all orders). */
  freeBlocks: number;
  /** Order of the largest free block, -1 if none. */
  largestFreeOrder: number;
  /** Largest order. */
  maxOrder: number;
}

/** One block of the memory map, as {@link BuddyAllocator.forEachBlock} reports it. */
export type BlockVisitor = (addr: number, pages: number, free: boolean, order: number) => void;

/**
 * Where a buddy allocator's state is and what its control block says: the
 * one record the allocator's constructor takes. `new BuddyAllocator(options)`
 * computes it by laying out a fresh state ({@link BuddyInit.create});
 * `BuddyAllocator.attach(memory)` by reading and checking an existing one
 * ({@link BuddyInit.open}). Neither path sets a field the other does not, so
 * every instance has the same fields in the same order (one hidden class).
 *
 * Not exported from the package root; its constructor is private, so the
 * only records are those the two factories make.
 */
export class BuddyInit {
  private constructor(
    /** The Memory the pages live in; `null` in offsets-only mode. */
    readonly memory: Memory | null,
    /** The Memory the state lives in. */
    readonly state: Memory,
    /** Byte offset of the control block in `state`. */
    readonly stateOff: number,
    readonly pageSize: number,
    readonly base: number,
    readonly maxOrder: number,
    readonly maxPages: number,
    /** Pages to seed the free lists with (fresh state), or -1 (attached: the state is there). */
    readonly seedPages: number,
    /** The instance's worker slot (0: the maker, or an unshared memory). */
    readonly slot: number,
    /** True when the instance joined `slot` itself (its `detach` gives it back). */
    readonly ownsSlot: boolean,
    /** Fresh state: the pcp words to write (0: no per-worker lists). Attached: -1. */
    readonly pcpConf: number,
    /** True when the instance keeps its slot's per-worker lists. */
    readonly usePcp: boolean,
  ) {}

  /**
   * Checks every option, then (and only then) makes or grows the Memory and
   * writes the control block: a bad option leaves a given Memory untouched.
   */
  static create(options: BuddyOptions | undefined): BuddyInit {
    const o = checkOptions(options, 'BuddyAllocator options', BUDDY_OPTIONS, 'options');
    const pageSize = o.pageSize === undefined ? 4096 : checkInteger(o.pageSize, 'pageSize', 1, 2 ** 30);
    if ((pageSize & (pageSize - 1)) !== 0) throw argumentError('pageSize', 'a power of two in [1, 2^30]', pageSize);
    if (o.offsetsOnly !== undefined && typeof o.offsetsOnly !== 'boolean')
      throw argumentError('offsetsOnly', 'a boolean', o.offsetsOnly);
    if (o.memory !== undefined && !(o.memory instanceof Memory)) throw argumentError('memory', 'a Memory', o.memory);
    const offsetsOnly = o.offsetsOnly === true;
    if (offsetsOnly && o.memory !== undefined)
      throw new InvalidArgumentError('offsetsOnly and memory exclude each other', 'memory');
    if (!offsetsOnly && o.base !== undefined)
      throw new InvalidArgumentError(
        'base is an offsets-only option (a memory-backed buddy puts its pages after its state)',
        'base',
      );

    let pages: number;
    let maxPages: number;
    let state: Memory;
    let memory: Memory | null;
    let base: number;
    const stateOff = HEADER_BYTES; // the first 8-aligned byte after the header
    if (offsetsOnly) {
      resolvePcp(o.pcp, 1); // checked; an offsets-only state is not shared
      pages = o.pages === undefined ? DEFAULT_PAGES : checkInteger(o.pages, 'pages', 1, MAX_PAGE_COUNT);
      maxPages = o.maxPages === undefined ? pages : checkInteger(o.maxPages, 'maxPages', pages, MAX_PAGE_COUNT);
      base = o.base === undefined ? 0 : checkInteger(o.base, 'base', 0, 2 ** 32 - 1);
      if (base + maxPages * pageSize > 2 ** 32) {
        throw new InvalidArgumentError(
          `base ${base} + ${maxPages} pages of ${pageSize} bytes pass the 2^32 an offsets-only space can span`,
          'maxPages',
        );
      }
      const maxOrder = resolveMaxOrder(o.maxOrder, maxPages);
      state = Memory.create({ bytes: HEADER_BYTES + stateBytes(maxPages) });
      memory = null;
      return BuddyInit.fresh(memory, state, stateOff, pageSize, base, maxOrder, maxPages, pages, 0, offsetsOnly);
    }
    if (o.memory !== undefined) {
      memory = o.memory;
      memory.sync();
      if (hasHeader(memory) && readSlot(memory, HeaderSlot.Buddy) !== 0) {
        throw new InvalidArgumentError(
          'this Memory already holds a buddy allocator: use BuddyAllocator.attach(memory)',
          'memory',
        );
      }
      maxPages =
        o.maxPages === undefined
          ? plannedMaxPages(memory, pageSize)
          : checkInteger(o.maxPages, 'maxPages', 1, MAX_PAGE_COUNT);
      base = alignUp(stateOff + stateBytes(maxPages), pageSize);
      if (base + maxPages * pageSize > MAX_MEMORY_BYTES) {
        throw new InvalidArgumentError(
          `${maxPages} pages of ${pageSize} bytes and their state do not fit in a Memory (at most ${MAX_MEMORY_BYTES} bytes)`,
          'maxPages',
        );
      }
      const conf = resolvePcp(o.pcp, maxPages); // checked either way; lists on a shared memory only
      const pcpConf = memory.shared ? conf : 0;
      if (pcpConf !== 0) base = alignUp(pcpTableOffset(stateOff, maxPages) + PCP_TABLE_BYTES, pageSize);
      const fitNow = Math.floor((memory.buffer.byteLength - base) / pageSize);
      pages =
        o.pages === undefined ? Math.max(1, Math.min(fitNow, maxPages)) : checkInteger(o.pages, 'pages', 1, maxPages);
      const maxOrder = resolveMaxOrder(o.maxOrder, maxPages);
      // Last thing that can fail, and it fails with the Memory unchanged.
      if (base + pages * pageSize > memory.buffer.byteLength) memory.growTo(base + pages * pageSize);
      return BuddyInit.fresh(memory, memory, stateOff, pageSize, base, maxOrder, maxPages, pages, pcpConf, false);
    }
    pages = o.pages === undefined ? DEFAULT_PAGES : checkInteger(o.pages, 'pages', 1, MAX_PAGE_COUNT);
    maxPages = o.maxPages === undefined ? pages : checkInteger(o.maxPages, 'maxPages', pages, MAX_PAGE_COUNT);
    base = alignUp(stateOff + stateBytes(maxPages), pageSize);
    const bytes = base + pages * pageSize;
    const maxBytes = ownMemoryBytes(maxPages, pageSize); // base + maxPages * pageSize
    if (maxBytes > MAX_MEMORY_BYTES) {
      throw new InvalidArgumentError(
        `${maxPages} pages of ${pageSize} bytes and their state do not fit in a Memory (at most ${MAX_MEMORY_BYTES} bytes)`,
        'maxPages',
      );
    }
    const maxOrder = resolveMaxOrder(o.maxOrder, maxPages);
    resolvePcp(o.pcp, maxPages); // checked; a Memory of its own is not shared
    memory = Memory.create(maxBytes > bytes ? { bytes, maxBytes } : { bytes });
    return BuddyInit.fresh(memory, memory, stateOff, pageSize, base, maxOrder, maxPages, pages, 0, false);
  }

  /**
   * The init of a fresh state (the maker's: slot 0, no slot of its own, no
   * per-worker lists of its own), its control block written by {@link format}.
   * `pcpConf` is the lists' configuration to write (0: none).
   */
  private static fresh(
    memory: Memory | null,
    state: Memory,
    stateOff: number,
    pageSize: number,
    base: number,
    maxOrder: number,
    maxPages: number,
    pages: number,
    pcpConf: number,
    offsetsOnly: boolean,
  ): BuddyInit {
    return new BuddyInit(
      memory,
      state,
      stateOff,
      pageSize,
      base,
      maxOrder,
      maxPages,
      pages,
      0,
      false,
      pcpConf,
      false,
    ).format(offsetsOnly);
  }

  /** Writes the header (if missing) and a fresh control block; the lists are seeded by the allocator. */
  private format(offsetsOnly: boolean): BuddyInit {
    const st = this.state;
    ensureHeader(st);
    const u32 = st.u32;
    const i32 = st.i32;
    const w = this.stateOff >>> 2;
    for (let i = 0; i < CONTROL_BYTES >>> 2; i++) u32[w + i] = 0;
    u32[w + B_MAGIC] = BUDDY_MAGIC;
    u32[w + B_PAGE_SIZE] = this.pageSize;
    u32[w + B_PAGE_SHIFT] = 31 - Math.clz32(this.pageSize);
    u32[w + B_PAGES] = 0;
    u32[w + B_MAX_PAGES] = this.maxPages;
    u32[w + B_MAX_ORDER] = this.maxOrder;
    u32[w + B_BASE] = this.base;
    u32[w + B_FLAGS] = offsetsOnly ? FLAG_OFFSETS_ONLY : 0;
    u32[w + B_LINKS_OFF] = CONTROL_BYTES;
    u32[w + B_INFO_OFF] = CONTROL_BYTES + 8 * this.maxPages;
    for (let k = 0; k < MAX_ORDERS; k++) i32[w + B_HEADS + k] = NIL;
    const info = this.stateOff + CONTROL_BYTES + 8 * this.maxPages;
    st.u8.fill(0, info, info + this.maxPages);
    if (this.pcpConf !== 0) formatPcpTable(st, w, this.stateOff, this.maxPages, this.pcpConf);
    writeSlot(st, HeaderSlot.Buddy, this.stateOff);
    return this;
  }

  /**
   * Reads the control block the header of `memory` points at and checks
   * every word of it against the buffer's length and against the others
   * (the shallow half of the attach fsck; the allocator's
   * `checkInvariants()` walks the pages and lists after).
   *
   * @throws HeapCorruptionError naming the first word that is wrong.
   */
  static open(memory: Memory, slot = 0, ownsSlot = false): BuddyInit {
    if (!(memory instanceof Memory)) throw argumentError('memory', 'a Memory', memory);
    memory.sync();
    checkHeader(memory);
    const len = memory.buffer.byteLength;
    const off = memory.u32[H_SLOTS + HeaderSlot.Buddy]!;
    const slotAddr = (H_SLOTS + HeaderSlot.Buddy) * 4;
    if (off === 0)
      throw new HeapCorruptionError('no buddy allocator in this Memory (header slot Buddy is 0)', slotAddr);
    if (off % 8 !== 0 || off < HEADER_BYTES || off + CONTROL_BYTES > len) {
      throw new HeapCorruptionError(
        `buddy state offset ${hex(off)} (header slot Buddy) is not an 8-aligned offset with a control block inside the ${len} bytes`,
        slotAddr,
      );
    }
    const u32 = memory.u32;
    const w = off >>> 2;
    const at = (word: number): number => off + 4 * word;
    const bad = (word: number, name: string, why: string): never => {
      throw new HeapCorruptionError(
        `buddy state word ${name} at ${hex(at(word))} = ${u32[w + word]!}: ${why}`,
        at(word),
      );
    };
    if (u32[w + B_MAGIC] !== BUDDY_MAGIC) bad(B_MAGIC, 'magic', "not 'BUDY'");
    const pageSize = u32[w + B_PAGE_SIZE]!;
    if (pageSize < 1 || pageSize > 2 ** 30 || (pageSize & (pageSize - 1)) !== 0)
      bad(B_PAGE_SIZE, 'pageSize', 'not a power of two in [1, 2^30]');
    if (u32[w + B_PAGE_SHIFT] !== 31 - Math.clz32(pageSize))
      bad(B_PAGE_SHIFT, 'pageShift', `not log2(pageSize ${pageSize})`);
    const flags = u32[w + B_FLAGS]!;
    if ((flags & ~FLAG_OFFSETS_ONLY) !== 0) bad(B_FLAGS, 'flags', 'unknown flag bits');
    const offsetsOnly = flags === FLAG_OFFSETS_ONLY;
    const maxPages = u32[w + B_MAX_PAGES]!;
    if (maxPages < 1 || maxPages > MAX_PAGE_COUNT || off + stateBytes(maxPages) > len) {
      bad(
        B_MAX_PAGES,
        'maxPages',
        `its state (${stateBytes(maxPages)} bytes) does not fit in the ${len - off} bytes after the control block's offset`,
      );
    }
    const pages = u32[w + B_PAGES]!;
    if (pages < 1 || pages > maxPages) bad(B_PAGES, 'pages', `not in [1, maxPages ${maxPages}]`);
    const maxOrder = u32[w + B_MAX_ORDER]!;
    if (maxOrder >= MAX_ORDERS) bad(B_MAX_ORDER, 'maxOrder', `not in [0, ${MAX_ORDERS - 1}]`);
    const base = u32[w + B_BASE]!;
    if (offsetsOnly) {
      if (base + maxPages * pageSize > 2 ** 32) bad(B_BASE, 'base', `base + maxPages * pageSize passes 2^32`);
    } else if (base % pageSize !== 0 || base < off + stateBytes(maxPages) || base + pages * pageSize > len) {
      bad(
        B_BASE,
        'base',
        `pages [base, base + ${pages} * ${pageSize}) are not page-aligned after the state and inside the ${len} bytes`,
      );
    } else if (base + maxPages * pageSize > MAX_MEMORY_BYTES) {
      bad(B_MAX_PAGES, 'maxPages', `base + maxPages * pageSize passes ${MAX_MEMORY_BYTES}`);
    }
    if (u32[w + B_LINKS_OFF] !== CONTROL_BYTES) bad(B_LINKS_OFF, 'linksOff', `not ${CONTROL_BYTES}`);
    if (u32[w + B_INFO_OFF] !== CONTROL_BYTES + 8 * maxPages)
      bad(B_INFO_OFF, 'infoOff', `not ${CONTROL_BYTES} + 8 * maxPages`);
    if (u32[w + B_FREE_PAGES]! > pages) bad(B_FREE_PAGES, 'freePages', `more than pages (${pages})`);
    if (u32[w + B_USED_BLOCKS]! > pages) bad(B_USED_BLOCKS, 'usedBlocks', `more than pages (${pages})`);
    checkPcpWords(memory, off, maxPages, pages, base, offsetsOnly, bad);
    const nonEmpty = u32[w + B_NON_EMPTY]!;
    for (let k = 0; k < MAX_ORDERS; k++) {
      const head = memory.i32[w + B_HEADS + k]!;
      const count = u32[w + B_COUNTS + k]!;
      if (head !== NIL && (head < 0 || head >= pages || k > maxOrder || (head & ((1 << k) - 1)) !== 0)) {
        bad(B_HEADS + k, `head[${k}]`, `not -1 or an aligned page index below pages (${pages}) with order <= maxOrder`);
      }
      if (count > pages >>> k)
        bad(B_COUNTS + k, `count[${k}]`, `more blocks of 2^${k} pages than fit in ${pages} pages`);
      if ((count === 0) !== (head === NIL)) bad(B_COUNTS + k, `count[${k}]`, `disagrees with head[${k}]`);
      if (((nonEmpty >>> k) & 1) !== (head === NIL ? 0 : 1))
        bad(B_NON_EMPTY, 'nonEmpty', `bit ${k} disagrees with head[${k}]`);
    }
    return new BuddyInit(
      offsetsOnly ? null : memory,
      memory,
      off,
      pageSize,
      base,
      maxOrder,
      maxPages,
      -1,
      slot,
      ownsSlot,
      -1,
      u32[w + B_PCP_OFF] !== 0 && memory.shared && slot !== 0,
    );
  }
}

/**
 * Bytes of the Memory a buddy without a `memory` option makes for
 * `maxPages` pages: its header and state, then the pages (at most
 * MAX_MEMORY_BYTES, or the buddy is refused).
 */
export function ownMemoryBytes(maxPages: number, pageSize: number): number {
  return alignUp(HEADER_BYTES + stateBytes(maxPages), pageSize) + maxPages * pageSize;
}

/**
 * The pages a buddy made over `memory` plans for when not given maxPages: up
 * to the memory's maximum, but a wasm memory at its current size (it does
 * not tell JavaScript its maximum). Its state starts at HEADER_BYTES.
 */
export function plannedMaxPages(memory: Memory, pageSize: number): number {
  const bytes = memory.wasm !== null ? memory.buffer.byteLength : memory.maxByteLength;
  return Math.max(1, pagesFitting(bytes, pageSize, HEADER_BYTES));
}

/** The largest block's order a buddy of `maxPages` pages gets when not given maxOrder. */
export function defaultMaxOrder(maxPages: number): number {
  return Math.min(31 - Math.clz32(maxPages), MAX_ORDERS - 1);
}

/** The `maxOrder` option, checked, or its default (the largest order that fits `maxPages`). */
function resolveMaxOrder(given: unknown, maxPages: number): number {
  if (given === undefined) return defaultMaxOrder(maxPages);
  return checkInteger(given, 'maxOrder', 0, MAX_ORDERS - 1);
}
