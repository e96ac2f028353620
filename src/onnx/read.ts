/** ONNX models as backends take them, and a user's ONNX file read into one. */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { onnx as proto } from 'onnx-proto';
import { UsageError } from '../core/errors.js';
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
  tflite?: () => Uint8Array;
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

export function loadOnnxFile(path: string, overrides: Record<string, number[]> = {}): ModelSource {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new UsageError(`cannot read '${path}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
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
  return { name: basename(path).replace(/\.onnx$/, ''), onnx: bytes, inputs };
}
