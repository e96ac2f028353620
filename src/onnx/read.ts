/** ONNX models as backends take them, and a user's ONNX file read into one. */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, relative, resolve } from 'node:path';
import type { onnx as proto } from 'onnx-proto';
import { UsageError } from '../core/errors.js';
import { INPUT_LIMITS, readInputFile } from '../core/fs.js';
import { lazyRequire } from '../core/lazy.js';

const onnxProto = lazyRequire<typeof import('onnx-proto')>('onnx-proto');

export interface ModelInput {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int64';
}

/** A graph input as a runtime is fed it: graphs take float or index tensors, never quantised ones. */
export function modelInput(value: { name: string; shape: number[]; dtype: string }): ModelInput {
  if (value.dtype !== 'float32' && value.dtype !== 'int64') throw new Error(`graph input ${value.name} is ${value.dtype}; inputs are float32 or int64`);
  return { name: value.name, shape: value.shape, dtype: value.dtype };
}

/** A model ready to run: ONNX bytes and its input signature. */
export interface ModelSource {
  name: string;
  onnx: Uint8Array;
  inputs: ModelInput[];
  /**
   * Set when `onnx` is an int8 (QDQ) graph: the float graph it was quantised from and its
   * calibration, for backends that convert models themselves (Core ML quantises the float graph
   * W8A8 with the same inputs; its bridge does not read QDQ graphs).
   */
  int8?: { floatOnnx: Uint8Array; rgb: Uint8Array[]; tensors: Float32Array[]; ranges: Record<string, [number, number]> };
  /**
   * The same model as .tflite bytes, for backends that run LiteRT; written on first call (most runs
   * never need it). Absent for models eformer cannot write as .tflite (a user's ONNX file).
   */
  tflite?: () => Promise<Uint8Array>;
}

/** The most input values eformer fills for one run, over all of a model's inputs: 2^27 (512 MiB of float32), far beyond any vision model's input. */
export const MAX_INPUT_ELEMENTS = 2 ** 27;

/** Parse `name=1x3x224x224` (from --shape). */
export function parseShapeOption(value: string): [string, number[]] {
  const m = /^([^=]+)=(\d+(?:x\d+)*)$/.exec(value.trim());
  if (!m) throw new UsageError(`--shape must look like name=1x3x224x224, got '${value}'`);
  const dims = m[2].split('x').map(Number);
  if (dims.some((d) => d < 1)) throw new UsageError(`--shape ${value}: every dimension must be at least 1`);
  return [m[1], dims];
}

/** A model's counts as eformer records them in an export's metadata_props (`deployed` is the file's own initializers). */
export interface RecordedCounts {
  params: { toolbox: number; total: number; deployed: number };
  macs: { toolbox: number; standard: number };
}

/** The metadata_props eformer writes for a model's counts. */
export function countMetadata(c: { params: { toolbox: number; total: number }; macs: { toolbox: number; standard: number } }): Record<string, string> {
  return { params_toolbox: String(c.params.toolbox), params_total: String(c.params.total), macs_toolbox: String(c.macs.toolbox), macs_standard: String(c.macs.standard) };
}

/**
 * The counts an ONNX file's metadata holds, when it holds all of them as whole numbers (anyone can
 * write metadata: "lots", "-5", "1e400" or a 30-digit number mean no counts, not NaN or a guess).
 */
function countsOf(model: proto.ModelProto): RecordedCounts | undefined {
  const props = new Map((model.metadataProps ?? []).map((p) => [p.key, p.value]));
  const whole = (key: string) => {
    const v = props.get(key);
    return typeof v === 'string' && /^\d{1,16}$/.test(v) && Number.isSafeInteger(Number(v)) ? Number(v) : undefined;
  };
  const [toolbox, total, macs, standard] = ['params_toolbox', 'params_total', 'macs_toolbox', 'macs_standard'].map(whole);
  if (toolbox === undefined || total === undefined || macs === undefined || standard === undefined) return undefined;
  let deployed = 0;
  for (const t of model.graph?.initializer ?? []) deployed += (t.dims ?? []).reduce((a: number, d) => a * Number(d), 1);
  if (!Number.isSafeInteger(deployed)) return undefined;
  return { params: { toolbox, total, deployed }, macs: { toolbox: macs, standard } };
}

export function loadOnnxFile(path: string, overrides: Record<string, number[]> = {}): ModelSource & { counts?: RecordedCounts } {
  let bytes: Uint8Array = readInputFile(path, '--onnx model', INPUT_LIMITS.onnx);
  const { onnx } = onnxProto();
  const INT64 = onnx.TensorProto.DataType.INT64;
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  let model: proto.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch {
    throw new UsageError(`'${path}' is not an ONNX model (protobuf decoding failed)`);
  }
  const graph = model.graph;
  if (!graph?.node?.length) throw new UsageError(`'${path}' is not an ONNX model (no graph)`);
  // Weights kept in files beside the model are read into it, so every backend gets one self-contained model.
  if (inlineExternalData(model, path)) bytes = onnx.ModelProto.encode(model).finish();
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  const declaredInputs = (graph.input ?? []).filter((i) => !initializers.has(i.name));
  // A --shape for an input the model does not have is the first thing to say, before any other complaint.
  for (const name of Object.keys(overrides)) {
    if (!declaredInputs.some((i) => i.name === name)) throw new UsageError(`--shape names '${name}', but ${basename(path)} has no such input; its inputs: ${declaredInputs.map((i) => i.name).join(', ')}`);
  }
  const inputs: ModelInput[] = declaredInputs.map((i) => {
    const name = i.name ?? '';
    const tensor = i.type?.tensorType;
    const elem = tensor?.elemType;
    if (elem !== FLOAT && elem !== INT64) throw new UsageError(`${path}: input '${name}' has element type ${elem}; eformer fills float32 and int64 inputs`);
    const declared = (tensor?.shape?.dim ?? []).map((d: proto.TensorShapeProto.IDimension) => (d.dimValue != null && Number(d.dimValue) > 0 ? Number(d.dimValue) : undefined));
    const shape = overrides[name] ?? declared;
    if (shape.some((d) => d === undefined)) {
      const dims = (tensor?.shape?.dim ?? []).map((d) => d.dimParam || d.dimValue).join('x');
      throw new UsageError(`${path}: input '${name}' has a dynamic shape [${dims}]; give it with --shape ${name}=1x3x224x224`);
    }
    return { name, shape: shape as number[], dtype: elem === INT64 ? 'int64' : 'float32' };
  });
  // Every input is filled at once (the batch is part of each shape): their sum is what is allocated.
  const sizes = inputs.map((i) => i.shape.reduce((a, b) => a * b, 1));
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total > MAX_INPUT_ELEMENTS) {
    const listed = inputs.slice(0, 3).map((i, k) => `'${i.name}' ${i.shape.join('x')}`);
    const each = `${listed.join(', ')}${inputs.length > 3 ? ` and ${inputs.length - 3} more` : ''}`;
    throw new UsageError(`${path}: its inputs hold ${total} values in all (${each}); eformer feeds at most ${MAX_INPUT_ELEMENTS} (${MAX_INPUT_ELEMENTS / 2 ** 20} Mi) over all inputs`);
  }
  return { name: basename(path).replace(/\.onnx$/, ''), onnx: bytes, inputs, counts: countsOf(model) };
}

// ---- external data ------------------------------------------------------------------------

/** Bytes per element of each ONNX tensor type with a fixed size (4-bit types: half a byte). */
const ELEMENT_BYTES: Record<number, number> = {
  1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 14: 8, 15: 16, 16: 2, 17: 1, 18: 1, 19: 1, 20: 1, 21: 0.5, 22: 0.5, 23: 0.5,
};
/** Protocol buffers cannot encode a message of 2 GiB or more: the model with its data inlined must stay below. */
const MAX_MODEL_BYTES = 2 ** 31 - 1;
/** Subgraphs (If, Loop, Scan bodies) nest; a file nesting deeper than this is not a model. */
const MAX_GRAPH_DEPTH = 64;

/** Every tensor a model holds: initializers and tensor attributes, in subgraphs too. */
function* tensorsOf(graph: proto.IGraphProto, path: string, depth = 0): Generator<proto.ITensorProto> {
  if (depth > MAX_GRAPH_DEPTH) throw new UsageError(`'${path}' nests subgraphs more than ${MAX_GRAPH_DEPTH} deep`);
  yield* graph.initializer ?? [];
  for (const node of graph.node ?? []) {
    for (const a of node.attribute ?? []) {
      if (a.t) yield a.t;
      yield* a.tensors ?? [];
      for (const g of [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]) yield* tensorsOf(g, path, depth + 1);
    }
  }
}

/**
 * Read the initializers an ONNX file keeps in external data files into the model itself (the
 * spec's rule: `location` is relative to the model's folder, not the current one). onnxruntime
 * given the bytes alone would look in the current folder and load whatever file of that name is
 * there. Every reference is checked before anything is read: a location inside the model's folder
 * (links are followed, as onnxruntime does, so a Hugging Face cache's linked blobs load), a
 * regular file, an offset and length inside it, a length that matches the tensor's shape and type,
 * and a total that protocol buffers can still encode. Returns whether the model changed.
 */
export function inlineExternalData(model: proto.IModelProto, path: string): boolean {
  const { onnx } = onnxProto();
  const EXTERNAL = onnx.TensorProto.DataLocation.EXTERNAL;
  const dir = dirname(resolve(path));
  const external = [...tensorsOf(model.graph ?? {}, path)].filter((t) => t.dataLocation === EXTERNAL);
  if (external.length === 0) return false;
  const files = new Map<string, { fd: number; size: number }>();
  let total = statSync(path).size;
  try {
    for (const tensor of external) {
      const name = tensor.name ?? '(unnamed)';
      const entries = Object.fromEntries((tensor.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
      const where = `${basename(path)}: initializer '${name}'`;
      const location = entries.location;
      if (!location) throw new UsageError(`${where} is stored externally but names no file`);
      const file = resolve(dir, location);
      const inside = relative(dir, file);
      if (isAbsolute(location) || inside.startsWith('..') || isAbsolute(inside)) throw new UsageError(`${where}: its data file '${location}' is outside the model's folder; external data must sit beside the model`);
      let opened = files.get(file);
      if (!opened) {
        let size: number;
        try {
          const st = statSync(file);
          if (!st.isFile()) throw new UsageError(`${where}: its data file '${location}' is not a regular file`);
          size = st.size;
          opened = { fd: openSync(file, 'r'), size };
        } catch (err) {
          if (err instanceof UsageError) throw err;
          throw new UsageError(`${where}: cannot read its data file '${location}' beside the model: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        }
        files.set(file, opened);
      }
      const offset = wholeNumber(entries.offset ?? '0', `${where}: offset`);
      const length = entries.length === undefined ? opened.size - offset : wholeNumber(entries.length, `${where}: length`);
      if (offset + length > opened.size) throw new UsageError(`${where}: bytes ${offset} to ${offset + length} of '${location}' are asked for, but it holds ${opened.size}`);
      const elements = (tensor.dims ?? []).reduce((n: number, d) => n * Number(d), 1);
      const perElement = ELEMENT_BYTES[tensor.dataType ?? 0];
      if (perElement !== undefined && Math.ceil(elements * perElement) !== length) {
        throw new UsageError(`${where}: ${length} bytes in '${location}' for a tensor of shape [${(tensor.dims ?? []).join(', ')}] that needs ${Math.ceil(elements * perElement)}`);
      }
      total += length;
      if (total > MAX_MODEL_BYTES) throw new UsageError(`${basename(path)} with its external data is over 2 GiB; eformer reads models up to 2 GiB`);
      const data = new Uint8Array(length);
      if (length > 0 && readSync(opened.fd, data, 0, length, offset) !== length) throw new UsageError(`${where}: '${location}' ended before byte ${offset + length}`);
      tensor.rawData = data;
      tensor.externalData = [];
      tensor.dataLocation = onnx.TensorProto.DataLocation.DEFAULT;
    }
  } finally {
    for (const { fd } of files.values()) closeSync(fd);
  }
  return true;
}

function wholeNumber(text: string, what: string): number {
  if (!/^\d{1,15}$/.test(text)) throw new UsageError(`${what} is '${text}', not a whole number of bytes`);
  return Number(text);
}
