/**
 * `heap.graph()`: the object graph for the visualizer (each allocation a
 * node, each ref field an edge, the roots, and the marks of the running
 * cycle). Not a hot path: it walks the whole heap and builds JS objects.
 *
 * @module
 */
import { HeapCorruptionError, hex } from '../errors/index.js';
import type { HeapState } from './state.js';
import { forEachRef } from './collector.js';
import {
  ARR_HEADER,
  H_LEN,
  R_ADDR,
  R_GEN,
  S_MSTACK,
  S_MTOP,
  S_RCAP,
  S_SSTACK,
  S_STOP,
  TYPE_MASK,
  T_SIZE,
} from './layout.js';

/** A node of {@link HeapGraph}. */
export interface GraphNode {
  /** The object's address. */
  id: number;
  /** Type name. */
  type: string;
  /** Bytes, header included. */
  size: number;
  /** Array length (arrays only). */
  length?: number;
  /**
   * Tri-color mark during a cycle: 'white' (not reached yet), 'gray'
   * (reached, on the mark stack), 'black' (reached and scanned, or born
   * during the cycle). Between cycles every object is 'black'.
   */
  color: 'white' | 'gray' | 'black';
}

/** An edge: a non-null ref field (or ref-array element) of `from`. */
export interface GraphEdge {
  /** Address of the object that holds the ref. */
  from: number;
  /** Address of the object it refers to (never 0). */
  to: number;
  /** Field name, or `[i]` for array elements. */
  field: string;
  /** True for a `'weak'` field (not traced). */
  weak: boolean;
}

/** A root of {@link HeapGraph}. */
export interface GraphRoot {
  /** `'handle'`: a `heap.root()` handle; `'global'`: a named global; `'stack'`: a shadow-stack entry (`pushRoot`). */
  kind: 'handle' | 'global' | 'stack';
  /** Global name, when kind is 'global'. */
  name?: string;
  /** Address of the rooted object (0 only for a global set to 0). */
  target: number;
}

/** The heap as a graph. */
export interface HeapGraph {
  /** The collector's phase when the graph was taken. */
  phase: 'idle' | 'mark' | 'sweep';
  /** One node per allocated object (during a cycle, unreached ones too). */
  nodes: GraphNode[];
  /** Every non-null ref, strong and weak. */
  edges: GraphEdge[];
  /** Every root that holds an object (and every global, even one set to 0). */
  roots: GraphRoot[];
}

/** The error for an object whose header names no type, or a length past the memory's end (a damaged buffer). */
export function damagedHeader(heap: HeapState, a: number): HeapCorruptionError {
  return new HeapCorruptionError(
    `ManagedHeap: the header of the object at ${hex(a)} is damaged (${hex(heap.v.u32[a >>> 2]!)}, ` +
      `length word ${heap.v.u32[(a >>> 2) + 1]!}): damaged buffer`,
    a,
  );
}

/** `heap.graph()`. */
export function heapGraph(heap: HeapState): HeapGraph {
  heap.sync();
  const u32 = (): Uint32Array => heap.v.u32;
  const phase = heap.phaseName();
  const gray = new Set<number>();
  heap.checkTables(); // (before any walk of a table: a damaged length would run 2^32 times)
  const ms = heap.word(S_MSTACK) >>> 2;
  for (let i = 0, n = heap.word(S_MTOP); i < n; i++) gray.add(u32()[ms + i]!);
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  heap.forEachObject((a) => {
    const meta = heap.typeMeta[u32()[a >>> 2]! & TYPE_MASK];
    if (meta === undefined) throw damagedHeader(heap, a);
    // An array length past the memory's end (a damaged header) would walk a billion elements.
    if (
      meta.array &&
      ARR_HEADER + u32()[(a >>> 2) + H_LEN]! * u32()[heap.typeWord(a) + T_SIZE]! > heap.memory.byteLength - a
    )
      throw damagedHeader(heap, a);
    const size = heap.objectSize(a);
    const marked = (u32()[heap.mb + (a >>> 8)]! & (1 << ((a >>> 3) & 31))) !== 0;
    const node: GraphNode = {
      id: a,
      type: meta.name,
      size,
      color: phase === 'idle' ? 'black' : !marked ? 'white' : gray.has(a) ? 'gray' : 'black',
    };
    if (meta.array) node.length = u32()[(a >>> 2) + H_LEN]!;
    nodes.push(node);
    forEachRef(heap, a, true, (to, offset, weak) => {
      if (to === 0) return;
      const f = meta.array
        ? `[${(offset - ARR_HEADER) >>> 2}]`
        : (meta.refFields.find((r) => r.offset === offset)?.name ?? `@${offset}`);
      edges.push({ from: a, to, field: f, weak });
    });
  });
  const roots: GraphRoot[] = [];
  const globals = new Map<number, string>();
  for (const [name, slot] of heap.globalSlots) globals.set(slot, name);
  for (let i = 0, n = heap.word(S_RCAP); i < n; i++) {
    const w = heap.rootWord(i);
    if (u32()[w + R_GEN] === 0) continue; // a free slot
    const target = u32()[w + R_ADDR]!;
    const name = globals.get(i);
    if (name !== undefined) roots.push({ kind: 'global', name, target });
    else if (target !== 0) roots.push({ kind: 'handle', target });
  }
  const ss = heap.word(S_SSTACK) >>> 2;
  for (let i = 0, n = heap.word(S_STOP); i < n; i++) {
    const target = u32()[ss + i]!;
    if (target !== 0) roots.push({ kind: 'stack', target });
  }
  return { phase, nodes, edges, roots };
}
