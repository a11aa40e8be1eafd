/**
 * The hot-path copies of layout constants (blocks between `// layout-copies
 * from ...` and `// end layout-copies`) are written by scripts/layout-copies.ts
 * from their one source; this test fails if any copy was edited by hand or a
 * layout changed without `npm run layout`.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findDrift, regenerate } from '../../scripts/layout-copies.js';

const ROOT = resolve(import.meta.dirname, '../..');

describe('layout constant copies', () => {
  it('every copy in src/ equals what the layout says (run npm run layout if not)', async () => {
    const drift = await findDrift();
    expect(drift.map((d) => relative(ROOT, d.file))).toEqual([]);
  });

  it('a copy edited by hand is found and rewritten from the layout, hex kept as written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'memkit-layout-'));
    const file = join(dir, 'hot.ts');
    const from = relative(dir, join(ROOT, 'src/buddy/layout.js'));
    const block = (magic: string): string =>
      `// layout-copies from '${from}' (test)\nconst BUDDY_MAGIC = ${magic};\nconst B_HEADS = 16;\n// end layout-copies\nexport {};\n`;
    writeFileSync(file, block('1497650498')); // the right value, but not as the layout writes it
    expect(await regenerate(file)).toBe(block('0x59445542'));
    writeFileSync(file, block('0x59445543')); // a wrong value
    expect(await regenerate(file)).toBe(block('0x59445542'));
  });
});
