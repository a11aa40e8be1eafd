/**
 * Browser tests of the visualizer (web/): Debian's chromium, driven by
 * playwright-core, against a Vite dev server this test starts on 127.0.0.1.
 * Skipped (with a message) only when /usr/bin/chromium is missing.
 *
 * Checks: the buddy preset's free lists after every step against the
 * lecture; the plotted peak footprint of a bundled trace against what the
 * replay engine (`memkit replay`) reports; a malformed trace file shows the
 * parser's error (file:line) and the page stays usable. Takes a screenshot
 * of each view into docs/screenshots/.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { ViteDevServer } from 'vite';
import { createAllocator, readTrace, replay } from '../../src/trace/index.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`test/web: SKIPPED, ${CHROMIUM} is missing (apt-get install chromium to run the browser tests)`);

const repo = fileURLToPath(new URL('../../', import.meta.url));
const shots = `${repo}docs/screenshots`;

/**
 * The lecture's 16-page walkthrough: the free blocks (first page) of each
 * order 0..4 after each step: A=1, B=2, C=3, D=1, then free D, A, C, B.
 */
const LECTURE: Array<[string, string[]]> = [
  ['alloc A (1 page)', ['1', '2', '4', '8', '']],
  ['alloc B (2 pages)', ['1', '', '4', '8', '']],
  ['alloc C (3 pages)', ['1', '', '', '8', '']],
  ['alloc D (1 page)', ['', '', '', '8', '']],
  ['free D', ['1', '', '', '8', '']],
  ['free A', ['', '0', '', '8', '']],
  ['free C', ['', '0', '4', '8', '']],
  ['free B', ['', '', '', '', '0']],
];

describe.skipIf(!hasChromium)('visualizer in chromium', () => {
  let server: ViteDevServer;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];
  let loads = 0;

  beforeAll(async () => {
    const { createServer } = await import('vite');
    const { chromium } = await import('playwright-core');
    server = await createServer({
      configFile: `${repo}web/vite.config.ts`,
      server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false },
      logLevel: 'error',
    });
    await server.listen();
    const url = server.resolvedUrls!.local[0]!;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 960 } });
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('load', () => loads++);
    await page.goto(url);
    await page.waitForSelector('body[data-ready=true]', { timeout: 30_000 });
    mkdirSync(shots, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const freeLists = async (): Promise<string[]> => {
    const out: string[] = [];
    for (let k = 0; k <= 4; k++) out.push((await page.getAttribute(`[data-testid=freelist-${k}]`, 'data-pages')) ?? '?');
    return out;
  };

  it('runs the buddy preset step by step, free lists as in the lecture', async () => {
    await page.click('[data-testid=tab-buddy]');
    await page.click('[data-testid=buddy-preset-0]');
    expect(await freeLists()).toEqual(['', '', '', '', '0']);
    for (const [label, lists] of LECTURE) {
      await page.click('[data-testid=buddy-step]');
      expect(await page.textContent('[data-testid=buddy-steps] li.last'), label).toBe(label);
      expect(await freeLists(), label).toEqual(lists);
    }
    expect(await page.textContent('[data-testid=buddyinfo]')).toMatch(/Normal\s+0\s+0\s+0\s+0\s+1\s*$/);
    // Keyboard: Home resets, ArrowRight steps.
    await page.keyboard.press('Home');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    expect(await page.textContent('[data-testid=buddy-counter]')).toBe('step 2 / 8');
    expect(await freeLists()).toEqual(LECTURE[1]![1]);
    // The screenshot: after free A (two 1-page buddies merged).
    await page.keyboard.press('End');
    for (let i = 0; i < 2; i++) await page.keyboard.press('ArrowLeft');
    await page.waitForTimeout(650);
    await page.screenshot({ path: `${shots}/buddy.png`, fullPage: true });
  });

  it('plays a bundled trace; the plotted peak footprint equals the replay engine\'s', async () => {
    const trace = await readTrace(`${repo}traces/gcc-cc1.rep.gz`);
    const expected: Record<string, number> = {};
    for (const name of ['kmalloc', 'buddy']) {
      expected[name] = replay(trace, await createAllocator(name, trace.heapSize), { verify: false, probe: false }).peakFootprint;
    }
    await page.click('[data-testid=tab-trace]');
    await page.selectOption('[data-testid=trace-pick]', { label: 'gcc-cc1.rep.gz' });
    await page.selectOption('[data-testid=trace-alloc-a]', 'kmalloc');
    await page.selectOption('[data-testid=trace-alloc-b]', 'buddy');
    await page.click('[data-testid=trace-load]');
    await page.waitForSelector('#view-trace[data-loaded="gcc-cc1.rep.gz"]', { timeout: 60_000 });
    for (const [i, name] of ['kmalloc', 'buddy'].entries()) {
      const peak = `[data-testid=trace-peak-footprint-${i}]`;
      expect(Number(await page.getAttribute(peak, 'data-plotted')), name).toBe(expected[name]);
      expect(Number(await page.getAttribute(peak, 'data-value')), name).toBe(expected[name]);
    }
    // Play for a moment, pause, then scrub to the payload peak region.
    await page.click('[data-testid=trace-play]');
    await page.waitForTimeout(800);
    await page.click('[data-testid=trace-play]');
    const op = Number((await page.textContent('[data-testid=trace-op]'))!.match(/op ([\d,]+)/)![1]!.replace(/,/g, ''));
    expect(op).toBeGreaterThan(0);
    await page.locator('[data-testid=trace-scrub]').fill(String(Math.round(trace.length * 0.85)));
    await page.waitForFunction(() => /op 264,3/.test(document.querySelector('[data-testid=trace-op]')?.textContent ?? ''), undefined, { timeout: 20_000 });
    await page.waitForTimeout(300);
    await page.screenshot({ path: `${shots}/trace.png`, fullPage: true });
  });

  it('shows the parser\'s error for a malformed trace, and the page stays usable', async () => {
    await page.click('[data-testid=tab-trace]');
    await page.setInputFiles('[data-testid=trace-file]', {
      name: 'broken.rep', mimeType: 'text/plain',
      buffer: Buffer.from('100\n2\n3\n1\na 0 10\nf 1\nf 0\n'),
    });
    const box = page.locator('[data-testid=trace-error]');
    await box.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await box.textContent()).toMatch(/broken\.rep:6: /);
    // Still usable: the loaded trace steps, and other views work.
    await page.click('[data-testid=trace-step]');
    await page.click('[data-testid=tab-buddy]');
    await page.click('[data-testid=buddy-step]');
    expect(await page.isVisible('[data-testid=buddy-freelists]')).toBe(true);
    await page.click('[data-testid=tab-trace]');
    await page.setInputFiles('[data-testid=trace-file]', { name: 'garbage.rep.gz', mimeType: 'application/gzip', buffer: Buffer.from([0x1f, 0x8b, 1, 2, 3, 4]) });
    await page.waitForFunction(() => /garbage\.rep\.gz/.test(document.querySelector('[data-testid=trace-error]')?.textContent ?? ''), undefined, { timeout: 10_000 });
  });

  it('takes a screenshot of every other view', async () => {
    const views: Array<[string, number]> = [['map', 6], ['slab', 7], ['arena', 7], ['gc', 6]];
    for (const [v, steps] of views) {
      await page.click(`[data-testid=tab-${v}]`);
      // The richest preset for the arena is the growing one.
      await page.click(`[data-testid=${v}-preset-${v === 'arena' ? 2 : 0}]`);
      for (let i = 0; i < steps; i++) await page.click(`[data-testid=${v}-step]`);
      await page.waitForTimeout(650);
      await page.screenshot({ path: `${shots}/${v}.png`, fullPage: true });
    }
    // Hovering a page of the memory map names its owner.
    await page.click('[data-testid=tab-map]');
    const box = (await page.locator('#view-map [data-testid=memmap-canvas]').boundingBox())!;
    await page.mouse.move(box.x + 4, box.y + 4);
    expect(await page.textContent('#tooltip')).toMatch(/^page 0 \(0x[0-9a-f]+\)\n.*\n0x[0-9a-f]+ · \d+ pages?/);
    await page.mouse.move(0, 0);
    // The GC view marks from the roots: after step 6, A and E are black, C too, D gray or black, F/G/H white.
    await page.click('[data-testid=tab-gc]');
    const color = async (n: string): Promise<string | null> => page.getAttribute(`[data-testid=gc-graph] circle[data-name="${n}"]`, 'data-color');
    expect(await color('F')).toBe('white');
    expect(await color('E')).toBe('black');
    expect(errors).toEqual([]);
    expect(loads, 'the page never reloaded (a reload would reset every view)').toBe(1);
  });
});
