/**
 * Allocator-independent facts about a trace: op counts, size quartiles, the
 * peak of live payload and where it happens (`memkit info`, and the replay's
 * fragmentation probe).
 *
 * @module
 */
import { OpKind, type Trace } from './trace.js';

/** What {@link traceInfo} reports. */
export interface TraceInfo {
  /** File name. */
  file: string;
  /** Ops read. */
  ops: number;
  /** `a` ops. */
  allocs: number;
  /** `f` ops. */
  frees: number;
  /** `r` ops. */
  reallocs: number;
  /** Ids the header declares. */
  ids: number;
  /** Suggested heap size of the header. */
  heapSize: number;
  /** Request sizes (of `a` and `r`) at 0, 25, 50, 75 and 100 percent. */
  sizeQuartiles: [number, number, number, number, number];
  /** Largest live payload (sum of requested sizes of live blocks), bytes. */
  peakPayload: number;
  /** Index of the op after which the live payload first reaches its peak (-1 for an empty trace). */
  peakOp: number;
  /** Most blocks live at once. */
  peakBlocks: number;
  /** Blocks still live after the last op. */
  liveAtEnd: number;
}

/**
 * Counts and quartiles of a trace, and its live-payload peak.
 *
 * @example
 * ```ts
 * traceInfo(parseTrace('0\n2\n3\n1\na 0 10\na 1 30\nf 0\n')).peakPayload; // 40
 * ```
 */
export function traceInfo(trace: Trace): TraceInfo {
  const { kind, id, size, length: n } = trace;
  const cur = new Float64Array(trace.ids);
  let allocs = 0,
    frees = 0,
    reallocs = 0;
  let live = 0,
    blocks = 0,
    peak = 0,
    peakOp = -1,
    peakBlocks = 0;
  for (let i = 0; i < n; i++) {
    const k = kind[i]!,
      b = id[i]!;
    if (k === OpKind.Alloc) {
      allocs++;
      blocks++;
      live += size[i]!;
      cur[b] = size[i]!;
    } else if (k === OpKind.Free) {
      frees++;
      blocks--;
      live -= cur[b]!;
    } else {
      reallocs++;
      live += size[i]! - cur[b]!;
      cur[b] = size[i]!;
    }
    if (live > peak || peakOp < 0) {
      peak = live;
      peakOp = i;
    }
    if (blocks > peakBlocks) peakBlocks = blocks;
  }
  const sizes = new Float64Array(allocs + reallocs);
  let j = 0;
  for (let i = 0; i < n; i++) if (kind[i] !== OpKind.Free) sizes[j++] = size[i]!;
  sizes.sort();
  const q = (f: number): number =>
    sizes.length === 0 ? 0 : sizes[Math.min(sizes.length - 1, Math.floor(f * (sizes.length - 1) + 0.5))]!;
  return {
    file: trace.file,
    ops: n,
    allocs,
    frees,
    reallocs,
    ids: trace.ids,
    heapSize: trace.heapSize,
    sizeQuartiles: [q(0), q(0.25), q(0.5), q(0.75), q(1)],
    peakPayload: peak,
    peakOp,
    peakBlocks,
    liveAtEnd: blocks,
  };
}

/**
 * The peak of the live payload the trace asks for (no allocator involved)
 * and the first op after which it is reached (-1 for an empty trace).
 */
export function payloadPeak(trace: Trace): {
  /** Largest live payload (sum of requested sizes of live blocks), bytes; 0 for an empty trace. */
  peak: number;
  /** Index of the op after which the live payload first reaches `peak` (-1 for an empty trace). */
  op: number;
} {
  const { kind, id, size, length: n } = trace;
  const cur = new Float64Array(trace.ids);
  let live = 0,
    peak = 0,
    op = -1;
  for (let i = 0; i < n; i++) {
    const k = kind[i]!,
      b = id[i]!;
    if (k === OpKind.Free) {
      live -= cur[b]!;
    } else {
      live += size[i]! - (k === OpKind.Alloc ? 0 : cur[b]!);
      cur[b] = size[i]!;
    }
    if (live > peak || op < 0) {
      peak = live;
      op = i;
    }
  }
  return { peak, op };
}

/**
 * The largest request (`a` or `r` size) after op `from`; if there is none,
 * the largest request of the whole trace (0 for a trace without requests).
 */
export function largestRequestAfter(trace: Trace, from: number): number {
  let m = 0;
  for (let i = from + 1; i < trace.length; i++)
    if (trace.kind[i] !== OpKind.Free && trace.size[i]! > m) m = trace.size[i]!;
  if (m > 0) return m;
  for (let i = 0; i < trace.length; i++) if (trace.kind[i] !== OpKind.Free && trace.size[i]! > m) m = trace.size[i]!;
  return m;
}
