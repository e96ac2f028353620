/**
 * The deployed graph IR -> a TFLite model (model.ts), channels-last: a second lowering beside
 * onnx/lower.ts, reading the same IR after the same deployment passes.
 *
 * Layout (layout.ts): every IR value is held in a physical tensor with a known axis order. Feature
 * maps are NHWC from the input on; weights are laid out at export time (CONV_2D OHWI,
 * DEPTHWISE_CONV_2D 1HWC, FULLY_CONNECTED [out, in] as PyTorch keeps it); IR Transposes only relabel
 * axes, and a TRANSPOSE is written only where an operator needs an axis order the tensor does not
 * have, which in these models is where a feature map becomes attention heads or heads become a map.
 * A backward pass first records which layouts each value's readers take (`wanted`), so that a Split
 * whose parts all go to attention matmuls transposes once before splitting instead of once per part.
 *
 * Operators are builtin ones that XNNPACK, LiteRT's CPU delegate, runs (see README, LiteRT); IR ops
 * with no such operator are rewritten into ones that have it, each exact in real arithmetic:
 * LayerNorm as MEAN/SUB/MUL/RSQRT, Softplus as relu(x) + log(1 + exp(-|x|)), a Gather of constant
 * indices as a product with a 0/1 matrix, a 1x1 average pool with stride as a strided 1x1 depthwise
 * conv of ones, a 1x1 conv over a map held channels-first (EfficientFormerV2's talking heads, which
 * mix the heads of an attention map) as a BATCH_MATMUL. What cannot be expressed is a UsageError
 * naming the op and the model.
 */
import { UsageError } from '../core/errors.js';
import type { Graph, Node, Param } from '../graph/ir.js';
import { precomputeAttentionBias } from '../graph/passes/attention-bias.js';
import { precomputeParameterOps } from '../graph/passes/precompute-parameter-ops.js';
import { toFloat16 } from './float16.js';
import { afterTranspose, identity, isIdentity, type Layout, NHWC, onlyUnitAxesMove, physicalShape, preferences, reshapeLayout, sameLayout, transposeData, transposePerm } from './layout.js';
import { type Activation, BuiltinOperator, bytesOf, type OperatorOptions, type TfliteModel, type TfliteTensor, TensorType } from './model.js';

export type TflitePrecision = 'fp32' | 'fp16';

/**
 * Deliberate layout mistakes, for tests only: each makes the lowering do one thing a converter could
 * get wrong, so the tests can show that --verify's numerical check fails on it.
 */
export type LayoutMistake = 'conv-weights-oihw' | 'head-flatten-nchw' | 'resize-without-half-pixel';

/** Quantisation of an int8 tensor: real = scale * (q - zeroPoint). */
export interface Int8Quant {
  scale: number;
  zeroPoint: number;
}

/**
 * What an int8 model is made from, computed by int8/ from eformer's calibration (shared with the
 * ONNX int8 export): which layers run in int8 and the quantisation of what they read and write.
 */
export interface TfliteInt8 {
  /**
   * Conv and Linear nodes run in int8, with their weights int8 per output channel (axis 0 of the IR
   * weight, symmetric); `floatActivations`: the layer computes in float on its dequantised int8 weights.
   */
  layers: ReadonlyMap<string, { weight: Int8Array; scales: Float32Array; floatActivations?: boolean }>;
  /** Adds of two int8 tensors, run in int8. */
  adds: ReadonlySet<string>;
  /** The value each int8 layer's output is quantised at (after a ReLU folded into it), by node name. */
  outputs: ReadonlyMap<string, string>;
  /** int8 quantisation (asymmetric) of every value an int8 op reads or writes. */
  activations: ReadonlyMap<string, Int8Quant>;
}

export interface TfliteLowerOptions {
  /** fp16: float constants stored as float16, each followed by a DEQUANTIZE to float32 (LiteRT's float16 quantisation). */
  precision?: TflitePrecision;
  /** int8: these layers run in int8 (see TfliteInt8); everything else stays float, with QUANTIZE/DEQUANTIZE where the two meet. */
  int8?: TfliteInt8;
  description?: string;
  metadata?: [string, string][];
  mistake?: LayoutMistake;
}

/** An IR value as the TFLite graph holds it: float32, or int8 with its quantisation. */
interface Held {
  tensor: number;
  layout: Layout;
  quant?: Int8Quant;
}

type FloatData = Float32Array;

const RANK4_NHWC = NHWC;
/** Options of an ADD/SUB/MUL with no fused activation. */
const plain: OperatorOptions = { kind: 'elementwise', activation: 'NONE' };

class Lowering {
  readonly tensors: TfliteTensor[] = [];
  readonly operators: TfliteModel['operators'] = [];
  private readonly held = new Map<string, Held>();
  /** Materialised copies of a value in another layout, by `value|layout|type`. */
  private readonly copies = new Map<string, number>();
  /** A value converted between float32 and int8, by `value|type`. */
  private readonly converted = new Map<string, Held>();
  /** Constant tensors by a key naming their contents. */
  private readonly constants = new Map<string, number>();
  /** Layouts each value's readers take, first choice first (see `preferences`). */
  private readonly wanted: Map<string, Layout[]>;
  /** Operators with a ReLU/ReLU6 fused into them: the activation, and the value its (skipped) node produced. */
  private readonly fusions = new Map<Node, { activation: Activation; result: string }>();
  private readonly skipped = new Set<Node>();
  /** Values some node or the graph's outputs read. */
  private readonly read: Set<string>;

  constructor(
    private readonly graph: Graph,
    private readonly options: TfliteLowerOptions,
  ) {
    this.wanted = preferences(graph);
    this.read = new Set([...graph.nodes.flatMap((n) => n.inputs), ...graph.outputs]);
    this.planFusedActivations();
  }

  run(): TfliteModel {
    const input = this.graph.inputs[0];
    if (this.graph.inputs.length !== 1) throw this.unsupported(undefined, `${this.graph.inputs.length} inputs (eformer writes models with one image input)`);
    const layout = input.shape.length === 4 ? RANK4_NHWC : identity(input.shape.length);
    const inputTensor = this.activation(input.name, physicalShape(input.shape, layout));
    this.held.set(input.name, { tensor: inputTensor, layout });
    for (const node of this.graph.nodes) if (!this.skipped.has(node)) this.lower(node);
    const outputs = this.graph.outputs.map((value, i) => {
      const tensor = this.inLayout(value, identity(this.shape(value).length));
      this.tensors[tensor].name = this.graph.outputNames[i] ?? value;
      return { name: this.graph.outputNames[i] ?? value, tensor };
    });
    return {
      description: this.options.description ?? this.graph.name,
      tensors: this.tensors,
      operators: this.operators,
      inputs: [{ name: input.name, tensor: inputTensor }],
      outputs,
      metadata: this.options.metadata ?? [],
      held: this.held,
    };
  }

  // ---- tensors ---------------------------------------------------------------------------------

  private shape(value: string): number[] {
    const v = this.graph.values.get(value);
    if (!v) throw new Error(`tflite lowering: no value ${value}`);
    return v.shape;
  }

  private addTensor(t: TfliteTensor): number {
    this.tensors.push(t);
    return this.tensors.length - 1;
  }

  private activation(name: string, shape: number[]): number {
    return this.addTensor({ name, shape, type: TensorType.FLOAT32 });
  }

  /** A float constant (once per key); in fp16 it is stored as float16 and dequantised by a DEQUANTIZE op. */
  private floatConstant(key: string, name: string, shape: number[], data: FloatData): number {
    const known = this.constants.get(key);
    if (known !== undefined) return known;
    let tensor: number;
    if (this.options.precision === 'fp16' && data.length > 1) {
      const half = this.addTensor({ name: `${name}:fp16`, shape, type: TensorType.FLOAT16, data: bytesOf(toFloat16(data)) });
      tensor = this.activation(name, shape);
      this.emit(BuiltinOperator.DEQUANTIZE, [half], [tensor]);
    } else {
      tensor = this.addTensor({ name, shape, type: TensorType.FLOAT32, data: bytesOf(data) });
    }
    this.constants.set(key, tensor);
    return tensor;
  }

  private intConstant(values: readonly number[], shape = [values.length]): number {
    const key = `int32:${shape.join('x')}:${values.join(',')}`;
    const known = this.constants.get(key);
    if (known !== undefined) return known;
    const tensor = this.addTensor({ name: `const:[${values.join(',')}]`, shape, type: TensorType.INT32, data: bytesOf(Int32Array.from(values)) });
    this.constants.set(key, tensor);
    return tensor;
  }

  private scalar(v: number): number {
    return this.floatConstant(`scalar:${v}`, `const:${v}`, [], Float32Array.of(v));
  }

  private param(name: string): Param & { data: Float32Array } {
    const p = this.graph.params.get(name);
    if (!p?.data) throw new Error(`tflite lowering: parameter ${name} has no data: initialise or load weights first`);
    if (!(p.data instanceof Float32Array)) throw this.unsupported(undefined, `a ${p.dtype} parameter (${name}) in a float model`);
    return p as Param & { data: Float32Array };
  }

  /**
   * A parameter used as an operand of an op whose other operand is held in `layout`: its view shape
   * right-aligned to that rank (numpy broadcasting), permuted like the activation, leading 1s dropped.
   */
  private paramOperand(name: string, layout: Layout): number {
    const p = this.param(name);
    const rank = layout.length;
    const view = p.viewShape;
    if (view.length > rank) throw this.unsupported(undefined, `parameter ${name} of rank ${view.length} against a rank-${rank} tensor`);
    const padded = [...new Array<number>(rank - view.length).fill(1), ...view];
    let shape = physicalShape(padded, layout);
    const data = onlyUnitAxesMove(padded, identity(rank), layout) ? p.data : transposeData(p.data, padded, layout);
    while (shape.length > 1 && shape[0] === 1) shape = shape.slice(1);
    return this.floatConstant(`${name}|${layout.join()}`, name, shape, data);
  }

  // ---- operators -------------------------------------------------------------------------------

  private emit(op: BuiltinOperator, inputs: number[], outputs: number[], options?: OperatorOptions): void {
    this.operators.push({ op, inputs, outputs, ...(options ? { options } : {}) });
  }

  /** An operator writing a fresh intermediate tensor (`name`, of physical `shape`); returns that tensor. */
  private step(name: string, shape: number[], op: BuiltinOperator, inputs: number[], options?: OperatorOptions): number {
    const t = this.activation(name, shape);
    this.emit(op, inputs, [t], options);
    return t;
  }

  /** The output tensor of `node` (its first output by default), held in `layout`; int8 with `quant`. */
  private output(node: Node, layout: Layout, index = 0, quant?: Int8Quant): number {
    const value = node.outputs[index];
    const shape = physicalShape(this.shape(value), layout);
    const tensor = this.addTensor(quant ? { name: value, shape, type: TensorType.INT8, quantization: { scale: [quant.scale], zeroPoint: [quant.zeroPoint] } } : { name: value, shape, type: TensorType.FLOAT32 });
    this.held.set(value, { tensor, layout, quant });
    return tensor;
  }

  private heldOf(value: string): Held {
    const h = this.held.get(value);
    if (!h) {
      if (this.graph.params.has(value)) throw new Error(`tflite lowering: parameter ${value} used where an activation is expected`);
      throw new Error(`tflite lowering: value ${value} is read before it is computed`);
    }
    return h;
  }

  /**
   * `value` as a float32 tensor (`int8` false) or an int8 one, held in its own layout: as it is, or
   * through a DEQUANTIZE, or a QUANTIZE with the value's calibrated quantisation.
   */
  private typed(value: string, int8: boolean): Held {
    const h = this.heldOf(value);
    if (Boolean(h.quant) === int8) return h;
    const key = `${value}|${int8 ? 'int8' : 'float'}`;
    const known = this.converted.get(key);
    if (known) return known;
    const quant = int8 ? this.quantOf(value) : undefined;
    const shape = this.tensors[h.tensor].shape;
    const tensor = this.addTensor(quant ? { name: `${value}:int8`, shape, type: TensorType.INT8, quantization: { scale: [quant.scale], zeroPoint: [quant.zeroPoint] } } : { name: `${value}:float`, shape, type: TensorType.FLOAT32 });
    this.emit(int8 ? BuiltinOperator.QUANTIZE : BuiltinOperator.DEQUANTIZE, [h.tensor], [tensor]);
    const out = { tensor, layout: h.layout, quant };
    this.converted.set(key, out);
    return out;
  }

  /** `value` held as float32 (dequantised if it is int8), in its own layout. */
  private floatHeld(value: string): Held {
    return this.typed(value, false);
  }

  /** The calibrated int8 quantisation of `value`. */
  private quantOf(value: string): Int8Quant {
    const q = this.options.int8?.activations.get(value);
    if (!q) throw new Error(`tflite lowering: no int8 quantisation for ${value}`);
    return q;
  }

  /**
   * `value` held in `layout`, float32 by default or int8: as it is, or through a RESHAPE (only size-1
   * axes move) or a TRANSPOSE (int8 data moves as int8, keeping its quantisation).
   */
  private inLayout(value: string, layout: Layout, int8 = false): number {
    return this.moved(value, this.typed(value, int8), layout);
  }

  /** `value` held in `layout` in whatever type it is held in (data movement keeps int8 as int8). */
  private inOwnType(value: string, layout: Layout): Held {
    const h = this.heldOf(value);
    return { tensor: this.moved(value, h, layout), layout, quant: h.quant };
  }

  private moved(value: string, h: Held, layout: Layout): number {
    if (sameLayout(h.layout, layout)) return h.tensor;
    const key = `${value}|${layout.join()}|${h.quant ? 'int8' : 'float'}`;
    const known = this.copies.get(key);
    if (known !== undefined) return known;
    const shape = this.shape(value);
    const source = this.tensors[h.tensor];
    const out = this.addTensor({ ...source, name: `${value}:${layout.join('')}`, shape: physicalShape(shape, layout), data: undefined });
    if (onlyUnitAxesMove(shape, h.layout, layout)) {
      this.emit(BuiltinOperator.RESHAPE, [h.tensor, this.intConstant(physicalShape(shape, layout))], [out]);
    } else {
      this.emit(BuiltinOperator.TRANSPOSE, [h.tensor, this.intConstant(transposePerm(h.layout, layout))], [out]);
    }
    this.copies.set(key, out);
    return out;
  }

  /** Alias an IR value to an existing tensor (an op that moves no data). */
  private alias(value: string, held: Held): void {
    this.held.set(value, held);
  }

  private unsupported(node: Node | undefined, what: string): UsageError {
    const where = node ? ` (${node.op} ${node.name}${node.module ? ` in ${node.module}` : ''})` : '';
    return new UsageError(`cannot write ${this.graph.name} as TFLite: ${what}${where}`);
  }

  // ---- fused activations -------------------------------------------------------------------------

  /** A ReLU/ReLU6 that alone reads a conv's, linear's or add's output becomes that op's fused activation. */
  private planFusedActivations(): void {
    const readers = new Map<string, Node[]>();
    for (const n of this.graph.nodes) for (const i of n.inputs) readers.set(i, [...(readers.get(i) ?? []), n]);
    for (const n of this.graph.nodes) {
      if (n.op !== 'Conv' && n.op !== 'Linear' && n.op !== 'Add') continue;
      const next = readers.get(n.outputs[0]) ?? [];
      if (next.length !== 1 || (next[0].op !== 'Relu' && next[0].op !== 'Relu6') || this.graph.outputs.includes(n.outputs[0])) continue;
      if (n.op === 'Add' && n.inputs.some((i) => this.graph.params.has(i))) continue;
      this.fusions.set(n, { activation: next[0].op === 'Relu' ? 'RELU' : 'RELU6', result: next[0].outputs[0] });
      this.skipped.add(next[0]);
    }
  }

  private fusedActivation(node: Node): Activation {
    return this.fusions.get(node)?.activation ?? 'NONE';
  }

  /** The output tensor of a node that may carry a fused activation (registered under the activation's output too). */
  private fusedOutput(node: Node, layout: Layout, quant?: Int8Quant): number {
    const tensor = this.output(node, layout, 0, quant);
    const fusion = this.fusions.get(node);
    if (fusion) this.alias(fusion.result, { tensor, layout, quant });
    return tensor;
  }

  /** The int8 plan of a layer that runs on int8 activations, if it does. */
  private int8Layer(node: Node) {
    const layer = this.options.int8?.layers.get(node.name);
    return layer && !layer.floatActivations ? layer : undefined;
  }

  /**
   * A float layer's weights: float32 (or float16) constants, or for an int8 model's layer that computes
   * in float, its int8 weights dequantised by a DEQUANTIZE (XNNPACK unpacks it once, at load).
   */
  private floatWeight(node: Node, key: string, name: string, shape: number[], data: () => Float32Array, int8Data: (q: Int8Array) => Int8Array, axis: number): number {
    const layer = this.options.int8?.layers.get(node.name);
    if (!layer) return this.floatConstant(key, name, shape, data());
    const known = this.constants.get(`${key}|dequantized`);
    if (known !== undefined) return known;
    const q = this.int8Weight(`${key}|int8`, name, shape, int8Data(layer.weight), layer.scales, axis);
    const tensor = this.step(`${name}:dequantized`, shape, BuiltinOperator.DEQUANTIZE, [q]);
    this.constants.set(`${key}|dequantized`, tensor);
    return tensor;
  }

  /** An int8 layer's output quantisation (at the value after a ReLU folded into it, as calibrated). */
  private outputQuant(node: Node): Int8Quant {
    return this.quantOf(this.options.int8!.outputs.get(node.name) ?? node.outputs[0]);
  }

  // ---- lowering, one IR op at a time -----------------------------------------------------------

  private lower(node: Node): void {
    switch (node.op) {
      case 'Conv':
        return this.conv(node);
      case 'Linear':
        return this.linear(node);
      case 'MatMul':
        return this.matmul(node);
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Max':
        return this.binary(node);
      case 'Scale':
        return this.scale(node);
      case 'Relu':
        return this.unary(node, BuiltinOperator.RELU);
      case 'Relu6':
        return this.unary(node, BuiltinOperator.RELU6);
      case 'Gelu':
        return this.unary(node, BuiltinOperator.GELU, { kind: 'gelu', approximate: false });
      case 'Sigmoid':
        return this.unary(node, BuiltinOperator.LOGISTIC);
      case 'Exp':
        return this.unary(node, BuiltinOperator.EXP);
      case 'Softplus':
        return this.softplus(node);
      case 'Softmax':
        return this.softmax(node);
      case 'LayerNorm':
        return this.layerNorm(node);
      case 'BatchNorm':
        return this.batchNorm(node);
      case 'Reshape':
        return this.reshape(node);
      case 'Transpose':
        return this.alias(node.outputs[0], { ...this.heldOf(node.inputs[0]), layout: afterTranspose(this.heldOf(node.inputs[0]).layout, node.perm) });
      case 'Split':
        return this.split(node);
      case 'Slice':
        return this.slice(node);
      case 'Concat':
        return this.concat(node);
      case 'ReduceMean':
        return this.reduce(node, BuiltinOperator.MEAN, node.axes, node.keepdims);
      case 'ReduceSum':
        return this.reduce(node, BuiltinOperator.SUM, node.axes, node.keepdims);
      case 'AvgPool':
        return this.avgPool(node);
      case 'Upsample':
        return this.upsample(node);
      case 'Gather':
        return this.gather(node);
      case 'QuantizeLinear':
      case 'DequantizeLinear':
        throw this.unsupported(node, 'a QDQ graph (write int8 TFLite from the float graph and its calibration)');
    }
  }

  private unary(node: Node, op: BuiltinOperator, options?: OperatorOptions): void {
    const h = this.floatHeld(node.inputs[0]);
    this.emit(op, [h.tensor], [this.output(node, h.layout)], options);
  }

  private scale(node: Extract<Node, { op: 'Scale' }>): void {
    const h = this.floatHeld(node.inputs[0]);
    this.emit(BuiltinOperator.MUL, [h.tensor, this.scalar(node.factor)], [this.output(node, h.layout)], plain);
  }

  /** Add, Sub, Mul, Max with numpy broadcasting: both operands in one layout, a parameter laid out to match. */
  private binary(node: Node): void {
    const op = { Add: BuiltinOperator.ADD, Sub: BuiltinOperator.SUB, Mul: BuiltinOperator.MUL, Max: BuiltinOperator.MAXIMUM }[node.op as 'Add' | 'Sub' | 'Mul' | 'Max'];
    const [a, b] = node.inputs;
    const isParam = (v: string) => this.graph.params.has(v);
    if (isParam(a) && isParam(b)) throw this.unsupported(node, 'an operation on two constants (the deployment passes fold these)');
    const rank = this.shape(node.outputs[0]).length;
    const lead = isParam(a) ? b : a;
    const layout = this.widened(lead, rank);
    const options: OperatorOptions | undefined = op === BuiltinOperator.MAXIMUM ? undefined : { kind: 'elementwise', activation: this.fusedActivation(node) };
    if (this.options.int8?.adds.has(node.name)) {
      // A residual of two int8 layers' outputs: an int8 ADD (both operands are activations of the output's shape).
      this.emit(op, [this.inLayout(a, layout, true), this.inLayout(b, layout, true)], [this.fusedOutput(node, layout, this.quantOf(node.outputs[0]))], options);
      return;
    }
    const operand = (v: string) => (isParam(v) ? this.paramOperand(v, layout) : this.widenedTensor(v, rank, layout));
    this.emit(op, [operand(a), operand(b)], [this.fusedOutput(node, layout)], options);
  }

  /** The layout of `value` seen at `rank` (leading size-1 axes added in front). */
  private widened(value: string, rank: number): Layout {
    const l = this.heldOf(value).layout;
    const extra = rank - l.length;
    return extra === 0 ? l : [...identity(extra), ...l.map((a) => a + extra)];
  }

  /** `value` as a rank-`rank` tensor (leading size-1 axes) held in `layout`. */
  private widenedTensor(value: string, rank: number, layout: Layout): number {
    const shape = this.shape(value);
    if (shape.length === rank) return this.inLayout(value, layout);
    const extra = rank - shape.length;
    const wide = [...new Array<number>(extra).fill(1), ...shape];
    const own = this.widened(value, rank);
    // The same data seen with more leading 1s: a RESHAPE, then any move to `layout`.
    const name = `${value}:rank${rank}`;
    if (!this.held.has(name)) {
      const t = this.activation(name, physicalShape(wide, own));
      this.emit(BuiltinOperator.RESHAPE, [this.floatHeld(value).tensor, this.intConstant(physicalShape(wide, own))], [t]);
      this.held.set(name, { tensor: t, layout: own });
      this.graph.values.set(name, { name, shape: wide, dtype: 'float32' });
    }
    return this.inLayout(name, layout);
  }

  private softplus(node: Node): void {
    // softplus(x) = max(x, 0) + log(1 + exp(-|x|)): exp never overflows (onnxruntime computes it stably too).
    const h = this.floatHeld(node.inputs[0]);
    const shape = physicalShape(this.shape(node.inputs[0]), h.layout);
    const step = (name: string, op: BuiltinOperator, inputs: number[], options?: OperatorOptions) => this.step(`${node.outputs[0]}/${name}`, shape, op, inputs, options);
    const abs = step('abs', BuiltinOperator.ABS, [h.tensor]);
    const neg = step('neg', BuiltinOperator.NEG, [abs]);
    const exp = step('exp', BuiltinOperator.EXP, [neg]);
    const onePlus = step('1p', BuiltinOperator.ADD, [exp, this.scalar(1)], plain);
    const log = step('log', BuiltinOperator.LOG, [onePlus]);
    const relu = step('relu', BuiltinOperator.RELU, [h.tensor]);
    this.emit(BuiltinOperator.ADD, [relu, log], [this.output(node, h.layout)], plain);
  }

  /** A layout of `value` in which IR axis `axis` is physically last: its own when it already is, else the first wanted one that does, else row-major order with the axis moved last. */
  private lastAxisLayout(value: string, axis: number): Layout {
    const own = this.heldOf(value).layout;
    if (own[own.length - 1] === axis) return own;
    const wanted = (this.wanted.get(value) ?? []).find((l) => l[l.length - 1] === axis);
    if (wanted) return wanted;
    return [...identity(own.length).filter((a) => a !== axis), axis];
  }

  private softmax(node: Extract<Node, { op: 'Softmax' }>): void {
    const rank = this.shape(node.inputs[0]).length;
    const axis = node.axis < 0 ? node.axis + rank : node.axis;
    const layout = this.lastAxisLayout(node.inputs[0], axis);
    this.emit(BuiltinOperator.SOFTMAX, [this.inLayout(node.inputs[0], layout)], [this.output(node, layout)], { kind: 'softmax', beta: 1 });
  }

  /** LayerNorm over the last axis: (x - mean) * rsqrt(mean((x - mean)^2) + eps) * gamma + beta. */
  private layerNorm(node: Extract<Node, { op: 'LayerNorm' }>): void {
    const [x, gamma, beta] = node.inputs;
    const rank = this.shape(x).length;
    const layout = this.lastAxisLayout(x, rank - 1);
    const input = this.inLayout(x, layout);
    const shape = physicalShape(this.shape(x), layout);
    const reduced = [...shape.slice(0, -1), 1];
    const last = this.intConstant([rank - 1]);
    const step = (name: string, s: number[], op: BuiltinOperator, inputs: number[], options?: OperatorOptions) => this.step(`${node.outputs[0]}/${name}`, s, op, inputs, options);
    const mean = step('mean', reduced, BuiltinOperator.MEAN, [input, last], { kind: 'reducer', keepDims: true });
    const centred = step('centred', shape, BuiltinOperator.SUB, [input, mean], plain);
    const squared = step('squared', shape, BuiltinOperator.MUL, [centred, centred], plain);
    const variance = step('variance', reduced, BuiltinOperator.MEAN, [squared, last], { kind: 'reducer', keepDims: true });
    const shifted = step('variance_eps', reduced, BuiltinOperator.ADD, [variance, this.scalar(node.eps)], plain);
    const inverseStd = step('rsqrt', reduced, BuiltinOperator.RSQRT, [shifted]);
    const normalised = step('normalised', shape, BuiltinOperator.MUL, [centred, inverseStd], plain);
    // Then * gamma and + beta, when the norm has them; the last step writes the node's output.
    const affine = [...(gamma === undefined ? [] : [{ op: BuiltinOperator.MUL, param: gamma }]), ...(beta === undefined ? [] : [{ op: BuiltinOperator.ADD, param: beta }])];
    if (!affine.length) return this.alias(node.outputs[0], { tensor: normalised, layout });
    let y = normalised;
    affine.forEach(({ op, param }, k) => {
      const target = k === affine.length - 1 ? this.output(node, layout) : this.activation(`${node.outputs[0]}/scaled`, shape);
      this.emit(op, [y, this.paramOperand(param, layout)], [target], plain);
      y = target;
    });
  }

  /** An unfolded BatchNorm (before a head): y = x * s + t per channel (axis 1), s = gamma / sqrt(var + eps), t = beta - mean * s. */
  private batchNorm(node: Extract<Node, { op: 'BatchNorm' }>): void {
    const [gamma, beta, mean, variance] = node.inputs.slice(1).map((i) => this.param(i).data);
    const channels = gamma.length;
    const s = new Float32Array(channels);
    const t = new Float32Array(channels);
    for (let c = 0; c < channels; c++) {
      s[c] = gamma[c] / Math.sqrt(variance[c] + node.eps);
      t[c] = beta[c] - mean[c] * s[c];
    }
    const h = this.floatHeld(node.inputs[0]);
    const rank = this.shape(node.inputs[0]).length;
    const view = identity(rank).map((a) => (a === 1 ? channels : 1));
    const perChannel = (key: string, data: Float32Array) => {
      const shape = physicalShape(view, h.layout);
      const dims = shape.slice(shape.findIndex((d) => d !== 1));
      return this.floatConstant(`${node.name}:${key}|${h.layout.join()}`, `${node.name}:${key}`, dims, data);
    };
    const scaled = this.step(`${node.outputs[0]}/scaled`, physicalShape(this.shape(node.inputs[0]), h.layout), BuiltinOperator.MUL, [h.tensor, perChannel('scale', s)], plain);
    this.emit(BuiltinOperator.ADD, [scaled, perChannel('shift', t)], [this.output(node, h.layout)], plain);
  }

  // ---- convolutions, linears, matmuls ------------------------------------------------------------

  private conv(node: Extract<Node, { op: 'Conv' }>): void {
    const [x, w, b] = node.inputs;
    const inShape = this.shape(x);
    const outShape = this.shape(node.outputs[0]);
    const weight = this.param(w);
    const [cout, cinPerGroup, kh, kw] = weight.viewShape;
    const cin = inShape[1];
    if (kh !== kw || kh !== node.kernel) throw this.unsupported(node, `a ${kh}x${kw} kernel`);
    const pointwise = node.kernel === 1 && node.stride === 1 && node.pad === 0 && node.groups === 1;
    // A 1x1 conv over a map held channels-first (an attention map, heads as channels) is a matmul over
    // the channels there; it stays float (XNNPACK's int8 BATCH_MATMUL takes no zero point on the right).
    if (pointwise && isIdentity(this.heldOf(x).layout) && !this.options.mistake) return this.pointwiseMatmul(node);
    const int8 = this.int8Layer(node);
    const input = this.inLayout(x, RANK4_NHWC, Boolean(int8));
    const { padding, padded } = this.convPadding(node, input, inShape, outShape, node.kernel, node.stride, node.pad);
    const activation = this.fusedActivation(node);
    const depthwise = node.groups === cin && cinPerGroup === 1 && node.groups > 1;
    // Filters: [Cout, 1, k, k] -> [1, k, k, Cout] for depthwise; [Cout, Cin/g, k, k] -> [Cout, k, k, Cin/g]
    // (OHWI) otherwise, grouped convs keeping their groups (CONV_2D version 6).
    const [perm, shape, channelAxis] = depthwise ? [[1, 2, 3, 0], [1, kh, kw, cout], 3] : [[0, 2, 3, 1], [cout, kh, kw, cinPerGroup], 0];
    const layoutKey = depthwise ? '1HWC' : 'OHWI';
    const oihw = this.options.mistake === 'conv-weights-oihw' && !depthwise;
    const filter = int8
      ? this.int8Weight(`${w}|${layoutKey}|int8`, w, shape, oihw ? int8.weight : transposeData(int8.weight, weight.viewShape, perm), int8.scales, channelAxis)
      : this.floatWeight(node, `${w}|${layoutKey}`, w, shape, () => (oihw ? weight.data : transposeData(weight.data, weight.viewShape, perm)), (q) => (oihw ? q : transposeData(q, weight.viewShape, perm)), channelAxis);
    const bias = int8 ? this.int32Bias(node, b, cout, input, int8.scales) : b === undefined ? this.floatConstant(`zeros:${cout}`, `${node.name}:bias`, [cout], new Float32Array(cout)) : this.paramOperand(b, [0]);
    const out = this.fusedOutput(node, RANK4_NHWC, int8 ? this.outputQuant(node) : undefined);
    if (depthwise) {
      this.emit(BuiltinOperator.DEPTHWISE_CONV_2D, [padded, filter, bias], [out], { kind: 'depthwise', padding, stride: node.stride, depthMultiplier: cout / cin, activation });
    } else {
      this.emit(BuiltinOperator.CONV_2D, [padded, filter, bias], [out], { kind: 'conv', padding, stride: node.stride, activation });
    }
  }

  /** An int8 weight, symmetric per output channel along `axis` (zero points 0, as XNNPACK requires). */
  private int8Weight(key: string, name: string, shape: number[], data: Int8Array, scales: Float32Array, axis: number): number {
    const known = this.constants.get(key);
    if (known !== undefined) return known;
    const tensor = this.addTensor({ name: `${name}:int8`, shape, type: TensorType.INT8, data: bytesOf(data), quantization: { scale: [...scales], zeroPoint: new Array<number>(scales.length).fill(0), axis } });
    this.constants.set(key, tensor);
    return tensor;
  }

  /** An int8 layer's bias: int32 at scale input_scale x weight_scale[c] per output channel, which is what the integer kernels add. */
  private int32Bias(node: Node, bias: string | undefined, channels: number, input: number, weightScales: Float32Array): number {
    const inputScale = this.tensors[input].quantization!.scale[0];
    const scales = Array.from(weightScales, (s) => Math.fround(s * inputScale));
    const data = bias === undefined ? new Float32Array(channels) : this.param(bias).data;
    const q = Int32Array.from(data, (v, c) => Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(v / scales[c]))));
    return this.addTensor({ name: `${bias ?? `${node.name}:bias`}:int32`, shape: [channels], type: TensorType.INT32, data: bytesOf(q), quantization: { scale: scales, zeroPoint: new Array<number>(channels).fill(0), axis: 0 } });
  }

  /**
   * TFLite pads SAME (split as TensorFlow does, the extra row at the end) or VALID. PyTorch's
   * symmetric padding is SAME when both give the same output size and the same leading pad, VALID
   * when it is 0; otherwise an explicit PAD of zeros comes first and the op runs VALID.
   */
  private convPadding(node: Node, input: number, inShape: number[], outShape: number[], kernel: number, stride: number, pad: number): { padding: 'SAME' | 'VALID'; padded: number } {
    const [, , h, w] = inShape;
    const [, , oh, ow] = outShape;
    const same = (size: number, out: number) => {
      const o = Math.ceil(size / stride);
      const total = Math.max((o - 1) * stride + kernel - size, 0);
      return o === out && Math.floor(total / 2) === pad;
    };
    if (pad === 0) return { padding: 'VALID', padded: input };
    if (same(h, oh) && same(w, ow)) return { padding: 'SAME', padded: input };
    const shape = [inShape[0], h + 2 * pad, w + 2 * pad, inShape[1]];
    // An int8 input pads with its zero point, which is real 0.
    const padded = this.addTensor({ ...this.tensors[input], name: `${node.outputs[0]}/pad`, shape });
    this.emit(BuiltinOperator.PAD, [input, this.intConstant([0, 0, pad, pad, pad, pad, 0, 0], [4, 2])], [padded]);
    return { padding: 'VALID', padded };
  }

  /** A 1x1 conv on a channels-first map: W [Cout, Cin] @ x [B, Cin, H*W] + bias, as BATCH_MATMUL with a constant left operand. */
  private pointwiseMatmul(node: Extract<Node, { op: 'Conv' }>): void {
    const [x, w, b] = node.inputs;
    const [batch, cin, h, wd] = this.shape(x);
    const weight = this.param(w);
    const cout = weight.viewShape[0];
    const flat = this.activation(`${node.outputs[0]}/flat`, [batch, cin, h * wd]);
    this.emit(BuiltinOperator.RESHAPE, [this.floatHeld(x).tensor, this.intConstant([batch, cin, h * wd])], [flat]);
    const matrix = this.floatConstant(`${w}|matrix`, w, [1, cout, cin], weight.data);
    const product = this.activation(`${node.outputs[0]}/matmul`, [batch, cout, h * wd]);
    this.emit(BuiltinOperator.BATCH_MATMUL, [matrix, flat], [product], { kind: 'batchMatMul', adjX: false, adjY: false });
    let result = product;
    if (b !== undefined) {
      result = this.activation(`${node.outputs[0]}/bias`, [batch, cout, h * wd]);
      const bias = this.floatConstant(`${b}|column`, b, [cout, 1], this.param(b).data);
      this.emit(BuiltinOperator.ADD, [product, bias], [result], { kind: 'elementwise', activation: this.fusedActivation(node) });
    } else if (this.fusions.has(node)) {
      throw this.unsupported(node, 'a fused activation on a bias-free channels-first 1x1 conv');
    }
    const out = this.fusedOutput(node, identity(4));
    this.emit(BuiltinOperator.RESHAPE, [result, this.intConstant([batch, cout, h, wd])], [out]);
  }

  /** Linear: FULLY_CONNECTED over the last axis, which must be physically last; weights stay [out, in]. */
  private linear(node: Extract<Node, { op: 'Linear' }>): void {
    const [x, w, b] = node.inputs;
    const rank = this.shape(x).length;
    const layout = this.lastAxisLayout(x, rank - 1);
    const weight = this.param(w);
    const out = weight.viewShape[0];
    const int8 = this.int8Layer(node);
    const input = this.inLayout(x, layout, Boolean(int8));
    const filter = int8 ? this.int8Weight(`${w}|OI|int8`, w, weight.viewShape, int8.weight, int8.scales, 0) : this.floatWeight(node, `${w}|OI`, w, weight.viewShape, () => weight.data, (q) => q, 0);
    const bias = int8 ? this.int32Bias(node, b, out, input, int8.scales) : b === undefined ? this.floatConstant(`zeros:${out}`, `${node.name}:bias`, [out], new Float32Array(out)) : this.paramOperand(b, [0]);
    this.emit(BuiltinOperator.FULLY_CONNECTED, [input, filter, bias], [this.fusedOutput(node, layout, int8 ? this.outputQuant(node) : undefined)], {
      kind: 'fullyConnected',
      keepNumDims: rank > 2,
      activation: this.fusedActivation(node),
    });
  }

  /** MatMul as BATCH_MATMUL: batch axes leading in both; B may come with its last two axes swapped (adj_y). */
  private matmul(node: Node): void {
    const [a, b] = node.inputs;
    if (!this.graph.params.has(a) && this.graph.params.get(b)?.viewShape.length === 2) return this.matmulByConstant(node);
    if (this.graph.params.has(a) || this.graph.params.has(b)) throw this.unsupported(node, 'a MatMul with a constant operand other than a matrix on the right');
    const rank = this.shape(node.outputs[0]).length;
    const rowMajor = identity(rank);
    const swapped = [...rowMajor.slice(0, -2), rank - 1, rank - 2];
    const bLayout = this.widened(b, rank);
    // Keep B as it is when either form is already there; else move it the cheaper way (keeping its innermost axis).
    const adjY = sameLayout(bLayout, swapped) || (!sameLayout(bLayout, rowMajor) && bLayout[rank - 1] === rank - 2);
    const left = this.widenedTensor(a, rank, rowMajor);
    const right = this.widenedTensor(b, rank, adjY ? swapped : rowMajor);
    this.emit(BuiltinOperator.BATCH_MATMUL, [left, right], [this.output(node, rowMajor)], { kind: 'batchMatMul', adjX: false, adjY });
  }

  /**
   * x @ M for a constant matrix M [K, N] (VCMamba's chunked scan sums segments so): a FULLY_CONNECTED
   * with M transposed as its [N, K] weights, over x's last axis wherever x holds it physically last.
   */
  private matmulByConstant(node: Node): void {
    const [x, m] = node.inputs;
    const matrix = this.param(m);
    const [k, n] = matrix.viewShape;
    const rank = this.shape(x).length;
    const layout = this.lastAxisLayout(x, rank - 1);
    const weights = this.floatConstant(`${m}|NK`, m, [n, k], transposeData(matrix.data, [k, n], [1, 0]));
    const zeros = this.floatConstant(`zeros:${n}`, `${node.name}:bias`, [n], new Float32Array(n));
    this.emit(BuiltinOperator.FULLY_CONNECTED, [this.inLayout(x, layout), weights, zeros], [this.output(node, layout)], { kind: 'fullyConnected', keepNumDims: rank > 2, activation: 'NONE' });
  }

  // ---- data movement -----------------------------------------------------------------------------

  private reshape(node: Extract<Node, { op: 'Reshape' }>): void {
    const x = node.inputs[0];
    const inShape = this.shape(x);
    const outShape = this.shape(node.outputs[0]);
    const h = this.heldOf(x);
    let inLayout: Layout = h.layout;
    let outLayout: Layout | undefined = reshapeLayout(inShape, outShape, h.layout);
    if (this.options.mistake === 'head-flatten-nchw' && sameLayout(h.layout, RANK4_NHWC) && outShape.length < 4) {
      // The mistake: flattening the NHWC map as if it were NCHW.
      outLayout = identity(outShape.length);
    }
    if (!outLayout) {
      // Move the input once, into the order that gives the output the layout its readers want (NHWC for a map).
      const preferred = [...(this.wanted.get(node.outputs[0]) ?? []), ...(outShape.length === 4 ? [RANK4_NHWC] : []), identity(outShape.length)];
      for (const target of preferred) {
        const from = reshapeLayout(outShape, inShape, target);
        if (from) {
          inLayout = from;
          outLayout = target;
          break;
        }
      }
    }
    const { tensor: input, quant } = this.inOwnType(x, inLayout);
    const physical = physicalShape(outShape, outLayout!);
    if (physical.join() === this.tensors[input].shape.join()) return this.alias(node.outputs[0], { tensor: input, layout: outLayout!, quant });
    this.emit(BuiltinOperator.RESHAPE, [input, this.intConstant(physical)], [this.output(node, outLayout!, 0, quant)]);
  }

  /** A layout every reader of every output takes, when there is one (see `preferences`). */
  private sharedWanted(values: string[], rank: number): Layout | undefined {
    const lists = values.map((v) => this.wanted.get(v) ?? []);
    return lists[0].find((l) => l.length === rank && lists.every((list) => list.some((m) => sameLayout(m, l))));
  }

  private split(node: Extract<Node, { op: 'Split' }>): void {
    const x = node.inputs[0];
    const rank = this.shape(x).length;
    const shared = this.sharedWanted(node.outputs, rank);
    // Transposing once here beats transposing every part after it.
    const layout = shared && !onlyUnitAxesMove(this.shape(x), this.heldOf(x).layout, shared) ? shared : this.heldOf(x).layout;
    const { tensor: input, quant } = this.inOwnType(x, layout);
    const axis = layout.indexOf(node.axis < 0 ? node.axis + rank : node.axis);
    const even = node.sizes.every((s) => s === node.sizes[0]);
    if (even && node.sizes.length >= 2 && node.sizes.length <= 4) {
      const outputs = node.outputs.map((_, k) => this.output(node, layout, k, quant));
      this.emit(BuiltinOperator.SPLIT, [this.intConstant([axis], []), input], outputs, { kind: 'split', numSplits: node.sizes.length });
      return;
    }
    // XNNPACK splits evenly into 2 to 4 parts only: anything else is one SLICE per part, and a part
    // nothing reads (VCMamba's first scan step never uses its decay) is not computed at all.
    const shape = this.tensors[input].shape;
    let start = 0;
    node.outputs.forEach((value, k) => {
      const begin = shape.map((_, d) => (d === axis ? start : 0));
      const size = shape.map((s, d) => (d === axis ? node.sizes[k] : s));
      start += node.sizes[k];
      if (!this.read.has(value)) return;
      this.emit(BuiltinOperator.SLICE, [input, this.intConstant(begin), this.intConstant(size)], [this.output(node, layout, k, quant)]);
    });
  }

  private slice(node: Extract<Node, { op: 'Slice' }>): void {
    const x = node.inputs[0];
    const h = this.heldOf(x);
    const inShape = this.shape(x);
    const axis = node.axis < 0 ? node.axis + inShape.length : node.axis;
    const dim = inShape[axis];
    const start = node.start < 0 ? Math.max(0, node.start + dim) : Math.min(node.start, dim);
    const length = this.shape(node.outputs[0])[axis];
    const physicalAxis = h.layout.indexOf(axis);
    const shape = this.tensors[h.tensor].shape;
    const begin = shape.map((_, d) => (d === physicalAxis ? start : 0));
    const size = shape.map((s, d) => (d === physicalAxis ? length : s));
    this.emit(BuiltinOperator.SLICE, [h.tensor, this.intConstant(begin), this.intConstant(size)], [this.output(node, h.layout, 0, h.quant)]);
  }

  private concat(node: Extract<Node, { op: 'Concat' }>): void {
    if (node.inputs.some((i) => this.graph.params.has(i))) throw this.unsupported(node, 'a Concat with a constant operand');
    const rank = this.shape(node.outputs[0]).length;
    const layout = this.heldOf(node.inputs[0]).layout;
    const axis = layout.indexOf(node.axis < 0 ? node.axis + rank : node.axis);
    let parts = node.inputs.map((i) => ({ tensor: this.inLayout(i, layout), shape: this.tensors[this.inLayout(i, layout)].shape }));
    const out = this.output(node, layout);
    // XNNPACK concatenates 2 to 5 inputs at a time: more are joined in groups of five.
    let round = 0;
    while (parts.length > 5) {
      const next: typeof parts = [];
      for (let i = 0; i < parts.length; i += 5) {
        const group = parts.slice(i, i + 5);
        if (group.length === 1) {
          next.push(group[0]);
          continue;
        }
        const shape = group[0].shape.map((s, d) => (d === axis ? group.reduce((sum, g) => sum + g.shape[d], 0) : s));
        const tensor = this.activation(`${node.outputs[0]}/part${round}.${i / 5}`, shape);
        this.emit(BuiltinOperator.CONCATENATION, group.map((g) => g.tensor), [tensor], { kind: 'concat', axis });
        next.push({ tensor, shape });
      }
      parts = next;
      round++;
    }
    this.emit(BuiltinOperator.CONCATENATION, parts.map((p) => p.tensor), [out], { kind: 'concat', axis });
  }

  private reduce(node: Node, op: BuiltinOperator, axes: number[], keepDims: boolean): void {
    const h = this.floatHeld(node.inputs[0]);
    const rank = h.layout.length;
    const irAxes = axes.map((a) => (a < 0 ? a + rank : a));
    const physicalAxes = irAxes.map((a) => h.layout.indexOf(a)).sort((p, q) => p - q);
    // Without keepdims the remaining axes keep their physical order, renumbered among themselves.
    const kept = h.layout.filter((a) => !irAxes.includes(a));
    const layout = keepDims ? h.layout : kept.map((a) => kept.slice().sort((p, q) => p - q).indexOf(a));
    this.emit(op, [h.tensor, this.intConstant(physicalAxes)], [this.output(node, layout)], { kind: 'reducer', keepDims });
  }

  private avgPool(node: Extract<Node, { op: 'AvgPool' }>): void {
    const x = node.inputs[0];
    const inShape = this.shape(x);
    const outShape = this.shape(node.outputs[0]);
    const { kernel, stride, pad } = node;
    const input = this.inLayout(x, RANK4_NHWC);
    const channels = inShape[1];
    if (kernel === 1 && pad === 0) {
      if (stride === 1) return this.alias(node.outputs[0], { tensor: input, layout: RANK4_NHWC });
      // XNNPACK refuses a 1x1 pool with stride > 1: the same subsampling as a 1x1 depthwise conv of ones, exact.
      const ones = this.floatConstant(`ones:1x1x1x${channels}`, `${node.name}:ones`, [1, 1, 1, channels], new Float32Array(channels).fill(1));
      const zeros = this.floatConstant(`zeros:${channels}`, `${node.name}:bias`, [channels], new Float32Array(channels));
      this.checkValid(node, inShape, outShape, kernel, stride);
      this.emit(BuiltinOperator.DEPTHWISE_CONV_2D, [input, ones, zeros], [this.output(node, RANK4_NHWC)], { kind: 'depthwise', padding: 'VALID', stride, depthMultiplier: 1, activation: 'NONE' });
      return;
    }
    const [, , h, w] = inShape;
    const [, , oh, ow] = outShape;
    // TFLite's SAME pooling divides by the in-bounds count, PyTorch's count_include_pad=False; with no
    // padding both count only in-bounds elements (ceil_mode's partial windows included).
    const excludesPad = !node.countIncludePad || pad === 0;
    const same = (size: number, out: number) => {
      const o = Math.ceil(size / stride);
      return o === out && Math.floor(Math.max((o - 1) * stride + kernel - size, 0) / 2) === pad;
    };
    const valid = (size: number, out: number) => Math.floor((size - kernel) / stride) + 1 === out;
    let padding: 'SAME' | 'VALID';
    let source = input;
    if (pad === 0 && valid(h, oh) && valid(w, ow)) padding = 'VALID';
    else if (excludesPad && same(h, oh) && same(w, ow)) padding = 'SAME';
    else if (!excludesPad && valid(h + 2 * pad, oh) && valid(w + 2 * pad, ow)) {
      source = this.activation(`${node.outputs[0]}/pad`, [inShape[0], h + 2 * pad, w + 2 * pad, channels]);
      this.emit(BuiltinOperator.PAD, [input, this.intConstant([0, 0, pad, pad, pad, pad, 0, 0], [4, 2])], [source]);
      padding = 'VALID';
    } else {
      throw this.unsupported(node, `average pooling k${kernel} s${stride} p${pad} (count_include_pad ${node.countIncludePad}, ceil_mode ${Boolean(node.ceilMode)}) on ${h}x${w}, which TFLite's SAME/VALID pooling cannot reproduce`);
    }
    this.emit(BuiltinOperator.AVERAGE_POOL_2D, [source], [this.output(node, RANK4_NHWC)], { kind: 'pool', padding, stride, filter: kernel });
  }

  private checkValid(node: Node, inShape: number[], outShape: number[], kernel: number, stride: number): void {
    const ok = [2, 3].every((d) => Math.floor((inShape[d] - kernel) / stride) + 1 === outShape[d]);
    if (!ok) throw this.unsupported(node, `a ${kernel}x${kernel} stride-${stride} subsampling to ${outShape.slice(2).join('x')}`);
  }

  /** PyTorch's bilinear upsampling (align_corners=False) is TFLite's RESIZE_BILINEAR with half_pixel_centers. */
  private upsample(node: Extract<Node, { op: 'Upsample' }>): void {
    const [, , h, w] = this.shape(node.outputs[0]);
    const input = this.inLayout(node.inputs[0], RANK4_NHWC);
    const halfPixelCenters = this.options.mistake !== 'resize-without-half-pixel';
    this.emit(BuiltinOperator.RESIZE_BILINEAR, [input, this.intConstant([h, w])], [this.output(node, RANK4_NHWC)], { kind: 'resizeBilinear', halfPixelCenters });
  }

  /**
   * A Gather of constant indices along one axis: a product with the 0/1 selection matrix, exact for
   * finite values (each output is one input times 1 plus zeros). XNNPACK has no gather; it runs the
   * product. Along the last axis it is a FULLY_CONNECTED with the matrix as weights, otherwise a
   * BATCH_MATMUL with the matrix on the left and the gathered axis second to last.
   */
  private gather(node: Extract<Node, { op: 'Gather' }>): void {
    const [x, indicesName] = node.inputs;
    const indices = this.graph.params.get(indicesName)?.data;
    if (!(indices instanceof BigInt64Array || indices instanceof Int32Array)) throw this.unsupported(node, 'a Gather whose indices are not constant');
    const shape = this.shape(x);
    const rank = shape.length;
    const axis = node.axis < 0 ? node.axis + rank : node.axis;
    const n = shape[axis];
    const picks = Array.from(indices as ArrayLike<number | bigint>, (i) => Number(i) + (Number(i) < 0 ? n : 0));
    if (this.shape(indicesName).length !== 1) throw this.unsupported(node, 'a Gather with indices of rank other than 1');
    const matrix = new Float32Array(picks.length * n);
    picks.forEach((p, j) => (matrix[j * n + p] = 1));
    const own = this.heldOf(x).layout;
    if (own[rank - 1] === axis) {
      const zeros = this.floatConstant(`zeros:${picks.length}`, `${node.name}:bias`, [picks.length], new Float32Array(picks.length));
      const weights = this.floatConstant(`${indicesName}|selection`, `${indicesName}:selection`, [picks.length, n], matrix);
      this.emit(BuiltinOperator.FULLY_CONNECTED, [this.floatHeld(x).tensor, weights, zeros], [this.output(node, own)], { kind: 'fullyConnected', keepNumDims: true, activation: 'NONE' });
      return;
    }
    const layout = own[rank - 2] === axis && own.slice(0, rank - 2).every((a, i) => a === i) ? own : [...identity(rank).filter((a) => a !== axis && a !== rank - 1), axis, rank - 1];
    const input = this.inLayout(x, layout);
    const batch = physicalShape(shape, layout).slice(0, -2).map(() => 1);
    const selection = this.floatConstant(`${indicesName}|selection-left`, `${indicesName}:selection`, [...batch, picks.length, n], matrix);
    this.emit(BuiltinOperator.BATCH_MATMUL, [selection, input], [this.output(node, layout)], { kind: 'batchMatMul', adjX: false, adjY: false });
  }
}

/**
 * Lower a float graph (weights present) to a TFLite model. What depends on parameters alone (an
 * attention-bias gather, VCMamba's -exp(A_log)) is precomputed first, as the deployment passes do,
 * so that a graph exported without them (--no-fold) lowers too: the operators here take activations.
 */
export function lowerToTflite(graph: Graph, options: TfliteLowerOptions = {}): TfliteModel {
  return new Lowering(precomputeParameterOps(precomputeAttentionBias(graph)), options).run();
}
