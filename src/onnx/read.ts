/** ONNX models as backends take them, and a user's ONNX file read into one. */
import { basename } from 'node:path';
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
}

/** The largest input eformer fills: 2^27 elements (512 MiB of float32), far beyond any vision model's input. */
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
  const bytes = readInputFile(path, '--onnx model', INPUT_LIMITS.onnx);
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
    const elements = (shape as number[]).reduce((a, b) => a * b, 1);
    if (elements > MAX_INPUT_ELEMENTS) throw new UsageError(`${path}: input '${name}' of shape ${(shape as number[]).join('x')} has ${elements} elements; eformer feeds at most ${MAX_INPUT_ELEMENTS} (${MAX_INPUT_ELEMENTS / 2 ** 20} Mi) per input`);
    return { name, shape: shape as number[], dtype: elem === INT64 ? 'int64' : 'float32' };
  });
  return { name: basename(path).replace(/\.onnx$/, ''), onnx: bytes, inputs, counts: countsOf(model) };
}
