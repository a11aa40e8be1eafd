/**
 * Browser tests of the visualizer (web/): Debian's chromium, driven by
 * playwright-core, against a Vite dev server this test starts on 127.0.0.1.
 * Skipped (with a message) only when /usr/bin/chromium is missing.
 *
 * Checks: the buddy lecture preset's free lists and kernel bitmap after
 * every step against the lecture's walkthrough; every panel of a split
 * animation at the same moment; refused operations are not steps; a user
 * step in a preset can be undone; the plotted peak footprint of a bundled
 * trace against the replay engine; a malformed trace shows the parser's
 * error; the layout at 1440, 1024 and 900 px (nothing wider than the
 * viewport, /proc/buddyinfo not cut, the keyboard hint on one line, no two
 * chart or tree labels overlapping) and on a phone; every preset's last
 * step changes the allocator; the URL restores a view, preset and step.
 *
 * Writes nothing into the repository (the screenshots in docs/ come from
 * `npm run screenshots`).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { ViteDevServer } from 'vite';
import { createAllocator, readTrace, replay } from '../../src/trace/index.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium)
  console.warn(`test/web: SKIPPED, ${CHROMIUM} is missing (apt-get install chromium to run the browser tests)`);

const repo = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The lecture's 16-page walkthrough, worked by hand: after each step, the
 * free blocks (first page) of orders 0..4, and the kernel's bitmap of
 * orders 0..3 (bit i = the buddy pair at pages i*2^(k+1) and
 * i*2^(k+1) + 2^k; 1 when exactly one of the pair is a free block of
 * order k).
 */
const LECTURE: Array<[string, string[], string[]]> = [
  ['alloc A (1 page)', ['1', '2', '4', '8', ''], ['10000000', '1000', '10', '1']],
  ['alloc B (2 pages)', ['1', '', '4', '8', ''], ['10000000', '0000', '10', '1']],
  ['alloc C (3 pages)', ['1', '', '', '8', ''], ['10000000', '0000', '00', '1']],
  ['alloc D (1 page)', ['', '', '', '8', ''], ['00000000', '0000', '00', '1']],
  ['free D', ['1', '', '', '8', ''], ['10000000', '0000', '00', '1']],
  ['free A', ['', '0', '', '8', ''], ['00000000', '1000', '00', '1']],
  ['free C', ['', '0', '4', '8', ''], ['00000000', '1000', '10', '1']],
  ['free B', ['', '', '', '', '0'], ['00000000', '0000', '00', '0']],
];

/** Every view's presets, by URL id. */
const PRESETS: Record<string, string[]> = {
  map: ['mixed', 'many'],
  buddy: ['lecture', 'exact', 'random64', 'random1024'],
  slab: ['lecture'],
  arena: ['lecture', 'alignment', 'growing'],
  gc: ['lecture', 'random40'],
};

const WIDTHS = [1440, 1024, 900];

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
  text: string;
}

/** Pairs of boxes that overlap (by more than a hair). */
function overlaps(boxes: Box[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i]!,
        b = boxes[j]!;
      if (a.x + 0.5 < b.x + b.w && b.x + 0.5 < a.x + a.w && a.y + 0.5 < b.y + b.h && b.y + 0.5 < a.y + a.h)
        out.push(`"${a.text}" / "${b.text}"`);
    }
  }
  return out;
}

describe.skipIf(!hasChromium)('visualizer in chromium', () => {
  let server: ViteDevServer;
  let browser: Browser;
  let page: Page;
  let url = '';
  const errors: string[] = [];
  let loads = 0;

  const open = async (width: number, hash = ''): Promise<Page> => {
    const p = await browser.newPage({ viewport: { width, height: 900 } });
    p.on('pageerror', (e) => errors.push(e.message));
    await p.goto(`${url}${hash}`);
    await p.waitForSelector('body[data-ready=true]', { timeout: 30_000 });
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
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    page = await open(1400);
    page.on('load', () => loads++);
    loads = 1;
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const freeLists = async (p: Page = page): Promise<string[]> => {
    const out: string[] = [];
    for (let k = 0; k <= 4; k++) out.push((await p.getAttribute(`[data-testid=freelist-${k}]`, 'data-pages')) ?? '?');
    return out;
  };
  const bitmap = async (p: Page = page): Promise<string[]> => {
    const out: string[] = [];
    for (let k = 0; k <= 3; k++) out.push((await p.getAttribute(`[data-testid=bitmap-${k}]`, 'data-bits')) ?? '?');
    return out;
  };
  const steps = async (p: Page, v: string): Promise<number> => p.locator(`[data-testid=${v}-steps] li`).count();

  it('runs the buddy lecture step by step: free lists and the kernel bitmap as in the walkthrough', async () => {
    await page.click('[data-testid=tab-buddy]');
    await page.click('[data-testid=buddy-preset-0]');
    expect(await page.evaluate(() => crossOriginIsolated), 'the dev server sends COOP/COEP').toBe(true);
    expect(await freeLists()).toEqual(['', '', '', '', '0']);
    expect(await bitmap()).toEqual(['00000000', '0000', '00', '0']);
    let prev = LECTURE[LECTURE.length - 1]![2];
    for (const [label, lists, bits] of LECTURE) {
      await page.click('[data-testid=buddy-step]');
      expect(await page.textContent('[data-testid=buddy-steps] li.last'), label).toBe(label);
      // The panels are drawn at the end of the animation: wait for it.
      await page.waitForSelector('#view-buddy[data-frame=""]');
      expect(await freeLists(), label).toEqual(lists);
      expect(await bitmap(), label).toEqual(bits);
      // The walkthrough names the flipped bits, and says page numbers (no addresses).
      const text = (await page.textContent('[data-testid=buddy-narrative]'))!;
      expect(text, label).not.toMatch(/0x[0-9a-f]/);
      if (bits.join() !== prev.join()) expect(text, label).toMatch(/Kernel bitmap: order \d bit \d → [01]/);
      prev = bits;
    }
    expect(await page.textContent('[data-testid=buddyinfo]')).toMatch(/Normal\s+0\s+0\s+0\s+0\s+1\s*$/);
    // Keyboard: Home resets, ArrowRight steps.
    await page.keyboard.press('Home');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    expect(await page.textContent('[data-testid=buddy-counter]')).toBe('step 2 / 8');
    expect(await freeLists()).toEqual(LECTURE[1]![1]);
  });

  it('animates a split with every panel at the same moment', async () => {
    await page.click('[data-testid=tab-buddy]');
    await page.click('[data-testid=buddy-preset-0]');
    await page.click('[data-testid=buddy-step]'); // alloc A: 16 -> 8 -> 4 -> 2 -> 1, four splits
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const snap = await page.evaluate(() => {
        const v = document.getElementById('view-buddy')!;
        const lists: Record<number, string> = {};
        for (const e of Array.from(v.querySelectorAll<HTMLElement>('[data-testid^=freelist-]')))
          lists[Number(e.dataset.testid!.slice(9))] = e.dataset.pages!;
        // Free blocks of the strip: first page and order (the width in pages is 2^order).
        const strip: string[] = [];
        for (const b of Array.from(v.querySelectorAll<HTMLElement>('[data-testid=buddy-strip] .blk.free'))) {
          const m = /grid-column:\s*(\d+)\s*\/\s*span\s*(\d+)/.exec(b.getAttribute('style')!)!;
          strip.push(`${Number(m[1]) - 1}:${Math.log2(Number(m[2]))}`);
        }
        const listed: string[] = [];
        for (const [k, s] of Object.entries(lists))
          for (const p of s.split(',').filter((x) => x !== '')) listed.push(`${p}:${k}`);
        const info = document
          .querySelector('[data-testid=buddyinfo]')!
          .textContent!.trim()
          .split(/\s+/)
          .slice(4)
          .map(Number);
        const counts = [0, 1, 2, 3, 4].map((k) => (lists[k] ?? '').split(',').filter((x) => x !== '').length);
        const bits = [0, 1, 2, 3].map(
          (k) => document.querySelector<HTMLElement>(`[data-testid=bitmap-${k}]`)!.dataset.bits!,
        );
        return {
          frame: v.dataset.frame ?? '',
          strip: strip.sort().join(' '),
          listed: listed.sort().join(' '),
          info: info.join(','),
          counts: counts.join(','),
          bits,
        };
      });
      // The strip's free blocks are exactly the listed ones; buddyinfo counts the same lists.
      expect(snap.strip, `frame ${snap.frame}`).toBe(snap.listed);
      expect(snap.info, `frame ${snap.frame}`).toBe(snap.counts);
      // The bitmap: bit i of order k is the parity of the listed blocks of pair i.
      for (let k = 0; k < 4; k++) {
        const want = new Array<number>(16 >> (k + 1)).fill(0);
        for (const e of snap.listed.split(' ').filter((x) => x !== '')) {
          const [p, o] = e.split(':').map(Number) as [number, number];
          if (o === k) want[p >> (k + 1)]! ^= 1;
        }
        expect(snap.bits[k], `frame ${snap.frame} order ${k}`).toBe(want.join(''));
      }
      seen.add(snap.frame);
      if (snap.frame === '' && seen.size > 1) break;
      await page.waitForTimeout(90);
    }
    // Saw in-between frames (the block being split is on no list) and the end.
    expect([...seen].filter((f) => f !== '').length).toBeGreaterThanOrEqual(3);
    expect(seen.has('')).toBe(true);
  });

  it("does not make a refused operation a step, and keeps a preset's steps within reach", async () => {
    await page.click('[data-testid=tab-buddy]');
    await page.click('[data-testid=buddy-preset-0]');
    await page.fill('[data-testid=buddy-n]', '100');
    await page.click('[data-testid=buddy-alloc]');
    expect(await page.textContent('[data-testid=buddy-narrative]')).toMatch(
      /Refused, not added as a step: OutOfMemoryError/,
    );
    expect(await steps(page, 'buddy')).toBe(8);
    expect(await page.textContent('[data-testid=buddy-counter]')).toBe('step 0 / 8');
    for (const bad of ['0', '1.5', '-1']) {
      await page.fill('[data-testid=buddy-n]', bad);
      await page.click('[data-testid=buddy-alloc]');
      expect(await page.textContent('[data-testid=buddy-narrative]'), bad).toMatch(/Refused/);
      expect(await steps(page, 'buddy'), bad).toBe(8);
    }
    // A user's alloc at step 0: the preset's 8 steps are set aside, said so, and can come back.
    await page.fill('[data-testid=buddy-n]', '2');
    await page.click('[data-testid=buddy-alloc]');
    expect(await steps(page, 'buddy')).toBe(1);
    expect(await page.textContent('[data-testid=buddy-notice]')).toMatch(/replaced the 8 steps that followed step 0/);
    await page.click('[data-testid=buddy-restore]');
    expect(await steps(page, 'buddy')).toBe(8);
    expect(await page.textContent('[data-testid=buddy-counter]')).toBe('step 0 / 8');
    expect(await page.isVisible('[data-testid=buddy-notice]')).toBe(false);
    // A step that would change nothing is refused too: rewind with no mark.
    await page.click('[data-testid=tab-arena]');
    await page.click('[data-testid=arena-preset-0]');
    await page.click('[data-testid=arena-rewind]');
    expect(await page.textContent('[data-testid=arena-narrative]')).toMatch(
      /^Nothing to do, not added as a step: no mark/,
    );
    expect(await steps(page, 'arena')).toBe(3);
  });

  it("plays a bundled trace; the plotted peak footprint equals the replay engine's; round binary ticks, no label overlap", async () => {
    const trace = await readTrace(`${repo}traces/gcc-cc1.rep.gz`);
    const expected: Record<string, number> = {};
    for (const name of ['kmalloc', 'buddy']) {
      expected[name] = replay(trace, await createAllocator(name, trace.heapSize), {
        verify: false,
        probe: false,
      }).peakFootprint;
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
    // The y ticks: 0 or a whole number of one binary unit.
    const labels = JSON.parse((await page.getAttribute('[data-testid=trace-chart]', 'data-labels'))!) as Box[];
    const ticks = labels.filter((b) => /\d (B|KiB|MiB|GiB)$/.test(b.text));
    expect(ticks.length).toBeGreaterThanOrEqual(3);
    for (const t of ticks) expect(t.text).toMatch(/^\d+ (KiB|MiB)$/);
    expect(new Set(ticks.map((t) => t.text.split(' ')[1])).size).toBe(1);
    expect(labels.some((b) => b.text === 'bytes') && labels.some((b) => b.text === 'op')).toBe(true);
    expect(overlaps(labels)).toEqual([]);
    expect(await page.getAttribute('[data-testid=trace-chart]', 'data-dropped')).toBe('0');
    // Play for a moment, pause, then scrub; the URL records the op.
    await page.click('[data-testid=trace-play]');
    await page.waitForTimeout(800);
    await page.click('[data-testid=trace-play]');
    const op = Number((await page.textContent('[data-testid=trace-op]'))!.match(/op ([\d,]+)/)![1]!.replace(/,/g, ''));
    expect(op).toBeGreaterThan(0);
    await page.locator('[data-testid=trace-scrub]').fill('264300');
    await page.waitForFunction(
      () => /op 264,300/.test(document.querySelector('[data-testid=trace-op]')?.textContent ?? ''),
      undefined,
      { timeout: 20_000 },
    );
    await page.waitForFunction(() => location.hash.includes('op=264300'));
    expect(new URL(page.url()).hash).toBe('#trace?trace=gcc-cc1.rep.gz&a=kmalloc&b=buddy&op=264300');
  });

  it("shows the parser's error for a malformed trace; an allocator without pages gets no empty page map", async () => {
    await page.click('[data-testid=tab-trace]');
    await page.setInputFiles('[data-testid=trace-file]', {
      name: 'broken.rep',
      mimeType: 'text/plain',
      buffer: Buffer.from('100\n2\n3\n1\na 0 10\nf 1\nf 0\n'),
    });
    const box = page.locator('[data-testid=trace-error]');
    await box.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await box.textContent()).toMatch(/broken\.rep:6: /);
    await page.click('[data-testid=trace-step]');
    await page.setInputFiles('[data-testid=trace-file]', {
      name: 'garbage.rep.gz',
      mimeType: 'application/gzip',
      buffer: Buffer.from([0x1f, 0x8b, 1, 2, 3, 4]),
    });
    await page.waitForFunction(
      () => /garbage\.rep\.gz/.test(document.querySelector('[data-testid=trace-error]')?.textContent ?? ''),
      undefined,
      { timeout: 10_000 },
    );
    // tlsf beside kmalloc on a small trace: kmalloc has a page map, tlsf a sentence instead.
    await page.selectOption('[data-testid=trace-alloc-a]', 'kmalloc');
    await page.selectOption('[data-testid=trace-alloc-b]', 'tlsf');
    await page.setInputFiles('[data-testid=trace-file]', {
      name: 'small.rep',
      mimeType: 'text/plain',
      buffer: Buffer.from('100000\n3\n5\n1\na 0 100\na 1 5000\na 2 40\nf 1\nf 0\n'),
    });
    await page.waitForSelector('#view-trace[data-loaded="small.rep"]', { timeout: 20_000 });
    expect(await page.isVisible('[data-testid=trace-side-0] [data-testid=memmap-canvas]')).toBe(true);
    expect(await page.locator('[data-testid=trace-side-1] [data-testid=memmap-canvas]').count()).toBe(0);
    expect(await page.textContent('[data-testid=trace-nomap-1]')).toMatch(/no page map/);
    expect(await page.textContent('#view-trace')).not.toMatch(/\b1 pages\b/);
    // A file of the user's cannot be named in the URL: no trace there.
    expect(new URL(page.url()).hash).not.toMatch(/trace=/);
  });

  it('GC: a hint on the empty heap, pauses never shown below their precision, unambiguous wording', async () => {
    await page.click('[data-testid=tab-gc]');
    await page.click('[data-testid=gc-preset-0]');
    expect(await page.isVisible('[data-testid=gc-hint]')).toBe(true);
    await page.click('[data-testid=gc-end]');
    expect(await page.locator('[data-testid=gc-hint]').count()).toBe(0);
    const stats = (await page.textContent('[data-testid=gc-stats]'))!;
    expect(stats).not.toMatch(/µs/);
    expect(stats).toMatch(/longest pause(< 1 ms \(too short to time\)|≈ \d+(\.\d)? ms)/);
    // The collector's steps say "collection", so "cycle" only means the F <-> G loop.
    for (let i = 0; i < 13; i++) {
      await page.click(`[data-testid=gc-steps] li:nth-child(${i + 1})`);
      expect(await page.textContent('[data-testid=gc-narrative]')).not.toMatch(/\bcycle\b/);
    }
    const color = async (n: string): Promise<string | null> =>
      page.getAttribute(`[data-testid=gc-graph] circle[data-name="${n}"]`, 'data-color');
    await page.click('[data-testid=gc-steps] li:nth-child(6)');
    expect(await color('F')).toBe('white');
    expect(await color('E')).toBe('black');
  });

  it('ends every preset with a step that changes the allocator', async () => {
    const p = await open(1440);
    for (const [view, ids] of Object.entries(PRESETS)) {
      await p.click(`[data-testid=tab-${view}]`);
      for (let i = 0; i < ids.length; i++) {
        await p.click(`[data-testid=${view}-preset-${i}]`);
        await p.click(`[data-testid=${view}-end]`);
        const last = await p.getAttribute(`#view-${view}`, 'data-sig');
        await p.click(`[data-testid=${view}-back]`);
        const before = await p.getAttribute(`#view-${view}`, 'data-sig');
        expect(last, `${view} preset ${ids[i]}: the last step changed nothing`).not.toBe(before);
        expect(new URL(p.url()).hash, view).toMatch(new RegExp(`^#${view}\\?preset=${ids[i]}&step=\\d+`));
      }
    }
    await p.close();
  });

  it('restores view, preset and step from the URL', async () => {
    const p = await open(1440);
    const cases: Array<[string, number, number, boolean]> = [
      ['buddy', 0, 5, true],
      ['buddy', 3, 12, false],
      ['slab', 0, 9, false],
      ['arena', 2, 11, false],
      ['gc', 0, 7, true],
      ['map', 0, 4, false],
    ];
    const q = await open(1024);
    for (const [view, preset, n, fresh] of cases) {
      await p.click(`[data-testid=tab-${view}]`);
      await p.click(`[data-testid=${view}-preset-${preset}]`);
      await p.click(`[data-testid=${view}-steps] li:nth-child(${n - 1})`);
      await p.click(`[data-testid=${view}-step]`);
      const sig = await p.getAttribute(`#view-${view}`, 'data-sig');
      const hash = new URL(p.url()).hash;
      expect(hash).toBe(`#${view}?preset=${PRESETS[view]![preset]}&step=${n}`);
      // A page opened on that link (a fresh load, or the link pasted into an open page) shows the same state.
      if (fresh) {
        await q.goto(`${url}${hash}`);
        await q.reload();
        await q.waitForSelector('body[data-ready=true]');
      } else {
        await q.evaluate((h) => {
          location.hash = h;
        }, hash);
      }
      await q.waitForSelector(`#view-${view}:not([hidden])`);
      expect(await q.textContent(`[data-testid=${view}-counter]`), hash).toMatch(new RegExp(`^step ${n} / `));
      expect(await q.getAttribute(`#view-${view}`, 'data-sig'), hash).toBe(sig);
    }
    // An empty heap of a chosen size (the tree for any size: 4096 pages, 13 levels).
    await q.evaluate(() => {
      location.hash = '#buddy?preset=empty&pages=4096';
    });
    await q.waitForFunction(() =>
      /Normal(\s+0){12}\s+1\s*$/.test(document.querySelector('[data-testid=buddyinfo]')?.textContent ?? ''),
    );
    expect(await q.inputValue('[data-testid=buddy-heap]')).toBe('4096');
    expect(await q.textContent('#view-buddy .tree-nav')).toMatch(/top 5 of 13 levels/);
    // One page: twelve splits; zoom into the split node at the bottom of the drawn tree, twice, down to page 0.
    await q.fill('[data-testid=buddy-n]', '1');
    await q.click('[data-testid=buddy-alloc]');
    // The twelve splits play as frames (setTimeout, each redrawing the tree): zoom once the last has.
    await q.waitForFunction(
      () =>
        document.getElementById('view-buddy')!.dataset.frame === '' &&
        /Normal(\s+1){12}\s+0\s*$/.test(document.querySelector('[data-testid=buddyinfo]')?.textContent ?? ''),
      undefined,
      { timeout: 10_000 },
    );
    await q.click('[data-testid=buddy-tree] circle.zoomable');
    expect(await q.textContent('#view-buddy .tree-nav')).toMatch(/Subtree of pages 0–255 \(levels 2\^8…2\^4\)/);
    await q.click('[data-testid=buddy-tree] circle.zoomable');
    expect(await q.textContent('#view-buddy .tree-nav')).toMatch(/Subtree of pages 0–15 \(levels 2\^4…2\^0\)/);
    expect(await q.locator('[data-testid=buddy-tree] circle.zoomable').count()).toBe(0);
    expect(await q.locator('[data-testid=buddy-tree] circle.alloc').count()).toBe(1);
    await q.click('[data-testid=buddy-tree-up]');
    expect(await q.textContent('#view-buddy .tree-nav')).toMatch(/Subtree of pages 0–31 /);
    await q.close();
    // After a step of the user's, the URL names the preset but no step (it could not replay it).
    await p.click('[data-testid=tab-buddy]');
    await p.click('[data-testid=buddy-preset-0]');
    await p.click('[data-testid=buddy-step]');
    await p.click('[data-testid=buddy-alloc]');
    expect(new URL(p.url()).hash).toBe('#buddy?preset=lecture');
    await p.close();
  });

  it('lays out at 1440, 1024 and 900 px: nothing wider than the window, nothing cut, no overlapping labels', async () => {
    for (const width of WIDTHS) {
      const p = await open(width, '#buddy?preset=lecture&step=6');
      // The keyboard hint stays on one line.
      const keys = (await p.locator('header .keys').boundingBox())!;
      expect(keys.height, `${width}px: keyboard hint height`).toBeLessThan(30);
      const shots: Array<[string, string]> = [
        ['buddy', '#buddy?preset=lecture&step=6'],
        ['buddy', '#buddy?preset=random1024&step=20'],
        ['map', '#map?preset=mixed&step=6'],
        ['slab', '#slab?preset=lecture&step=7'],
        ['arena', '#arena?preset=growing&step=11'],
        ['gc', '#gc?preset=lecture&step=12'],
      ];
      for (const [view, hash] of shots) {
        await p.evaluate((h) => {
          location.hash = h;
        }, hash);
        await p.waitForFunction((v) => !document.getElementById(`view-${v}`)!.hidden, view);
        if (view === 'buddy') await p.waitForSelector('#view-buddy[data-frame=""]');
        await p.waitForTimeout(100);
        const where = `${width}px ${hash}`;
        const wide = await p.evaluate(() => {
          const out: string[] = [];
          const W = document.documentElement.clientWidth;
          if (document.documentElement.scrollWidth > W)
            out.push(`page scrolls sideways: ${document.documentElement.scrollWidth} > ${W}`);
          // Inside a box that scrolls or clips on its own (the memory map), not the page's concern.
          const clips = new Map<Element, boolean>();
          const clipped = (a: Element | null): boolean => {
            if (a === null || a === document.body) return false;
            let c = clips.get(a);
            if (c === undefined) {
              const o = getComputedStyle(a).overflowX;
              c = o === 'auto' || o === 'scroll' || o === 'hidden' || clipped(a.parentElement);
              clips.set(a, c);
            }
            return c;
          };
          for (const e of Array.from(document.querySelectorAll<HTMLElement>('main > section:not([hidden]) *'))) {
            const r = e.getBoundingClientRect();
            if (r.width === 0 || clipped(e.parentElement)) continue;
            if (r.right > W + 0.5) out.push(`${e.tagName}.${e.className} right ${Math.round(r.right)} > ${W}`);
          }
          // A text box that scrolls sideways hides a part (e.g. /proc/buddyinfo).
          for (const e of Array.from(document.querySelectorAll<HTMLElement>('main pre'))) {
            if (e.closest('[hidden]') === null && e.scrollWidth > e.clientWidth + 1)
              out.push(`pre cut: ${e.textContent!.slice(0, 30)}`);
          }
          return out;
        });
        expect(wide, where).toEqual([]);
        if (view === 'buddy') {
          // The tree's labels (levels, nodes, zoom marks): no two boxes overlap.
          const boxes = await p.evaluate(() =>
            Array.from(document.querySelectorAll<SVGTextElement>('[data-testid=buddy-tree] text')).map((t) => {
              const r = t.getBoundingClientRect();
              return { x: r.x, y: r.y, w: r.width, h: r.height, text: t.textContent ?? '' };
            }),
          );
          expect(boxes.length, where).toBeGreaterThan(10);
          expect(overlaps(boxes), where).toEqual([]);
          // The five level labels sit left of every node.
          const nodes = await p.evaluate(() =>
            Math.min(
              ...Array.from(document.querySelectorAll('[data-testid=buddy-tree] circle')).map(
                (c) => c.getBoundingClientRect().x,
              ),
            ),
          );
          expect(boxes.filter((x) => /^2\^\d+$/.test(x.text) && x.x + x.w <= nodes).length, where).toBe(5);
        }
        if (view === 'gc') {
          const labels = JSON.parse((await p.getAttribute('#view-gc .chart', 'data-labels'))!) as Box[];
          const canvas = (await p.locator('#view-gc .chart canvas').first().boundingBox())!;
          expect(labels.length, where).toBeGreaterThan(6);
          expect(overlaps(labels), where).toEqual([]);
          for (const b of labels)
            expect(
              b.x >= 0 && b.y >= 0 && b.x + b.w <= canvas.width + 0.5 && b.y + b.h <= canvas.height + 0.5,
              `${where}: ${b.text} inside the chart`,
            ).toBe(true);
          expect(await p.getAttribute('#view-gc .chart', 'data-dropped'), where).toBe('0');
        }
      }
      await p.close();
    }
  });

  it('opens the trace view from a link at 900 px, and stacks the panels on a phone', async () => {
    // The bundled trace, both allocators and the op (the URL state of this view).
    const p = await open(900, '#trace?trace=gcc-cc1.rep.gz&a=buddy&b=kmalloc&op=1234');
    await p.waitForSelector('#view-trace[data-loaded="gcc-cc1.rep.gz"]', { timeout: 60_000 });
    await p.waitForFunction(
      () => /op 1,234 \//.test(document.querySelector('[data-testid=trace-op]')?.textContent ?? ''),
      undefined,
      { timeout: 20_000 },
    );
    expect(await p.inputValue('[data-testid=trace-alloc-a]')).toBe('buddy');
    expect(await p.inputValue('[data-testid=trace-alloc-b]')).toBe('kmalloc');
    expect(await p.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth)).toBe(
      true,
    );
    const labels = JSON.parse((await p.getAttribute('[data-testid=trace-chart]', 'data-labels'))!) as Box[];
    expect(labels.length).toBeGreaterThan(6);
    expect(overlaps(labels)).toEqual([]);
    expect(await p.getAttribute('[data-testid=trace-chart]', 'data-dropped')).toBe('0');
    await p.close();
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    await phone.goto(`${url}#buddy?preset=lecture&step=2`);
    await phone.waitForSelector('body[data-ready=true]');
    const player = (await phone.locator('#view-buddy .player').boundingBox())!;
    const strip = (await phone.locator('[data-testid=buddy-strip]').boundingBox())!;
    expect(strip.y).toBeGreaterThan(player.y + player.height);
    expect(
      await phone.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth),
    ).toBe(true);
    await phone.close();
    expect(errors).toEqual([]);
    expect(loads, 'the first page never reloaded (a reload would reset every view)').toBe(1);
  });
});
