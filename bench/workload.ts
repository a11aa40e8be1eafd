/**
 * Byte-allocator workloads for the slab and kmalloc benchmarks: a script of
 * ops (alloc id size / free id / realloc id size) that every contender
 * replays identically, in a loop, plus a one-pass measurement of utilization.
 *
 * Each contender gets its own copy of the replay loop (compiled with
 * `new Function`), so its call sites stay monomorphic: a shared loop would see
 * every allocator class and go megamorphic, timing the dispatch instead of the
 * allocator.
 *
 * @module
 */
import { readTrace, OpKind } from '../src/trace/index.js';
import type { ByteAllocator } from '../src/memory/index.js';
import { freshLoop, prng, type Contender, type Role } from './harness.js';

/** A cyclic script: after the last op every block is free again. */
export interface Script {
  readonly name: string;
  /** OpKind per op. */
  readonly kind: Uint8Array;
  readonly id: Int32Array;
  readonly size: Uint32Array;
  /** Number of block ids. */
  readonly ids: number;
  /** Peak of live requested bytes over one cycle. */
  readonly peakPayload: number;
}

/**
 * The random workload: sizes uniform in [8, 4096], live blocks ramp up
 * to `maxLive` and then stay near it, each free picks a random live block; the
 * script ends by freeing what is left, so it replays from an empty heap.
 */
export function randomScript(ops: number, maxLive = 10_000, seed = 42): Script {
  const rnd = prng(seed);
  const kind: number[] = [];
  const ids: number[] = [];
  const sizes: number[] = [];
  const live: number[] = [];
  let next = 0;
  for (let i = 0; i < ops; i++) {
    if (live.length === 0 || (live.length < maxLive && rnd() < 0.55)) {
      kind.push(OpKind.Alloc);
      ids.push(next);
      sizes.push(8 + Math.floor(rnd() * 4089));
      live.push(next++);
    } else {
      const j = Math.floor(rnd() * live.length);
      kind.push(OpKind.Free);
      ids.push(live[j]!);
      sizes.push(0);
      live[j] = live[live.length - 1]!;
      live.pop();
    }
  }
  for (const id of live) {
    kind.push(OpKind.Free);
    ids.push(id);
    sizes.push(0);
  }
  return finish(`random 8..4096 B, <= ${maxLive} live`, kind, ids, sizes, next);
}

/** A trace file as a cyclic script (blocks left live at its end are freed). */
export async function traceScript(path: string): Promise<Script> {
  const t = await readTrace(path);
  const state = new Uint8Array(t.ids);
  const kind = Array.from(t.kind.subarray(0, t.length));
  const ids = Array.from(t.id.subarray(0, t.length));
  const sizes = Array.from(t.size.subarray(0, t.length));
  for (let i = 0; i < t.length; i++) {
    if (t.kind[i] === OpKind.Alloc) state[t.id[i]!] = 1;
    else if (t.kind[i] === OpKind.Free) state[t.id[i]!] = 0;
  }
  for (let id = 0; id < t.ids; id++) {
    if (state[id] === 1) {
      kind.push(OpKind.Free);
      ids.push(id);
      sizes.push(0);
    }
  }
  return finish(t.file.split('/').pop()!, kind, ids, sizes, t.ids);
}

function finish(name: string, kind: number[], ids: number[], sizes: number[], nIds: number): Script {
  const s = {
    name,
    kind: Uint8Array.from(kind),
    id: Int32Array.from(ids),
    size: Uint32Array.from(sizes),
    ids: nIds,
    peakPayload: 0,
  };
  const req = new Float64Array(nIds);
  let payload = 0;
  for (let i = 0; i < s.kind.length; i++) {
    const id = s.id[i]!;
    if (s.kind[i] === OpKind.Free) payload -= req[id]!;
    else {
      payload += s.size[i]! - req[id]!;
      req[id] = s.size[i]!;
    }
    if (payload > s.peakPayload) s.peakPayload = payload;
  }
  return s;
}

type Loop = (
  a: ByteAllocator,
  kind: Uint8Array,
  id: Int32Array,
  size: Uint32Array,
  addr: Float64Array,
  from: number,
  to: number,
) => number;

/** A fresh copy of the replay loop (own feedback: monomorphic per contender). */
function makeLoop(): Loop {
  return freshLoop<Loop>(
    ['a', 'kind', 'id', 'size', 'addr', 'from', 'to'],
    `
    let s = 0;
    for (let i = from; i < to; i++) {
      const k = kind[i], b = id[i];
      if (k === ${OpKind.Alloc}) { const p = a.alloc(size[i]); addr[b] = p; s ^= p; }
      else if (k === ${OpKind.Free}) a.free(addr[b]);
      else addr[b] = a.realloc(addr[b], size[i]);
    }
    return s;`,
  );
}

/**
 * A contender that replays `script` in a loop on the allocator `make()`
 * returns. Its `metrics()` report the utilization (peak payload / peak
 * footprint) of one full pass on a fresh allocator, or of its first
 * `utilizationOps` ops when given (for slow peers).
 */
export function scriptContender(
  name: string,
  role: Role,
  script: Script,
  make: () => ByteAllocator | Promise<ByteAllocator>,
  utilizationOps = Infinity,
): Contender {
  const loop = makeLoop();
  const addr = new Float64Array(script.ids);
  const n = script.kind.length;
  let a: ByteAllocator | null = null;
  let pos = 0;
  let utilization = NaN;
  return {
    name,
    role,
    async setup() {
      utilization = await measureUtilization(script, await make(), utilizationOps);
      a = await make();
    },
    run(count) {
      let s = 0;
      let left = count;
      while (left > 0) {
        const to = Math.min(n, pos + left);
        s ^= loop(a!, script.kind, script.id, script.size, addr, pos, to);
        left -= to - pos;
        pos = to === n ? 0 : to;
      }
      return s;
    },
    metrics: () => ({ utilization }),
  };
}

/** Peak payload / peak footprint over the first `maxOps` ops of one pass. */
export async function measureUtilization(script: Script, a: ByteAllocator, maxOps = Infinity): Promise<number> {
  const addr = new Float64Array(script.ids);
  const req = new Float64Array(script.ids);
  let payload = 0;
  let peakPayload = 0;
  let peakFootprint = 0;
  const n = Math.min(script.kind.length, maxOps);
  for (let i = 0; i < n; i++) {
    const k = script.kind[i]!;
    const b = script.id[i]!;
    if (k === OpKind.Alloc) {
      addr[b] = a.alloc(script.size[i]!);
      req[b] = script.size[i]!;
      payload += req[b]!;
    } else if (k === OpKind.Free) {
      a.free(addr[b]!);
      payload -= req[b]!;
    } else {
      addr[b] = a.realloc(addr[b]!, script.size[i]!);
      payload += script.size[i]! - req[b]!;
      req[b] = script.size[i]!;
    }
    if (payload > peakPayload) peakPayload = payload;
    const f = a.footprint();
    if (f > peakFootprint) peakFootprint = f;
  }
  return peakPayload / peakFootprint;
}
