/** Tensors as checkpoints hold them, before conversion to the graph's float32. */

export type StoredDType = 'float32' | 'float16' | 'bfloat16' | 'int64';

export interface StoredTensor {
  dtype: StoredDType;
  shape: number[];
  /** float32: Float32Array; float16/bfloat16: raw Uint16Array bits; int64: BigInt64Array. */
  data: Float32Array | Uint16Array | BigInt64Array;
}

export type StateDict = Map<string, StoredTensor>;

export const ELEMENT_SIZE: Record<StoredDType, number> = { float32: 4, float16: 2, bfloat16: 2, int64: 8 };

/**
 * A typed view of `bytes[offset, offset + count * size)`: zero-copy when aligned (torch and
 * safetensors align tensor data), one copy otherwise.
 */
export function typedView(bytes: Uint8Array, offset: number, count: number, dtype: StoredDType): StoredTensor['data'] {
  const size = ELEMENT_SIZE[dtype];
  const start = bytes.byteOffset + offset;
  const Ctor = dtype === 'float32' ? Float32Array : dtype === 'int64' ? BigInt64Array : Uint16Array;
  if (start % size === 0) return new Ctor(bytes.buffer as ArrayBuffer, start, count);
  // A copy made here: a Buffer's (readFileSync's) slice() is a view of the whole file, not a copy.
  const copy = new Uint8Array(count * size);
  copy.set(bytes.subarray(offset, offset + count * size));
  return new Ctor(copy.buffer, 0, count);
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? Number.NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** The tensor as float32: a view for float32, one converting copy for float16 / bfloat16. */
export function toFloat32(t: StoredTensor): Float32Array {
  if (t.data instanceof Float32Array) return t.data;
  if (t.data instanceof BigInt64Array) return Float32Array.from(t.data, (v) => Number(v));
  const out = new Float32Array(t.data.length);
  if (t.dtype === 'bfloat16') {
    // bfloat16 is the top half of a float32.
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < t.data.length; i++) bits[i] = t.data[i] << 16;
  } else {
    for (let i = 0; i < t.data.length; i++) out[i] = halfToFloat(t.data[i]);
  }
  return out;
}
