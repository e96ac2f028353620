/**
 * IR -> ONNX nodes and initializers. Each IR node becomes standard ONNX operators (a Linear on
 * [B, N, C] becomes MatMul + Add, GELU the erf pattern below opset 20). No protobuf here:
 * counting needs the lowered graph but never its bytes (encode.ts writes those).
 */
import { UsageError } from '../core/errors.js';
import { type DType, type Graph, type Node, numel, type TensorData } from '../graph/ir.js';

export const DEFAULT_OPSET = 17;
/** LayerNormalization needs 17; 21 is the newest the bundled onnxruntime is tested with here. */
export const MIN_OPSET = 17;
export const MAX_OPSET = 21;

export function checkOpset(opset: number): void {
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new UsageError(`opset ${opset} is not supported: use ${MIN_OPSET} to ${MAX_OPSET} (default ${DEFAULT_OPSET})`);
  }
}

export type Attr = number | number[] | string | { float: number };

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
  dtype: DType;
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
    // Graph outputs take the names the model family gave them (e.g. `logits`).
    graph.outputs.forEach((value, i) => this.rename.set(value, graph.outputNames[i] ?? value));
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
          // Written only when set, so graphs without it keep their bytes.
          ...(node.ceilMode ? { ceil_mode: 1 } : {}),
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
      case 'Max':
        return this.emit('Max', name, inputs, [out]);
      case 'Concat':
        return this.emit('Concat', name, inputs, [out], { axis: node.axis });
      case 'Slice':
        return this.emit('Slice', name, [inputs[0], this.ints([node.start]), this.ints([node.end]), this.ints([node.axis])], [out]);
      case 'Sigmoid':
      case 'Softplus':
      case 'Exp':
        return this.emit(node.op, name, inputs, [out]);
      case 'ReduceSum':
        return this.emit('ReduceSum', name, [inputs[0], this.ints(node.axes)], [out], { keepdims: node.keepdims ? 1 : 0 });
      case 'QuantizeLinear':
      case 'DequantizeLinear':
        return this.emit(node.op, name, inputs, [out], node.axis === undefined ? {} : { axis: node.axis });
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
    // Bias first: the order initialisers are registered in is part of the file's bytes.
    const bias = node.inputs[2] === undefined ? undefined : this.use(node.inputs[2]);
    const weight = this.graph.params.get(node.inputs[1])!;
    const [rows, cols] = weight.shape;
    const transposedName = `${weight.name}:T`;
    if (!this.initializers.has(transposedName)) {
      let data: Float32Array | undefined;
      if (weight.data) {
        const src = weight.data as Float32Array;
        data = transpose(src, rows, cols);
      }
      this.initializers.set(transposedName, { name: transposedName, dims: [cols, rows], dtype: 'float32', data });
    }
    if (bias === undefined) {
      this.emit('MatMul', `${node.name}/matmul`, [x, transposedName], [out]);
      return;
    }
    this.emit('MatMul', `${node.name}/matmul`, [x, transposedName], [`${out}/matmul`]);
    this.emit('Add', `${node.name}/bias`, [`${out}/matmul`, bias], [out]);
  }
}

/**
 * [rows, cols] -> [cols, rows], in 64x64 tiles: a plain double loop writes one cache line per
 * element, which made lowering efficientformer_l7's linears take a second.
 */
function transpose(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(src.length);
  const T = 64;
  for (let r0 = 0; r0 < rows; r0 += T) {
    const r1 = Math.min(rows, r0 + T);
    for (let c0 = 0; c0 < cols; c0 += T) {
      const c1 = Math.min(cols, c0 + T);
      for (let r = r0; r < r1; r++) {
        const from = r * cols;
        for (let c = c0; c < c1; c++) out[c * rows + r] = src[from + c];
      }
    }
  }
  return out;
}
