import { describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { run } from '../../src/cli/run.js';

/**
 * Runs `bin/memkit.js ...args` as a child process, as `npx memkit` does in
 * this checkout (the launcher runs src/ through tsx), without npx's start-up
 * (stderr is a pipe, not a TTY).
 */
function memkit(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/memkit.js', ...args],
      { cwd: process.cwd(), timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Calls {@link run} as main.ts does, collecting what it writes. */
async function inProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '',
    stderr = '';
  const sink = (f: (s: string) => void) =>
    new Writable({
      write(c: Buffer, _e, cb) {
        f(c.toString());
        cb();
      },
    });
  const code = await run(args, { stdout: sink((x) => void (stdout += x)), stderr: sink((x) => void (stderr += x)) });
  return { code, stdout, stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'memkit-cli-'));
const good = join(dir, 'small.rep.gz');
writeFileSync(good, gzipSync('0\n8\n8\n1\na 0 16\na 1 16\na 2 16\na 3 16\nf 1\nf 0\nf 2\nf 3\n'));
const bad = join(dir, 'bad.rep');
writeFileSync(bad, '0\n2\n2\n1\na 0 8\nf 1\n');
const FIX = 'test/cli/fixtures/test-allocators.ts';

describe('memkit command', () => {
  it('--help exits 0 and lists the commands; replay --help lists the allocators', async () => {
    const a = await inProcess(['--help']);
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/memkit replay <trace\.\.\.>/);
    const b = await inProcess(['replay', '--help']);
    expect(b.code).toBe(0);
    expect(b.stdout).toMatch(/--no-verify/);
    expect(b.stdout).toMatch(/\n {2}buddy +memkit BuddyAllocator/);
    const c = await inProcess(['info', '--help']);
    expect(c.code).toBe(0);
  });

  it('replay --json prints one array with the documented fields; exit 0', async () => {
    const r = await inProcess([
      'replay',
      good,
      '-a',
      'buddy,thing',
      '--module',
      FIX,
      '-a',
      'buddy,thing,firstfit',
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    expect(out.map((o) => o.allocator)).toEqual(['buddy', 'thing', 'firstfit']);
    for (const o of out) {
      expect(o.trace).toBe('small.rep.gz');
      expect(o.ops).toBe(8);
      for (const k of [
        'opsPerSec',
        'peakPayload',
        'peakFootprint',
        'utilization',
        'internalFragmentation',
        'externalFragmentation',
        'failures',
      ]) {
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
    const r = await inProcess(['replay', good, '--module', FIX, '-a', 'firstfit,corrupting']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/verification failed: small\.rep\.gz:9: corrupting: op 4 `f 1`: payload of block 1/);
    expect(r.stdout).toMatch(/\| small\.rep\.gz +\| firstfit +\|.*\| yes +\|/);
    expect(r.stdout).toMatch(/\| small\.rep\.gz +\| corrupting \|.*\| FAILED +\|/);
  });

  it('--no-verify times the bare allocator; --max-ops per allocator; --plot writes an SVG with one line per allocator', async () => {
    const svg = join(dir, 'out.svg');
    const r = await inProcess([
      'replay',
      good,
      '-a',
      'buddy,thing',
      '--no-verify',
      '--max-ops',
      'thing@small=5,@small.rep.gz=7',
      '--plot',
      svg,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\| small\.rep\.gz \(cut\) +\| buddy +\| +7 \|.*\| off +\|/);
    expect(r.stdout).toMatch(/\| small\.rep\.gz \(cut\) \| thing +\| +5 \|.*\| off +\|/);
    const s = readFileSync(svg, 'utf8');
    expect(s.startsWith('<svg')).toBe(true);
    expect(s).toMatch(/buddy footprint/);
    expect(s).toMatch(/thing footprint/);
    expect(s).toMatch(/live payload/);
  });

  it('info prints counts, quartiles and the peak (and --json)', async () => {
    const r = await inProcess(['info', good, '--json']);
    expect(r.code).toBe(0);
    const [i] = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    expect(i).toMatchObject({
      ops: 8,
      allocs: 4,
      frees: 4,
      reallocs: 0,
      peakPayload: 64,
      peakBlocks: 4,
      sizeQuartiles: [16, 16, 16, 16, 16],
    });
  });

  it('bad inputs: one line on stderr naming the problem, exit 2, nothing on stdout, before any work', async () => {
    const svgDir = join(dir, 'ro');
    const cases: Array<[string[], RegExp]> = [
      [['replay', good, '--max-ops', '0'], /^memkit: --max-ops takes a whole number from 1 to 2147483648, got "0"\n$/],
      [
        ['replay', good, '--max-ops', '-5'],
        /^memkit: --max-ops takes a whole number from 1 to 2147483648, got "-5"\n$/,
      ],
      [
        ['replay', good, '--max-ops', '1.5'],
        /^memkit: --max-ops takes a whole number from 1 to 2147483648, got "1\.5"\n$/,
      ],
      [['replay', good, '--max-ops', 'x'], /^memkit: --max-ops takes a whole number from 1 to 2147483648, got "x"\n$/],
      [
        ['replay', good, '--max-ops', 'buddy=0'],
        /^memkit: --max-ops buddy=0 takes a whole number from 1 to 2147483648, got "0"\n$/,
      ],
      [
        ['replay', good, '-a', 'buddy', '--max-ops', 'buddy@nosuch=10'],
        /^memkit: --max-ops names trace "nosuch", which is not one of the traces given \(small\)\n$/,
      ],
      [
        ['replay', good, '-a', 'buddy', '--max-ops', 'nope=10'],
        /^memkit: --max-ops names unknown allocator "nope" \(known: kmalloc, buddy, tlsf, thing\)\n$/,
      ],
      [
        ['replay', good, '-a', 'buddy', '--max-ops', 'kmalloc=10'],
        /^memkit: --max-ops names allocator "kmalloc", which is not replayed \(replayed: buddy\)\n$/,
      ],
      [
        ['replay', good, '--plot', '/no/such/dir/x.svg'],
        /^memkit: --plot \/no\/such\/dir\/x\.svg: directory \/no\/such\/dir does not exist\n$/,
      ],
      [['replay', good, '--plot', svgDir + '.svg'], /^memkit: --plot .*ro\.svg: is a directory\n$/],
      [
        ['replay', good, '--plot', 'x.png'],
        /^memkit: --plot writes SVG: give a file name ending in \.svg, got "x\.png"\n$/,
      ],
      [
        ['replay', good, '-a', 'kmalloc,nope'],
        /^memkit: unknown allocator "nope" \(known: kmalloc, buddy, tlsf, thing\)\n$/,
      ],
      [['replay', good, '-a', ','], /^memkit: --allocator needs at least one name\n$/],
      [['replay', good, '--bogus'], /^memkit: unknown option --bogus \(memkit --help\)\n$/],
      [['replay', good, '--max-ops'], /^memkit: Option '--max-ops <value>' argument missing \(memkit --help\)\n$/],
      [['replay'], /^memkit: replay needs at least one trace file \(memkit replay --help\)\n$/],
      [['replay', good, join(dir, 'missing.rep')], /^memkit: [^\n]*missing\.rep: cannot read: ENOENT[^\n]*\n$/],
      [
        ['replay', bad, '-a', 'buddy'],
        /^memkit: bad\.rep:6: `f 1` of an id that is never allocated \(expected a live id\)\n$/,
      ],
      [
        ['replay', good, '--module', join(dir, 'nosuch.mjs')],
        /^memkit: cannot load --module [^\n]*nosuch\.mjs: [^\n]*\n$/,
      ],
      [['info', good, '--max-ops', '0'], /^memkit: --max-ops takes a whole number from 1 to 2147483648, got "0"\n$/],
      [['frobnicate'], /^memkit: unknown command "frobnicate" \(expected replay or info; memkit --help\)\n$/],
      [[], /^memkit: no command given \(expected replay or info; memkit --help\)\n$/],
    ];
    mkdirSync(svgDir + '.svg', { recursive: true });
    // In process (run() is what main.ts calls): 21 child processes would cost a minute.
    const runs = [];
    for (const [args] of cases) runs.push(await inProcess(args));
    for (const [i, r] of runs.entries()) {
      const [args, want] = cases[i]!;
      expect(r.stderr, args.join(' ')).toMatch(want);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout, args.join(' ')).toBe('');
    }
  });

  it('--plot into a missing directory fails before the replay: no row is printed', async () => {
    // The trace is valid and long enough that a replay would print a row first.
    const r = await inProcess(['replay', good, '-a', 'buddy', '--plot', join(dir, 'no', 'dir', 'x.svg')]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n').filter((l) => l !== '')).toHaveLength(1);
  });

  it('--version prints the package version', async () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const r = await memkit('--version');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`memkit ${pkg.version}\n`);
  });

  it('a line longer than the limit is refused with one line naming it, fast', async () => {
    const long = join(dir, 'long.rep');
    writeFileSync(long, '100\n2\n2\n1\na 0 10\na 1 ' + '9'.repeat(8 << 20) + '\n');
    const t0 = performance.now();
    const r = await inProcess(['info', long]);
    expect(performance.now() - t0).toBeLessThan(20_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^memkit: long\.rep:6: line is longer than 4096 bytes \(at least \d+\)[^\n]*\n$/);
  });

  it('a 4 GB request counts as an out-of-memory failure for every built-in allocator and peer, and r ID 0 frees', async () => {
    const big = join(dir, 'big.rep');
    writeFileSync(big, '100\n3\n8\n1\na 0 4294967295\na 1 100\nr 1 4294967295\nr 1 0\nr 1 50\nf 1\nf 0\na 2 10\n');
    const r = await inProcess(['replay', big, '-a', 'kmalloc,buddy,tlsf,thing', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Array<{
      allocator: string;
      failures: number;
      verified: boolean;
      violation: string | null;
      ops: number;
    }>;
    expect(out.map((o) => o.allocator)).toEqual(['kmalloc', 'buddy', 'tlsf', 'thing']);
    for (const o of out) expect(o, o.allocator).toMatchObject({ failures: 2, verified: true, violation: null, ops: 8 });
  });

  it('rows are printed as each replay ends: the first row comes before the second replay finishes', async () => {
    // firstfit is instant; `slow` (test fixture) waits ~1 s in its factory, so its row is
    // written well after firstfit's; the child's stdout arrives in pieces.
    const chunks: Array<{ t: number; s: string }> = [];
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      const c = spawn(process.execPath, ['bin/memkit.js', 'replay', good, '--module', FIX, '-a', 'firstfit,slow'], {
        cwd: process.cwd(),
      });
      c.stdout.on('data', (b: Buffer) => chunks.push({ t: performance.now() - t0, s: b.toString() }));
      c.on('close', () => resolve());
    });
    const all = chunks.map((c) => c.s).join('');
    const lines = all.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(4);
    // Every line has the same width (aligned), header included.
    expect(new Set(lines.map((l) => l.length)).size).toBe(1);
    const firstRowAt = chunks.find((c) => c.s.includes('firstfit'))!.t;
    const secondRowAt = chunks.find((c) => c.s.includes('| slow'))!.t;
    expect(secondRowAt - firstRowAt).toBeGreaterThan(500);
  });
});
