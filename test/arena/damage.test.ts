/**
 * A live Arena (not attached: no fsck first) whose state words or chunk
 * header words are damaged one at a time, then every public method called:
 * each answers or throws a MemkitError, none hangs, no alloc answers an
 * address outside the memory, and the memkit header is untouched. Runs in a
 * child process (damage.child.ts) under a watchdog.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CHILD = fileURLToPath(new URL('./damage.child.ts', import.meta.url));

function run(args: string[], limitMs: number): Promise<{ results: string[]; done: number; hung: string | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    let last = '';
    const results: string[] = [];
    let done = -1;
    let hung: string | null = null;
    let timer = setTimeout(onHang, limitMs);
    function onHang() {
      hung = last;
      child.kill('SIGKILL');
    }
    child.stdout.on('data', (d: Buffer) => {
      clearTimeout(timer);
      timer = setTimeout(onHang, limitMs);
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) {
        if (l.startsWith('case ')) last = l;
        else if (l.startsWith('result ') && !l.endsWith(' ok')) results.push(l);
        else if (l.startsWith('done ')) done = Number(l.slice(5));
      }
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('error', reject);
    child.on('exit', () => {
      clearTimeout(timer);
      if (done < 0 && hung === null) results.push(`child failed: ${err.slice(0, 500)}`);
      resolve({ results, done, hung });
    });
  });
}

describe('Arena: every method on a live arena with one damaged state or chunk-header word', () => {
  for (const mode of [['memory'], ['buddy'], ['shared']]) {
    it(`${mode.join(' ') || 'plain'}: typed errors only, no hang, no address outside the memory, the memkit header untouched`, async () => {
      const r = await run(mode, 5000);
      expect(r.hung).toBeNull();
      expect(r.results).toEqual([]);
      expect(r.done).toBeGreaterThan(350);
    }, 20000);
  }
});
