/**
 * Issue 12: a worker that runs out of memory takes back the pages other
 * workers keep on their per-worker lists. In one thread (instances with a
 * slot each; a task boundary is an `await`) and with worker threads (one
 * idle, one in a busy loop that holds its claim).
 */
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BuddyAllocator, Memory, OutOfMemoryError } from '../../src/index.js';
import { B_PCP_OFF, CLAIM_REQ, PCP_CLAIM, PCP_WORDS } from '../../src/buddy/layout.js';
import { HeaderSlot, readSlot } from '../../src/memory/header.js';
import { runs } from '../support/fuzz.js';

const PAGES = 256;

function heap(pcp: { high: number; batch: number }) {
  const memory = Memory.create({ bytes: 64 + 8192 + PAGES * 4096 + 4096, shared: true });
  const buddy = new BuddyAllocator({ memory, pages: PAGES, maxPages: PAGES, pcp });
  return { memory, buddy, fresh: buddy.freeCounts() };
}

/** i32 index of slot s's claim word. */
function claimAt(b: BuddyAllocator, s: number): number {
  const w = readSlot(b.state, HeaderSlot.Buddy) >>> 2;
  return (b.state.u32[w + B_PCP_OFF]! >>> 2) + s * PCP_WORDS + PCP_CLAIM;
}

/** Fills `b`'s lists: allocates `n` 1-page blocks, frees them. */
function fill(b: BuddyAllocator, n: number): void {
  const got: number[] = [];
  for (let i = 0; i < n; i++) got.push(b.allocPages(1));
  for (const a of got) b.free(a);
}

/** Allocates 1-page blocks from `b` until OutOfMemoryError; returns them and the error. */
function exhaust(b: BuddyAllocator): { got: number[]; error: OutOfMemoryError } {
  const got: number[] = [];
  for (;;) {
    try {
      got.push(b.allocPages(1));
    } catch (e) {
      if (!(e instanceof OutOfMemoryError)) throw e;
      return { got, error: e };
    }
  }
}

const tick = () => new Promise<void>((r) => setImmediate(r));

describe("draining other workers' per-worker lists (issue 12)", () => {
  it("after the holder's task ended, an allocating worker gets every page, the holder's cached ones too", async () => {
    const { memory, buddy, fresh } = heap({ high: 200, batch: 50 });
    const holder = BuddyAllocator.attach(memory);
    fill(holder, 180);
    const cached = buddy.stats().cachedPages;
    expect(cached).toBeGreaterThan(150); // most free pages sit on the holder's lists
    await tick(); // the holder's task ends: its claim is released
    const taker = BuddyAllocator.attach(memory);
    const { got } = exhaust(taker);
    expect(got.length).toBe(PAGES); // nothing stranded
    expect(new Set(got).size).toBe(PAGES);
    expect(buddy.stats().cachedPages).toBe(0);
    buddy.checkInvariants();
    for (const a of got) taker.free(a);
    taker.detach();
    holder.detach();
    expect(buddy.freeCounts()).toEqual(fresh);
    buddy.checkInvariants();
  });

  it('the maker (slot 0, no lists of its own) drains the others too', async () => {
    const { memory, buddy, fresh } = heap({ high: 200, batch: 50 });
    const a = BuddyAllocator.attach(memory);
    const b = BuddyAllocator.attach(memory);
    fill(a, 100);
    fill(b, 100);
    await tick();
    const { got } = exhaust(buddy);
    expect(got.length).toBe(PAGES);
    for (const p of got) buddy.free(p);
    a.detach();
    b.detach();
    expect(buddy.freeCounts()).toEqual(fresh);
  });

  it('a holder inside its task is asked (REQ), not robbed: the alloc fails saying so, and succeeds after its next call', async () => {
    const { memory, buddy, fresh } = heap({ high: 200, batch: 50 });
    const holder = BuddyAllocator.attach(memory);
    fill(holder, 180); // same task: the holder still holds its claim
    const cached = buddy.stats().cachedPages;
    const taker = BuddyAllocator.attach(memory);
    const first = exhaust(taker);
    expect(first.got.length).toBe(PAGES - cached);
    expect(first.error.message).toContain(`${cached} of them on workers' per-worker lists`);
    expect(buddy.stats().cachedPages).toBe(cached); // nothing taken from under the owner
    const c = claimAt(buddy, holder.slot);
    expect(memory.i32[c]! & CLAIM_REQ).toBe(CLAIM_REQ);
    buddy.checkInvariants();
    // the holder's next 1-page call answers: its lists go back (then its own alloc refills a batch)
    const h = holder.allocPages(1);
    expect(memory.i32[c]! & CLAIM_REQ).toBe(0);
    // it gave back its lists, then its own pop refilled a batch from them (still its task: asked again)
    const refilled = buddy.stats().cachedPages;
    expect(refilled).toBeGreaterThan(0);
    expect(refilled).toBeLessThan(cached);
    const second = exhaust(taker);
    expect(first.got.length + second.got.length + 1 + refilled).toBe(PAGES);
    await tick(); // the holder's task ends
    const third = exhaust(taker);
    expect(third.got.length).toBe(refilled);
    second.got.push(...third.got);
    holder.free(h);
    for (const a of [...first.got, ...second.got]) taker.free(a);
    buddy.checkInvariants();
    holder.detach();
    taker.detach();
    expect(buddy.freeCounts()).toEqual(fresh);
  });

  it('an entry claimed by a worker that died inside a pop is not touched; recover gives its pages back', async () => {
    const { memory, buddy, fresh } = heap({ high: 200, batch: 50 });
    const holder = BuddyAllocator.attach(memory);
    fill(holder, 120);
    await tick();
    const slot = holder.slot;
    const c = claimAt(buddy, slot);
    Atomics.store(memory.i32, c, (7 << 8) | (slot + 1)); // a claim of some tenure, as a dead owner left it
    const taker = BuddyAllocator.attach(memory);
    const cached = buddy.stats().cachedPages;
    const first = exhaust(taker);
    expect(first.got.length).toBe(PAGES - cached);
    expect(BuddyAllocator.recover(memory, slot)).toBe(false); // the worker "died" holding no lock
    expect(memory.i32[c]).toBe(0);
    expect(buddy.stats().cachedPages).toBe(0);
    const second = exhaust(taker);
    expect(first.got.length + second.got.length).toBe(PAGES);
    for (const a of [...first.got, ...second.got]) taker.free(a);
    taker.detach();
    expect(buddy.freeCounts()).toEqual(fresh);
    buddy.checkInvariants();
  });

  it('a late release of an old tenure frees nothing of the next one', async () => {
    const { memory, buddy } = heap({ high: 16, batch: 4 });
    const first = BuddyAllocator.attach(memory);
    first.free(first.allocPages(1)); // claims; the release is pending
    const slot = first.slot;
    first.detach(); // the tenure ends
    const second = BuddyAllocator.attach(memory); // the same slot, a new tenure
    expect(second.slot).toBe(slot);
    second.free(second.allocPages(1));
    const c = claimAt(buddy, slot);
    const held = memory.i32[c]!;
    expect(held & 0x3f).toBe(slot + 1);
    await Promise.resolve(); // the first instance's release runs first: it must not free the second's claim
    expect(memory.i32[c] === held || memory.i32[c] === 0).toBe(true);
    await tick();
    expect(memory.i32[c]).toBe(0); // the second's own release
    second.detach();
    buddy.checkInvariants();
  });

  it('against a model: random traffic of 3 workers and the maker, with task ends; an exhaustion after a task end gets every free page', async () => {
    type Op =
      | { kind: 'alloc'; who: number; n: number }
      | { kind: 'free'; who: number; pick: number }
      | { kind: 'tick' }
      | { kind: 'exhaust'; who: number };
    const who = fc.integer({ min: 0, max: 3 });
    const op: fc.Arbitrary<Op> = fc.oneof(
      {
        weight: 8,
        arbitrary: fc.record({ kind: fc.constant('alloc' as const), who, n: fc.integer({ min: 1, max: 4 }) }),
      },
      { weight: 8, arbitrary: fc.record({ kind: fc.constant('free' as const), who, pick: fc.nat() }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('exhaust' as const), who }) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 120 }), async (ops) => {
        const { memory, buddy, fresh } = heap({ high: 24, batch: 6 });
        const inst = [
          buddy,
          BuddyAllocator.attach(memory),
          BuddyAllocator.attach(memory),
          BuddyAllocator.attach(memory),
        ];
        const live = new Map<number, number>(); // addr -> pages
        let quiet = true; // no claim held since the last task end
        const take = (addr: number, pages: number) => {
          for (const [a, n] of live) {
            if (addr < a + n * 4096 && a < addr + pages * 4096) throw new Error(`overlap ${addr} with ${a}`);
          }
          live.set(addr, pages);
        };
        for (const o of ops) {
          if (o.kind === 'tick') {
            await tick();
            quiet = true;
          } else if (o.kind === 'alloc') {
            try {
              const a = inst[o.who]!.allocPages(o.n);
              take(a, buddy.blockPages(a));
            } catch (e) {
              if (!(e instanceof OutOfMemoryError)) throw e;
            }
            if (o.who > 0 && o.n <= 2) quiet = false;
          } else if (o.kind === 'free') {
            if (live.size === 0) continue;
            const addr = [...live.keys()][o.pick % live.size]!;
            inst[o.who]!.free(addr);
            live.delete(addr);
            if (o.who > 0) quiet = false;
          } else {
            const wasQuiet = quiet;
            const { got } = exhaust(inst[o.who]!);
            for (const a of got) take(a, 1);
            if (o.who > 0) quiet = false;
            let used = 0;
            for (const n of live.values()) used += n;
            // every page is a user's but those on the lists of workers inside their task
            if (wasQuiet) expect(used).toBe(PAGES - inst[o.who]!.stats().cachedPages);
            expect(buddy.stats().freePages).toBe(PAGES - used);
          }
          buddy.checkInvariants();
        }
        for (const a of live.keys()) buddy.free(a);
        for (const b of inst.slice(1)) b.detach();
        expect(buddy.freeCounts()).toEqual(fresh);
        buddy.checkInvariants();
      }),
      { numRuns: runs(40) },
    );
  });
});

describe('with worker threads', () => {
  function start(memory: Memory, mode: 'idle' | 'busy', stop = new SharedArrayBuffer(4)) {
    const worker = new Worker(new URL('./fixtures/pcp-holder.mjs', import.meta.url), {
      workerData: { buffer: memory.buffer, fill: 180, mode, stop },
    });
    const messages: { kind: string; [k: string]: unknown }[] = [];
    const waiters: (() => void)[] = [];
    worker.on('message', (m) => {
      messages.push(m);
      for (const w of waiters.splice(0)) w();
    });
    const next = async (kind: string) => {
      for (;;) {
        const m = messages.find((x) => x.kind === kind);
        if (m !== undefined) return m;
        await new Promise<void>((r) => waiters.push(r));
      }
    };
    return { worker, next };
  }

  it('an idle worker holding most free pages: the main thread allocates every page', async () => {
    const { memory, buddy, fresh } = heap({ high: 200, batch: 50 });
    const w = start(memory, 'idle');
    const filled = await w.next('filled');
    expect(filled.cached).toBeGreaterThan(150);
    const { got } = exhaust(buddy);
    expect(got.length).toBe(PAGES);
    for (const a of got) buddy.free(a);
    w.worker.postMessage('stop');
    await w.next('detached');
    await w.worker.terminate();
    expect(buddy.freeCounts()).toEqual(fresh);
    buddy.checkInvariants();
  }, 30_000);

  it('a busy worker (claim held) answers the request at its next call; no page is owned twice; all freed = fresh', async () => {
    const { memory, buddy, fresh } = heap({ high: 200, batch: 50 });
    const stop = new Int32Array(new SharedArrayBuffer(4));
    const w = start(memory, 'busy', stop.buffer as SharedArrayBuffer);
    await w.next('filled');
    const dv = new DataView(memory.buffer);
    const mine: number[] = [];
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline && mine.length < PAGES - 64) {
      const { got } = exhaust(buddy); // the first call asks; the worker answers while we retry
      for (const a of got) {
        dv.setUint32(a, a ^ 0x5a5a5a5a, true);
        mine.push(a);
      }
      await tick();
    }
    // the worker keeps at most 16 blocks of 1 or 2 pages and its refills: the rest came to us
    expect(mine.length).toBeGreaterThanOrEqual(PAGES - 64);
    Atomics.store(stop, 0, 1);
    const done = await w.next('done');
    expect(done.bad).toBe(0); // the worker's stamps survived: it never got one of our pages
    for (const a of mine) expect(dv.getUint32(a, true)).toBe((a ^ 0x5a5a5a5a) >>> 0);
    expect(new Set(mine).size).toBe(mine.length);
    for (const a of mine) buddy.free(a);
    w.worker.postMessage('stop');
    await w.next('detached');
    await w.worker.terminate();
    buddy.checkInvariants();
    expect(buddy.freeCounts()).toEqual(fresh);
  }, 30_000);
});
