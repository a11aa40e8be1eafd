/**
 * Child of damage.test.ts: damages one word of a live SlabCache's state (its
 * descriptor, the page table of its slabs, a free pointer) and calls every
 * public method; prints one line per case (`case <n> <outcome>`), so that the
 * parent's watchdog can name a case that hangs.
 */
import { BuddyAllocator, MemkitError, Memory, SlabCache } from '../../src/index.js';
import { damageCall } from '../support/damage-child.js';

const CACHE_WORDS = 32;
const shared = process.argv.includes('shared');
const PAGE_WORDS = 8;

function world(debug: boolean) {
  const buddy = shared
    ? new BuddyAllocator({ memory: Memory.create({ bytes: 40 * 4096, shared: true }), pageSize: 4096 })
    : new BuddyAllocator({ pages: 32 });
  const cache = new SlabCache(buddy, { name: 'victim', size: 1000, debug }); // 4 objects per slab
  // A bystander: its objects (filled with a pattern) and its descriptor must survive any damage to the victim.
  const other = new SlabCache(buddy, { name: 'bystander', size: 200 });
  const mine = Array.from({ length: 5 }, () => other.alloc());
  for (const o of mine) buddy.memory!.u8.fill(0xab, o, o + 200);
  const objs = Array.from({ length: 7 }, () => cache.alloc());
  cache.free(objs[5]!);
  cache.free(objs[1]!);
  const slabs: number[] = [];
  cache.forEachSlab((a) => slabs.push(a));
  return { buddy, cache, objs, slabs, memory: buddy.memory!, other, mine };
}

/** Every u32 index worth damaging: the descriptor, the slabs' page descriptors, the free objects' first words. */
function targets(w: ReturnType<typeof world>): number[] {
  const t: number[] = [];
  for (let i = 0; i < CACHE_WORDS; i++) t.push(w.cache.c + i);
  for (const s of w.slabs) {
    const pg = (s - w.cache.base) / w.buddy.pageSize;
    for (let i = 0; i < PAGE_WORDS; i++) t.push(w.cache.pt + pg * PAGE_WORDS + i);
  }
  for (const o of [w.objs[5]!, w.objs[1]!]) {
    const fp = (o - w.cache.objOffset + w.cache.fpOffset) >>> 2;
    t.push(fp, fp + 1);
  }
  return t;
}

const debug = process.argv.includes('debug');
const probe = world(debug);
const words = targets(probe);
/**
 * The damaged values of a word: small and large numbers, a bit flip, a shift; then what
 * names the bystander: two of its objects, its descriptor's address, and its slab's page
 * index (a list link or head naming it made the victim's list operations write the
 * bystander's descriptor until 5 Dec).
 */
const values = (orig: number, w: ReturnType<typeof world>) => [
  0,
  0xffffffff,
  1,
  (orig ^ 1) >>> 0,
  (orig + 1000) >>> 0,
  0x7fffffff,
  0x40000,
  w.mine[0]!,
  w.mine[1]!,
  w.other.c << 2,
  (w.mine[0]! - w.other.base) / w.buddy.pageSize,
];
let n = 0;
for (let wi = 0; wi < words.length; wi++) {
  for (const vi of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) {
    const w = world(debug);
    const idx = targets(w)[wi]!;
    const u32 = w.memory.u32;
    const v = values(u32[idx]!, w)[vi]!;
    // A lock word naming a live slot is a held lock, not damage: waiting for it is right.
    if (shared && wi === 0 && v >= 1 && v <= 32) continue;
    u32[idx] = v;
    const lenBefore = w.memory.buffer.byteLength;
    const header = Buffer.from(w.memory.u8.slice(0, 64));
    const calls: Array<[string, () => unknown]> = [
      ['stats', () => w.cache.stats()],
      ['slabinfoRow', () => w.cache.slabinfoRow()],
      ['footprint', () => w.cache.footprint()],
      ['isAllocated', () => w.cache.isAllocated(w.objs[0]!)],
      ['freeObjects', () => w.cache.freeObjects(w.slabs[0]!)],
      ['forEachSlab', () => w.cache.forEachSlab(() => {})],
      ['checkInvariants', () => w.cache.checkInvariants()],
      ['alloc', () => w.cache.alloc()],
      ['alloc', () => w.cache.alloc()],
      ['free', () => w.cache.free(w.objs[0]!)],
      ['free', () => w.cache.free(w.objs[6]!)],
      ['allocBulk', () => w.cache.allocBulk(6, new Uint32Array(6))],
      ['freeBulk', () => w.cache.freeBulk([w.objs[2]!, w.objs[3]!])],
      ['shrink', () => w.cache.shrink()],
      ['attach', () => SlabCache.attach(w.memory, { name: 'victim' }).detach()],
    ];
    const out: string[] = [];
    const otherDesc = () => Buffer.from(w.memory.u8.slice(w.other.c << 2, (w.other.c + CACHE_WORDS) << 2));
    const descBefore = otherDesc();
    for (const [name, call] of calls) {
      damageCall(`${n} word ${wi} value ${vi}`, name, call, out, (e) => e instanceof MemkitError);
    }
    if (!otherDesc().equals(descBefore)) out.push("the bystander cache's descriptor changed");
    for (const o of w.mine)
      if (!w.memory.u8.subarray(o, o + 200).every((b) => b === 0xab)) out.push(`bystander object ${o} changed`);
    try {
      w.other.checkInvariants();
    } catch (e) {
      out.push(`bystander: ${(e as Error).message}`);
    }
    if (w.memory.buffer.byteLength !== lenBefore) out.push('buffer length changed');
    if (!Buffer.from(w.memory.u8.slice(0, 64)).equals(header)) out.push('memkit header changed');
    process.stdout.write(`result ${n} word ${wi} value ${vi} ${out.length === 0 ? 'ok' : out.join('; ')}\n`);
    n++;
  }
}
process.stdout.write(`done ${n}\n`);
