import { describe, expect, it } from 'vitest';
import { Arena } from '../../src/arena/index.js';
import { BuddyAllocator } from '../../src/buddy/index.js';
import { HeapCorruptionError, InvalidArgumentError, MemkitError, OutOfMemoryError } from '../../src/errors/index.js';

/** Every byte of the arena's memory, and its stats: nothing may change on a rejected call. */
function snapshot(a: Arena): { bytes: Uint8Array; stats: unknown; mark: number } {
  const mark = a.mark(); // first: mark() records its offset in the state (hiMark)
  return { bytes: a.memory.u8.slice(), stats: a.stats(), mark };
}

function expectUnchanged(a: Arena, s: { bytes: Uint8Array; stats: unknown; mark: number }): void {
  expect(a.memory.u8.length).toBe(s.bytes.length);
  expect(Buffer.compare(a.memory.u8, s.bytes)).toBe(0);
  expect(a.stats()).toEqual(s.stats);
  expect(a.mark()).toBe(s.mark);
}

const BAD_SIZES: Array<[string, unknown]> = [
  ['0', 0],
  ['-0', -0],
  ['negative', -1],
  ['-8', -8],
  ['fractional', 1.5],
  ['tiny fraction', 1e-9],
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['-Infinity', -Infinity],
  ['a string', '8'],
  ['undefined', undefined],
  ['null', null],
];

const BAD_ALIGNS: Array<[string, unknown]> = [
  ['0', 0],
  ['3', 3],
  ['12', 12],
  ['-8', -8],
  ['1.5', 1.5],
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['2^31', 2 ** 31],
  ['2^32', 2 ** 32],
  ['a string', '8'],
  ['null', null],
];

function arenas(): Array<[string, () => Arena]> {
  return [
    ['fixed', () => new Arena({ bytes: 512 })],
    ['memory growth', () => new Arena({ bytes: 256, maxBytes: 4096 })],
    ['buddy', () => new Arena({ buddy: new BuddyAllocator({ pages: 16, pageSize: 256 }), chunkPages: 1 })],
  ];
}

describe.each(arenas())('bad input, %s arena: InvalidArgumentError and nothing changes', (_name, make) => {
  it.each([2 ** 32, 2 ** 32 + 8, 2 ** 53])(
    'alloc(%s), a whole size no arena can hold: OutOfMemoryError with the size',
    (size) => {
      const a = make();
      a.alloc(5);
      const s = snapshot(a);
      let err: unknown;
      try {
        a.alloc(size);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(OutOfMemoryError);
      expect((err as OutOfMemoryError).requested).toBe(size);
      expectUnchanged(a, s);
      expect(a.alloc(8) % 8).toBe(0);
    },
  );

  it.each(BAD_SIZES)('alloc(size = %s)', (_label, size) => {
    const a = make();
    a.alloc(5);
    const s = snapshot(a);
    expect(() => a.alloc(size as number)).toThrow(InvalidArgumentError);
    expect(() => a.alloc(size as number, 16)).toThrow(InvalidArgumentError);
    expectUnchanged(a, s);
    expect(a.alloc(8) % 8).toBe(0); // usable after
  });

  it.each(BAD_ALIGNS)('alloc(8, align = %s)', (_label, align) => {
    const a = make();
    a.alloc(5);
    const s = snapshot(a);
    expect(() => a.alloc(8, align as number)).toThrow(InvalidArgumentError);
    expectUnchanged(a, s);
    expect(a.alloc(8, 8) % 8).toBe(0);
  });

  it('a bigint size or align is refused before any arithmetic (InvalidArgumentError), and nothing changes', () => {
    const a = make();
    a.alloc(5);
    const s = snapshot(a);
    expect(() => a.alloc(8n as unknown as number)).toThrow(InvalidArgumentError);
    expect(() => a.alloc(8, 8n as unknown as number)).toThrow(InvalidArgumentError);
    expectUnchanged(a, s);
  });

  it('the error names the size', () => {
    const a = make();
    expect(() => a.alloc(-3)).toThrow(/-3/);
    expect(() => a.alloc(2.5)).toThrow(/2\.5/);
    expect(() => a.alloc(8, 3)).toThrow(/align.*3/);
  });

  it('rewind(not a mark) and attach(at = garbage)', () => {
    const a = make();
    a.alloc(5);
    const s = snapshot(a);
    for (const m of [-1, 0.5, NaN, Infinity, 7, 'x', null])
      expect(() => a.rewind(m as number)).toThrow(InvalidArgumentError);
    expect(() => Arena.attach(a.memory, { at: 8 })).toThrow(HeapCorruptionError);
    expectUnchanged(a, s);
  });
});

describe('bad options', () => {
  it.each<[string, unknown]>([
    ['bytes negative', { bytes: -1 }],
    ['bytes fractional', { bytes: 10.5 }],
    ['bytes NaN', { bytes: NaN }],
    ['bytes too large', { bytes: 2 ** 33 }],
    ['maxBytes < bytes', { bytes: 100, maxBytes: 50 }],
    ['maxBytes fractional', { bytes: 100, maxBytes: 150.5 }],
    ['chunkBytes 0', { bytes: 100, maxBytes: 1000, chunkBytes: 0 }],
    ['an unknown option', { bytes: 64, maxbytes: 128 }],
    ['options not an object', 64],
    ['chunkPages 0', { buddy: new BuddyAllocator({ pages: 4, pageSize: 256 }), chunkPages: 0 }],
    ['maxBytes 0 over a buddy', { buddy: new BuddyAllocator({ pages: 4, pageSize: 256 }), maxBytes: 0 }],
    ['an offsets-only buddy', { buddy: new BuddyAllocator({ pages: 4, offsetsOnly: true }) }],
  ])('%s: InvalidArgumentError', (_label, options) => {
    expect(() => new Arena(options as never)).toThrow(InvalidArgumentError);
  });

  it('a buddy-backed arena with a bad option takes no page', () => {
    const buddy = new BuddyAllocator({ pages: 4, pageSize: 256 });
    const free = buddy.freeCounts();
    expect(() => new Arena({ buddy, chunkPages: -1 })).toThrow(InvalidArgumentError);
    expect(buddy.freeCounts()).toEqual(free);
  });

  it('a disposed arena throws MemkitError on every operation', () => {
    const a = new Arena({ bytes: 64 });
    a.dispose();
    expect(() => a.alloc(8)).toThrow(MemkitError);
    expect(() => a.mark()).toThrow(MemkitError);
    expect(() => a.reset()).toThrow(MemkitError);
    expect(() => a.stats()).toThrow(MemkitError);
  });
});
