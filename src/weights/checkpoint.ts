/**
 * Open a checkpoint file of any supported kind and return its state_dict: PyTorch zip
 * (.pth/.pt, through the restricted unpickler) or safetensors; unwrapped from the dicts
 * training scripts save ({"model": sd}, {"state_dict": sd}, {"model_ema": sd}) and with a
 * DistributedDataParallel `module.` prefix removed.
 */
import { INPUT_LIMITS, readInputFile } from '../core/fs.js';
import { CheckpointError } from './errors.js';
import { decodeSafetensors } from './safetensors.js';
import type { StateDict, StoredTensor } from './tensor.js';
import { readTorchZip } from './torch-zip.js';
import { isZip } from './zip.js';

export interface Checkpoint {
  path: string;
  format: 'pytorch-zip' | 'safetensors';
  /** Which wrapper key held the weights, or 'none' for a bare state_dict. */
  wrapper: string;
  stateDict: StateDict;
}

const WRAPPERS = ['model', 'state_dict', 'model_ema'];

const isTensor = (v: unknown): v is StoredTensor => typeof v === 'object' && v !== null && 'dtype' in v && 'shape' in v && 'data' in v;

function looksLikeSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 10) return false;
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  return n > 1n && n <= BigInt(bytes.length - 8) && bytes[8] === 0x7b; // '{'
}

export function readCheckpointBytes(bytes: Uint8Array, path = 'checkpoint'): Checkpoint {
  if (isZip(bytes)) {
    const root = readTorchZip(bytes);
    const { wrapper, dict } = unwrap(root);
    return { path, format: 'pytorch-zip', wrapper, stateDict: stripDdpPrefix(toStateDict(dict)) };
  }
  if (looksLikeSafetensors(bytes)) return { path, format: 'safetensors', wrapper: 'none', stateDict: stripDdpPrefix(decodeSafetensors(bytes)) };
  if (bytes[0] === 0x80) throw new CheckpointError(`${path} is a legacy (pre-1.6) PyTorch file; re-save it with torch.save (zip format) or as safetensors`);
  throw new CheckpointError(`${path} is neither a PyTorch zip checkpoint nor a safetensors file`);
}

export function readCheckpoint(path: string): Checkpoint {
  const bytes = readInputFile(path, '--ckpt checkpoint', INPUT_LIMITS.checkpoint);
  try {
    return readCheckpointBytes(bytes, path);
  } catch (err) {
    if (err instanceof CheckpointError && !err.message.startsWith(path)) throw new CheckpointError(`${path}: ${err.message}`);
    throw err;
  }
}

function unwrap(root: unknown): { wrapper: string; dict: Map<unknown, unknown> } {
  if (!(root instanceof Map)) throw new CheckpointError('the checkpoint holds no dict of tensors');
  for (const key of WRAPPERS) {
    const inner = root.get(key);
    if (inner instanceof Map) return { wrapper: key, dict: inner };
  }
  return { wrapper: 'none', dict: root };
}

function toStateDict(dict: Map<unknown, unknown>): StateDict {
  const sd: StateDict = new Map();
  for (const [key, value] of dict) {
    if (typeof key !== 'string' || !isTensor(value)) {
      throw new CheckpointError(`the checkpoint's state_dict has a non-tensor entry '${String(key)}'; expected {"model": state_dict}, {"state_dict": ...}, {"model_ema": ...} or a bare state_dict`);
    }
    sd.set(key, value);
  }
  if (sd.size === 0) throw new CheckpointError('the checkpoint holds no tensors');
  return sd;
}

function stripDdpPrefix(sd: StateDict): StateDict {
  const keys = [...sd.keys()];
  if (!keys.every((k) => k.startsWith('module.'))) return sd;
  return new Map([...sd].map(([k, v]) => [k.slice('module.'.length), v]));
}
