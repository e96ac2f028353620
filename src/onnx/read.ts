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

/** A model ready to run: ONNX bytes and its input signature. */
export interface ModelSource {
  name: string;
  onnx: Uint8Array;
  inputs: ModelInput[];
}

/** Parse `name=1x3x224x224` (from --shape). */
export function parseShapeOption(value: string): [string, number[]] {
  const m = /^([^=]+)=(\d+(?:x\d+)*)$/.exec(value.trim());
  if (!m) throw new UsageError(`--shape must look like name=1x3x224x224, got '${value}'`);
  return [m[1], m[2].split('x').map(Number)];
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
  const inputs: ModelInput[] = (graph.input ?? [])
    .filter((i) => !initializers.has(i.name))
    .map((i) => {
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
  for (const name of Object.keys(overrides)) {
    if (!inputs.some((i) => i.name === name)) throw new UsageError(`--shape names '${name}', but ${basename(path)} has inputs: ${inputs.map((i) => i.name).join(', ')}`);
  }
  return { name: basename(path).replace(/\.onnx$/, ''), onnx: bytes, inputs };
}
