/**
 * Arena: the lecture's bump allocator ("Arena Allocation").
 *
 * An arena hands out memory by bumping a pointer, `top`, towards the end of
 * its current chunk, and frees everything at once:
 * ```
 *   start            data [....................................] end
 *                         ^top
 *   alloc(4)         data [AAAA................................] end
 *                             ^top
 *   alloc(16)        data [AAAA....BBBBBBBBBBBBBBBB............] end
 *                         (4 bytes of padding: align 8)  ^top
 *   reset()          data [....................................] end
 *                         ^top        "looks the same as when we started"
 * ```
 * States and transitions:
 * - alloc fits in the current chunk: `top += padding + size` (the fast path:
 *   a few integer operations on the state words, nothing else).
 * - alloc does not fit: the slow path moves to another chunk. A fixed arena
 *   throws `OutOfMemoryError`; a growing one reuses a spare chunk (memory
 *   mode) or makes a new one (grows the Memory, or takes pages from the
 *   buddy), chains it after the current one, and counts the bytes left
 *   behind as `waste`.
 * - `mark()` records (generation, top); `rewind(mark)` puts `top` back
 *   there, making every later chunk spare again (memory mode) or giving it
 *   back to the buddy; `reset()` rewinds to the first byte and starts a new
 *   generation. A mark that a rewind or reset released is refused from then
 *   on (the floor stack in layout.ts).
 * - Made one way: `new Arena(options)` and `Arena.attach(memory)` both build
 *   an {@link ArenaInit} (create.ts; attach checks the state first, an
 *   fsck) and run the one constructor.
 *
 * Invariants (checked by the tests): allocations lie inside a chunk's data,
 * never overlap while live, are aligned as asked; `used` equals the bytes
 * bumped since the last reset; after `reset()` the arena hands out the very
 * same addresses as when new.
 *
 * Hot-path choice: `top` and `end` are read from and written to a 48-word
 * `Int32Array` over the state region on every call, never cached in JS
 * fields. `bench/arena.ts` measures the alternative (fields, with `top`
 * written back to the buffer as principle 1 demands) side by side: no
 * faster (the view ran at 0.9x-1.3x its speed), so the view wins: a second
 * instance (`Arena.attach`, another worker) is always exactly in step. An
 * `Int32Array` (values below 2^31) beat a `Uint32Array` by about 10%: the
 * arithmetic stays in int32.
 *
 * @module
 */
import {
  HeapCorruptionError,
  InvalidArgumentError,
  MemkitError,
  OutOfMemoryError,
  argumentError,
  hex,
} from '../errors/index.js';
import { H_WORKERS } from '../memory/header.js';
import { HEADER_BYTES, HeaderSlot, Memory, readSlot, writeSlot } from '../memory/index.js';
import { MAX_WORKERS, breakLock, leaveWorker, lock, unlock } from '../memory/lock.js';
import type { ArenaAttachOptions, ArenaChunkInfo, ArenaOptions, ArenaScope, ArenaStats, PageSource } from './api.js';
import { ArenaInit, checkBlock, checkState } from './create.js';
import {
  ARENA_MAGIC,
  CHUNK_ALIGN,
  CHUNK_HEADER_BYTES,
  C_END,
  C_PREV,
  C_USED0,
  C_WASTE0,
  EPOCH_LIMIT,
  FLOOR_PAIRS,
  FLOOR_WORDS,
  MARK_EPOCH_UNIT,
  NO_MARK,
  MAX_ALIGN,
  MODE_BUDDY,
  MODE_FIXED,
  MODE_MEMORY,
  STATE_WORDS,
  S_LOCK,
  S_CAPACITY,
  S_CHUNKS,
  S_CUR,
  S_DEPTH,
  S_END,
  S_FIRST,
  S_FLOORS,
  S_GEN,
  S_GROW,
  S_HI_MARK,
  S_LIMIT,
  S_MAGIC,
  S_MAX,
  S_MODE,
  S_PAGE_SIZE,
  S_TOP,
} from './layout.js';

/**
 * The state words the fast paths (alloc, reset) touch, as module-local constants.
 * V8 reads an imported binding through its module cell on every use; with
 * `S_TOP`/`S_END` imported, `alloc` measured about 1.5x slower. They mirror
 * layout.ts and are checked against it once, here.
 */
const MAGIC = 0;
const TOP = 3;
const END = 4;
const CUR = 5;
const FIRST = 6;
const GEN = 12;
const HI_MARK = 14;
const DEPTH = 15;
const FLOORS = 16;
const FW = 4;
/** CHUNK_HEADER_BYTES - 1: the fast paths' bound on top is `top > cur + 15` (its chunk's data). */
const CHUNK_DATA_MINUS_1 = 15;
if (
  FW !== FLOOR_WORDS ||
  CHUNK_DATA_MINUS_1 !== CHUNK_HEADER_BYTES - 1 ||
  MAGIC !== S_MAGIC ||
  TOP !== S_TOP ||
  END !== S_END ||
  CUR !== S_CUR ||
  FIRST !== S_FIRST ||
  GEN !== S_GEN ||
  HI_MARK !== S_HI_MARK ||
  DEPTH !== S_DEPTH ||
  FLOORS !== S_FLOORS
) {
  throw new Error('memkit arena: hot-path indices disagree with layout.ts');
}

/** The state view of a disposed arena: every read is `undefined`. */
const DISPOSED = new Int32Array(0);

/**
 * `top` of a shared arena while a worker holding its lock moves it to
 * another chunk (or rewinds it): no bump fits (the aligned address wraps
 * negative), so every other worker's alloc goes to the locked slow path and
 * waits there. The lock holder stores the new `top` last.
 */
const CLOSED = 0x7fffffff;

/**
 * A bump allocator over memkit memory: `alloc(size, align)` returns a byte
 * offset into {@link Arena.memory}; `reset()`, `rewind(mark)` or the end of
 * a scope free everything allocated after a point at once.
 *
 * @example
 * ```ts
 * const arena = new Arena({ bytes: 1024 });
 * const a = arena.alloc(4);           // 4 bytes, 8-aligned
 * const b = arena.alloc(16);          // right after a (plus padding)
 * arena.memory.u8[a] = 42;
 * arena.reset();                      // everything freed; used === 0
 *
 * // Growth is opt-in: chain chunks up to maxBytes in total
 * const big = new Arena({ bytes: 4096, maxBytes: 1 << 20 });
 * // Scopes: everything allocated inside is freed at the end of the block
 * { using _s = big.scope(); big.alloc(100); }
 * big.run(() => big.alloc(100));      // the callback form
 * ```
 */
export class Arena implements Disposable {
  /** The bytes the arena's addresses index (`memory.u8[addr]`). */
  readonly memory: Memory;
  /** Address of the arena's state region in {@link Arena.memory}. */
  readonly stateAddress: number;
  /** The page source of a buddy-backed arena, else `null`. */
  readonly buddy: PageSource | null;
  /** The state region as 32-bit words, all below 2^31 (or {@link DISPOSED}). */
  private s: Int32Array;
  /**
   * True for a shared arena (memory mode on a shared memory): `alloc` bumps
   * `top` with `Atomics.compareExchange`, and the slow paths (a new chunk,
   * rewind, reset, the counters) take the arena's lock word.
   */
  private readonly atomic: boolean;
  /** The worker slot this instance takes the lock under (0: the maker, or not shared). */
  private readonly slot: number;
  /** True while this instance holds a worker slot it joined itself (attach), so detach gives it back. */
  private ownsSlot: boolean;
  /**
   * The `end` word as a slow path last found it equal to the current chunk's
   * header (its C_END): the fast path bumps only while `end` still reads so.
   * `end` alone is one word of the state region, and damaged upwards it let
   * alloc hand out bytes past the chunk (another allocator's, in buddy mode);
   * the header is another cache line, which the fast path does not read. A
   * new chunk, a rewind or a reset (by this instance or another) changes
   * `end`: the next alloc takes the slow path once and refreshes this.
   */
  private endSeen: number;

  /**
   * Makes a new arena.
   * - `{ bytes }`: one fixed chunk of `bytes` usable bytes in a Memory of
   *   its own; when full, `alloc` throws `OutOfMemoryError`.
   * - `{ bytes, maxBytes, chunkBytes? }`: the same, growing the Memory by
   *   chained chunks up to `maxBytes` usable bytes in total.
   * - `{ buddy, chunkPages?, maxBytes? }`: chunks are blocks of a
   *   memory-backed `BuddyAllocator`; every chunk beyond the first goes back
   *   on `reset`/`rewind`, the first on `dispose`.
   *
   * - no options: `{ bytes: 4096, maxBytes: 2^28 }`, a small arena that
   *   grows on demand.
   *
   * @throws InvalidArgumentError for an option out of range or unknown
   * (`argument` names it), or a buddy without memory; OutOfMemoryError if
   * the buddy has no first chunk. Nothing is made or taken then.
   */
  constructor(options?: ArenaOptions) {
    // The one construction path: `attach` passes the ArenaInit it opened.
    const init = options instanceof ArenaInit ? options : ArenaInit.create(options);
    this.memory = init.memory;
    this.stateAddress = init.at;
    this.buddy = init.buddy;
    this.s = new Int32Array(init.memory.buffer, init.at, STATE_WORDS);
    this.atomic = init.memory.shared && init.buddy === null;
    this.slot = init.slot;
    this.ownsSlot = init.ownsSlot;
    this.endSeen = -1; // (no end yet: the first alloc checks it against the chunk header)
  }

  /**
   * A second instance over an arena that already lives in `memory` (made
   * by another worker, or an earlier instance, or kept in a copy of the
   * buffer). Both see and change the same state.
   *
   * The state is checked first (an fsck: every word against the buffer's
   * length and the others, the chunk chain walked at most `chunks` steps).
   *
   * @throws HeapCorruptionError if there is no memkit header, no arena
   * registered or no arena state at the address, or the state is damaged or
   * cut short (`address` names the word); InvalidArgumentError for a bad
   * argument, or a buddy-backed arena attached without its `buddy`.
   *
   * @example
   * ```ts
   * arena.alloc(96);
   * const other = Arena.attach(arena.memory); // same buffer, same state
   * other.alloc(8);
   * arena.stats().used; // 104
   * ```
   */
  static attach(memory: Memory, options?: ArenaAttachOptions): Arena {
    return new Arena(ArenaInit.open(memory, options) as ArenaOptions);
  }

  /**
   * Leaves a shared arena: gives back the worker slot that
   * {@link Arena.attach} took (nothing to do otherwise). The instance must
   * not be used after. Idempotent.
   *
   * @example
   * ```ts
   * const shared = new Arena({ bytes: 4096, shared: true });
   * const mine = Arena.attach(shared.memory); // as a worker would: takes a slot
   * mine.alloc(16);
   * mine.detach();
   * ```
   */
  detach(): void {
    if (!this.ownsSlot) return;
    this.ownsSlot = false;
    this.memory.sync();
    leaveWorker(this.memory.i32, H_WORKERS, this.slot);
  }

  /**
   * Releases what a worker that died without {@link Arena.detach} held in
   * the shared arena of `memory` (the one its header registers): the arena's
   * lock, if its slot held it, and the slot. Call it from the thread that
   * saw the worker exit. Returns true if the dead worker held the lock; if
   * it died while moving the arena to a new chunk, the rest of the current
   * chunk is given up (counted as used) so that allocation goes on.
   *
   * @throws InvalidArgumentError if `slot` is not a worker slot (1..31).
   * @throws HeapCorruptionError if `memory` holds no arena.
   *
   * @example
   * ```ts
   * const shared = new Arena({ bytes: 4096, shared: true });
   * const w = Arena.attach(shared.memory);   // a worker's instance, slot w.workerSlot
   * Arena.recover(shared.memory, w.workerSlot); // that worker died: free its slot
   * shared.checkInvariants();
   * ```
   */
  static recover(memory: Memory, slot: number): boolean {
    if (typeof slot !== 'number' || !Number.isInteger(slot) || slot < 1 || slot >= MAX_WORKERS)
      throw argumentError('slot', `a worker slot (a whole number in [1, ${MAX_WORKERS - 1}])`, slot);
    if (!(memory instanceof Memory)) throw argumentError('memory', 'a Memory', memory);
    memory.sync();
    const at = readSlot(memory, HeaderSlot.Arena);
    if (
      at === 0 ||
      at % 8 !== 0 ||
      at + STATE_WORDS * 4 > memory.buffer.byteLength ||
      memory.u32[at >>> 2] !== ARENA_MAGIC
    )
      throw new HeapCorruptionError(
        'no arena registered in this memory (header slot Arena)',
        16 + 4 * HeaderSlot.Arena,
      );
    const s = new Int32Array(memory.buffer, at, STATE_WORDS);
    const broke = breakLock(s, S_LOCK, slot);
    if (broke && Atomics.load(s, TOP) === CLOSED) Atomics.store(s, TOP, Atomics.load(s, END));
    if ((memory.u32[H_WORKERS]! & (1 << slot)) !== 0) leaveWorker(memory.i32, H_WORKERS, slot);
    return broke;
  }

  /**
   * The worker slot this instance takes the arena's lock under: 0 for the
   * arena's maker (or an arena that is not shared), the slot `attach`
   * joined otherwise (for {@link Arena.recover}).
   *
   * @example
   * ```ts
   * const shared = new Arena({ bytes: 4096, shared: true });
   * shared.workerSlot;                          // 0
   * Arena.attach(shared.memory).workerSlot;     // 1: a slot of its own
   * ```
   */
  get workerSlot(): number {
    return this.slot;
  }

  /** Takes the lock of a shared arena. */
  private enter(): Int32Array {
    const s = this.state();
    lock(s, S_LOCK, this.slot);
    this.memory.sync(); // the chain may lead into bytes another worker grew the memory by
    return s;
  }

  /** Releases it. */
  private leave(): void {
    unlock(this.s, S_LOCK, this.slot);
  }

  /**
   * Allocates `size` bytes aligned to `align` and returns their address.
   * The bytes are not cleared (after a reset they hold old data).
   *
   * @param size - bytes, a whole number >= 1 (0 is rejected, as everywhere
   * in memkit).
   * @param align - a power of two, at most 2^30 (default 8).
   * @throws InvalidArgumentError for a size that is 0, negative,
   * fractional, NaN, infinite or larger than the arena can ever hold, or a
   * bad `align`; OutOfMemoryError when it does not fit and the arena cannot
   * grow. Either way the arena is unchanged.
   *
   * @example
   * ```ts
   * const p = arena.alloc(24, 16);   // p % 16 === 0
   * ```
   */
  alloc(size: number, align: number = 8): number {
    if (this.atomic) return this.allocAtomic(size, align);
    // typeof first: an object's valueOf or a BigInt never reaches arithmetic.
    if (typeof size === 'number' && typeof align === 'number') {
      const s = this.s;
      const top = s[TOP]!;
      const a = (top + align - 1) & -align;
      const next = a + size;
      const end = s[END]!;
      // fits; `end` is the one a slow path checked against the chunk header
      // (endSeen); no wrap-around (and align != 0); size >= 1; align a power
      // of two; size a whole number below 2^31; top inside the current chunk's
      // data (a damaged top of 0 or -1 would hand out the memkit header).
      // NaN, a detached view (after a wasm grow) or a disposed arena fail a
      // comparison: slow path.
      if (
        next <= end &&
        end === this.endSeen &&
        top <= a &&
        a < next &&
        (align & -align) === align &&
        (size | 0) === size &&
        top > s[CUR]! + CHUNK_DATA_MINUS_1
      ) {
        s[TOP] = next;
        return a;
      }
    }
    return this.allocSlow(size, align);
  }

  /**
   * alloc of a shared arena: the same bump, made with one compareExchange on
   * `top` (retried if another worker bumped first). `top` is read before
   * `end`: a worker that moves the arena to a new chunk closes `top` first
   * and writes it last, so a bump checked against a new `end` with an old
   * `top` fails its compareExchange.
   */
  private allocAtomic(size: number, align: number): number {
    if (typeof size === 'number' && typeof align === 'number' && (align & -align) === align && (size | 0) === size) {
      const s = this.s;
      for (;;) {
        const top = Atomics.load(s, TOP);
        const a = (top + align - 1) & -align;
        const next = a + size;
        const end = Atomics.load(s, END);
        // CUR is read after top: a worker that moves to a new chunk closes top first.
        if (!(next <= end && end === this.endSeen && top <= a && a < next && top > s[CUR]! + CHUNK_DATA_MINUS_1)) break;
        if (Atomics.compareExchange(s, TOP, top, next) === top) {
          // The chunk may be one another worker chained in bytes it grew the memory by.
          if (next > this.memory.viewBytes) this.memory.sync();
          return a;
        }
      }
    }
    this.enter();
    try {
      return this.allocSlow(size, align);
    } finally {
      this.leave();
    }
  }

  /**
   * A mark: where the arena is now. Pass it to {@link Arena.rewind} to free
   * everything allocated after this point. A mark is a plain number
   * (`(generation mod 2^21) * 2^32 + top`); it goes stale at the next
   * `reset()`, and when a rewind releases its position (see layout.ts).
   *
   * @example
   * ```ts
   * const m = arena.mark();
   * arena.alloc(100);
   * arena.rewind(m); // the 100 bytes are free again
   * ```
   */
  mark(): number {
    if (!this.atomic) return this.markHere();
    this.enter();
    try {
      return this.markHere();
    } finally {
      this.leave();
    }
  }

  private markHere(): number {
    const s = this.state();
    const used = this.usedHere();
    if (used > s[S_HI_MARK]!) s[S_HI_MARK] = used;
    const t = FLOORS + FW * (s[S_DEPTH]! - 1);
    if (used > s[t + 1]!) {
      if (used < s[t + 2]!) s[t + 2] = used;
    } else if (used === s[t + 1]) s[t + 3] = 1;
    return (s[S_GEN]! & (EPOCH_LIMIT - 1)) * MARK_EPOCH_UNIT + s[S_TOP]!;
  }

  /**
   * Frees everything allocated since `mark` was taken. Chunks chained
   * after the mark's chunk become spare (memory mode) or go back to the
   * buddy.
   *
   * @throws InvalidArgumentError if `mark` is not a mark of this arena, or
   * is stale: from before the last `reset()`, beyond the current top, or
   * released by a rewind to an earlier point since it was taken (even if
   * the top has passed it again). The arena is unchanged then.
   *
   * @example
   * ```ts
   * arena.alloc(16);
   * const m = arena.mark();
   * for (let i = 0; i < 10; i++) arena.alloc(64); // scratch work
   * arena.rewind(m);
   * arena.stats().used; // 16
   * ```
   */
  rewind(mark: number): void {
    if (!this.atomic) return this.rewindHere(mark);
    this.enter();
    try {
      this.rewindHere(mark);
    } finally {
      this.leave();
    }
  }

  private rewindHere(mark: number): void {
    const s = this.state();
    if (typeof mark !== 'number' || !Number.isInteger(mark) || mark < 0 || mark >= EPOCH_LIMIT * MARK_EPOCH_UNIT) {
      throw argumentError('mark', 'a mark (a number mark() returned)', mark);
    }
    const low = Math.floor(mark / MARK_EPOCH_UNIT);
    const pos = mark - low * MARK_EPOCH_UNIT;
    const gen = s[S_GEN]!;
    // The latest generation with these low bits (marks carry gen mod 2^21).
    const g = (gen - ((gen - low) & (EPOCH_LIMIT - 1))) | 0;
    const u32 = this.memory.u32;
    // On a buddy the chain is checked first: a damaged link would lead the search below to a
    // block of another owner (or blame the mark for the damage).
    if (this.buddy !== null) this.checkChain(s, u32, -1);
    let c = s[S_CUR]!;
    for (let n = s[S_CHUNKS]!; c !== 0 && !(pos >= c + CHUNK_HEADER_BYTES && pos <= u32[(c >>> 2) + C_END]!); n--) {
      if (n <= 0)
        throw new HeapCorruptionError(
          `arena chunk chain from ${hex(s[S_CUR]!)} is longer than its ${s[S_CHUNKS]!} chunks`,
          this.stateAddress,
        );
      c = u32[(c >>> 2) + C_PREV]!;
    }
    if (c === 0) throw new InvalidArgumentError(`stale mark ${hex(pos)}: not inside a chunk of this arena`, 'mark');
    if (c === s[S_CUR] && pos > s[S_TOP]!) {
      throw new InvalidArgumentError(`stale mark ${hex(pos)}: beyond the current top ${hex(s[S_TOP]!)}`, 'mark');
    }
    const offset = u32[(c >>> 2) + C_USED0]! + pos - (c + CHUNK_HEADER_BYTES);
    // The generation the bytes at `offset` were last allocated in.
    let i = s[S_DEPTH]! - 1;
    while (i > 0 && s[FLOORS + FW * i + 1]! >= offset) i--;
    const born = s[FLOORS + FW * i]!;
    if (((g - born) | 0) < 0) {
      const why = i === 0 ? 'taken before a reset' : 'a rewind released it after it was taken';
      throw new InvalidArgumentError(
        `stale mark ${hex(pos)}: ${why} (generation ${g}, its bytes are from ${born})`,
        'mark',
      );
    }
    if (this.atomic) Atomics.store(s, S_TOP, CLOSED); // no bump while the chunk changes
    this.releaseAfter(c, true); // (the chain was checked above, and c found on it)
    s[S_CUR] = c;
    Atomics.store(s, S_END, u32[(c >>> 2) + C_END]!);
    Atomics.store(s, S_TOP, pos);
    this.pushFloor(s, offset);
  }

  /**
   * Records a rewind to `offset`: a new generation if a mark of this one
   * lies above it, then the floor stack (pop the floors at or above it,
   * push this one). See layout.ts.
   */
  private pushFloor(s: Int32Array, offset: number): void {
    let gen = s[S_GEN]!;
    if (s[S_HI_MARK]! > offset) {
      gen = (gen + 1) | 0;
      s[S_GEN] = gen;
      s[S_HI_MARK] = -1;
    }
    let depth = s[S_DEPTH]!;
    while (depth > 1 && s[FLOORS + FW * (depth - 1) + 1]! >= offset) depth--;
    // The mark rewound to sits at `offset`: count it as a mark of the entry below.
    const t = FLOORS + FW * (depth - 1);
    if (offset < s[t + 2]!) s[t + 2] = offset;
    if (s[t] !== gen) {
      if (depth === FLOOR_PAIRS) depth = this.mergeFloors(s, depth);
      const e = FLOORS + FW * depth;
      s[e] = gen;
      s[e + 1] = offset;
      s[e + 2] = NO_MARK;
      s[e + 3] = 0;
      depth++;
    }
    s[S_DEPTH] = depth;
  }

  /**
   * The floor stack is full: merges two neighbours i, i+1 (i >= 1) into
   * (gen_{i+1}, floor_i), the newest pair whose entry i has no mark below
   * floor_{i+1}, else the newest pair. Returns the new depth.
   */
  private mergeFloors(s: Int32Array, depth: number): number {
    let i = depth - 2;
    for (let j = depth - 2; j >= 1; j--) {
      if (s[FLOORS + FW * j + 2]! >= s[FLOORS + FW * (j + 1) + 1]!) {
        i = j;
        break;
      }
    }
    const a = FLOORS + FW * i;
    const b = a + FW;
    // Entry i's marks above floor_{i+1} were stale already and those between
    // the floors are given up: what is left above floor_i is entry i+1's.
    s[a] = s[b]!;
    s[a + 2] = s[b + 3] === 1 && s[b + 1]! < s[b + 2]! ? s[b + 1]! : s[b + 2]!;
    for (let k = b; k + FW < FLOORS + FW * depth; k++) s[k] = s[k + FW]!;
    return depth - 1;
  }

  /**
   * Frees everything at once: the arena looks the same as when it was made
   * (the first chunk, `top` at its first byte, `used` 0). Spare chunks of a
   * memory-backed arena are kept for reuse; a buddy-backed arena gives every
   * chunk but the first back. Marks taken before go stale.
   *
   * @example
   * ```ts
   * arena.alloc(100); arena.alloc(200);
   * arena.reset();
   * arena.stats().used; // 0
   * ```
   */
  reset(): void {
    if (this.atomic) return this.resetShared();
    const s = this.s;
    const first = s[FIRST]!;
    // Fast case, no call: still in the first chunk (the lecture's loop).
    // A detached or disposed view fails the magic test.
    if (s[CUR] === first && s[MAGIC] === ARENA_MAGIC) {
      s[TOP] = first + CHUNK_HEADER_BYTES;
      const gen = (s[GEN]! + 1) | 0;
      s[GEN] = gen;
      s[HI_MARK] = -1;
      s[DEPTH] = 1;
      s[FLOORS] = gen;
      s[FLOORS + 2] = NO_MARK;
      s[FLOORS + 3] = 0;
      return;
    }
    this.resetSlow();
  }

  /** reset of a shared arena, under its lock. */
  private resetShared(): void {
    this.enter();
    try {
      this.resetSlow();
    } finally {
      this.leave();
    }
  }

  private resetSlow(): void {
    const s = this.state();
    const first = s[S_FIRST]!;
    const firstEnd = this.memory.u32[(first >>> 2) + C_END];
    if (!(first >= HEADER_BYTES && first % CHUNK_ALIGN === 0 && firstEnd !== undefined && firstEnd > first)) {
      throw new HeapCorruptionError(
        `arena state word first is ${hex(first)}, not a chunk`,
        this.stateAddress + 4 * S_FIRST,
      );
    }
    if (this.atomic) Atomics.store(s, S_TOP, CLOSED); // no bump while the chunk changes
    this.releaseAfter(first);
    s[S_CUR] = first;
    Atomics.store(s, S_END, this.memory.u32[(first >>> 2) + C_END]!);
    Atomics.store(s, S_TOP, first + CHUNK_HEADER_BYTES);
    const gen = (s[S_GEN]! + 1) | 0;
    s[S_GEN] = gen;
    s[S_HI_MARK] = -1;
    s[S_DEPTH] = 1;
    s[S_FLOORS] = gen;
    s[S_FLOORS + 1] = -1;
    s[S_FLOORS + 2] = NO_MARK;
    s[S_FLOORS + 3] = 0;
  }

  /**
   * A scope for `using`: at the end of the block the arena rewinds to where
   * it was when `scope()` was called.
   *
   * @example
   * ```ts
   * {
   *   using _scope = arena.scope();
   *   const tmp = arena.alloc(1024);   // freed at the closing brace
   * }
   * ```
   */
  scope(): ArenaScope {
    return new Scope(this, this.mark());
  }

  /**
   * Runs `fn` and then rewinds the arena to where it was before, also when
   * `fn` throws. Returns what `fn` returns (do not return addresses
   * allocated inside: they are freed). `fn` must be synchronous.
   *
   * @example
   * ```ts
   * const sum = arena.run((a) => { const p = a.alloc(8); return 1; });
   * ```
   */
  run<T>(fn: (arena: Arena) => T): T {
    if (typeof fn !== 'function') throw argumentError('fn', 'a function', fn);
    const m = this.mark();
    try {
      return fn(this);
    } finally {
      this.rewind(m);
    }
  }

  /** Bytes handed out since the last reset, alignment padding included. */
  get used(): number {
    if (!this.atomic) return this.usedHere();
    this.enter();
    try {
      return this.usedHere();
    } finally {
      this.leave();
    }
  }

  private usedHere(): number {
    const s = this.state();
    const cur = s[S_CUR]!;
    return this.memory.u32[(cur >>> 2) + C_USED0]! + s[S_TOP]! - (cur + CHUNK_HEADER_BYTES);
  }

  /** Usable bytes of all chunks the arena holds. */
  get capacity(): number {
    return this.state()[S_CAPACITY]!;
  }

  /** The memory's bytes (`arena.bytes[addr]`); refreshed after a grow. */
  get bytes(): Uint8Array {
    if (this.s === DISPOSED) this.state(); // throws: a disposed buddy arena's bytes are the buddy's again
    this.memory.syncChecked(); // a buffer detached under the arena: named, not an empty view
    return this.memory.u8;
  }

  /**
   * A `Uint8Array` over `length` bytes at `addr` (for example an allocation).
   * It shares the bytes; it goes stale if a wasm memory grows.
   *
   * @throws InvalidArgumentError if the range is not inside the memory.
   *
   * @example
   * ```ts
   * const p = arena.alloc(4);
   * arena.view(p, 4).set([1, 2, 3, 4]);
   * arena.memory.u8[p + 3]; // 4
   * ```
   */
  view(addr: number, length: number): Uint8Array {
    if (this.s === DISPOSED) this.state(); // throws
    this.memory.syncChecked(); // a buffer detached under the arena: named, not the caller's addr
    const n = this.memory.buffer.byteLength;
    if (typeof addr !== 'number' || addr >>> 0 !== addr || addr >= n)
      throw argumentError('addr', `an address inside the memory (< ${n})`, addr);
    if (typeof length !== 'number' || !Number.isInteger(length) || length < 0 || addr + length > n) {
      throw argumentError('length', `a byte count with addr + length <= ${n}`, length);
    }
    return this.memory.u8.subarray(addr, addr + length);
  }

  /**
   * Used, capacity, chunks, waste and the bytes left in the current chunk.
   *
   * @example
   * ```ts
   * arena.alloc(100);
   * const { used, capacity, chunks } = arena.stats(); // 100 65536 1
   * ```
   */
  stats(): ArenaStats {
    if (!this.atomic) return this.statsHere();
    this.enter();
    try {
      return this.statsHere();
    } finally {
      this.leave();
    }
  }

  private statsHere(): ArenaStats {
    const s = this.state();
    const mode = s[S_MODE]!;
    return {
      used: this.usedHere(),
      capacity: s[S_CAPACITY]!,
      chunks: s[S_CHUNKS]!,
      waste: this.memory.u32[(s[S_CUR]! >>> 2) + C_WASTE0]!,
      available: s[S_END]! - s[S_TOP]!,
      mode: mode === MODE_FIXED ? 'fixed' : mode === MODE_MEMORY ? 'memory' : 'buddy',
    };
  }

  /**
   * Every chunk, first to current, then the spares (for maps and tests).
   *
   * @example
   * ```ts
   * arena.alloc(4);
   * arena.chunkList().length; // 1: the first chunk, 4 bytes used
   * ```
   */
  chunkList(): ArenaChunkInfo[] {
    if (!this.atomic) return this.chunkListHere();
    this.enter();
    try {
      return this.chunkListHere();
    } finally {
      this.leave();
    }
  }

  private chunkListHere(): ArenaChunkInfo[] {
    const s = this.state();
    const u32 = this.memory.u32;
    const chain: ArenaChunkInfo[] = [];
    const cur = s[S_CUR]!;
    for (let c = cur; c !== 0 && chain.length < s[S_CHUNKS]!; c = u32[(c >>> 2) + C_PREV]!) {
      chain.push({ address: c, data: c + CHUNK_HEADER_BYTES, end: u32[(c >>> 2) + C_END]!, used: 0, kind: 'chain' });
    }
    chain.reverse();
    for (let i = 0; i < chain.length; i++) {
      const info = chain[i]!;
      const upTo =
        i + 1 < chain.length
          ? u32[(chain[i + 1]!.address >>> 2) + C_USED0]! - u32[(info.address >>> 2) + C_USED0]!
          : s[S_TOP]! - info.data;
      info.used = upTo;
    }
    if (s[S_MODE] !== MODE_BUDDY) {
      // Spares: the chunks between first and limit that are not in the chain
      // (after the current one, or passed over as too small for a request).
      const limit = s[S_LIMIT]!;
      const inChain = new Set(chain.map((c) => c.address));
      for (let c = s[S_FIRST]!; c < limit && chain.length < s[S_CHUNKS]!; c = align16(u32[(c >>> 2) + C_END]!)) {
        if (!inChain.has(c))
          chain.push({
            address: c,
            data: c + CHUNK_HEADER_BYTES,
            end: u32[(c >>> 2) + C_END]!,
            used: 0,
            kind: 'spare',
          });
      }
    }
    return chain;
  }

  /**
   * Checks the whole state (the same fsck `attach` runs: every state word,
   * the chunk chain and spares, the counters, the floor stack) and throws
   * HeapCorruptionError naming the first thing wrong. O(chunks); for tests
   * and debugging.
   *
   * @example
   * ```ts
   * arena.alloc(100);
   * arena.checkInvariants(); // throws a HeapCorruptionError if the state is damaged
   * ```
   */
  checkInvariants(): void {
    this.state();
    if (!this.atomic) return checkState(this.memory, this.stateAddress, this.buddy);
    this.enter();
    try {
      checkState(this.memory, this.stateAddress, this.buddy);
    } finally {
      this.leave();
    }
  }

  /**
   * Ends the arena. A buddy-backed arena gives all its chunks back (its
   * state region too: other attached instances must not be used after). A
   * memory-backed arena leaves the bytes as they are (attached instances
   * keep working) and only this instance becomes unusable. Idempotent.
   *
   * @example
   * ```ts
   * const buddy = new BuddyAllocator({ pages: 64 });
   * const arena = new Arena({ buddy });
   * arena.alloc(100);
   * arena.dispose(); // its chunks go back: buddy.freePages is 64 again
   * ```
   */
  dispose(): void {
    if (this.s === DISPOSED) return;
    const s = this.state();
    const buddy = this.buddy;
    if (buddy !== null) {
      const first = s[S_FIRST]!;
      this.releaseAfter(first);
      // Zeroed state: an attached instance's fast path fails (end 0) and its
      // slow path sees the magic gone, until the buddy reuses the block.
      for (let i = 0; i < STATE_WORDS; i++) s[i] = 0;
      if (readSlot(this.memory, HeaderSlot.Arena) === this.stateAddress) writeSlot(this.memory, HeaderSlot.Arena, 0);
      buddy.free(this.stateAddress);
    }
    this.s = DISPOSED;
  }

  /** `using arena = new Arena(...)` disposes it at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
    this.detach();
  }

  // ---- slow paths ---------------------------------------------------------

  /** The state view, refreshed if a wasm memory grew; throws once disposed. */
  private state(): Int32Array {
    if (this.s === DISPOSED) throw new MemkitError('this arena was disposed');
    const m = this.memory;
    m.sync();
    if (this.s.buffer !== m.buffer) this.s = new Int32Array(m.buffer, this.stateAddress, STATE_WORDS);
    if (this.s[S_MAGIC] !== ARENA_MAGIC) {
      m.checkLive(); // a detached buffer, not a disposed arena
      throw new HeapCorruptionError(
        `no arena state at ${hex(this.stateAddress)} any more (disposed through another instance?)`,
        this.stateAddress,
      );
    }
    return this.s;
  }

  /** Everything the fast path does not do: checks, refresh, a new chunk. */
  private allocSlow(size: number, align: number): number {
    const s = this.state();
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 1) {
      throw argumentError('size', 'a whole number >= 1', size);
    }
    if (
      typeof align !== 'number' ||
      !Number.isInteger(align) ||
      align < 1 ||
      align > MAX_ALIGN ||
      (align & (align - 1)) !== 0
    ) {
      throw argumentError('align', 'a power of two in [1, 2^30]', align);
    }
    const max = s[S_MAX]!;
    if (size > max) {
      // A valid size the arena cannot hold: it is full for it (DESIGN: full means OutOfMemoryError).
      throw new OutOfMemoryError(
        `arena alloc size ${size} is larger than the arena can ever hold (${max} bytes)`,
        size,
      );
    }
    if (this.atomic) return this.allocSlowShared(s, size, align);
    this.checkEnd(s);
    const top = s[S_TOP]!;
    this.checkTop(s, top);
    const a = alignUp(top, align);
    if (a + size <= s[S_END]!) {
      s[S_TOP] = a + size;
      return a;
    }
    return this.allocElsewhere(s, size, align, top);
  }

  /**
   * allocSlow of a shared arena, under its lock: other workers may still
   * bump `top` (with compareExchange) until it is closed.
   */
  private allocSlowShared(s: Int32Array, size: number, align: number): number {
    this.checkEnd(s); // under the lock: only its holder moves the arena to another chunk
    for (;;) {
      const top = Atomics.load(s, S_TOP);
      this.checkTop(s, top); // under the lock: top is not CLOSED (only the lock's holder closes it)
      const a = alignUp(top, align);
      if (a + size > Atomics.load(s, S_END)) break;
      if (Atomics.compareExchange(s, S_TOP, top, a + size) === top) return a;
    }
    // Close the chunk: from here no other worker bumps until the new top is stored.
    const last = Atomics.exchange(s, S_TOP, CLOSED);
    try {
      return this.allocElsewhere(s, size, align, last);
    } catch (e) {
      Atomics.store(s, S_TOP, last); // nothing changed: reopen it
      throw e;
    }
  }

  /** The slow paths' check of `end`: the current chunk's header says the same (then the fast path may trust it). */
  private checkEnd(s: Int32Array): void {
    const end = s[S_END]!;
    if (end !== this.memory.i32[(s[S_CUR]! >>> 2) + C_END])
      throw new HeapCorruptionError(
        `arena state word end is ${hex(end)}, but the current chunk at ${hex(s[S_CUR]!)} ends at ${hex(this.memory.u32[(s[S_CUR]! >>> 2) + C_END] ?? 0)}`,
        this.stateAddress + 4 * S_END,
      );
    this.endSeen = end;
  }

  /** The slow paths' check of `top`: inside the current chunk's data, from its first byte to `end`. */
  private checkTop(s: Int32Array, top: number): void {
    if (!(top >= s[S_CUR]! + CHUNK_HEADER_BYTES && top <= s[S_END]!))
      throw new HeapCorruptionError(
        `arena state word top is ${hex(top)}, outside the current chunk's data (${hex(s[S_CUR]! + CHUNK_HEADER_BYTES)}..${hex(s[S_END]!)})`,
        this.stateAddress + 4 * S_TOP,
      );
  }

  /** The current chunk (whose top is `top`) has no room: another chunk, or OutOfMemoryError. */
  private allocElsewhere(s: Int32Array, size: number, align: number, top: number): number {
    const mode = s[S_MODE]!;
    if (mode === MODE_FIXED) {
      throw new OutOfMemoryError(
        `arena full: ${size} bytes (align ${align}) do not fit in the ${s[S_END]! - top} bytes left of ${s[S_CAPACITY]!}`,
        size,
      );
    }
    if (mode !== MODE_MEMORY && mode !== MODE_BUDDY) {
      throw new HeapCorruptionError(`arena state word mode is ${mode}, not a mode`, this.stateAddress + 4 * S_MODE);
    }
    if ((mode === MODE_BUDDY) !== (this.buddy !== null)) {
      throw new HeapCorruptionError(
        `arena state word mode is ${mode}, but this arena was ${this.buddy === null ? 'not ' : ''}made on a buddy`,
        this.stateAddress + 4 * S_MODE,
      );
    }
    return mode === MODE_MEMORY ? this.allocInSpareOrGrown(size, align, top) : this.allocInBuddyChunk(size, align, top);
  }

  /** Memory mode: the first spare chunk it fits in, else a new chunk at the end. */
  private allocInSpareOrGrown(size: number, align: number, top: number): number {
    const s = this.s;
    const cur = s[S_CUR]!;
    const limit = s[S_LIMIT]!;
    // New chunks start at limit: one below the current chunk's end or past the memory is damage.
    if (!(limit >= s[S_END]! && limit <= this.memory.u32.length * 4)) {
      throw new HeapCorruptionError(`arena state word limit is ${hex(limit)}`, this.stateAddress + 4 * S_LIMIT);
    }
    const lost = s[S_END]! - top;
    let c = align16(s[S_END]!);
    let u32 = this.memory.u32;
    while (c < limit) {
      // a spare too small for this request is passed over (it stays spare)
      const end = u32[(c >>> 2) + C_END]!;
      // A damaged end (or a damaged S_END that led here) would walk in place, or outside the memory.
      if (!(end > c && end <= u32.length * 4)) {
        throw new HeapCorruptionError(`arena spare chunk ${hex(c)} ends at ${hex(end)}`, c);
      }
      const a = alignUp(c + CHUNK_HEADER_BYTES, align);
      if (a + size <= end) return this.enterChunk(c, cur, lost, a, size, top);
      c = align16(end);
    }
    c = align16(limit);
    const data = c + CHUNK_HEADER_BYTES;
    const need = alignUp(data, align) - data + size;
    const cap = s[S_CAPACITY]!;
    const room = s[S_MAX]! - cap;
    if (need > room) {
      throw new OutOfMemoryError(
        `arena at its cap: ${size} bytes (align ${align}) need ${need} more of the ${room} left below maxBytes ${s[S_MAX]!}`,
        size,
      );
    }
    const dataBytes = Math.max(need, Math.min(Math.max(s[S_GROW]!, cap), room));
    try {
      this.memory.growTo(data + dataBytes);
    } catch (e) {
      if (e instanceof OutOfMemoryError)
        throw new OutOfMemoryError(`arena cannot grow its memory for ${size} bytes: ${e.message}`, size);
      throw e;
    }
    const st = this.state();
    u32 = this.memory.u32;
    u32[(c >>> 2) + C_END] = data + dataBytes;
    st[S_LIMIT] = data + dataBytes;
    st[S_CHUNKS] = st[S_CHUNKS]! + 1;
    st[S_CAPACITY] = cap + dataBytes;
    return this.enterChunk(c, cur, lost, alignUp(data, align), size, top);
  }

  /** Buddy mode: a new chunk of at least `chunkPages` pages. */
  private allocInBuddyChunk(size: number, align: number, top: number): number {
    const s = this.s;
    const buddy = this.buddy!;
    const pageSize = s[S_PAGE_SIZE]!;
    const need = size + (align > CHUNK_ALIGN ? align - 1 : 0);
    const cap = s[S_CAPACITY]!;
    const room = s[S_MAX]! - cap;
    if (need > room) {
      throw new OutOfMemoryError(
        `arena at its cap: ${size} bytes (align ${align}) do not fit in the ${room} bytes left below maxBytes ${s[S_MAX]!}`,
        size,
      );
    }
    const pages = Math.max(s[S_GROW]!, Math.ceil((CHUNK_HEADER_BYTES + need) / pageSize));
    let block: number;
    try {
      block = buddy.allocPages(pages);
    } catch (e) {
      if (e instanceof OutOfMemoryError)
        throw new OutOfMemoryError(`arena: the buddy has no block of ${pages} pages for ${size} bytes`, size);
      throw e;
    }
    checkBlock(buddy, block, size);
    const st = this.state();
    const data = block + CHUNK_HEADER_BYTES;
    const end = Math.min(block + buddy.blockPages(block) * pageSize, data + room);
    this.memory.u32[(block >>> 2) + C_END] = end;
    st[S_CHUNKS] = st[S_CHUNKS]! + 1;
    st[S_CAPACITY] = cap + (end - data);
    return this.enterChunk(block, st[S_CUR]!, st[S_END]! - top, alignUp(data, align), size, top);
  }

  /**
   * Makes chunk `c` (its `end` already written) current after `prev` (whose
   * top was `top`), with `lost` bytes added to waste, and hands out `size`
   * bytes at `a` in it. `top` is stored last (and atomically): a shared
   * arena's other workers bump only once it is.
   */
  private enterChunk(c: number, prev: number, lost: number, a: number, size: number, top: number): number {
    const s = this.s;
    const u32 = this.memory.u32;
    const w = c >>> 2;
    const pw = prev >>> 2;
    const used = u32[pw + C_USED0]! + top - (prev + CHUNK_HEADER_BYTES);
    u32[w + C_PREV] = prev;
    u32[w + C_USED0] = used;
    u32[w + C_WASTE0] = u32[pw + C_WASTE0]! + lost;
    s[S_CUR] = c;
    Atomics.store(s, S_END, u32[w + C_END]!);
    Atomics.store(s, S_TOP, a + size); // padding before `a` counts in `used`, as in one chunk
    return a;
  }

  /**
   * Before a buddy arena gives chunks back: from `cur`, `chunks - 1` prev links
   * must lead to `first`, passing `keep` (-1: any). Each chunk freed is found through
   * such a link, and a damaged one would give the buddy a block of another
   * owner (it did, with `reset`, until the twentieth session). O(chunks), as
   * the walk that frees them.
   */
  private checkChain(s: Int32Array, u32: Uint32Array, keep: number): void {
    let c = s[S_CUR]!;
    let passed = c === keep || keep === -1;
    for (let n = s[S_CHUNKS]! - 1; n > 0 && c !== 0; n--) {
      c = u32[(c >>> 2) + C_PREV] ?? 0;
      if (c === keep) passed = true;
    }
    if (c !== s[S_FIRST] || !passed)
      throw new HeapCorruptionError(
        `arena chunk chain from ${hex(s[S_CUR]!)} does not lead to its first chunk ${hex(s[S_FIRST]!)} in ${s[S_CHUNKS]!} chunks`,
        this.stateAddress + 4 * S_CUR,
      );
  }

  /** Buddy mode: gives back every chunk chained after `keep` (the chain checked first, unless `checked` says the caller did). */
  private releaseAfter(keep: number, checked = false): void {
    const buddy = this.buddy;
    if (buddy === null) return;
    const s = this.s;
    const u32 = this.memory.u32;
    if (!checked) this.checkChain(s, u32, keep);
    let c = s[S_CUR]!;
    for (let n = s[S_CHUNKS]!; c !== keep && c !== 0 && n > 1; n--) {
      const prev = u32[(c >>> 2) + C_PREV]!;
      const end = u32[(c >>> 2) + C_END]!;
      s[S_CUR] = prev;
      s[S_END] = u32[(prev >>> 2) + C_END]!;
      if (!this.atomic) s[S_TOP] = s[S_END]!;
      s[S_CHUNKS] = s[S_CHUNKS]! - 1;
      s[S_CAPACITY] = s[S_CAPACITY]! - (end - (c + CHUNK_HEADER_BYTES));
      buddy.free(c);
      c = prev;
    }
  }
}

/** The object `arena.scope()` returns. */
class Scope implements ArenaScope {
  constructor(
    private readonly arena: Arena,
    readonly mark: number,
  ) {}
  [Symbol.dispose](): void {
    this.arena.rewind(this.mark);
  }
}

function align16(x: number): number {
  return Math.ceil(x / CHUNK_ALIGN) * CHUNK_ALIGN;
}

function alignUp(x: number, align: number): number {
  return Math.ceil(x / align) * align;
}
