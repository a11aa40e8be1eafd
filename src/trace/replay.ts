/**
 * Replaying a trace through a {@link ByteAllocator}, measuring it and
 * (by default) verifying it.
 *
 * Per op the engine calls the allocator, then `usableSize` (for `a`/`r`) and
 * `footprint()`; that is all the bare loop (`verify: false`) does, so its
 * ops/s is the allocator's speed plus two O(1) calls. The verifying loop adds:
 *
 * - every block's payload is filled with a pattern derived from its id
 *   (byte j of block `id` = `(b0 + j * step) & 255`, b0 and an odd step
 *   hashed from the id) and checked in full at `f` and before `r`; after `r`
 *   the first min(old, new) bytes must still hold the pattern (skipped for
 *   allocators without `bytes`, which get overlap and bound checks only);
 * - the requested range `[addr, addr + size)` of each live block is kept in an
 *   {@link IntervalSet}; a new block overlapping a live one is a violation;
 * - an address must be a whole number >= 0, inside `bytes` when there are
 *   bytes, and `usableSize(addr) >= size`.
 *
 * A violation, or any error other than `OutOfMemoryError` thrown by the
 * allocator, stops the replay; the result then carries a `violation`
 * message naming the trace line, the op and the blocks involved. An
 * `OutOfMemoryError` counts as a failure: the block is not allocated (an `r`
 * keeps its old block) and later ops on a block that was never allocated are
 * skipped.
 *
 * Metrics (see docs/sections/trace.md for the definitions): ops, ops/s,
 * peak payload, peak footprint, utilization = peak payload / peak
 * footprint, and, at the op where the trace's live payload peaks, internal
 * fragmentation (usable minus requested bytes of live blocks) and external
 * fragmentation (bytes of the footprint that are neither in a live block nor
 * usable by the largest request still to come, found by a probe that
 * allocates blocks of that size until the footprint would grow, then frees
 * them; the probe is not timed).
 *
 * @module
 */
import type { ByteAllocator } from '../memory/byte-allocator.js';
import { OutOfMemoryError, hex } from '../errors/index.js';
import { VerificationError } from './errors.js';
import { IntervalSet } from './interval-set.js';
import { largestRequestAfter, payloadPeak } from './stats.js';
import { OpKind, type Trace } from './trace.js';

/** Options of {@link replay}. */
export interface ReplayOptions {
  /** Check payloads and overlaps (default true). */
  verify?: boolean;
  /** Called every `progressEvery` ops with (ops done, ops total). */
  onProgress?: (done: number, total: number) => void;
  /** Ops between progress calls (default 65536). */
  progressEvery?: number;
  /** Points of the payload/footprint series to record for plots (default 0: none). */
  samples?: number;
  /** Run the external-fragmentation probe (default true). */
  probe?: boolean;
  /**
   * A fresh allocator of the same kind to probe on: the ops up to the payload
   * peak are replayed on it (untimed, unverified) and the probe runs there,
   * so the probe's blocks cannot disturb the measured allocator (a probe
   * block that grew the footprint can leave, say, a spare chunk behind that
   * would count in every later footprint). Without it the probe runs on the
   * measured allocator itself.
   */
  probeOn?: ByteAllocator;
}

/** Live payload and footprint sampled over the replay (for plots). */
export interface ReplaySeries {
  /** Op index of each sample. */
  op: Float64Array;
  /** Largest live payload since the previous sample. */
  payload: Float64Array;
  /** Largest `footprint()` since the previous sample. */
  footprint: Float64Array;
}

/** How much was checked. */
export type VerificationLevel = 'full' | 'overlap' | 'off';

/** The outcome of one (trace, allocator) replay. */
export interface ReplayResult {
  /** Trace file name. */
  trace: string;
  /** Allocator name. */
  allocator: string;
  /** Ops replayed. */
  ops: number;
  /** Seconds in the replay loop (probe excluded). */
  seconds: number;
  /** ops / seconds. */
  opsPerSec: number;
  /** Largest live payload (requested bytes of live blocks). */
  peakPayload: number;
  /** Largest `footprint()` seen after any op. */
  peakFootprint: number;
  /** peakPayload / peakFootprint (0 when the footprint stayed 0). */
  utilization: number;
  /** Internal fragmentation at the payload peak, as a fraction of the footprint there. */
  internalFragmentation: number;
  /** External fragmentation at the payload peak, as a fraction of the footprint there. */
  externalFragmentation: number;
  /** Usable minus requested bytes of the live blocks at the payload peak. */
  internalFragmentationBytes: number;
  /** Footprint bytes at the payload peak neither live nor usable by the probe size. */
  externalFragmentationBytes: number;
  /** `footprint()` at the payload peak. */
  footprintAtPeak: number;
  /** Index of the op where the trace's live payload peaks (-1: empty trace). */
  peakOp: number;
  /** The largest pending request at the peak, used by the probe. */
  probeSize: number;
  /** Blocks of `probeSize` the probe placed without growing the footprint. */
  probeBlocks: number;
  /** `OutOfMemoryError`s (requests that could not be served). */
  failures: number;
  /** True when verification ran and found nothing. */
  verified: boolean;
  /** What was checked: `full` (payload and overlap), `overlap` (no bytes), `off`. */
  verification: VerificationLevel;
  /** The violation that stopped the replay, or null. */
  violation: string | null;
  /** True when the trace was cut at `maxOps`. */
  truncated: boolean;
  /** Sampled series, when `samples > 0`. */
  series?: ReplaySeries;
}

/**
 * Block states by id: not live; live at `addr`; its allocation failed (later
 * ops on it are skipped); live as a null pointer, after `r ID 0` (C's
 * `realloc(p, 0)` frees `p`: a later `f ID` is `free(NULL)`, a no-op, and a
 * later `r ID n` is `realloc(NULL, n)`, an allocation).
 */
const ST_NONE = 0,
  ST_LIVE = 1,
  ST_FAILED = 2,
  ST_NULL = 3;
const PROBE_MAX = 1 << 20;

/**
 * Replays `trace` through `allocator`.
 *
 * @example
 * ```ts
 * const t = await readTrace('traces/gcc-cc1.rep.gz', { maxOps: 50_000 });
 * const r = replay(t, new BuddyByteAllocator(new BuddyAllocator({ pages: 1 << 14 })));
 * console.log(r.utilization, r.verified);
 * ```
 */
export function replay(trace: Trace, allocator: ByteAllocator, options: ReplayOptions = {}): ReplayResult {
  return new Replayer(trace, allocator, options).run();
}

/** One replay's state; typed arrays indexed by block id. */
class Replayer {
  private readonly t: Trace;
  private readonly a: ByteAllocator;
  private readonly verify: boolean;
  private readonly level: VerificationLevel;
  private readonly onProgress: ((done: number, total: number) => void) | undefined;
  private readonly progressEvery: number;
  private readonly addr: Float64Array;
  private readonly req: Float64Array;
  private readonly usable: Float64Array;
  private readonly state: Uint8Array;
  private readonly set: IntervalSet | null;
  private payload = 0;
  private usableSum = 0;
  private peakPayload = 0;
  private peakFootprint = 0;
  /** Largest footprint / payload since the last sample (plots show the peaks). */
  private winFootprint = 0;
  private winPayload = 0;
  private failures = 0;
  private err: unknown = null;
  private violation: VerificationError | null = null;
  private nextMark = 0;
  private nextProgress: number;
  private sampleEvery: number;
  private nextSample: number;
  private sampleCount = 0;
  private readonly series: ReplaySeries | undefined;
  private readonly doProbe: boolean;
  private readonly probeOn: ByteAllocator | undefined;

  constructor(trace: Trace, allocator: ByteAllocator, o: ReplayOptions) {
    this.t = trace;
    this.a = allocator;
    this.verify = o.verify !== false;
    this.level = !this.verify ? 'off' : allocator.bytes !== undefined ? 'full' : 'overlap';
    this.onProgress = o.onProgress;
    this.progressEvery = Math.max(1, o.progressEvery ?? 65536);
    this.doProbe = o.probe !== false;
    this.probeOn = o.probeOn;
    const ids = trace.ids;
    this.addr = new Float64Array(ids);
    this.req = new Float64Array(ids);
    this.usable = new Float64Array(ids);
    this.state = new Uint8Array(ids);
    this.set = this.verify ? new IntervalSet(ids) : null;
    const n = trace.length;
    const samples = Math.max(0, Math.floor(o.samples ?? 0));
    this.sampleEvery = samples > 0 ? Math.max(1, Math.ceil(n / samples)) : Infinity;
    const cap = samples > 0 ? Math.ceil(n / this.sampleEvery) + 2 : 0;
    this.series =
      samples > 0
        ? { op: new Float64Array(cap), payload: new Float64Array(cap), footprint: new Float64Array(cap) }
        : undefined;
    this.nextSample = samples > 0 ? 0 : Infinity;
    this.nextProgress = this.onProgress !== undefined ? this.progressEvery : Infinity;
    this.nextMark = Math.min(this.nextSample, this.nextProgress);
  }

  run(): ReplayResult {
    const t = this.t,
      n = t.length;
    const peakOp = payloadPeak(t).op;
    this.peakFootprint = this.winFootprint = this.a.footprint();
    let seconds = 0;
    let done = 0;
    let fpAtPeak = 0,
      usableAtPeak = 0,
      payloadAtPeak = 0,
      probeSize = 0,
      probeBlocks = 0;
    // Segment 1: ops 0..peakOp; then the probe; segment 2: the rest.
    for (let seg = 0; seg < 2 && this.violation === null; seg++) {
      const to = seg === 0 ? peakOp + 1 : n;
      const t0 = performance.now();
      done = this.segment(done, to);
      seconds += (performance.now() - t0) / 1000;
      if (seg === 0 && this.violation === null && peakOp >= 0) {
        fpAtPeak = this.a.footprint();
        usableAtPeak = this.usableSum;
        payloadAtPeak = this.payload;
        if (this.doProbe) {
          probeSize = largestRequestAfter(t, peakOp);
          if (this.probeOn === undefined) probeBlocks = this.probe(probeSize, peakOp);
          else {
            const twin = new Replayer(t, this.probeOn, { verify: false, probe: false });
            twin.segment(0, peakOp + 1);
            probeBlocks = twin.violation === null ? twin.probe(probeSize, peakOp) : 0;
          }
        }
      }
    }
    if (this.onProgress !== undefined) this.onProgress(done, n);
    if (this.series !== undefined && this.violation === null) this.sample(n - 1);
    const internal = Math.max(0, usableAtPeak - payloadAtPeak);
    const external = Math.max(0, fpAtPeak - usableAtPeak - probeBlocks * probeSize);
    const frac = (b: number): number => (fpAtPeak > 0 ? b / fpAtPeak : 0);
    const s = this.series;
    return {
      trace: t.file,
      allocator: this.a.name,
      ops: done,
      seconds,
      opsPerSec: seconds > 0 ? done / seconds : 0,
      peakPayload: this.peakPayload,
      peakFootprint: this.peakFootprint,
      utilization: this.peakFootprint > 0 ? this.peakPayload / this.peakFootprint : 0,
      internalFragmentation: frac(internal),
      externalFragmentation: frac(external),
      internalFragmentationBytes: internal,
      externalFragmentationBytes: external,
      footprintAtPeak: fpAtPeak,
      peakOp,
      probeSize,
      probeBlocks,
      failures: this.failures,
      verified: this.verify && this.violation === null,
      verification: this.level,
      violation: this.violation === null ? null : this.violation.message,
      truncated: t.truncated,
      ...(s !== undefined
        ? {
            series: {
              op: s.op.subarray(0, this.sampleCount),
              payload: s.payload.subarray(0, this.sampleCount),
              footprint: s.footprint.subarray(0, this.sampleCount),
            },
          }
        : {}),
    };
  }

  /** Runs ops [from, to); returns the index reached (< to only after a violation). */
  private segment(from: number, to: number): number {
    let i = from;
    while (i < to) {
      this.err = null;
      i = this.verify ? this.loopVerify(i, to) : this.loopBare(i, to);
      if (this.violation !== null) return i;
      if (this.err === null) continue;
      if (this.err instanceof OutOfMemoryError) {
        this.oom(i);
        this.afterOp(i);
        i++;
      } else {
        const e = this.err as Error;
        this.violate(i, `${this.a.name} threw ${e?.name ?? 'an error'} on a valid request: ${e?.message ?? String(e)}`);
        return i;
      }
    }
    return i;
  }

  /** The loop without checks. Stops at the first exception (kept in `err`). */
  private loopBare(i: number, to: number): number {
    const { a, addr, state } = this;
    const kind = this.t.kind,
      ids = this.t.id,
      size = this.t.size;
    try {
      for (; i < to; i++) {
        const k = kind[i]!,
          id = ids[i]!;
        if (k === OpKind.Alloc || (k === OpKind.Realloc && state[id] === ST_NULL && size[i] !== 0)) {
          const s = size[i]!;
          const p = a.alloc(s);
          this.place(id, p, s, a.usableSize(p));
        } else if (state[id] === ST_LIVE) {
          if (k === OpKind.Free || size[i] === 0) {
            a.free(addr[id]!);
            this.release(id, k === OpKind.Free ? ST_NONE : ST_NULL);
          } else {
            const s = size[i]!;
            const p = a.realloc(addr[id]!, s);
            this.place(id, p, s, a.usableSize(p));
          }
        } else if (k === OpKind.Free) {
          state[id] = ST_NONE; // its allocation had failed: nothing to free
        }
        this.afterOp(i);
      }
    } catch (e) {
      this.err = e;
    }
    return i;
  }

  /** The loop with payload, bound and overlap checks. */
  private loopVerify(i: number, to: number): number {
    const { a, addr, req, state } = this;
    const set = this.set!;
    const kind = this.t.kind,
      ids = this.t.id,
      size = this.t.size;
    try {
      for (; i < to; i++) {
        const k = kind[i]!,
          id = ids[i]!;
        if (k === OpKind.Alloc || (k === OpKind.Realloc && state[id] === ST_NULL && size[i] !== 0)) {
          const s = size[i]!;
          const p = a.alloc(s);
          const u = a.usableSize(p);
          if (!this.checkNew(i, id, p, s, u, -1)) return i;
          fill(a.bytes, p, 0, s, id);
          set.insert(id, p, p + s);
          this.place(id, p, s, u);
        } else if (state[id] === ST_LIVE) {
          const p = addr[id]!,
            old = req[id]!;
          if (!this.checkPayload(i, id, p, old, 'before ' + (k === OpKind.Free ? 'free' : 'realloc'))) return i;
          set.remove(id, p, p + old);
          if (k === OpKind.Free || size[i] === 0) {
            a.free(p);
            this.release(id, k === OpKind.Free ? ST_NONE : ST_NULL);
          } else {
            const s = size[i]!;
            const q = a.realloc(p, s); // on OutOfMemoryError, oom() puts the old interval back
            const u = a.usableSize(q);
            if (!this.checkNew(i, id, q, s, u, p)) return i;
            const keep = Math.min(old, s);
            if (!this.checkPayload(i, id, q, keep, `after realloc from ${hex(p)} (${old} -> ${s} bytes)`)) return i;
            fill(a.bytes, q, keep, s, id);
            set.insert(id, q, q + s);
            this.place(id, q, s, u);
          }
        } else if (k === OpKind.Free) {
          state[id] = ST_NONE;
        }
        this.afterOp(i);
      }
    } catch (e) {
      this.err = e;
    }
    return i;
  }

  /**
   * Books block `id` as live at `p` with `s` bytes asked for and `u` usable
   * (after an alloc, or a realloc: the old sizes come off first), and keeps
   * the payload peaks. Small enough for V8 to inline into both loops.
   */
  private place(id: number, p: number, s: number, u: number): void {
    const { addr, req, usable, state } = this;
    if (state[id] === ST_LIVE) {
      this.payload -= req[id]!;
      this.usableSum -= usable[id]!;
    }
    addr[id] = p;
    req[id] = s;
    usable[id] = u;
    state[id] = ST_LIVE;
    this.payload += s;
    this.usableSum += u;
    if (this.payload > this.winPayload) {
      this.winPayload = this.payload;
      if (this.payload > this.peakPayload) this.peakPayload = this.payload;
    }
  }

  /** Books block `id` as freed (`st`: ST_NONE, or ST_NULL after `r ID 0`). */
  private release(id: number, st: number): void {
    this.state[id] = st;
    this.payload -= this.req[id]!;
    this.usableSum -= this.usable[id]!;
  }

  /** Checks a block just returned by alloc/realloc (`from` = old address or -1). */
  private checkNew(i: number, id: number, p: number, s: number, u: number, from: number): boolean {
    const call = from < 0 ? `alloc(${s})` : `realloc(${hex(from)}, ${s})`;
    if (!(Number.isInteger(p) && p >= 0))
      return this.violate(i, `${call} for block ${id} returned ${String(p)}, not an address`);
    if (!(u >= s))
      return this.violate(i, `usableSize(${hex(p)}) = ${u} is less than the ${s} bytes requested for block ${id}`);
    const bytes = this.a.bytes;
    if (bytes !== undefined && p + s > bytes.length) {
      return this.violate(
        i,
        `${call} for block ${id} returned ${hex(p)}, whose ${s} bytes end past the allocator's ${bytes.length} bytes`,
      );
    }
    const o = this.set!.overlapping(p, p + s);
    if (o >= 0) {
      const q = this.addr[o]!,
        qs = this.req[o]!;
      return this.violate(
        i,
        `${call} for block ${id} returned [${hex(p)}, ${hex(p + s)}), which overlaps live block ${o} at [${hex(q)}, ${hex(q + qs)})`,
      );
    }
    return true;
  }

  /** Checks that bytes [0, len) of block `id` at `p` hold its pattern. */
  private checkPayload(i: number, id: number, p: number, len: number, when: string): boolean {
    const bytes = this.a.bytes;
    if (bytes === undefined) return true;
    const bad = check(bytes, p, len, id);
    if (bad < 0) return true;
    const want = patternByte(id, bad);
    return this.violate(
      i,
      `payload of block ${id} at ${hex(p)} changed ${when}: byte ${bad} (address ${hex(p + bad)}) is ${hex2(bytes[p + bad]!)}, expected ${hex2(want)}`,
    );
  }

  private violate(i: number, detail: string): false {
    const line = this.t.line[i] ?? 0;
    const op = opText(this.t, i);
    this.violation = new VerificationError(
      `${this.t.file}:${line}: ${this.a.name}: op ${i} \`${op}\`: ${detail}`,
      i,
      line,
    );
    return false;
  }

  /** Op `i` failed with OutOfMemoryError. */
  private oom(i: number): void {
    this.failures++;
    const id = this.t.id[i]!;
    if (this.t.kind[i] === OpKind.Alloc) {
      this.state[id] = ST_FAILED;
    } else if (this.state[id] === ST_NULL) {
      // realloc(NULL, n) failed: the block stays a null pointer.
    } else if (this.set !== null) {
      // A failed realloc keeps the old block: its interval goes back.
      const p = this.addr[id]!;
      this.set.insert(id, p, p + this.req[id]!);
    }
  }

  private afterOp(i: number): void {
    const fp = this.a.footprint();
    if (fp > this.winFootprint) {
      this.winFootprint = fp;
      if (fp > this.peakFootprint) this.peakFootprint = fp;
    }
    if (i === this.nextMark) this.mark(i);
  }

  /** Progress callback and series sample (rare: every few thousand ops). */
  private mark(i: number): void {
    if (i === this.nextSample) {
      this.sample(i);
      this.nextSample += this.sampleEvery;
    }
    if (i === this.nextProgress) {
      this.onProgress!(i, this.t.length);
      this.nextProgress += this.progressEvery;
    }
    this.nextMark = Math.min(this.nextSample, this.nextProgress);
  }

  private sample(i: number): void {
    const s = this.series!;
    const j = this.sampleCount;
    if (j >= s.op.length) return;
    if (j > 0 && s.op[j - 1] === i) return;
    const fp = this.a.footprint();
    s.op[j] = i;
    s.payload[j] = Math.max(this.payload, this.winPayload);
    s.footprint[j] = Math.max(fp, this.winFootprint);
    this.sampleCount = j + 1;
    this.winPayload = 0;
    this.winFootprint = 0;
  }

  /**
   * Allocates blocks of `size` bytes while the footprint does not grow, then
   * frees them; returns how many fit.
   */
  private probe(size: number, i: number): number {
    if (size <= 0) return 0;
    const a = this.a;
    const fp0 = a.footprint();
    const got = new Float64Array(Math.min(PROBE_MAX, 1024));
    let list = got;
    let k = 0;
    let err: unknown = null;
    try {
      while (k < PROBE_MAX) {
        const p = a.alloc(size);
        if (a.footprint() > fp0) {
          a.free(p);
          break;
        }
        if (k === list.length) {
          const bigger = new Float64Array(Math.min(PROBE_MAX, k * 2));
          bigger.set(list);
          list = bigger;
        }
        list[k++] = p;
      }
    } catch (e) {
      if (!(e instanceof OutOfMemoryError)) err = e;
    }
    try {
      for (let j = k - 1; j >= 0; j--) a.free(list[j]!);
    } catch (e) {
      err ??= e;
    }
    if (err !== null) {
      this.violate(
        i,
        `${a.name} threw during the fragmentation probe (blocks of ${size} bytes): ${(err as Error).message}`,
      );
      return 0;
    }
    return k;
  }
}

/** Pattern byte `j` of block `id`. */
export function patternByte(id: number, j: number): number {
  const h = Math.imul(id + 1, 0x9e3779b1) >>> 0;
  const step = ((h >>> 8) | 1) & 255;
  return ((h & 255) + Math.imul(j, step)) & 255;
}

/** Writes block `id`'s pattern into bytes [from, to) of the block at `p`. */
function fill(bytes: Uint8Array | undefined, p: number, from: number, to: number, id: number): void {
  if (bytes === undefined) return;
  const h = Math.imul(id + 1, 0x9e3779b1) >>> 0;
  const step = ((h >>> 8) | 1) & 255;
  let v = ((h & 255) + Math.imul(from, step)) & 255;
  for (let j = p + from, e = p + to; j < e; j++) {
    bytes[j] = v;
    v = (v + step) & 255;
  }
}

/** First offset in [0, len) where block `id`'s pattern differs, or -1. */
function check(bytes: Uint8Array, p: number, len: number, id: number): number {
  const h = Math.imul(id + 1, 0x9e3779b1) >>> 0;
  const step = ((h >>> 8) | 1) & 255;
  let v = h & 255;
  if (p + len > bytes.length) return Math.max(0, bytes.length - p);
  for (let j = 0; j < len; j++) {
    if (bytes[p + j] !== v) return j;
    v = (v + step) & 255;
  }
  return -1;
}

function hex2(b: number): string {
  return '0x' + b.toString(16).padStart(2, '0');
}

/** The text of op `i` as it appears in the file. */
export function opText(t: Trace, i: number): string {
  const k = t.kind[i];
  if (k === OpKind.Alloc) return `a ${t.id[i]} ${t.size[i]}`;
  if (k === OpKind.Free) return `f ${t.id[i]}`;
  return `r ${t.id[i]} ${t.size[i]}`;
}
