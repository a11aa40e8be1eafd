/**
 * Arena benchmarks: `Arena.alloc` of small sizes against
 *  - a hand-written bump loop over an Int32Array (the lower bound: the same
 *    bump and end check, inline, with no method call and no argument checks),
 *  - the same arena with `top`/`end` cached in JS fields and written back
 *    (the design alternative; see the hot-path note in src/arena/arena.ts),
 *  - `@thi.ng/malloc` `MemPool.malloc` with the same sizes.
 * Every contender replays the same sizes and frees everything every
 * {@link RESET_EVERY} allocations (`reset()` / `freeAll()`).
 *
 * Run: `npm run bench -- arena` (or `npx tsx bench/arena.ts`).
 *
 * @module
 */
import { MemPool } from '@thi.ng/malloc';
import { Arena } from '../src/arena/index.js';
import {
  DEFAULT_OPTIONS, prng, runCases, type BenchCase, type BenchOptions, type CaseResult, type Contender,
} from './harness.js';

/** Allocations between two resets. */
const RESET_EVERY = 8192;
/** Arena size: room for RESET_EVERY allocations of the largest size and padding. */
const ARENA_BYTES = 1 << 20;
const SIZE_MASK = 4095;

/** 4096 sizes in [1, 64], the same for every contender. */
function smallSizes(seed: number): Uint32Array {
  const r = prng(seed);
  const out = new Uint32Array(SIZE_MASK + 1);
  for (let i = 0; i < out.length; i++) out[i] = 1 + Math.floor(r() * 64);
  return out;
}

/** 4096 alignments among 1, 2, 4, 8, 16, 32, 64. */
function aligns(seed: number): Uint32Array {
  const r = prng(seed);
  const out = new Uint32Array(SIZE_MASK + 1);
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
  constructor(private readonly s: Uint32Array, top: number, end: number) {
    this.top = top;
    this.end = end;
  }
  alloc(size: number, align: number = 8): number {
    const top = this.top;
    const a = ((top + align - 1) & -align) >>> 0;
    const next = a + size;
    if (next <= this.end && top <= a && a < next && (align & -align) === align && (size >>> 0) === size) {
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

function arenaCase(name: string, sizes: Uint32Array, al: Uint32Array | null): BenchCase {
  // memkit: the real arena
  const arena = new Arena({ bytes: ARENA_BYTES });
  let count = 0;
  const memkit: Contender = {
    name: 'memkit Arena.alloc',
    role: 'memkit',
    run(n) {
      let sum = 0;
      for (let i = 0; i < n; i++) {
        sum = (sum + (al === null ? arena.alloc(sizes[i & SIZE_MASK]!) : arena.alloc(sizes[i & SIZE_MASK]!, al[i & SIZE_MASK]!))) | 0;
        if (++count === RESET_EVERY) {
          count = 0;
          arena.reset();
        }
      }
      return sum;
    },
  };

  // lower bound: the bump and end check, inline, over an Int32Array
  const TOP = 0;
  const END = 1;
  const BASE = 16;
  const s = new Int32Array(new ArrayBuffer(64));
  s[TOP] = BASE;
  s[END] = BASE + ARENA_BYTES;
  let bcount = 0;
  const bound: { -readonly [K in keyof Contender]: Contender[K] } = {
    name: 'bump loop (Int32Array)',
    role: 'bound',
    run(n) {
      let sum = 0;
      for (let i = 0; i < n; i++) {
        const size = sizes[i & SIZE_MASK]!;
        const a = (s[TOP]! + 7) & -8;
        const next = a + size;
        if (next > s[END]!) return -1;
        s[TOP] = next;
        sum = (sum + a) | 0;
        if (++bcount === RESET_EVERY) {
          bcount = 0;
          s[TOP] = BASE;
        }
      }
      return sum;
    },
  };
  if (al !== null) {
    bound.run = (n: number): number => {
      let sum = 0;
      for (let i = 0; i < n; i++) {
        const size = sizes[i & SIZE_MASK]!;
        const mask = al[i & SIZE_MASK]! - 1;
        const a = (s[TOP]! + mask) & ~mask;
        const next = a + size;
        if (next > s[END]!) return -1;
        s[TOP] = next;
        sum = (sum + a) | 0;
        if (++bcount === RESET_EVERY) {
          bcount = 0;
          s[TOP] = BASE;
        }
      }
      return sum;
    };
  }

  // design alternative: fields cache + write-back
  const fbuf = new Uint32Array(16);
  const fc = new FieldCachedBump(fbuf, 144, 144 + ARENA_BYTES);
  let fcount = 0;
  const fields: Contender = {
    name: 'variant: top/end in JS fields',
    role: 'memkit',
    run(n) {
      let sum = 0;
      for (let i = 0; i < n; i++) {
        sum = (sum + (al === null ? fc.alloc(sizes[i & SIZE_MASK]!) : fc.alloc(sizes[i & SIZE_MASK]!, al[i & SIZE_MASK]!))) | 0;
        if (++fcount === RESET_EVERY) {
          fcount = 0;
          fc.reset(144);
        }
      }
      return sum;
    },
  };

  // peer: @thi.ng/malloc (8-byte aligned blocks; the align column is ignored)
  const pool = new MemPool({ size: 2 * ARENA_BYTES, align: 8 });
  let pcount = 0;
  const thing: Contender = {
    name: '@thi.ng/malloc MemPool.malloc',
    role: 'peer',
    run(n) {
      let sum = 0;
      for (let i = 0; i < n; i++) {
        sum = (sum + pool.malloc(sizes[i & SIZE_MASK]!)) | 0;
        if (++pcount === RESET_EVERY) {
          pcount = 0;
          pool.freeAll();
        }
      }
      return sum;
    },
  };

  return {
    name,
    unit: 'allocs',
    contenders: [memkit, bound, fields, thing],
    goals: [{ subject: 'memkit Arena.alloc', vs: 'bump loop (Int32Array)', atLeast: 1 / 1.5, text: 'within 1.5x of the hand-written bump loop' }],
  };
}

/** The arena cases (each prints its table as soon as it is measured). */
export function run(options: BenchOptions = DEFAULT_OPTIONS): Promise<CaseResult[]> {
  return runCases(
    [
      arenaCase(`arena: alloc(size), sizes 1-64 B, align 8, reset every ${RESET_EVERY}`, smallSizes(1), null),
      arenaCase(`arena: alloc(size, align), sizes 1-64 B, align 1-64, reset every ${RESET_EVERY}`, smallSizes(2), aligns(3)),
    ],
    options,
  );
}

/** Alias of {@link run}, under the name the arena brief uses. */
export const benchArena = run;

if (import.meta.url === `file://${process.argv[1]}`) await run();
