/**
 * Where the time of a SlabCache alloc+free pair goes (issue 11, "a profile showing which
 * necessary work the rest is"): the same layout as SlabCache (page descriptors, the freelist
 * threaded through the objects, free tags), as plain loops, each variant adding one piece of
 * the work a memkit pair does, then SlabCache itself; interleaved rounds, median M pairs/s
 * and the ratio to the lower bound of `npm run bench -- slab`.
 *
 * Run: `npx tsx bench/slab-profile.ts` (ROUNDS=n for more rounds).
 *
 * @module
 */
import { BuddyAllocator } from '../src/buddy/index.js';
import { SlabCache } from '../src/slab/index.js';
const u32 = new Uint32Array(1 << 20);
const C = 1000,
  PT = 2000,
  BASE = 65536,
  SHIFT = 12,
  TAG = 0x46524545,
  SPAN = 4096,
  OBJS = 64,
  ID1 = 1;
const INV = 1,
  KSH = 6,
  ROT = 26,
  MAX = Math.floor(0xffffffff / 64);
const onStride = (rel: number) => {
  const x = Math.imul(rel, INV);
  return ((x >>> KSH) | (x << ROT)) >>> 0 <= MAX;
};
function reset() {
  for (let i = 0; i < 63; i++) {
    const a = BASE + i * 64;
    const nx = i + 1 < 63 ? a + 64 : 0;
    u32[a >>> 2] = nx;
    u32[(a >>> 2) + 1] = (nx ^ TAG) >>> 0;
  }
  u32[C + 9] = 0;
  u32[PT] = BASE;
  u32[PT + 1] = ID1 | (1 << 16);
  u32[PT + 4] = 0;
}
const o = { u32 };
type F = (n: number) => number;
const v: [string, F][] = [];
// V1: pop/push through the partial head and descriptor
v.push([
  '1 pop/push via descriptor',
  (n) => {
    const a = o.u32;
    let s = 0;
    for (let i = 0; i < n; i++) {
      const pg = a[C + 9]!;
      const d = PT + (pg << 3);
      const slot = a[d]!;
      a[d] = a[slot >>> 2]!; /* free */
      const p2 = (slot - BASE) >>> SHIFT;
      const d2 = PT + (p2 << 3);
      a[slot >>> 2] = a[d2]!;
      a[d2] = slot;
      s ^= slot;
    }
    return s;
  },
]);
// V2: + inuse counter
v.push([
  '2 + inuse count',
  (n) => {
    const a = o.u32;
    let s = 0;
    for (let i = 0; i < n; i++) {
      const pg = a[C + 9]!;
      const d = PT + (pg << 3);
      const slot = a[d]!;
      a[d] = a[slot >>> 2]!;
      a[d + 1] = a[d + 1]! + 0x10000;
      const p2 = (slot - BASE) >>> SHIFT;
      const d2 = PT + (p2 << 3);
      a[slot >>> 2] = a[d2]!;
      a[d2] = slot;
      const left = a[d2 + 1]! - 0x10000;
      a[d2 + 1] = left;
      if (left >>> 16 === 0) throw 1;
      s ^= slot;
    }
    return s;
  },
]);
// V3: + free's owner / tail / slab-state checks, alloc's full check
v.push([
  '3 + owner, tail, list checks',
  (n) => {
    const a = o.u32;
    let s = 0;
    for (let i = 0; i < n; i++) {
      const pg = a[C + 9]!;
      const d = PT + (pg << 3);
      const slot = a[d]!;
      if (slot === 0) throw 1;
      a[d] = a[slot >>> 2]!;
      const inf = a[d + 1]! + 0x10000;
      a[d + 1] = inf;
      if (inf >>> 16 === OBJS) throw 2;
      const off = slot - BASE;
      const p2 = off >>> SHIFT;
      if (!(off >= 0 && p2 < 4096)) throw 3;
      const d2 = PT + (p2 << 3);
      const info = a[d2 + 1]!;
      if ((info & 0xffff) !== ID1 || info >>> 16 === 0xffff || info >>> 16 === 0) throw 4;
      a[slot >>> 2] = a[d2]!;
      a[d2] = slot;
      const left = info - 0x10000;
      a[d2 + 1] = left;
      if (left >>> 16 === 0 || left >>> 16 === OBJS - 1) throw 5;
      s ^= slot;
    }
    return s;
  },
]);
// V4: + grid and never-used checks on free
v.push([
  '4 + free: grid, never-used',
  (n) => {
    const a = o.u32;
    let s = 0;
    for (let i = 0; i < n; i++) {
      const pg = a[C + 9]!;
      const d = PT + (pg << 3);
      const slot = a[d]!;
      if (slot === 0) throw 1;
      a[d] = a[slot >>> 2]!;
      const inf = a[d + 1]! + 0x10000;
      a[d + 1] = inf;
      if (inf >>> 16 === OBJS) throw 2;
      const off = slot - BASE;
      const p2 = off >>> SHIFT;
      if (!(off >= 0 && p2 < 4096)) throw 3;
      const d2 = PT + (p2 << 3);
      const info = a[d2 + 1]!;
      const rel = slot - (BASE + ((p2 << SHIFT) >>> 0));
      const un = a[d2 + 4]!;
      if (
        (info & 0xffff) !== ID1 ||
        info >>> 16 === 0xffff ||
        info >>> 16 === 0 ||
        rel >>> 0 >= SPAN ||
        !onStride(rel) ||
        (un !== 0 && slot >= un)
      )
        throw 4;
      a[slot >>> 2] = a[d2]!;
      a[d2] = slot;
      const left = info - 0x10000;
      a[d2 + 1] = left;
      if (left >>> 16 === 0 || left >>> 16 === OBJS - 1) throw 5;
      s ^= slot;
    }
    return s;
  },
]);
// V5: + free tags (double-free check and tag write on free, tag clear on alloc)
v.push([
  '5 + free tags, double free',
  (n) => {
    const a = o.u32;
    let s = 0;
    for (let i = 0; i < n; i++) {
      const pg = a[C + 9]!;
      const d = PT + (pg << 3);
      const slot = a[d]!;
      if (slot === 0) throw 1;
      const fp = slot >>> 2;
      a[d] = a[fp]!;
      a[fp + 1] = 0;
      const inf = a[d + 1]! + 0x10000;
      a[d + 1] = inf;
      if (inf >>> 16 === OBJS) throw 2;
      const off = slot - BASE;
      const p2 = off >>> SHIFT;
      if (!(off >= 0 && p2 < 4096)) throw 3;
      const d2 = PT + (p2 << 3);
      const info = a[d2 + 1]!;
      const rel = slot - (BASE + ((p2 << SHIFT) >>> 0));
      const un = a[d2 + 4]!;
      if (
        (info & 0xffff) !== ID1 ||
        info >>> 16 === 0xffff ||
        info >>> 16 === 0 ||
        rel >>> 0 >= SPAN ||
        !onStride(rel) ||
        (un !== 0 && slot >= un) ||
        a[fp + 1] === (a[fp]! ^ TAG) >>> 0
      )
        throw 4;
      const h = a[d2]!;
      a[fp] = h;
      a[fp + 1] = (h ^ TAG) >>> 0;
      a[d2] = slot;
      const left = info - 0x10000;
      a[d2 + 1] = left;
      if (left >>> 16 === 0 || left >>> 16 === OBJS - 1) throw 5;
      s ^= slot;
    }
    return s;
  },
]);
// V6: + alloc's check of the free pointer it follows (tag, inside the slab, on the grid)
v.push([
  '6 + alloc: next pointer checked',
  (n) => {
    const a = o.u32;
    let s = 0;
    for (let i = 0; i < n; i++) {
      const pg = a[C + 9]!;
      const d = PT + (pg << 3);
      const slot = a[d]!;
      if (slot === 0) throw 1;
      const fp = slot >>> 2;
      const next = a[fp]!;
      const r0 = next - (BASE + ((pg << SHIFT) >>> 0));
      if (a[fp + 1] !== (next ^ TAG) >>> 0 || (next !== 0 && (r0 >>> 0 >= SPAN || !onStride(r0)))) throw 9;
      a[d] = next;
      a[fp + 1] = 0;
      const inf = a[d + 1]! + 0x10000;
      a[d + 1] = inf;
      if (inf >>> 16 === OBJS) throw 2;
      const off = slot - BASE;
      const p2 = off >>> SHIFT;
      if (!(off >= 0 && p2 < 4096)) throw 3;
      const d2 = PT + (p2 << 3);
      const info = a[d2 + 1]!;
      const rel = slot - (BASE + ((p2 << SHIFT) >>> 0));
      const un = a[d2 + 4]!;
      if (
        (info & 0xffff) !== ID1 ||
        info >>> 16 === 0xffff ||
        info >>> 16 === 0 ||
        rel >>> 0 >= SPAN ||
        !onStride(rel) ||
        (un !== 0 && slot >= un) ||
        a[fp + 1] === (a[fp]! ^ TAG) >>> 0
      )
        throw 4;
      const h = a[d2]!;
      a[fp] = h;
      a[fp + 1] = (h ^ TAG) >>> 0;
      a[d2] = slot;
      const left = info - 0x10000;
      a[d2 + 1] = left;
      if (left >>> 16 === 0 || left >>> 16 === OBJS - 1) throw 5;
      s ^= slot;
    }
    return s;
  },
]);
const sc = new SlabCache(new BuddyAllocator({ pages: 1024 }), { name: 'a', size: 64 });
sc.alloc();
v.push([
  '7 SlabCache.alloc/free',
  (n) => {
    const c = sc;
    let s = 0;
    for (let i = 0; i < n; i++) {
      const p = c.alloc();
      c.free(p);
      s ^= p;
    }
    return s;
  },
]);
const next = new Int32Array(2048);
for (let i = 0; i < 2048; i++) next[i] = i + 1;
let head = 0;
v.unshift([
  '0 bound (bench/slab.ts)',
  (n) => {
    let s = 0;
    for (let i = 0; i < n; i++) {
      const p = head;
      head = next[p]!;
      next[p] = head;
      head = p;
      s ^= p;
    }
    return s;
  },
]);
const N = 4_000_000;
reset();
for (let w = 0; w < 3; w++) for (const [, f] of v) f(N);
const r: number[][] = v.map(() => []);
for (let round = 0; round < Number(process.env.ROUNDS ?? 9); round++)
  v.forEach(([, f], i) => {
    const t = performance.now();
    f(N);
    r[i]!.push(N / ((performance.now() - t) / 1000) / 1e6);
  });
const med = (x: number[]) => [...x].sort((a, b) => a - b)[x.length >> 1]!;
v.forEach(([name], i) =>
  console.log(
    `${name.padEnd(34)} ${med(r[i]!).toFixed(0).padStart(5)} M pairs/s  ${(1000 / med(r[i]!)).toFixed(1).padStart(5)} ns/pair  vs bound ${med(r[i]!.map((x, k) => x / r[0]![k]!)).toFixed(3)}`,
  ),
);
