/**
 * Parameter and MAC counts.
 *
 * `toolbox` reproduces the forward hooks of the papers' toolbox.py, quirks included, so the
 * figures equal what the paper printed:
 *  - Conv2d: MACs = Cout*Hout*Wout*k*k*Cin/groups; params = weight elements + weight.size(1)
 *    (the hook adds Cin/groups where the bias was meant).
 *  - Linear: MACs = out*in*tokens (tokens = size(-2) for inputs of rank > 2); params = weight + bias.
 *  - GELU: the hook tests the rank of output[0] (one rank lower than the output), so a 4-D
 *    activation [B, C, H, W] counts C*H, not C*H*W; a 3-D one [B, N, C] counts N*C.
 *  - LayerNorm (nn.LayerNorm only): MACs = 2*N*C; params = weight + bias.  AvgPool2d: MACs = output elements * k*k.
 *  - Modules hooked as a whole (attention): what the family recorded for them (ModuleInfo).
 *  - Nothing else (BN, activations other than GELU, adds, bias tables, layer scales).
 * `standard` counts only conv, linear and attention matmul MACs, exactly.
 */
import { type Graph, type Node, numel } from './ir.js';

export interface LayerCount {
  /** Module path, e.g. `network.6.4.mlp.fc1`. */
  module: string;
  /** The PyTorch module kind the toolbox hooked (Conv2d, Linear, GELU, ...). */
  kind: string;
  outShape: number[];
  params: number;
  macs: number;
  /** Top-level group for subtotals: `patch_embed`, `network.3`, `head`, ... */
  group: string;
}

export interface ModelCounts {
  params: { toolbox: number; total: number };
  macs: { toolbox: number; standard: number };
  layers: LayerCount[];
}

/** How a family groups module paths for subtotals; by default the first path segment. */
export type GroupOf = (modulePath: string) => string;

const firstSegment: GroupOf = (module) => module.split('.')[0] || '(graph)';

function shapeOf(graph: Graph, name: string): number[] {
  const v = graph.values.get(name);
  if (!v) throw new Error(`unknown value ${name}`);
  return v.shape;
}

/** The toolbox hook for one node, or undefined where the toolbox registers none. */
function toolboxHook(graph: Graph, node: Node): { kind: string; params: number; macs: number } | undefined {
  const out = shapeOf(graph, node.outputs[0]);
  switch (node.op) {
    case 'Conv': {
      const w = shapeOf(graph, node.inputs[1]);
      const cin = shapeOf(graph, node.inputs[0])[1];
      return { kind: 'Conv2d', params: numel(w) + w[1], macs: (out[1] * out[2] * out[3] * w[3] * w[3] * cin) / node.groups };
    }
    case 'Linear': {
      const w = shapeOf(graph, node.inputs[1]);
      const input = shapeOf(graph, node.inputs[0]);
      const tokens = input.length > 2 ? input[input.length - 2] : 1;
      return { kind: 'Linear', params: w[0] * w[1] + (node.inputs[2] ? w[0] : 0), macs: w[0] * w[1] * tokens };
    }
    case 'Gelu':
      return { kind: 'GELU', params: 0, macs: out.length - 1 > 3 ? out[1] * out[2] * out[3] : out[1] * out[2] };
    case 'LayerNorm': {
      if (node.hooked === false) return undefined;
      const input = shapeOf(graph, node.inputs[0]);
      const c = shapeOf(graph, node.inputs[1])[0];
      // A 2-D input is one token (the reference's rule would raise there; scripts/reference_counts.py).
      return { kind: 'LayerNorm', params: 2 * c, macs: 2 * input[1] * (input.length > 2 ? input[2] : 1) };
    }
    case 'AvgPool':
      return { kind: 'AvgPool2d', params: 0, macs: out[1] * out[2] * out[3] * node.kernel * node.kernel };
    default:
      return undefined;
  }
}

/** Conv, linear and matmul MACs of one node, per the whole batch. */
function standardMacs(graph: Graph, node: Node): number {
  const out = shapeOf(graph, node.outputs[0]);
  switch (node.op) {
    case 'Conv': {
      const w = shapeOf(graph, node.inputs[1]);
      return numel(out) * w[1] * w[2] * w[3];
    }
    case 'Linear':
      return numel(out) * shapeOf(graph, node.inputs[1])[1];
    case 'MatMul': {
      const a = shapeOf(graph, node.inputs[0]);
      return numel(out) * a[a.length - 1];
    }
    default:
      return 0;
  }
}

export function countGraph(graph: Graph, groupOf: GroupOf = firstSegment): ModelCounts {
  const layers: LayerCount[] = [];
  let standard = 0;
  for (const node of graph.nodes) {
    standard += standardMacs(graph, node);
    const hook = toolboxHook(graph, node);
    if (hook) layers.push({ module: node.module, ...hook, outShape: shapeOf(graph, node.outputs[0]), group: groupOf(node.module) });
  }
  // Attention hooks fire when the module returns: place each after its module's last layer.
  for (const m of graph.modules) {
    const inside = (l: LayerCount) => l.module === m.path || l.module.startsWith(`${m.path}.`);
    let at = layers.length;
    for (let i = layers.length - 1; i >= 0; i--) {
      if (inside(layers[i])) {
        at = i + 1;
        break;
      }
    }
    layers.splice(at, 0, { module: m.path, kind: m.kind, outShape: [], params: 0, macs: m.macs, group: groupOf(m.path) });
  }
  let total = 0;
  for (const p of graph.params.values()) if (p.trainable) total += numel(p.shape);
  return {
    params: { toolbox: layers.reduce((s, l) => s + l.params, 0), total },
    macs: { toolbox: layers.reduce((s, l) => s + l.macs, 0), standard },
    layers,
  };
}
