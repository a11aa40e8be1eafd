/**
 * Chart axes drawn by the page itself (uPlot places the ticks; this module
 * writes their labels and the axis titles on the canvas, and records every
 * label's box in `data-labels` of the chart element, so a test can check
 * that no two overlap).
 *
 * Bytes are in binary units (B, KiB, MiB, GiB: powers of 1024, as the
 * kernel's /proc files and memkit's pages), with round ticks: 1, 2 or 5
 * times a power of ten of one unit (0, 5 MiB, 10 MiB, ...), never
 * 9.537 MiB. An axis is as wide as its longest tick label plus its title,
 * so the title never overlaps a tick; a tick label that would touch the one
 * before it is left out.
 */
import type uPlot from 'uplot';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** Tick steps in bytes: {1, 2, 5} x 10^j of each binary unit. */
export const BYTE_INCRS: number[] = (() => {
  const out: number[] = [];
  for (let u = 0; u < UNITS.length; u++) {
    for (const m of [1, 2, 5, 10, 20, 50, 100, 200, 500]) out.push(m * 1024 ** u);
  }
  return [...new Set(out)].sort((a, b) => a - b);
})();

/** Round count steps: 1, 2, 5 x 10^j. */
export const COUNT_INCRS: number[] = Array.from({ length: 30 }, (_, i) => [1, 2, 5][i % 3]! * 10 ** Math.floor(i / 3));

/** A byte tick in the unit of the tick step (so every tick of an axis uses one unit). */
export function byteTick(v: number, step: number): string {
  if (v === 0) return '0';
  let u = 0;
  while (u + 1 < UNITS.length && step >= 1024 ** (u + 1)) u++;
  return `${Math.round(v / 1024 ** u)} ${UNITS[u]}`;
}

/** A count tick: `250,000`. */
export function countTick(v: number): string {
  return Math.round(v).toLocaleString('en');
}

/** One axis: its scale, side (2 = bottom, 3 = left, 1 = right), title, steps and tick text. */
export interface AxisSpec {
  scale: string;
  side: 1 | 2 | 3;
  title: string;
  incrs: number[];
  text(v: number, step: number): string;
}

/** A label box in CSS pixels, relative to the chart canvas. */
export interface LabelBox {
  x: number;
  y: number;
  w: number;
  h: number;
  text: string;
}

const FONT_PX = 12;
const FONT = `${FONT_PX}px system-ui, -apple-system, 'Segoe UI', 'DejaVu Sans', sans-serif`;
const TITLE = 16; // room for a title line
const GAP = 6;

let measurer: CanvasRenderingContext2D | null = null;
function textWidth(s: string): number {
  measurer ??= document.createElement('canvas').getContext('2d')!;
  measurer.font = FONT;
  return measurer.measureText(s).width;
}

/**
 * uPlot axes for `specs` (the first is the x axis), and a draw hook that
 * writes the tick labels and titles. `host` gets the `data-labels` attribute.
 */
export function ownAxes(specs: AxisSpec[], host: HTMLElement): { axes: uPlot.Axis[]; draw: (u: uPlot) => void } {
  const ticks: Array<{ splits: number[]; step: number }> = specs.map(() => ({ splits: [], step: 1 }));
  const axes: uPlot.Axis[] = specs.map((a, i) => ({
    scale: a.scale,
    side: a.side,
    incrs: a.incrs,
    // uPlot asks for the labels after choosing the ticks: keep them, draw them ourselves.
    values: (_u: uPlot, splits: number[], _ax: number, _space: number, step: number) => {
      ticks[i] = { splits, step };
      return splits.map(() => '');
    },
    // Vertical axes: as wide as the longest label, a gap, and the title.
    size:
      a.side === 2
        ? FONT_PX + GAP + TITLE + 14
        : () =>
            Math.ceil(Math.max(0, ...ticks[i]!.splits.map((v) => textWidth(a.text(v, ticks[i]!.step))))) +
            GAP * 2 +
            TITLE,
    // Horizontal ticks: at least a label's width apart.
    space: a.side === 2 ? (_u: uPlot, _ax: number, _min: number, max: number) => textWidth(a.text(max, 1)) + 24 : 30,
    gap: 0,
    labelSize: 0,
    grid: i === 0 || a.side === 3 ? { show: true, stroke: '#eef0f4', width: 1 } : { show: false },
    ticks: { show: true, size: 4, stroke: '#c5ccd8', width: 1 },
  }));
  const draw = (u: uPlot): void => {
    const d = devicePixelRatio;
    const c = u.ctx;
    const boxes: LabelBox[] = [];
    let dropped = 0;
    const droppedText: string[] = [];
    c.save();
    c.font = FONT.replace(`${FONT_PX}px`, `${FONT_PX * d}px`);
    c.fillStyle = '#3b4557';
    const put = (text: string, cx: number, cy: number, align: 'left' | 'right' | 'center', rotate = false): void => {
      // (cx, cy) in CSS px: the anchor; the box is computed as drawn.
      const w = textWidth(text),
        h = FONT_PX + 2;
      let box: LabelBox;
      if (rotate) box = { x: cx - h / 2, y: cy - w / 2, w: h, h: w, text };
      else box = { x: align === 'right' ? cx - w : align === 'center' ? cx - w / 2 : cx, y: cy - h / 2, w, h, text };
      if (boxes.some((b) => b.x < box.x + box.w && box.x < b.x + b.w && b.y < box.y + box.h && box.y < b.y + b.h)) {
        dropped++;
        droppedText.push(text);
        return;
      }
      boxes.push(box);
      c.save();
      c.textBaseline = 'middle';
      if (rotate) {
        c.translate(cx * d, cy * d);
        c.rotate(-Math.PI / 2);
        c.textAlign = 'center';
        c.fillText(text, 0, 0);
      } else {
        c.textAlign = align;
        c.fillText(text, cx * d, cy * d);
      }
      c.restore();
    };
    const left = u.bbox.left / d,
      top = u.bbox.top / d,
      width = u.bbox.width / d,
      height = u.bbox.height / d;
    // Titles first, then the ticks.
    specs.forEach((a, i) => {
      const size = (u.axes[i] as uPlot.Axis & { _size?: number })._size ?? 40;
      if (a.side === 2) put(a.title, left + width / 2, top + height + 10 + FONT_PX + GAP + TITLE / 2, 'center');
      else
        put(
          a.title,
          a.side === 3 ? left - size + TITLE / 2 : left + width + size - TITLE / 2,
          top + height / 2,
          'center',
          true,
        );
    });
    specs.forEach((a, i) => {
      const t = ticks[i]!;
      for (const v of t.splits) {
        const p = u.valToPos(v, a.scale);
        // Below the 0 of a vertical axis (which sits on the bottom line).
        if (a.side === 2) put(a.text(v, t.step), left + p, top + height + 10 + FONT_PX / 2, 'center');
        else if (a.side === 3) put(a.text(v, t.step), left - GAP, top + p, 'right');
        else put(a.text(v, t.step), left + width + GAP, top + p, 'left');
      }
    });
    c.restore();
    host.dataset.dropped = String(dropped);
    host.title = droppedText.length > 0 ? `labels left out (no room): ${droppedText.join(', ')}` : '';
    host.dataset.labels = JSON.stringify(
      boxes.map((b) => ({
        ...b,
        x: Math.round(b.x * 10) / 10,
        y: Math.round(b.y * 10) / 10,
        w: Math.round(b.w * 10) / 10,
        h: Math.round(b.h * 10) / 10,
      })),
    );
  };
  return { axes, draw };
}
