/**
 * Kmalloc's bad-input matrix beyond test/kmalloc/hardening.test.ts: every
 * option of `new Kmalloc(options)` x every bad value (over a caller's buddy,
 * whose memory must stay byte-identical when the options are refused),
 * `Kmalloc.attach(x)`, `Kmalloc.recover(memory, slot)`, addresses of the
 * wrong kind (a block's header, a chunk's or a large block's first and
 * interior bytes, the control block, just past the heap), forEachBlock and
 * forEachTlsfChunk with a bad, throwing or mutating visit, and shrink while
 * blocks are live. Every refused call: a MemkitError and the memory as it was.
 */
import { describe, expect, it } from 'vitest';
import {
  BuddyAllocator,
  HEADER_BYTES,
  HeaderSlot,
  InvalidArgumentError,
  Kmalloc,
  Memory,
  MemkitError,
  OutOfMemoryError,
  readSlot,
} from '../../src/index.js';
import { curFreeTable } from '../../src/kmalloc/layout.js';
import { badValues, refused } from '../support/bad-values.js';

function snapshot(k: Kmalloc): string {
  return JSON.stringify([k.slabinfo(), k.footprint(), k.tlsf.stats(), k.largeStats()]);
}

let valueOfRuns = 0;
function values(live: number, foreign: number): Array<[string, unknown]> {
  return badValues(live, foreign).map(([l, x]): [string, unknown] =>
    l.startsWith('{ valueOf')
      ? [
          l,
          {
            valueOf: () => {
              valueOfRuns++;
              return live;
            },
          },
        ]
      : [l, x],
  );
}

describe('new Kmalloc(options): every option x every bad value', () => {
  it('refuses each with an InvalidArgumentError naming the option, the caller buddy untouched', () => {
    const buddy = new BuddyAllocator({ pages: 512 });
    const mem = buddy.memory!;
    const vals: Array<[string, unknown]> = [...values(64, 4096), ['{}', {}], ['a huge number', 2 ** 40]];
    // [option, values accepted for it (labels)]
    const options: Array<[string, string[]]> = [
      ['maxClass', ['2^31', '2^32', '2^53', 'undefined', 'live + 8 (interior)', 'foreign address']],
      ['promoteAfter', ['0', '-0', '1.5', 'undefined', 'live + 8 (interior)', 'foreign address']], // a fraction of a page's worth is fine
      ['largeAbove', ['0', '-0', 'undefined', 'live + 8 (interior)', 'foreign address']],
      ['tlsfChunkPages', ['undefined']],
      ['classes', ['undefined']],
      ['debug', ['true', 'false', 'undefined']],
      ['pageSize', ['undefined', 'foreign address']], // with a buddy: its page size (4096) or refused
      ['bytes', ['undefined', '2^31', '2^32', 'live + 8 (interior)', 'foreign address']], // unused with a buddy
      ['maxBytes', ['undefined', '2^31', '2^32', 'live + 8 (interior)', 'foreign address']],
      ['memory', ['undefined']],
    ];
    let n = 0;
    const before = Buffer.from(mem.u8);
    const free = buddy.freePages;
    for (const [opt, ok] of options) {
      for (const [l, x] of vals) {
        if (ok.includes(l)) continue;
        const e = refused(`${opt}: ${l}`, () => new Kmalloc({ buddy, [opt]: x }));
        expect(e, `${opt}: ${l}`).toBeInstanceOf(InvalidArgumentError);
        expect(Buffer.compare(mem.u8, before), `${opt}: ${l} changed the buddy's memory`).toBe(0);
        expect(buddy.freePages, `${opt}: ${l}`).toBe(free);
        n++;
      }
    }
    expect(n).toBeGreaterThan(150);
    expect(valueOfRuns).toBe(0);
  });

  it('without a buddy: bytes, maxBytes, pageSize and memory refuse every bad value', () => {
    const vals: Array<[string, unknown]> = [...values(64, 4096), ['{}', {}], ['a huge number', 2 ** 40]];
    const options: Array<[string, (x: unknown) => unknown, string[]]> = [
      [
        'bytes',
        (x) => new Kmalloc({ bytes: x as number }),
        // 72 and 4096 B hold no TLSF chunk; 2^32 B and their state pass what a Memory holds.
        ['undefined', '2^31'],
      ],
      [
        'maxBytes',
        (x) => new Kmalloc({ bytes: 1 << 16, maxBytes: x as number }),
        ['undefined', 'live + 8 (interior)', 'foreign address', '2^31'],
      ],
      ['pageSize', (x) => new Kmalloc({ bytes: 1 << 18, pageSize: x as number }), ['undefined', 'foreign address']],
      ['memory', (x) => new Kmalloc({ memory: x as Memory }), ['undefined']],
      ['options', (x) => new Kmalloc(x as never), ['undefined', '{}']],
    ];
    let n = 0;
    for (const [opt, call, ok] of options)
      for (const [l, x] of vals) {
        if (ok.includes(l)) continue;
        if (opt === 'maxBytes' && (l === 'live + 8 (interior)' || l === 'foreign address')) continue; // < bytes: refused below
        refused(`${opt}: ${l}`, () => call(x));
        n++;
      }
    expect(n).toBeGreaterThan(90);
    expect(valueOfRuns).toBe(0);
  });

  it('names its own option where the buddy or TLSF heap it makes would refuse, at the exact bounds', () => {
    const named = (options: object): string | undefined => {
      try {
        new Kmalloc(options);
      } catch (e) {
        expect(e).toBeInstanceOf(InvalidArgumentError);
        return (e as InvalidArgumentError).argument;
      }
      return undefined;
    };
    // The smallest heap holds one TLSF chunk (16 pages) in its buddy's largest block.
    let message = '';
    try {
      new Kmalloc({ bytes: 72 });
    } catch (e) {
      message = (e as Error).message;
    }
    const least = Number(/at least (\d+) bytes/.exec(message)?.[1]);
    expect(least).toBeGreaterThan(72);
    expect(named({ bytes: least - 1 })).toBe('bytes');
    expect(named({ bytes: least })).toBeUndefined();
    expect(named({ bytes: 72, maxBytes: least - 1 })).toBe('maxBytes');
    expect(named({ bytes: 72, maxBytes: least })).toBeUndefined();
    expect(named({ bytes: 72, tlsfChunkPages: 2 })).toBeUndefined();
    expect(named({ bytes: 1 << 20, tlsfChunkPages: 4096 })).toBe('tlsfChunkPages');
    expect(named({ bytes: 2 ** 32 })).toBe('bytes');
    expect(named({ bytes: 1 << 20, maxBytes: 2 ** 32 })).toBe('maxBytes');
    // Over a memory: the buddy made over it must hold a chunk, named before anything is written.
    const small = Memory.create({ bytes: 40 << 10 });
    const before = Buffer.from(small.u8);
    expect(named({ memory: small })).toBe('memory');
    expect(named({ memory: small, tlsfChunkPages: 64 })).toBe('tlsfChunkPages');
    expect(named({ memory: Memory.create({ bytes: 1 << 20 }), maxBytes: 40 << 10 })).toBe('maxBytes');
    expect(Buffer.compare(small.u8, before)).toBe(0);
    expect(named({ memory: small, tlsfChunkPages: 4 })).toBeUndefined();
    // maxBytes alone: 1 MiB (or less) that grows to maxBytes.
    const k = new Kmalloc({ maxBytes: 4 << 20 });
    const p = k.kmalloc(2 << 20);
    expect(k.ksize(p)).toBeGreaterThanOrEqual(2 << 20);
    expect(() => k.kmalloc(4 << 20)).toThrow(OutOfMemoryError);
    k.checkInvariants();
    expect(new Kmalloc({ maxBytes: least }).kmalloc(1000)).toBeGreaterThan(0);
  });

  it('with a memory: maxBytes and the tier options refuse every bad value, the memory untouched', () => {
    const memory = Memory.create({ bytes: 1 << 20 });
    const before = Buffer.from(memory.u8);
    for (const [l, x] of values(64, 4096)) {
      if (['undefined', '2^31', '2^32', 'live + 8 (interior)', 'foreign address'].includes(l)) continue;
      refused(`maxBytes: ${l}`, () => new Kmalloc({ memory, maxBytes: x as number }));
      expect(Buffer.compare(memory.u8, before), `maxBytes: ${l}`).toBe(0);
    }
    // 'foreign address' (4096) is a power of two too large for the buddy made over the memory
    // (256 pages): refused too, before the buddy is written (3 Dec; it was refused naming the
    // TLSF heap's chunkPages, with the buddy already written into the memory).
    for (const [l, x] of values(64, 4096)) {
      if (['undefined'].includes(l)) continue;
      refused(`tlsfChunkPages: ${l}`, () => new Kmalloc({ memory, tlsfChunkPages: x as number }));
      expect(Buffer.compare(memory.u8, before), `tlsfChunkPages: ${l}`).toBe(0);
    }
  });
});

describe('Kmalloc.attach and Kmalloc.recover', () => {
  it('attach(x) of a non-Memory, and recover(x, slot) / recover(memory, x): a MemkitError, nothing written', () => {
    const memory = Memory.create({ bytes: 1 << 20, shared: true });
    const k = new Kmalloc({ memory });
    const p = k.alloc(100);
    const before = Buffer.from(memory.u8);
    const vals: Array<[string, unknown]> = [
      ...values(p, 4096),
      ['{}', {}],
      ['a buffer', memory.buffer],
      ['a Uint8Array', memory.u8],
    ];
    for (const [l, x] of vals) {
      refused(`attach(${l})`, () => Kmalloc.attach(x as Memory));
      expect(Buffer.compare(memory.u8, before), `attach(${l})`).toBe(0);
      refused(`recover(${l}, 1)`, () => Kmalloc.recover(x as Memory, 1));
      expect(Buffer.compare(memory.u8, before), `recover(${l}, 1)`).toBe(0);
      refused(`recover(memory, ${l})`, () => Kmalloc.recover(memory, x as number));
      expect(Buffer.compare(memory.u8, before), `recover(memory, ${l})`).toBe(0);
    }
    for (const slot of [0, 32, 33, -1]) refused(`recover(memory, ${slot})`, () => Kmalloc.recover(memory, slot));
    expect(Buffer.compare(memory.u8, before)).toBe(0);
    // recover of a slot nobody holds changes nothing either
    expect(Kmalloc.recover(memory, 5)).toBe(false);
    expect(Buffer.compare(memory.u8, before)).toBe(0);
    // a memory with no heap
    refused('attach(an empty memory)', () => Kmalloc.attach(Memory.create({ bytes: 1 << 16 })));
    refused('recover(an empty memory)', () => Kmalloc.recover(Memory.create({ bytes: 1 << 16, shared: true }), 1));
    expect(valueOfRuns).toBe(0);
  });
});

describe('Kmalloc: addresses of the wrong kind', () => {
  for (const where of ['unshared', 'shared'] as const)
    it(`free/ksize/usableSize/isAllocated/realloc refuse them, the memory byte-identical (${where})`, () => {
      const k =
        where === 'unshared'
          ? new Kmalloc({ bytes: 1 << 20 })
          : new Kmalloc({ memory: Memory.create({ bytes: 2 << 20, shared: true }) });
      const small = k.alloc(24);
      const medium = k.alloc(k.maxClass + 200); // a TLSF block
      const large = k.alloc(200_000);
      const mem = k.memory;
      const kAddr = readSlot(mem, HeaderSlot.Kmalloc);
      let chunk = -1;
      k.forEachTlsfChunk((a) => {
        if (chunk < 0) chunk = a;
      });
      const page = k.pageSize;
      const end = mem.buffer.byteLength;
      const wrong: Array<[string, number]> = [
        ["a TLSF block's header", medium - 8],
        ["a TLSF block's header - 8", medium - 16],
        ["a TLSF block's interior", medium + 16],
        ["a TLSF block's end", medium + k.usableSize(medium)],
        ["the TLSF chunk's first byte", chunk],
        ["the TLSF chunk's last word", chunk + 64 * 1024 - 8],
        ["a large block's interior", large + 8],
        ["a large block's second page", large + page],
        ["a large block's last page", large + 48 * page],
        ["a large block's end", large + 49 * page],
        ['the control block', kAddr],
        ['the control block + 64', kAddr + 64],
        ['the memkit header', 16],
        ['just past the heap', end],
        ['the last word of the heap', end - 8],
        ['2^32 - 8', 2 ** 32 - 8],
        ["a class block's interior", small + 8],
        ["a class block's last byte", small + 23],
        ['the buddy base', k.buddy.base],
      ];
      const calls: Array<[string, (a: number) => unknown]> = [
        ['free', (a) => k.free(a)],
        ['kfree', (a) => k.kfree(a)],
        ['ksize', (a) => k.ksize(a)],
        ['usableSize', (a) => k.usableSize(a)],
        ['realloc(a, 8)', (a) => k.realloc(a, 8)],
        ['realloc(a, 5000)', (a) => k.realloc(a, 5000)],
        ['realloc(a, 300000)', (a) => k.realloc(a, 300_000)],
        ['realloc(a, 0)', (a) => k.realloc(a, 0)],
      ];
      const state = snapshot(k);
      let n = 0;
      for (const [wl, a] of wrong) {
        if (a === small || a === medium || a === large) continue;
        expect(k.isAllocated(a), `isAllocated(${wl})`).toBe(false);
        for (const [cl, call] of calls) {
          const before = Buffer.from(k.bytes);
          refused(`${cl} with ${wl} (${a})`, () => call(a));
          expect(Buffer.compare(k.bytes, before), `${cl} with ${wl} changed the memory`).toBe(0);
          expect(snapshot(k), `${cl} with ${wl}`).toBe(state);
          n++;
        }
      }
      expect(n).toBeGreaterThan(100);
      for (const a of [small, medium, large]) {
        expect(k.isAllocated(a)).toBe(true);
        k.free(a);
      }
      k.checkInvariants();
    });

  it('a block freed twice through each tier: DoubleFreeError or InvalidFreeError, nothing changed', () => {
    const k = new Kmalloc({ bytes: 4 << 20 });
    for (const size of [8, 64, 100, 600, 3000, 70_000, 300_000]) {
      const keep = k.alloc(size); // keeps the page / chunk in use
      const a = k.alloc(size);
      k.free(a);
      const before = Buffer.from(k.bytes);
      const state = snapshot(k);
      for (const call of [() => k.free(a), () => k.ksize(a), () => k.realloc(a, 16), () => k.realloc(a, 9000)]) {
        refused(`size ${size}`, call);
        expect(Buffer.compare(k.bytes, before), `size ${size}`).toBe(0);
        expect(snapshot(k)).toBe(state);
      }
      k.free(keep);
    }
    k.checkInvariants();
  });
});

describe('Kmalloc: walks and shrink', () => {
  it('forEachBlock / forEachTlsfChunk refuse a visit that is not a function, even on an empty heap', () => {
    const k = new Kmalloc({ bytes: 1 << 20 });
    for (const live of [false, true]) {
      if (live) [24, 3000, 100_000].forEach((s) => k.alloc(s));
      const before = Buffer.from(k.bytes);
      for (const [l, x] of values(64, 4096)) {
        if (l === 'a function') continue;
        const e = refused(`forEachBlock(${l})`, () => k.forEachBlock(x as never));
        expect(e).toBeInstanceOf(InvalidArgumentError);
        refused(`forEachTlsfChunk(${l})`, () => k.forEachTlsfChunk(x as never));
        expect(Buffer.compare(k.bytes, before)).toBe(0);
      }
    }
  });

  it('a visit that throws: the error passes through, the heap (and its lock) stay usable', () => {
    const memory = Memory.create({ bytes: 2 << 20, shared: true });
    const k = new Kmalloc({ memory });
    const blocks = [24, 5000, 100_000].map((s) => k.alloc(s));
    const boom = new Error('boom');
    expect(() =>
      k.forEachBlock(() => {
        throw boom;
      }),
    ).toThrow(boom);
    expect(() =>
      k.forEachTlsfChunk(() => {
        throw boom;
      }),
    ).toThrow(boom);
    // The lock is free: another worker can take it.
    const w = Kmalloc.attach(memory);
    const q = w.alloc(7000);
    w.free(q);
    w.detach();
    for (const b of blocks) k.free(b);
    k.checkInvariants();
  });

  it('a visit that frees or allocates mid-walk: each block visited is one that was live, the heap sound', () => {
    for (const op of ['free', 'alloc', 'free+alloc'] as const) {
      const k = new Kmalloc({ bytes: 64 << 20 });
      const live = new Set<number>();
      for (let i = 0; i < 200; i++) live.add(k.alloc([8, 24, 64, 100, 700, 3000, 20_000, 100_000][i % 8]!));
      const was = new Set(live);
      const seen: number[] = [];
      k.forEachBlock((a) => {
        seen.push(a);
        if (op !== 'alloc' && live.has(a)) {
          k.free(a);
          live.delete(a);
        }
        if (op !== 'free') for (const s of [24, 3000]) live.add(k.alloc(s));
      });
      for (const a of seen) expect(was.has(a), `${op}: visited ${a}, never live before the walk`).toBe(true);
      expect(new Set(seen).size).toBe(seen.length);
      k.checkInvariants();
      const after: number[] = [];
      k.forEachBlock((a) => after.push(a));
      expect(new Set(after)).toEqual(live);
    }
  });

  it('shrink with live blocks of every tier keeps them, and their bytes', () => {
    const k = new Kmalloc({ bytes: 2 << 20 });
    const blocks = [8, 24, 64, 100, 700, 3000, 20_000, 100_000].flatMap((s) => [k.alloc(s), k.alloc(s), k.alloc(s)]);
    blocks.forEach((b, i) => {
      if (i % 3 === 1) k.free(b);
    });
    const live = blocks.filter((_, i) => i % 3 !== 1);
    live.forEach((b, i) => k.bytes.fill(i & 0xff, b, b + k.ksize(b)));
    k.shrink();
    k.shrink();
    k.checkInvariants();
    live.forEach((b, i) => {
      expect(k.isAllocated(b)).toBe(true);
      const n = k.ksize(b);
      expect(k.bytes.subarray(b, b + n).every((v) => v === (i & 0xff))).toBe(true);
    });
    for (const b of live) k.free(b);
    k.shrink();
    expect(k.footprint()).toBe(0);
  });
});

describe('KmallocCache (k.caches[i]): freeObjects and forEachSlab', () => {
  it('freeObjects refuses any address but the first byte of a page of its class; forEachSlab a non-function', () => {
    const k = new Kmalloc({ bytes: 8 << 20 });
    const p = k.alloc(24);
    const other = k.alloc(40); // another class's page
    const m = k.alloc(3000);
    const l = k.alloc(200_000);
    const c = k.caches[k.classSizes.indexOf(24)]!;
    const page = p - ((p - k.buddy.base) % k.pageSize);
    expect(c.freeObjects(page).length).toBe(c.objectsPerSlab - 1);
    const before = Buffer.from(k.bytes);
    const wrong: Array<[string, unknown]> = [
      ...values(page, other),
      ['the page + 8', page + 8],
      ["another class's page", other - ((other - k.buddy.base) % k.pageSize)],
      ['a TLSF block', m],
      ["a TLSF block's page", m - ((m - k.buddy.base) % k.pageSize)],
      ['a large block', l],
      ["a large block's second page", l + k.pageSize],
      ['the first page of the heap', k.buddy.base],
      ['past the memory', k.memory.buffer.byteLength],
      ['2^32 - 4096', 2 ** 32 - 4096],
    ];
    for (const [l2, x] of wrong) {
      const e = refused(`freeObjects(${l2})`, () => c.freeObjects(x as number));
      expect(e).toBeInstanceOf(InvalidArgumentError);
      if (l2 !== 'a function') refused(`forEachSlab(${l2})`, () => c.forEachSlab(x as never));
      expect(Buffer.compare(k.bytes, before), l2).toBe(0);
    }
    expect(valueOfRuns).toBe(0);
  });
});

describe('Kmalloc: a live heap damaged under it', () => {
  it('control-block and page-table words flipped: every method answers typed or sound, no write outside the heap', () => {
    const bad: string[] = [];
    let typed = 0;
    let answered = 0;
    for (const flip of [0xffffffff, 0x80000000, 0x7, 0x1000]) {
      for (let w = 0; w < 64 + 3 * 8 + 3; w++) {
        const buddy = new BuddyAllocator({ memory: Memory.create({ bytes: 4 << 20 }) });
        const k = new Kmalloc({ buddy });
        const mem = k.memory;
        const p = k.alloc(24);
        const p2 = k.alloc(24);
        const m = k.alloc(3000);
        const l = k.alloc(100_000);
        k.free(p2);
        const canary = buddy.allocPages(4);
        const canaryBytes = 4 * buddy.pageSize;
        mem.u8.fill(0x5a, canary, canary + canaryBytes);
        const header = Buffer.from(mem.u8.subarray(0, HEADER_BYTES));
        const desc = (a: number) => k.space.pageTable + (((a - buddy.base) >>> buddy.pageShift) << 3);
        // 0..63: the control block; then the descriptors of p's, m's and l's pages; then slot 0's
        // curFree words of the classes of 24 and 40 B and of the one before (the current pages'
        // free lists, which alloc pops checking only the free tag).
        const cf = curFreeTable(mem.u32, k.k, k.nClasses, 0);
        const cls24 = k.caches.findIndex((c) => c.size >= 24);
        const word =
          w < 64
            ? k.k + w
            : w < 64 + 24
              ? desc([p, m, l][(w - 64) >> 3]!) + ((w - 64) & 7)
              : cf + [cls24, cls24 + 1, cls24 - 1][w - 64 - 24]!;
        mem.u32[word] = mem.u32[word]! ^ flip;
        // alloc and free of a class block too (a flipped cur[class] once sent alloc to pop from
        // any address, over the memkit header; since 4 Dec alloc pops curFree[class] instead).
        const calls: Array<[string, () => unknown]> = [
          ['alloc(24)', () => k.alloc(24)],
          ['alloc(24) again', () => k.alloc(24)],
          ['free(p)', () => k.free(p)],
          ['alloc(40)', () => k.alloc(40)],
          ['usableSize(p)', () => k.usableSize(p)],
          ['ksize(m)', () => k.ksize(m)],
          ['isAllocated(l)', () => k.isAllocated(l)],
          ['pageOwner(p)', () => k.pageOwner(p)],
          ['realloc(m, 5000)', () => k.realloc(m, 5000)],
          ['free(l)', () => k.free(l)],
          ['alloc(100000)', () => k.alloc(100_000)],
          ['slabinfo', () => k.slabinfo()],
          ['largeStats', () => k.largeStats()],
          ['footprint', () => k.footprint()],
          ['forEachBlock', () => k.forEachBlock(() => {})],
          ['forEachTlsfChunk', () => k.forEachTlsfChunk(() => {})],
          ['caches stats', () => k.caches.map((c) => c.stats())],
          ['checkInvariants', () => k.checkInvariants()],
          ['shrink', () => k.shrink()],
        ];
        for (const [name, call] of calls) {
          try {
            call();
            answered++;
          } catch (e) {
            if (!(e instanceof MemkitError)) bad.push(`${w}^${flip.toString(16)} ${name}: ${String(e)}`);
            typed++;
          }
          if (Buffer.compare(mem.u8.subarray(0, HEADER_BYTES), header) !== 0)
            bad.push(`${w}^${flip.toString(16)} ${name}: header`);
          if (!mem.u8.subarray(canary, canary + canaryBytes).every((v) => v === 0x5a))
            bad.push(`${w}^${flip.toString(16)} ${name}: canary`);
        }
      }
    }
    expect(bad).toEqual([]);
    expect(typed).toBeGreaterThan(0);
    expect(answered).toBeGreaterThan(0);
  });
});

describe('Kmalloc: an instance used after detach', () => {
  it('refuses what would take a page or a heap for the given-back slot; the heap stays sound', () => {
    const memory = Memory.create({ bytes: 4 << 20, shared: true });
    const k = new Kmalloc({ memory });
    const w = Kmalloc.attach(memory);
    const blocks = [24, 5000, 9000, 100_000].map((s) => w.alloc(s));
    w.free(w.alloc(24)); // a page with a free block, abandoned at detach
    w.detach();
    k.checkInvariants();
    const before = Buffer.from(memory.u8);
    for (const [name, call] of [
      ['alloc(24)', () => w.alloc(24)],
      ['alloc(5000)', () => w.alloc(5000)],
      ['alloc(100000)', () => w.alloc(100_000)],
      ['kzalloc(64)', () => w.kzalloc(64)],
      ['realloc(0, 24)', () => w.realloc(0, 24)],
      ['shrink', () => w.shrink()],
      ['tlsf', () => w.tlsf],
    ] as const) {
      refused(`${name} after detach`, call);
      expect(Buffer.compare(memory.u8, before), name).toBe(0);
    }
    k.checkInvariants();
    // The blocks stay allocated; another worker (or the maker) frees them.
    for (const b of blocks) {
      expect(k.isAllocated(b)).toBe(true);
      k.free(b);
    }
    k.checkInvariants();
    const again = Kmalloc.attach(memory); // the slot is free for the next worker
    expect(again.workerSlot).toBe(1);
    again.free(again.alloc(5000));
    again.detach();
    k.checkInvariants();
  });
});
