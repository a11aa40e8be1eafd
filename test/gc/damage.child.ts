/**
 * Child of damage.test.ts: damages one word of a live ManagedHeap's state
 * block (over a Kmalloc backend the program also allocates from) and calls
 * the public methods; prints one line per case (`case <n> <outcome>`), so
 * that the parent's watchdog can name a case that hangs.
 */
import { Kmalloc, ManagedHeap, MemkitError } from '../../src/index.js';
import { damageCall } from '../support/damage-child.js';

/** State words: the GC_STATE words of src/gc/layout.ts (0..42), and a few past them. */
const WORDS = 48;

function world() {
  const k = new Kmalloc({ bytes: 8 << 20 });
  const heap = new ManagedHeap({ backend: k, autoCollect: false });
  const Pair = heap.defineType('Pair', { left: 'ref', right: 'ref' });
  const Fin = heap.defineType('Fin', { x: 'i32' }, { finalizer: () => {} });
  const Arr = heap.defineArray('Arr', 'ref');
  const objs = Array.from({ length: 50 }, () => Pair.alloc());
  for (let i = 1; i < objs.length; i++) Pair.fields.left.set(objs[i - 1]!, objs[i]!);
  const root = heap.root(objs[0]!);
  heap.root(Arr.alloc(3000)); // a large object
  for (let i = 0; i < 3; i++) Fin.alloc(); // garbage with finalizers
  heap.pushRoot(objs[7]!);
  heap.collect();
  for (let i = 0; i < 100; i++) Pair.alloc(); // garbage for the next sweep
  // A bystander: the program's own block in the same Kmalloc.
  const mine = k.alloc(300);
  k.memory.u8.fill(0x5a, mine, mine + 300);
  return { k, heap, Pair, Fin, Arr, objs, root, mine };
}

/** The damaged values of a word: 0, all ones, two bit flips, a small shift, and the address of the program's own block. */
const values = (orig: number, mine: number) => [
  0,
  0xffffffff,
  (orig ^ 0x80000000) >>> 0,
  (orig ^ 0x1000) >>> 0,
  (orig + 7) >>> 0,
  mine,
];
const VALUES = 6;
let n = 0;
for (let wi = 0; wi < WORDS; wi++) {
  for (let vi = 0; vi < VALUES; vi++) {
    const w = world();
    const u32 = w.k.memory.u32;
    const idx = (w.heap.stateAddress >>> 2) + wi;
    u32[idx] = values(u32[idx]!, w.mine)[vi]!;
    const header = Buffer.from(w.k.memory.u8.slice(0, 64));
    const calls: Array<[string, () => unknown]> = [
      [
        'alloc',
        () => {
          for (let i = 0; i < 100; i++) w.Pair.alloc();
        },
      ],
      ['alloc large', () => w.Arr.alloc(5000)],
      ['alloc finalized', () => w.Fin.alloc()],
      ['root', () => w.heap.root(w.objs[5]!)],
      ['release', () => w.root.release()],
      ['pushRoot', () => w.heap.pushRoot(w.objs[9]!)],
      ['popRoot', () => w.heap.popRoot()],
      ['scope', () => w.heap.scope(() => w.heap.root(w.objs[6]!))],
      ['collect', () => w.heap.collect()],
      ['collect again', () => w.heap.collect()],
      ['step', () => w.heap.step(1000)],
      ['stats', () => w.heap.stats()],
      ['graph', () => w.heap.graph()],
      ['trim', () => w.heap.trim()],
      ['pauses', () => w.heap.pauses()],
      ['isLive', () => w.heap.isLive(w.objs[3]!)],
      ['sizeOf', () => w.heap.sizeOf(w.objs[3]!)],
      ['setGlobal', () => w.heap.setGlobal('g', w.objs[4]!)],
    ];
    const out: string[] = [];
    for (const [name, call] of calls) {
      damageCall(`${n} word ${wi} value ${vi}`, name, call, out, (e) => e instanceof MemkitError);
      if (!Buffer.from(w.k.memory.u8.slice(0, 64)).equals(header)) {
        out.push(`${name} wrote the memkit header`);
        break;
      }
    }
    if (!w.k.memory.u8.subarray(w.mine, w.mine + 300).every((b) => b === 0x5a)) out.push("the program's block changed");
    let mineAllocated = false;
    try {
      mineAllocated = w.k.isAllocated(w.mine);
    } catch (e) {
      if (!(e instanceof MemkitError)) out.push(`UNTYPED isAllocated: ${(e as Error).message}`);
      mineAllocated = true; // a typed refusal to answer is not a free
    }
    if (!mineAllocated) out.push("the program's block was freed");
    process.stdout.write(`result ${n} word ${wi} value ${vi} ${out.length === 0 ? 'ok' : out.join('; ')}\n`);
    n++;
  }
}
process.stdout.write(`done ${n}\n`);
