/**
 * Runs attach-fuzz.child.ts in a child process under a watchdog: a case that
 * prints nothing for `limitMs` (a hang in attach or in the heap it gave) is
 * killed and reported by number. Used by test/slab and test/tlsf.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { HANG_MS } from '../support/fuzz.js';

export interface FuzzReport {
  typed: number;
  usable: number;
  failures: string[];
  /** State words of the source heap (each is damaged once per round of cases). */
  words: number;
}

const CHILD = fileURLToPath(new URL('./attach-fuzz.child.ts', import.meta.url));

export function runAttachFuzz(
  layer: 'slab' | 'tlsf',
  seed: number,
  cases: number,
  limitMs = HANG_MS,
): Promise<FuzzReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, layer, String(seed), String(cases)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const report: FuzzReport = { typed: 0, usable: 0, failures: [], words: 0 };
    let current = -1;
    let timer: NodeJS.Timeout | undefined;
    let buffered = '';
    let stderr = '';
    let done = false;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        report.failures.push(`case ${current}: no answer within ${limitMs} ms (a hang?)`);
        child.kill('SIGKILL');
      }, limitMs);
    };
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const [tag, n, outcome] = line.split(' ');
        if (tag === 'words') {
          report.words = Number(n);
        } else if (tag === 'start') {
          current = Number(n);
          arm();
        } else if (tag === 'ok') {
          clearTimeout(timer);
          if (outcome === 'typed') report.typed++;
          else report.usable++;
        } else if (tag === 'fail') {
          clearTimeout(timer);
          report.failures.push(line);
        } else if (tag === 'done') {
          clearTimeout(timer);
          done = true;
        }
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      if (!done && report.failures.length === 0)
        report.failures.push(`the fuzzer stopped after case ${current}: ${stderr.slice(0, 2000)}`);
      resolve(report);
    });
  });
}
