/**
 * A live SlabCache (not attached: no fsck first) whose state words are
 * damaged one at a time (its descriptor, its slabs' page descriptors, the
 * free pointers of free objects), then every public method called: each
 * answers or throws a MemkitError, none hangs, and a bystander cache in the
 * same buddy (its descriptor, its objects' bytes) and the memkit header are
 * untouched. Runs in a child process (damage.child.ts) under a watchdog.
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

describe('SlabCache: every method on a live cache with one damaged state word', () => {
  for (const mode of [[], ['debug'], ['shared'], ['shared', 'debug']]) {
    it(`${mode.join(' ') || 'plain'}: typed errors only, no hang, no write to the bystander`, async () => {
      const r = await run(mode, 5000);
      expect(r.hung).toBeNull();
      expect(r.results).toEqual([]);
      expect(r.done).toBeGreaterThan(300);
    }, 20000);
  }
});
