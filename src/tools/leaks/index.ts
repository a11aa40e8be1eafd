/**
 * Tool: leak finding for manual heaps, after the kernel's kmemleak
 * (`findLeaks`, `AllocationTracker`, `formatLeaks`). A tool over any heap
 * that can list its blocks (`forEachBlock`, as `Kmalloc` does): it may
 * import any allocator layer; no allocator layer imports it.
 *
 * @module
 */
export { AllocationTracker, findLeaks, formatLeaks } from './leaks.js';
export type { FindLeaksOptions, Leak, LeakReport, LeakScanTarget } from './leaks.js';
