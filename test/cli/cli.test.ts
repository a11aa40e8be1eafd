import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

/**
 * Runs `tsx src/cli/main.ts ...args` as a child process, the same as
 * `npx tsx src/cli/main.ts` without npx's start-up (stderr is a pipe, not a TTY).
 */
function memkit(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: process.cwd(), timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'memkit-cli-'));
const good = join(dir, 'small.rep.gz');
writeFileSync(good, gzipSync('0\n8\n8\n1\na 0 16\na 1 16\na 2 16\na 3 16\nf 1\nf 0\nf 2\nf 3\n'));
const bad = join(dir, 'bad.rep');
writeFileSync(bad, '0\n2\n2\n1\na 0 8\nf 1\n');
const FIX = 'test/cli/fixtures/test-allocators.ts';

describe.concurrent('memkit command (child process)', () => {
  it('--help exits 0 and lists the commands; replay --help lists the allocators', async () => {
    const a = await memkit('--help');
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/memkit replay <trace\.\.\.>/);
    const b = await memkit('replay', '--help');
    expect(b.code).toBe(0);
    expect(b.stdout).toMatch(/--no-verify/);
    expect(b.stdout).toMatch(/\n {2}buddy +memkit BuddyAllocator/);
    const c = await memkit('info', '--help');
    expect(c.code).toBe(0);
  });

  it('bad usage exits 2 with a message on stderr', async () => {
    const cases = [[], ['frobnicate'], ['replay'], ['replay', good, '--allocator', 'nope'], ['replay', good, '--bogus'], ['replay', good, '--max-ops', 'x'], ['replay', good, '--plot', 'x.png']];
    const runs = await Promise.all(cases.map((args) => memkit(...args)));
    for (const [i, r] of runs.entries()) {
      expect(r.code, cases[i]!.join(' ')).toBe(2);
      expect(r.stderr.length).toBeGreaterThan(0);
      expect(r.stdout).toBe('');
    }
  });

  it('a malformed or missing trace file exits 2, naming file and line', async () => {
    const r = await memkit('replay', bad, '-a', 'buddy');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.rep:6: `f 1` of an id that is never allocated/);
    const m = await memkit('info', join(dir, 'missing.rep'));
    expect(m.code).toBe(2);
    expect(m.stderr).toMatch(/missing\.rep: cannot read/);
  });

  it('replay --json prints one array with the documented fields; exit 0', async () => {
    const r = await memkit('replay', good, '-a', 'buddy,thing', '--module', FIX, '-a', 'buddy,thing,firstfit', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    expect(out.map((o) => o.allocator)).toEqual(['buddy', 'thing', 'firstfit']);
    for (const o of out) {
      expect(o.trace).toBe('small.rep.gz');
      expect(o.ops).toBe(8);
      for (const k of ['opsPerSec', 'peakPayload', 'peakFootprint', 'utilization', 'internalFragmentation', 'externalFragmentation', 'failures']) {
        expect(typeof o[k], k).toBe('number');
      }
      expect(o.verified).toBe(true);
      expect(o.peakPayload).toBe(64);
      expect(o.series).toBeUndefined();
    }
    expect(out[0]!.peakFootprint).toBe(4 * 4096);
    expect(out[2]!.peakFootprint).toBe(8 + 64);
  });

  it('a verification failure exits 1 and reports it; the table still prints', async () => {
    const r = await memkit('replay', good, '--module', FIX, '-a', 'firstfit,corrupting');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/verification failed: small\.rep\.gz:9: corrupting: op 4 `f 1`: payload of block 1/);
    expect(r.stdout).toMatch(/\| small\.rep\.gz \| firstfit +\|.*\| yes +\|/);
    expect(r.stdout).toMatch(/\| small\.rep\.gz \| corrupting \|.*\| FAILED +\|/);
  });

  it('--no-verify times the bare allocator; --max-ops per allocator; --plot writes an SVG with one line per allocator', async () => {
    const svg = join(dir, 'out.svg');
    const r = await memkit('replay', good, '-a', 'buddy,thing', '--no-verify', '--max-ops', 'thing@small=5,@other=1', '--plot', svg);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\| small\.rep\.gz +\| buddy +\| +8 \|.*\| off +\|/);
    expect(r.stdout).toMatch(/\| small\.rep\.gz \(cut\) \| thing +\| +5 \|.*\| off +\|/);
    const s = readFileSync(svg, 'utf8');
    expect(s.startsWith('<svg')).toBe(true);
    expect(s).toMatch(/buddy footprint/);
    expect(s).toMatch(/thing footprint/);
    expect(s).toMatch(/live payload/);
  });

  it('info prints counts, quartiles and the peak (and --json)', async () => {
    const r = await memkit('info', good, '--json');
    expect(r.code).toBe(0);
    const [i] = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    expect(i).toMatchObject({ ops: 8, allocs: 4, frees: 4, reallocs: 0, peakPayload: 64, peakBlocks: 4, sizeQuartiles: [16, 16, 16, 16, 16] });
  });
});
