/**
 * The parent side of the damage tests (test/slab/damage.test.ts,
 * test/arena/damage.test.ts): runs a child script under tsx that prints
 * `case ...` before each call, `result ... ok` (or anything else: a failure)
 * after it, and `done N` at the end, and kills it when no line comes for
 * `limitMs` (a hang: the last case is reported).
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** What a damage child reported: its failed results, its case count (-1: it did not finish), and the case it hung in. */
export interface DamageRun {
  results: string[];
  done: number;
  hung: string | null;
}

/** Runs the damage child `script` (a URL of a .ts file) with `args` under a watchdog of `limitMs` between lines. */
export function runDamageChild(script: URL, args: string[], limitMs: number): Promise<DamageRun> {
  const path = fileURLToPath(script);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
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

/**
 * The child side: announces a call (`case ...`: the line the parent's
 * watchdog names if it hangs), makes it, and records in `out` an error that
 * is not a MemkitError (any other outcome is an answer).
 */
export function damageCall(
  label: string,
  name: string,
  call: () => unknown,
  out: string[],
  isTyped: (e: unknown) => boolean,
): void {
  process.stdout.write(`case ${label} ${name}\n`);
  try {
    call();
  } catch (e) {
    if (!isTyped(e)) out.push(`UNTYPED ${name}: ${(e as Error).name} ${(e as Error).message}`);
  }
}
