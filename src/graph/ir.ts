/**
 * The graph IR: a flat list of nodes over named tensors with static shapes.
 *
 * Nodes keep PyTorch module semantics (a `Linear` on [B, N, C] stays a Linear, not a
 * MatMul + Add) because counting follows the paper's per-module hook rules. Lowering to
 * ONNX operators happens in the exporter, never here.
 */

/** int8, uint8 and int32 appear only in quantised graphs (weights, zero points, biases); see int8/. */
export type DType = 'float32' | 'int64' | 'int8' | 'uint8' | 'int32';
export type TensorData = Float32Array | BigInt64Array | Int8Array | Uint8Array | Int32Array;

/** What a parameter is for; passes and weight init dispatch on it. */
export type ParamRole =
  | 'conv_weight'
  | 'conv_bias'
  | 'linear_weight'
  | 'linear_bias'
  | 'bn_weight'
  | 'bn_bias'
  | 'bn_running_mean'
  | 'bn_running_var'
  | 'bn_num_batches_tracked'
  | 'ln_weight'
  | 'ln_bias'
  | 'layer_scale'
  | 'attention_biases'
  | 'attention_bias_idxs'
  /** A learned per-token (or per-row) multiplier that no layer absorbs (FcaFormer's s_scale_factors). */
  | 'scale_factor'
  | 'position_embedding'
  /** A state-space (Mamba) block's A_log, D and per-direction B biases. */
  | 'ssm_a_log'
  | 'ssm_d'
  | 'ssm_direction_bias'
  /** Derived by the graph (index tables, masks): not PyTorch state, never randomised or loaded. */
  | 'constant'
  /** Quantised weights and biases, and the scales and zero points of Q/DQ nodes (int8/). */
  | 'quantized'
  | 'quant_param';

/**
 * A named parameter or buffer. `shape` is the PyTorch state_dict shape (what a checkpoint
 * holds); `viewShape` is how the graph uses it (e.g. a V1 layer scale [C] seen as [C, 1, 1]).
 */
export interface Param {
  name: string;
  shape: number[];
  viewShape: number[];
  dtype: DType;
  role: ParamRole;
  /** True for nn.Parameter, false for registered buffers (BN stats, bias indices). */
  trainable: boolean;
  /** Absent until weights are initialised or loaded: counting needs only shapes. */
  data?: TensorData;
}

export type NodeOp =
  | { op: 'Conv'; kernel: number; stride: number; pad: number; groups: number }
  | { op: 'BatchNorm'; eps: number }
  | { op: 'Relu' }
  | { op: 'Relu6' }
  | { op: 'Gelu' }
  | { op: 'Linear' }
  /**
   * `hooked: false` for a layer norm the toolbox never sees: F.layer_norm called by a module class
   * of the reference's own (FcaFormer's ConvNeXt blocks), not an nn.LayerNorm.
   */
  | { op: 'LayerNorm'; eps: number; hooked?: false }
  | { op: 'AvgPool'; kernel: number; stride: number; pad: number; countIncludePad: boolean; ceilMode?: boolean }
  | { op: 'Add' }
  | { op: 'Sub' }
  | { op: 'Mul' }
  | { op: 'Scale'; factor: number }
  | { op: 'MatMul' }
  | { op: 'Softmax'; axis: number }
  | { op: 'Reshape'; shape: number[] }
  | { op: 'Transpose'; perm: number[] }
  | { op: 'Split'; axis: number; sizes: number[] }
  | { op: 'ReduceMean'; axes: number[]; keepdims: boolean }
  | { op: 'Upsample'; scale: number }
  | { op: 'Gather'; axis: number }
  | { op: 'Max' }
  | { op: 'Concat'; axis: number }
  | { op: 'Slice'; axis: number; start: number; end: number }
  | { op: 'Sigmoid' }
  | { op: 'Softplus' }
  | { op: 'Exp' }
  | { op: 'ReduceSum'; axes: number[]; keepdims: boolean }
  /**
   * ONNX's QuantizeLinear / DequantizeLinear: inputs [x, scale, zero point]; the zero point's dtype
   * is the quantised type. `axis` makes scale and zero point per-channel along it.
   */
  | { op: 'QuantizeLinear'; axis?: number }
  | { op: 'DequantizeLinear'; axis?: number };

export type OpType = NodeOp['op'];

export type Node = NodeOp & {
  name: string;
  /** Dotted PyTorch module path that made this node, e.g. `network.6.4.token_mixer`. */
  module: string;
  inputs: string[];
  outputs: string[];
};

/**
 * A module whose count the toolbox hooks as a whole (an attention module, say): facts that
 * per-node data cannot carry. The family that builds it says what the hook counts.
 */
export interface ModuleInfo {
  path: string;
  /** The PyTorch class the toolbox hooked, e.g. `Attention4D`. */
  kind: string;
  /** MACs the toolbox's hook for this module adds. */
  macs: number;
}

export interface Value {
  name: string;
  shape: number[];
  dtype: DType;
}

export interface Graph {
  name: string;
  inputs: Value[];
  /** Values the graph returns. */
  outputs: string[];
  /** What each output is called outside the graph (ONNX output names), by position. */
  outputNames: string[];
  /** Every tensor: inputs, activations and parameters (by their graph name). */
  values: Map<string, Value>;
  params: Map<string, Param>;
  nodes: Node[];
  modules: ModuleInfo[];
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Consumers of each value, for passes that must know whether an output is used once. */
export function consumers(graph: Graph): Map<string, Node[]> {
  const map = new Map<string, Node[]>();
  for (const node of graph.nodes) {
    for (const input of node.inputs) {
      const list = map.get(input) ?? [];
      list.push(node);
      map.set(input, list);
    }
  }
  return map;
}

export function producers(graph: Graph): Map<string, Node> {
  const map = new Map<string, Node>();
  for (const node of graph.nodes) for (const out of node.outputs) map.set(out, node);
  return map;
}

/** A shallow structural copy: passes replace nodes and params, never mutate shared ones. */
export function cloneGraph(graph: Graph): Graph {
  return {
    name: graph.name,
    inputs: graph.inputs.map((v) => ({ ...v })),
    outputs: [...graph.outputs],
    outputNames: [...graph.outputNames],
    values: new Map(graph.values),
    params: new Map(graph.params),
    nodes: graph.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs] })),
    modules: [...graph.modules],
  };
}

/** Drop params and values that no node reads any more. */
export function pruneUnused(graph: Graph): void {
  const used = new Set<string>(graph.outputs);
  for (const node of graph.nodes) {
    for (const i of node.inputs) used.add(i);
    for (const o of node.outputs) used.add(o);
  }
  for (const input of graph.inputs) used.add(input.name);
  for (const name of [...graph.params.keys()]) if (!used.has(name)) graph.params.delete(name);
  for (const name of [...graph.values.keys()]) if (!used.has(name)) graph.values.delete(name);
}
