/**
 * Separate processes started together, for the benches' "the same loop in N
 * processes that share nothing" contenders (bench/workers.ts and
 * bench/workers-layers.ts, whose children are bench/workers/solo.ts and
 * bench/workers-layers/solo.ts). The parent forks the children (under tsx,
 * with an IPC channel), waits until each has warmed up and said so, then
 * sends them all the go and collects what each sends back; a child wraps
 * its run in `solo()`.
 *
 * @module
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Forks `n` copies of `script` with `args`, starts them together once all are ready, and returns each one's result. */
export async function together<T>(script: URL, args: string[], n: number): Promise<T[]> {
  const kids = Array.from({ length: n }, () =>
    fork(fileURLToPath(script), args, {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  const next = (c: ChildProcess): Promise<unknown> =>
    new Promise((resolve, reject) => {
      c.once('message', resolve);
      c.once('error', reject);
    });
  await Promise.all(kids.map(next)); // each: warmed up, waiting
  const results = kids.map(next);
  for (const c of kids) c.send('go');
  const out = (await Promise.all(results)) as T[];
  await Promise.all(
    kids.map((c) => new Promise((resolve) => (c.exitCode !== null ? resolve(0) : c.once('exit', resolve)))),
  );
  return out;
}

/**
 * The child's side of `together()`: runs `run`, which calls `go()` once it has
 * warmed up (go says so to the parent and resolves on the parent's go), then
 * sends the parent `run`'s result.
 */
export async function solo<T>(run: (go: () => Promise<void>) => Promise<T>): Promise<void> {
  const go = (): Promise<void> =>
    new Promise((resolve) => {
      process.once('message', () => resolve());
      process.send!('ready');
    });
  process.send!(await run(go));
  process.disconnect();
}
