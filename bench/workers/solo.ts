/**
 * A child process of `npm run bench -- workers` (its processes() contender):
 * one shared Kmalloc heap with one worker on it, the thread-local workload,
 * as one run of bench/workers.ts's memkit() with one worker. It tells its
 * parent when the worker has warmed up, starts on the parent's go, and sends
 * back the run's rate (bench/processes.ts). Its parent starts several at
 * once: processes that share nothing.
 *
 * `node --import tsx bench/workers/solo.ts OPS` (forked, with an IPC channel).
 *
 * @module
 */
import { solo } from '../processes.js';
import { memkit } from '../workers.js';

const ops = Number(process.argv[2]);
await solo((go) => memkit('local', 1, ops, false, { options: {}, beforeStart: go }));
