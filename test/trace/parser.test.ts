import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { OpKind, TraceParser, parseTrace } from '../../src/trace/trace.js';
import { TraceFormatError } from '../../src/trace/errors.js';
import { readTrace } from '../../src/trace/read.js';
import { traceInfo } from '../../src/trace/stats.js';
import { MemkitError } from '../../src/errors/index.js';

const GOOD = '  2048 \n3\n6\n1\na 0 100\na 1 20\r\n\n\tr 0  300 \nf 1\na 2 7\nf 0\n';

function expectError(text: string, line: number, detail: RegExp, file = 'bad.rep'): void {
  let err: unknown;
  try {
    parseTrace(text, file);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(TraceFormatError);
  expect(err).toBeInstanceOf(MemkitError);
  const e = err as TraceFormatError;
  expect(e.file).toBe(file);
  expect(e.line).toBe(line);
  expect(e.message.startsWith(line > 0 ? `${file}:${line}: ` : `${file}: `)).toBe(true);
  expect(e.message).toMatch(detail);
}

describe('parseTrace on good input', () => {
  it('reads the header and the ops, with line numbers (blank lines, CRLF, tabs, extra spaces)', () => {
    const t = parseTrace(GOOD, 'good.rep');
    expect(t.file).toBe('good.rep');
    expect([t.heapSize, t.ids, t.declaredOps, t.weight, t.length, t.truncated]).toEqual([2048, 3, 6, 1, 6, false]);
    expect(Array.from(t.kind)).toEqual([
      OpKind.Alloc,
      OpKind.Alloc,
      OpKind.Realloc,
      OpKind.Free,
      OpKind.Alloc,
      OpKind.Free,
    ]);
    expect(Array.from(t.id)).toEqual([0, 1, 0, 1, 2, 0]);
    expect(Array.from(t.size)).toEqual([100, 20, 300, 0, 7, 0]);
    expect(Array.from(t.line)).toEqual([5, 6, 8, 9, 10, 11]);
  });

  it('gives the same trace whatever the chunk boundaries (fed byte by byte)', () => {
    const bytes = new TextEncoder().encode(GOOD);
    const p = new TraceParser('good.rep');
    for (let i = 0; i < bytes.length; i++) p.push(bytes.subarray(i, i + 1));
    const t = p.finish();
    const w = parseTrace(GOOD, 'good.rep');
    expect(Array.from(t.size)).toEqual(Array.from(w.size));
    expect(Array.from(t.line)).toEqual(Array.from(w.line));
  });

  it('accepts a last line without newline and an id allocated again after its free', () => {
    const t = parseTrace('0\n1\n3\n1\na 0 5\nf 0\na 0 9', 'x');
    expect(Array.from(t.size)).toEqual([5, 0, 9]);
  });

  it('maxOps cuts the trace (no count check) and says so', () => {
    const t = parseTrace(GOOD, 'good.rep', { maxOps: 2 });
    expect(t.length).toBe(2);
    expect(t.truncated).toBe(true);
  });

  it('traceInfo: counts, quartiles and the live peak', () => {
    const i = traceInfo(parseTrace(GOOD, 'good.rep'));
    expect([i.allocs, i.frees, i.reallocs]).toEqual([3, 2, 1]);
    // live: 100, 120, 320 (peak, after op 2), 300, 307, 7
    expect(i.peakPayload).toBe(320);
    expect(i.peakOp).toBe(2);
    expect(i.peakBlocks).toBe(2);
    expect(i.liveAtEnd).toBe(1);
    expect(i.sizeQuartiles).toEqual([7, 20, 100, 100, 300]);
  });
});

describe('parseTrace on malformed input: file, line and what was expected', () => {
  const H = '100\n4\n3\n1\n';
  it('a header line that is not a number', () => {
    expectError('100\nmany\n3\n1\n', 2, /expected the header's number of ids \(a whole number\), got `many`/);
    expectError('-5\n', 1, /expected the header's suggested heap size/);
  });
  it('a file that ends inside the header', () => {
    expectError('100\n4\n', 0, /ends after 2 header lines; expected 4/);
  });
  it('an unknown op letter', () => {
    expectError(H + 'a 0 1\nm 1 2\n', 6, /expected `a ID SIZE`, `f ID` or `r ID SIZE` \(whole numbers\), got `m 1 2`/);
  });
  it('a missing size, an extra field, a negative or fractional number, glued tokens', () => {
    expectError(H + 'a 0\n', 5, /got `a 0`/);
    expectError(H + 'a 0 8\nf 0 8\n', 6, /got `f 0 8`/);
    expectError(H + 'a 0 -1\n', 5, /got `a 0 -1`/);
    expectError(H + 'a 0 1.5\n', 5, /got `a 0 1.5`/);
    expectError(H + 'a0 1\n', 5, /got `a0 1`/);
  });
  it('an id out of range', () => {
    expectError(H + 'a 4 10\n', 5, /id 4 is out of range: the header declares 4 ids \(0\.\.3\)/);
  });
  it('`f` of an id never allocated, `f` twice, `r` of a freed id, `a` of a live id', () => {
    expectError(H + 'a 0 8\nf 1\n', 6, /`f 1` of an id that is never allocated \(expected a live id\)/);
    expectError(H + 'a 0 8\nf 0\nf 0\n', 7, /`f 0` of an id that is already freed/);
    expectError(H + 'a 0 8\nf 0\nr 0 16\n', 7, /`r 0` of an id that is already freed/);
    expectError(H + 'r 2 16\n', 5, /`r 2` of an id that is never allocated/);
    expectError(H + 'a 0 8\na 0 8\n', 6, /`a 0` of an id that is already allocated/);
  });
  it('more or fewer ops than the header declares', () => {
    expectError(H + 'a 0 1\na 1 1\na 2 1\na 3 1\n', 8, /more ops than the 3 the header declares/);
    expectError(H + 'a 0 1\n\n', 6, /the header declares 3 ops, the file has 1/);
  });
  it('a size too large for the op arrays', () => {
    expectError(H + 'a 0 4294967296\n', 5, /size 4294967296 is too large/);
  });
});

describe('readTrace streams files, plain or gzip', () => {
  const dir = mkdtempSync(join(tmpdir(), 'memkit-trace-'));
  it('reads plain and .gz (detected by content) the same way', async () => {
    writeFileSync(join(dir, 'p.rep'), GOOD);
    writeFileSync(join(dir, 'g.rep.gz'), gzipSync(GOOD));
    writeFileSync(join(dir, 'gz-named-plain.rep'), gzipSync(GOOD));
    for (const f of ['p.rep', 'g.rep.gz', 'gz-named-plain.rep']) {
      const t = await readTrace(join(dir, f));
      expect(t.file).toBe(f);
      expect(Array.from(t.size)).toEqual([100, 20, 300, 0, 7, 0]);
    }
  });
  it('names the file and line of an error inside a .gz', async () => {
    writeFileSync(join(dir, 'bad.rep.gz'), gzipSync('1\n1\n2\n1\na 0 8\nx\n'));
    await expect(readTrace(join(dir, 'bad.rep.gz'))).rejects.toThrow(/^bad\.rep\.gz:6: expected `a ID SIZE`/);
  });
  it('a missing file and a broken gzip stream are TraceFormatErrors', async () => {
    await expect(readTrace(join(dir, 'nope.rep'))).rejects.toBeInstanceOf(TraceFormatError);
    const gz = gzipSync(GOOD);
    writeFileSync(join(dir, 'cut.rep.gz'), gz.subarray(0, gz.length >> 1));
    await expect(readTrace(join(dir, 'cut.rep.gz'))).rejects.toThrow(/^cut\.rep\.gz: cannot read \(gzip\)/);
  });
  it('reads a shipped trace whole: gcc-cc1 (311k ops)', async () => {
    const t = await readTrace('traces/gcc-cc1.rep.gz');
    expect([t.heapSize, t.ids, t.length]).toEqual([5094283, 154899, 310995]);
    expect(traceInfo(t).peakPayload).toBe(t.heapSize); // the recorder's header is the live peak
  });
  it('maxOps stops reading early', async () => {
    const t = await readTrace('traces/bash.rep.gz', { maxOps: 1000 });
    expect(t.length).toBe(1000);
    expect(t.truncated).toBe(true);
  });
});

describe('long lines: refused with one line naming the line, in linear time', () => {
  it('a 64 MB line fed in 64 KiB chunks is refused at once, naming its line', () => {
    const p = new TraceParser('huge.rep');
    p.push(new TextEncoder().encode('100\n2\n2\n1\na 0 10\n'));
    const chunk = new Uint8Array(1 << 16).fill(0x39);
    const t0 = performance.now();
    let err: unknown = null;
    try {
      for (let i = 0; i < 1024; i++) p.push(chunk);
      p.finish();
    } catch (e) {
      err = e;
    }
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(err).toBeInstanceOf(TraceFormatError);
    expect((err as TraceFormatError).line).toBe(6);
    expect((err as Error).message).toMatch(/^huge\.rep:6: line is longer than 4096 bytes/);
    expect((err as Error).message).not.toMatch(/\n/);
  });

  it('a long line inside one chunk is refused too; a line of exactly the limit is only a bad op', () => {
    expect(() => parseTrace('1\n1\n1\n1\na 0 ' + '1'.repeat(5000) + '\n', 'one.rep')).toThrow(
      /^one\.rep:5: line is longer than 4096 bytes \(5004\)/,
    );
    const atLimit = 'a 0 1' + ' '.repeat(4096 - 6) + 'x';
    expect(atLimit.length).toBe(4096);
    expect(() => parseTrace('1\n1\n1\n1\n' + atLimit + '\n', 'edge.rep')).toThrow(/^edge\.rep:5: expected `a ID SIZE`/);
  });

  it('parse time grows linearly with the input, whatever the chunking', () => {
    const make = (n: number): Uint8Array => {
      let t = `1000\n${n}\n${2 * n}\n1\n`;
      for (let i = 0; i < n; i++) t += `a ${i} ${i % 500}\n`;
      for (let i = 0; i < n; i++) t += `f ${i}\n`;
      return new TextEncoder().encode(t);
    };
    const time = (bytes: Uint8Array): number => {
      const t0 = performance.now();
      const p = new TraceParser('x');
      for (let i = 0; i < bytes.length; i += 7) p.push(bytes.subarray(i, i + 7));
      expect(p.finish().length).toBeGreaterThan(0);
      return performance.now() - t0;
    };
    const small = make(5000),
      big = make(40000);
    time(small);
    const a = Math.min(time(small), time(small)),
      b = time(big);
    expect(b / Math.max(a, 1)).toBeLessThan(32); // quadratic would be ~64x
  });
});
