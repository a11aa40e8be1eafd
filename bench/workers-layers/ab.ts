/**
 * The workers-layers slab loop (worker.ts's `local()`: a window of 256 live
 * 64-byte objects, each step frees a random one and allocates one) in ONE
 * thread, on an unshared Memory (`new SlabCache`) or on a shared one (an
 * instance from `SlabCache.attach`, as a worker gets), with two builds of
 * memkit side by side: this tree's `src` (or `MEMKIT_NEW`'s) and another
 * copy (`MEMKIT_BASE`, a directory holding a `src`, e.g. from `git archive
 * <commit> src | tar -x -C dir`). The contenders run in alternating passes;
 * each pass is timed by CPU time (process.cpuUsage) and the minimum per
 * contender is printed (the machine is shared: the minimum is the figure
 * least disturbed by others), with the minimum wall time and the cache
 * lock entries. Each contender's loop and closures are compiled apart
 * (harness.ts's `freshLoop`: a copy of unique source text, so V8 shares
 * neither code nor feedback), so no call site is polymorphic over them.
 *
 * Run: `MEMKIT_BASE=/tmp/base MODE=shared npx tsx --tsconfig <cfg>
 * bench/workers-layers/ab.ts` (MODE=shared, unshared, pc or both; PASSES=n,
 * OPS=n ops a pass; OLD_FIRST=1 loads the copy first). `<cfg>` must include
 * the copy's directory (`{"extends": "<this tree>/tsconfig.json", "include":
 * [..., "/tmp/base/src"]}`): tsx applies a tsconfig only to the files it
 * includes, and compiles the others with define semantics for class fields
 * (useDefineForClassFields), which made the same code 10-25% slower here.
 * Without MEMKIT_BASE, only this tree. `COUNT=1` counts the shared
 * instance's slow paths instead (wrapping its private methods).
 *
 * @module
 */
import { fileURLToPath } from 'node:url';
import { freshLoop } from '../harness.js';

const WINDOW = 256;
const OPS = Number(process.env.OPS ?? 2_000_000);
const PASSES = Number(process.env.PASSES ?? 15);
/**
 * `shared`, `unshared` (one kind per process: each contender's class then sees one kind of instance),
 * `both`, or `pc`: producer/consumer on a shared memory, one attached instance allocating and
 * another freeing each object PC_LAG allocations later (a FIFO, as bench/ring.ts's pairs do).
 */
const MODE = process.env.MODE ?? 'both';
const PC_LAG = 4096;

interface Lib {
  Memory: typeof import('../../src/index.js').Memory;
  BuddyAllocator: typeof import('../../src/index.js').BuddyAllocator;
  SlabCache: typeof import('../../src/index.js').SlabCache;
}

interface Contender {
  name: string;
  loop: (k: Contender, n: number) => void;
  alloc: () => number;
  free: (a: number) => void;
  u8: Uint8Array;
  win: Float64Array;
  seed: number;
  best: number;
  bestWall: number;
  /** Cache lock entries (of both instances) in the timed passes. */
  locks: number;
}

function make(lib: Lib, shared: boolean, name: string): Contender {
  const memory = lib.Memory.create({ bytes: 64 << 20, shared });
  const buddy = new lib.BuddyAllocator({ memory, pageSize: 4096 });
  const made = new lib.SlabCache(buddy, { name: 'bench', size: 64 });
  const pc = MODE === 'pc';
  const c = shared ? lib.SlabCache.attach(memory) : made;
  const freer = pc ? lib.SlabCache.attach(memory) : c;
  // (closures made by freshLoop too: one call site of c.alloc per contender)
  const alloc = freshLoop<(c: unknown) => () => number>(['c'], 'return () => c.alloc();')(c);
  const free = freshLoop<(c: unknown) => (a: number) => void>(['c'], 'return (a) => c.free(a);')(freer);
  const k: Contender = {
    name,
    loop: pc ? makePcLoop() : makeLoop(),
    alloc,
    free,
    u8: memory.u8,
    win: new Float64Array(pc ? PC_LAG : WINDOW),
    seed: pc ? 0 : 12345,
    best: Number.POSITIVE_INFINITY,
    bestWall: Number.POSITIVE_INFINITY,
    locks: 0,
  };
  for (const x of new Set([c, freer])) {
    const enter = x.enter.bind(x);
    x.enter = () => {
      k.locks++;
      enter();
    };
  }
  return k;
}

/** The producer/consumer loop: each op pair allocates one object and frees the one allocated PC_LAG allocations before (with the other instance). */
function makePcLoop(): (k: Contender, n: number) => void {
  return freshLoop<(k: Contender, n: number) => void>(
    ['k', 'n'],
    `const { alloc, free, u8, win } = k;
    let at = k.seed;
    for (let i = 0; i < n; i += 2) {
      const p = alloc();
      u8[p] = 1;
      if (win[at] !== 0) free(win[at]);
      win[at] = p;
      at = (at + 1) & ${PC_LAG - 1};
    }
    k.seed = at;`,
  );
}

/**
 * `n` ops of the window loop (as worker.ts's local(), without the final frees),
 * compiled once per contender (`freshLoop`: identical source text would share
 * V8's code and feedback): no call site in it is polymorphic over the contenders.
 */
function makeLoop(): (k: Contender, n: number) => void {
  return freshLoop<(k: Contender, n: number) => void>(
    ['k', 'n'],
    `const { alloc, free, u8, win } = k;
    let seed = k.seed;
    for (let i = 0; i < n; i += 2) {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      const s = (seed >>> 0) & ${WINDOW - 1};
      if (win[s] !== 0) free(win[s]);
      const p = alloc();
      u8[p] = 1;
      win[s] = p;
    }
    k.seed = seed;`,
  );
}

async function load(dir: string): Promise<Lib> {
  return (await import(`${dir}/src/index.ts`)) as Lib;
}

async function main(): Promise<void> {
  const here = process.env.MEMKIT_NEW ?? fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
  const base = process.env.MEMKIT_BASE;
  // OLD_FIRST=1 loads and makes the old build's contenders first (the order may favour one)
  const oldFirst = base !== undefined && process.env.OLD_FIRST === '1';
  const old = oldFirst ? await load(base) : undefined;
  const now = await load(here);
  if (process.env.COUNT === '1') return count(now);
  const modes = MODE === 'both' ? [false, true] : [MODE === 'shared' || MODE === 'pc'];
  const ks: Contender[] = [];
  if (old !== undefined) for (const sh of modes) ks.push(make(old, sh, `old ${sh ? 'shared' : 'unshared'}`));
  for (const sh of modes) ks.push(make(now, sh, `new ${sh ? 'shared' : 'unshared'}`));
  if (base !== undefined && !oldFirst) {
    const later = await load(base);
    for (const sh of modes) ks.push(make(later, sh, `old ${sh ? 'shared' : 'unshared'}`));
  }
  ks.sort((a, b) => (a.name.startsWith('new') ? 0 : 1) - (b.name.startsWith('new') ? 0 : 1));
  for (const k of ks) k.loop(k, 1_000_000); // warm-up
  for (const k of ks) k.locks = 0;
  for (let p = 0; p < PASSES; p++) {
    for (let j = 0; j < ks.length; j++) {
      const k = ks[(j + p) % ks.length]!;
      const t = process.cpuUsage();
      const w = performance.now();
      k.loop(k, OPS);
      const wall = performance.now() - w;
      const u = process.cpuUsage(t);
      k.best = Math.min(k.best, (u.user + u.system) / 1000);
      k.bestWall = Math.min(k.bestWall, wall);
    }
  }
  for (const k of ks)
    console.log(
      `${k.name.padEnd(14)} min CPU ${k.best.toFixed(1)} ms / ${OPS} ops = ${(OPS / k.best / 1000).toFixed(2)} M ops/s (min wall ${k.bestWall.toFixed(1)} ms; ${(k.locks / PASSES).toFixed(0)} cache lock entries a pass)`,
    );
  if (MODE === 'both') {
    for (let i = 0; i < ks.length; i += 2)
      console.log(`${ks[i + 1]!.name} / ${ks[i]!.name}: ${(ks[i]!.best / ks[i + 1]!.best).toFixed(3)}x`);
  } else if (ks.length === 2) console.log(`new / old: ${(ks[1]!.best / ks[0]!.best).toFixed(3)}x`);
}

/** Counts how often the shared instance's slow paths run in OPS ops (after a warm-up). */
function count(lib: Lib): void {
  const k = make(lib, true, 'shared');
  const proto = lib.SlabCache.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  const counts: Record<string, number> = {};
  for (const m of ['allocActive', 'freeActive', 'refillActive', 'switchActive', 'mineFreed', 'enter']) {
    const f = proto[m]!;
    counts[m] = 0;
    proto[m] = function (this: unknown, ...a: unknown[]) {
      counts[m]!++;
      return f.apply(this, a);
    };
  }
  k.loop(k, 1_000_000);
  for (const m of Object.keys(counts)) counts[m] = 0;
  k.loop(k, OPS);
  console.log(`${OPS} ops (${OPS / 2} allocs, ${OPS / 2} frees):`, counts);
}

await main();
