/**
 * Object and array types of a {@link ManagedHeap}, with field accessors
 * precomputed per field: `T.fields.left.get(obj)` is one typed-array read at
 * a constant offset, no string lookup.
 *
 * Field layout of an object type (fields sorted by alignment, so every
 * field is naturally aligned; the object is 8-byte aligned):
 * ```
 *   0        8              8+8k           ...           size (multiple of 8)
 *   +--------+--------------+---------------+-------+-------+
 *   | header | f64 fields   | ref/weak/i32/ | 16-bit| bytes |
 *   |        |              | u32 fields    | 8-bit |       |
 *   +--------+--------------+---------------+-------+-------+
 * ```
 *
 * @module
 */
import { InvalidArgumentError, hex } from '../errors/index.js';
import { allocArray, allocLarge, allocSmall } from './alloc.js';
import type { HeapState, TypeMeta } from './state.js';
import type { Views } from './views.js';
import { OutOfMemoryError } from '../errors/index.js';
import {
  S_REFOFFS,
  S_ROCAP,
  S_ROCOUNT,
  S_TCAP,
  S_TCOUNT,
  S_TYPES,
  TFLAG_FINALIZER,
  TYPE_WORDS,
  T_DESC,
  T_FLAGS,
  T_KIND,
  T_NREFS,
  T_NWEAK,
  T_REFS,
  T_SIZE,
  T_WEAKS,
  ARR_HEADER,
  CLASS_OF,
  CLASS_SIZES,
  CLASS_WORDS,
  H_LEN,
  KIND_F64_ARRAY,
  KIND_I32_ARRAY,
  KIND_OBJECT,
  KIND_REF_ARRAY,
  KIND_U8_ARRAY,
  MAX_SMALL,
  OBJ_HEADER,
  TYPE_MASK,
  INFO_MAGIC,
  SCAN_ARRAY,
  SCAN_MAX_DIRECT,
  SCAN_SHIFT,
  SCAN_TABLE,
} from './layout.js';

/** Kinds of number fields. */
export type ScalarKind = 'i32' | 'u32' | 'f64' | 'u8' | 'i8' | 'u16' | 'i16';
/**
 * A field: a number kind; `'ref'` (a managed object or 0, traced); `'weak'`
 * (a managed object or 0, not traced, cleared when its target dies); or
 * `{ bytes: n }`, n raw bytes.
 */
export type FieldSpec = ScalarKind | 'ref' | 'weak' | { readonly bytes: number };
/** Field specs of a type, by name. */
export type FieldSpecs = Record<string, FieldSpec>;

/** Accessor of a number or ref field. */
export interface NumberField {
  readonly name: string;
  readonly kind: ScalarKind | 'ref' | 'weak';
  /** Byte offset from the object address. */
  readonly offset: number;
  /** Reads the field of `obj` (no check that `obj` is live: it must be). */
  get(obj: number): number;
  /**
   * Writes the field of `obj`. A ref/weak field checks that `value` is 0 or
   * a live object of this heap (throws `InvalidArgumentError` otherwise,
   * leaving the field as it was) and applies the write barrier.
   */
  set(obj: number, value: number): void;
}

/** Accessor of a `{ bytes: n }` field. */
export interface BytesField {
  readonly name: string;
  readonly kind: 'bytes';
  readonly offset: number;
  readonly length: number;
  /** A view of the bytes (valid until the memory grows or the object dies). */
  get(obj: number): Uint8Array;
  /** Copies up to `length` bytes in. */
  set(obj: number, value: ArrayLike<number>): void;
}

/** The accessor type of a field spec. */
export type FieldFor<S extends FieldSpec> = S extends { readonly bytes: number } ? BytesField : NumberField;

/** Options of `defineType` / `defineArray`. */
export interface TypeOptions {
  /**
   * Called once with the address of each dead object of this type, after
   * the collection that found it dead and before its bytes are reused. It
   * may read the object's number fields; ref fields may name objects freed
   * by the same collection. It must not store the address anywhere.
   */
  finalizer?: (obj: number) => void;
}

/**
 * An object type: `alloc()` and per-field accessors.
 *
 * @example
 * ```ts
 * const Node = heap.defineType('Node', { left: 'ref', right: 'ref', item: 'i32' });
 * const n = Node.alloc();
 * Node.fields.item.set(n, 7);
 * Node.fields.item.get(n);   // 7
 * ```
 */
export interface ObjectType<F extends FieldSpecs> {
  readonly name: string;
  /** Type id (in every object header). */
  readonly id: number;
  /** Bytes per object, header included (the slot size of its size class). */
  readonly size: number;
  /** Accessors by field name. */
  readonly fields: { readonly [K in keyof F]: FieldFor<F[K]> };
  /** Allocates a zeroed object (may run the collector first). Unrooted! */
  alloc(): number;
  /** True when `obj` is a live object of this type. */
  is(obj: number): boolean;
}

/** Element kinds of arrays. */
export type ArrayKind = 'ref' | 'i32' | 'f64' | 'u8';

/**
 * An array type: the length is chosen at `alloc(length)`. Indexes are
 * checked (a bad one throws `InvalidArgumentError`).
 *
 * @example
 * ```ts
 * const Vec = heap.defineArray('Vec', 'f64');
 * const v = Vec.alloc(3);
 * Vec.set(v, 2, 1.5); Vec.get(v, 2); Vec.length(v);   // 1.5, 3
 * ```
 */
export interface ArrayType {
  readonly name: string;
  readonly id: number;
  readonly kind: ArrayKind;
  alloc(length: number): number;
  get(arr: number, index: number): number;
  set(arr: number, index: number, value: number): void;
  length(arr: number): number;
  is(obj: number): boolean;
}

const SCALAR_BYTES: Record<ScalarKind | 'ref' | 'weak', number> = {
  f64: 8,
  ref: 4,
  weak: 4,
  i32: 4,
  u32: 4,
  u16: 2,
  i16: 2,
  u8: 1,
  i8: 1,
};

function specBytes(spec: FieldSpec): number {
  return typeof spec === 'string' ? SCALAR_BYTES[spec] : spec.bytes;
}

function specAlign(spec: FieldSpec): number {
  return typeof spec === 'string' ? SCALAR_BYTES[spec] : 1;
}

function checkSpec(name: string, spec: FieldSpec): void {
  if (typeof spec === 'string') {
    if (!(spec in SCALAR_BYTES)) throw new InvalidArgumentError(`field ${name}: unknown kind ${JSON.stringify(spec)}`);
    return;
  }
  if (
    typeof spec !== 'object' ||
    spec === null ||
    !Number.isInteger(spec.bytes) ||
    spec.bytes < 1 ||
    spec.bytes > 1 << 20
  ) {
    throw new InvalidArgumentError(`field ${name}: expected a kind or { bytes: n } with 1 <= n <= 2^20`);
  }
}

/** Where each field of an object type goes (the same result for the same specs, so attach can redo it). */
function objectLayout(specs: FieldSpecs): { order: string[]; offsets: Map<string, number>; size: number } {
  const names = Object.keys(specs);
  names.forEach((n) => checkSpec(n, specs[n]!));
  // Strong refs first, right after the header (so the header's scan code
  // can say "n refs here"), then the rest by alignment, largest first, each
  // naturally aligned.
  const order = [
    ...names.filter((n) => specs[n] === 'ref'),
    ...names.filter((n) => specs[n] !== 'ref').sort((a, b) => specAlign(specs[b]!) - specAlign(specs[a]!)),
  ];
  let offset = OBJ_HEADER;
  const offsets = new Map<string, number>();
  for (const n of order) {
    const align = specAlign(specs[n]!);
    offset = Math.ceil(offset / align) * align;
    offsets.set(n, offset);
    offset += specBytes(specs[n]!);
  }
  return { order, offsets, size: (offset + 7) & ~7 };
}

function checkTypeOptions(name: string, options: TypeOptions): void {
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgumentError(`type ${name}: options must be an object`);
  if (options.finalizer !== undefined && typeof options.finalizer !== 'function') {
    throw new InvalidArgumentError(`type ${name}: finalizer must be a function, got ${String(options.finalizer)}`);
  }
}

/** What the in-buffer descriptor of a type says (see T_DESC in layout.ts). */
export interface TypeDescriptor {
  name: string;
  /** Element kind of an array type; null for an object type. */
  array: ArrayKind | null;
  /** Field specs of an object type. */
  fields: FieldSpecs | null;
  finalizer: boolean;
}

/**
 * `heap.defineType(name, fields, options)`; with `id` >= 0, re-binds the
 * existing type `id` of an attached heap instead of adding one.
 */
export function defineType<F extends FieldSpecs>(
  st: HeapState,
  name: string,
  specs: F,
  options: TypeOptions = {},
  id = -1,
): ObjectType<F> {
  if (typeof name !== 'string') throw new InvalidArgumentError(`type name must be a string, got ${String(name)}`);
  if (typeof specs !== 'object' || specs === null)
    throw new InvalidArgumentError('fields must be an object of field kinds');
  checkTypeOptions(name, options);
  const { order, offsets, size } = objectLayout(specs);
  const refOffsets = order.filter((n) => specs[n] === 'ref').map((n) => offsets.get(n)!);
  const weakOffsets = order.filter((n) => specs[n] === 'weak').map((n) => offsets.get(n)!);
  const finalizer = options.finalizer ?? null;
  if (id < 0) {
    st.checkWritable('defineType');
    id = addType(st, KIND_OBJECT, size, refOffsets, weakOffsets, finalizer !== null, {
      name,
      array: null,
      fields: specs,
      finalizer: finalizer !== null,
    });
  }
  const meta: TypeMeta = {
    name,
    id,
    array: false,
    finalizer,
    refFields: order
      .filter((n) => specs[n] === 'ref' || specs[n] === 'weak')
      .map((n) => ({ name: n, offset: offsets.get(n)!, weak: specs[n] === 'weak' })),
  };
  st.typeMeta[id] = meta;
  const fields: Record<string, NumberField | BytesField> = {};
  for (const n of Object.keys(specs)) fields[n] = makeField(st, n, specs[n]!, offsets.get(n)!);
  const scan = weakOffsets.length > 0 || refOffsets.length > SCAN_MAX_DIRECT ? SCAN_TABLE : refOffsets.length;
  const info = INFO_MAGIC | (scan << SCAN_SHIFT) | id;
  // Small objects without a finalizer live in GC blocks of their size class
  // (a read-only heap's types take the large path, which refuses to allocate).
  const small =
    size <= MAX_SMALL && (st.v.u32[st.typeWord0(id) + T_FLAGS]! & TFLAG_FINALIZER) === 0 && st.backend !== null;
  const t = small ? new SmallType(st, name, id, info, size, fields) : new LargeType(st, name, id, info, size, fields);
  return t as unknown as ObjectType<F>;
}

/**
 * Adds a type entry (offsets are byte offsets) and its descriptor; returns
 * the type id.
 */
function addType(
  st: HeapState,
  kind: number,
  size: number,
  refOffsets: number[],
  weakOffsets: number[],
  finalizer: boolean,
  desc: TypeDescriptor,
): number {
  const s = st.s;
  const id = st.v.u32[s + S_TCOUNT]!;
  if (id >= 0xffff) throw new InvalidArgumentError('too many types (65535)');
  if (id === st.v.u32[s + S_TCAP] && !st.growTable(S_TYPES, S_TCAP, TYPE_WORDS * 4, 0)) {
    throw new OutOfMemoryError('no room for the type table', TYPE_WORDS * 4);
  }
  const need = refOffsets.length + weakOffsets.length;
  while (st.v.u32[s + S_ROCOUNT]! + need > st.v.u32[s + S_ROCAP]!) {
    if (!st.growTable(S_REFOFFS, S_ROCAP, 4, 0)) throw new OutOfMemoryError('no room for the type table', need * 4);
  }
  const text = new TextEncoder().encode(JSON.stringify(desc));
  const d = st.tryAlloc(4 + text.length);
  if (d === 0) throw new OutOfMemoryError('no room for a type descriptor', 4 + text.length);
  st.v.u32[d >>> 2] = text.length;
  st.v.u8.set(text, d + 4);
  const u32 = st.v.u32;
  const first = u32[s + S_ROCOUNT]!;
  const ro = u32[s + S_REFOFFS]! >>> 2;
  refOffsets.forEach((off, i) => {
    u32[ro + first + i] = off >>> 2;
  });
  weakOffsets.forEach((off, i) => {
    u32[ro + first + refOffsets.length + i] = off >>> 2;
  });
  u32[s + S_ROCOUNT] = first + need;
  const t = st.typeWord0(id);
  u32[t + T_KIND] = kind;
  u32[t + T_SIZE] = size;
  u32[t + T_NREFS] = refOffsets.length;
  u32[t + T_REFS] = first;
  u32[t + T_NWEAK] = weakOffsets.length;
  u32[t + T_WEAKS] = first + refOffsets.length;
  u32[t + T_FLAGS] = finalizer ? TFLAG_FINALIZER : 0;
  u32[t + T_DESC] = d;
  u32[s + S_TCOUNT] = id + 1;
  return id;
}

/** Reads the descriptor of type `id` from the buffer. */
export function readDescriptor(st: HeapState, id: number): TypeDescriptor {
  const d = st.v.u32[st.typeWord0(id) + T_DESC]!;
  const n = st.v.u32[d >>> 2]!;
  // A copy: TextDecoder refuses views of a SharedArrayBuffer.
  return JSON.parse(new TextDecoder().decode(st.v.u8.slice(d + 4, d + 4 + n))) as TypeDescriptor;
}

/**
 * An object type. Accessors and types are class instances with shared
 * methods (not per-field closures), so a call site such as `left.get(t)`
 * stays monomorphic however many heaps and types a program makes, and V8
 * inlines it. Fields are `declare`d and set in the constructor, so V8 keeps
 * their exact representation.
 */
abstract class TypeBase {
  declare readonly size: number;
  declare protected readonly st: HeapState;
  declare readonly name: string;
  declare readonly id: number;
  /** The header info word of this type's objects. */
  declare protected readonly info: number;
  declare readonly fields: Record<string, NumberField | BytesField>;

  constructor(
    st: HeapState,
    name: string,
    id: number,
    info: number,
    size: number,
    fields: Record<string, NumberField | BytesField>,
  ) {
    this.st = st;
    this.name = name;
    this.id = id;
    this.info = info;
    this.size = size;
    this.fields = fields;
  }

  is(obj: number): boolean {
    return this.st.isLive(obj) && (this.st.v.u32[obj >>> 2]! & TYPE_MASK) === this.id;
  }
}

/** A type whose objects live in GC blocks; `size` is its size class's slot size. */
class SmallType extends TypeBase {
  /** u32 index of the size class's entry in the size-class table (it never moves). */
  declare private readonly c: number;
  constructor(
    st: HeapState,
    name: string,
    id: number,
    info: number,
    size: number,
    fields: Record<string, NumberField | BytesField>,
  ) {
    const cls = CLASS_OF[size >>> 3]!;
    super(st, name, id, info, CLASS_SIZES[cls]!, fields);
    this.c = st.ct + cls * CLASS_WORDS;
  }
  alloc(): number {
    return allocSmall(this.st, this.info, this.size, this.c);
  }
}

/** A type whose objects are kmalloc blocks of their own (large, or with a finalizer). */
class LargeType extends TypeBase {
  alloc(): number {
    return allocLarge(this.st, this.info, this.size);
  }
}

/** Base of the number-field accessors: where the field is. */
abstract class Field {
  /** @internal word (or halfword, or f64) index of the field from the object's own index. */
  declare protected readonly w: number;
  declare protected readonly mem: Views;
  declare readonly name: string;
  declare readonly offset: number;
  constructor(mem: Views, name: string, offset: number, shift: number) {
    this.mem = mem;
    this.name = name;
    this.offset = offset;
    this.w = offset >>> shift;
  }
}

class RefField extends Field implements NumberField {
  declare readonly kind: 'ref';
  declare private readonly st: HeapState;
  constructor(st: HeapState, name: string, offset: number) {
    super(st.v, name, offset, 2);
    this.st = st;
    this.kind = 'ref';
  }
  get(o: number): number {
    return this.mem.u32[(o >>> 2) + this.w]!;
  }
  set(o: number, v: number): void {
    if (v !== 0) this.st.checkStore(v);
    this.mem.u32[(o >>> 2) + this.w] = v;
  }
}

class WeakField extends Field implements NumberField {
  declare readonly kind: 'weak';
  declare private readonly st: HeapState;
  constructor(st: HeapState, name: string, offset: number) {
    super(st.v, name, offset, 2);
    this.st = st;
    this.kind = 'weak';
  }
  get(o: number): number {
    return this.mem.u32[(o >>> 2) + this.w]!;
  }
  set(o: number, v: number): void {
    if (v !== 0) {
      this.st.checkObject(v);
      this.st.weakStored(o);
    }
    this.mem.u32[(o >>> 2) + this.w] = v;
  }
}

class I32Field extends Field implements NumberField {
  declare readonly kind: 'i32';
  constructor(mem: Views, name: string, offset: number, shift: number) {
    super(mem, name, offset, shift);
    this.kind = 'i32';
  }
  get(o: number): number {
    return this.mem.i32[(o >>> 2) + this.w]!;
  }
  set(o: number, v: number): void {
    this.mem.i32[(o >>> 2) + this.w] = v;
  }
}

class U32Field extends Field implements NumberField {
  declare readonly kind: 'u32';
  constructor(mem: Views, name: string, offset: number, shift: number) {
    super(mem, name, offset, shift);
    this.kind = 'u32';
  }
  get(o: number): number {
    return this.mem.u32[(o >>> 2) + this.w]!;
  }
  set(o: number, v: number): void {
    this.mem.u32[(o >>> 2) + this.w] = v;
  }
}

class F64Field extends Field implements NumberField {
  declare readonly kind: 'f64';
  constructor(mem: Views, name: string, offset: number, shift: number) {
    super(mem, name, offset, shift);
    this.kind = 'f64';
  }
  get(o: number): number {
    return this.mem.f64[(o >>> 3) + this.w]!;
  }
  set(o: number, v: number): void {
    this.mem.f64[(o >>> 3) + this.w] = v;
  }
}

class U16Field extends Field implements NumberField {
  declare readonly kind: 'u16' | 'i16';
  declare private readonly signed: boolean;
  constructor(mem: Views, name: string, offset: number, signed: boolean) {
    super(mem, name, offset, 1);
    this.signed = signed;
    this.kind = signed ? 'i16' : 'u16';
  }
  get(o: number): number {
    const v = this.mem.u16[(o >>> 1) + this.w]!;
    return this.signed ? (v << 16) >> 16 : v;
  }
  set(o: number, v: number): void {
    this.mem.u16[(o >>> 1) + this.w] = v;
  }
}

class U8Field extends Field implements NumberField {
  declare readonly kind: 'u8' | 'i8';
  declare private readonly signed: boolean;
  constructor(mem: Views, name: string, offset: number, signed: boolean) {
    super(mem, name, offset, 0);
    this.signed = signed;
    this.kind = signed ? 'i8' : 'u8';
  }
  get(o: number): number {
    const v = this.mem.u8[o + this.w]!;
    return this.signed ? (v << 24) >> 24 : v;
  }
  set(o: number, v: number): void {
    this.mem.u8[o + this.w] = v;
  }
}

class BytesFieldImpl implements BytesField {
  readonly kind = 'bytes' as const;
  constructor(
    private readonly mem: Views,
    readonly name: string,
    readonly offset: number,
    readonly length: number,
  ) {}
  get(o: number): Uint8Array {
    return this.mem.u8.subarray(o + this.offset, o + this.offset + this.length);
  }
  set(o: number, v: ArrayLike<number>): void {
    const n = Math.min(this.length, v.length);
    const u8 = this.mem.u8;
    for (let i = 0; i < n; i++) u8[o + this.offset + i] = v[i]!;
  }
}

function makeField(st: HeapState, name: string, spec: FieldSpec, offset: number): NumberField | BytesField {
  const mem = st.v;
  if (typeof spec === 'object') return new BytesFieldImpl(mem, name, offset, spec.bytes);
  switch (spec) {
    case 'ref':
      return new RefField(st, name, offset);
    case 'weak':
      return new WeakField(st, name, offset);
    case 'i32':
      return new I32Field(mem, name, offset, 2);
    case 'u32':
      return new U32Field(mem, name, offset, 2);
    case 'f64':
      return new F64Field(mem, name, offset, 3);
    case 'u16':
      return new U16Field(mem, name, offset, false);
    case 'i16':
      return new U16Field(mem, name, offset, true);
    case 'u8':
      return new U8Field(mem, name, offset, false);
    case 'i8':
      return new U8Field(mem, name, offset, true);
  }
}

const ARRAY_KINDS: Record<ArrayKind, [kind: number, bytes: number]> = {
  ref: [KIND_REF_ARRAY, 4],
  i32: [KIND_I32_ARRAY, 4],
  f64: [KIND_F64_ARRAY, 8],
  u8: [KIND_U8_ARRAY, 1],
};

/**
 * `heap.defineArray(name, kind, options)`; with `id` >= 0, re-binds the
 * existing type `id` of an attached heap.
 */
export function defineArray(
  st: HeapState,
  name: string,
  kind: ArrayKind,
  options: TypeOptions = {},
  id = -1,
): ArrayType {
  if (typeof name !== 'string') throw new InvalidArgumentError(`type name must be a string, got ${String(name)}`);
  const entry = typeof kind === 'string' && Object.hasOwn(ARRAY_KINDS, kind) ? ARRAY_KINDS[kind] : undefined;
  if (entry === undefined)
    throw new InvalidArgumentError(`array kind must be 'ref', 'i32', 'f64' or 'u8', got ${String(kind)}`);
  const [k, bytes] = entry;
  checkTypeOptions(name, options);
  const finalizer = options.finalizer ?? null;
  if (id < 0) {
    st.checkWritable('defineArray');
    id = addType(st, k, bytes, [], [], finalizer !== null, {
      name,
      array: kind,
      fields: null,
      finalizer: finalizer !== null,
    });
  }
  st.typeMeta[id] = { name, id, array: true, finalizer, refFields: [] };
  const large = (st.v.u32[st.typeWord0(id) + T_FLAGS]! & TFLAG_FINALIZER) !== 0 || st.backend === null;
  switch (kind) {
    case 'ref':
      return new RefArray(st, name, id, kind, bytes, large);
    case 'i32':
      return new I32Array(st, name, id, kind, bytes, large);
    case 'f64':
      return new F64Array(st, name, id, kind, bytes, large);
    case 'u8':
      return new U8Array(st, name, id, kind, bytes, large);
  }
}

const BASE = ARR_HEADER >>> 2;

/** Base of the array types: alloc, length, the index check. */
abstract class ArrayBase {
  declare protected readonly mem: Views;
  declare protected readonly st: HeapState;
  declare readonly name: string;
  declare readonly id: number;
  declare readonly kind: ArrayKind;
  declare private readonly elemBytes: number;
  declare private readonly large: boolean;
  declare private readonly info: number;
  constructor(st: HeapState, name: string, id: number, kind: ArrayKind, elemBytes: number, large: boolean) {
    this.info = INFO_MAGIC | ((kind === 'ref' ? SCAN_ARRAY : 0) << SCAN_SHIFT) | id;
    this.mem = st.v;
    this.st = st;
    this.name = name;
    this.id = id;
    this.kind = kind;
    this.elemBytes = elemBytes;
    this.large = large;
  }
  alloc(length: number): number {
    return allocArray(this.st, this.info, length, this.elemBytes, this.large);
  }
  length(arr: number): number {
    return this.mem.u32[(arr >>> 2) + H_LEN]!;
  }
  is(obj: number): boolean {
    return this.st.isLive(obj) && (this.mem.u32[obj >>> 2]! & TYPE_MASK) === this.id;
  }
  protected bad(arr: number, i: number): InvalidArgumentError {
    return new InvalidArgumentError(
      `index ${String(i)} out of bounds of ${this.name} ${hex(arr)} (length ${this.mem.u32[(arr >>> 2) + H_LEN]!})`,
    );
  }
}

class RefArray extends ArrayBase implements ArrayType {
  get(a: number, i: number): number {
    if (i >>> 0 !== i || i >= this.mem.u32[(a >>> 2) + H_LEN]!) throw this.bad(a, i);
    return this.mem.u32[(a >>> 2) + BASE + i]!;
  }
  set(a: number, i: number, v: number): void {
    if (i >>> 0 !== i || i >= this.mem.u32[(a >>> 2) + H_LEN]!) throw this.bad(a, i);
    if (v !== 0) this.st.checkStore(v);
    this.mem.u32[(a >>> 2) + BASE + i] = v;
  }
}

class I32Array extends ArrayBase implements ArrayType {
  get(a: number, i: number): number {
    if (i >>> 0 !== i || i >= this.mem.u32[(a >>> 2) + H_LEN]!) throw this.bad(a, i);
    return this.mem.i32[(a >>> 2) + BASE + i]!;
  }
  set(a: number, i: number, v: number): void {
    if (i >>> 0 !== i || i >= this.mem.u32[(a >>> 2) + H_LEN]!) throw this.bad(a, i);
    this.mem.i32[(a >>> 2) + BASE + i] = v;
  }
}

class F64Array extends ArrayBase implements ArrayType {
  get(a: number, i: number): number {
    if (i >>> 0 !== i || i >= this.mem.u32[(a >>> 2) + H_LEN]!) throw this.bad(a, i);
    return this.mem.f64[((a + ARR_HEADER) >>> 3) + i]!;
  }
  set(a: number, i: number, v: number): void {
    if (i >>> 0 !== i || i >= this.mem.u32[(a >>> 2) + H_LEN]!) throw this.bad(a, i);
    this.mem.f64[((a + ARR_HEADER) >>> 3) + i] = v;
  }
}

class U8Array extends ArrayBase implements ArrayType {
  get(a: number, i: number): number {
    if (i >>> 0 !== i || i >= this.mem.u32[(a >>> 2) + H_LEN]!) throw this.bad(a, i);
    return this.mem.u8[a + ARR_HEADER + i]!;
  }
  set(a: number, i: number, v: number): void {
    if (i >>> 0 !== i || i >= this.mem.u32[(a >>> 2) + H_LEN]!) throw this.bad(a, i);
    this.mem.u8[a + ARR_HEADER + i] = v;
  }
}
