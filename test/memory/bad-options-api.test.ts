/**
 * README's promise that every option of every constructor and `attach`
 * refuses a bad value, made complete by construction as
 * bad-values-api.test.ts does for the public methods (which leaves
 * constructors out, and sweeps the options of the static `attach`, `create`
 * and `wrap` only as whole objects).
 *
 * The constructors come from the TypeScript compiler
 * (`publicConstructors` of test/support/public-api.ts: a Program over
 * src/index.ts with the repo's tsconfig options): every exported class's
 * public constructor and its public static `attach`/`create`/`wrap`, with
 * each parameter whose declared type is an options object, each object type
 * of it (ArenaOptions is ArenaMemoryOptions | ArenaBuddyOptions) and each
 * property of that type with its declared kind (number, boolean, string,
 * function, object, union). TABLE has one entry per such constructor or
 * static, one variant per object type and one position per option, with
 * the option's kind: the test fails when an option has no position, a
 * position names no option (stale), a kind differs from the declared one,
 * or an exported class with a public constructor or such static is neither
 * in TABLE nor in NOT_SWEPT with its reason. So a new option, or a new
 * class, forces a decision.
 *
 * Each position is swept unless exempt with a reason: each value of
 * `badValues(live, foreign)` (test/support/bad-values.ts; a boolean option
 * gets `1`, `"true"` and `""` as well, a function option the values that are
 * not functions, and `{}`) is put into the variant's valid base options (a
 * base made with the valid options succeeds), and the call
 * - throws a MemkitError; an InvalidArgumentError names the option in its
 *   `argument` (or an alias the position lists),
 * - runs no `valueOf` or `toString` of the value (the object with `valueOf`,
 *   the array and the function record every call of theirs),
 * - leaves every byte of any Memory it is given, and the stats() of any
 *   buddy it is given, as they were.
 * A refused call changes nothing, so the world is reused for the next value.
 *
 * `undefined` at an optional option is its default: accepted. What else the
 * TSDoc or README documents as valid is an allowance per (option, value) with
 * its reason: `accepts` (the call succeeds; the next value gets a fresh
 * world), or `found` ('FOUND: what happens': a bug left as it is, which the
 * test requires to still be there, so it fails once src is fixed).
 */
import { describe, expect, it } from 'vitest';
import {
  Arena,
  BuddyAllocator,
  InvalidArgumentError,
  Kmalloc,
  ManagedHeap,
  MemkitError,
  Memory,
  SlabCache,
  TlsfHeap,
} from '../../src/index.js';
import { describeError, recordingBadValues } from '../support/bad-values.js';
import {
  type ConstructorParam,
  type OptionKind,
  type OptionsVariant,
  type PublicConstructor,
  type PublicOption,
  publicConstructors,
} from '../support/public-api.js';

// ------------------------------------------------------------ the tables' vocabulary

type Kind = 'accepts' | 'found' | 'refused';

/** How one (option, value) is judged when it is not refused. */
interface Allowance {
  readonly kind: Kind;
  readonly why: string;
}
const accepts = (why: string): Allowance => ({ kind: 'accepts', why });
const found = (what: string): Allowance => ({ kind: 'found', why: `FOUND: ${what}` });
/** `undefined` at an optional option that is required here after all (swept as a bad value). */
const required = (why: string): Allowance => ({ kind: 'refused', why });

type Allowances = Readonly<Record<string, Allowance>>;

/** One option of a variant: its declared kind, and whether (and how) it is swept. */
interface Position {
  readonly kind: OptionKind;
  readonly swept: boolean;
  /** Why it is not swept (an exempt option). */
  readonly why: string;
  readonly allow: Allowances;
  /** Other names an InvalidArgumentError may give this option (documented aliases). */
  readonly aliases: readonly string[];
}
const swept =
  (kind: OptionKind) =>
  (allow: Allowances = {}, aliases: readonly string[] = []): Position => ({
    kind,
    swept: true,
    why: '',
    allow,
    aliases,
  });
const num = swept('number');
const bool = swept('boolean');
const str = swept('string');
const fn = swept('function');
const obj = swept('object');
const union = swept('union');
const exempt = (kind: OptionKind, why: string): Position => ({ kind, swept: false, why, allow: {}, aliases: [] });

/** What the sweep needs of a world: what it was given, to check it is left as it was. */
interface World {
  /** A Memory the call is given (directly, or as a buddy's). */
  readonly memory?: Memory;
  /** A buddy the call is given: its stats() must not change. */
  readonly buddy?: { stats(): unknown };
}

/** One object type of an options parameter: its valid base options and its options. */
interface Variant<W> {
  readonly base: (w: W) => Record<string, unknown>;
  readonly options: Readonly<Record<string, Position>>;
}

/** A constructor or static: a world, how to call it with the options, and its variants by type name. */
interface Entry<W extends World = World> {
  readonly build: () => W;
  readonly call: (w: W, options: Record<string, unknown>) => unknown;
  /** The options parameter (the one whose declared type is an options object). */
  readonly param: string;
  readonly variants: Readonly<Record<string, Variant<W>>>;
}
const entry = <W extends World>(e: Entry<W>): Entry => e as unknown as Entry;

// ------------------------------------------------------------ the values

const STRINGS = ['"64"', 'String(live)'];
const INTERIOR = 'live + 8 (interior)';
const FOREIGN_LABEL = 'foreign address';
const ZEROS = ['0', '-0'];
const BOOLEANS = ['true', 'false'];
const each = (labels: readonly string[], a: Allowance): Allowances =>
  Object.fromEntries(labels.map((label) => [label, a]));

/** Calls of a value's `valueOf` and `toString` (the instrumented values record theirs here). */
const ran: string[] = [];

const LIVE = 64;
const FOREIGN = 1 << 12;

/** The values swept at an option of `kind`, instrumented as bad-values-api.test.ts does. */
function valuesFor(kind: OptionKind): Array<[string, unknown]> {
  const values = recordingBadValues(LIVE, FOREIGN, ran);
  if (kind === 'function') return [...values.filter(([label]) => label !== 'a function'), ['{}', {}]];
  if (kind === 'boolean') return [...values, ['1', 1], ['"true"', 'true'], ['""', '']];
  return values;
}
const labelsFor = (kind: OptionKind): string[] => valuesFor(kind).map(([label]) => label);

// ------------------------------------------------------------ the worlds

/** A Memory of `bytes` bytes that are not all zero (a write of zeros shows). */
function patterned(bytes: number): Memory {
  const memory = Memory.wrap(new ArrayBuffer(bytes));
  for (let i = 0; i < bytes; i += 61) memory.u8[i] = i & 0xff;
  return memory;
}

/** A buddy over a Memory of its own, with a live block. */
function buddyWorld() {
  const memory = Memory.wrap(new ArrayBuffer(1 << 20));
  const buddy = new BuddyAllocator({ memory, maxPages: 256 });
  buddy.allocPages(1);
  return { memory, buddy };
}

/** A buddy with an arena, a TLSF heap and a slab cache named 'x' in its Memory: what their `attach` opens. */
function layersWorld() {
  const { memory, buddy } = buddyWorld();
  const arena = new Arena({ buddy });
  arena.alloc(100);
  const tlsf = new TlsfHeap(buddy, { chunkPages: 8 });
  tlsf.alloc(100);
  const cache = new SlabCache(buddy, { name: 'x', size: 64 });
  cache.alloc();
  return { memory, buddy, cache };
}

function managedWorld() {
  const heap = new ManagedHeap({ bytes: 1 << 20, autoCollect: false });
  const Node = heap.defineType('Node', { next: 'ref', n: 'i32' });
  heap.root(Node.alloc());
  heap.detach(); // no writer attached: attach may open it read-write
  return { memory: heap.memory };
}

// ------------------------------------------------------------ the table

const OPTIONAL = 'optional: undefined is the default';
/** A flag: true and false are its values. */
const FLAG = each(BOOLEANS, accepts('a boolean option: true and false are its values'));
/** Whole numbers the option's TSDoc range holds. */
const inRange = (why: string, labels: readonly string[]): Allowances => each(labels, accepts(why));

/** `bytes` and `maxBytes` of a heap over a Kmalloc of its own (Kmalloc, ManagedHeap): 2^32 passes what a Memory holds; 72 and 4096 hold no TLSF chunk. */
const HEAP_BYTES = (): Allowances => ({ '2^31': accepts('a byte count: 2 GiB fits a Memory') });

/** Options of ManagedHeap that its attach takes too (`options` of AttachOptions). */
const managedOptions = {
  incremental: bool(FLAG),
  minThreshold: num(
    inRange('bytes between cycles: a whole number in [0, 2^53]', [
      ...ZEROS,
      '2^31',
      '2^32',
      '2^53',
      INTERIOR,
      FOREIGN_LABEL,
    ]),
  ),
  growthFactor: num(
    inRange('"a finite number >= 0"', [...ZEROS, '1.5', '2^31', '2^32', '2^53', INTERIOR, FOREIGN_LABEL]),
  ),
  stepBytes: num(inRange('a whole number in [1, 2^53]', ['2^31', '2^32', '2^53', INTERIOR, FOREIGN_LABEL])),
  stepBudget: num(
    inRange('work units, as step(budget): "any positive number (Infinity: a whole cycle)"', [
      '1.5',
      '+Infinity',
      '2^31',
      '2^32',
      '2^53',
      INTERIOR,
      FOREIGN_LABEL,
    ]),
  ),
  autoCollect: bool(FLAG),
  debug: obj(),
  onLeakedRoot: fn(),
  onFinalizerError: fn(),
  onPause: fn(),
};

/** Entries by `Class.constructor` or `Class.static`. */
const TABLE: Readonly<Record<string, Entry>> = {
  'Memory.create': entry({
    build: () => ({}),
    call: (_w, o) => Memory.create(o as never),
    param: 'options',
    variants: {
      MemoryCreateOptions: {
        base: () => ({ bytes: 4096 }),
        options: {
          bytes: num(
            inRange('"initial size in bytes": any whole count (0: an empty Memory)', [
              ...ZEROS,
              '2^31',
              INTERIOR,
              FOREIGN_LABEL,
            ]),
          ),
          shared: bool(FLAG),
          maxBytes: num(inRange('a byte count >= bytes', ['2^31', FOREIGN_LABEL])),
        },
      },
    },
  }),
  'Arena.constructor': entry({
    build: buddyWorld,
    call: (_w, o) => new Arena(o as never),
    param: 'options',
    variants: {
      ArenaMemoryOptions: {
        base: () => ({ bytes: 4096 }),
        options: {
          bytes: num(
            inRange('usable bytes of the first chunk: any whole count (0: an empty fixed arena)', [
              ...ZEROS,
              INTERIOR,
              FOREIGN_LABEL,
            ]),
          ),
          maxBytes: num(inRange('a byte count >= bytes', [FOREIGN_LABEL])),
          chunkBytes: num(
            inRange('"least usable bytes of a chunk added by growth (... at least 256)"', [INTERIOR, FOREIGN_LABEL]),
          ),
          shared: bool(FLAG),
        },
      },
      ArenaBuddyOptions: {
        base: (w) => ({ buddy: w.buddy }),
        options: {
          buddy: obj(),
          chunkPages: num(inRange('"pages asked for per chunk": a whole count', [INTERIOR])),
          maxBytes: num(inRange('a byte count', [INTERIOR, FOREIGN_LABEL])),
        },
      },
    },
  }),
  'Arena.attach': entry({
    build: layersWorld,
    call: (w, o) => Arena.attach(w.memory, o),
    param: 'options',
    variants: {
      ArenaAttachOptions: {
        base: (w) => ({ buddy: w.buddy }),
        options: {
          at: num(),
          buddy: obj({
            undefined: required('"required to attach to a buddy-backed arena" (TSDoc), as this one is'),
          }),
        },
      },
    },
  }),
  'BuddyAllocator.constructor': entry({
    build: () => ({ memory: patterned(1 << 16) }),
    call: (_w, o) => new BuddyAllocator(o),
    param: 'options',
    variants: {
      BuddyOptions: {
        base: (w) => ({ memory: w.memory }),
        options: {
          pages: num(),
          pageSize: num(inRange('a power of two', [FOREIGN_LABEL])),
          memory: obj(),
          offsetsOnly: bool({ false: accepts('a flag: false is its default') }, [
            // true with the base's memory: "offsetsOnly and memory exclude each other", named as `memory`.
            'memory',
          ]),
          base: num(),
          maxOrder: num(inRange('a block order in [0, 31]', ZEROS)),
          maxPages: num(inRange('a page count', [INTERIOR, FOREIGN_LABEL])),
          pcp: union({ false: accepts('`false | { high, batch }`: false turns the page lists off') }),
        },
      },
    },
  }),
  'SlabCache.constructor': entry({
    build: buddyWorld,
    call: (w, o) => new SlabCache(w.buddy, o as never),
    param: 'options',
    variants: {
      SlabCacheOptions: {
        base: () => ({ name: 'x', size: 64 }),
        options: {
          name: str(each(STRINGS, accepts('any string is a name'))),
          size: num(inRange('an object size', [INTERIOR, FOREIGN_LABEL])),
          align: num(inRange('a power of two', [FOREIGN_LABEL])),
          ctor: fn(),
          debug: union(each(BOOLEANS, accepts('`boolean | SlabDebugOptions`: true is every aid, false none'))),
          order: num(inRange('a slab order (pages = 2^order)', ZEROS)),
          minEmpty: num(inRange('empty slabs kept: a count', [...ZEROS, INTERIOR, FOREIGN_LABEL])),
        },
      },
    },
  }),
  'SlabCache.attach': entry({
    build: layersWorld,
    call: (w, o) => SlabCache.attach(w.memory, o),
    param: 'options',
    variants: {
      SlabAttachOptions: {
        base: () => ({ name: 'x' }),
        options: {
          id: num(inRange('"default 0, the first cache made"', ZEROS)),
          name: str(),
          ctor: fn(),
        },
      },
    },
  }),
  'TlsfHeap.constructor': entry({
    build: buddyWorld,
    call: (w, o) => new TlsfHeap(w.buddy, o),
    param: 'options',
    variants: {
      TlsfOptions: {
        base: () => ({ chunkPages: 8 }),
        options: {
          chunkPages: num(),
          onChunk: fn(),
          quickBytes: num(
            inRange('"a multiple of 8 up to the chunk size; 0: no quick lists"', ['0', INTERIOR, FOREIGN_LABEL]),
          ),
        },
      },
    },
  }),
  'TlsfHeap.attach': entry({
    build: layersWorld,
    call: (w, o) => TlsfHeap.attach(w.memory, o),
    param: 'options',
    variants: {
      TlsfAttachOptions: {
        base: () => ({}),
        options: { at: num(), onChunk: fn() },
      },
    },
  }),
  'Kmalloc.constructor': entry({
    build: () => ({}),
    call: (_w, o) => new Kmalloc(o),
    param: 'options',
    variants: {
      KmallocOptions: {
        base: () => ({ bytes: 1 << 20 }),
        options: {
          bytes: num(HEAP_BYTES()),
          maxBytes: num(HEAP_BYTES()),
          buddy: obj(),
          memory: obj(),
          classes: union(),
          maxClass: num(inRange('a size class bound', [INTERIOR, FOREIGN_LABEL])),
          promoteAfter: num(
            inRange('"a number in [0, max]" of pages\' worth (0: every class takes pages at once)', [
              ...ZEROS,
              '1.5',
              INTERIOR,
              FOREIGN_LABEL,
            ]),
          ),
          pageSize: num(inRange('a power of two', [FOREIGN_LABEL])),
          debug: bool(FLAG),
          largeAbove: num(inRange('a size bound', [...ZEROS, INTERIOR, FOREIGN_LABEL])),
          tlsfChunkPages: num({}),
        },
      },
    },
  }),
  'ManagedHeap.constructor': entry({
    build: () => ({}),
    call: (_w, o) => new ManagedHeap(o),
    param: 'options',
    variants: {
      ManagedHeapOptions: {
        base: () => ({ bytes: 1 << 16 }),
        options: {
          bytes: num(HEAP_BYTES()),
          maxBytes: num(HEAP_BYTES()),
          backend: obj(),
          ...managedOptions,
        },
      },
    },
  }),
  'ManagedHeap.attach': entry({
    build: managedWorld,
    call: (w, o) => ManagedHeap.attach(w.memory, {}, o),
    param: 'options',
    variants: {
      AttachOptions: {
        base: () => ({ readOnly: true }),
        options: { readOnly: bool(FLAG), backend: obj(), options: obj() },
      },
    },
  }),
};

/** Constructors and statics that take no options object, and why they are not swept here. */
const NO_OPTIONS: Readonly<Record<string, string>> = {
  'Memory.wrap': 'takes a buffer, no options: swept as a whole argument by bad-values-api.test.ts',
  'BuddyAllocator.attach': 'takes a Memory, no options: swept by bad-values-api.test.ts',
  'Kmalloc.attach': 'takes a Memory, no options: swept by bad-values-api.test.ts',
};

/** Exported classes with a public constructor or such static that are not swept, and why. */
const NOT_SWEPT: Readonly<Record<string, string>> = {
  MemkitError: 'an error: its constructor takes a message and ErrorOptions, not memkit options',
  InvalidArgumentError: 'an error',
  OutOfMemoryError: 'an error',
  InvalidFreeError: 'an error',
  DoubleFreeError: 'an error',
  HeapCorruptionError: 'an error',
  AllocationTracker:
    'wraps a heap its user gives (tools/leaks): its one parameter is that heap, not an options object ' +
    '(test/tools/leaks.test.ts)',
};

// ------------------------------------------------------------ the sweep

const CTORS = publicConstructors();
const keyOf = (c: PublicConstructor): string => `${c.cls}.${c.name}`;

/** The options parameters of a constructor's signatures. */
const optionsParams = (c: PublicConstructor): ConstructorParam[] =>
  c.signatures.flatMap((params) => params.filter((p) => p.options !== null));

interface Snapshot {
  readonly bytes: Uint8Array | null;
  readonly stats: string;
}
const snapshot = (w: World): Snapshot => ({
  bytes: w.memory === undefined ? null : w.memory.u8.slice(),
  stats: w.buddy === undefined ? '' : JSON.stringify(w.buddy.stats()),
});

/** What changed in what the world gave the call (null: nothing). */
function changes(w: World, before: Snapshot): string | null {
  if (w.memory !== undefined && before.bytes !== null) {
    const now = w.memory.u8;
    if (now.length !== before.bytes.length)
      return `the given memory went from ${before.bytes.length} to ${now.length} bytes`;
    if (Buffer.compare(now, before.bytes) !== 0) {
      let lo = 0;
      while (now[lo] === before.bytes[lo]) lo++;
      let hi = now.length - 1;
      while (now[hi] === before.bytes[hi]) hi--;
      return `bytes [${lo}, ${hi}] of the given memory changed`;
    }
  }
  if (w.buddy !== undefined) {
    const stats = JSON.stringify(w.buddy.stats());
    if (stats !== before.stats) return `the given buddy's stats changed: ${before.stats} -> ${stats}`;
  }
  return null;
}

/**
 * At an options-object option (`pcp`, `debug`), the unknown key of the bad
 * value named as README says ("inside an options object, the option's
 * name"): `pcp: { valueOf }` names `valueOf`.
 */
function nestedOption(option: PublicOption, bad: unknown, argument: string | undefined): boolean {
  return (
    (option.kind === 'object' || option.kind === 'union') &&
    typeof bad === 'object' &&
    bad !== null &&
    argument !== undefined &&
    Object.keys(bad).includes(argument)
  );
}

/** Sweeps `option` of `variant` of `e`: every value, on a world reused while calls are refused. Returns what is wrong. */
function sweepOption(e: Entry, variant: Variant<World>, option: PublicOption, pos: Position): string[] {
  const problems: string[] = [];
  {
    const w = e.build();
    try {
      e.call(w, variant.base(w));
    } catch (err) {
      return [`the valid base threw ${describeError(err)}`];
    }
  }
  let w = e.build();
  let before = snapshot(w);
  for (const [label, x] of valuesFor(option.kind)) {
    const at = `${option.name} = ${label}`;
    const options = { ...variant.base(w), [option.name]: x };
    ran.length = 0;
    let threw = false;
    let err: unknown;
    try {
      e.call(w, options);
    } catch (caught) {
      threw = true;
      err = caught;
    }
    const given = pos.allow[label];
    const allowance =
      given?.kind === 'refused'
        ? undefined
        : (given ?? (label === 'undefined' && option.optional ? accepts(OPTIONAL) : undefined));
    let wrong: string | null = null;
    let fresh = false;
    if (allowance?.kind === 'accepts') {
      if (threw) wrong = `accepted (${allowance.why}), but threw ${describeError(err)}`;
      else if (ran.length > 0) wrong = `ran ${ran.join(', ')} of the value`;
      fresh = true;
    } else {
      if (!threw) wrong = 'not refused: the call succeeded';
      else if (!(err instanceof MemkitError)) wrong = `threw ${describeError(err)}`;
      else if (ran.length > 0) wrong = `ran ${ran.join(', ')} of the value`;
      else wrong = changes(w, before);
      if (
        wrong === null &&
        err instanceof InvalidArgumentError &&
        err.argument !== option.name &&
        !pos.aliases.includes(err.argument as string) &&
        !nestedOption(option, x, err.argument)
      )
        wrong = `InvalidArgumentError names argument ${JSON.stringify(err.argument)}, not "${option.name}": ${err.message}`;
      if (allowance !== undefined) {
        // A bug left in place: it must still be there (else the allowance is stale).
        wrong = wrong === null ? `refused now: the allowance "${allowance.why}" is stale` : null;
        fresh = true;
      }
    }
    if (wrong !== null) {
      problems.push(`${at}: ${wrong}`);
      fresh = true;
    }
    if (fresh) {
      w = e.build();
      before = snapshot(w);
    }
  }
  return problems;
}

/** What is wrong with `e`'s variants against the compiler's options types (one position per option, of its kind). */
function variantProblems(variants: readonly OptionsVariant[], e: Entry): string[] {
  const wrong: string[] = [];
  for (const v of variants) {
    const table = e.variants[v.type]?.options ?? {};
    for (const o of v.props) {
      const pos = table[o.name];
      if (pos === undefined) wrong.push(`${v.type}.${o.name} (${o.kind}: ${o.type}) has no position`);
      else if (pos.kind !== o.kind) wrong.push(`${v.type}.${o.name}: declared ${o.kind} (${o.type}), not ${pos.kind}`);
    }
    for (const [name, pos] of Object.entries(table)) {
      if (!v.props.some((o) => o.name === name)) wrong.push(`${v.type}: a position of no option: ${name}`);
      if (!pos.swept && pos.why === '') wrong.push(`${v.type}.${name}: exempt with no reason`);
      const labels = labelsFor(pos.kind);
      for (const [label, a] of Object.entries(pos.allow)) {
        if (!labels.includes(label)) wrong.push(`${v.type}.${name}: an allowance for no value: ${label}`);
        if (a.why === '' || a.why === 'FOUND: ') wrong.push(`${v.type}.${name} = ${label}: no reason`);
      }
    }
  }
  return wrong;
}

describe('the constructors and options the sweep covers', () => {
  it('every exported class with a public constructor, attach, create or wrap is swept or named in NOT_SWEPT', () => {
    const classes = [...new Set(CTORS.map((c) => c.cls))];
    const swept = new Set(
      CTORS.filter((c) => Object.hasOwn(TABLE, keyOf(c)) || Object.hasOwn(NO_OPTIONS, keyOf(c))).map((c) => c.cls),
    );
    expect(
      classes.filter((c) => !swept.has(c) && !Object.hasOwn(NOT_SWEPT, c)),
      'neither swept nor excused',
    ).toEqual([]);
    expect(
      Object.keys(NOT_SWEPT).filter((c) => !classes.includes(c)),
      'excuses of no class',
    ).toEqual([]);
    expect(
      Object.keys(NOT_SWEPT).filter((c) => swept.has(c)),
      'both swept and excused',
    ).toEqual([]);
    expect(Object.entries({ ...NOT_SWEPT, ...NO_OPTIONS }).filter(([, why]) => why === '')).toEqual([]);
  });

  it('one entry for every constructor or static with an options parameter, NO_OPTIONS for the others', () => {
    const swept = CTORS.filter((c) => !Object.hasOwn(NOT_SWEPT, c.cls));
    const withOptions = swept.filter((c) => optionsParams(c).length > 0).map(keyOf);
    const without = swept.filter((c) => optionsParams(c).length === 0).map(keyOf);
    expect(
      withOptions.filter((k) => !Object.hasOwn(TABLE, k)),
      'with options and no entry',
    ).toEqual([]);
    expect(
      Object.keys(TABLE).filter((k) => !withOptions.includes(k)),
      'entries of nothing with options',
    ).toEqual([]);
    expect(
      without.filter((k) => !Object.hasOwn(NO_OPTIONS, k)),
      'without options and not in NO_OPTIONS',
    ).toEqual([]);
    expect(
      Object.keys(NO_OPTIONS).filter((k) => !without.includes(k)),
      'stale NO_OPTIONS',
    ).toEqual([]);
  });

  for (const c of CTORS.filter((c) => Object.hasOwn(TABLE, keyOf(c)))) {
    it(`${keyOf(c)}: one variant per options type, one position per option, of its declared kind`, () => {
      const e = TABLE[keyOf(c)]!;
      const params = optionsParams(c);
      expect(
        params.map((p) => p.name),
        'the options parameters',
      ).toEqual([e.param]);
      const variants = params[0]!.options!;
      expect(variants.map((v) => v.type).sort(), 'the options types').toEqual(Object.keys(e.variants).sort());
      const wrong = variantProblems(variants, e);
      expect(wrong).toEqual([]);
    });
  }

  it('sweeps more than 1000 (option, value) cases', () => {
    let cases = 0;
    for (const e of Object.values(TABLE))
      for (const v of Object.values(e.variants))
        for (const pos of Object.values(v.options)) if (pos.swept) cases += labelsFor(pos.kind).length;
    expect(cases).toBeGreaterThan(1000);
  });
});

describe('every option of every constructor and attach, given each bad value', () => {
  for (const c of CTORS.filter((c) => Object.hasOwn(TABLE, keyOf(c)))) {
    const e = TABLE[keyOf(c)]!;
    const param = optionsParams(c)[0];
    if (param === undefined) continue; // the coverage test names it
    describe(keyOf(c), () => {
      for (const v of param.options!) {
        const variant = e.variants[v.type];
        if (variant === undefined) continue; // the coverage test names it
        for (const o of v.props) {
          const pos = variant.options[o.name];
          if (pos === undefined || !pos.swept) continue; // the coverage test names it, or its reason is in the table
          it(`${v.type}.${o.name}`, () => {
            const problems = sweepOption(e, variant, o, pos);
            expect(problems, problems.join('\n')).toEqual([]);
          });
        }
      }
    });
  }
});

describe('the sweep itself: a probe constructor that breaks each rule is caught', () => {
  /** A world with a patterned Memory and a buddy over another, each given to the probe. */
  const probeWorld = () => ({ memory: patterned(4096), buddy: buddyWorld().buddy });
  type ProbeWorld = ReturnType<typeof probeWorld>;
  const X: PublicOption = { name: 'x', kind: 'number', optional: true, type: 'number' };
  const refuse = (): never => {
    throw new InvalidArgumentError('x must be 8', 'x');
  };
  /** The problems the sweep finds in a probe taking `{ x }` (8 is valid), with position `pos`. */
  const sweepProbe = (probe: (w: ProbeWorld, x: unknown) => unknown, pos: Position = num(), option = X) => {
    const e = entry<ProbeWorld>({
      build: probeWorld,
      call: (w, o) => (o.x === 8 ? undefined : probe(w, o.x)),
      param: 'options',
      variants: {},
    });
    const variant: Variant<World> = { base: () => ({ x: 8 }), options: { x: pos } };
    return sweepOption(e, variant, option, pos).join('\n');
  };

  it('a constructor that refuses every value passes (undefined at an optional option may be accepted)', () => {
    expect(sweepProbe((_w, x) => (x === undefined ? undefined : refuse()))).toBe('');
    expect(sweepProbe(refuse)).toBe(
      'x = undefined: accepted (optional: undefined is the default), but threw InvalidArgumentError: x must be 8',
    );
    expect(sweepProbe(refuse, num({ undefined: required('x is required') }))).toBe('');
  });
  it('a value that is not refused, a coercion, an error of the engine', () => {
    const probe = (_w: ProbeWorld, x: unknown) => (x === undefined || Object.is(x, 0) ? undefined : refuse());
    expect(sweepProbe(probe)).toMatch(/^x = 0: not refused: the call succeeded$/);
    const coerces = sweepProbe((_w, x) => (x === undefined || Number(x) === 0 ? undefined : refuse()));
    expect(coerces).toMatch(/x = \{ valueOf: live \}: ran valueOf of the value/);
    expect(coerces).toMatch(/x = a symbol: threw TypeError/);
  });
  it('a write to the given memory, an allocation from the given buddy', () => {
    expect(
      sweepProbe((w) => {
        w.memory.u8[100] = 9;
        refuse();
      }),
    ).toMatch(/^x = 0: bytes \[100, 100\] of the given memory changed$/m);
    expect(
      sweepProbe((w) => {
        w.buddy.allocPages(1);
        refuse();
      }),
    ).toMatch(/^x = 0: the given buddy's stats changed/m);
  });
  it('an InvalidArgumentError that names another option, or none; an alias; a nested option', () => {
    const naming = (argument: string | undefined) => (): never => {
      throw new InvalidArgumentError('x must be 8', argument);
    };
    expect(sweepProbe(naming('y'))).toMatch(/^x = 0: InvalidArgumentError names argument "y", not "x"/m);
    expect(sweepProbe(naming(undefined))).toMatch(/^x = 0: InvalidArgumentError names argument undefined, not "x"/m);
    expect(sweepProbe(naming('y'), num({}, ['y']))).toMatch(/^x = undefined: accepted/);
    // A key of the bad value names a nested option only at an object or union option.
    const firstKey = (_w: ProbeWorld, x: unknown): never => {
      throw new InvalidArgumentError(
        'x',
        typeof x === 'object' && x !== null && Object.keys(x).length > 0 ? Object.keys(x)[0] : 'x',
      );
    };
    expect(sweepProbe(firstKey)).toMatch(/x = \{ valueOf: live \}: InvalidArgumentError names argument "valueOf"/);
    const OBJ: PublicOption = { name: 'x', kind: 'object', optional: false, type: '{ y?: number }' };
    expect(sweepProbe(firstKey, obj(), OBJ)).toBe('');
  });
  it('an accepted value that throws, and a FOUND allowance that is stale', () => {
    expect(sweepProbe(refuse, num({ 0: accepts('zero'), undefined: required('required') }))).toMatch(
      /^x = 0: accepted \(zero\), but threw InvalidArgumentError: x must be 8$/m,
    );
    const takesZero = (_w: ProbeWorld, x: unknown) => (Object.is(x, 0) ? undefined : refuse());
    expect(sweepProbe(takesZero, num({ 0: found('0 is taken'), undefined: required('required') }))).toBe('');
    expect(sweepProbe(refuse, num({ 0: found('0 is taken'), undefined: required('required') }))).toBe(
      'x = 0: refused now: the allowance "FOUND: 0 is taken" is stale',
    );
  });
  it('an option with no position, a stale position, a wrong kind, an exemption with no reason', () => {
    const e = entry({
      build: () => ({}),
      call: () => undefined,
      param: 'options',
      variants: { P: { base: () => ({}), options: { a: num(), b: bool(), c: exempt('number', '') } } },
    });
    const props: PublicOption[] = [
      { name: 'a', kind: 'string', optional: true, type: 'string' },
      { name: 'c', kind: 'number', optional: true, type: 'number' },
      { name: 'd', kind: 'number', optional: true, type: 'number' },
    ];
    expect(variantProblems([{ type: 'P', props }], e)).toEqual([
      'P.a: declared string (string), not number',
      'P.d (number: number) has no position',
      'P: a position of no option: b',
      'P.c: exempt with no reason',
    ]);
  });
});
