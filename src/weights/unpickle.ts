/**
 * A restricted unpickler for PyTorch state dicts.
 *
 * Python's pickle can call any importable function while loading (that is how `torch.load`
 * of an untrusted file runs its code). This reader interprets the opcodes itself and knows
 * only the handful of globals a state_dict needs: OrderedDict, the tensor and parameter
 * rebuild functions, and the storage types of float32 / float16 / bfloat16 / int64. Any
 * other global stops the load with an error naming it; nothing in the file is ever executed.
 */
import { CheckpointError } from './errors.js';
import type { StoredDType } from './tensor.js';

/** A tensor as the pickle describes it; the caller fetches its storage bytes. */
export interface TensorRef {
  kind: 'tensor';
  storage: StorageRef;
  offset: number;
  shape: number[];
  stride: number[];
}

export interface StorageRef {
  kind: 'storage';
  dtype: StoredDType;
  key: string;
  numel: number;
}

/** `collections.OrderedDict` and plain dicts both load as Map. */
export type PickleValue = null | boolean | number | bigint | string | Uint8Array | PickleValue[] | Map<PickleValue, PickleValue> | TensorRef | StorageRef | Global | Mark;

interface Global {
  kind: 'global';
  name: string;
}

class Mark {
  readonly kind = 'mark';
}

const STORAGE_TYPES: Record<string, StoredDType> = {
  'torch FloatStorage': 'float32',
  'torch HalfStorage': 'float16',
  'torch BFloat16Storage': 'bfloat16',
  'torch LongStorage': 'int64',
};

/**
 * argparse.Namespace: training scripts (DeiT's main.py and the FcaFormer and VCMamba repos after it)
 * save their command line beside the weights. It loads as an empty dict: its state is dropped
 * unread, like OrderedDict's `_metadata`, so nothing it holds is ever built.
 */
const ALLOWED = new Set(['collections OrderedDict', 'torch._utils _rebuild_tensor_v2', 'torch._utils _rebuild_parameter', 'argparse Namespace', ...Object.keys(STORAGE_TYPES)]);

/** Limits that keep a hostile pickle from exhausting memory before it fails. */
const MAX_ITEMS = 10_000_000;

export function unpickle(bytes: Uint8Array): PickleValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: PickleValue[] = [];
  const memo = new Map<number, PickleValue>();
  let pos = 0;

  const need = (n: number) => {
    if (n < 0 || pos + n > bytes.length) throw new CheckpointError('corrupted pickle: it ends in the middle of an instruction');
  };
  const u8 = () => (need(1), bytes[pos++]);
  const u16 = () => (need(2), (pos += 2), view.getUint16(pos - 2, true));
  const i32 = () => (need(4), (pos += 4), view.getInt32(pos - 4, true));
  const u32 = () => (need(4), (pos += 4), view.getUint32(pos - 4, true));
  const u64 = () => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(bytes.length)) throw new CheckpointError('corrupted pickle: a length runs past the end of the file');
    return Number(v);
  };
  const take = (n: number) => {
    need(n);
    pos += n;
    return bytes.subarray(pos - n, pos);
  };
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) throw new CheckpointError('corrupted pickle: unterminated name');
    const s = new TextDecoder().decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const utf8 = (n: number) => new TextDecoder().decode(take(n));
  const pop = (): PickleValue => {
    if (stack.length === 0) throw new CheckpointError('corrupted pickle: stack underflow');
    return stack.pop()!;
  };
  const popToMark = (): PickleValue[] => {
    for (let i = stack.length - 1; i >= 0; i--) {
      if (stack[i] instanceof Mark) {
        const items = stack.splice(i);
        return items.slice(1);
      }
    }
    throw new CheckpointError('corrupted pickle: no mark');
  };
  const top = (): PickleValue => {
    if (stack.length === 0) throw new CheckpointError('corrupted pickle: stack underflow');
    return stack[stack.length - 1];
  };
  const global = (name: string): Global => {
    if (!ALLOWED.has(name)) {
      throw new CheckpointError(`refusing to load: the pickle asks for '${name.replace(' ', '.')}', which a state_dict never needs (nothing was executed)`);
    }
    return { kind: 'global', name };
  };
  const setItems = (target: PickleValue, items: PickleValue[]) => {
    if (!(target instanceof Map)) throw new CheckpointError('corrupted pickle: SETITEMS on a non-dict');
    for (let i = 0; i + 1 < items.length; i += 2) target.set(items[i], items[i + 1]);
  };
  const append = (target: PickleValue, items: PickleValue[]) => {
    if (!Array.isArray(target)) throw new CheckpointError('corrupted pickle: APPEND on a non-list');
    if (target.length + items.length > MAX_ITEMS) throw new CheckpointError('corrupted pickle: list too long');
    // One by one: spreading a long APPENDS into push() overflows the call stack.
    for (const item of items) target.push(item);
  };

  for (;;) {
    const at = pos;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        u8();
        break;
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: // STOP
        return pop();
      case 0x28: // MARK
        stack.push(new Mark());
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x74: // TUPLE
        stack.push(popToMark());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x8a: {
        // LONG1: little-endian two's complement
        const n = u8();
        const raw = take(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(raw[i]);
        if (n > 0 && raw[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x58: // BINUNICODE
        stack.push(utf8(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8(u64()));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()));
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const key = op === 0x68 ? u8() : u32();
        if (!memo.has(key)) throw new CheckpointError(`corrupted pickle: memo ${key} is not set`);
        stack.push(memo.get(key)!);
        break;
      }
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        stack.push(global(`${module} ${line()}`));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof name !== 'string' || typeof module !== 'string') throw new CheckpointError('corrupted pickle: STACK_GLOBAL without names');
        stack.push(global(`${module} ${name}`));
        break;
      }
      case 0x51: // BINPERSID
        stack.push(persistent(pop()));
        break;
      case 0x52: {
        // REDUCE
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x62: {
        // BUILD: only OrderedDict's `_metadata` and a Namespace's arguments reach here; drop them.
        pop();
        if (!(top() instanceof Map)) throw new CheckpointError('refusing to load: BUILD on an object a state_dict does not contain');
        break;
      }
      case 0x73: {
        // SETITEM
        const value = pop();
        const key = pop();
        setItems(top(), [key, value]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popToMark();
        setItems(top(), items);
        break;
      }
      case 0x61: {
        // APPEND
        const item = pop();
        append(top(), [item]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popToMark();
        append(top(), items);
        break;
      }
      default:
        throw new CheckpointError(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${at}: not a PyTorch state_dict`);
    }
  }
}

/** `('storage', StorageType, key, location, numel)` from torch.save's persistent_id. */
function persistent(pid: PickleValue): StorageRef {
  if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) throw new CheckpointError('corrupted pickle: unknown persistent id');
  const [, type, key, , numel] = pid;
  const dtype = (type as Global)?.kind === 'global' ? STORAGE_TYPES[(type as Global).name] : undefined;
  if (!dtype) throw new CheckpointError('corrupted pickle: persistent id without a storage type');
  if (typeof key !== 'string' || typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) {
    throw new CheckpointError('corrupted pickle: bad storage key or size');
  }
  return { kind: 'storage', dtype, key, numel };
}

/** A size, offset or stride: a whole number a tensor can have (NaN, Infinity, -1 and 2^60 are not). */
const isIndex = (x: PickleValue): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
const isInts = (v: PickleValue): v is number[] => Array.isArray(v) && v.every(isIndex);

function call(fn: PickleValue, args: PickleValue): PickleValue {
  if ((fn as Global)?.kind !== 'global' || !Array.isArray(args)) throw new CheckpointError('corrupted pickle: call of a non-function');
  switch ((fn as Global).name) {
    case 'collections OrderedDict': {
      const map = new Map<PickleValue, PickleValue>();
      const pairs = args[0];
      if (Array.isArray(pairs)) for (const p of pairs) if (Array.isArray(p) && p.length === 2) map.set(p[0], p[1]);
      return map;
    }
    case 'torch._utils _rebuild_tensor_v2': {
      const [storage, offset, shape, stride] = args;
      if ((storage as StorageRef)?.kind !== 'storage') throw new CheckpointError('corrupted pickle: a tensor without a storage');
      const bad = !isIndex(offset) ? 'storage offset' : !isInts(shape) ? 'shape' : !isInts(stride) || stride.length !== shape.length ? 'strides' : undefined;
      if (bad) throw new CheckpointError(`corrupted pickle: a tensor's ${bad} is not made of whole numbers of 0 or more (one per dimension)`);
      return { kind: 'tensor', storage: storage as StorageRef, offset: offset as number, shape: shape as number[], stride: stride as number[] };
    }
    case 'argparse Namespace':
      return new Map();
    case 'torch._utils _rebuild_parameter': {
      const data = args[0];
      if ((data as TensorRef)?.kind !== 'tensor') throw new CheckpointError('corrupted pickle: parameter without a tensor');
      return data;
    }
    default:
      throw new CheckpointError(`refusing to load: '${(fn as Global).name.replace(' ', '.')}' cannot be called`);
  }
}
