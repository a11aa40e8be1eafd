/**
 * Child of damage.test.ts: damages one word of a live Arena's state or of a
 * chunk header, then calls every public method; prints `case`/`result` lines
 * so that the parent's watchdog can name a case that hangs.
 */
import { Arena, BuddyAllocator, MemkitError, type Memory } from '../../src/index.js';

const kind = process.argv[2] ?? 'memory';
function world() {
  const buddy = new BuddyAllocator({ pages: 32, pageSize: 256 });
  const a =
    kind === 'buddy'
      ? new Arena({ buddy, chunkPages: 1 })
      : kind === 'shared'
        ? new Arena({ bytes: 256, maxBytes: 4096, shared: true })
        : new Arena({ bytes: 256, maxBytes: 4096 });
  const m0 = a.mark();
  a.alloc(100);
  const m1 = a.mark();
  a.alloc(200);
  a.alloc(300);
  const m2 = a.mark();
  a.alloc(50);
  const chunks = a.chunkList().map((c) => c.address);
  // A bystander (buddy mode): pages another owner took from the same buddy, filled with a pattern.
  const by = kind === 'buddy' ? buddy.allocPages(2) : 0;
  if (by !== 0) (a.memory as Memory).u8.fill(0x5a, by, by + 512);
  return { a, marks: [m0, m1, m2], chunks, memory: a.memory as Memory, by, buddy };
}

const probe = world();
const stateWords = 64; // more than the state has: the words after it too
const targets = (w: ReturnType<typeof world>) => {
  const t: number[] = [];
  for (let i = 0; i < stateWords; i++) t.push((w.a.stateAddress >>> 2) + i);
  for (const c of w.chunks) for (let i = 0; i < 4; i++) t.push((c >>> 2) + i);
  return t;
};
const count = targets(probe).length;
let n = 0;
for (let wi = 0; wi < count; wi++) {
  for (let vi = 0; vi < (kind === 'buddy' ? 9 : 6); vi++) {
    const w = world();
    const idx = targets(w)[wi]!;
    const u32 = w.memory.u32;
    const orig = u32[idx]!;
    // ...and in buddy mode the bystander's address, a word inside it, and its end.
    const v = [
      0,
      0xffffffff,
      (orig ^ 1) >>> 0,
      (orig + 4096) >>> 0,
      0x7fffffff,
      (orig - 16) >>> 0,
      w.by,
      w.by + 64,
      w.by + 512,
    ][vi]!;
    if (kind === 'shared' && v >= 1 && v <= 32) continue; // a lock word naming a live slot: a held lock
    u32[idx] = v;
    const len = w.memory.buffer.byteLength;
    const header = Buffer.from(w.memory.u8.slice(0, 64));
    const calls: Array<[string, () => unknown]> = [
      ['used', () => w.a.used],
      ['capacity', () => w.a.capacity],
      ['stats', () => w.a.stats()],
      ['chunkList', () => w.a.chunkList()],
      ['checkInvariants', () => w.a.checkInvariants()],
      ['alloc', () => w.a.alloc(16)],
      ['alloc big', () => w.a.alloc(1000)],
      ['mark', () => w.a.mark()],
      ['rewind', () => w.a.rewind(w.marks[2]!)],
      ['rewind', () => w.a.rewind(w.marks[1]!)],
      ['alloc', () => w.a.alloc(700)],
      ['reset', () => w.a.reset()],
      ['alloc', () => w.a.alloc(16)],
      ['attach', () => Arena.attach(w.memory, kind === 'buddy' ? { buddy: w.a.buddy! } : {}).detach()],
    ];
    const out: string[] = [];
    for (const [name, call] of calls) {
      process.stdout.write(`case ${n} word ${wi} value ${vi} ${name}\n`);
      try {
        const r = call();
        if (name.startsWith('alloc') && typeof r === 'number' && (r < 64 || r >= w.memory.buffer.byteLength))
          out.push(`${name} gave ${r}, outside the memory`);
      } catch (e) {
        if (!(e instanceof MemkitError)) out.push(`UNTYPED ${name}: ${(e as Error).name} ${(e as Error).message}`);
      }
    }
    if (w.memory.buffer.byteLength < len) out.push('buffer shrank');
    if (w.by !== 0 && !w.memory.u8.subarray(w.by, w.by + 512).every((b) => b === 0x5a))
      out.push('the bystander changed');
    if (w.by !== 0 && !w.buddy.isAllocated(w.by)) out.push("the bystander's pages went back to the buddy");
    const h = Buffer.from(w.memory.u8.slice(0, 64));
    h.fill(0, 48, 56); // workers and length words may change
    header.fill(0, 48, 56);
    if (!h.equals(header)) out.push('memkit header changed');
    try {
      w.a.dispose();
    } catch (e) {
      if (!(e instanceof MemkitError)) out.push(`UNTYPED dispose: ${(e as Error).name} ${(e as Error).message}`);
    }
    process.stdout.write(`result ${n} word ${wi} value ${vi} ${out.length === 0 ? 'ok' : out.join('; ')}\n`);
    n++;
  }
}
process.stdout.write(`done ${n}\n`);
