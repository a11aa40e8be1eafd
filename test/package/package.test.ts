/**
 * The package as a user gets it: `npm pack`, the tarball installed into a
 * fresh project that has nothing else (no devDependencies, no peers;
 * `npm install --offline`: memkit has no dependencies), and there:
 *
 * - Node ESM imports `memkit` and `memkit/trace`;
 * - a TypeScript consumer type-checks with `skipLibCheck: false` under a Node
 *   lib setting and a browser one (`lib: ["ES2022", "DOM"]`);
 * - a Vite app using Kmalloc in a SharedArrayBuffer builds with no warning,
 *   is served cross-origin isolated (COOP/COEP) and runs in Debian's
 *   chromium, which shows the result on the page;
 * - `npx memkit replay` runs on a bundled trace with the allocators the
 *   package ships, and skips the optional peer it does not have, with a note.
 *
 * Tools (tsc, vite, playwright-core) are the repository's, pointed at the
 * temporary project. The browser part is skipped, saying so, only where
 * /usr/bin/chromium is missing.
 *
 * @module
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium)
  console.warn(`test/package: the browser check is SKIPPED, ${CHROMIUM} is missing (apt-get install chromium)`);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((res) => {
    execFile(
      cmd,
      args,
      { cwd, env: { ...process.env, ...env }, timeout: 120_000, maxBuffer: 1 << 24 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        res({ code, stdout, stderr });
      },
    );
  });
}
/** npm's own warnings ("npm warn ...") count as failures. */
function npmWarnings(s: string): string[] {
  return s.split('\n').filter((l) => /^npm (warn|WARN)/.test(l));
}
const node = process.execPath;
const tsc = join(root, 'node_modules/typescript/bin/tsc');

let proj = '';
let work = '';

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'memkit-pkg-'));
  // dist/ as the sources are now (incremental: quick when nothing changed).
  const b = await sh(node, ['scripts/build.mjs'], root);
  expect(b.stderr + b.stdout, 'build').not.toMatch(/error|warn/i);
  expect(b.code, b.stderr).toBe(0);
  const p = await sh('npm', ['pack', '--ignore-scripts', '--pack-destination', work, '--json'], root);
  expect(p.code, p.stderr).toBe(0);
  expect(npmWarnings(p.stderr)).toEqual([]);
  const [info] = JSON.parse(p.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const files = info!.files.map((f) => f.path);
  expect(files).toContain('dist/index.js');
  expect(files).toContain('dist/peers/tlsf/tlsf.wasm');
  expect(files).toContain('LICENSE');
  expect(files).toContain('bin/memkit.js');
  expect(files.filter((f) => !/^(dist\/|bin\/memkit\.js$|README\.md$|LICENSE$|package\.json$)/.test(f))).toEqual([]);
  expect(files.filter((f) => f.endsWith('.tsbuildinfo') || f.endsWith('.map'))).toEqual([]);

  proj = join(work, 'app');
  mkdirSync(join(proj, 'src'), { recursive: true });
  writeFileSync(
    join(proj, 'package.json'),
    JSON.stringify({ name: 'memkit-consumer', private: true, type: 'module' }, null, 2),
  );
  const i = await sh('npm', ['install', '--offline', '--no-audit', '--no-fund', join(work, info!.filename)], proj);
  expect(i.code, i.stderr).toBe(0);
  expect(npmWarnings(i.stderr)).toEqual([]);
  expect(readdirSync(join(proj, 'node_modules')).sort()).toEqual(['.bin', '.package-lock.json', 'memkit']);
}, 180_000);

afterAll(() => {
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

describe.concurrent('the packed package in a fresh project', () => {
  it('imports from Node ESM: memkit (the allocators) and memkit/trace', async () => {
    writeFileSync(
      join(proj, 'node-check.mjs'),
      `
      import * as memkit from 'memkit';
      import * as trace from 'memkit/trace';
      const k = new memkit.Kmalloc({ bytes: 1 << 20 });
      const p = k.kmalloc(100);
      k.bytes.fill(9, p, p + 100);
      const q = k.krealloc(p, 3000);
      const kept = k.bytes[q + 99] === 9;
      k.kfree(q);
      const t = trace.parseTrace('100\\n1\\n2\\n1\\na 0 100\\nf 0\\n', 'x.rep');
      const r = trace.replay(t, await trace.createAllocator('kmalloc', t.heapSize));
      console.log(JSON.stringify({
        kept, ops: r.ops, verified: r.verified,
        rootHasTrace: 'replay' in memkit || 'readTrace' in memkit,
        errors: typeof memkit.OutOfMemoryError,
      }));
    `,
    );
    const r = await sh(node, ['node-check.mjs'], proj);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({
      kept: true,
      ops: 2,
      verified: true,
      rootHasTrace: false,
      errors: 'function',
    });
  });

  it('new Kmalloc() with no options is a small heap that grows', async () => {
    writeFileSync(
      join(proj, 'default-check.mjs'),
      `
      import { Kmalloc } from 'memkit';
      const k = new Kmalloc();
      const ps = [];
      for (let i = 0; i < 2000; i++) ps.push(k.kmalloc(1000));
      for (const p of ps) k.kfree(p);
      console.log('ok');
    `,
    );
    const r = await sh(node, ['default-check.mjs'], proj);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('ok\n');
  });

  it('type-checks a TypeScript consumer with skipLibCheck: false, under a Node lib and a browser lib', async () => {
    writeFileSync(
      join(proj, 'src/consumer.ts'),
      `
      import { Kmalloc, Memory, Arena, BuddyAllocator, SlabCache, TlsfHeap, ManagedHeap, MemkitError, type ByteAllocator } from 'memkit';
      import { parseTrace, replay, readTrace, type ReplayResult } from 'memkit/trace';
      const k: ByteAllocator = new Kmalloc({ memory: Memory.create({ bytes: 1 << 20, shared: true }) });
      const arena = new Arena({ bytes: 4096 });
      { using s = arena.scope(); arena.alloc(8); void s; }
      const r: ReplayResult = replay(parseTrace('0\\n1\\n1\\n1\\na 0 1\\n'), k);
      export const all = [k, r, BuddyAllocator, SlabCache, TlsfHeap, ManagedHeap, MemkitError, readTrace];
    `,
    );
    // skipDefaultLibCheck: TypeScript's own lib files are not what is tested (memkit's .d.ts are, and @types/node).
    const base = { target: 'ES2022', strict: true, skipLibCheck: false, skipDefaultLibCheck: true, noEmit: true };
    const configs = {
      'tsconfig.node.json': {
        ...base,
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        lib: ['ES2022'],
        types: ['node'],
        typeRoots: [join(root, 'node_modules/@types')],
      },
      'tsconfig.browser.json': {
        ...base,
        module: 'ESNext',
        moduleResolution: 'Bundler',
        lib: ['ES2022', 'DOM'],
        types: [],
      },
    };
    const runs = await Promise.all(
      Object.entries(configs).map(([name, compilerOptions]) => {
        writeFileSync(join(proj, name), JSON.stringify({ compilerOptions, files: ['src/consumer.ts'] }, null, 2));
        return sh(node, [tsc, '-p', name], proj);
      }),
    );
    for (const [j, name] of Object.keys(configs).entries()) {
      expect(runs[j]!.stdout + runs[j]!.stderr, name).toBe('');
      expect(runs[j]!.code, name).toBe(0);
    }
    // Internal members do not ship on the public classes (module-internal helpers of gc/ may have
    // .d.ts files of their own, unreachable from the entry points).
    const publicClasses = ['gc/heap.d.ts', 'kmalloc/kmalloc.d.ts', 'slab/cache.d.ts']
      .map((f) => readFileSync(join(proj, 'node_modules/memkit/dist', f), 'utf8'))
      .join('\n');
    expect(publicClasses).toMatch(/class ManagedHeap/);
    expect(publicClasses).not.toMatch(/\brootWord\b|\bcheckStore\b|\bfreeInPage\b|\bpushMark\b/);
  });

  it('runs `npx memkit replay` on a bundled trace with what the package ships; the absent optional peer is skipped with a note', async () => {
    const v = await sh('npx', ['--no-install', 'memkit', '--version'], proj);
    expect(v.stdout).toBe(
      `memkit ${(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version}\n`,
    );
    const r = await sh(
      'npx',
      [
        '--no-install',
        'memkit',
        'replay',
        join(root, 'traces/gcc-cc1.rep.gz'),
        '--max-ops',
        '60000',
        '-a',
        'kmalloc,buddy,tlsf,thing',
      ],
      proj,
    );
    expect(r.stderr).toBe(
      'memkit: skipping thing: needs the optional package @thi.ng/malloc (npm install @thi.ng/malloc)\n',
    );
    expect(r.code).toBe(0);
    const rows = r.stdout.split('\n').filter((l) => l.startsWith('| gcc-cc1'));
    expect(rows.map((l) => l.split('|')[2]!.trim())).toEqual(['kmalloc', 'buddy', 'tlsf']);
    for (const l of rows) expect(l).toMatch(/\|\s+60\.0 k \|.*\|\s+0 \| yes\s+\|$/);
  });

  it.skipIf(!hasChromium)(
    'builds a Vite app with no warning; in chromium, cross-origin isolated, Kmalloc allocates in a SharedArrayBuffer',
    async () => {
      writeFileSync(
        join(proj, 'index.html'),
        `<!doctype html><html><head><meta charset="utf-8"><title>memkit</title></head>
      <body><pre id="out">running</pre><script type="module" src="/src/main.ts"></script></body></html>`,
      );
      writeFileSync(
        join(proj, 'src/main.ts'),
        `
      import { Kmalloc, Memory } from 'memkit';
      const out = document.getElementById('out')!;
      try {
        const k = new Kmalloc({ memory: Memory.create({ bytes: 1 << 20, shared: true }) });
        const p = k.kmalloc(100);
        k.bytes.fill(7, p, p + 100);
        const q = k.krealloc(p, 5000);
        const kept = k.bytes[q + 99] === 7;
        k.kfree(q);
        out.textContent = JSON.stringify({ isolated: crossOriginIsolated, sab: k.bytes.buffer instanceof SharedArrayBuffer, kept, inUse: k.footprint() > 0 });
      } catch (e) {
        out.textContent = 'error: ' + String(e);
      }
    `,
      );
      const { build, createLogger } = await import('vite');
      const warnings: string[] = [];
      const logger = createLogger('warn', { allowClearScreen: false });
      logger.warn = (m) => void warnings.push(m);
      logger.warnOnce = (m) => void warnings.push(m);
      await build({
        root: proj,
        configFile: false,
        logLevel: 'warn',
        customLogger: logger,
        build: { outDir: join(proj, 'dist'), emptyOutDir: true },
      });
      expect(warnings).toEqual([]);
      const js = readdirSync(join(proj, 'dist/assets'))
        .filter((f) => f.endsWith('.js'))
        .map((f) => readFileSync(join(proj, 'dist/assets', f), 'utf8'))
        .join('');
      expect(js).not.toMatch(/node:|@thi\.ng/);

      const types: Record<string, string> = {
        '.html': 'text/html',
        '.js': 'text/javascript',
        '.wasm': 'application/wasm',
      };
      const server: Server = createServer((req, res) => {
        const path = join(proj, 'dist', req.url === '/' ? 'index.html' : req.url!.split('?')[0]!);
        if (!path.startsWith(join(proj, 'dist')) || !existsSync(path)) {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, {
          'Content-Type': types[extname(path)] ?? 'application/octet-stream',
          'Cross-Origin-Opener-Policy': 'same-origin',
          'Cross-Origin-Embedder-Policy': 'require-corp',
        });
        res.end(readFileSync(path));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const { chromium } = await import('playwright-core');
      const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
      try {
        const page = await browser.newPage();
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(String(e)));
        await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
        await page.waitForFunction(() => document.getElementById('out')?.textContent !== 'running', undefined, {
          timeout: 20_000,
        });
        const text = await page.textContent('#out');
        expect(errors).toEqual([]);
        expect(JSON.parse(text!)).toEqual({ isolated: true, sab: true, kept: true, inUse: true });
      } finally {
        await browser.close();
        server.close();
      }
    },
  );
});
