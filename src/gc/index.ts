/**
 * Layer 5: ManagedHeap, a mark-sweep garbage collector over typed objects
 * (stop-the-world or incremental with a write barrier, roots, scopes,
 * finalizers, weak fields), and findLeaks, a kmemleak-style leak detector for
 * manual kmalloc heaps.
 */
export { ManagedHeap } from './heap.js';
export type { ManagedHeapOptions } from './heap.js';
export type { GcBackend } from './backend.js';
export { Root } from './roots.js';
export type { Escape } from './roots.js';
export type {
  ArrayKind, ArrayType, BytesField, FieldFor, FieldSpec, FieldSpecs, NumberField, ObjectType,
  ScalarKind, TypeOptions,
} from './types.js';
export type { HeapStats, PauseStats } from './stats.js';
export type { GraphEdge, GraphNode, GraphRoot, HeapGraph } from './graph.js';
export { AllocationTracker, findLeaks, formatLeaks } from './leaks.js';
export type { FindLeaksOptions, Leak, LeakReport, LeakScanTarget } from './leaks.js';
