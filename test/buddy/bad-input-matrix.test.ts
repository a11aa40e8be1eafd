/**
 * The argument gate of the three lowest layers, table-driven: every public
 * method of Memory, Arena and BuddyAllocator that takes an argument, times
 * every bad value below. Each call must throw a MemkitError subclass (an
 * InvalidArgumentError names its argument) and leave the bytes and the stats
 * exactly as they were; no valueOf is ever run. The few (method, value)
 * pairs where the value is in fact valid are listed by name, and for those
 * the call must succeed and still change nothing.
 */
import { describe, expect, it } from 'vitest';
import {
  Arena,
  BuddyAllocator,
  InvalidArgumentError,
  Memory,
  MemkitError,
  checkHeader,
  ensureHeader,
  hasHeader,
  readSlot,
  writeSlot,
} from '../../src/index.js';

interface Env {
  mem: Memory;
  buddy: BuddyAllocator;
  arena: Arena;
  /** An allocated buddy block, and an arena allocation (after a reset, so generation 0 marks are stale). */
  block: number;
  bit: number;
}

let valueOfRuns = 0;
/**
 * The bad values, by name: 20 for every argument, and for an address three
 * more (an interior address of a block, an address inside its second page,
 * the address of a block of another heap), filled per environment.
 */
function badValues(env: Env, foreign: number, address: boolean): Array<[string, unknown]> {
  const values: Array<[string, unknown]> = [
    ['0', 0],
    ['-1', -1],
    ['1.5', 1.5],
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['-0', -0],
    ['2^31', 2 ** 31],
    ['2^32', 2 ** 32],
    ['2^53', 2 ** 53],
    ['"8"', '8'],
    ['""', ''],
    ['8n', 8n],
    ['null', null],
    ['undefined', undefined],
    [
      '{valueOf}',
      {
        valueOf: () => {
          valueOfRuns++;
          return 8;
        },
      },
    ],
    ['[8]', [8]],
    ['true', true],
    ['false', false],
    ['a symbol', Symbol('x')],
  ];
  if (address)
    values.push(['interior', env.block + 1], ['interior page', env.block + env.buddy.pageSize], ['foreign', foreign]);
  return values;
}

function makeEnv(): Env {
  const wasm = new WebAssembly.Memory({ initial: 8, maximum: 64 });
  const mem = Memory.wrap(wasm);
  const buddy = new BuddyAllocator({ memory: mem, pages: 64, pageSize: 4096, maxPages: 96 });
  const block = buddy.allocPages(2);
  buddy.allocPages(1);
  const arena = new Arena({ buddy, chunkPages: 1 });
  arena.alloc(40);
  arena.reset(); // generation 1: a small number is no live mark
  const bit = arena.alloc(24);
  arena.alloc(8, 64);
  return { mem, buddy, arena, block, bit };
}

/** A second heap of the same shape, with a block where this one has free pages. */
function foreignAddress(env: Env): number {
  const other = new BuddyAllocator({ pages: 64, pageSize: 4096, maxPages: 96 });
  other.allocPages(8);
  const addr = other.allocPages(4);
  expect(env.buddy.isAllocated(addr)).toBe(false);
  return addr;
}

type Call = (env: Env, x: unknown) => unknown;
/**
 * Each method with the other arguments valid; `valid` names the values that
 * are legitimately accepted (the call must succeed; unless `mutates`, it must
 * change nothing either); `address` adds the three address values.
 */
const METHODS: Array<{ name: string; call: Call; valid?: string[]; address?: boolean; mutates?: boolean }> = [
  // Memory
  { name: 'Memory.create(x)', call: (_e, x) => Memory.create(x as never) },
  {
    name: 'Memory.create({ bytes: 64, maxBytes: x })',
    call: (_e, x) => Memory.create({ bytes: 64, maxBytes: x as number }),
    valid: ['2^31', 'undefined'],
  },
  {
    name: 'Memory.create({ bytes: 64, shared: x })',
    call: (_e, x) => Memory.create({ bytes: 64, shared: x as boolean }),
    valid: ['undefined', 'true', 'false'],
  },
  { name: 'Memory.wrap(x)', call: (_e, x) => Memory.wrap(x as never) },
  { name: 'memory.grow(x)', call: (e, x) => e.mem.grow(x as number), valid: ['0', '-0'] },
  { name: 'hasHeader(x)', call: (_e, x) => hasHeader(x as never) },
  { name: 'ensureHeader(x)', call: (_e, x) => ensureHeader(x as never) },
  { name: 'checkHeader(x)', call: (_e, x) => checkHeader(x as never) },
  { name: 'readSlot(memory, x)', call: (e, x) => readSlot(e.mem, x as never), valid: ['0', '-0'] },
  { name: 'writeSlot(memory, 7, x)', call: (e, x) => writeSlot(e.mem, 7 as never, x as number), valid: ['0', '-0'] },
  {
    name: 'memory.growTo(x)',
    call: (e, x) => e.mem.growTo(x as number),
    valid: ['0', '-0', 'interior', 'interior page', 'foreign'],
    address: true,
  },
  // BuddyAllocator
  { name: 'new BuddyAllocator(x)', call: (_e, x) => new BuddyAllocator(x as never), valid: ['undefined'] },
  {
    name: 'new BuddyAllocator({ pages: x })',
    call: (_e, x) => new BuddyAllocator({ pages: x as number }),
    valid: ['undefined'],
  },
  {
    name: 'new BuddyAllocator({ pages: 4, pageSize: x })',
    call: (_e, x) => new BuddyAllocator({ pages: 4, pageSize: x as number }),
    valid: ['undefined'],
  },
  {
    name: 'new BuddyAllocator({ pages: 4, maxOrder: x })',
    call: (_e, x) => new BuddyAllocator({ pages: 4, maxOrder: x as number }),
    valid: ['0', '-0', 'undefined'],
  },
  {
    name: 'new BuddyAllocator({ offsetsOnly: true, base: x })',
    call: (_e, x) => new BuddyAllocator({ offsetsOnly: true, pages: 4, base: x as number }),
    valid: ['0', '-0', '2^31', 'undefined'],
  },
  { name: 'BuddyAllocator.attach(x)', call: (_e, x) => BuddyAllocator.attach(x as never) },
  { name: 'buddy.allocPages(x)', call: (e, x) => e.buddy.allocPages(x as number) },
  { name: 'buddy.allocPagesExact(x)', call: (e, x) => e.buddy.allocPagesExact(x as number) },
  { name: 'buddy.free(x)', call: (e, x) => e.buddy.free(x as number), address: true },
  { name: 'buddy.blockPages(x)', call: (e, x) => e.buddy.blockPages(x as number), address: true },
  {
    name: 'buddy.isAllocated(x)',
    call: (e, x) => e.buddy.isAllocated(x as number),
    valid: ['0', '-0', '2^31', 'interior', 'interior page', 'foreign'],
    address: true,
  },
  { name: 'buddy.grow(x)', call: (e, x) => e.buddy.grow(x as number), valid: ['0', '-0'] },
  { name: 'buddy.freeList(x)', call: (e, x) => e.buddy.freeList(x as number), valid: ['0', '-0'] },
  { name: 'buddy.buddyinfo(x)', call: (e, x) => e.buddy.buddyinfo(x as string), valid: ['"8"', '""', 'undefined'] },
  { name: 'buddy.forEachBlock(x)', call: (e, x) => e.buddy.forEachBlock(x as never) },
  // Arena
  { name: 'new Arena(x)', call: (_e, x) => new Arena(x as never), valid: ['undefined'] },
  { name: 'new Arena({ bytes: x })', call: (_e, x) => new Arena({ bytes: x as number }), valid: ['0', '-0'] },
  {
    name: 'new Arena({ bytes: 64, maxBytes: x })',
    call: (_e, x) => new Arena({ bytes: 64, maxBytes: x as number }),
    valid: ['undefined'],
  },
  {
    name: 'new Arena({ buddy, chunkPages: x })',
    call: (_e, x) => new Arena({ buddy: new BuddyAllocator({ pages: 8 }), chunkPages: x as number }),
    valid: ['undefined'],
  },
  { name: 'new Arena({ buddy: x })', call: (_e, x) => new Arena({ buddy: x as never }) },
  { name: 'Arena.attach(x)', call: (_e, x) => Arena.attach(x as never) },
  {
    name: 'Arena.attach(memory, { buddy, at: x })',
    call: (e, x) => Arena.attach(e.mem, { buddy: e.buddy, at: x as number }),
    valid: ['undefined'],
  },
  { name: 'arena.alloc(x)', call: (e, x) => e.arena.alloc(x as number) },
  { name: 'arena.alloc(8, x)', call: (e, x) => e.arena.alloc(8, x as number), valid: ['undefined'], mutates: true },
  { name: 'arena.rewind(x)', call: (e, x) => e.arena.rewind(x as number), address: true },
  { name: 'arena.run(x)', call: (e, x) => e.arena.run(x as never) },
  {
    name: 'arena.view(x, 8)',
    call: (e, x) => e.arena.view(x as number, 8),
    valid: ['0', '-0', 'interior', 'interior page', 'foreign'],
    address: true,
  },
  { name: 'arena.view(bit, x)', call: (e, x) => e.arena.view(e.bit, x as number), valid: ['0', '-0'] },
];

function snapshot(env: Env): string {
  const m = env.mem;
  m.sync();
  const bytes = Buffer.from(m.u8).toString('base64');
  return (
    JSON.stringify([m.byteLength, env.buddy.stats(), env.buddy.freeCounts(), env.arena.stats(), bytes.length]) + bytes
  );
}

describe('bad-input matrix: Memory, Arena, BuddyAllocator', () => {
  const env0 = makeEnv();
  const names = badValues(env0, 0, false).map(([n]) => n);
  it('has at least 20 bad values and covers every method', () => {
    expect(names.length).toBeGreaterThanOrEqual(20);
    expect(METHODS.length).toBeGreaterThanOrEqual(30);
  });

  it.each(METHODS.map((m) => [m.name, m] as const))('%s', (_name, method) => {
    const env = makeEnv();
    const values = badValues(env, foreignAddress(env), method.address === true);
    let refused = 0;
    for (const [label, x] of values) {
      const before = snapshot(env);
      const runs = valueOfRuns;
      let err: unknown = null;
      try {
        method.call(env, x);
      } catch (e) {
        err = e;
      }
      const context = `${method.name} with ${label}`;
      expect(valueOfRuns, `${context}: ran valueOf`).toBe(runs);
      if (method.valid?.includes(label) === true) {
        expect(err, `${context}: valid, should succeed`).toBeNull();
      } else {
        expect(err, `${context}: should throw`).toBeInstanceOf(MemkitError);
        if (err instanceof InvalidArgumentError) expect(err.argument, `${context}: names no argument`).toMatch(/\w/);
        refused++;
      }
      if (!(err === null && method.mutates === true))
        expect(snapshot(env) === before, `${context}: state changed`).toBe(true);
      env.buddy.checkInvariants();
      env.arena.checkInvariants();
    }
    expect(refused).toBeGreaterThanOrEqual(values.length - (method.valid?.length ?? 0));
  });
});
