/**
 * The quantisation pass: a deployed float graph and calibrated activation ranges in, the same
 * graph in QDQ form out (ONNX QuantizeLinear/DequantizeLinear around each quantised layer), which
 * onnxruntime fuses into its integer kernels (DQ -> Conv -> Q becomes QLinearConv, DQ -> MatMul -> Q
 * QLinearMatMul, DQ -> Gemm QGemm; linears over token sequences are written as MatMuls, see
 * linearsAsMatMuls).
 *
 * - Weights: int8, symmetric, one scale per output channel ([-127, 127], zero point 0).
 * - Biases: int32 at scale input_scale * weight_scale[o], which is what the integer kernels add.
 * - Activations: uint8, asymmetric, one scale per tensor from calibration. x86's integer GEMMs are
 *   u8 x s8 (VPDPBUSD, AMX TDPBUSD), so uint8 activations run on them with no conversion.
 * - A ReLU/ReLU6 that alone consumes a quantised layer's output is folded into the range of the Q
 *   after it (its range starts at 0 and ends at or below 6), so the runtime drops the clip.
 * - What stays float: LayerNorm, Softmax, GELU, the attention matmuls and bias add, residual adds and
 *   pooling (see README, int8, for what quantising them cost), and every module --keep-float names.
 * - Which layers are quantised at all is decided by work: a layer is quantised only when its
 *   multiply-accumulates per activation element it reads and writes reach `minIntensity`, so a
 *   depthwise 1x1 conv (one MAC per element) is not worth its Q/DQ pair, a 1x1 conv over 48 channels is.
 */
import { giveWay } from '../core/interrupt.js';
import { cloneGraph, consumers, type Graph, type Node, numel, producers } from '../graph/ir.js';

/** A calibrated range of one activation tensor. */
export interface Range {
  min: number;
  max: number;
}

export interface QuantizePolicy {
  /** Multiply-accumulates per activation element read and written below which a layer stays float. */
  minIntensity: number;
  /**
   * Run an Add in int8 when both its inputs already are (a residual between two quantised layers,
   * as in MobileNetV2): onnxruntime's QLinearAdd then saves a DQ, a Q and the float add.
   */
  int8Adds: boolean;
}

export const DEFAULT_POLICY: QuantizePolicy = { minIntensity: 1, int8Adds: true };

/** One layer the pass quantised, for the fidelity report. */
export interface QuantizedLayer {
  /** The IR node (its module path is `module`). */
  node: string;
  module: string;
  op: 'Conv' | 'Linear';
  /** The float graph's tensor this layer produces (after a folded ReLU). */
  output: string;
  /** The tensor in the quantised graph that holds the same values (a DQ output, or float when the layer ends in float). */
  quantizedOutput: string;
  /** Scale and zero point of the output's Q, when it has one. */
  outputQuant?: { scale: number; zeroPoint: number };
}

export interface QuantizeResult {
  graph: Graph;
  layers: QuantizedLayer[];
}

/** The layers a graph would quantise, and the tensors whose ranges that needs. */
export interface Plan {
  nodes: Node[];
  /** Adds whose inputs are both quantised: their output is quantised too. */
  adds: Node[];
  /** For each planned node, the tensor its quantised output is taken at (after a folded ReLU). */
  outputOf: Map<Node, string>;
  tensors: string[];
}

/** Multiply-accumulates of a Conv or Linear node, from shapes. */
function macsOf(graph: Graph, node: Node): number {
  const shape = (v: string) => graph.values.get(v)!.shape;
  const out = shape(node.outputs[0]);
  const w = shape(node.inputs[1]);
  // Conv weight [O, I/g, k, k]: each output element takes I/g * k * k MACs; Linear [O, I]: I; MatMul [I, O]: I.
  return numel(out) * (node.op === 'MatMul' ? w[0] : numel(w.slice(1)));
}

function isWeightLayer(graph: Graph, node: Node): boolean {
  return (node.op === 'Conv' || node.op === 'Linear' || node.op === 'MatMul') && graph.params.get(node.inputs[1])?.data instanceof Float32Array;
}

/** Which layers to quantise: weight layers that do enough work per element moved, not kept float. */
export function planQuantization(graph: Graph, keepFloat: (node: Node) => boolean, policy: QuantizePolicy = DEFAULT_POLICY): Plan {
  const users = consumers(graph);
  const nodes: Node[] = [];
  const outputOf = new Map<Node, string>();
  const tensors = new Set<string>();
  for (const node of graph.nodes) {
    if (!isWeightLayer(graph, node) || keepFloat(node)) continue;
    const x = node.inputs[0];
    const elements = numel(graph.values.get(x)!.shape) + numel(graph.values.get(node.outputs[0])!.shape);
    if (macsOf(graph, node) / elements < policy.minIntensity) continue;
    const next = users.get(node.outputs[0]) ?? [];
    const folded = node.op === 'Conv' && next.length === 1 && (next[0].op === 'Relu' || next[0].op === 'Relu6') ? next[0].outputs[0] : node.outputs[0];
    nodes.push(node);
    outputOf.set(node, folded);
    tensors.add(x);
    tensors.add(folded);
  }
  const adds: Node[] = [];
  if (policy.int8Adds) {
    const quantized = new Set(outputOf.values());
    for (const node of graph.nodes) {
      if (node.op !== 'Add' || keepFloat(node) || !node.inputs.every((i) => quantized.has(i)) || graph.outputs.includes(node.outputs[0])) continue;
      adds.push(node);
      quantized.add(node.outputs[0]);
      tensors.add(node.outputs[0]);
    }
  }
  return { nodes, adds, outputOf, tensors: [...tensors] };
}

/**
 * Linears over token sequences ([B, N, C] inputs) as a MatMul with the weight stored [C, O] and a
 * float bias Add after it, which is how the float export lowers them too; done before planning and
 * calibration so that the MatMul's own output is a tensor with a calibrated range. onnxruntime fuses
 * DQ -> MatMul -> Q into QLinearMatMul. eformer's earlier form, a Gemm on [B*N, C] with the bias
 * inside, fused into QGemm, which onnxruntime-web ran at 0.84x float time on efficientformer_l7's MLP
 * shape (49x768 by 768x3072) against 0.67x for QLinearMatMul (bench:int8's linear probe). The bias
 * Add stays float (onnxruntime folds it into a GELU after it). 2-D linears (classifier heads) stay.
 */
export function linearsAsMatMuls(input: Graph): Graph {
  const graph = cloneGraph(input);
  graph.nodes = graph.nodes.flatMap((n): Node[] => {
    const w = graph.params.get(n.inputs[1] ?? '');
    if (n.op !== 'Linear' || graph.values.get(n.inputs[0])!.shape.length === 2 || !(w?.data instanceof Float32Array)) return [n];
    const [rows, cols] = w.viewShape;
    const transposed = new Float32Array(w.data.length);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) transposed[c * rows + r] = w.data[r * cols + c];
    const wt = `${w.name}:transposed`;
    if (!graph.params.has(wt)) {
      graph.params.set(wt, { ...w, name: wt, shape: [cols, rows], viewShape: [cols, rows], data: transposed });
      graph.values.set(wt, { name: wt, shape: [cols, rows], dtype: 'float32' });
    }
    const y = n.outputs[0];
    if (n.inputs[2] === undefined) return [{ op: 'MatMul', name: n.name, module: n.module, inputs: [n.inputs[0], wt], outputs: [y] }];
    const mm = `${y}:matmul`;
    graph.values.set(mm, { ...graph.values.get(y)!, name: mm });
    return [
      { op: 'MatMul', name: n.name, module: n.module, inputs: [n.inputs[0], wt], outputs: [mm] },
      { op: 'Add', name: `${n.name}/bias`, module: n.module, inputs: [mm, n.inputs[2]], outputs: [y] },
    ];
  });
  return graph;
}

/** uint8 asymmetric quantisation of a range (widened to hold 0, as zero padding and ReLU need 0 exact). */
export function activationQuant(range: Range): { scale: number; zeroPoint: number } {
  const lo = Math.min(range.min, 0);
  const hi = Math.max(range.max, 0);
  const scale = hi > lo ? Math.fround((hi - lo) / 255) : 1;
  const zeroPoint = Math.max(0, Math.min(255, Math.round(-lo / scale)));
  return { scale, zeroPoint };
}

/** Per-output-channel symmetric int8 weights, the channels along `axis` of `shape` (row-major). */
export function quantizeWeights(w: Float32Array, shape: readonly number[], axis = 0): { q: Int8Array; scales: Float32Array } {
  const channels = shape[axis];
  // Row-major: the elements form `outer` runs of `channels` blocks of `inner` elements, one block a channel.
  // Walked block by block, as a per-element channel lookup through Int8Array.from took 18 s for efficientformer_l7.
  const inner = numel(shape.slice(axis + 1));
  const outer = w.length / (channels * inner);
  const max = new Float32Array(channels);
  for (let o = 0, i = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      let m = max[c];
      for (const end = i + inner; i < end; i++) m = Math.max(m, Math.abs(w[i]));
      max[c] = m;
    }
  }
  // An all-zero channel quantises to zeros at any scale.
  const scales = max.map((m) => (m > 0 ? Math.fround(m / 127) : 1));
  const q = new Int8Array(w.length);
  for (let o = 0, i = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const scale = scales[c];
      for (const end = i + inner; i < end; i++) q[i] = Math.max(-127, Math.min(127, Math.round(w[i] / scale)));
    }
  }
  return { q, scales };
}

/** The axis of a weight layer's output channels: 0 of a Conv's [O, I/g, k, k] or a Linear's [O, I]; 1 of a MatMul's [I, O]. */
const outputChannelAxis = (n: Node) => (n.op === 'MatMul' ? 1 : 0);

/** Each planned layer's int8 weights and scales, by node name. */
export type QuantizedWeights = Map<string, { q: Int8Array; scales: Float32Array }>;

/**
 * The int8 weights of `nodes`, per output channel, giving the event loop a turn after each layer:
 * done in one go, efficientformer_l7's 82 M weights held off Ctrl-C for over a second.
 */
export async function quantizeLayerWeights(graph: Graph, nodes: readonly Node[]): Promise<QuantizedWeights> {
  const out: QuantizedWeights = new Map();
  for (const n of nodes) {
    const w = graph.params.get(n.inputs[1])!;
    out.set(n.name, quantizeWeights(w.data as Float32Array, w.viewShape, outputChannelAxis(n)));
    await giveWay();
  }
  return out;
}

/** The graph in QDQ form: every planned layer's input, weight (`weights`, from quantizeLayerWeights), bias and output quantised. */
export function quantizeGraph(input: Graph, plan: Plan, ranges: Map<string, Range>, weights: QuantizedWeights): QuantizeResult {
  const graph = cloneGraph(input);
  const made = producers(graph);
  const before = new Map<string, Node[]>(); // nodes to insert before a node (by its name)
  const after = new Map<string, Node[]>(); // ... and after it
  const rewire = new Map<string, { to: string; all: boolean; readers: Set<string> }>();
  const quantOf = new Map<string, { scale: number; zeroPoint: number }>();
  const layers: QuantizedLayer[] = [];
  const local = new Map(ranges);

  const addParam = (name: string, shape: number[], data: Float32Array | Int8Array | Uint8Array | Int32Array) => {
    const dtype = data instanceof Float32Array ? 'float32' : data instanceof Int8Array ? 'int8' : data instanceof Uint8Array ? 'uint8' : 'int32';
    graph.params.set(name, { name, shape, viewShape: shape, dtype, role: data instanceof Float32Array ? 'quant_param' : 'quantized', trainable: false, data });
    graph.values.set(name, { name, shape, dtype });
  };
  const node = (n: Node) => n;
  const push = (map: Map<string, Node[]>, at: string, n: Node) => map.set(at, [...(map.get(at) ?? []), n]);

  /** Q -> DQ on activation `value` (once), placed after its producer; returns the DQ output. */
  const fakeQuantize = (value: string, module: string): string => {
    const dq = `${value}:dq`;
    if (quantOf.has(value)) return dq;
    const range = local.get(value);
    if (!range) throw new Error(`int8: no calibrated range for ${value}`);
    const quant = activationQuant(range);
    quantOf.set(value, quant);
    const shape = graph.values.get(value)!.shape;
    addParam(`${value}:scale`, [], Float32Array.of(quant.scale));
    addParam(`${value}:zero_point`, [], Uint8Array.of(quant.zeroPoint));
    graph.values.set(`${value}:q`, { name: `${value}:q`, shape, dtype: 'uint8' });
    graph.values.set(dq, { name: dq, shape, dtype: 'float32' });
    const q = node({ op: 'QuantizeLinear', name: `${value}/QuantizeLinear`, module, inputs: [value, `${value}:scale`, `${value}:zero_point`], outputs: [`${value}:q`] });
    const d = node({ op: 'DequantizeLinear', name: `${value}/DequantizeLinear`, module, inputs: [`${value}:q`, `${value}:scale`, `${value}:zero_point`], outputs: [dq] });
    const producer = made.get(value);
    if (producer) push(after, producer.name, q);
    else push(before, graph.nodes[0].name, q); // a graph input
    push(producer ? after : before, producer ? producer.name : graph.nodes[0].name, d);
    return dq;
  };

  /**
   * A constant tensor dequantised per channel along `axis`: int8 weights or int32 biases. A weight shared by
   * several layers (FcaFormer reuses its token mixers' projections) is dequantised once; a shared bias whose
   * scale differs (it follows each reader's input scale) gets a copy per reader.
   */
  const dequantized = new Map<string, { scales: Float32Array; out: string }>();
  const dequantizedConstant = (at: Node, tensor: string, shape: number[], data: Int8Array | Int32Array, scales: Float32Array, axis: number): string => {
    const earlier = dequantized.get(tensor);
    if (earlier && earlier.scales.every((s, i) => s === scales[i])) return earlier.out;
    const name = earlier ? `${tensor}@${at.name}` : tensor;
    if (!earlier) dequantized.set(tensor, { scales, out: `${name}:dq` });
    addParam(`${name}:quantized`, shape, data);
    addParam(`${name}:scale`, [scales.length], scales);
    addParam(`${name}:zero_point`, [scales.length], data instanceof Int8Array ? new Int8Array(scales.length) : new Int32Array(scales.length));
    const out = `${name}:dq`;
    graph.values.set(out, { name: out, shape, dtype: 'float32' });
    push(before, at.name, node({ op: 'DequantizeLinear', axis, name: `${name}/DequantizeLinear`, module: at.module, inputs: [`${name}:quantized`, `${name}:scale`, `${name}:zero_point`], outputs: [out] }));
    return out;
  };

  for (const original of plan.nodes) {
    const n = graph.nodes.find((m) => m.name === original.name)!;
    const x = n.inputs[0];
    const out = plan.outputOf.get(original)!;
    const xq = fakeQuantize(x, n.module);
    const inputScale = quantOf.get(x)!.scale;
    const weight = graph.params.get(n.inputs[1])!;
    const axis = outputChannelAxis(n);
    const { q, scales } = weights.get(n.name)!;
    const inputs = [xq, dequantizedConstant(n, weight.name, weight.viewShape, q, scales, axis)];
    const bias = n.inputs[2] === undefined ? undefined : graph.params.get(n.inputs[2]);
    if (bias) {
      const b = bias.data as Float32Array;
      const biasScales = scales.map((s) => Math.fround(s * inputScale));
      const bq = Int32Array.from(b, (v, o) => Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(v / biasScales[o]))));
      inputs.push(dequantizedConstant(n, bias.name, bias.viewShape, bq, biasScales, 0));
    }
    n.inputs = inputs;
    const seen = rewire.get(x);
    rewire.set(x, { to: xq, all: seen?.all ?? false, readers: new Set([...(seen?.readers ?? []), n.name]) });
    const op = n.op === 'Conv' ? 'Conv' : 'Linear';
    // A graph output (the classifier's logits) stays float: QGemm writes float, and 8 bits would cap the logits' precision.
    if (graph.outputs.includes(out)) {
      layers.push({ node: n.name, module: n.module, op, output: out, quantizedOutput: out });
    } else {
      const outq = fakeQuantize(out, n.module);
      // The runtime fuses a layer only when its output goes to the Q alone: every reader takes the DQ.
      rewire.set(out, { to: outq, all: true, readers: new Set() });
      layers.push({ node: n.name, module: n.module, op, output: out, quantizedOutput: outq, outputQuant: quantOf.get(out) });
    }
  }
  for (const add of plan.adds) {
    const out = add.outputs[0];
    rewire.set(out, { to: fakeQuantize(out, add.module), all: true, readers: new Set() });
  }

  const nodes: Node[] = [];
  const place = (n: Node): void => {
    for (const m of before.get(n.name) ?? []) place(m);
    nodes.push(n);
    for (const m of after.get(n.name) ?? []) place(m);
  };
  for (const n of graph.nodes) place(n);
  for (const n of nodes) {
    if (n.op === 'QuantizeLinear') continue;
    n.inputs = n.inputs.map((i) => {
      const r = rewire.get(i);
      return r && (r.all || r.readers.has(n.name)) ? r.to : i;
    });
  }
  graph.nodes = nodes;
  graph.outputs = graph.outputs.map((o) => (rewire.get(o)?.all ? rewire.get(o)!.to : o));
  return { graph, layers };
}
