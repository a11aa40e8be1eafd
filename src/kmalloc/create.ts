/**
 * How a kmalloc heap is made and found again: its options
 * ({@link KmallocOptions}), the control block laid out in the buffer
 * (`new Kmalloc`), attach's search, join and checks before the construction,
 * and `Kmalloc.recover`'s hand-over of a dead worker's slot. None of it
 * imports the class: the steps that need an instance take it as a callback.
 *
 * @module
 */
import { BuddyAllocator } from '../buddy/index.js';
import { recoverBuddyUnder, attachBuddyUnder } from '../buddy/attach.js';
import { defaultMaxOrder, ownMemoryBytes, plannedMaxPages } from '../buddy/init.js';
import { pagesFitting } from '../buddy/layout.js';
import {
  HeapCorruptionError,
  InvalidArgumentError,
  argumentError,
  checkInteger,
  checkOptions,
  isIntegerIn,
} from '../errors/index.js';
import { H_WORKERS } from '../memory/header.js';
import { MAX_WORKERS, breakLock, joinWorker, leaveWorker, lockMemory, unlock } from '../memory/lock.js';
import { HEADER_BYTES, HeaderSlot, MAX_MEMORY_BYTES, Memory, readSlot, writeSlot } from '../memory/index.js';
import { SlabSpace, calculateOrder } from '../slab/index.js';
import { MAX_CLASSES, PAGE_SHIFT } from '../slab/layout.js';
import { TlsfHeap } from '../tlsf/index.js';
import { T_CHUNK_PAGES, maxBlockSize } from '../tlsf/layout.js';
import { fsck } from './check.js';
import { type SizeClassSpec, classSizes } from './classes.js';
import type { KmallocCore } from './core.js';
import { RED_ZONE } from './debug.js';
import {
  CHURN_ALLOCS,
  CLASS_WORDS,
  CW_CHURN,
  CW_PROMOTE_AT,
  CW_WAIT,
  FLAG_DEBUG,
  FLAG_REMOTE_TABLE,
  KMALLOC_MAGIC,
  KMALLOC_VERSION,
  K_CLASSES,
  K_CUR,
  K_FLAGS,
  K_KEY,
  K_LARGE_ABOVE,
  K_LOCK,
  K_MAGIC,
  K_MAX_CLASS,
  K_META_PAGES,
  K_NO_PAGE,
  K_SPACE,
  K_TLSF,
  K_VERSION,
  controlWords,
  curTable,
  mediumTable,
  remoteTable,
} from './layout.js';
import { markChunk } from './medium.js';

/** Blocks a size-class page of a shared heap holds at least (within SHARED_PAGE_BYTES). */
const SHARED_PAGE_OBJECTS = 64;
/** ...or at least this many bytes, whichever is less: the medium classes' pages (8 blocks of 4 KiB). */
const SHARED_PAGE_BYTES = 32 << 10;

/** Options of {@link Kmalloc}. */
export interface KmallocOptions {
  /**
   * Heap size in bytes (a new buddy allocator of that many bytes of pages). With neither `bytes` nor `maxBytes` (`new Kmalloc()`): 1 MiB that grows to 64 MiB;
   * with `maxBytes` alone, 1 MiB (or maxBytes if less) that grows to maxBytes. At least enough for one TLSF chunk (tlsfChunkPages).
   */
  bytes?: number;
  /**
   * Let the heap grow up to this many bytes when it runs out. With `memory`:
   * how far the heap may grow that memory (without it, a WebAssembly.Memory
   * is used at its current size, since JavaScript cannot read its maximum;
   * a growable SharedArrayBuffer up to its maxByteLength).
   */
  maxBytes?: number;
  /** Use this buddy allocator instead (it must have bytes). */
  buddy?: BuddyAllocator;
  /**
   * Lay the heap out in this Memory (for example a shared one, or a wrapped
   * WebAssembly.Memory): a buddy over all of it is made first.
   */
  memory?: Memory;
  /** Size classes: 'kernel' or n per doubling above 64 B (default 8: at most 12.5% apart). */
  classes?: SizeClassSpec;
  /**
   * Largest size served by a size-class page (default 512 on an unshared memory,
   * classes above 64 B promoted on demand (promoteAfter); 4096 on a shared memory,
   * where class pages and TLSF heaps are per worker); larger
   * sizes go to the TLSF tier, then (above what a TLSF chunk holds) to buddy pages.
   * Larger values put more sizes on the fast path and cost utilization
   * (docs/kmalloc.md has the figures).
   */
  maxClass?: number;
  /**
   * Classes above 64 B on demand: such a class starts on the TLSF tier and takes
   * pages of its own (the fast path) once this many pages' worth of its blocks
   * are live there at once, for good. 0: every class takes pages from its first
   * block. Default 2 (a class's partly used page is then at most half of what it
   * already holds live, so a size a program uses little never costs a page of its own);
   * on a shared memory only 0, since the count would be a word every worker writes.
   */
  promoteAfter?: number;
  /** Page size of a new buddy (default 4096). */
  pageSize?: number;
  /** Debug checks on every small block: poison, red zones, double free by list walk. */
  debug?: boolean;
  /** Sizes above this go to buddy pages (default: the most a TLSF chunk holds, 64 KiB - 16 B). */
  largeAbove?: number;
  /** Buddy pages per TLSF chunk, a power of two (default 16: 64 KiB). */
  tlsfChunkPages?: number;
}

/** The options Kmalloc knows (any other name is refused, not ignored). */
const KMALLOC_OPTIONS = [
  'bytes',
  'maxBytes',
  'buddy',
  'memory',
  'classes',
  'maxClass',
  'promoteAfter',
  'pageSize',
  'debug',
  'largeAbove',
  'tlsfChunkPages',
];
/** Default maxClass of a heap on a shared memory (workers): the sizes served by per-worker pages. */
const SHARED_MAX_CLASS = 4096;
/** Default maxClass of an unshared heap: classes above 64 B are promoted on demand (promoteAfter). */
const UNSHARED_MAX_CLASS = 512;
/** Default promoteAfter of an unshared heap: pages' worth of a class's blocks live on TLSF before it takes pages. */
const DEFAULT_PROMOTE_AFTER = 2;
/** `new Kmalloc()`: 1 MiB that grows to 64 MiB. */
const DEFAULT_BYTES = 1 << 20;
const DEFAULT_MAX_BYTES = 64 << 20;

/** The resolved state both `new` and `attach` build an instance from. */
export interface KmallocState {
  buddy: BuddyAllocator;
  space: SlabSpace;
  tlsf: TlsfHeap | null; // the K_TLSF heap (null: another worker's own heap, not opened)
  k: number; // u32 index of the control block
  slot: number; // the worker slot of the instance (0: the heap's maker, or an unshared memory)
}

/** The onChunk of Kmalloc's (slot 0's) TLSF heap: marks (or clears) the chunk's pages as OWNER_TLSF. */
function markTlsfChunk(space: SlabSpace) {
  return markChunk(space, 0);
}

/**
 * Every option's type and range that can be known before anything is
 * written: a refused option must leave a caller's buddy or memory as it was,
 * and the buddy, the TLSF heap and the control block are all made in it.
 */
function checkBeforeActing(options: Partial<KmallocOptions>): void {
  const { buddy, memory } = options;
  if (buddy !== undefined && !(buddy instanceof BuddyAllocator))
    throw argumentError('buddy', 'a BuddyAllocator', buddy);
  if (memory !== undefined && !(memory instanceof Memory)) throw argumentError('memory', 'a Memory', memory);
  let pageSize = buddy?.pageSize ?? 4096;
  if (options.pageSize !== undefined) {
    if (!isIntegerIn(options.pageSize, 1, 2 ** 30) || (options.pageSize & (options.pageSize - 1)) !== 0)
      throw argumentError('pageSize', 'a power of two in [1, 2^30]', options.pageSize);
    if (buddy !== undefined && options.pageSize !== buddy.pageSize)
      throw argumentError('pageSize', `the buddy's page size (${buddy.pageSize})`, options.pageSize);
    pageSize = options.pageSize;
  }
  if (options.debug !== undefined && typeof options.debug !== 'boolean')
    throw argumentError('debug', 'a boolean', options.debug);
  const classes = options.classes;
  if (classes !== undefined && classes !== 'kernel' && !isIntegerIn(classes, 1, 16))
    throw argumentError('classes', "'kernel' or a whole number in [1, 16]", classes);
  const chunkPages = options.tlsfChunkPages === undefined ? 16 : options.tlsfChunkPages;
  if (
    !isIntegerIn(chunkPages, 1, 2 ** 30) ||
    (chunkPages & (chunkPages - 1)) !== 0 ||
    chunkPages * pageSize < 64 ||
    chunkPages * pageSize > 2 ** 30 ||
    (buddy !== undefined && chunkPages > 2 ** buddy.maxOrder)
  )
    throw argumentError('tlsfChunkPages', 'a power of two, the chunk 64 B to 1 GiB', options.tlsfChunkPages);
  const tlsfMax = maxBlockSize(chunkPages * pageSize);
  if (options.maxClass !== undefined) checkInteger(options.maxClass, 'maxClass', 8, Math.min(tlsfMax, pageSize << 6));
  if (options.largeAbove !== undefined) checkInteger(options.largeAbove, 'largeAbove', 0, tlsfMax);
  const shared = (buddy?.memory ?? memory)?.shared === true;
  const promoteAfter = options.promoteAfter;
  const promoteMax = shared ? 0 : 2 ** 16;
  if (
    promoteAfter !== undefined &&
    (typeof promoteAfter !== 'number' || !(promoteAfter >= 0 && promoteAfter <= promoteMax))
  )
    throw argumentError('promoteAfter', `a number in [0, ${promoteMax}]`, promoteAfter);
  if (options.bytes !== undefined) checkInteger(options.bytes, 'bytes', 1, 2 ** 32);
  const minMax = buddy === undefined && memory === undefined ? (options.bytes ?? 1) : 1;
  if (options.maxBytes !== undefined) checkInteger(options.maxBytes, 'maxBytes', minMax, 2 ** 32);
  if (buddy === undefined) checkOwnBuddy(options, pageSize, chunkPages, memory);
}

/**
 * The buddy `new Kmalloc` makes when given neither `buddy` nor `memory`:
 * the user's bytes (and maxBytes) in pages, plus the slab space's descriptor
 * tables and the control pages; and the option that sized it, to name in a
 * refusal. The one place these sizes are computed: the check before acting
 * and the construction both call it.
 */
function ownBuddyPages(
  options: Partial<KmallocOptions>,
  pageSize: number,
): { pages: number; maxPages: number; by: 'bytes' | 'maxBytes' } {
  // No size at all: a small heap that grows (DEFAULT_BYTES up to DEFAULT_MAX_BYTES).
  const bare = options.bytes === undefined && options.maxBytes === undefined;
  const maxBytes = bare ? DEFAULT_MAX_BYTES : (options.maxBytes ?? (options.bytes as number));
  const bytes = options.bytes ?? Math.min(DEFAULT_BYTES, maxBytes);
  const meta = (n: number): number => Math.ceil(SlabSpace.bytesFor(n) / pageSize) + 2;
  const userMax = Math.ceil(maxBytes / pageSize);
  const maxPages = userMax + meta(userMax + 64);
  const pages = Math.min(maxPages, Math.ceil(bytes / pageSize) + meta(maxPages));
  return { pages, maxPages, by: options.maxBytes === undefined ? 'bytes' : 'maxBytes' };
}

/**
 * What the buddy and the TLSF heap Kmalloc makes will accept, checked here so
 * that a refusal names Kmalloc's own option (bytes, maxBytes, memory,
 * tlsfChunkPages), not the inner layer's (maxPages, chunkPages), and comes
 * before the buddy is written into a given memory: the pages and their state
 * must fit in a Memory, and the buddy's largest block must hold a TLSF chunk.
 */
function checkOwnBuddy(
  options: Partial<KmallocOptions>,
  pageSize: number,
  chunkPages: number,
  memory: Memory | undefined,
): void {
  const largest = (n: number): number => 2 ** defaultMaxOrder(n);
  if (memory !== undefined) {
    // The buddy over the memory: maxPages from maxBytes (createState's cap) or the memory itself.
    const cap = options.maxBytes;
    const maxPages = cap === undefined ? plannedMaxPages(memory, pageSize) : capPages(cap, pageSize);
    if (largest(maxPages) >= chunkPages) return;
    const by = options.tlsfChunkPages !== undefined ? 'tlsfChunkPages' : cap !== undefined ? 'maxBytes' : 'memory';
    const why = `a TLSF chunk of ${chunkPages} pages; the heap's largest block is ${largest(maxPages)} pages`;
    throw argumentError(
      by,
      by === 'tlsfChunkPages' ? `at most ${largest(maxPages)} pages` : `room for ${why}`,
      options[by],
    );
  }
  const { maxPages, by } = ownBuddyPages(options, pageSize);
  const fits = (n: number): boolean => ownMemoryBytes(n, pageSize) <= MAX_MEMORY_BYTES;
  // The buddy's largest block (its default maxOrder) must hold one TLSF chunk.
  const holds = (n: number): boolean => largest(n) >= chunkPages;
  if (fits(maxPages) && holds(maxPages)) return;
  if (!fits(maxPages)) {
    const most = lastBytes(pageSize, fits);
    throw argumentError(
      by,
      `at most ${most} bytes (the pages, their state and kmalloc's tables fit a Memory)`,
      options[by],
    );
  }
  if (options.tlsfChunkPages !== undefined)
    throw argumentError('tlsfChunkPages', `at most ${largest(maxPages)} pages (the heap's largest block)`, chunkPages);
  const least = lastBytes(pageSize, (n) => !holds(n)) + 1;
  throw argumentError(by, `at least ${least} bytes (for a TLSF chunk of ${chunkPages} pages)`, options[by]);
}

/** The maxPages of the buddy Kmalloc makes over a memory it may grow to `cap` bytes (its header and state in them too). */
function capPages(cap: number, pageSize: number): number {
  return Math.max(1, pagesFitting(cap, pageSize, HEADER_BYTES));
}

/**
 * The largest byte count in [1, 2^32] whose own buddy's maxPages passes
 * `ok`, for a refusal's message (a binary search: `ok` must be true, then false, as bytes grow).
 */
function lastBytes(pageSize: number, ok: (maxPages: number) => boolean): number {
  let lo = 0;
  let hi = 2 ** 32;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (ok(ownBuddyPages({ bytes: mid, maxBytes: mid }, pageSize).maxPages)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Lays a new heap out in the buffer (`new Kmalloc(options)`); returns where its state is. */
export function createState(opts: KmallocOptions): KmallocState {
  const options = checkOptions(opts, 'Kmalloc options', KMALLOC_OPTIONS, 'options');
  checkBeforeActing(options);
  let buddy = options.buddy;
  if (buddy === undefined && options.memory !== undefined) {
    const pageSize = options.pageSize ?? 4096;
    // maxBytes caps how far the heap grows the memory: needed for a WebAssembly.Memory,
    // whose maximum JavaScript cannot read (the buddy's own rule for what fits in it).
    const cap = options.maxBytes === undefined ? undefined : checkInteger(options.maxBytes, 'maxBytes', 1, 2 ** 32);
    buddy = new BuddyAllocator({
      memory: options.memory,
      pageSize,
      ...(cap === undefined ? {} : { maxPages: capPages(cap, pageSize) }),
    });
  }
  if (buddy === undefined) {
    const { pages, maxPages } = ownBuddyPages(options, options.pageSize ?? 4096);
    buddy = new BuddyAllocator({ pages, maxPages, pageSize: options.pageSize ?? 4096 });
  }
  if (buddy.memory === null) throw new InvalidArgumentError('kmalloc needs bytes: the buddy allocator is offsets-only');
  const usedBefore = buddy.pages - buddy.freePages;
  const space = SlabSpace.of(buddy);
  const tlsf = new TlsfHeap(buddy, { chunkPages: options.tlsfChunkPages ?? 16, onChunk: markTlsfChunk(space) });
  // On a shared memory sizes up to 4 KiB take the per-worker class pages by default (the TLSF
  // tier above maxClass is one heap under the heap lock); unshared heaps 512 B, classes above 64 B
  // promoted on demand (utilization).
  const classLimit = Math.min(tlsf.maxSize, buddy.pageSize << 6);
  const sharedDefault = classLimit >= SHARED_MAX_CLASS ? SHARED_MAX_CLASS : 512; // 512: a tiny heap
  const maxClass = checkInteger(
    options.maxClass ?? (buddy.memory.shared ? sharedDefault : UNSHARED_MAX_CLASS),
    'maxClass',
    8,
    classLimit,
  );
  const sizes = classSizes(options.classes ?? 8, maxClass);
  if (sizes.length > MAX_CLASSES) throw new InvalidArgumentError(`kmalloc: at most ${MAX_CLASSES} size classes`);
  const debug = options.debug === true;
  const promoteAfter = options.promoteAfter ?? (buddy.memory.shared ? 0 : DEFAULT_PROMOTE_AFTER);
  const promoteMax = buddy.memory.shared ? 0 : 2 ** 16;
  if (typeof promoteAfter !== 'number' || !(promoteAfter >= 0 && promoteAfter <= promoteMax))
    throw argumentError('promoteAfter', `a number in [0, ${promoteMax}]`, promoteAfter);
  const n = sizes.length;
  const remote = buddy.memory.shared;
  const words = (remote ? remoteTable(0, n) : controlWords(n)) + (remote ? buddy.maxPages << PAGE_SHIFT : 0);
  const kAddr = buddy.allocPagesExact(Math.ceil((words * 4) / buddy.pageSize));
  const memory = buddy.memory;
  memory.sync();
  const u32 = memory.u32;
  const k = kAddr >>> 2;
  u32.fill(0, k, k + words);
  u32[k + K_MAGIC] = KMALLOC_MAGIC;
  u32[k + K_VERSION] = KMALLOC_VERSION;
  u32[k + K_SPACE] = space.region;
  u32[k + K_CLASSES] = n;
  u32[k + K_MAX_CLASS] = sizes[n - 1]!;
  u32[k + K_TLSF] = tlsf.region;
  if (remote) u32[mediumTable(k, n)] = tlsf.region; // slot 0's medium heap
  u32[k + K_LARGE_ABOVE] = Math.max(
    sizes[n - 1]!,
    checkInteger(options.largeAbove ?? tlsf.maxSize, 'largeAbove', 0, tlsf.maxSize),
  );
  u32[k + K_KEY] = (Math.floor(Math.random() * 2 ** 32) | 1) >>> 0;
  u32[k + K_FLAGS] = (debug ? FLAG_DEBUG : 0) | (remote ? FLAG_REMOTE_TABLE : 0);
  for (let c = 0; c < n; c++) {
    const size = sizes[c]!;
    const stride = debug ? size + 2 * RED_ZONE : size;
    // On a shared memory a class page is at least 2 buddy pages: its head descriptor (the
    // words its owner writes on every alloc and free) then has a 64-byte line of its own,
    // not one shared with the descriptor of a page another worker owns (false sharing).
    // It also holds at least SHARED_PAGE_OBJECTS blocks or SHARED_PAGE_BYTES (32 KiB: 64
    // blocks of 512 B, 8 of 4 KiB; mimalloc's small pages are 64 KiB): a page that fills
    // and comes back through remote frees costs the heap lock once a round, so more blocks
    // a page means fewer rounds, while a medium class's page stays small enough that each
    // worker can have its own (and a spare) without a large footprint.
    const minBytes = Math.min(SHARED_PAGE_OBJECTS * stride, SHARED_PAGE_BYTES);
    const minOrder = memory.shared
      ? Math.min(Math.max(1, Math.ceil(Math.log2(minBytes / buddy.pageSize))), 4, buddy.maxOrder)
      : 0;
    const order = Math.min(Math.max(calculateOrder(stride, buddy.pageSize, buddy.maxOrder), minOrder), 8);
    const pages = 1 << order;
    for (let slot = 0; slot < MAX_WORKERS; slot++) u32[curTable(k, n, slot) + c] = k + K_NO_PAGE;
    const w = k + K_CUR + n + c * CLASS_WORDS;
    u32[w] = size;
    u32[w + 1] = stride;
    u32[w + 2] = pages;
    u32[w + 3] = Math.floor((pages * buddy.pageSize) / stride);
    // Classes up to 64 B always take pages (TLSF's smallest block is 24 bytes with its header).
    const promoteAt = size > 64 ? Math.ceil(promoteAfter * u32[w + 3]!) : 0;
    u32[w + CW_WAIT] = promoteAt;
    u32[w + CW_PROMOTE_AT] = promoteAt;
    u32[w + CW_CHURN] = promoteAt === 0 ? 0 : CHURN_ALLOCS;
  }
  u32[k + K_META_PAGES] = buddy.pages - buddy.freePages - usedBefore;
  writeSlot(memory, HeaderSlot.Kmalloc, kAddr);
  return { buddy, space, tlsf, k, slot: 0 };
}

/**
 * attach's part before the construction: finds the heap's control block in
 * `memory` (HeapCorruptionError if there is none), joins a worker slot on a
 * shared memory and calls `open(k, slot)` under the heap lock.
 */
export function attachHeap<T extends KmallocCore>(memory: Memory, open: (k: number, slot: number) => T): T {
  if (!(memory instanceof Memory)) throw argumentError('memory', 'a Memory', memory);
  memory.sync();
  const kAddr = readSlot(memory, HeaderSlot.Kmalloc);
  const u32 = memory.u32;
  const k = kAddr >>> 2;
  if (
    kAddr === 0 ||
    (kAddr & 3) !== 0 ||
    k + K_CUR >= u32.length ||
    u32[k + K_MAGIC] !== KMALLOC_MAGIC ||
    u32[k + K_VERSION] !== KMALLOC_VERSION
  ) {
    throw new HeapCorruptionError(
      'no kmalloc heap in this Memory (header slot empty, or magic KMAL or version missing)',
      kAddr,
    );
  }
  if (!memory.shared) return open(k, 0);
  // Another worker may be changing the heap: join, then check and open it under the heap lock.
  const slot = joinWorker(memory.i32, H_WORKERS);
  lockMemory(memory, k + K_LOCK, slot);
  try {
    const heap = open(k, slot);
    heap.med?.ownHeap(true); // this slot's medium heap (its leftover one, or a new one): k.tlsf is it
    return heap;
  } catch (e) {
    leaveWorker(memory.i32, H_WORKERS, slot);
    throw e;
  } finally {
    unlock(memory.i32, k + K_LOCK, slot);
  }
}

/** A heap's state read back and checked (attach), and the worker slots busy meanwhile. */
export interface OpenedState extends KmallocState {
  /** Joined worker slots other than this one (their own state is not checked). */
  busy: number;
}

/** attach's checks of the control block at u32 index `k`, before the construction. */
export function openState(memory: Memory, k: number, slot: number): OpenedState {
  const buddy = attachBuddyUnder(memory, 'kmalloc heap', slot); // the buddy takes its lock in this slot's name
  const u32 = memory.u32;
  const n = u32[k + K_CLASSES]!;
  if (n < 1 || n > MAX_CLASSES || k + controlWords(n) > u32.length)
    throw new HeapCorruptionError('kmalloc: damaged control block (class count)', (k + K_CLASSES) * 4);
  if ((u32[k + K_FLAGS]! & FLAG_REMOTE_TABLE) !== 0 && remoteTable(k, n) + (buddy.maxPages << PAGE_SHIFT) > u32.length)
    throw new HeapCorruptionError(
      'kmalloc: damaged control block (the thread_free table is past the end)',
      (k + K_FLAGS) * 4,
    );
  const space = SlabSpace.open(buddy, u32[k + K_SPACE]!);
  // On a shared memory other joined workers change their own queues and medium heaps without
  // the lock: those are not read here (the lock-guarded lists are); on a copy every one is.
  const busy = memory.shared ? u32[H_WORKERS]! & ~(1 << slot) : 0;
  const perSlot = (u32[k + K_FLAGS]! & FLAG_REMOTE_TABLE) !== 0;
  // Slot 0's TLSF heap (K_TLSF) is its own on a shared heap: opened (and checked) only when idle.
  const tlsf =
    perSlot && (busy & 1) !== 0 ? null : TlsfHeap.attach(buddy, u32[k + K_TLSF]!, { onChunk: markTlsfChunk(space) });
  const chunkPages = u32[(u32[k + K_TLSF]! >>> 2) + T_CHUNK_PAGES]!;
  if (tlsf === null && (chunkPages === 0 || (chunkPages & (chunkPages - 1)) !== 0 || chunkPages > 2 ** buddy.maxOrder))
    throw new HeapCorruptionError('kmalloc: damaged TLSF heap (chunk pages)', u32[k + K_TLSF]!);
  fsck(buddy, space, maxBlockSize(chunkPages * buddy.pageSize), u32, k, n, busy);
  return { buddy, space, tlsf, k, slot, busy };
}

/**
 * Kmalloc.recover's work: checks `slot` and the heap in `memory`, breaks the
 * heap lock if the dead worker held it, recovers its buddy state and, if the
 * slot is still joined, calls `handOver(k)` under the heap lock taken in its
 * name, then frees the slot. True if the dead worker held the lock.
 */
export function recoverSlot(memory: Memory, slot: number, handOver: (k: number) => void): boolean {
  checkInteger(slot, 'slot', 1, MAX_WORKERS - 1);
  if (!(memory instanceof Memory)) throw argumentError('memory', 'a Memory', memory);
  memory.sync();
  const kAddr = readSlot(memory, HeaderSlot.Kmalloc);
  if (
    kAddr === 0 ||
    (kAddr & 3) !== 0 ||
    (kAddr >>> 2) + K_MAGIC >= memory.u32.length ||
    memory.u32[(kAddr >>> 2) + K_MAGIC] !== KMALLOC_MAGIC
  ) {
    throw new HeapCorruptionError('no kmalloc heap in this Memory (header slot empty or magic KMAL missing)', kAddr);
  }
  const k = kAddr >>> 2;
  const broke = breakLock(memory.i32, k + K_LOCK, slot);
  recoverBuddyUnder(memory, slot); // it may have died in a page refill, under the buddy lock
  if ((memory.u32[H_WORKERS]! & (1 << slot)) === 0) return broke; // left already (or never joined)
  // Hand the dead worker's pages over under the heap lock, taken in its name: nobody
  // else uses a joined slot's id, and the lock records who holds it.
  lockMemory(memory, k + K_LOCK, slot);
  try {
    handOver(k);
  } finally {
    unlock(memory.i32, k + K_LOCK, slot);
  }
  recoverBuddyUnder(memory, slot); // the pages handed back above went on the dead slot's buddy lists
  leaveWorker(memory.i32, H_WORKERS, slot);
  return broke;
}
