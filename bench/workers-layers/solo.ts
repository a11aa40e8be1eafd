/**
 * A child process of `npm run bench -- workers-layers` (its processes()
 * contender): the layer (`slab` or `buddy`) in a shared memory with one
 * worker on it, the thread-local workload, as one run of
 * bench/workers-layers.ts's shared() with one worker. It tells its parent
 * when the worker has warmed up, starts on the parent's go, and sends back
 * the run's rate (bench/processes.ts). Its parent starts several at once:
 * processes that share nothing.
 *
 * `node --import tsx bench/workers-layers/solo.ts LAYER OPS` (forked, with an IPC channel).
 *
 * @module
 */
import { solo } from '../processes.js';
import { type Layer, shared } from '../workers-layers.js';

const layer = process.argv[2] as Layer;
const ops = Number(process.argv[3]);
await solo((go) => shared(layer, 'local', 1, ops, { beforeStart: go }));
