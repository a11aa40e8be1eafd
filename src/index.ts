/**
 * memkit: the allocator stack of an operating-system kernel (arena, buddy,
 * slab/SLUB, kmalloc) and a tracing garbage collector, over memory that
 * JavaScript can share between workers and hand to WebAssembly.
 *
 * @packageDocumentation
 */
export {
  MemkitError, InvalidArgumentError, OutOfMemoryError, InvalidFreeError,
  DoubleFreeError, HeapCorruptionError,
} from './errors/index.js';
export * from './memory/index.js';
export * from './arena/index.js';
export * from './buddy/index.js';
export * from './slab/index.js';
export * from './tlsf/index.js';
export * from './kmalloc/index.js';
export * from './gc/index.js';
export * from './trace/index.js';
