/**
 * An object type with one field of every kind a ManagedHeap type may have
 * (a ref, a weak ref, each number kind, an 8-byte `{ bytes }` field): the
 * GC part of the sweeps over the public API builds its objects from it, so
 * a new field kind is added once.
 */
export const NODE_FIELDS = {
  next: 'ref',
  weak: 'weak',
  i32: 'i32',
  u32: 'u32',
  f64: 'f64',
  u8: 'u8',
  i8: 'i8',
  u16: 'u16',
  i16: 'i16',
  raw: { bytes: 8 },
} as const;
