/**
 * Child process of the attach fuzzer (run by attach-fuzz.ts with a watchdog):
 * `node --import tsx attach-fuzz.child.ts <slab|tlsf> <seed> <cases>`.
 *
 * Each case copies a live heap's buffer, then damages one state word (a
 * random value, 0, all ones, or a small shift of it; the words are taken in
 * turn, so `cases` >= 7/6 * words covers each) or truncates the copy,
 * and attaches to it. Either attach throws a MemkitError, or the heap passes
 * checkInvariants() and every block it then hands out lies inside the
 * buffer, outside the memkit header, and overlaps no other. Prints
 * `start N` before a case and `ok N <typed|usable> <ms>` or `fail N <why>`
 * after it.
 */
import { BuddyAllocator, MemkitError, Memory, SlabCache, TlsfHeap } from '../../src/index.js';
import { PAGE_WORDS } from '../../src/slab/layout.js';

const [layer, seedArg, casesArg] = process.argv.slice(2);
let seed = Number(seedArg) >>> 0 || 1;
const rnd = (): number => {
  // xorshift32
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed / 2 ** 32;
};
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

/** A live heap, and the byte addresses of its state words. */
/** An attached heap as the fuzzer drives it: alloc returns [address, bytes]. */
interface Opened {
  alloc(): [number, number];
  checkInvariants(): void;
}

function source(): { buffer: ArrayBuffer; words: number[]; open: (m: Memory) => Opened[] } {
  const buddy = new BuddyAllocator({ pages: 128 });
  const u32 = buddy.memory!.u32;
  const words: number[] = [];
  if (layer === 'slab') {
    const a = new SlabCache(buddy, { name: 'small', size: 48 });
    const b = new SlabCache(buddy, { name: 'big', size: 1500, debug: true });
    const c = new SlabCache(buddy, { name: 'multi', size: 3000, order: 1 });
    const held: Array<[SlabCache, number]> = [];
    for (let i = 0; i < 300; i++) {
      const cache = pick([a, a, b, c]);
      if (rnd() < 0.35 && held.length > 0) {
        const [hc, addr] = held.splice(Math.floor(rnd() * held.length), 1)[0]!;
        hc.free(addr);
      } else {
        held.push([cache, cache.alloc()]);
      }
    }
    const region = u32[(16 + 4 * 5) >>> 2]!; // HeaderSlot.Slab
    for (let w = 0; w < 16; w++) words.push(region + 4 * w);
    for (const cache of [a, b, c]) {
      const desc = region + 64 + cache.id * 128;
      for (let w = 0; w < 24; w++) words.push(desc + 4 * w);
      cache.forEachSlab((slab) => {
        const pt = region + u32[(region >>> 2) + 4]! * 4;
        const pg = (slab - buddy.base) / buddy.pageSize;
        for (let t = 0; t < 1 << cache.order; t++)
          for (let w = 0; w < PAGE_WORDS; w++) words.push(pt + ((pg + t) * PAGE_WORDS + w) * 4);
        for (const o of cache.freeObjects(slab).slice(0, 4))
          words.push(o - cache.objOffset + cache.fpOffset, o - cache.objOffset + cache.fpOffset + 4);
      });
    }
    return {
      buffer: buddy.memory!.buffer.slice(0) as ArrayBuffer,
      words,
      open: (m) =>
        [0, 1, 2].map((id) => {
          const cache = SlabCache.attach(m, { id });
          return {
            alloc: (): [number, number] => [cache.alloc(), cache.size],
            checkInvariants: () => cache.checkInvariants(),
          };
        }),
    };
  }
  const heap = new TlsfHeap(buddy, { chunkPages: 4 });
  const held: number[] = [];
  for (let i = 0; i < 200; i++) {
    if (rnd() < 0.4 && held.length > 0) heap.free(held.splice(Math.floor(rnd() * held.length), 1)[0]!);
    else held.push(heap.tryAlloc(1 + Math.floor(rnd() * 3000)) || heap.alloc(16));
  }
  for (let w = 0; w < 16 + 23; w++) words.push(heap.region + 4 * w);
  for (let w = 0; w < 23 * 32; w++) if (u32[(heap.region >>> 2) + 40 + w] !== 0) words.push(heap.region + 4 * (40 + w));
  words.push(heap.region + 4 * 776, heap.region + 4 * 777);
  heap.forEachBlock((addr, _size, free) => {
    words.push(addr - 8, addr - 4);
    if (free) words.push(addr, addr + 4);
  });
  return {
    buffer: buddy.memory!.buffer.slice(0) as ArrayBuffer,
    words,
    open: (m) => {
      const h = TlsfHeap.attach(m);
      let n = 0;
      return [
        {
          alloc: (): [number, number] => {
            const size = ((n++ * 977) % 5000) + 1;
            return [h.alloc(size), size];
          },
          checkInvariants: () => h.checkInvariants(),
        },
      ];
    },
  };
}

const src = source();
// Every state word in turn (in a shuffled order), each time with a random
// damage; every seventh case a random truncation instead.
const order = src.words
  .map((w) => [rnd(), w] as const)
  .sort((x, y) => x[0] - y[0])
  .map((x) => x[1]);
const cases = Number(casesArg);
process.stdout.write(`words ${order.length}\n`);
let nextWord = 0;
for (let i = 0; i < cases; i++) {
  process.stdout.write(`start ${i}\n`);
  const t0 = performance.now();
  let copy = src.buffer.slice(0);
  let what: string;
  if (i % 7 === 6) {
    const len = Math.floor(rnd() * copy.byteLength);
    copy = copy.slice(0, len);
    what = `truncated to ${len} bytes`;
  } else {
    const at = order[nextWord++ % order.length]!;
    const u32 = new Uint32Array(copy);
    const old = u32[at >>> 2]!;
    const v =
      pick([
        () => Math.floor(rnd() * 2 ** 32),
        () => 0,
        () => 0xffffffff,
        () => old + 1,
        () => old - 1,
        () => old + 4,
        () => old ^ (1 << Math.floor(rnd() * 32)),
        () => old + 4096,
        () => old * 2,
      ])() >>> 0;
    u32[at >>> 2] = v;
    what = `word at ${at} ${old} -> ${v}`;
  }
  let outcome = 'typed';
  try {
    const memory = Memory.wrap(copy);
    const heaps = src.open(memory);
    outcome = 'usable';
    for (const h of heaps) h.checkInvariants();
    const len = memory.buffer.byteLength;
    const taken: Array<[number, number]> = [];
    for (const h of heaps) {
      for (let k = 0; k < 40; k++) {
        let a: number;
        let size: number;
        try {
          [a, size] = h.alloc();
        } catch (e) {
          if (e instanceof MemkitError) break; // out of memory, or damage found later: typed
          throw e;
        }
        if (!(a >= 64 && a + size <= len))
          throw new Error(`block ${a} of ${size} bytes outside the ${len}-byte buffer`);
        for (const [b, bs] of taken)
          if (a < b + bs && b < a + size) throw new Error(`block ${a} overlaps block ${b} handed out before`);
        taken.push([a, size]);
      }
      h.checkInvariants();
    }
  } catch (e) {
    if (!(e instanceof MemkitError) || outcome === 'usable') {
      if (!(e instanceof MemkitError)) {
        process.stdout.write(`fail ${i} ${what}: ${(e as Error).name}: ${(e as Error).message}\n`);
        continue;
      }
      // A usable heap whose own checkInvariants fails after attach passed it: a miss.
      process.stdout.write(`fail ${i} ${what}: attached, then ${(e as Error).name}: ${(e as Error).message}\n`);
      continue;
    }
  }
  process.stdout.write(`ok ${i} ${outcome} ${(performance.now() - t0).toFixed(1)}\n`);
}
process.stdout.write('done\n');
