/** PyTorch's zip checkpoint format: `<prefix>/data.pkl` plus one `<prefix>/data/<key>` entry per storage. */
import { CheckpointError } from './errors.js';
import { ELEMENT_SIZE, type StoredTensor, typedView } from './tensor.js';
import { type PickleValue, type TensorRef, unpickle } from './unpickle.js';
import { readZip, type ZipEntry } from './zip.js';

/** Replace every TensorRef in the unpickled tree with a tensor whose data views the file. */
export function readTorchZip(bytes: Uint8Array): PickleValue | StoredTensor {
  const entries = readZip(bytes);
  const pkl = [...entries.values()].find((e) => e.name === 'data.pkl' || e.name.endsWith('/data.pkl'));
  if (!pkl) throw new CheckpointError('not a PyTorch checkpoint: the zip has no data.pkl');
  const prefix = pkl.name.slice(0, -'data.pkl'.length);
  const root = unpickle(bytes.subarray(pkl.dataOffset, pkl.dataOffset + pkl.size));
  const cache = new Map<TensorRef, StoredTensor>();
  const resolve = (v: PickleValue): PickleValue | StoredTensor => {
    if (v instanceof Map) {
      const out = new Map();
      for (const [k, x] of v) out.set(k, resolve(x));
      return out;
    }
    if (Array.isArray(v)) return v.map(resolve) as PickleValue;
    if (v && typeof v === 'object' && 'kind' in v && v.kind === 'tensor') {
      let t = cache.get(v);
      if (!t) cache.set(v, (t = materialise(bytes, entries, prefix, v)));
      return t;
    }
    return v;
  };
  return resolve(root);
}

function materialise(bytes: Uint8Array, entries: Map<string, ZipEntry>, prefix: string, ref: TensorRef): StoredTensor {
  const { storage, shape, stride, offset } = ref;
  const entry = entries.get(`${prefix}data/${storage.key}`);
  if (!entry) throw new CheckpointError(`corrupted checkpoint: storage ${storage.key} is missing from the zip`);
  const size = ELEMENT_SIZE[storage.dtype];
  if (storage.numel * size > entry.size) throw new CheckpointError(`corrupted checkpoint: storage ${storage.key} is shorter than it claims`);
  const numel = shape.reduce((a, b) => a * b, 1);
  // The last element the view reaches must lie inside the storage.
  const extent = numel === 0 ? 0 : shape.reduce((s, d, i) => s + (d - 1) * stride[i], 0) + 1;
  if (offset < 0 || offset + extent > storage.numel) throw new CheckpointError(`corrupted checkpoint: a tensor reaches past its storage ${storage.key}`);
  const all = typedView(bytes, entry.dataOffset, storage.numel, storage.dtype);
  const contiguous = shape.every((_, i) => shape[i] === 1 || stride[i] === shape.slice(i + 1).reduce((a, b) => a * b, 1));
  if (contiguous) return { dtype: storage.dtype, shape, data: all.subarray(offset, offset + numel) as StoredTensor['data'] };
  // A strided view (rare in state dicts): gather it once into a new array.
  const out = new (all.constructor as new (n: number) => StoredTensor['data'])(numel);
  const index = new Array(shape.length).fill(0);
  for (let i = 0; i < numel; i++) {
    let src = offset;
    for (let d = 0; d < shape.length; d++) src += index[d] * stride[d];
    (out as Float32Array)[i] = (all as Float32Array)[src];
    for (let d = shape.length - 1; d >= 0 && ++index[d] === shape[d]; d--) index[d] = 0;
  }
  return { dtype: storage.dtype, shape, data: out };
}
