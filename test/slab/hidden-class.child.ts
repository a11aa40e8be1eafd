/**
 * Run with `node --allow-natives-syntax --import tsx`: prints whether a
 * constructed and an attached instance share V8's hidden class (map).
 * `control` compares two different classes, so the check can say false.
 */
import { BuddyAllocator, Memory, SlabCache, TlsfHeap } from '../../src/index.js';
import { SlabSpace } from '../../src/slab/index.js';

// eslint-disable-next-line @typescript-eslint/no-implied-eval
const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;

const buddy = new BuddyAllocator({ pages: 256 });
const made = new SlabCache(buddy, { name: 'hc', size: 64 });
made.alloc();
const heap = new TlsfHeap(buddy, { chunkPages: 4 });
heap.alloc(100);
const copy = Memory.wrap(buddy.memory!.buffer.slice(0));
const attached = SlabCache.attach(copy, { name: 'hc' });
const viaSpace = SlabCache.attach(SlabSpace.open(buddy, copy.u32[(16 + 4 * 5) >>> 2]!), made.id);
const heap2 = TlsfHeap.attach(copy);
const heap3 = TlsfHeap.attach(buddy, heap.region);
process.stdout.write(
  JSON.stringify({
    slab: sameMap(made, attached),
    slabViaSpace: sameMap(made, viaSpace),
    tlsf: sameMap(heap, heap2),
    tlsfViaBuddy: sameMap(heap, heap3),
    control: sameMap(made, heap),
  }),
);
