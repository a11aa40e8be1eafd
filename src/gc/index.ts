/**
 * Layer 5 (top): ManagedHeap, a mark-sweep garbage collector over typed
 * objects (stop-the-world or incremental with a write barrier, roots,
 * scopes, finalizers, weak fields). May import kmalloc and every layer
 * below it; nothing in `src` below it imports gc/.
 *
 * `findLeaks` (kmemleak for manual heaps) is a tool over any heap: `src/tools/leaks/`.
 */
export { ManagedHeap } from './heap.js';
export type { AttachOptions, ManagedHeapDebug, ManagedHeapOptions } from './heap.js';
export type { GcBackend } from './backend.js';
export { Root } from './roots.js';
export type { Escape } from './roots.js';
export type {
  ArrayKind,
  ArrayType,
  BytesField,
  FieldFor,
  FieldSpec,
  FieldSpecs,
  NumberField,
  ObjectType,
  ScalarKind,
  TypeOptions,
} from './types.js';
export type { HeapStats, PauseStats } from './stats.js';
export type { GraphEdge, GraphNode, GraphRoot, HeapGraph } from './graph.js';
