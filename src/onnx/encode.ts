/**
 * Lowered ONNX graph -> protobuf bytes, with every weight in `raw_data`, so a 330 MB model is
 * one copy, not 80 M varints. onnx-proto (protobufjs) loads on first use.
 */
import type { onnx as proto } from 'onnx-proto';
import { lazyRequire } from '../core/lazy.js';
import type { Attr, OnnxGraph, OnnxInitializer } from './lower.js';

// onnx-proto is CommonJS: its namespace is the module's `onnx` export.
const onnxProto = lazyRequire<typeof import('onnx-proto')>('onnx-proto');

/** The IR version each opset needs (from ONNX's versioning table). */
function irVersionFor(opset: number): number {
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

function attribute(name: string, value: Attr): proto.IAttributeProto {
  const AttrType = onnxProto().onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return { name, type: AttrType.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: AttrType.INTS, ints: value };
  if (typeof value === 'object') return { name, type: AttrType.FLOAT, f: value.float };
  return { name, type: AttrType.INT, i: value };
}

function valueInfo(name: string, shape: number[]): proto.IValueInfoProto {
  const DataType = onnxProto().onnx.TensorProto.DataType;
  return { name, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: shape.map((d) => ({ dimValue: d })) } } } };
}

function tensor(init: OnnxInitializer): proto.ITensorProto {
  const DataType = onnxProto().onnx.TensorProto.DataType;
  if (!init.data) throw new Error(`initializer ${init.name} has no data: initialise or load weights before encoding`);
  return {
    name: init.name,
    dims: init.dims,
    dataType: { float32: DataType.FLOAT, int64: DataType.INT64, int8: DataType.INT8, uint8: DataType.UINT8, int32: DataType.INT32 }[init.dtype],
    // A view, not a copy: protobufjs copies it once into the output buffer.
    rawData: new Uint8Array(init.data.buffer, init.data.byteOffset, init.data.byteLength),
  };
}

export interface EncodeMetadata {
  producerVersion: string;
  docString?: string;
  metadata?: Record<string, string>;
}

export function encodeOnnx(model: OnnxGraph, meta: EncodeMetadata): Uint8Array {
  const proto: proto.IModelProto = {
    irVersion: irVersionFor(model.opset),
    opsetImport: [{ domain: '', version: model.opset }],
    producerName: 'eformer',
    producerVersion: meta.producerVersion,
    docString: meta.docString ?? '',
    metadataProps: Object.entries(meta.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: model.name,
      node: model.nodes.map((n) => ({
        name: n.name,
        opType: n.opType,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs).map(([k, v]) => attribute(k, v)),
      })),
      initializer: model.initializers.map(tensor),
      input: model.inputs.map((i) => valueInfo(i.name, i.shape)),
      output: model.outputs.map((o) => valueInfo(o.name, o.shape)),
    },
  };
  return onnxProto().onnx.ModelProto.encode(proto).finish();
}
