/**
 * Arena benchmarks: `Arena.alloc` of small sizes against
 *  - a hand-written bump loop over an Int32Array (the lower bound: the same
 *    bump and end check, inline, with no method call and no argument checks),
 *  - the same fast path with `top`/`end` cached in JS fields and `top`
 *    written back to the buffer (the design alternative; see the hot-path
 *    note in src/arena/arena.ts),
 *  - `@thi.ng/malloc` `MemPool.malloc` with the same sizes.
 * Every contender replays the same sizes and frees everything every
 * {@link RESET_EVERY} allocations (`reset()` / `freeAll()`).
 *
 * Each contender of each case has its own loop, written out: V8 shares type
 * feedback between closures of one function literal, so a loop reused by
 * two cases would be measured with the other case's feedback.
 *
 * Run: `npm run bench -- arena` (or `npx tsx bench/arena.ts`).
 *
 * @module
 */
import { MemPool } from '@thi.ng/malloc';
import { Arena } from '../src/arena/index.js';
import {
  DEFAULT_OPTIONS,
  prng,
  runCases,
  type BenchCase,
  type BenchOptions,
  type CaseResult,
  type Contender,
} from './harness.js';

/** Allocations between two resets. */
const RESET_EVERY = 8192;
/** Arena size: room for RESET_EVERY allocations of the largest size and padding. */
const ARENA_BYTES = 1 << 20;
const MASK = 4095;
/** Lower-bound state: word 0 = top, word 1 = end. */
const TOP = 0;
const END = 1;
const BASE = 16;

/** 4096 sizes in [1, 64], the same for every contender. */
function smallSizes(seed: number): Uint32Array {
  const r = prng(seed);
  const out = new Uint32Array(MASK + 1);
  for (let i = 0; i < out.length; i++) out[i] = 1 + Math.floor(r() * 64);
  return out;
}

/** 4096 alignments among 1, 2, 4, 8, 16, 32, 64. */
function aligns(seed: number): Uint32Array {
  const r = prng(seed);
  const out = new Uint32Array(MASK + 1);
  for (let i = 0; i < out.length; i++) out[i] = 1 << Math.floor(r() * 7);
  return out;
}

/**
 * The design alternative measured against the shipped arena: `top` and `end`
 * kept in JS fields, `top` written back to the buffer on every alloc (so an
 * attached instance still sees it). Only the fast path, for measuring.
 */
class FieldCachedBump {
  private top: number;
  private end: number;
  constructor(
    private readonly s: Int32Array,
    top: number,
    end: number,
  ) {
    this.top = top;
    this.end = end;
  }
  alloc(size: number, align: number = 8): number {
    const top = this.top;
    const a = (top + align - 1) & -align;
    const next = a + size;
    if (next <= this.end && top <= a && a < next && (align & -align) === align && (size | 0) === size) {
      this.top = next;
      this.s[3] = next;
      return a;
    }
    return -1;
  }
  reset(base: number): void {
    this.top = base;
    this.s[3] = base;
  }
}

const GOAL = {
  subject: 'memkit Arena.alloc',
  vs: 'bump loop (Int32Array)',
  atLeast: 1 / 1.5,
  text: 'within 1.5x of the hand-written bump loop',
};

/** alloc(size) with the default alignment (8). */
function defaultAlignCase(): BenchCase {
  const sizes = smallSizes(1);
  const arena = new Arena({ bytes: ARENA_BYTES });
  let ca = 0;
  const s = new Int32Array(16);
  s[TOP] = BASE;
  s[END] = BASE + ARENA_BYTES;
  let cb = 0;
  const fc = new FieldCachedBump(new Int32Array(16), 144, 144 + ARENA_BYTES);
  let cf = 0;
  const pool = new MemPool({ size: 2 * ARENA_BYTES, align: 8 });
  let cp = 0;
  return {
    name: `arena: alloc(size), sizes 1-64 B, align 8, reset every ${RESET_EVERY}`,
    unit: 'allocs',
    goals: [GOAL],
    contenders: [
      {
        name: 'memkit Arena.alloc',
        role: 'memkit',
        run(n) {
          let sum = 0;
          for (let i = 0; i < n; i++) {
            sum = (sum + arena.alloc(sizes[i & MASK]!)) | 0;
            if (++ca === RESET_EVERY) {
              ca = 0;
              arena.reset();
            }
          }
          return sum;
        },
      },
      {
        name: 'bump loop (Int32Array)',
        role: 'bound',
        run(n) {
          let sum = 0;
          for (let i = 0; i < n; i++) {
            const a = (s[TOP]! + 7) & -8;
            const next = a + sizes[i & MASK]!;
            if (next > s[END]!) return -1;
            s[TOP] = next;
            sum = (sum + a) | 0;
            if (++cb === RESET_EVERY) {
              cb = 0;
              s[TOP] = BASE;
            }
          }
          return sum;
        },
      },
      {
        name: 'variant: top/end in JS fields',
        role: 'memkit',
        run(n) {
          let sum = 0;
          for (let i = 0; i < n; i++) {
            sum = (sum + fc.alloc(sizes[i & MASK]!)) | 0;
            if (++cf === RESET_EVERY) {
              cf = 0;
              fc.reset(144);
            }
          }
          return sum;
        },
      },
      {
        name: '@thi.ng/malloc MemPool.malloc',
        role: 'peer',
        run(n) {
          let sum = 0;
          for (let i = 0; i < n; i++) {
            sum = (sum + pool.malloc(sizes[i & MASK]!)) | 0;
            if (++cp === RESET_EVERY) {
              cp = 0;
              pool.freeAll();
            }
          }
          return sum;
        },
      },
    ] satisfies Contender[],
  };
}

/** alloc(size, align) with alignments 1-64 (thi.ng has no per-call align: 8). */
function mixedAlignCase(): BenchCase {
  const sizes = smallSizes(2);
  const al = aligns(3);
  const arena = new Arena({ bytes: ARENA_BYTES });
  let ca = 0;
  const s = new Int32Array(16);
  s[TOP] = BASE;
  s[END] = BASE + ARENA_BYTES;
  let cb = 0;
  const fc = new FieldCachedBump(new Int32Array(16), 144, 144 + ARENA_BYTES);
  let cf = 0;
  const pool = new MemPool({ size: 2 * ARENA_BYTES, align: 8 });
  let cp = 0;
  return {
    name: `arena: alloc(size, align), sizes 1-64 B, align 1-64, reset every ${RESET_EVERY}`,
    unit: 'allocs',
    goals: [GOAL],
    contenders: [
      {
        name: 'memkit Arena.alloc',
        role: 'memkit',
        run(n) {
          let sum = 0;
          for (let i = 0; i < n; i++) {
            sum = (sum + arena.alloc(sizes[i & MASK]!, al[i & MASK]!)) | 0;
            if (++ca === RESET_EVERY) {
              ca = 0;
              arena.reset();
            }
          }
          return sum;
        },
      },
      {
        name: 'bump loop (Int32Array)',
        role: 'bound',
        run(n) {
          let sum = 0;
          for (let i = 0; i < n; i++) {
            const m = al[i & MASK]! - 1;
            const a = (s[TOP]! + m) & ~m;
            const next = a + sizes[i & MASK]!;
            if (next > s[END]!) return -1;
            s[TOP] = next;
            sum = (sum + a) | 0;
            if (++cb === RESET_EVERY) {
              cb = 0;
              s[TOP] = BASE;
            }
          }
          return sum;
        },
      },
      {
        name: 'variant: top/end in JS fields',
        role: 'memkit',
        run(n) {
          let sum = 0;
          for (let i = 0; i < n; i++) {
            sum = (sum + fc.alloc(sizes[i & MASK]!, al[i & MASK]!)) | 0;
            if (++cf === RESET_EVERY) {
              cf = 0;
              fc.reset(144);
            }
          }
          return sum;
        },
      },
      {
        name: '@thi.ng/malloc MemPool.malloc',
        role: 'peer',
        run(n) {
          let sum = 0;
          for (let i = 0; i < n; i++) {
            sum = (sum + pool.malloc(sizes[i & MASK]!)) | 0;
            if (++cp === RESET_EVERY) {
              cp = 0;
              pool.freeAll();
            }
          }
          return sum;
        },
      },
    ] satisfies Contender[],
  };
}

/**
 * A case made twice, the second one timed. V8 compiles a closure that its
 * function literal made only once *specialized to its context*: the arena,
 * the typed arrays and their lengths become constants of the machine code.
 * A user's loop, in a method or a function given its arena, gets no such
 * gift, and whether V8 kept it for our loop or the bound's changed from run
 * to run: `alloc(size, align)` measured 0.30x of the bound in one run and
 * 0.70x in the next (and `alloc(size)` 0.37x-0.90x when a check moved). Made
 * twice, every contender's loop is compiled as a method's would be.
 */
function unspecialized(make: () => BenchCase): BenchCase {
  make();
  return make();
}

/** The arena cases (each prints its table as soon as it is measured). */
export function run(options: BenchOptions = DEFAULT_OPTIONS): Promise<CaseResult[]> {
  return runCases([unspecialized(defaultAlignCase), unspecialized(mixedAlignCase)], options);
}

/** Alias of {@link run}, under the name the arena brief uses. */
export const benchArena = run;

if (import.meta.url === `file://${process.argv[1]}`) await run();
