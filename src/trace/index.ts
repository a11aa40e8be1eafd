/**
 * Trace files (CS:APP malloc-lab format), replay through any ByteAllocator,
 * verification and metrics: the engine behind `memkit replay`. Published as
 * `memkit/trace`, for Node (`readTrace` reads files; the parser and the
 * replay themselves run anywhere). Above the allocators: imports any layer,
 * and the comparison peers (peers/) by dynamic import only.
 *
 * @packageDocumentation
 */
import '../compat.js';

export { TraceFormatError, VerificationError } from './errors.js';
export {
  OpKind,
  TraceParser,
  parseTrace,
  truncateTrace,
  MAX_TRACE_IDS,
  MAX_TRACE_OPS,
  MAX_TRACE_SIZE,
  MAX_TRACE_LINE,
} from './trace.js';
export type { Trace, TraceReadOptions, OpKindCode } from './trace.js';
export { readTrace } from './read.js';
export { traceInfo, payloadPeak, largestRequestAfter } from './stats.js';
export type { TraceInfo } from './stats.js';
export { replay, patternByte, opText } from './replay.js';
export type { ReplayOptions, ReplayResult, ReplaySeries, VerificationLevel } from './replay.js';
export { IntervalSet } from './interval-set.js';
export { BuddyByteAllocator, createBuddyAllocator } from './buddy-adapter.js';
export type { BuddyByteAllocatorOptions } from './buddy-adapter.js';
export { ALLOCATORS, allocatorNames, defaultAllocatorNames, createAllocator } from './allocators.js';
export type { AllocatorEntry, AllocatorFactory } from './allocators.js';
