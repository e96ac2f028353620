/**
 * Precompute what depends on parameters alone: an Exp, Scale, Reshape, Transpose or
 * constant-index Gather whose inputs are all parameters becomes a constant (VCMamba's
 * A = -exp(A_log) and its transpose, the direction-bias table `direction_Bs[codes]`). Nodes come in topological order, so chains fold
 * in one sweep. The runtimes would fold them at load time; folded here, the exported file holds
 * the values every runtime uses, and Core ML's weight check finds them as written.
 */
import { cloneGraph, type Graph, type Node, numel, type Param } from '../ir.js';
import { paramOf, setParam } from './util.js';

const FOLDABLE = new Set<Node['op']>(['Exp', 'Scale', 'Reshape', 'Transpose', 'Gather']);

export function precomputeParameterOps(input: Graph): Graph {
  const graph = cloneGraph(input);
  graph.nodes = graph.nodes.filter((node) => {
    if (!FOLDABLE.has(node.op)) return true;
    const params = node.inputs.map((n) => paramOf(graph, n));
    if (params.some((p) => !p) || params[0]!.dtype !== 'float32') return true;
    const out = graph.values.get(node.outputs[0])!;
    const data = params.every((p) => p!.data) ? evaluate(node, params as Param[], out.shape) : undefined;
    setParam(graph, node.outputs[0], out.shape, 'constant', data);
    return false;
  });
  return graph;
}

function evaluate(node: Node, [x, index]: Param[], outShape: number[]): Float32Array {
  const data = x.data as Float32Array;
  switch (node.op) {
    case 'Exp':
      return data.map(Math.exp);
    case 'Scale':
      return data.map((v) => v * node.factor);
    case 'Reshape':
      return data.slice();
    case 'Transpose':
      return transposed(data, x.viewShape, node.perm);
    case 'Gather': {
      const shape = x.viewShape;
      const inner = numel(shape.slice(node.axis + 1));
      const rows = shape[node.axis];
      const picks = Array.from(index.data as BigInt64Array, Number);
      const out = new Float32Array(numel(outShape));
      let at = 0;
      for (let outer = 0; outer < numel(shape.slice(0, node.axis)); outer++) {
        for (const pick of picks) {
          out.set(data.subarray((outer * rows + pick) * inner, (outer * rows + pick + 1) * inner), at);
          at += inner;
        }
      }
      return out;
    }
    default:
      throw new Error(`precomputeParameterOps cannot evaluate ${node.op}`);
  }
}

/** `data` of `shape` with its axes reordered by `perm` (numpy's transpose). */
function transposed(data: Float32Array, shape: number[], perm: number[]): Float32Array {
  const strides = shape.map((_, i) => numel(shape.slice(i + 1)));
  const outShape = perm.map((p) => shape[p]);
  const out = new Float32Array(data.length);
  const index = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < out.length; i++) {
    out[i] = data[index.reduce((at, v, axis) => at + v * strides[perm[axis]], 0)];
    // Next output index, last axis fastest.
    for (let axis = outShape.length - 1; axis >= 0 && ++index[axis] === outShape[axis]; axis--) index[axis] = 0;
  }
  return out;
}
