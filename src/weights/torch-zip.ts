/**
 * PyTorch's zip checkpoint format: `<prefix>/data.pkl` plus one `<prefix>/data/<key>` entry per storage.
 *
 * What a hostile file can make eformer allocate is bounded by the file itself: a tensor that is a
 * contiguous slice of its storage is a view of the file's bytes (no copy); any other layout (a
 * transposed or expanded view, stride 0 included) is copied, and all such copies together may hold
 * at most as many bytes as the file. The unpickled tree is walked without recursion, to a bounded
 * depth, each container once, and a container inside itself is refused.
 */
import { CheckpointError } from './errors.js';
import { ELEMENT_SIZE, type StoredTensor, typedView } from './tensor.js';
import { type PickleValue, type TensorRef, unpickle } from './unpickle.js';
import { readZip, type ZipEntry } from './zip.js';

/**
 * How deeply containers may nest: a state_dict is two levels deep ({"model": {name: tensor}}),
 * a training checkpoint's optimizer state five; anything near this limit is not a checkpoint.
 */
export const MAX_PICKLE_DEPTH = 64;

/** Replace every TensorRef in the unpickled tree with a tensor whose data views the file (or, within the budget, copies it). */
export function readTorchZip(bytes: Uint8Array): PickleValue | StoredTensor {
  const entries = readZip(bytes);
  const pkl = [...entries.values()].find((e) => e.name === 'data.pkl' || e.name.endsWith('/data.pkl'));
  if (!pkl) throw new CheckpointError('not a PyTorch checkpoint: the zip has no data.pkl');
  const prefix = pkl.name.slice(0, -'data.pkl'.length);
  const root = unpickle(bytes.subarray(pkl.dataOffset, pkl.dataOffset + pkl.size));
  const copies = { left: bytes.length };
  const cache = new Map<TensorRef, StoredTensor>();
  const tensorOf = (ref: TensorRef) => {
    let t = cache.get(ref);
    if (!t) cache.set(ref, (t = materialise(bytes, entries, prefix, ref, copies)));
    return t;
  };
  return resolveTensors(root, tensorOf);
}

const isTensorRef = (v: unknown): v is TensorRef => typeof v === 'object' && v !== null && (v as TensorRef).kind === 'tensor';
type Container = PickleValue[] | Map<PickleValue, PickleValue>;
const isContainer = (v: unknown): v is Container => Array.isArray(v) || v instanceof Map;

/**
 * Walk the tree depth-first with an explicit stack, replacing TensorRefs by tensors in place. A
 * container the memo placed in many others is walked once (else a file of nested pairs grows
 * twice per level); one met again while it is still being walked contains itself.
 */
function resolveTensors(root: PickleValue, tensorOf: (ref: TensorRef) => StoredTensor): PickleValue | StoredTensor {
  if (isTensorRef(root)) return tensorOf(root);
  if (!isContainer(root)) return root;
  const open = new Set<Container>([root]);
  const done = new Set<Container>();
  const stack: { container: Container; children: Iterator<PickleValue> }[] = [{ container: root, children: childrenOf(root, tensorOf) }];
  while (stack.length) {
    const top = stack[stack.length - 1];
    const next = top.children.next();
    if (next.done) {
      open.delete(top.container);
      done.add(top.container);
      stack.pop();
      continue;
    }
    const child = next.value;
    if (!isContainer(child) || done.has(child)) continue;
    if (open.has(child)) throw new CheckpointError('corrupted pickle: a list or dict contains itself (a cycle through the memo)');
    if (stack.length >= MAX_PICKLE_DEPTH) throw new CheckpointError(`corrupted pickle: lists and dicts nested more than ${MAX_PICKLE_DEPTH} deep (a state_dict nests 2)`);
    open.add(child);
    stack.push({ container: child, children: childrenOf(child, tensorOf) });
  }
  return root;
}

/** A container's keys and values, its TensorRef values swapped for tensors as they are reached. */
function* childrenOf(container: Container, tensorOf: (ref: TensorRef) => StoredTensor): Generator<PickleValue> {
  if (Array.isArray(container)) {
    for (let i = 0; i < container.length; i++) {
      if (isTensorRef(container[i])) container[i] = tensorOf(container[i] as TensorRef) as unknown as PickleValue;
      else yield container[i];
    }
    return;
  }
  for (const [key, value] of container) {
    yield key;
    if (isTensorRef(value)) container.set(key, tensorOf(value) as unknown as PickleValue);
    else yield value;
  }
}

function materialise(bytes: Uint8Array, entries: Map<string, ZipEntry>, prefix: string, ref: TensorRef, copies: { left: number }): StoredTensor {
  const { storage, shape, stride, offset } = ref;
  const entry = entries.get(`${prefix}data/${storage.key}`);
  if (!entry) throw new CheckpointError(`corrupted checkpoint: storage ${storage.key} is missing from the zip`);
  const size = ELEMENT_SIZE[storage.dtype];
  if (storage.numel * size > entry.size) throw new CheckpointError(`corrupted checkpoint: storage ${storage.key} is shorter than it claims`);
  // Shape, stride and offset are whole numbers >= 0 (the unpickler checked); products may still pass 2^53.
  const numel = shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(numel)) throw new CheckpointError(`corrupted checkpoint: a tensor of shape [${shape}] has more elements than any file can hold`);
  // The last element the view reaches must lie inside the storage.
  const extent = numel === 0 ? 0 : shape.reduce((s, d, i) => s + (d - 1) * stride[i], 0) + 1;
  if (offset + extent > storage.numel) throw new CheckpointError(`corrupted checkpoint: a tensor of shape [${shape}] at offset ${offset} reaches past its storage ${storage.key} (${storage.numel} elements)`);
  const all = typedView(bytes, entry.dataOffset, storage.numel, storage.dtype);
  const contiguous = shape.every((_, i) => shape[i] === 1 || stride[i] === shape.slice(i + 1).reduce((a, b) => a * b, 1));
  if (contiguous) return { dtype: storage.dtype, shape, data: all.subarray(offset, offset + numel) as StoredTensor['data'] };
  // A strided view (rare in state dicts; stride 0 repeats elements): gathered into a new array,
  // within what the file itself holds, so a few bytes of pickle cannot ask for gigabytes.
  const need = numel * size;
  if (need > copies.left) {
    throw new CheckpointError(
      `refusing to load: a tensor of shape [${shape}] with strides [${stride}] is no plain slice of its storage (${storage.numel} elements), and copying it needs ${need} bytes; ` +
        `eformer copies such tensors only up to the file's own size (${bytes.length} bytes in all)`,
    );
  }
  copies.left -= need;
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
