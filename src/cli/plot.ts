/**
 * `memkit replay --plot out.svg`: footprint of each allocator and the live
 * payload over the trace (ops on the x axis), one panel per trace, written as
 * a self-contained SVG (no library).
 *
 * @module
 */
import type { ReplayResult } from '../trace/replay.js';
import { formatBytes, formatCount } from './format.js';

const W = 900,
  H = 320,
  ML = 80,
  MR = 170,
  MT = 34,
  MB = 40;
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];

/** A "nice" tick step (1, 2 or 5 times a power of ten) for about `n` ticks up to `max`. */
function niceStep(max: number, n: number): number {
  if (max <= 0) return 1;
  const raw = max / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

/** niceStep in the binary unit the labels use, so byte ticks read 0, 2 MiB, 4 MiB... */
function niceByteStep(max: number, n: number): number {
  const unit = 1024 ** Math.max(0, Math.min(3, Math.floor(Math.log2(Math.max(1, max / n)) / 10)));
  return niceStep(max / unit, n) * unit;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function path(xs: Float64Array, ys: Float64Array, sx: (x: number) => number, sy: (y: number) => number): string {
  let d = '';
  for (let i = 0; i < xs.length; i++) d += `${i === 0 ? 'M' : 'L'}${sx(xs[i]!).toFixed(1)},${sy(ys[i]!).toFixed(1)}`;
  return d;
}

/**
 * The SVG text for `results` (those without a series are skipped). Results
 * are grouped by trace, in order of first appearance.
 */
export function plotSvg(results: ReplayResult[]): string {
  const traces: string[] = [];
  for (const r of results) if (r.series !== undefined && !traces.includes(r.trace)) traces.push(r.trace);
  const allocs: string[] = [];
  for (const r of results) if (!allocs.includes(r.allocator)) allocs.push(r.allocator);
  const out: string[] = [];
  const total = Math.max(1, traces.length) * H;
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${total}" viewBox="0 0 ${W} ${total}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${W}" height="${total}" fill="white"/>`);
  traces.forEach((trace, k) => {
    const rs = results.filter((r) => r.trace === trace && r.series !== undefined);
    const y0 = k * H;
    let maxX = 1,
      maxY = 1;
    for (const r of rs) {
      const s = r.series!;
      for (let i = 0; i < s.op.length; i++) {
        maxX = Math.max(maxX, s.op[i]!);
        maxY = Math.max(maxY, s.footprint[i]!, s.payload[i]!);
      }
    }
    // A log scale when one allocator's footprint dwarfs the payload (the buddy's 4 KiB pages).
    let maxPayload = 1;
    for (const r of rs) maxPayload = Math.max(maxPayload, r.peakPayload);
    const log = maxY > 8 * maxPayload;
    const pw = W - ML - MR,
      ph = H - MT - MB;
    const sx = (x: number): number => ML + (x / maxX) * pw;
    const lo = log ? 10 ** Math.floor(Math.log10(Math.max(1, maxPayload / 100))) : 0;
    const hi = log ? 10 ** Math.ceil(Math.log10(maxY)) : maxY;
    const sy = log
      ? (y: number): number =>
          y0 + MT + ph - ((Math.log10(Math.max(y, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * ph
      : (y: number): number => y0 + MT + ph - (y / maxY) * ph;
    out.push(
      `<text x="${ML}" y="${y0 + 20}" font-size="14" font-weight="bold">${esc(trace)}: footprint and live payload${log ? ' (log scale)' : ''}</text>`,
    );
    // Axes and grid.
    const grid = (v: number): void => {
      out.push(`<line x1="${ML}" x2="${ML + pw}" y1="${sy(v).toFixed(1)}" y2="${sy(v).toFixed(1)}" stroke="#ddd"/>`);
      out.push(`<text x="${ML - 6}" y="${(sy(v) + 4).toFixed(1)}" text-anchor="end">${esc(formatBytes(v))}</text>`);
    };
    if (log) {
      for (let v = lo; v <= hi * 1.001; v *= 10) grid(v);
    } else {
      const ystep = niceByteStep(maxY, 5);
      for (let v = 0; v <= maxY + 1e-9; v += ystep) grid(v);
    }
    const xstep = niceStep(maxX, 6);
    for (let v = 0; v <= maxX + 1e-9; v += xstep) {
      out.push(
        `<line x1="${sx(v).toFixed(1)}" x2="${sx(v).toFixed(1)}" y1="${y0 + MT + ph}" y2="${y0 + MT + ph + 4}" stroke="#333"/>`,
      );
      out.push(
        `<text x="${sx(v).toFixed(1)}" y="${y0 + MT + ph + 17}" text-anchor="middle">${esc(formatCount(v))}</text>`,
      );
    }
    out.push(`<text x="${ML + pw / 2}" y="${y0 + H - 6}" text-anchor="middle">ops</text>`);
    out.push(`<rect x="${ML}" y="${y0 + MT}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
    // Lines: live payload (from the first result), then each allocator's footprint.
    let ly = y0 + MT + 6;
    const legend = (color: string, dash: string, label: string): void => {
      out.push(
        `<line x1="${ML + pw + 12}" x2="${ML + pw + 36}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`,
      );
      out.push(`<text x="${ML + pw + 42}" y="${ly + 4}">${esc(label)}</text>`);
      ly += 18;
    };
    if (rs.length > 0) {
      const s = rs[0]!.series!;
      out.push(
        `<path d="${path(s.op, s.payload, sx, sy)}" fill="none" stroke="#000" stroke-width="1.5" stroke-dasharray="5,3"/>`,
      );
      legend('#000', ' stroke-dasharray="5,3"', 'live payload');
    }
    for (const r of rs) {
      const color = COLORS[allocs.indexOf(r.allocator) % COLORS.length]!;
      const s = r.series!;
      out.push(`<path d="${path(s.op, s.footprint, sx, sy)}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
      legend(color, '', `${r.allocator} footprint`);
    }
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
