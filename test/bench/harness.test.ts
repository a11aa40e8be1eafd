import { describe, expect, it } from 'vitest';
import { formatCase, formatRatio, freshLoop, measureCase, prng, type Contender } from '../../bench/harness.js';
import { contenders as pairSteps } from '../../bench/pair-steps.js';

/** A contender whose operation costs about `work` loop steps. */
function spin(name: string, role: Contender['role'], work: number): Contender & { ops: number } {
  const c = {
    name,
    role,
    ops: 0,
    run(n: number): number {
      let s = 0;
      for (let i = 0; i < n * work; i++) s = (s + i) | 0;
      c.ops += n;
      return s;
    },
  };
  return c;
}

describe('bench harness', () => {
  it('measures every contender, computes ratios against the memkit row, checks goals', async () => {
    const fast = spin('fast', 'memkit', 10);
    const slow = spin('slow', 'peer', 200);
    let setups = 0;
    const withSetup: Contender = {
      ...spin('setup', 'bound', 10),
      setup: () => {
        setups++;
      },
    };
    const r = await measureCase(
      {
        name: 'toy',
        contenders: [fast, slow, withSetup],
        goals: [
          { subject: 'fast', vs: 'slow', atLeast: 2, text: 'faster' },
          { subject: 'slow', vs: 'fast', atLeast: 2, text: 'impossible' },
        ],
        opsMultiple: 8,
      },
      { roundMs: 5, rounds: 3, quick: true },
    );
    expect(setups).toBe(1);
    expect(r.reference).toBe('fast');
    expect(r.rows.map((x) => x.name)).toEqual(['fast', 'slow', 'setup']);
    expect(r.rows[0]!.memkitOver).toBe(1);
    expect(r.rows[1]!.memkitOver).toBeGreaterThan(2);
    expect(r.rows.every((x) => x.opsPerRound % 8 === 0)).toBe(true);
    expect(r.goals.map((g) => g.met)).toEqual([true, false]);
    const text = formatCase(r);
    expect(text).toContain('## toy');
    expect(text).toContain('MET');
    expect(text).toContain('NOT MET');
  });

  it('formats ratios and replays the same random numbers for a seed', () => {
    expect(formatRatio(1)).toBe('1.00x');
    expect(formatRatio(123.4)).toBe('123.4x');
    expect(formatRatio(0.001234)).toBe('0.00123x');
    const a = prng(7);
    const b = prng(7);
    for (let i = 0; i < 100; i++) {
      const x = a();
      expect(x).toBe(b());
      expect(x >= 0 && x < 1).toBe(true);
    }
  });

  it('freshLoop gives each copy a source of its own (V8 shares feedback between copies of one source)', () => {
    const a = freshLoop<(x: number) => number>(['x'], 'return x + 1;');
    const b = freshLoop<(x: number) => number>(['x'], 'return x + 1;');
    expect(a(1)).toBe(2);
    expect(b(2)).toBe(3);
    expect(a.toString()).not.toBe(b.toString());
  });

  it('pair-steps: every step stays on its fast path (each throws if it leaves it) and returns blocks', () => {
    for (const c of pairSteps()) {
      c.setup?.();
      expect(() => c.run(10_000), c.name).not.toThrow();
    }
  });
});

describe('bench/gc.ts ownPauses: a pause less the V8 collections inside it', () => {
  it('subtracts only the overlap, and never goes below zero', async () => {
    const { ownPauses } = await import('../../bench/gc.js');
    // Pauses [9, 10], [19, 21], [29.5, 30]; V8 collections [9.5, 10.5], [18, 20], [29, 31].
    const { own, v8 } = ownPauses(
      [1, 2, 0.5],
      [10, 21, 30],
      [
        [9.5, 1],
        [18, 2],
        [29, 2],
        [50, 5],
      ],
    );
    expect(v8.map((x) => +x.toFixed(9))).toEqual([0.5, 1, 0.5]);
    expect(own.map((x) => +x.toFixed(9))).toEqual([0.5, 1, 0]);
    // Two V8 entries that overlap each other inside one pause sum past it: the pause's own part stays 0.
    const twice = ownPauses(
      [1],
      [10],
      [
        [9, 1],
        [9.2, 0.8],
      ],
    );
    expect(twice.v8[0]).toBeCloseTo(1.8, 9);
    expect(twice.own).toEqual([0]);
  });
});

describe('bench/replay.ts warmUp: passes until the speed stops improving', () => {
  const side = (times: number[]) => {
    let i = 0;
    return { warmPasses: 0, pass: () => times[Math.min(i++, times.length - 1)]! };
  };
  it('runs at least 4 passes, then stops after two that are no faster than 0.95x the best before', async () => {
    const { warmUp } = await import('../../bench/replay.js');
    const steady = side([10, 10, 10, 10, 10, 10]);
    warmUp(steady, false);
    expect(steady.warmPasses).toBe(4);
    const improving = side([100, 50, 30, 20, 12, 8, 7.9, 7.8, 7.9]);
    warmUp(improving, false);
    expect(improving.warmPasses).toBe(8); // 8 -> 7.9 -> 7.8: two passes within 5% of the best
    const never = side(Array.from({ length: 30 }, (_, k) => 100 * 0.9 ** k));
    warmUp(never, false);
    expect(never.warmPasses).toBe(12);
    const quick = side([10, 5, 1]);
    warmUp(quick, true);
    expect(quick.warmPasses).toBe(1);
  });

  it("the workers benches' int32 remainder is uint32 % span for every span they use", async () => {
    const { remainder } = await import('../../bench/workers.js');
    const rnd = prng(7);
    const xs = [0, 1, 0xffff, 0x10000, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1];
    for (let i = 0; i < 2000; i++) xs.push(Math.floor(rnd() * 2 ** 32));
    for (const span of [1, 2, 497, 4096, 28673, 2 ** 15 - 1]) {
      for (const x of xs) if (remainder(x, span) !== x % span) expect.fail(`remainder(${x}, ${span})`);
    }
  });

  it("the workers bench's native anchor builds, and its pingpong probe hands the line over as often as asked", async () => {
    const { execFileSync } = await import('node:child_process');
    const { nativeBinary, roundTripNs } = await import('../../bench/workers.js');
    const bin = nativeBinary(); // gcc is part of the machine (.ci/run installs it where it is not)
    expect(bin).not.toBeNull();
    const [n, s, cpu] = execFileSync(bin!, ['pingpong', '2', '5000'], { encoding: 'utf8' })
      .trim()
      .split(' ')
      .map(Number);
    expect(n).toBe(5000); // round trips, not per thread
    expect(s).toBeGreaterThan(0);
    expect(cpu).toBeGreaterThan(0);
    const ns = roundTripNs(bin!);
    expect(ns).toBeGreaterThan(1); // a cache line cannot go to another core and back in 1 ns
    expect(ns).toBeLessThan(1e6);
    // The allocator modes print their ops too: 2 threads of 1000.
    expect(execFileSync(bin!, ['local', '2', '1000'], { encoding: 'utf8' }).split(' ')[0]).toBe('2000');
  }, 60_000);
});
