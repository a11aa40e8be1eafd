/**
 * Browser tests of the visualizer's Workers view (web/src/workers-view.ts):
 * Debian's chromium (playwright-core) against a Vite dev server on
 * 127.0.0.1, as visualizer.test.ts. Skipped (with a message) only when
 * /usr/bin/chromium is missing.
 *
 * Checks: the page is cross-origin isolated and starts real Web Workers on
 * one shared Kmalloc heap, each in its own heap slot; their counters
 * advance while running and stop when paused or when another tab is shown;
 * Step gives each worker exactly one op; once paused and drained, the
 * remote frees sent equal those received and the page's heap check (buddy
 * and TLSF invariants on a copy taken under the heap lock, no overlap, each
 * worker's count of its blocks against the heap's) passes; a worker
 * terminated while holding the heap lock stops the others until
 * Kmalloc.recover, after which they go on and the heap still checks out;
 * the URL restores preset, workers and workload; the layout at 1440, 1024
 * and 900 px and on a phone (nothing wider than the window, no two text
 * labels of the lanes, lock panel and legend overlapping).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import type { ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`test/web/workers: SKIPPED, ${CHROMIUM} is missing (apt-get install chromium)`);

const repo = fileURLToPath(new URL('../../', import.meta.url));

interface Lane {
  lane: number;
  slot: number;
  state: number;
  alive: boolean;
  ops: number;
  sent: number;
  received: number;
  pendingIn: number;
}
interface Report {
  ok: boolean;
  problems: string[];
  sent: number;
  received: number;
  orphans: number;
  pending: number;
  liveBlocks: number;
  blocksByLane: number[];
}

const stats = (p: Page): Promise<Lane[]> =>
  p.evaluate(() => (window as unknown as { memkitWorkers: { stats(): Lane[] } }).memkitWorkers.stats());
const check = (p: Page): Promise<Report> =>
  p.evaluate(() => (window as unknown as { memkitWorkers: { check(): Promise<Report> } }).memkitWorkers.check());
const settle = (p: Page): Promise<void> =>
  p.evaluate(() => (window as unknown as { memkitWorkers: { settle(): Promise<void> } }).memkitWorkers.settle());
const ops = async (p: Page): Promise<number[]> => (await stats(p)).map((s) => s.ops);

describe.skipIf(!hasChromium)('the Workers view in chromium', () => {
  let server: ViteDevServer;
  let browser: Browser;
  let url = '';
  let main: Page;
  const errors: string[] = [];
  // The hash of another view state on an open page: the view restarts its workers.
  const go = async (p: Page, hash: string, lanes: number): Promise<void> => {
    await p.evaluate((h) => {
      location.hash = h;
    }, hash);
    await p.waitForFunction(
      (n) => {
        const w = (window as unknown as { memkitWorkers: { stats(): Lane[]; ready(): boolean } }).memkitWorkers;
        return w.ready() && w.stats().length === n;
      },
      lanes,
      { timeout: 30_000 },
    );
  };

  const open = async (width: number, hash: string, height = 900): Promise<Page> => {
    const p = await browser.newPage({ viewport: { width, height } });
    p.on('pageerror', (e) => errors.push(e.message));
    await p.goto(`${url}${hash}`);
    await p.waitForSelector('body[data-ready=true]', { timeout: 30_000 });
    await p.waitForFunction(
      () => (window as unknown as { memkitWorkers?: { ready(): boolean } }).memkitWorkers?.ready() === true,
      undefined,
      { timeout: 30_000 },
    );
    return p;
  };

  beforeAll(async () => {
    const { createServer } = await import('vite');
    const { chromium } = await import('playwright-core');
    server = await createServer({
      configFile: `${repo}web/vite.config.ts`,
      server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false },
      logLevel: 'error',
    });
    await server.listen();
    url = server.resolvedUrls!.local[0]!;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('runs 3 real workers on one shared heap: slots, counters, pause, step, remote frees drained, the heap check', async () => {
    const p = await open(1440, '#workers');
    main = p;
    expect(await p.evaluate(() => crossOriginIsolated)).toBe(true);
    expect(new URL(p.url()).hash).toBe('#workers?preset=handoff&workers=3&workload=handoff&speed=normal');
    let s = await stats(p);
    expect(s.length).toBe(3);
    // Each worker joined with Kmalloc.attach and got its own slot (the page, which made the heap, is 0).
    expect(
      s
        .map((x) => x.slot)
        .slice()
        .sort(),
    ).toEqual([1, 2, 3]);
    // Running: every worker's ops advance.
    const before = await ops(p);
    await p.waitForFunction(
      (b) =>
        (window as unknown as { memkitWorkers: { stats(): Lane[] } }).memkitWorkers
          .stats()
          .every((x, i) => x.ops >= b[i]! + 10),
      before,
      { timeout: 15_000 },
    );
    // The lanes show the counters the workers write.
    const shown = Number((await p.textContent('[data-testid=workers-ops-0]'))!.replace(/,/g, ''));
    expect(shown).toBeGreaterThan(0);
    expect(await p.getAttribute('#view-workers', 'data-picture')).toBe('ok');
    // Paused and drained: nothing moves, and every remote free sent was received by its owner.
    await p.click('[data-testid=workers-run]');
    await settle(p);
    const paused = await ops(p);
    await p.waitForTimeout(300);
    expect(await ops(p)).toEqual(paused);
    s = await stats(p);
    const sent = s.reduce((a, x) => a + x.sent, 0);
    expect(sent).toBeGreaterThan(0); // producer/consumer: remote frees happened
    expect(s.reduce((a, x) => a + x.received, 0)).toBe(sent);
    expect(s.every((x) => x.pendingIn === 0)).toBe(true);
    // Step: exactly one more op for each worker.
    await p.click('[data-testid=workers-step]');
    await p.waitForFunction(
      (b) =>
        (window as unknown as { memkitWorkers: { stats(): Lane[] } }).memkitWorkers
          .stats()
          .every((x, i) => x.ops === b[i]! + 1),
      paused,
      { timeout: 5000 },
    );
    await p.waitForTimeout(300);
    expect(await ops(p)).toEqual(paused.map((n) => n + 1));
    // The page's check: heap invariants on a copy, each worker's count against the heap, sent == received.
    const r = await check(p);
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.sent).toBe(r.received);
    expect(r.orphans + r.pending).toBe(0);
    expect(r.blocksByLane.reduce((a, b) => a + b, 0)).toBe(r.liveBlocks);
    await p.click('[data-testid=workers-check]');
    await p.waitForSelector('[data-testid=workers-check-result][data-ok=true]');
    expect(await p.textContent('[data-testid=workers-check-result]')).toMatch(/The heap checks out/);
    // Per-worker pages: the lanes show size-class pages each worker owns (Kmalloc.pageOwner on the picture).
    await p.waitForFunction(
      () =>
        [0, 1, 2].reduce(
          (n, l) => n + (Number(document.querySelector(`[data-testid=workers-pages-${l}]`)?.textContent) || 0),
          0,
        ) > 0,
      undefined,
      { timeout: 10_000 },
    );
    // Run again, then another tab: the workers stop (they do not burn the CPU behind the page).
    await p.click('[data-testid=workers-run]');
    const again = await ops(p);
    await p.waitForFunction(
      (b) =>
        (window as unknown as { memkitWorkers: { stats(): Lane[] } }).memkitWorkers
          .stats()
          .every((x, i) => x.ops > b[i]!),
      again,
      { timeout: 10_000 },
    );
    await p.click('[data-testid=tab-buddy]');
    await settle(p);
    const hidden = await ops(p);
    await p.waitForTimeout(300);
    expect(await ops(p)).toEqual(hidden);
  });

  it('terminates a worker holding the heap lock: the others wait until Kmalloc.recover, then go on; the heap checks out', async () => {
    const p = main;
    await go(p, '#workers?preset=custom&workers=3&workload=mixed&speed=normal', 3);
    await p.waitForFunction(
      () =>
        (window as unknown as { memkitWorkers: { stats(): Lane[] } }).memkitWorkers.stats().every((x) => x.ops > 20),
      undefined,
      { timeout: 15_000 },
    );
    const slot = (await stats(p))[1]!.slot;
    await p.click('[data-testid=workers-terminate-1]');
    await p.waitForSelector('[data-testid=workers-recover-1]:not([hidden])');
    expect(await p.textContent('[data-testid=workers-state-1]')).toMatch(/terminated · holds the lock/);
    expect(await p.textContent('[data-testid=workers-lock]')).toMatch(
      new RegExp(`held now byworker 2 \\(slot ${slot}\\), terminated`),
    );
    // The others go on with what takes no heap lock (their own class pages and TLSF heaps,
    // large blocks) and block at their first call that needs it (a class page refill, a
    // hand-over list): their ops stop, each after a while of its own.
    let stuck = await ops(p);
    for (let polls = 0; polls < 30; polls++) {
      await p.waitForTimeout(400);
      const now = await ops(p);
      const same = now.every((x, i) => x === stuck[i]);
      stuck = now;
      if (same) break;
    }
    await p.waitForTimeout(400);
    expect(await ops(p)).toEqual(stuck);
    expect(await p.textContent('[data-testid=workers-state-0]')).toMatch(/waiting for the lock/);
    // The page cannot copy the heap either (it never waits for the lock), and says why.
    await p.waitForSelector('[data-testid=workers-map-note]:not([hidden])', { timeout: 5000 });
    expect(await p.textContent('[data-testid=workers-map-note]')).toMatch(
      new RegExp(`held by worker 2 \\(slot ${slot}\\)`),
    );
    await p.click('[data-testid=workers-check]');
    expect(await p.textContent('[data-testid=workers-check-result]')).toMatch(/recover it first/);
    // Kmalloc.recover from the page: the lock is broken, the slot freed, the others go on.
    await p.click('[data-testid=workers-recover-1]');
    expect(errors).toEqual([]); // recover threw nothing (it once read the buddy state without its lock)
    expect(await p.textContent('[data-testid=workers-narrative]')).toMatch(
      new RegExp(
        `Kmalloc\\.recover\\(memory, ${slot}\\) broke the lock it held and freed slot ${slot}.*stay allocated`,
      ),
    );
    await p.waitForFunction(
      (b) => {
        const s = (window as unknown as { memkitWorkers: { stats(): Lane[] } }).memkitWorkers.stats();
        return s[0]!.ops > b[0]! + 10 && s[2]!.ops > b[2]! + 10;
      },
      stuck,
      { timeout: 10_000 },
    );
    expect((await stats(p))[1]!.ops).toBe(stuck[1]);
    await p.waitForSelector('[data-testid=workers-map-note]', { state: 'hidden', timeout: 5000 });
    const r = await check(p);
    expect(r.problems).toEqual([]);
    // Remote frees of the dead worker's blocks have nobody to tell: counted apart, and the sums still add up.
    expect(r.sent).toBe(r.received + r.orphans + r.pending);
    expect(await p.textContent('[data-testid=workers-state-1]')).toMatch(/terminated · recovered/);
    await p.close();
  });

  let restored: Page;

  it('restores workers and workload from the URL', async () => {
    const p = await open(1024, '#workers?preset=custom&workers=2&workload=local&speed=slow');
    restored = p;
    expect((await stats(p)).length).toBe(2);
    expect(await p.inputValue('[data-testid=workers-count]')).toBe('2');
    expect(await p.inputValue('[data-testid=workers-workload]')).toBe('local');
    expect(await p.inputValue('[data-testid=workers-speed]')).toBe('slow');
    expect(new URL(p.url()).hash).toBe('#workers?preset=custom&workers=2&workload=local&speed=slow');
    // Slow mode: each worker's last op, explained.
    await p.waitForSelector('[data-testid=workers-now]:not([hidden])', { timeout: 10_000 });
    expect(await p.textContent('[data-testid=workers-now]')).toMatch(/worker 1: (kmalloc\(\d+\) gave it 0x|kfree\(0x)/);
    // Thread-local: nobody frees another's block.
    await p.selectOption('[data-testid=workers-speed]', 'fast');
    await p.waitForFunction(
      () =>
        (window as unknown as { memkitWorkers: { stats(): Lane[] } }).memkitWorkers.stats().every((x) => x.ops > 200),
      undefined,
      { timeout: 10_000 },
    );
    expect((await stats(p)).every((x) => x.sent === 0)).toBe(true);
    // A preset button rewrites the URL and restarts with its workers.
    await p.click('[data-testid=workers-preset-2]');
    await p.waitForFunction(() => location.hash === '#workers?preset=mixed&workers=4&workload=mixed&speed=fast');
    await p.waitForFunction(
      () => (window as unknown as { memkitWorkers: { stats(): Lane[] } }).memkitWorkers.stats().length === 4,
    );
  });

  it('lays out at 1440, 1024 and 900 px and on a phone: nothing wider than the window, no overlapping labels', async () => {
    // One page (4 workers, the mixed workload), resized: loading a page and its workers is the slow part.
    const p = restored;
    await go(p, '#workers?preset=mixed&workers=4&workload=mixed&speed=normal', 4);
    await p.waitForFunction(() =>
      (window as unknown as { memkitWorkers: { stats(): Lane[] } }).memkitWorkers.stats().every((x) => x.ops > 5),
    );
    await settle(p); // paused: the layout is measured without four workers competing for the CPU
    for (const [width, height] of [
      [1440, 900],
      [1024, 900],
      [900, 900],
      [390, 844],
    ] as const) {
      await p.setViewportSize({ width, height });
      await p.waitForTimeout(150);
      const where = `${width}px`;
      const bad = await p.evaluate(() => {
        const out: string[] = [];
        const W = document.documentElement.clientWidth;
        if (document.documentElement.scrollWidth > W)
          out.push(`page scrolls sideways: ${document.documentElement.scrollWidth} > ${W}`);
        for (const e of Array.from(document.querySelectorAll<HTMLElement>('#view-workers *'))) {
          const r = e.getBoundingClientRect();
          if (r.width > 0 && r.right > W + 0.5)
            out.push(`${e.tagName}.${e.className} right ${Math.round(r.right)} > ${W}`);
        }
        // Text labels: every element with its own text in the lanes, the lock panel and the legends.
        const boxes: Array<{ x: number; y: number; w: number; h: number; text: string }> = [];
        const scope =
          '#view-workers [data-testid=workers-lanes], #view-workers [data-testid=workers-lock], #view-workers .legend';
        for (const root of Array.from(document.querySelectorAll(scope))) {
          const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
          for (let n = walk.nextNode(); n !== null; n = walk.nextNode()) {
            if ((n.textContent ?? '').trim() === '') continue;
            const range = document.createRange();
            range.selectNodeContents(n);
            for (const r of Array.from(range.getClientRects()))
              if (r.width > 0) boxes.push({ x: r.x, y: r.y, w: r.width, h: r.height, text: n.textContent!.trim() });
          }
        }
        for (let i = 0; i < boxes.length; i++)
          for (let j = i + 1; j < boxes.length; j++) {
            const a = boxes[i]!;
            const b = boxes[j]!;
            if (a.x + 0.5 < b.x + b.w && b.x + 0.5 < a.x + a.w && a.y + 0.5 < b.y + b.h && b.y + 0.5 < a.y + a.h)
              out.push(`"${a.text}" overlaps "${b.text}"`);
          }
        if (boxes.length < 40) out.push(`only ${boxes.length} labels found`);
        return out;
      });
      expect(bad, where).toEqual([]);
      // The map fits its box and shows blocks.
      const map = (await p.locator('[data-testid=workers-map]').boundingBox())!;
      const col = (await p.locator('#view-workers .grid2 > .col').nth(1).boundingBox())!;
      expect(map.x + map.width, where).toBeLessThanOrEqual(col.x + col.width);
      await p.waitForFunction(() => Number(document.getElementById('view-workers')!.dataset.blocks) > 0);
      if (width < 600) {
        // Stacked: the controls above the lanes.
        const controls = (await p.locator('[data-testid=workers-run]').boundingBox())!;
        const lanes = (await p.locator('[data-testid=workers-lanes]').boundingBox())!;
        expect(lanes.y, where).toBeGreaterThan(controls.y);
      }
    }
    await p.close();
    expect(errors).toEqual([]);
  });
});
