/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header naming each
 * tensor's dtype, shape and byte range, then the raw little-endian data.
 */
import type { TensorData } from '../graph/ir.js';
import { CheckpointError } from './errors.js';
import { ELEMENT_SIZE, type StateDict, type StoredDType, typedView } from './tensor.js';

export interface NamedTensor {
  name: string;
  shape: number[];
  data: TensorData;
}

function DTYPE_NAME(data: TensorData): 'I64' | 'F32' {
  if (data instanceof BigInt64Array) return 'I64';
  if (data instanceof Float32Array) return 'F32';
  // Quantised tensors exist only in an int8 ONNX export, never in a PyTorch state_dict.
  throw new Error('safetensors: only float32 and int64 tensors are written');
}

/** Serialise tensors (in the given order) to safetensors bytes. */
export function encodeSafetensors(tensors: NamedTensor[], metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: DTYPE_NAME(t.data), shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so tensor data starts 8-byte aligned, as the reference writer does.
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const t of tensors) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

const DTYPES: Record<string, StoredDType> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16', I64: 'int64' };
/** A header is JSON text; anything near this size is not a real one. */
const MAX_HEADER = 100 * 1024 * 1024;

/**
 * Read safetensors bytes. The header is checked against the file before any tensor is made:
 * offsets inside the data section, sizes equal to shape x dtype, no overlaps.
 */
export function decodeSafetensors(bytes: Uint8Array): StateDict {
  if (bytes.length < 8) throw new CheckpointError('not a safetensors file: shorter than its 8-byte header length');
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(Math.min(MAX_HEADER, bytes.length - 8))) {
    throw new CheckpointError(`corrupted safetensors file: header claims ${headerLength} bytes, the file has ${bytes.length}`);
  }
  const dataStart = 8 + Number(headerLength);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, dataStart)));
  } catch {
    throw new CheckpointError('corrupted safetensors file: the header is not valid JSON');
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw new CheckpointError('corrupted safetensors file: the header is not an object');
  const dataLength = bytes.length - dataStart;
  const spans: [number, number, string][] = [];
  const out: StateDict = new Map();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets: offsets } = (info ?? {}) as { dtype?: string; shape?: unknown; data_offsets?: unknown };
    const type = dtype ? DTYPES[dtype] : undefined;
    if (!type) throw new CheckpointError(`safetensors tensor '${name}' has dtype ${dtype}; eformer reads F32, F16, BF16 and I64`);
    const ints = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => Number.isSafeInteger(x) && x >= 0);
    if (!ints(shape) || !ints(offsets) || offsets.length !== 2) throw new CheckpointError(`corrupted safetensors file: bad shape or offsets for '${name}'`);
    const [begin, end] = offsets;
    const numel = shape.reduce((a, b) => a * b, 1);
    if (end < begin || end > dataLength) throw new CheckpointError(`corrupted safetensors file: '${name}' lies outside the file (bytes ${begin}-${end} of ${dataLength})`);
    if (end - begin !== numel * ELEMENT_SIZE[type]) throw new CheckpointError(`corrupted safetensors file: '${name}' is ${end - begin} bytes, its shape [${shape}] needs ${numel * ELEMENT_SIZE[type]}`);
    spans.push([begin, end, name]);
    out.set(name, { dtype: type, shape, data: typedView(bytes, dataStart + begin, numel, type) });
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][0] < spans[i - 1][1]) throw new CheckpointError(`corrupted safetensors file: '${spans[i][2]}' overlaps '${spans[i - 1][2]}'`);
  }
  return out;
}
