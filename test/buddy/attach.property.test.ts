/**
 * The attach fuzzer (issue 10): copies of real heaps with one state word set
 * to a hostile value (every word in turn), or cut short, or empty. `attach` must either throw a
 * MemkitError subclass or give a heap that passes checkInvariants() and
 * never hands out a block outside its buffer. The cases run in a worker; a
 * watchdog here stops it and fails the case that ran over HANG_MS (a hang).
 * Named *.property.test.ts so that `npm run fuzz` runs it 20 times longer.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { HANG_MS, SOAK, runs } from '../support/fuzz.js';

interface Msg {
  i?: number;
  phase: 'start' | 'done' | 'end';
  desc?: string;
  outcome?: string;
}

function fuzz(layer: string, seed: number, cases: number): Promise<{ typed: number; ok: number; names: Set<string> }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./fixtures/attach-fuzz-worker.mjs', import.meta.url), {
      workerData: { seed, cases, layer },
    });
    let timer: NodeJS.Timeout | undefined;
    let typed = 0;
    let ok = 0;
    const names = new Set<string>();
    const fail = (why: string): void => {
      clearTimeout(timer);
      void worker.terminate();
      reject(new Error(why));
    };
    worker.on('message', (m: Msg) => {
      if (m.phase === 'start') {
        clearTimeout(timer);
        timer = setTimeout(() => fail(`${layer} case ${m.i} ran over ${HANG_MS} ms (a hang?): ${m.desc}`), HANG_MS);
      } else if (m.phase === 'done') {
        clearTimeout(timer);
        const out = m.outcome!;
        if (out.startsWith('FAIL')) fail(`${layer} case ${m.i} (${m.desc}): ${out}`);
        else if (out === 'ok') ok++;
        else {
          typed++;
          names.add(out.slice(6));
        }
      } else {
        clearTimeout(timer);
        void worker.terminate().then(() => resolve({ typed, ok, names }));
      }
    });
    worker.on('error', (e) => fail(`worker error: ${String(e)}`));
  });
}

describe('attach fuzzer: damaged or truncated state gives a typed error or a sound heap', () => {
  const seed = SOAK ? Date.now() >>> 0 : 0x5eed;
  it.each(['buddy', 'offsets', 'arena', 'arena-buddy'])(
    '%s',
    async (layer) => {
      const n = runs(300, 20);
      const { typed, ok, names } = await fuzz(layer, seed + layer.length, n);
      expect(typed + ok).toBe(n);
      // both outcomes happen: the fuzzer is neither all-rejected nor toothless
      expect(typed).toBeGreaterThan(n / 10);
      expect(ok).toBeGreaterThan(0);
      expect(
        [...names].every((x) =>
          [
            'HeapCorruptionError',
            'InvalidArgumentError',
            'OutOfMemoryError',
            'InvalidFreeError',
            'DoubleFreeError',
          ].includes(x),
        ),
      ).toBe(true);
      expect(names.has('HeapCorruptionError')).toBe(true);
    },
    SOAK ? 1_200_000 : 120_000,
  );
});
