/**
 * Operator versions, by the rules of the TFLite converter (LiteRT's
 * tflite/converter/tools/versioning/op_version.cc, GetBuiltinOperatorVersion, at the commit named in
 * schema/README.md): an op's version is the lowest one whose kernel supports the features this use
 * of it needs (its tensor types, options, rank). A runtime refuses a model whose op versions it does
 * not register, so writing the lowest sufficient version is what keeps the file loadable by older
 * runtimes, and writing a higher one than needed is as wrong as a lower one.
 *
 * Only the ops eformer writes are listed; each case keeps the branches of op_version.cc that can
 * arise here (float32 / int8 / float16 tensors) in the same order.
 */
import { BuiltinOperator, type TfliteModel, type TfliteOperator, TensorType } from './model.js';

export function opVersion(model: TfliteModel, op: TfliteOperator): number {
  const tensor = (i: number) => model.tensors[i];
  const input = (k: number) => tensor(op.inputs[k]);
  const type = (k: number) => input(k).type;
  const outType = tensor(op.outputs[0]).type;
  const rank = (k: number) => input(k).shape.length;
  const int8 = type(0) === TensorType.INT8;
  const broadcastAbove4 = () => op.inputs.length >= 2 && input(0).shape.join() !== input(1).shape.join() && Math.max(rank(0), rank(1)) > 4;
  const options = op.options;
  switch (op.op) {
    case BuiltinOperator.CONV_2D: {
      const filter = input(1);
      // Grouped: the filter holds fewer input channels than the input (op_signature.cc).
      if (input(0).shape[3] !== filter.shape[3]) return 6;
      if (int8 && filter.type === TensorType.INT8 && outType === TensorType.INT8) return 3;
      return 1;
    }
    case BuiltinOperator.DEPTHWISE_CONV_2D:
      if (int8 && input(1).type === TensorType.INT8 && outType === TensorType.INT8) return 3;
      return 1;
    case BuiltinOperator.FULLY_CONNECTED:
      // No bias: 6; keep_num_dims: 5; int8: 4.
      // (An omitted bias written as -1 still counts as an input, as op_signature.cc reads it.)
      if (op.inputs.length === 2) return 6;
      if (options?.kind === 'fullyConnected' && options.keepNumDims) return 5;
      if (int8 && input(1).type === TensorType.INT8 && outType === TensorType.INT8) return 4;
      return 1;
    case BuiltinOperator.MUL: {
      if (type(0) === TensorType.FLOAT16) return 8;
      const q = [input(0), input(1), tensor(op.outputs[0])].map((t) => t.quantization?.scale[0] ?? 0);
      if (q.every((s) => s !== 0) && (q[0] * q[1]) / q[2] >= 1) return 3;
      return int8 ? 2 : 1;
    }
    case BuiltinOperator.ADD:
      if (type(0) === TensorType.FLOAT16) return 6;
      return int8 ? 2 : 1;
    case BuiltinOperator.SUB:
      if (broadcastAbove4()) return 3;
      return int8 ? 2 : 1;
    case BuiltinOperator.MAXIMUM:
    case BuiltinOperator.MINIMUM:
      if (broadcastAbove4()) return 3;
      return int8 ? 2 : 1;
    case BuiltinOperator.AVERAGE_POOL_2D:
    case BuiltinOperator.MAX_POOL_2D:
      return int8 ? 2 : 1;
    case BuiltinOperator.TRANSPOSE:
      if (type(0) === TensorType.FLOAT16) return 9;
      if (rank(0) > 6) return 8;
      if (rank(0) > 5) return 6;
      if (rank(0) > 4) return 4;
      return int8 ? 2 : 1;
    case BuiltinOperator.SPLIT:
      // The data is input 1 (input 0 is the axis).
      return type(1) === TensorType.INT8 ? 2 : 1;
    case BuiltinOperator.SLICE:
      if (type(0) === TensorType.FLOAT16) return 8;
      if (rank(0) > 4) return 5;
      return int8 ? 2 : 1;
    case BuiltinOperator.STRIDED_SLICE:
      if (rank(0) > 4) return 4;
      return int8 ? 2 : 1;
    case BuiltinOperator.DEQUANTIZE:
      if (type(0) === TensorType.FLOAT16) return 3;
      if (int8) return (input(0).quantization?.scale.length ?? 0) > 1 ? 5 : 2;
      return 1;
    case BuiltinOperator.QUANTIZE:
      return (tensor(op.outputs[0]).quantization?.scale.length ?? 0) > 1 ? 3 : 1;
    case BuiltinOperator.RESIZE_BILINEAR:
      if (options?.kind === 'resizeBilinear' && options.halfPixelCenters) return 3;
      return int8 ? 2 : 1;
    case BuiltinOperator.PAD:
      if (rank(0) > 4) return 4;
      return int8 ? 2 : 1;
    case BuiltinOperator.CONCATENATION:
      if (type(0) === TensorType.FLOAT16) return 6;
      return int8 ? 2 : 1;
    case BuiltinOperator.SOFTMAX:
      if (type(0) === TensorType.FLOAT16) return 4;
      return int8 ? 2 : 1;
    case BuiltinOperator.MEAN:
    case BuiltinOperator.RELU6:
    case BuiltinOperator.RSQRT:
      return int8 ? 2 : 1;
    case BuiltinOperator.RELU:
    case BuiltinOperator.ABS:
      return int8 || type(0) === TensorType.UINT8 ? 2 : 1;
    case BuiltinOperator.LOGISTIC:
    case BuiltinOperator.TANH:
      return int8 ? 2 : 1;
    case BuiltinOperator.SUM:
    case BuiltinOperator.SQUARED_DIFFERENCE:
      return int8 ? 2 : 1;
    case BuiltinOperator.EXP:
    case BuiltinOperator.LOG:
      return int8 ? 2 : 1;
    case BuiltinOperator.BATCH_MATMUL:
      return int8 ? 2 : 1;
    case BuiltinOperator.GELU:
      if (type(0) === TensorType.FLOAT16) return 3;
      return int8 || type(0) === TensorType.UINT8 ? 2 : 1;
    default:
      // RESHAPE, NEG, HARD_SWISH ...: one version.
      return 1;
  }
}
