/**
 * `npm run screenshots`: the pictures of docs/screenshots/, one per view of
 * the visualizer (web/), from a Vite dev server and Debian's chromium
 * (playwright-core). Each view is opened from a URL (`#buddy?preset=...&step=...`),
 * the state a teacher would link to. `npm test` never writes these files.
 *
 *   npm run screenshots                 # all, 1440 px wide
 *   npm run screenshots -- buddy gc     # only these
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { createServer } from 'vite';

const repo = fileURLToPath(new URL('../', import.meta.url));
const out = `${repo}docs/screenshots`;

/** File name, URL hash, viewport width, and what to do before the picture. */
const SHOTS: Array<{ file: string; hash: string; width: number; ready?: string }> = [
  { file: 'map.png', hash: '#map?preset=mixed&step=6', width: 1440 },
  { file: 'buddy.png', hash: '#buddy?preset=lecture&step=6', width: 1440 },
  { file: 'buddy-zoom.png', hash: '#buddy?preset=random1024&step=20', width: 1440 },
  { file: 'slab.png', hash: '#slab?preset=lecture&step=7', width: 1440 },
  { file: 'arena.png', hash: '#arena?preset=growing&step=11', width: 1440 },
  { file: 'gc.png', hash: '#gc?preset=lecture&step=7', width: 1440 },
  {
    file: 'trace.png',
    hash: '#trace?trace=gcc-cc1.rep.gz&a=kmalloc&b=buddy&op=264300',
    width: 1440,
    ready: '#view-trace[data-loaded]',
  },
  {
    // 4 Web Workers on one shared heap, running (the dots are hand-overs and remote frees in flight).
    file: 'workers.png',
    hash: '#workers?preset=mixed&workers=4&workload=mixed&speed=normal',
    width: 1440,
    ready: '#view-workers[data-picture=ok]',
  },
  { file: 'buddy-phone.png', hash: '#buddy?preset=lecture&step=2', width: 390 },
];

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  mkdirSync(out, { recursive: true });
  const server = await createServer({
    configFile: `${repo}web/vite.config.ts`,
    server: { host: '127.0.0.1', port: 0, hmr: false },
    logLevel: 'error',
  });
  await server.listen();
  const url = server.resolvedUrls!.local[0]!;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu'],
  });
  try {
    for (const s of SHOTS) {
      if (only.length > 0 && !only.some((o) => s.file.startsWith(o))) continue;
      const page = await browser.newPage({
        viewport: { width: s.width, height: s.width < 600 ? 844 : 960 },
        deviceScaleFactor: s.width < 600 ? 2 : 1,
      });
      await page.goto(`${url}${s.hash}`);
      await page.waitForSelector('body[data-ready=true]');
      if (s.ready !== undefined) await page.waitForSelector(s.ready, { timeout: 120_000 });
      // Let animations (a split, a merge: 420 ms a frame) and a trace seek finish.
      await page.waitForTimeout(s.ready !== undefined ? 3000 : 2200);
      await page.screenshot({ path: `${out}/${s.file}`, fullPage: true });
      console.log(`docs/screenshots/${s.file}  ${s.hash}  (${s.width} px)`);
      await page.close();
    }
  } finally {
    await browser.close();
    await server.close();
  }
}

await main();
