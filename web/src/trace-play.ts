/**
 * Trace playback in the browser: reading a trace (plain or gzip) with
 * memkit's TraceParser, and a cursor that applies ops one by one to an
 * allocator, with the same rules as `memkit replay` (src/trace/replay.ts):
 * an OutOfMemoryError is a failure (the block is not allocated, an `r`
 * keeps its old block, later ops on it are skipped); footprint() is read
 * after every op, and its peak starts at the footprint before the first op.
 */
import { OutOfMemoryError, type ByteAllocator } from '../../src/index.js';
import { OpKind, TraceParser, createAllocator, type Trace } from '../../src/trace/index.js';

/** True when the bytes start with the gzip magic `1f 8b`. */
export function isGzip(b: Uint8Array): boolean {
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}

/**
 * Parses a trace file's bytes (gzip detected from the first bytes), streaming
 * the decompressed chunks into a TraceParser.
 *
 * @throws TraceFormatError naming the file and line.
 */
export async function parseTraceBytes(
  name: string,
  bytes: Uint8Array,
  onProgress?: (ops: number) => void,
): Promise<Trace> {
  const parser = new TraceParser(name);
  if (!isGzip(bytes)) {
    // Plain text: feed in slices so a big file shows progress.
    const SLICE = 1 << 20;
    for (let i = 0; i < bytes.length && !parser.done; i += SLICE) {
      parser.push(bytes.subarray(i, i + SLICE));
      onProgress?.(i);
      await tick();
    }
    return parser.finish();
  }
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
  const reader = stream.getReader();
  let n = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.push(value);
      n += value.length;
      if ((n & 0xfffff) < value.length) {
        onProgress?.(n);
        await tick();
      }
      if (parser.done) break;
    }
  } catch (e) {
    if ((e as Error).name === 'TraceFormatError') throw e;
    throw Object.assign(new Error(`${name}: cannot read (gzip): ${(e as Error).message}`), {
      name: 'TraceFormatError',
    });
  } finally {
    reader.releaseLock();
  }
  return parser.finish();
}

function tick(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}

const NONE = 0,
  LIVE = 1,
  FAILED = 2;

/** An allocator positioned after `pos` ops of a trace. */
export class TraceCursor {
  pos = 0;
  payload = 0;
  failures = 0;
  private readonly addr: Float64Array;
  private readonly req: Float64Array;
  private readonly st: Uint8Array;

  private constructor(
    readonly trace: Trace,
    readonly alloc: ByteAllocator,
  ) {
    this.addr = new Float64Array(trace.ids);
    this.req = new Float64Array(trace.ids);
    this.st = new Uint8Array(trace.ids);
  }

  /** A fresh allocator `name` sized as `memkit replay` sizes it (from the trace header). */
  static async create(trace: Trace, name: string): Promise<TraceCursor> {
    return new TraceCursor(trace, await createAllocator(name, trace.heapSize));
  }

  /** Applies ops until `pos === to` (or the trace ends). */
  run(to: number): void {
    const t = this.trace;
    const a = this.alloc;
    to = Math.min(to, t.length);
    for (let i = this.pos; i < to; i++) this.apply(a, t, i);
    this.pos = Math.max(this.pos, to);
  }

  /** Applies op i. Any error other than OutOfMemoryError propagates. */
  apply(a: ByteAllocator, t: Trace, i: number): void {
    const k = t.kind[i]!,
      id = t.id[i]!;
    const { addr, req, st } = this;
    try {
      if (k === OpKind.Alloc) {
        const s = t.size[i]!;
        addr[id] = a.alloc(s);
        req[id] = s;
        st[id] = LIVE;
        this.payload += s;
      } else if (st[id] === LIVE) {
        if (k === OpKind.Free) {
          a.free(addr[id]!);
          st[id] = NONE;
          this.payload -= req[id]!;
        } else {
          const s = t.size[i]!;
          addr[id] = a.realloc(addr[id]!, s);
          this.payload += s - req[id]!;
          req[id] = s;
        }
      } else if (k === OpKind.Free) {
        st[id] = NONE;
      }
    } catch (e) {
      if (!(e instanceof OutOfMemoryError)) throw e;
      this.failures++;
      if (k === OpKind.Alloc) st[id] = FAILED;
    }
  }
}

/** Footprint and payload after every op (index 0 = before the first op). */
export interface TraceSeries {
  footprint: Float64Array;
  payload: Float64Array;
  peakFootprint: number;
  peakPayload: number;
  failures: number;
}

/**
 * Runs a whole trace through a fresh allocator, recording footprint and live
 * payload after each op. Yields to the page every `slice` ops.
 */
export async function recordSeries(
  trace: Trace,
  name: string,
  onProgress?: (done: number) => void,
  slice = 40000,
): Promise<TraceSeries> {
  const c = await TraceCursor.create(trace, name);
  const n = trace.length;
  const footprint = new Float64Array(n + 1);
  const payload = new Float64Array(n + 1);
  footprint[0] = c.alloc.footprint();
  let peakF = footprint[0]!,
    peakP = 0;
  const a = c.alloc;
  for (let i = 0; i < n; i++) {
    c.apply(a, trace, i);
    const f = a.footprint();
    footprint[i + 1] = f;
    payload[i + 1] = c.payload;
    if (f > peakF) peakF = f;
    if (c.payload > peakP) peakP = c.payload;
    if ((i + 1) % slice === 0) {
      onProgress?.(i + 1);
      await tick();
    }
  }
  c.pos = n;
  return { footprint, payload, peakFootprint: peakF, peakPayload: peakP, failures: c.failures };
}

/**
 * Down-samples `v` (length n+1) to at most `points` buckets, keeping each
 * bucket's maximum, so the plotted peak is the true peak.
 */
export function bucketMax(v: Float64Array, points: number): { x: number[]; y: number[] } {
  const n = v.length;
  const size = Math.max(1, Math.ceil(n / points));
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i += size) {
    let m = -Infinity;
    const end = Math.min(n, i + size);
    for (let j = i; j < end; j++) if (v[j]! > m) m = v[j]!;
    x.push(i);
    y.push(m);
  }
  return { x, y };
}
