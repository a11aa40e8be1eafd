/**
 * Buddy page allocator benchmarks (issue "Foundation", Must show):
 *
 *  1. 1-page alloc+free pairs on an empty heap of 8192 pages (every pair
 *     splits a 8192-page block down to one page and merges it back: the
 *     buddy's worst case per call).
 *  2. A random workload of page-sized blocks: 1..16 pages, up to 1000 live,
 *     random frees; one pre-generated script replayed identically by every
 *     contender on 32768 pages of 4 KiB.
 *
 * Rows: memkit's BuddyAllocator (memory-backed, and offsets-only), a
 * hand-written lower bound (stacks of pre-carved blocks: no split, no merge,
 * no checks), `@thi.ng/malloc` MemPool with the same byte sizes, and the npm
 * buddy allocators `alloc` and `buddy-tree` with the same sizes.
 *
 * Each contender has its own loop (monomorphic call sites).
 *
 * Run: `npm run bench -- buddy` (or `npx tsx bench/buddy.ts`).
 *
 * @module
 */
import { pathToFileURL } from 'node:url';
import { MemPool } from '@thi.ng/malloc';
import { BuddyAllocator } from '../src/buddy/index.js';
import { AllocBuddyAdapter, BuddyTreeAdapter, type PageBlockAllocator } from '../src/peers/npm-buddies.js';
import {
  DEFAULT_OPTIONS,
  prng,
  runCases,
  type BenchCase,
  type BenchOptions,
  type CaseResult,
  type Contender,
} from './harness.js';

const PAGE = 4096;
const PAIR_PAGES = 8192;
const RANDOM_PAGES = 32768;
const MAX_LIVE = 1000;
const MEAN_LIVE = 750;
const MAX_BLOCK_PAGES = 16;
const SCRIPT_OPS = 1 << 17;

const MEMKIT = 'memkit buddy';
const MEMKIT_OFFSETS = 'memkit buddy (offsets-only)';
const BOUND = 'lower bound: free-list stacks';
const THING = '@thi.ng/malloc';
const ALLOC = 'alloc (npm)';
const TREE = 'buddy-tree (npm)';

// ------------------------------------------------------------ 1-page pairs

function buddyPairs(name: string, offsetsOnly: boolean): Contender {
  let b: BuddyAllocator | null = null;
  return {
    name,
    role: 'memkit',
    setup() {
      b = new BuddyAllocator({ pages: PAIR_PAGES, pageSize: PAGE, offsetsOnly });
    },
    run(n) {
      const a = b!;
      let s = 0;
      for (let i = 0; i < n; i++) {
        const p = a.allocPages(1);
        a.free(p);
        s ^= p;
      }
      return s;
    },
  };
}

function boundPairs(): Contender {
  const stack = new Int32Array(PAIR_PAGES);
  let top = 0;
  return {
    name: BOUND,
    role: 'bound',
    setup() {
      for (let i = PAIR_PAGES - 1; i >= 0; i--) stack[top++] = i;
    },
    run(n) {
      let s = 0;
      for (let i = 0; i < n; i++) {
        const page = stack[--top]!; // alloc: pop a page index
        stack[top++] = page; //         free: push it back
        s ^= page;
      }
      return s;
    },
  };
}

function thingPairs(): Contender {
  let pool: MemPool | null = null;
  return {
    name: THING,
    role: 'peer',
    setup() {
      pool = new MemPool({ size: PAIR_PAGES * PAGE + 65536 });
    },
    run(n) {
      const m = pool!;
      let s = 0;
      for (let i = 0; i < n; i++) {
        const p = m.malloc(PAGE);
        m.free(p);
        s ^= p;
      }
      return s;
    },
  };
}

function npmPairs(name: string, make: () => PageBlockAllocator): Contender {
  let a: PageBlockAllocator | null = null;
  return {
    name,
    role: 'peer',
    setup() {
      a = make();
    },
    run(n) {
      const x = a!;
      let s = 0;
      for (let i = 0; i < n; i++) {
        const p = x.allocPages(1);
        x.free(p);
        s ^= p;
      }
      return s;
    },
  };
}

// ---------------------------------------------------------- random workload

/**
 * The random workload as a script every contender replays: `v > 0` allocates
 * `v` pages and appends the block to the live list; `v <= 0` frees live[-v]
 * (the last live block moves into its slot). The live count ramps up, then
 * hovers around MEAN_LIVE (the chance to allocate falls as it rises), never
 * above MAX_LIVE; the script ends with every block freed, so it replays in a
 * loop from an empty heap, and rounds are whole loops (`opsMultiple`).
 */
function makeScript(seed: number): Int32Array {
  const rnd = prng(seed);
  const ops: number[] = [];
  let live = 0;
  while (ops.length < SCRIPT_OPS) {
    const pAlloc = 0.5 + (MEAN_LIVE - live) / MAX_LIVE;
    if (live < MAX_LIVE && (live === 0 || rnd() < pAlloc)) {
      ops.push(1 + Math.floor(rnd() * MAX_BLOCK_PAGES));
      live++;
    } else {
      ops.push(-Math.floor(rnd() * live));
      live--;
    }
  }
  while (live > 0) ops.push(-(--live)); // drain: always the last one
  return Int32Array.from(ops);
}

const script = makeScript(0x5eed);

function buddyRandom(name: string, offsetsOnly: boolean): Contender {
  let b: BuddyAllocator | null = null;
  const live = new Float64Array(MAX_LIVE);
  let nLive = 0;
  let pc = 0;
  return {
    name,
    role: 'memkit',
    setup() {
      b = new BuddyAllocator({ pages: RANDOM_PAGES, pageSize: PAGE, offsetsOnly });
    },
    run(n) {
      const a = b!;
      const ops = script;
      let s = 0;
      for (let i = 0; i < n; i++) {
        const v = ops[pc]!;
        if (++pc === ops.length) pc = 0;
        if (v > 0) {
          const p = a.allocPages(v);
          live[nLive++] = p;
          s ^= p;
        } else {
          a.free(live[-v]!);
          live[-v] = live[--nLive]!;
        }
      }
      return s;
    },
  };
}

function boundRandom(): Contender {
  // One stack per order 0..4 of pre-carved blocks (MAX_LIVE each): alloc pops,
  // free pushes; the caller remembers each block's order. No split or merge.
  const ORDERS = 5;
  const stacks = new Int32Array(ORDERS * MAX_LIVE);
  const tops = new Int32Array(ORDERS);
  const live = new Int32Array(MAX_LIVE);
  const liveOrder = new Int8Array(MAX_LIVE);
  let nLive = 0;
  let pc = 0;
  return {
    name: BOUND,
    role: 'bound',
    setup() {
      let page = 0;
      for (let k = 0; k < ORDERS; k++) {
        for (let i = 0; i < MAX_LIVE; i++) {
          stacks[k * MAX_LIVE + tops[k]!++] = page;
          page += 1 << k;
        }
      }
    },
    run(n) {
      const ops = script;
      let s = 0;
      for (let i = 0; i < n; i++) {
        const v = ops[pc]!;
        if (++pc === ops.length) pc = 0;
        if (v > 0) {
          const k = 32 - Math.clz32(v - 1);
          const page = stacks[k * MAX_LIVE + --tops[k]!]!;
          liveOrder[nLive] = k;
          live[nLive++] = page;
          s ^= page;
        } else {
          const k = liveOrder[-v]!;
          stacks[k * MAX_LIVE + tops[k]!++] = live[-v]!;
          live[-v] = live[--nLive]!;
          liveOrder[-v] = liveOrder[nLive]!;
        }
      }
      return s;
    },
  };
}

function thingRandom(): Contender {
  let pool: MemPool | null = null;
  const live = new Float64Array(MAX_LIVE);
  let nLive = 0;
  let pc = 0;
  return {
    name: THING,
    role: 'peer',
    setup() {
      pool = new MemPool({ size: RANDOM_PAGES * PAGE + 65536 });
    },
    run(n) {
      const m = pool!;
      const ops = script;
      let s = 0;
      for (let i = 0; i < n; i++) {
        const v = ops[pc]!;
        if (++pc === ops.length) pc = 0;
        if (v > 0) {
          const p = m.malloc(v * PAGE);
          if (p === 0) throw new Error('@thi.ng/malloc: out of memory in the benchmark');
          live[nLive++] = p;
          s ^= p;
        } else {
          m.free(live[-v]!);
          live[-v] = live[--nLive]!;
        }
      }
      return s;
    },
  };
}

function npmRandom(name: string, make: () => PageBlockAllocator): Contender {
  let a: PageBlockAllocator | null = null;
  const live = new Float64Array(MAX_LIVE);
  let nLive = 0;
  let pc = 0;
  return {
    name,
    role: 'peer',
    setup() {
      a = make();
    },
    run(n) {
      const x = a!;
      const ops = script;
      let s = 0;
      for (let i = 0; i < n; i++) {
        const v = ops[pc]!;
        if (++pc === ops.length) pc = 0;
        if (v > 0) {
          const p = x.allocPages(v);
          live[nLive++] = p;
          s ^= p;
        } else {
          x.free(live[-v]!);
          live[-v] = live[--nLive]!;
        }
      }
      return s;
    },
  };
}

// ------------------------------------------------------------------- cases

const aheadOfNpm = [
  { subject: MEMKIT, vs: ALLOC, atLeast: 1, text: 'ahead of every npm buddy allocator' },
  { subject: MEMKIT, vs: TREE, atLeast: 1, text: 'ahead of every npm buddy allocator' },
];

/** The buddy cases. */
export function cases(): BenchCase[] {
  return [
    {
      name: `buddy: 1-page alloc+free pairs (${PAIR_PAGES} pages of ${PAGE} B)`,
      unit: 'pairs',
      contenders: [
        buddyPairs(MEMKIT, false),
        buddyPairs(MEMKIT_OFFSETS, true),
        boundPairs(),
        thingPairs(),
        npmPairs(ALLOC, () => new AllocBuddyAdapter({ pages: PAIR_PAGES, pageSize: PAGE })),
        npmPairs(TREE, () => new BuddyTreeAdapter({ pages: PAIR_PAGES, pageSize: PAGE })),
      ],
      goals: aheadOfNpm,
    },
    {
      name: `buddy: random blocks of 1..${MAX_BLOCK_PAGES} pages, ~${MEAN_LIVE} live, at most ${MAX_LIVE} (${RANDOM_PAGES} pages)`,
      unit: 'ops',
      opsMultiple: script.length,
      contenders: [
        buddyRandom(MEMKIT, false),
        buddyRandom(MEMKIT_OFFSETS, true),
        boundRandom(),
        thingRandom(),
        npmRandom(ALLOC, () => new AllocBuddyAdapter({ pages: RANDOM_PAGES, pageSize: PAGE })),
        npmRandom(TREE, () => new BuddyTreeAdapter({ pages: RANDOM_PAGES, pageSize: PAGE })),
      ],
      goals: [
        { subject: MEMKIT, vs: THING, atLeast: 20, text: 'at least 20x @thi.ng/malloc on random page-sized blocks' },
        ...aheadOfNpm,
      ],
    },
  ];
}

/** Runs the buddy cases and prints their tables. */
export function run(options: BenchOptions = DEFAULT_OPTIONS): Promise<CaseResult[]> {
  return runCases(cases(), options);
}

// `npx tsx bench/buddy.ts` runs this module alone.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await run();
