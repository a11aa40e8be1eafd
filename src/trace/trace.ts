/**
 * Trace files in the CS:APP malloc-lab format, parsed into typed arrays.
 *
 * ```
 *  line 1   <suggested heap size>   bytes (the recorders write the peak live payload)
 *  line 2   <number of ids>         ids are 0 .. n-1
 *  line 3   <number of ops>
 *  line 4   <weight>                kept, unused
 *  line 5.. a ID SIZE               allocate SIZE bytes as block ID
 *           f ID                    free block ID
 *           r ID SIZE               resize block ID to SIZE bytes (ID unchanged)
 * ```
 * Blank lines are skipped (and counted, so line numbers stay right). An id
 * may be allocated again after it was freed. The parser checks, line by line:
 * the shape of each line, ids in range, `f`/`r` only of a live id, `a` only of
 * an id that is not live, the op count of the header.
 *
 * Parsing works on bytes, never on one big string: {@link TraceParser.push}
 * takes chunks as they come from a (gunzip) stream, so a trace of millions of
 * ops costs 13 bytes per op (the {@link Trace} arrays) and nothing else.
 *
 * @module
 */
import { TraceFormatError } from './errors.js';

/** Op kind codes stored in {@link Trace.kind}. */
export const OpKind = {
  /** `a ID SIZE` */
  Alloc: 0,
  /** `f ID` */
  Free: 1,
  /** `r ID SIZE` */
  Realloc: 2,
} as const;

/** One of the {@link OpKind} codes. */
export type OpKindCode = (typeof OpKind)[keyof typeof OpKind];

/** Largest number of ids a header may declare. */
export const MAX_TRACE_IDS = 1 << 26;
/** Largest number of ops a header may declare. */
export const MAX_TRACE_OPS = 1 << 27;
/**
 * Longest line accepted, in bytes. A valid line is at most about 40 bytes
 * (`r 67108863 4294967295` plus spaces); anything near this limit is not a
 * trace, and refusing it keeps memory and time bounded on a bad file.
 */
export const MAX_TRACE_LINE = 4096;
/** Largest block size (a size must fit a `Uint32Array`). */
export const MAX_TRACE_SIZE = 0xffff_ffff;

/**
 * A parsed trace: op `i` is `kind[i] id[i] size[i]` (size 0 for `f`), read
 * from line `line[i]` of `file`.
 */
export interface Trace {
  /** The file name (as given), used in reports. */
  readonly file: string;
  /** Header line 1: suggested heap size in bytes. */
  readonly heapSize: number;
  /** Header line 2: number of ids (ids are `0 .. ids-1`). */
  readonly ids: number;
  /** Header line 3: number of ops the file declares. */
  readonly declaredOps: number;
  /** Header line 4. */
  readonly weight: number;
  /** Number of ops read (less than `declaredOps` only when truncated by `maxOps`). */
  readonly length: number;
  /** True when reading stopped at `maxOps`. */
  readonly truncated: boolean;
  /** Op kinds ({@link OpKind}). */
  readonly kind: Uint8Array;
  /** Block ids. */
  readonly id: Int32Array;
  /** Sizes in bytes (0 for `f`). */
  readonly size: Uint32Array;
  /** 1-based line numbers in the file. */
  readonly line: Uint32Array;
}

/** Options of {@link TraceParser} and the readers. */
export interface TraceReadOptions {
  /** Stop after this many ops (the rest of the file is not read). */
  maxOps?: number;
}

const NL = 10,
  CR = 13,
  SP = 32,
  TAB = 9,
  ZERO = 48,
  NINE = 57;
const CH_A = 97,
  CH_F = 102,
  CH_R = 114;

/** Id states while parsing. */
const ID_NEVER = 0,
  ID_LIVE = 1,
  ID_FREED = 2;

/**
 * Incremental parser: feed it byte chunks with {@link push}, then call
 * {@link finish}. Lines may be split anywhere between chunks.
 */
export class TraceParser {
  private readonly file: string;
  private readonly maxOps: number;
  private lineNo = 0;
  private header = new Float64Array(4);
  private headerCount = 0;
  /** Pieces of the unfinished last line (copies), and their total length. */
  private carry: Uint8Array[] = [];
  private carryBytes = 0;
  private idState: Uint8Array = new Uint8Array(0);
  private kind: Uint8Array = new Uint8Array(0);
  private ids: Int32Array = new Int32Array(0);
  private sizes: Uint32Array = new Uint32Array(0);
  private lines: Uint32Array = new Uint32Array(0);
  private n = 0;
  /** True once `maxOps` ops were read: the caller may stop feeding chunks. */
  done = false;
  // Scratch of the token reader (no allocation per line).
  private pos = 0;
  private num = 0;

  /** `file` is only used in error messages and in the resulting trace. */
  constructor(file: string, options: TraceReadOptions = {}) {
    this.file = file;
    const m = options.maxOps;
    this.maxOps = m === undefined ? Infinity : m;
    if (!(this.maxOps >= 0)) throw new TraceFormatError(file, 0, `maxOps must be a number >= 0, got ${String(m)}`);
  }

  /**
   * Parses the complete lines of `chunk`; keeps an unfinished last line.
   * Linear in the input: a line split over many chunks is collected as a
   * list of pieces and joined once, and a line longer than
   * {@link MAX_TRACE_LINE} bytes is refused as soon as it gets that long.
   */
  push(chunk: Uint8Array): void {
    if (this.done) return;
    let start = 0;
    const len = chunk.length;
    if (this.carryBytes > 0) {
      const nl = chunk.indexOf(NL);
      if (nl < 0) {
        this.keep(chunk, 0, len);
        return;
      }
      this.keep(chunk, 0, nl);
      const line = this.takeCarry();
      this.line(line, 0, line.length);
      start = nl + 1;
    }
    while (start < len && !this.done) {
      const nl = chunk.indexOf(NL, start);
      if (nl < 0) {
        this.keep(chunk, start, len);
        return;
      }
      if (nl - start > MAX_TRACE_LINE) this.tooLong(nl - start, true);
      this.line(chunk, start, nl);
      start = nl + 1;
    }
  }

  /** Adds `chunk[s, e)` to the unfinished line (copied: the caller may reuse its buffer). */
  private keep(chunk: Uint8Array, s: number, e: number): void {
    if (e === s) return;
    const total = this.carryBytes + (e - s);
    if (total > MAX_TRACE_LINE) this.tooLong(total, false);
    this.carry.push(chunk.slice(s, e));
    this.carryBytes = total;
  }

  /** The unfinished line's pieces joined (once), and the carry emptied. */
  private takeCarry(): Uint8Array {
    const parts = this.carry;
    const r = parts.length === 1 ? parts[0]! : new Uint8Array(this.carryBytes);
    if (parts.length > 1) {
      let o = 0;
      for (const p of parts) {
        r.set(p, o);
        o += p.length;
      }
    }
    this.carry = [];
    this.carryBytes = 0;
    return r;
  }

  /** `exact`: `bytes` is the line's length; else only what was read of it so far. */
  private tooLong(bytes: number, exact: boolean): never {
    this.lineNo++;
    this.fail(
      `line is longer than ${MAX_TRACE_LINE} bytes (${exact ? '' : 'at least '}${bytes}); a trace line is \`a ID SIZE\`, \`f ID\` or \`r ID SIZE\``,
    );
  }

  /** Parses a last line without a newline and returns the trace. */
  finish(): Trace {
    if (this.carryBytes !== 0 && !this.done) {
      const c = this.takeCarry();
      this.line(c, 0, c.length);
    }
    if (this.headerCount < 4) {
      throw new TraceFormatError(
        this.file,
        0,
        `ends after ${this.headerCount} header lines; expected 4 (heap size, ids, ops, weight)`,
      );
    }
    const declared = this.header[2]!;
    if (!this.done && this.n !== declared) {
      throw new TraceFormatError(this.file, this.lineNo, `the header declares ${declared} ops, the file has ${this.n}`);
    }
    const n = this.n;
    return {
      file: this.file,
      heapSize: this.header[0]!,
      ids: this.header[1]!,
      declaredOps: declared,
      weight: this.header[3]!,
      length: n,
      truncated: this.done && n < declared,
      kind: this.kind.subarray(0, n),
      id: this.ids.subarray(0, n),
      size: this.sizes.subarray(0, n),
      line: this.lines.subarray(0, n),
    };
  }

  /** Parses one line `buf[s, e)` (without its newline). */
  private line(buf: Uint8Array, s: number, e: number): void {
    this.lineNo++;
    while (e > s && isSpace(buf[e - 1]!)) e--;
    this.pos = s;
    this.skipSpace(buf, e);
    if (this.pos === e) return; // blank line
    if (this.headerCount < 4) {
      this.headerLine(buf, e);
      return;
    }
    if (this.n >= this.header[2]!) {
      this.fail(`more ops than the ${this.header[2]!} the header declares`);
    }
    const c = buf[this.pos]!;
    const k = c === CH_A ? OpKind.Alloc : c === CH_F ? OpKind.Free : c === CH_R ? OpKind.Realloc : -1;
    this.pos++;
    if (k < 0 || this.pos === e || !isSpace(buf[this.pos]!)) this.badOp(buf, s, e);
    this.skipSpace(buf, e);
    if (!this.readNumber(buf, e)) this.badOp(buf, s, e);
    const id = this.num;
    let size = 0;
    if (k !== OpKind.Free) {
      if (this.pos === e || !isSpace(buf[this.pos]!)) this.badOp(buf, s, e);
      this.skipSpace(buf, e);
      if (!this.readNumber(buf, e)) this.badOp(buf, s, e);
      size = this.num;
      if (size > MAX_TRACE_SIZE) this.fail(`size ${size} is too large (at most ${MAX_TRACE_SIZE})`);
    }
    if (this.pos !== e) this.badOp(buf, s, e);
    if (id >= this.header[1]!) {
      this.fail(`id ${id} is out of range: the header declares ${this.header[1]!} ids (0..${this.header[1]! - 1})`);
    }
    const st = this.idState[id]!;
    if (k === OpKind.Alloc) {
      if (st === ID_LIVE) this.fail(`\`a ${id}\` of an id that is already allocated (expected \`f ${id}\` first)`);
      this.idState[id] = ID_LIVE;
    } else if (st !== ID_LIVE) {
      const what = k === OpKind.Free ? 'f' : 'r';
      this.fail(
        `\`${what} ${id}\` of an id that is ${st === ID_NEVER ? 'never allocated' : 'already freed'} (expected a live id)`,
      );
    } else if (k === OpKind.Free) {
      this.idState[id] = ID_FREED;
    }
    const i = this.n++;
    this.kind[i] = k;
    this.ids[i] = id;
    this.sizes[i] = size;
    this.lines[i] = this.lineNo;
    if (this.n >= this.maxOps) this.done = true;
  }

  private headerLine(buf: Uint8Array, e: number): void {
    const what = HEADER_NAMES[this.headerCount]!;
    if (!this.readNumber(buf, e) || this.pos !== e) {
      this.fail(`expected the header's ${what} (a whole number), got \`${text(buf, this.pos, e)}\``);
    }
    const v = this.num;
    const h = this.headerCount++;
    this.header[h] = v;
    if (h === 1 && v > MAX_TRACE_IDS) this.fail(`${v} ids is too many (at most ${MAX_TRACE_IDS})`);
    if (h === 2 && v > MAX_TRACE_OPS) this.fail(`${v} ops is too many (at most ${MAX_TRACE_OPS})`);
    if (h === 3) {
      const ops = Math.min(this.header[2]!, this.maxOps);
      this.idState = new Uint8Array(this.header[1]!);
      this.kind = new Uint8Array(ops);
      this.ids = new Int32Array(ops);
      this.sizes = new Uint32Array(ops);
      this.lines = new Uint32Array(ops);
      if (ops === 0) this.done = this.maxOps === 0;
    }
  }

  private skipSpace(buf: Uint8Array, e: number): void {
    let p = this.pos;
    while (p < e && isSpace(buf[p]!)) p++;
    this.pos = p;
  }

  /** Reads decimal digits at `pos` into `num`; false if there are none. */
  private readNumber(buf: Uint8Array, e: number): boolean {
    let p = this.pos;
    let v = 0;
    const s = p;
    while (p < e) {
      const c = buf[p]!;
      if (c < ZERO || c > NINE) break;
      v = v * 10 + (c - ZERO);
      p++;
    }
    if (p === s) return false;
    if (p < e && !isSpace(buf[p]!)) return false;
    if (v > Number.MAX_SAFE_INTEGER) this.fail(`number \`${text(buf, s, p)}\` is too large`);
    this.pos = p;
    this.num = v;
    return true;
  }

  private badOp(buf: Uint8Array, s: number, e: number): never {
    this.fail(`expected \`a ID SIZE\`, \`f ID\` or \`r ID SIZE\` (whole numbers), got \`${text(buf, s, e)}\``);
  }

  private fail(detail: string): never {
    throw new TraceFormatError(this.file, this.lineNo, detail);
  }
}

const HEADER_NAMES = ['suggested heap size', 'number of ids', 'number of ops', 'weight'];

function isSpace(c: number): boolean {
  return c === SP || c === TAB || c === CR;
}

/** A line's text for an error message (shortened). */
function text(buf: Uint8Array, s: number, e: number): string {
  const t = new TextDecoder().decode(buf.subarray(s, Math.min(e, s + 60)));
  return e - s > 60 ? t + '...' : t;
}

/**
 * Parses a whole trace held in memory (a string or bytes). For files use
 * {@link readTrace}, which streams.
 *
 * @throws TraceFormatError naming `file`, the line and what was expected.
 * @example
 * ```ts
 * const t = parseTrace('100\n1\n2\n1\na 0 100\nf 0\n', 'tiny.rep');
 * t.length; // 2
 * ```
 */
export function parseTrace(input: string | Uint8Array, file = '<trace>', options: TraceReadOptions = {}): Trace {
  const p = new TraceParser(file, options);
  p.push(typeof input === 'string' ? new TextEncoder().encode(input) : input);
  return p.finish();
}

/**
 * The first `n` ops of `trace` (a view: the arrays are shared). Returns
 * `trace` itself when it has at most `n` ops.
 */
export function truncateTrace(trace: Trace, n: number): Trace {
  if (n >= trace.length) return trace;
  const m = Math.max(0, Math.floor(n));
  return {
    ...trace,
    length: m,
    truncated: true,
    kind: trace.kind.subarray(0, m),
    id: trace.id.subarray(0, m),
    size: trace.size.subarray(0, m),
    line: trace.line.subarray(0, m),
  };
}
