/**
 * A TFLite model as plain data: tensors, operators, metadata. The lowering (lower.ts) builds one,
 * the writer (write.ts) turns it into FlatBuffer bytes. Operators name builtin ops only; their
 * versions are not stored here but derived at write time from the op, its options and its
 * tensors' types (versions.ts), as the TFLite converter's versioning rules do.
 */
import { BuiltinOperator } from './generated/tflite/builtin-operator.js';
import { TensorType } from './generated/tflite/tensor-type.js';

export { BuiltinOperator, TensorType };

export type Activation = 'NONE' | 'RELU' | 'RELU6';

export interface Quantization {
  scale: number[];
  zeroPoint: number[];
  /** The axis the scales run along when there is more than one (per-channel). */
  axis?: number;
}

export interface TfliteTensor {
  name: string;
  shape: number[];
  type: TensorType;
  /** Constant contents, little-endian, row-major; absent for activations. */
  data?: Uint8Array;
  quantization?: Quantization;
}

/** The builtin options of the operators eformer writes (only fields it sets; the rest keep the schema's defaults). */
export type OperatorOptions =
  | { kind: 'conv'; padding: 'SAME' | 'VALID'; stride: number; activation: Activation }
  | { kind: 'depthwise'; padding: 'SAME' | 'VALID'; stride: number; depthMultiplier: number; activation: Activation }
  | { kind: 'pool'; padding: 'SAME' | 'VALID'; stride: number; filter: number }
  | { kind: 'fullyConnected'; keepNumDims: boolean; activation: Activation }
  | { kind: 'batchMatMul'; adjX: boolean; adjY: boolean }
  | { kind: 'elementwise'; activation: Activation }
  | { kind: 'softmax'; beta: number }
  | { kind: 'concat'; axis: number }
  | { kind: 'reducer'; keepDims: boolean }
  | { kind: 'gelu'; approximate: boolean }
  | { kind: 'split'; numSplits: number }
  | { kind: 'resizeBilinear'; halfPixelCenters: boolean };

export interface TfliteOperator {
  op: BuiltinOperator;
  /** Tensor indices; -1 marks an optional input left out. */
  inputs: number[];
  outputs: number[];
  options?: OperatorOptions;
}

export interface TfliteModel {
  description: string;
  tensors: TfliteTensor[];
  operators: TfliteOperator[];
  /** The subgraph's inputs and outputs, with the names the signature gives them. */
  inputs: { name: string; tensor: number }[];
  outputs: { name: string; tensor: number }[];
  /** Metadata entries (name -> UTF-8 text), written in this order. */
  metadata: [string, string][];
  /** How the lowering holds each IR value: its tensor and layout (for diagnostics and tests; not written). */
  held?: ReadonlyMap<string, { tensor: number; layout: readonly number[] }>;
}

/** Bytes of a typed array, viewed (not copied). */
export function bytesOf(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
