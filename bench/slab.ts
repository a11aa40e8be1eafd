/**
 * Slab cache benchmarks (issue "Slab caches and kmalloc", Must show):
 *
 *  1. alloc+free pairs of 64-byte objects on a warm cache (one slab partial).
 *  2. Batches: 1000 allocs, then the 1000 frees in random order.
 *
 * Rows: memkit's SlabCache; the lower bound, a hand-written free-list
 * push/pop over an Int32Array (what a slab's fast path does, without list
 * moves, checks or counters, its head in a local); the same with its head
 * in the array (as memkit's state is in the buffer); `@thi.ng/malloc`
 * MemPool with the same size.
 * Goal: slab pairs within 3x of the lower bound.
 *
 * Run: `npm run bench -- slab`.
 *
 * @module
 */
import { MemPool } from '@thi.ng/malloc';
import { BuddyAllocator } from '../src/buddy/index.js';
import { SlabCache } from '../src/slab/index.js';
import {
  DEFAULT_OPTIONS,
  prng,
  runCases,
  type BenchCase,
  type BenchOptions,
  type CaseResult,
  type Contender,
} from './harness.js';

const SIZE = 64;
const BATCH = 1000;
const MEMKIT = 'memkit SlabCache';
const BOUND = 'lower bound: free-list push/pop';
const BOUND_IN_BUFFER = 'free-list push/pop, head in the buffer';
const THING = '@thi.ng/malloc';

/** A random permutation of 0..n-1 (the free order of a batch). */
function permutation(n: number): Int32Array {
  const rnd = prng(7);
  const p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}
const ORDER = permutation(BATCH);

function slabContender(batch: boolean): Contender {
  let cache: SlabCache | null = null;
  const held = new Float64Array(BATCH);
  return {
    name: MEMKIT,
    role: 'memkit',
    setup() {
      cache = new SlabCache(new BuddyAllocator({ pages: 1024 }), { name: 'bench-64', size: SIZE });
      cache.alloc(); // warm: one slab made and kept partial by a held object
    },
    run(n) {
      const c = cache!;
      let s = 0;
      if (!batch) {
        for (let i = 0; i < n; i++) {
          const p = c.alloc();
          c.free(p);
          s ^= p;
        }
        return s;
      }
      for (let done = 0; done < n; done += 2 * BATCH) {
        for (let i = 0; i < BATCH; i++) held[i] = c.alloc();
        for (let i = 0; i < BATCH; i++) c.free(held[ORDER[i]!]!);
        s ^= held[0]!;
      }
      return s;
    },
  };
}

function boundContender(batch: boolean): Contender {
  // Objects are indices; next[i] is the free-list link stored "in" object i.
  const next = new Int32Array(BATCH * 2);
  let head = 0;
  const held = new Int32Array(BATCH);
  return {
    name: BOUND,
    role: 'bound',
    setup() {
      for (let i = 0; i < next.length; i++) next[i] = i + 1 < next.length ? i + 1 : -1;
      head = 0;
    },
    run(n) {
      let s = 0;
      if (!batch) {
        for (let i = 0; i < n; i++) {
          const p = head; // pop
          head = next[p]!;
          next[p] = head; // push it back
          head = p;
          s ^= p;
        }
        return s;
      }
      for (let done = 0; done < n; done += 2 * BATCH) {
        for (let i = 0; i < BATCH; i++) {
          const p = head;
          head = next[p]!;
          held[i] = p;
        }
        for (let i = 0; i < BATCH; i++) {
          const p = held[ORDER[i]!]!;
          next[p] = head;
          head = p;
        }
        s ^= held[0]!;
      }
      return s;
    },
  };
}

/**
 * The same push/pop with the list head kept in the buffer (next[HEAD]) rather
 * than in a local: memkit keeps every piece of state in the buffer (another
 * worker or a copy must see it), so its head is a memory word read and
 * written by every alloc and free; this row shows what that alone costs.
 */
function boundInBufferContender(batch: boolean): Contender {
  const HEAD = BATCH * 2;
  const next = new Int32Array(BATCH * 2 + 1);
  const held = new Int32Array(BATCH);
  return {
    name: BOUND_IN_BUFFER,
    role: 'bound',
    setup() {
      for (let i = 0; i < HEAD; i++) next[i] = i + 1 < HEAD ? i + 1 : -1;
      next[HEAD] = 0;
    },
    run(n) {
      let s = 0;
      if (!batch) {
        for (let i = 0; i < n; i++) {
          const p = next[HEAD]!; // pop
          next[HEAD] = next[p]!;
          next[p] = next[HEAD]!; // push it back
          next[HEAD] = p;
          s ^= p;
        }
        return s;
      }
      for (let done = 0; done < n; done += 2 * BATCH) {
        for (let i = 0; i < BATCH; i++) {
          const p = next[HEAD]!;
          next[HEAD] = next[p]!;
          held[i] = p;
        }
        for (let i = 0; i < BATCH; i++) {
          const p = held[ORDER[i]!]!;
          next[p] = next[HEAD]!;
          next[HEAD] = p;
        }
        s ^= held[0]!;
      }
      return s;
    },
  };
}

function thingContender(batch: boolean): Contender {
  let pool: MemPool | null = null;
  const held = new Float64Array(BATCH);
  return {
    name: THING,
    role: 'peer',
    setup() {
      pool = new MemPool({ size: 4 << 20 });
    },
    run(n) {
      const m = pool!;
      let s = 0;
      if (!batch) {
        for (let i = 0; i < n; i++) {
          const p = m.malloc(SIZE);
          m.free(p);
          s ^= p;
        }
        return s;
      }
      for (let done = 0; done < n; done += 2 * BATCH) {
        for (let i = 0; i < BATCH; i++) held[i] = m.malloc(SIZE);
        for (let i = 0; i < BATCH; i++) m.free(held[ORDER[i]!]!);
        s ^= held[0]!;
      }
      return s;
    },
  };
}

function cases(): BenchCase[] {
  const goal = { subject: MEMKIT, vs: BOUND, atLeast: 1 / 3, text: 'slab pairs within 3x of the lower bound' };
  return [
    {
      name: `slab: alloc+free pairs, ${SIZE}-byte objects`,
      unit: 'pairs',
      contenders: [slabContender(false), boundContender(false), boundInBufferContender(false), thingContender(false)],
      goals: [goal],
    },
    {
      name: `slab: batches of ${BATCH} allocs then ${BATCH} frees in random order, ${SIZE}-byte objects`,
      unit: 'ops',
      opsMultiple: 2 * BATCH,
      contenders: [slabContender(true), boundContender(true), boundInBufferContender(true), thingContender(true)],
    },
  ];
}

/** Runs the slab cases. */
export function run(options: BenchOptions = DEFAULT_OPTIONS): Promise<CaseResult[]> {
  return runCases(cases(), options);
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
