/**
 * memkit: the allocator stack of an operating-system kernel (arena, buddy,
 * slab/SLUB, kmalloc) and a tracing garbage collector, over memory that
 * JavaScript can share between workers and hand to WebAssembly.
 *
 * This entry point (`memkit`) is the allocators only and runs anywhere: no
 * Node module, no optional peer, nothing a bundler cannot resolve. The trace
 * tools (parser, replay, `readTrace`) are `memkit/trace`; the `memkit`
 * command is the package's `bin`.
 *
 * @packageDocumentation
 */
import './compat.js';

export {
  MemkitError,
  InvalidArgumentError,
  OutOfMemoryError,
  InvalidFreeError,
  DoubleFreeError,
  HeapCorruptionError,
} from './errors/index.js';
export * from './memory/index.js';
export * from './arena/index.js';
export * from './buddy/index.js';
export * from './slab/index.js';
export * from './tlsf/index.js';
export * from './kmalloc/index.js';
export * from './gc/index.js';
export * from './tools/leaks/index.js';
