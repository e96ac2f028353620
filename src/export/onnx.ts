/**
 * IR -> ONNX. Lowering turns each IR node into standard ONNX operators (a Linear on [B, N, C]
 * becomes MatMul + Add, GELU becomes the erf pattern below opset 20); encoding writes the
 * protobuf with every weight in `raw_data`, so a 330 MB model is one copy, not 80 M varints.
 */
import onnxProto, { type onnx as proto } from 'onnx-proto';
import { UsageError } from '../errors.js';
import { type Graph, type Node, numel, type TensorData } from '../graph/ir.js';

// onnx-proto is CommonJS: take the namespace from its default export.
const { onnx } = onnxProto;

export const DEFAULT_OPSET = 17;
/** LayerNormalization needs 17; 21 is the newest the bundled onnxruntime is tested with here. */
export const MIN_OPSET = 17;
export const MAX_OPSET = 21;

export function checkOpset(opset: number): void {
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new UsageError(`opset ${opset} is not supported: use ${MIN_OPSET} to ${MAX_OPSET} (default ${DEFAULT_OPSET})`);
  }
}

/** The IR version each opset needs (from ONNX's versioning table). */
function irVersionFor(opset: number): number {
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

type Attr = number | number[] | string | { float: number };

export interface OnnxNode {
  name: string;
  opType: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, Attr>;
}

export interface OnnxInitializer {
  name: string;
  dims: number[];
  dtype: 'float32' | 'int64';
  data?: TensorData;
}

export interface OnnxGraph {
  name: string;
  opset: number;
  inputs: { name: string; shape: number[] }[];
  outputs: { name: string; shape: number[] }[];
  nodes: OnnxNode[];
  initializers: OnnxInitializer[];
}

export const OUTPUT_NAME = 'logits';

/** Lower an IR graph to ONNX nodes and initializers (no bytes yet). */
export function lowerToOnnx(graph: Graph, opset = DEFAULT_OPSET): OnnxGraph {
  checkOpset(opset);
  return new Lowering(graph, opset).run();
}

/** Total elements of all initializers: `params.deployed`. */
export function initializerElements(model: OnnxGraph): number {
  return model.initializers.reduce((sum, init) => sum + numel(init.dims), 0);
}

class Lowering {
  private readonly nodes: OnnxNode[] = [];
  private readonly initializers = new Map<string, OnnxInitializer>();
  private readonly rename = new Map<string, string>();

  constructor(
    private readonly graph: Graph,
    private readonly opset: number,
  ) {
    if (graph.outputs.length === 1) this.rename.set(graph.outputs[0], OUTPUT_NAME);
  }

  run(): OnnxGraph {
    for (const node of this.graph.nodes) this.lower(node);
    const shape = (name: string) => this.graph.values.get(name)!.shape;
    return {
      name: this.graph.name,
      opset: this.opset,
      inputs: this.graph.inputs.map((v) => ({ name: v.name, shape: v.shape })),
      outputs: this.graph.outputs.map((name) => ({ name: this.name(name), shape: shape(name) })),
      nodes: this.nodes,
      initializers: [...this.initializers.values()],
    };
  }

  private name(value: string): string {
    return this.rename.get(value) ?? value;
  }

  /** A value an ONNX node reads: IR parameters become initializers on first use. */
  private use(value: string): string {
    const param = this.graph.params.get(value);
    if (param && !this.initializers.has(value)) {
      this.initializers.set(value, { name: value, dims: param.viewShape, dtype: param.dtype, data: param.data });
    }
    return this.name(value);
  }

  private constant(key: string, dims: number[], data: TensorData): string {
    const name = `const:${key}`;
    if (!this.initializers.has(name)) this.initializers.set(name, { name, dims, dtype: data instanceof BigInt64Array ? 'int64' : 'float32', data });
    return name;
  }

  private scalar(v: number): string {
    return this.constant(`${v}`, [], Float32Array.of(v));
  }

  private ints(values: number[]): string {
    return this.constant(`[${values.join(',')}]`, [values.length], BigInt64Array.from(values.map(BigInt)));
  }

  private emit(opType: string, name: string, inputs: string[], outputs: string[], attrs: Record<string, Attr> = {}): void {
    this.nodes.push({ name, opType, inputs, outputs, attrs });
  }

  private lower(node: Node): void {
    if (node.op === 'Linear') return this.linear(node);
    const inputs = node.inputs.map((i) => this.use(i));
    const out = this.name(node.outputs[0]);
    const name = node.name;
    switch (node.op) {
      case 'Conv':
        return this.emit('Conv', name, inputs, [out], {
          kernel_shape: [node.kernel, node.kernel],
          strides: [node.stride, node.stride],
          pads: [node.pad, node.pad, node.pad, node.pad],
          group: node.groups,
          dilations: [1, 1],
        });
      case 'BatchNorm':
        return this.emit('BatchNormalization', name, inputs, [out], { epsilon: { float: node.eps } });
      case 'Relu':
        return this.emit('Relu', name, inputs, [out]);
      case 'Relu6':
        return this.emit('Clip', name, [inputs[0], this.scalar(0), this.scalar(6)], [out]);
      case 'Gelu':
        return this.gelu(name, inputs[0], out);
      case 'LayerNorm':
        return this.emit('LayerNormalization', name, inputs, [out], { axis: -1, epsilon: { float: node.eps } });
      case 'AvgPool':
        return this.emit('AveragePool', name, inputs, [out], {
          kernel_shape: [node.kernel, node.kernel],
          strides: [node.stride, node.stride],
          pads: [node.pad, node.pad, node.pad, node.pad],
          count_include_pad: node.countIncludePad ? 1 : 0,
        });
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'MatMul':
        return this.emit(node.op, name, inputs, [out]);
      case 'Scale':
        return this.emit('Mul', name, [inputs[0], this.scalar(node.factor)], [out]);
      case 'Softmax':
        return this.emit('Softmax', name, inputs, [out], { axis: node.axis });
      case 'Reshape':
        return this.emit('Reshape', name, [inputs[0], this.ints(node.shape)], [out]);
      case 'Transpose':
        return this.emit('Transpose', name, inputs, [out], { perm: node.perm });
      case 'Split':
        return this.emit('Split', name, [inputs[0], this.ints(node.sizes)], node.outputs.map((o) => this.name(o)), { axis: node.axis });
      case 'ReduceMean':
        if (this.opset >= 18) return this.emit('ReduceMean', name, [inputs[0], this.ints(node.axes)], [out], { keepdims: node.keepdims ? 1 : 0 });
        return this.emit('ReduceMean', name, inputs, [out], { axes: node.axes, keepdims: node.keepdims ? 1 : 0 });
      case 'Upsample':
        // PyTorch's bilinear, align_corners=False, is ONNX's half-pixel linear resize.
        return this.emit('Resize', name, [inputs[0], '', this.constant(`scales${node.scale}`, [4], Float32Array.of(1, 1, node.scale, node.scale))], [out], {
          mode: 'linear',
          coordinate_transformation_mode: 'pytorch_half_pixel',
        });
      case 'Gather':
        return this.emit('Gather', name, inputs, [out], { axis: node.axis });
    }
  }

  private gelu(name: string, x: string, out: string): void {
    if (this.opset >= 20) return this.emit('Gelu', name, [x], [out]);
    // 0.5 * x * (1 + erf(x / sqrt 2)): the pattern onnxruntime fuses into one Gelu kernel.
    this.emit('Div', `${name}/div`, [x, this.scalar(Math.SQRT2)], [`${out}/div`]);
    this.emit('Erf', `${name}/erf`, [`${out}/div`], [`${out}/erf`]);
    this.emit('Add', `${name}/add`, [`${out}/erf`, this.scalar(1)], [`${out}/add`]);
    this.emit('Mul', `${name}/mul`, [x, `${out}/add`], [`${out}/mul`]);
    this.emit('Mul', `${name}/half`, [`${out}/mul`, this.scalar(0.5)], [out]);
  }

  private linear(node: Node): void {
    const out = this.name(node.outputs[0]);
    const xShape = this.graph.values.get(node.inputs[0])!.shape;
    if (xShape.length === 2) {
      this.emit('Gemm', node.name, node.inputs.map((i) => this.use(i)), [out], { transB: 1 });
      return;
    }
    // MatMul wants the weight as [in, out]: store it transposed once.
    const x = this.use(node.inputs[0]);
    const bias = this.use(node.inputs[2]);
    const weight = this.graph.params.get(node.inputs[1])!;
    const [rows, cols] = weight.shape;
    const transposedName = `${weight.name}:T`;
    if (!this.initializers.has(transposedName)) {
      let data: Float32Array | undefined;
      if (weight.data) {
        const src = weight.data as Float32Array;
        data = new Float32Array(src.length);
        for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) data[c * rows + r] = src[r * cols + c];
      }
      this.initializers.set(transposedName, { name: transposedName, dims: [cols, rows], dtype: 'float32', data });
    }
    this.emit('MatMul', `${node.name}/matmul`, [x, transposedName], [`${out}/matmul`]);
    this.emit('Add', `${node.name}/bias`, [`${out}/matmul`, bias], [out]);
  }
}

// ---- encoding ---------------------------------------------------------------------------

const AttrType = onnx.AttributeProto.AttributeType;
const DataType = onnx.TensorProto.DataType;

function attribute(name: string, value: Attr): proto.IAttributeProto {
  if (typeof value === 'string') return { name, type: AttrType.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: AttrType.INTS, ints: value };
  if (typeof value === 'object') return { name, type: AttrType.FLOAT, f: value.float };
  return { name, type: AttrType.INT, i: value };
}

function valueInfo(name: string, shape: number[]): proto.IValueInfoProto {
  return { name, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: shape.map((d) => ({ dimValue: d })) } } } };
}

function tensor(init: OnnxInitializer): proto.ITensorProto {
  if (!init.data) throw new Error(`initializer ${init.name} has no data: initialise or load weights before encoding`);
  return {
    name: init.name,
    dims: init.dims,
    dataType: init.dtype === 'int64' ? DataType.INT64 : DataType.FLOAT,
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
  return onnx.ModelProto.encode(proto).finish();
}
