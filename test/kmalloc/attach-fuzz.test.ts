/**
 * Kmalloc.attach on damaged copies of a heap: every word of the control
 * block set to hostile values in turn, and truncated copies. Each case ends
 * in a MemkitError, or in a heap whose next allocations stay inside the
 * buffer and overlap neither each other nor the blocks live in the copy.
 */
import { describe, expect, it } from 'vitest';
import { HeaderSlot, Kmalloc, Memory, MemkitError, readSlot } from '../../src/index.js';
import { curFreeTable } from '../../src/kmalloc/layout.js';
import { HANG_MS } from '../support/fuzz.js';

interface Block {
  addr: number;
  size: number;
}

function heapWithBlocks(): { memory: Memory; live: Block[] } {
  const memory = Memory.create({ bytes: 8 << 20 });
  const k = new Kmalloc({ memory });
  const live: Block[] = [];
  const sizes = [8, 24, 64, 16, 100, 3000, 20_000, 70_000, 40, 56];
  for (let i = 0; i < 300; i++) {
    const a = k.kmalloc(sizes[i % sizes.length]!);
    live.push({ addr: a, size: k.ksize(a) });
  }
  for (let i = 0; i < live.length; i += 3) k.kfree(live[i]!.addr); // partial pages, free lists, TLSF holes
  return { memory, live: live.filter((_, i) => i % 3 !== 0) };
}

/** Runs allocations on an attached heap; returns a problem, or null. */
function exercise(k: Kmalloc, live: Block[], length: number): string | null {
  const taken: Block[] = [...live];
  let seed = 99;
  for (let i = 0; i < 200; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const size = [1, 8, 24, 64, 65, 500, 4000, 9000, 80_000][seed % 9]!;
    let a: number;
    try {
      a = k.kmalloc(size);
    } catch (e) {
      if (e instanceof MemkitError) continue;
      return `kmalloc(${size}) threw ${(e as Error).name}: ${(e as Error).message}`;
    }
    if (a <= 0 || a + size > length) return `kmalloc(${size}) = ${a}: outside the buffer (${length} bytes)`;
    const hit = taken.find((b) => a < b.addr + b.size && b.addr < a + size);
    if (hit !== undefined) return `kmalloc(${size}) = ${a} overlaps the block at ${hit.addr} (${hit.size} B)`;
    taken.push({ addr: a, size });
  }
  return null;
}

describe('Kmalloc.attach fuzzer', () => {
  it('every damaged control word or truncation: a MemkitError, or a heap that stays in bounds and overlaps nothing', () => {
    const { memory, live } = heapWithBlocks();
    const k0 = readSlot(memory, HeaderSlot.Kmalloc) >>> 2;
    const n = memory.u32[k0 + 6]!; // K_CLASSES
    const words = 16 + n + n * 6; // K_CUR + cur[] + the class table
    const problems: string[] = [];
    let refused = 0;
    let accepted = 0;
    const check = (copy: Memory, what: string): void => {
      const t0 = performance.now();
      let k: Kmalloc;
      try {
        k = Kmalloc.attach(copy);
      } catch (e) {
        if (e instanceof MemkitError) refused++;
        else problems.push(`${what}: attach threw ${(e as Error).name}: ${(e as Error).message}`);
        return;
      }
      accepted++;
      const p = exercise(k, live, copy.byteLength);
      if (p !== null) problems.push(`${what}: ${p}`);
      if (performance.now() - t0 > HANG_MS) problems.push(`${what}: took over ${HANG_MS} ms (a hang?)`);
    };
    for (let w = 0; w < words; w++) {
      const orig = memory.u32[k0 + w]!;
      for (const v of [0, 1, 0xffffffff, orig + 1, orig - 8, orig ^ 0x10000, k0 + 12, (orig * 2654435761) >>> 0]) {
        if (v >>> 0 === orig) continue;
        const copy = Memory.wrap(memory.buffer.slice(0) as ArrayBuffer);
        copy.u32[k0 + w] = v >>> 0;
        check(copy, `control word ${w} = ${v >>> 0} (was ${orig})`);
      }
    }
    // The words of many workers (docs/workers.md): the cur[] tables of worker slots 1, 2 and 31
    // (all alike, so three stand for the 31), reclaim[slot] and abandoned[class], set to
    // garbage or to a real class page's descriptor (a page of slot 0, listed where it is not).
    const realPage = memory.u32[k0 + 16]!; // slot 0's current page of class 0
    const curOf = (slot: number): number => 16 + 7 * n + (slot - 1) * n;
    const workerWords = [
      ...[1, 2, 31].flatMap((slot) => Array.from({ length: n }, (_, c) => curOf(slot) + c)),
      ...Array.from({ length: 32 + n }, (_, i) => 16 + 38 * n + i),
    ];
    for (const w of workerWords) {
      const orig = memory.u32[k0 + w]!;
      for (const v of [1, 0xffffffff, orig ^ 0x10000, realPage]) {
        if (v >>> 0 === orig) continue;
        const copy = Memory.wrap(memory.buffer.slice(0) as ArrayBuffer);
        copy.u32[k0 + w] = v >>> 0;
        check(copy, `worker control word ${w} = ${v >>> 0} (was ${orig})`);
      }
    }
    // Slot 0's curFree[class] words (the free list of each current page, popped by alloc with
    // only the tag check): garbage, a neighbour of the head, a live block (on the page's grid,
    // below its unused mark, but not free), another class's free block, and the list's own
    // second block (a list that lost its head: the head leaks, nothing is handed out twice).
    const cf = curFreeTable(memory.u32, k0, n, 0) - k0;
    const liveBlock = live[live.length - 1]!.addr;
    const otherFree = (c: number): number => {
      for (let o = 0; o < n; o++) if (o !== c && memory.u32[k0 + cf + o] !== 0) return memory.u32[k0 + cf + o]!;
      return 0;
    };
    let listed = 0;
    for (let c = 0; c < n; c++) {
      const orig = memory.u32[k0 + cf + c]!;
      if (orig !== 0) listed++;
      const second = orig !== 0 ? memory.u32[orig >>> 2]! : 0;
      for (const v of [1, 0xffffffff, orig + 4, orig ^ 0x10000, liveBlock, otherFree(c), second, k0 * 4]) {
        if (v >>> 0 === orig) continue;
        const copy = Memory.wrap(memory.buffer.slice(0) as ArrayBuffer);
        copy.u32[k0 + cf + c] = v >>> 0;
        check(copy, `curFree[${c}] = ${v >>> 0} (was ${orig})`);
      }
    }
    expect(listed).toBeGreaterThan(0); // the heap has current pages with free blocks on curFree
    for (const cut of [64, 4096, 65536, memory.byteLength >>> 1, memory.byteLength - 4096]) {
      check(Memory.wrap(memory.buffer.slice(0, cut) as ArrayBuffer), `truncated to ${cut} bytes`);
    }
    expect(problems).toEqual([]);
    expect(refused).toBeGreaterThan(words); // most damage is caught at attach
    expect(accepted).toBeGreaterThan(0); // counters and the like are not the heap's shape
  });

  it("a copy of a shared heap: worker slot 1's curFree words damaged are refused, or the heap stays sound", () => {
    // A heap laid out shared keeps slots 1..31's curFree tables after its medium area; on a
    // plain copy no slot is busy, so attach's fsck reads slot 1's too (a recover or an adopter
    // would take its lists back onto the pages).
    const memory = Memory.create({ bytes: 8 << 20, shared: true });
    const k0 = new Kmalloc({ memory });
    const k1 = Kmalloc.attach(Memory.wrap(memory.buffer));
    const live: Block[] = [];
    const sizes = [8, 24, 64, 16, 100, 40, 56, 300, 1000];
    for (let i = 0; i < 300; i++) {
      const a = k1.kmalloc(sizes[i % sizes.length]!);
      live.push({ addr: a, size: k1.ksize(a) });
    }
    for (let i = 0; i < live.length; i += 3) k1.kfree(live[i]!.addr); // slot 1's current pages hold free blocks
    const kept = live.filter((_, i) => i % 3 !== 0);
    const k = readSlot(memory, HeaderSlot.Kmalloc) >>> 2;
    const n = memory.u32[k + 6]!; // K_CLASSES
    const cf = curFreeTable(memory.u32, k, n, 1);
    expect(cf).toBeGreaterThan(curFreeTable(memory.u32, k, n, 0));
    const problems: string[] = [];
    let refused = 0;
    let cases = 0;
    for (let c = 0; c < n; c++) {
      const orig = memory.u32[cf + c]!;
      if (orig === 0) continue;
      const second = memory.u32[orig >>> 2]!;
      for (const v of [1, orig + 8, kept[kept.length - 1]!.addr, kept[0]!.addr, second, 0]) {
        if (v >>> 0 === orig) continue;
        cases++;
        const copy = Memory.wrap(new Uint8Array(memory.buffer).slice().buffer);
        copy.u32[cf + c] = v >>> 0;
        let w: Kmalloc;
        try {
          w = Kmalloc.attach(copy);
        } catch (e) {
          if (e instanceof MemkitError) refused++;
          else problems.push(`curFree[${c}] = ${v}: attach threw ${(e as Error).name}`);
          continue;
        }
        // Accepted (a list that lost blocks): slot 1's pages handed over, then used by another worker.
        try {
          Kmalloc.recover(copy, 1);
        } catch (e) {
          if (!(e instanceof MemkitError)) problems.push(`curFree[${c}] = ${v}: recover threw ${(e as Error).name}`);
          continue;
        }
        const p = exercise(w, kept, copy.byteLength);
        if (p !== null) problems.push(`curFree[${c}] = ${v}: ${p}`);
      }
    }
    expect(problems).toEqual([]);
    expect(cases).toBeGreaterThan(10);
    expect(refused).toBeGreaterThan(cases / 2); // all but the emptied or shortened lists
    k0.checkInvariants();
  });
});
