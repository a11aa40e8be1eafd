/**
 * Text output of the `memkit` command: byte and rate formatting, the results
 * table (a Markdown table, aligned, so it reads in a terminal and pastes into
 * a README).
 *
 * @module
 */
import type { ReplayResult } from '../trace/replay.js';

/** `1234567` -> `1.23 MB`; below 1000 bytes: `999 B`. Decimal units. */
export function formatBytes(n: number): string {
  if (n < 1000) return `${Math.round(n)} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} KB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(2)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

/** `1234567` -> `1.23 M`. */
export function formatCount(n: number): string {
  if (n < 1e4) return String(Math.round(n));
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} k`;
  return `${(n / 1e6).toFixed(2)} M`;
}

/** `0.1234` -> `12.3%`. */
export function formatPercent(f: number): string {
  return `${(f * 100).toFixed(1)}%`;
}

/** Lays out rows as an aligned Markdown table; `right` marks right-aligned columns. */
export function markdownTable(head: string[], rows: string[][], right: boolean[]): string {
  const w = head.map((h, c) => Math.max(h.length, 3, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]): string =>
    '| ' + cells.map((x, c) => (right[c] ? x.padStart(w[c]!) : x.padEnd(w[c]!))).join(' | ') + ' |';
  const sep = '|' + w.map((n, c) => (right[c] ? '-'.repeat(n + 1) + ':' : '-'.repeat(n + 2))).join('|') + '|';
  return [line(head), sep, ...rows.map(line)].join('\n');
}

/** What the `verified` column says. */
function verifiedText(r: ReplayResult): string {
  if (r.violation !== null) return 'FAILED';
  if (r.verification === 'off') return 'off';
  return r.verification === 'full' ? 'yes' : 'overlap only';
}

/** The results table of `memkit replay`. */
export function resultsTable(results: ReplayResult[]): string {
  const first = new Map<string, ReplayResult>();
  for (const r of results) if (!first.has(r.trace)) first.set(r.trace, r);
  const head = ['trace', 'allocator', 'ops', 'ops/s', 'speed', 'peak payload', 'peak footprint', 'utilization', 'int. frag', 'ext. frag', 'failures', 'verified'];
  const rows = results.map((r) => [
    r.trace + (r.truncated ? ' (cut)' : ''),
    r.allocator,
    formatCount(r.ops),
    formatCount(r.opsPerSec),
    speedRatio(r, first.get(r.trace)!),
    formatBytes(r.peakPayload),
    formatBytes(r.peakFootprint),
    formatPercent(r.utilization),
    formatPercent(r.internalFragmentation),
    formatPercent(r.externalFragmentation),
    String(r.failures),
    verifiedText(r),
  ]);
  return markdownTable(head, rows, [false, false, true, true, true, true, true, true, true, true, true, false]);
}

/**
 * ops/s over the ops/s of the trace's first row (`1.00` for that row), when
 * both replayed the same ops; `-` otherwise.
 */
function speedRatio(r: ReplayResult, ref: ReplayResult): string {
  if (r.ops !== ref.ops || ref.opsPerSec <= 0 || r.violation !== null || ref.violation !== null) return '-';
  const x = r.opsPerSec / ref.opsPerSec;
  return `${x >= 0.1 ? x.toFixed(2) : x.toPrecision(2)}x`;
}

/** The fields of a result in `--json` output (the series is left out). */
export function resultJson(r: ReplayResult): Record<string, unknown> {
  const { series: _series, ...rest } = r;
  return rest;
}
