/**
 * Errors of the trace layer: a trace file that does not follow the format,
 * and an allocator that failed verification during a replay.
 *
 * @module
 */
import { MemkitError } from '../errors/index.js';

/**
 * A trace file is malformed: a line that is not `a ID SIZE`, `f ID` or
 * `r ID SIZE`, a header that is not four numbers, an id out of range, an `f`
 * of an id never allocated, an `r` of a freed id, a count that does not match
 * the header. The message names the file, the line number and what was
 * expected, like a compiler error: `bash.rep:17: expected ...`.
 *
 * @example
 * ```ts
 * try { parseTrace('1\n1\n1\n1\nf 0\n', 't.rep'); }
 * catch (e) { (e as TraceFormatError).line; } // 5
 * ```
 */
export class TraceFormatError extends MemkitError {
  /** Always `'TraceFormatError'`: what `String(e)` prints before the message. */
  override name = 'TraceFormatError';
  /** The file (or the name given to `parseTrace`). */
  readonly file: string;
  /** 1-based line number; 0 when the error is about the whole file. */
  readonly line: number;
  constructor(file: string, line: number, detail: string) {
    super(line > 0 ? `${file}:${line}: ${detail}` : `${file}: ${detail}`);
    this.file = file;
    this.line = line;
  }
}

/**
 * An allocator broke a rule while a trace was replayed through it: two live
 * blocks overlap, a block lies outside the allocator's bytes, a payload byte
 * changed while the block was live, `realloc` lost content, `usableSize` is
 * smaller than the request, or the allocator threw an error other than
 * `OutOfMemoryError` on a valid request.
 */
export class VerificationError extends MemkitError {
  /** Always `'VerificationError'`: what `String(e)` prints before the message. */
  override name = 'VerificationError';
  /** Index (0-based) of the trace op during which the violation was found. */
  readonly op: number;
  /** Line of that op in the trace file. */
  readonly line: number;
  constructor(message: string, op: number, line: number) {
    super(message);
    this.op = op;
    this.line = line;
  }
}
