/**
 * The slab cache's fsck: reads a cache descriptor back from the buffer
 * (`SlabCache.attach`, `checkInvariants()`) and checks the slab space's
 * control words, every list, every slab's freelist, the workers' slabs and
 * the counters, reporting the first thing broken as a HeapCorruptionError
 * naming its word.
 *
 * @module
 */
import { HeapCorruptionError, InvalidArgumentError, hex } from '../errors/index.js';
import type { BuddyAllocator } from '../buddy/index.js';
import { MAX_WORKERS, lockMemory, unlock } from '../memory/lock.js';
import { SlabCacheState, isPowerOfTwo, maxSlabOrder, slotLayout } from './create.js';
import {
  CACHE_WORDS,
  C_ALIGN,
  C_FLAGS,
  C_FP_OFFSET,
  C_LOCK,
  C_MIN_EMPTY,
  C_NAME,
  C_NAME_BYTES,
  C_N_PARTIAL,
  C_OBJS,
  C_OBJ_OFFSET,
  C_ORDER,
  C_PARTIAL,
  C_SECRET,
  C_SIZE,
  C_SLABS_FREED,
  C_SLABS_MADE,
  C_STRIDE,
  FREE_TAG,
  F_CHECKS,
  F_CTOR,
  F_HARDENED,
  F_POISON,
  F_RED_ZONE,
  MAX_CACHES,
  PAGE_WORDS,
  P_FREELIST,
  P_INFO,
  P_NEXT,
  P_OWNER,
  P_PREV,
  P_REMOTE,
  P_UNUSED,
  SEALED,
  SLAB_NIL,
  SPACE_CONTROL_WORDS,
  SPACE_MAGIC,
  S_CACHES,
  S_CACHE_TABLE,
  S_MAGIC,
  S_MAX_PAGES,
  S_PAGE_TABLE,
  TAIL_MARK,
} from './layout.js';
import { CPU_WORDS, NIL_PAGE, SlabSpace, W_ACTIVE, W_EMPTY, W_HEAD, W_TAIL } from './space.js';

/** Every flag a cache descriptor may carry. */
const ALL_FLAGS = F_POISON | F_RED_ZONE | F_CHECKS | F_HARDENED | F_CTOR;

function corrupt(message: string, addr: number): never {
  throw new HeapCorruptionError(`slab: ${message}`, addr);
}

/** Checks the slab space's control words at `region` against the buddy and the buffer. */
export function checkSpace(buddy: BuddyAllocator, region: number): void {
  const memory = buddy.memory;
  if (memory === null)
    throw new InvalidArgumentError('slab caches need bytes: the buddy allocator is offsets-only', 'buddy');
  memory.syncChecked();
  const bytes = memory.buffer.byteLength;
  const u32 = memory.u32;
  const w = region >>> 2;
  if (region < buddy.base || (region - buddy.base) % buddy.pageSize !== 0 || region + SPACE_CONTROL_WORDS * 4 > bytes) {
    corrupt(`no slab space at ${hex(region)} (not a page of the buddy inside the ${bytes}-byte buffer)`, region);
  }
  if (u32[w + S_MAGIC] !== SPACE_MAGIC)
    corrupt(`no slab space at ${hex(region)} (magic SLAB missing)`, region + 4 * S_MAGIC);
  if (u32[w + S_MAX_PAGES] !== buddy.maxPages) {
    corrupt(
      `slab space word maxPages is ${u32[w + S_MAX_PAGES]!}, the buddy has ${buddy.maxPages}`,
      region + 4 * S_MAX_PAGES,
    );
  }
  if (u32[w + S_CACHE_TABLE] !== SPACE_CONTROL_WORDS)
    corrupt(`slab space word cacheTable is ${u32[w + S_CACHE_TABLE]!}`, region + 4 * S_CACHE_TABLE);
  if (u32[w + S_PAGE_TABLE] !== SPACE_CONTROL_WORDS + MAX_CACHES * CACHE_WORDS) {
    corrupt(`slab space word pageTable is ${u32[w + S_PAGE_TABLE]!}`, region + 4 * S_PAGE_TABLE);
  }
  if (u32[w + S_CACHES]! > MAX_CACHES)
    corrupt(`slab space word caches is ${u32[w + S_CACHES]!} (max ${MAX_CACHES})`, region + 4 * S_CACHES);
  if (region + SlabSpace.bytesFor(buddy.maxPages) > bytes) {
    corrupt(`slab space at ${hex(region)} runs past the end of the ${bytes}-byte buffer (truncated?)`, region);
  }
}

/** The name kept in cache `id`'s descriptor. */
export function readName(space: SlabSpace, id: number): string {
  const at = space.cacheWords(id) * 4 + C_NAME * 4;
  const bytes = space.memory.u8.subarray(at, at + C_NAME_BYTES);
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(bytes.subarray(0, end < 0 ? C_NAME_BYTES : end));
}

const LIST_NAMES = ['partial', 'full', 'empty'] as const;

/**
 * attach (and checkInvariants): reads cache `id` of `space` (whose control
 * words checkSpace passed) and checks every word of it: the descriptor's
 * values against each other (the geometry is recomputed), every list walked
 * (each page inside the buddy and the buffer, on the slab grid, owned by
 * this cache, seen once: a cycle stops the walk), every slab's freelist
 * walked (each pointer in its slab, on the object grid, seen once, its tag
 * intact) and counted against the slab's inuse, the list counts and the
 * slabs made and freed, and no page of this cache off the lists; the
 * workers' own lists (each with its active slab on it) the same way (links, tail, count of
 * empty slabs, owner words). With `quiet` false (attach and recover on a
 * shared memory, where other workers may be running) the workers' slabs,
 * which change without the cache lock, are not walked, nor the counts that
 * include them: only their entries' words are checked.
 *
 * @internal
 */
export function resolveCache(
  space: SlabSpace,
  id: number,
  ctor: ((addr: number) => void) | undefined,
  quiet = true,
): SlabCacheState {
  const buddy = space.buddy;
  const memory = space.memory;
  memory.sync();
  const u32 = memory.u32;
  const bytes = memory.buffer.byteLength;
  const c = space.cacheWords(id);
  const at = (word: number): number => (c + word) * 4;
  const count = u32[(space.region >>> 2) + S_CACHES]!;
  if (id >= count) corrupt(`no slab cache ${id} in the slab space at ${hex(space.region)} (it has ${count})`, at(0));
  const flags = u32[c + C_FLAGS]!;
  if ((flags & ~ALL_FLAGS) !== 0) corrupt(`cache ${id}: flags ${hex(flags)} has unknown bits`, at(C_FLAGS));
  const top = maxSlabOrder(buddy);
  const pageSize = buddy.pageSize;
  const size = u32[c + C_SIZE]!;
  if (size < 1 || size > pageSize * 2 ** top) corrupt(`cache ${id}: size ${size} out of range`, at(C_SIZE));
  const align = u32[c + C_ALIGN]!;
  if (!isPowerOfTwo(align) || align < 8 || align > pageSize)
    corrupt(`cache ${id}: align ${align} is not a power of two in [8, ${pageSize}]`, at(C_ALIGN));
  const g = slotLayout(size, align, flags);
  if (u32[c + C_STRIDE] !== g.stride)
    corrupt(`cache ${id}: stride ${u32[c + C_STRIDE]!}, size and flags give ${g.stride}`, at(C_STRIDE));
  if (u32[c + C_OBJ_OFFSET] !== g.objOffset)
    corrupt(`cache ${id}: objOffset ${u32[c + C_OBJ_OFFSET]!}, expected ${g.objOffset}`, at(C_OBJ_OFFSET));
  if (u32[c + C_FP_OFFSET] !== g.fpOffset)
    corrupt(`cache ${id}: fpOffset ${u32[c + C_FP_OFFSET]!}, expected ${g.fpOffset}`, at(C_FP_OFFSET));
  const order = u32[c + C_ORDER]!;
  if (order > top) corrupt(`cache ${id}: order ${order} above ${top}`, at(C_ORDER));
  const objs = Math.floor((pageSize * 2 ** order) / g.stride);
  if (u32[c + C_OBJS] !== objs || objs < 1 || objs >= TAIL_MARK)
    corrupt(`cache ${id}: objects per slab ${u32[c + C_OBJS]!}, geometry gives ${objs}`, at(C_OBJS));
  const secret = u32[c + C_SECRET]! | 0;
  if ((flags & F_HARDENED) === 0 && secret !== 0)
    corrupt(`cache ${id}: a free-pointer secret without the hardened flag`, at(C_SECRET));
  if (u32[c + C_MIN_EMPTY]! > 1 << 20)
    corrupt(`cache ${id}: minEmpty ${u32[c + C_MIN_EMPTY]!} out of range`, at(C_MIN_EMPTY));
  if (ctor !== undefined && (flags & F_CTOR) === 0) {
    throw new InvalidArgumentError(`cache ${id} was made without a ctor`, 'ctor');
  }

  // The lists: every slab once, inside the buddy's pages and the buffer.
  const base = buddy.base;
  const pt = space.pageTable;
  const slabPages = 2 ** order;
  const pagesInBuffer = Math.max(0, Math.floor((bytes - base) / pageSize));
  const limit = Math.min(buddy.pages >>> 0, buddy.maxPages, pagesInBuffer); // >>> 0: a truncated buddy state reads undefined
  const id1 = id + 1;
  const seen = new Set<number>();
  const span = objs * g.stride;
  for (let l = 0; l < 3; l++) {
    const list = C_PARTIAL + l;
    const name = LIST_NAMES[l]!;
    let pg = u32[c + list]!;
    let prev = SLAB_NIL;
    let linkAt = at(list);
    let n = 0;
    while (pg !== SLAB_NIL) {
      if (pg >= limit || pg + slabPages > limit || pg % slabPages !== 0)
        corrupt(`cache ${id}: ${name} list reaches page ${pg}, not a slab inside the heap`, linkAt);
      if (seen.has(pg))
        corrupt(`cache ${id}: ${name} list reaches slab page ${pg} a second time (a cycle, or on two lists)`, linkAt);
      seen.add(pg);
      const d = pt + pg * PAGE_WORDS;
      const info = u32[d + P_INFO]!;
      const inuse = info >>> 16;
      if ((info & 0xffff) !== id1)
        corrupt(`cache ${id}: slab page ${pg} on its ${name} list belongs to owner ${info & 0xffff}`, (d + P_INFO) * 4);
      const okInuse = l === 0 ? inuse > 0 && inuse < objs : l === 1 ? inuse === objs : inuse === 0;
      if (!okInuse)
        corrupt(
          `cache ${id}: slab page ${pg} with ${inuse} of ${objs} objects in use is on the ${name} list`,
          (d + P_INFO) * 4,
        );
      if (u32[d + P_PREV] !== prev)
        corrupt(`cache ${id}: slab page ${pg} has prev link ${u32[d + P_PREV]!}, expected ${prev}`, (d + P_PREV) * 4);
      for (let t = 1; t < slabPages; t++) {
        const dt = pt + (pg + t) * PAGE_WORDS;
        if (u32[dt + P_FREELIST] !== pg || u32[dt + P_INFO] !== ((TAIL_MARK << 16) | id1) >>> 0) {
          corrupt(`cache ${id}: tail page ${pg + t} of slab page ${pg} is not marked as its tail`, dt * 4);
        }
      }
      if (u32[d + P_OWNER] !== 0)
        corrupt(`cache ${id}: slab page ${pg} on its ${name} list is marked active`, (d + P_OWNER) * 4);
      const start = base + pg * pageSize;
      // objects freed by other workers wait on a partial slab's remote-free list (per-worker mode),
      // still counted in inuse: the list is checked for bounds, its length against what inuse leaves
      let remote = 0;
      const rw = u32[d + P_REMOTE]!;
      if (l === 0 && space.cpuTable >= 0 && rw !== SEALED) {
        for (let p = rw; p !== 0; p = u32[(p + g.fpOffset) >>> 2]!) {
          if (p < start || p >= start + span || (p - start) % g.stride !== 0 || ++remote > objs)
            corrupt(`cache ${id}: slab page ${pg}: its remote-free list reaches ${hex(p)}`, (d + P_REMOTE) * 4);
        }
      }
      if (remote > inuse)
        corrupt(`cache ${id}: slab page ${pg}: ${remote} remote frees, ${inuse} in use`, (d + P_REMOTE) * 4);
      checkFreelist(u32, d, start, span, g.stride, g.fpOffset, g.objOffset, secret, objs - inuse, id);
      prev = pg;
      linkAt = (d + P_NEXT) * 4;
      pg = u32[d + P_NEXT]!;
      n++;
    }
    if (u32[c + C_N_PARTIAL + l] !== n)
      corrupt(`cache ${id}: ${name} count is ${u32[c + C_N_PARTIAL + l]!}, the list has ${n}`, at(C_N_PARTIAL + l));
  }
  // The workers' slabs (off the cache's lists): each worker's own list, its active slab on it, each a
  // slab of this cache whose owner word names the worker, its remote list open and in bounds, its
  // freelist whole; the list's links, tail and count of empty slabs as the entry says.
  let active = 0;
  const workerSlab = (pg: number, w: number, what: string, from: number): void => {
    const d = pt + pg * PAGE_WORDS;
    if (pg >= limit || pg + slabPages > limit || pg % slabPages !== 0 || seen.has(pg))
      corrupt(`cache ${id}: worker ${w}'s ${what} ${pg} is not a slab of this cache off the lists`, from);
    if ((u32[d + P_INFO]! & 0xffff) !== id1)
      corrupt(`cache ${id}: worker ${w}'s ${what} ${pg} belongs to owner ${u32[d + P_INFO]! & 0xffff}`, from);
    for (let t = 1; t < slabPages; t++) {
      const dt = pt + (pg + t) * PAGE_WORDS;
      if (u32[dt + P_FREELIST] !== pg || u32[dt + P_INFO] !== ((TAIL_MARK << 16) | id1) >>> 0)
        corrupt(`cache ${id}: tail page ${pg + t} of slab page ${pg} is not marked as its tail`, dt * 4);
    }
    if (u32[d + P_OWNER] !== w + 1 || u32[d + P_REMOTE] === SEALED)
      corrupt(`cache ${id}: ${what} ${pg} of worker ${w} is not marked as that worker's`, (d + P_OWNER) * 4);
    const start = base + pg * pageSize;
    const inuse = u32[d + P_INFO]! >>> 16;
    if (inuse > objs) corrupt(`cache ${id}: slab page ${pg} has ${inuse} of ${objs} objects in use`, (d + P_INFO) * 4);
    let remote = 0;
    for (let p = u32[d + P_REMOTE]!; p !== 0; p = u32[(p + g.fpOffset) >>> 2]!) {
      if (p < start || p >= start + span || (p - start) % g.stride !== 0 || ++remote > objs)
        corrupt(`cache ${id}: slab page ${pg}: its remote-free list reaches ${hex(p)}`, (d + P_REMOTE) * 4);
    }
    if (remote > inuse)
      corrupt(`cache ${id}: slab page ${pg}: ${remote} remote frees, ${inuse} in use`, (d + P_REMOTE) * 4);
    checkFreelist(u32, d, start, span, g.stride, g.fpOffset, g.objOffset, secret, objs - inuse, id);
    seen.add(pg);
  };
  const made = (): SlabCacheState =>
    new SlabCacheState(
      space,
      id,
      readName(space, id),
      size,
      align,
      flags,
      g.stride,
      g.objOffset,
      g.fpOffset,
      order,
      objs,
      secret,
      ctor,
    );
  if (space.cpuTable >= 0 && !quiet) {
    // Workers may be running: their slabs change without the cache lock. Only the entries' words.
    for (let w = 0; w < MAX_WORKERS; w++) {
      const e = space.cpuTable + (w * MAX_CACHES + id) * CPU_WORDS;
      for (const k of [W_ACTIVE, W_HEAD, W_TAIL]) {
        const v = u32[e + k]!; // read once: its worker may change it meanwhile
        if (v !== NIL_PAGE && v >= limit)
          corrupt(`cache ${id}: worker ${w}'s entry word ${k} is ${v}, not a page of the heap`, (e + k) * 4);
      }
    }
    return made();
  }
  if (space.cpuTable >= 0) {
    for (let w = 0; w < MAX_WORKERS; w++) {
      const e = space.cpuTable + (w * MAX_CACHES + id) * CPU_WORDS;
      const act = u32[e + W_ACTIVE]!; // on the list (the walk checks it there)
      if (act !== NIL_PAGE && act >= limit)
        corrupt(`cache ${id}: worker ${w}'s active slab ${act} is not a page of the heap`, (e + W_ACTIVE) * 4);
      let prev = NIL_PAGE;
      let from = (e + W_HEAD) * 4;
      let empty = 0;
      let onList = false;
      for (let q = u32[e + W_HEAD]!; q !== NIL_PAGE; q = u32[pt + q * PAGE_WORDS + P_NEXT]!) {
        workerSlab(q, w, q === act ? 'active slab' : 'listed slab', from);
        const d = pt + q * PAGE_WORDS;
        if (u32[d + P_PREV] !== prev)
          corrupt(`cache ${id}: slab page ${q} has prev link ${u32[d + P_PREV]!}, expected ${prev}`, (d + P_PREV) * 4);
        if (q === act) onList = true;
        else if (u32[d + P_INFO]! >>> 16 === 0) empty++;
        prev = q;
        from = (d + P_NEXT) * 4;
        active++;
      }
      if (act !== NIL_PAGE && !onList)
        corrupt(`cache ${id}: worker ${w}'s active slab ${act} is not on its list`, (e + W_ACTIVE) * 4);
      if (act === NIL_PAGE && prev !== NIL_PAGE)
        corrupt(`cache ${id}: worker ${w} has slabs on its list and no active one`, (e + W_ACTIVE) * 4);
      if (u32[e + W_TAIL] !== prev)
        corrupt(
          `cache ${id}: worker ${w}'s list ends at ${prev}, its tail word says ${u32[e + W_TAIL]!}`,
          (e + W_TAIL) * 4,
        );
      if (u32[e + W_EMPTY] !== empty)
        corrupt(
          `cache ${id}: worker ${w}'s list has ${empty} empty slabs, its count says ${u32[e + W_EMPTY]!}`,
          (e + W_EMPTY) * 4,
        );
    }
  }
  if ((u32[c + C_SLABS_MADE]! - u32[c + C_SLABS_FREED]!) >>> 0 !== seen.size) {
    corrupt(
      `cache ${id}: ${u32[c + C_SLABS_MADE]!} slabs made and ${u32[c + C_SLABS_FREED]!} freed, ${seen.size - active} on the cache's lists and ${active} workers'`,
      at(C_SLABS_MADE),
    );
  }
  // No slab of this cache off the lists (a lost slab would be a leak that free() still routes to).
  for (let pg = 0; pg < buddy.maxPages; pg++) {
    const info = u32[pt + pg * PAGE_WORDS + P_INFO]!;
    if ((info & 0xffff) !== id1) continue;
    const head = info >>> 16 === TAIL_MARK ? u32[pt + pg * PAGE_WORDS + P_FREELIST]! : pg;
    if (!seen.has(head))
      corrupt(
        `cache ${id}: page ${pg} is marked as this cache's but its slab is on no list`,
        (pt + pg * PAGE_WORDS + P_INFO) * 4,
      );
  }
  return made();
}

/**
 * resolveCache under the cache's lock when the memory is shared (another
 * worker may be changing the cache while attach checks it).
 *
 * @internal
 */
export function lockedResolve(
  space: SlabSpace,
  id: number,
  ctor: ((addr: number) => void) | undefined,
  ownsSlot: boolean,
): SlabCacheState {
  const memory = space.memory;
  memory.sync();
  const c = space.cacheWords(id);
  const count = memory.u32[(space.region >>> 2) + S_CACHES]!;
  if (!memory.shared || id >= count) return withSlot(resolveCache(space, id, ctor), ownsSlot);
  const slot = space.buddy.slot;
  lockMemory(memory, c + C_LOCK, slot);
  try {
    // (other workers may be running: their own slabs are not checked here, see resolveCache)
    return withSlot(resolveCache(space, id, ctor, false), ownsSlot);
  } finally {
    unlock(memory.i32, c + C_LOCK, slot);
  }
}

function withSlot(s: SlabCacheState, ownsSlot: boolean): SlabCacheState {
  if (!ownsSlot) return s;
  return new SlabCacheState(
    s.space,
    s.id,
    s.name,
    s.size,
    s.align,
    s.flags,
    s.stride,
    s.objOffset,
    s.fpOffset,
    s.order,
    s.objs,
    s.secret,
    s.ctor,
    true,
  );
}

/**
 * Walks the freelist of the slab of descriptor `d` at `start` (at most one
 * step per object) and checks it holds `free` objects with the never-used tail.
 */
function checkFreelist(
  u32: Uint32Array,
  d: number,
  start: number,
  span: number,
  stride: number,
  fpOffset: number,
  objOffset: number,
  secret: number,
  free: number,
  id: number,
): void {
  const unused = u32[d + P_UNUSED]!;
  const onGrid = (p: number): boolean => p >= start && p < start + span && (p - start) % stride === 0;
  if (unused !== 0 && !onGrid(unused))
    corrupt(
      `cache ${id}: slab ${hex(start)}: first never-used slot ${hex(unused)} is off its grid`,
      (d + P_UNUSED) * 4,
    );
  const untouched = unused === 0 ? 0 : (start + span - unused) / stride;
  const mark = new Uint8Array(span / stride);
  let p = u32[d + P_FREELIST]!;
  let from = (d + P_FREELIST) * 4;
  let n = 0;
  while (p !== 0) {
    if (!onGrid(p) || (unused !== 0 && p >= unused))
      corrupt(`cache ${id}: slab ${hex(start)}: freelist points to ${hex(p)}, not a free slot of the slab`, from);
    const i = (p - start) / stride;
    if (mark[i] !== 0) corrupt(`cache ${id}: slab ${hex(start)}: freelist reaches ${hex(p)} twice (a cycle)`, from);
    mark[i] = 1;
    n++;
    const fpAddr = p + fpOffset;
    const raw = u32[fpAddr >>> 2]!;
    if (u32[(fpAddr >>> 2) + 1] !== (raw ^ FREE_TAG ^ secret) >>> 0) {
      corrupt(`cache ${id}: free object ${hex(p + objOffset)}: free pointer or tag overwritten`, fpAddr);
    }
    from = fpAddr;
    p = secret === 0 ? raw : (raw ^ secret ^ fpAddr) >>> 0;
  }
  if (n + untouched !== free)
    corrupt(
      `cache ${id}: slab ${hex(start)}: ${free} objects free by its inuse count, ${n + untouched} on its freelist`,
      (d + P_INFO) * 4,
    );
}
