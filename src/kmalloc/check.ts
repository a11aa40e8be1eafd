/**
 * Kmalloc's checks: attach's fsck of the control block ({@link fsck}) and
 * `checkInvariants`, the whole heap checked against the invariants
 * drawn at the top of kmalloc.ts ("Invariants"): the buddy's and the TLSF
 * heaps', then every class page's lists, heap byte and the one list it sits
 * on, the per-slot cur[] tables and reclaim lists, the abandoned lists, and
 * the page, promotion and large-block counters. The first thing broken is a
 * HeapCorruptionError naming its word. Takes the heap ({@link KmallocCore});
 * the caller holds the heap lock.
 *
 * @module
 */
import type { BuddyAllocator } from '../buddy/index.js';
import { HeapCorruptionError, hex } from '../errors/index.js';
import { H_WORKERS } from '../memory/header.js';
import { MAX_WORKERS } from '../memory/lock.js';
import {
  HEAD_DELTA_MASK,
  HEAP_ABANDONED,
  HEAP_SHIFT,
  OWNER_CLASS,
  OWNER_CLASS_DEBUG,
  OWNER_LARGE,
  OWNER_MASK,
  OWNER_TLSF,
  PAGE_SHIFT,
  P_FREELIST,
  P_INFO,
  P_LOCAL_FREE,
  P_NEXT,
  P_PREV,
  P_THREAD_FREE,
  P_UNUSED,
  P_USED,
  TF_FULL,
  USED_FULL,
  USED_MASK,
  makeInfo,
} from '../slab/layout.js';
import type { SlabSpace } from '../slab/index.js';
import type { KmallocCore } from './core.js';
import { RED_ZONE } from './debug.js';
import {
  CHURN_ALLOCS,
  CLASS_WORDS,
  CW_CHURN,
  CW_FREED,
  CW_MADE,
  CW_PROMOTE_AT,
  CW_WAIT,
  FLAG_DEBUG,
  FLAG_REMOTE_TABLE,
  K_CUR,
  K_FLAGS,
  K_HOT_PAGES,
  K_LARGE_ABOVE,
  K_LARGE_BLOCKS,
  K_MAX_CLASS,
  K_META_PAGES,
  K_KEY,
  K_NO_PAGE,
  abandonedTable,
  curFreeTable,
  curTable,
  reclaimTable,
} from './layout.js';
import { checkLargeCache, largeCacheAt } from './large-cache.js';

/** Checks the heap `kh` (see `Kmalloc.checkInvariants`); throws HeapCorruptionError at the first broken invariant. */
export function checkHeap(kh: KmallocCore): void {
  const mem = kh.memory;
  mem.syncChecked(); // a detached or shrunk buffer: say so, not which invariant its undefined reads broke
  kh.buddy.checkInvariants();
  if (kh.med === null) kh.heap0.checkInvariantsLocked();
  else
    kh.med.checkAll(
      0,
      (what, word) => {
        throw new HeapCorruptionError(`kmalloc: ${what}`, word * 4);
      },
      kh.pt,
    );
  mem.sync();
  const u32 = mem.u32;
  const n = kh.nClasses;
  const k = kh.k;
  const bad = (what: string, word: number): never => {
    throw new HeapCorruptionError(`kmalloc: ${what}`, word * 4);
  };
  // The joined slots as the header says (slot 0 always): a snapshot of a shared heap,
  // opened unshared, keeps its workers' queues and their header bits.
  const joined = u32[H_WORKERS]! | 1;
  const ownerBase = kh.debug ? OWNER_CLASS_DEBUG : OWNER_CLASS;
  // Where each head page is listed: 1 = a cur[] queue, 2 = a reclaim list, 3 = an abandoned list.
  const listed = new Map<number, number>();
  const note = (d: number, where: number, at: number): void => {
    if (listed.has(d)) bad(`page ${hex(kh.pageAddr(d))} is on two lists`, at);
    listed.set(d, where);
  };
  for (let slot = 0; slot < MAX_WORKERS; slot++) {
    const cur = curTable(k, n, slot);
    const live = (joined & (1 << slot)) !== 0;
    const cf = curFreeTable(u32, k, n, slot);
    for (let c = 0; c < n; c++) {
      let d = u32[cur + c]!;
      if (d === kh.noPage) {
        if (cf >= 0 && u32[cf + c] !== 0)
          bad(`slot ${slot}'s class ${c} has no current page but its curFree is not empty`, cf + c);
        continue;
      }
      if (!live) bad(`worker slot ${slot} is not joined but its class ${c} queue is not empty`, cur + c);
      for (let back = 0, steps = 0; d !== 0; back = d, d = u32[d + P_NEXT]!, steps++) {
        if (steps > kh.buddy.pages || u32[d + P_INFO] !== (makeInfo(ownerBase + c, 0) | (slot << HEAP_SHIFT)) >>> 0)
          bad(`slot ${slot}'s class ${c} queue holds ${d}, not a head page of that class and slot`, cur + c);
        if (u32[d + P_PREV] !== back) bad(`slot ${slot}'s class ${c} queue: bad prev link`, d + P_PREV);
        note(d, 1, cur + c);
      }
    }
    const r = reclaimTable(k, n) + slot;
    if (u32[r] !== 0 && !live) bad(`worker slot ${slot} is not joined but its reclaim list is not empty`, r);
    for (let d = u32[r]!, steps = 0; d !== 0; d = u32[d + P_PREV]!, steps++) {
      if (steps > kh.buddy.pages || u32[d + P_INFO]! >>> HEAP_SHIFT !== slot)
        bad(`slot ${slot}'s reclaim list holds ${d}, not a page of that slot`, r);
      note(d, 2, r);
    }
  }
  for (let c = 0; c < n; c++) {
    const at = kh.abandonedAt + c;
    for (let d = u32[at]!, back = 0, steps = 0; d !== 0; back = d, d = u32[d + P_NEXT]!, steps++) {
      if (
        steps > kh.buddy.pages ||
        u32[d + P_INFO] !== (makeInfo(ownerBase + c, 0) | (HEAP_ABANDONED << HEAP_SHIFT)) >>> 0
      )
        bad(`class ${c}'s abandoned list holds ${d}, not an abandoned head page of that class`, at);
      if (u32[d + P_PREV] !== back) bad(`class ${c}'s abandoned list: bad prev link`, d + P_PREV);
      note(d, 3, at);
    }
  }
  const pagesOfClass = new Int32Array(n);
  let largeBlocks = 0;
  for (let pg = 0; pg < kh.buddy.pages; pg++) {
    const d = kh.pt + (pg << PAGE_SHIFT);
    const info = u32[d + P_INFO]!;
    const own = info & OWNER_MASK;
    if (own === OWNER_LARGE) largeBlocks++;
    const head = own >= OWNER_CLASS && own < OWNER_TLSF && ((info >>> 16) & HEAD_DELTA_MASK) === 0;
    // Only a class page's head has a thread_free word in use (in the table: the others are 0).
    if (!head && kh.tfDelta !== P_THREAD_FREE && u32[d + kh.tfDelta] !== 0)
      bad(`page ${pg} is no class head page but its thread_free word is not 0`, d + kh.tfDelta);
    if (!head) continue; // not a class page, or a tail: checked with its head
    const c = own - ownerBase;
    if (!(c >= 0 && c < n)) bad(`page ${pg} has owner ${hex(own)}, not a class of this heap`, d + P_INFO);
    pagesOfClass[c]!++;
    const heap = info >>> HEAP_SHIFT;
    if (heap !== HEAP_ABANDONED && (heap >= MAX_WORKERS || (joined & (1 << heap)) === 0))
      bad(`page ${pg} belongs to worker slot ${heap}, which is not joined`, d + P_INFO);
    for (let i = 1; i < kh.pagesOf[c]!; i++) {
      if (u32[d + (i << PAGE_SHIFT) + P_INFO] !== (makeInfo(own, i) | (heap << HEAP_SHIFT)) >>> 0)
        bad(`tail page ${pg + i} of class page ${pg} has a bad INFO word`, d + (i << PAGE_SHIFT) + P_INFO);
    }
    // The lists: disjoint, on the grid, below unused, tagged.
    const page = kh.pageAddr(d);
    const stride = kh.stride[c]!;
    const unused = u32[d + P_UNUSED]!;
    if (unused < page || unused > page + kh.span[c]! || (unused - page) % stride !== 0)
      bad(`page ${pg}: unused ${hex(unused)} is off the page's grid`, d + P_UNUSED);
    const seen = new Set<number>();
    let onLists = 0;
    let remote = 0;
    // The owner's curFree list when this is its current page: its blocks count as used.
    const cfAt = heap < MAX_WORKERS ? curFreeTable(u32, k, n, heap) : -1;
    const current = cfAt >= 0 && u32[curTable(k, n, heap) + c] === d ? cfAt + c : -1;
    const lists = [d + P_FREELIST, d + P_LOCAL_FREE, d + kh.tfDelta];
    if (current >= 0) lists.push(current);
    for (const list of lists) {
      for (let p = (u32[list]! & ~TF_FULL) >>> 0; p !== 0; p = u32[p >>> 2]!) {
        if (p < page || p >= unused || (p - page) % stride !== 0 || seen.has(p))
          bad(`page ${pg}: list word ${hex(list * 4)} reaches ${hex(p)}, not a free slot of the page (or twice)`, list);
        seen.add(p);
        if ((u32[(p >>> 2) + 1]! ^ u32[p >>> 2]!) !== kh.key)
          bad(`page ${pg}: free block ${hex(p)} has a bad free tag`, (p >>> 2) + 1);
        onLists++;
        if (list === d + kh.tfDelta || list === current) remote++;
      }
    }
    const w = u32[d + P_USED]!;
    if ((w & ~(USED_MASK | USED_FULL)) !== 0 || (w & USED_MASK) !== (unused - page) / stride - onLists + remote)
      bad(`page ${pg}: used ${w & USED_MASK}, lists say ${(unused - page) / stride - onLists + remote}`, d + P_USED);
    // Where it is listed follows from its state.
    const full = (w & USED_FULL) !== 0;
    const tfFull = (u32[d + kh.tfDelta]! & TF_FULL) !== 0;
    const where = listed.get(d) ?? 0;
    if (heap === HEAP_ABANDONED) {
      if (where !== 3 || full || tfFull) bad(`abandoned page ${pg} is not (only) on its abandoned list`, d + P_INFO);
    } else if (!full) {
      if (where !== 1 || tfFull) bad(`page ${pg} is not FULL but not on its slot's queue`, d + P_USED);
    } else if (where === 1 || where === 3 || tfFull === (where === 2)) {
      bad(`FULL page ${pg}: waits with TF_FULL ${tfFull}, listed ${where}: needs exactly one of them`, d + P_USED);
    }
    listed.delete(d);
  }
  if (listed.size !== 0) bad(`a list holds ${listed.size} page(s) that are not class head pages`, k + K_CUR);
  let hotLimit = 0;
  for (let c = 0; c < n; c++) {
    const w = k + K_CUR + n + c * CLASS_WORDS;
    if (u32[w + CW_MADE]! - u32[w + CW_FREED]! !== pagesOfClass[c])
      bad(`class ${c}: ${pagesOfClass[c]} pages, counters say ${u32[w + CW_MADE]! - u32[w + CW_FREED]!}`, w + CW_MADE);
    // Promotion: a waiting class has never had a page; its counters stay in range.
    const wait = u32[w + CW_WAIT]!;
    const at = u32[w + CW_PROMOTE_AT]!;
    if (wait > at || u32[w + CW_CHURN]! > (at === 0 ? 0 : CHURN_ALLOCS))
      bad(`class ${c}: promotion counters ${wait} / ${at}, churn ${u32[w + CW_CHURN]!}`, w + CW_WAIT);
    if (wait !== 0 && u32[w + CW_MADE] !== 0) bad(`class ${c} waits for promotion but has made pages`, w + CW_MADE);
    if (wait === 0 && at !== 0) hotLimit += kh.pagesOf[c]!;
  }
  if (u32[k + K_HOT_PAGES]! > hotLimit)
    bad(
      `${u32[k + K_HOT_PAGES]!} pages promoted for their rate, more than the ${hotLimit} of promoted classes`,
      k + K_HOT_PAGES,
    );
  // The large-block counter counts the blocks in workers' caches too (large-cache.ts).
  if (kh.med !== null) {
    const seen = new Set<number>();
    for (let s = 0; s < MAX_WORKERS; s++) {
      const at = largeCacheAt(k, n, s);
      const held = checkLargeCache(u32, at, kh, kh.buddy.pages, s, bad, seen);
      if (held !== 0 && (joined & (1 << s)) === 0) bad(`worker slot ${s} is not joined but caches large blocks`, at);
      largeBlocks += held;
    }
  }
  if (u32[k + K_LARGE_BLOCKS] !== largeBlocks)
    bad(`${largeBlocks} large blocks, counter ${u32[k + K_LARGE_BLOCKS]!}`, k + K_LARGE_BLOCKS);
}

/**
 * attach's check of the control block (the buddy, slab space and TLSF heap
 * checked themselves): the class table consistent, the always-0 word 0, and
 * every class's page queue of every worker slot not in `busy` a bounded
 * chain of head descriptors of that class and slot, every reclaim list a
 * chain of that slot's FULL pages, every abandoned list a chain of
 * abandoned pages of its class. A damaged word is HeapCorruptionError with
 * its address.
 */
export function fsck(
  buddy: BuddyAllocator,
  space: SlabSpace,
  tlsfMax: number,
  u32: Uint32Array,
  k: number,
  n: number,
  busy: number,
): void {
  const bad = (what: string, word: number): never => {
    throw new HeapCorruptionError(`kmalloc: damaged control block: ${what}`, word * 4);
  };
  const debug =
    (u32[k + K_FLAGS]! & ~(FLAG_DEBUG | FLAG_REMOTE_TABLE)) === 0
      ? (u32[k + K_FLAGS]! & FLAG_DEBUG) !== 0
      : bad('flags', k + K_FLAGS);
  if (u32[k + K_NO_PAGE] !== 0) bad('the always-0 word is not 0', k + K_NO_PAGE);
  let prev = 0;
  for (let c = 0; c < n; c++) {
    const w = k + K_CUR + n + c * CLASS_WORDS;
    const size = u32[w]!;
    const stride = u32[w + 1]!;
    const pages = u32[w + 2]!;
    if (size <= prev || size > buddy.pageSize << 6) bad(`class ${c} size ${size}`, w);
    if (stride !== (debug ? size + 2 * RED_ZONE : size)) bad(`class ${c} stride ${stride}`, w + 1);
    if (pages === 0 || (pages & (pages - 1)) !== 0 || pages > 256) bad(`class ${c} pages ${pages}`, w + 2);
    if (u32[w + 3] !== Math.floor((pages * buddy.pageSize) / stride)) bad(`class ${c} objects ${u32[w + 3]!}`, w + 3);
    prev = size;
  }
  const maxClass = u32[k + K_MAX_CLASS]!;
  if (maxClass !== prev) bad(`maxClass ${maxClass}, largest class ${prev}`, k + K_MAX_CLASS);
  const largeAbove = u32[k + K_LARGE_ABOVE]!;
  if (largeAbove < maxClass || largeAbove > tlsfMax) bad(`largeAbove ${largeAbove}`, k + K_LARGE_ABOVE);
  if (u32[k + K_META_PAGES]! > buddy.pages) bad(`meta pages ${u32[k + K_META_PAGES]!}`, k + K_META_PAGES);
  const pt = space.pageTable;
  const end = pt + (buddy.pages << PAGE_SHIFT);
  const isDescriptor = (d: number): boolean => d >= pt && d < end && ((d - pt) & ((1 << PAGE_SHIFT) - 1)) === 0;
  const headOf = (d: number, c: number, heap: number): boolean =>
    u32[d + P_INFO] === (makeInfo((debug ? OWNER_CLASS_DEBUG : OWNER_CLASS) + c, 0) | (heap << HEAP_SHIFT)) >>> 0;
  /** A doubly linked list (P_NEXT / P_PREV) of head pages of class c and heap `heap`, from word `at`. */
  const queue = (at: number, c: number, heap: number, what: string): void => {
    let d = u32[at]!;
    if (heap !== HEAP_ABANDONED) {
      if (d === k + K_NO_PAGE) return;
      if (d === 0) bad(`${what} is 0 (an empty queue is the always-0 word's index)`, at);
    }
    let back = 0;
    for (let steps = 0; d !== 0; steps++) {
      const from = steps === 0 ? at : back + P_NEXT;
      if (steps > buddy.pages || !isDescriptor(d)) bad(`${what} reaches ${d}, not a page descriptor`, from);
      if (!headOf(d, c, heap) || u32[d + P_PREV] !== back)
        bad(`${what} holds a page that is not a head page of class ${c} of that heap`, from);
      back = d;
      d = u32[d + P_NEXT]!;
    }
  };
  /**
   * The curFree list at word `at` of the current page named at word `curAt` (class c): empty
   * with no page; else free-tagged slots of that page below its `unused`, no more than its
   * slots. (alloc's fast path pops it checking only the tag.)
   */
  const currentFree = (curAt: number, at: number, c: number, what: string): void => {
    const d = u32[curAt]!;
    let p = u32[at]!;
    if (d === k + K_NO_PAGE) {
      if (p !== 0) bad(`${what} is not empty, with no current page`, at);
      return;
    }
    const stride = u32[k + K_CUR + n + c * CLASS_WORDS + 1]!;
    const objects = u32[k + K_CUR + n + c * CLASS_WORDS + 3]!;
    const page = buddy.base + ((((d - pt) >>> PAGE_SHIFT) << buddy.pageShift) >>> 0);
    const unused = u32[d + P_UNUSED]!;
    for (let steps = 0, from = at; p !== 0; steps++) {
      if (
        steps >= objects ||
        p < page ||
        p >= unused ||
        (p - page) % stride !== 0 ||
        (u32[(p >>> 2) + 1]! ^ u32[p >>> 2]!) >>> 0 !== u32[k + K_KEY]
      )
        bad(`${what} reaches ${hex(p)}, not a free slot of its page`, from);
      from = p >>> 2;
      p = u32[p >>> 2]!;
    }
  };
  for (let slot = 0; slot < MAX_WORKERS; slot++) {
    const cur = curTable(k, n, slot);
    const cf = curFreeTable(u32, k, n, slot); // -1: no such table (the queue is empty then)
    if ((busy & (1 << slot)) === 0)
      for (let c = 0; c < n; c++) {
        queue(cur + c, c, slot, `worker slot ${slot}'s class ${c} page queue`);
        if (cf >= 0) currentFree(cur + c, cf + c, c, `worker slot ${slot}'s class ${c} curFree list`);
      }
    // reclaim[slot]: FULL head pages of that slot, linked by P_PREV (a joined worker takes
    // its own without the lock, so only the lists of slots not busy are read).
    const r = reclaimTable(k, n) + slot;
    let d = (busy & (1 << slot)) === 0 ? u32[r]! : 0;
    for (let steps = 0, from = r; d !== 0; steps++) {
      if (steps > buddy.pages || !isDescriptor(d) || u32[d + P_INFO]! >>> HEAP_SHIFT !== slot)
        bad(`worker slot ${slot}'s reclaim list reaches ${d}, not a page of that slot`, from);
      const own = u32[d + P_INFO]! & 0xffffff;
      const c = own - (debug ? OWNER_CLASS_DEBUG : OWNER_CLASS);
      if (!(c >= 0 && c < n) || !headOf(d, c, slot) || (u32[d + P_USED]! & USED_FULL) === 0)
        bad(`worker slot ${slot}'s reclaim list holds a page that is not a FULL head page`, from);
      from = d + P_PREV;
      d = u32[d + P_PREV]!;
    }
  }
  const ab = abandonedTable(k, n);
  for (let c = 0; c < n; c++) queue(ab + c, c, HEAP_ABANDONED, `class ${c}'s abandoned list`);
  // The large-block caches of the slots not busy (a joined worker changes its own without a lock).
  if ((u32[k + K_FLAGS]! & FLAG_REMOTE_TABLE) !== 0) {
    const seen = new Set<number>();
    const g = { base: buddy.base, pageSize: buddy.pageSize, pt };
    for (let slot = 0; slot < MAX_WORKERS; slot++)
      if ((busy & (1 << slot)) === 0) checkLargeCache(u32, largeCacheAt(k, n, slot), g, buddy.pages, slot, bad, seen);
  }
}
