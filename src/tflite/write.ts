/**
 * A TfliteModel -> .tflite bytes, with the npm `flatbuffers` builder and the classes flatc generated
 * from LiteRT's schema (generated/, see its README).
 *
 * What the file must be for LiteRT, and why the code below takes care of it:
 * - Buffer 0 is the empty sentinel every activation tensor points at; constants get one buffer each.
 * - Every constant's bytes start on a 16-byte boundary of the file (the schema's force_align: 16;
 *   XNNPACK and mmap'ed loading rely on it). The generated createDataVector ignores the alignment
 *   and writes byte by byte, so constants are written here with the builder's prep().
 * - No empty vectors where the schema means "absent": an operator with custom_options (even empty)
 *   is taken for a custom op, so operators carry only builtin options.
 * - Deterministic: the same model gives the same bytes (no timestamps, insertion-ordered maps).
 */
import { Builder } from 'flatbuffers';
import { ActivationFunctionType } from './generated/tflite/activation-function-type.js';
import { AddOptions } from './generated/tflite/add-options.js';
import { BatchMatMulOptions } from './generated/tflite/batch-mat-mul-options.js';
import { Buffer } from './generated/tflite/buffer.js';
import { BuiltinOptions } from './generated/tflite/builtin-options.js';
import { ConcatenationOptions } from './generated/tflite/concatenation-options.js';
import { Conv2DOptions } from './generated/tflite/conv2-doptions.js';
import { DepthwiseConv2DOptions } from './generated/tflite/depthwise-conv2-doptions.js';
import { FullyConnectedOptions } from './generated/tflite/fully-connected-options.js';
import { FullyConnectedOptionsWeightsFormat } from './generated/tflite/fully-connected-options-weights-format.js';
import { GeluOptions } from './generated/tflite/gelu-options.js';
import { Metadata } from './generated/tflite/metadata.js';
import { Model } from './generated/tflite/model.js';
import { MulOptions } from './generated/tflite/mul-options.js';
import { Operator } from './generated/tflite/operator.js';
import { OperatorCode } from './generated/tflite/operator-code.js';
import { Padding } from './generated/tflite/padding.js';
import { Pool2DOptions } from './generated/tflite/pool2-doptions.js';
import { QuantizationParameters } from './generated/tflite/quantization-parameters.js';
import { ReducerOptions } from './generated/tflite/reducer-options.js';
import { ResizeBilinearOptions } from './generated/tflite/resize-bilinear-options.js';
import { SignatureDef } from './generated/tflite/signature-def.js';
import { SoftmaxOptions } from './generated/tflite/softmax-options.js';
import { SplitOptions } from './generated/tflite/split-options.js';
import { SubGraph } from './generated/tflite/sub-graph.js';
import { SubOptions } from './generated/tflite/sub-options.js';
import { Tensor } from './generated/tflite/tensor.js';
import { TensorMap } from './generated/tflite/tensor-map.js';
import { type Activation, BuiltinOperator, type OperatorOptions, type TfliteModel, type TfliteOperator } from './model.js';
import { opVersion } from './versions.js';

/** The schema version the file declares (schema.fbs: "Version 3"). */
const SCHEMA_VERSION = 3;
/** Alignment of every constant's bytes in the file. */
export const BUFFER_ALIGNMENT = 16;
/** deprecated_builtin_code holds codes up to 127; larger ones write this and the real code in builtin_code. */
const PLACEHOLDER_FOR_GREATER_OP_CODES = 127;

const ACTIVATION: Record<Activation, ActivationFunctionType> = { NONE: ActivationFunctionType.NONE, RELU: ActivationFunctionType.RELU, RELU6: ActivationFunctionType.RELU6 };
const PADDING = { SAME: Padding.SAME, VALID: Padding.VALID } as const;

/** A byte vector whose first byte lands on a BUFFER_ALIGNMENT boundary of the finished file. */
function alignedBytes(builder: Builder, bytes: Uint8Array): number {
  // prep() pads so that, once `bytes.length` more bytes are written, the position is aligned; the
  // vector's data then starts there. finish() pads the whole file to the largest alignment used,
  // so an offset aligned from the end is aligned from the start too.
  builder.prep(BUFFER_ALIGNMENT, bytes.length);
  return builder.createByteVector(bytes);
}

function elementwiseOptions(builder: Builder, op: BuiltinOperator, activation: ActivationFunctionType): [BuiltinOptions, number] {
  if (op === BuiltinOperator.ADD) return [BuiltinOptions.AddOptions, AddOptions.createAddOptions(builder, activation, false)];
  if (op === BuiltinOperator.SUB) return [BuiltinOptions.SubOptions, SubOptions.createSubOptions(builder, activation, false)];
  if (op === BuiltinOperator.MUL) return [BuiltinOptions.MulOptions, MulOptions.createMulOptions(builder, activation)];
  throw new Error(`elementwise options on ${BuiltinOperator[op]}`);
}

/** The builtin options table of an operator, or none. */
function builtinOptions(builder: Builder, op: TfliteOperator): [BuiltinOptions, number] | undefined {
  const o: OperatorOptions | undefined = op.options;
  if (!o) return undefined;
  switch (o.kind) {
    case 'conv':
      return [BuiltinOptions.Conv2DOptions, Conv2DOptions.createConv2DOptions(builder, PADDING[o.padding], o.stride, o.stride, ACTIVATION[o.activation], 1, 1, 0)];
    case 'depthwise':
      return [BuiltinOptions.DepthwiseConv2DOptions, DepthwiseConv2DOptions.createDepthwiseConv2DOptions(builder, PADDING[o.padding], o.stride, o.stride, o.depthMultiplier, ACTIVATION[o.activation], 1, 1)];
    case 'pool':
      return [BuiltinOptions.Pool2DOptions, Pool2DOptions.createPool2DOptions(builder, PADDING[o.padding], o.stride, o.stride, o.filter, o.filter, ActivationFunctionType.NONE)];
    case 'fullyConnected':
      return [
        BuiltinOptions.FullyConnectedOptions,
        FullyConnectedOptions.createFullyConnectedOptions(builder, ACTIVATION[o.activation], FullyConnectedOptionsWeightsFormat.DEFAULT, o.keepNumDims, false, 0),
      ];
    case 'batchMatMul':
      return [BuiltinOptions.BatchMatMulOptions, BatchMatMulOptions.createBatchMatMulOptions(builder, o.adjX, o.adjY, false)];
    case 'elementwise':
      return elementwiseOptions(builder, op.op, ACTIVATION[o.activation]);
    case 'softmax':
      return [BuiltinOptions.SoftmaxOptions, SoftmaxOptions.createSoftmaxOptions(builder, o.beta)];
    case 'concat':
      return [BuiltinOptions.ConcatenationOptions, ConcatenationOptions.createConcatenationOptions(builder, o.axis, ActivationFunctionType.NONE)];
    case 'reducer':
      return [BuiltinOptions.ReducerOptions, ReducerOptions.createReducerOptions(builder, o.keepDims)];
    case 'gelu':
      return [BuiltinOptions.GeluOptions, GeluOptions.createGeluOptions(builder, o.approximate)];
    case 'split':
      return [BuiltinOptions.SplitOptions, SplitOptions.createSplitOptions(builder, o.numSplits)];
    case 'resizeBilinear':
      return [BuiltinOptions.ResizeBilinearOptions, ResizeBilinearOptions.createResizeBilinearOptions(builder, false, o.halfPixelCenters)];
  }
}

/** Serialise `model`. */
export function writeTflite(model: TfliteModel): Uint8Array {
  const constantBytes = model.tensors.reduce((sum, t) => sum + (t.data?.length ?? 0) + BUFFER_ALIGNMENT, 0);
  // Room for every constant up front: the builder doubles and copies when it runs out.
  const builder = new Builder(constantBytes + 1024 * 1024);
  const text = new TextEncoder();

  // Buffers: 0 the empty sentinel, then one per constant tensor, then one per metadata entry.
  const buffers: number[] = [Buffer.createBuffer(builder, 0, 0n, 0n)];
  const bufferOf = model.tensors.map((t) => {
    if (!t.data) return 0;
    buffers.push(Buffer.createBuffer(builder, alignedBytes(builder, t.data), 0n, 0n));
    return buffers.length - 1;
  });
  const metadata = model.metadata.map(([name, value]) => {
    buffers.push(Buffer.createBuffer(builder, alignedBytes(builder, text.encode(value)), 0n, 0n));
    return Metadata.createMetadata(builder, builder.createString(name), buffers.length - 1);
  });

  const tensors = model.tensors.map((t, i) => {
    const name = builder.createString(t.name);
    const shape = Tensor.createShapeVector(builder, t.shape);
    let quantization = 0;
    if (t.quantization) {
      const q = t.quantization;
      const scale = QuantizationParameters.createScaleVector(builder, q.scale);
      const zeroPoint = QuantizationParameters.createZeroPointVector(builder, q.zeroPoint.map(BigInt));
      QuantizationParameters.startQuantizationParameters(builder);
      QuantizationParameters.addScale(builder, scale);
      QuantizationParameters.addZeroPoint(builder, zeroPoint);
      if (q.axis !== undefined) QuantizationParameters.addQuantizedDimension(builder, q.axis);
      quantization = QuantizationParameters.endQuantizationParameters(builder);
    }
    Tensor.startTensor(builder);
    Tensor.addShape(builder, shape);
    Tensor.addType(builder, t.type);
    Tensor.addBuffer(builder, bufferOf[i]);
    Tensor.addName(builder, name);
    if (quantization) Tensor.addQuantization(builder, quantization);
    return Tensor.endTensor(builder);
  });

  // Operator codes: one per (op, version), in order of first use.
  const codes = new Map<string, { op: BuiltinOperator; version: number; index: number }>();
  const codeOf = model.operators.map((op) => {
    const version = opVersion(model, op);
    const key = `${op.op}/${version}`;
    if (!codes.has(key)) codes.set(key, { op: op.op, version, index: codes.size });
    return codes.get(key)!.index;
  });
  const operatorCodes = [...codes.values()].map((c) => OperatorCode.createOperatorCode(builder, Math.min(c.op, PLACEHOLDER_FOR_GREATER_OP_CODES), 0, c.version, c.op));

  const operators = model.operators.map((op, i) => {
    const inputs = Operator.createInputsVector(builder, op.inputs);
    const outputs = Operator.createOutputsVector(builder, op.outputs);
    const options = builtinOptions(builder, op);
    Operator.startOperator(builder);
    Operator.addOpcodeIndex(builder, codeOf[i]);
    Operator.addInputs(builder, inputs);
    Operator.addOutputs(builder, outputs);
    if (options) {
      Operator.addBuiltinOptionsType(builder, options[0]);
      Operator.addBuiltinOptions(builder, options[1]);
    }
    return Operator.endOperator(builder);
  });

  const subgraph = SubGraph.createSubGraph(
    builder,
    SubGraph.createTensorsVector(builder, tensors),
    SubGraph.createInputsVector(builder, model.inputs.map((i) => i.tensor)),
    SubGraph.createOutputsVector(builder, model.outputs.map((o) => o.tensor)),
    SubGraph.createOperatorsVector(builder, operators),
    builder.createString('main'),
    0,
  );
  const tensorMaps = (list: { name: string; tensor: number }[]) => list.map((m) => TensorMap.createTensorMap(builder, builder.createString(m.name), m.tensor));
  const signature = SignatureDef.createSignatureDef(
    builder,
    SignatureDef.createInputsVector(builder, tensorMaps(model.inputs)),
    SignatureDef.createOutputsVector(builder, tensorMaps(model.outputs)),
    builder.createString('serving_default'),
    0,
  );

  const root = Model.createModel(
    builder,
    SCHEMA_VERSION,
    Model.createOperatorCodesVector(builder, operatorCodes),
    Model.createSubgraphsVector(builder, [subgraph]),
    builder.createString(model.description),
    Model.createBuffersVector(builder, buffers),
    0,
    metadata.length ? Model.createMetadataVector(builder, metadata) : 0,
    Model.createSignatureDefsVector(builder, [signature]),
    0,
    0,
  );
  Model.finishModelBuffer(builder, root);
  return builder.asUint8Array();
}
