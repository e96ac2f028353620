/**
 * Fold an inference BatchNorm into the per-token linear maps that read it (a pre-norm): with
 * a = g / sqrt(var + eps) and b = beta - mean * a per channel, W (a x + b) + c is
 * (W diag(a)) x + (c + W b), exactly. The channels may reach those maps through anything that
 * commutes with a per-channel affine map: reshapes and transposes that keep the channel axis
 * whole, slices and means over other axes (a token pooling). Folding targets are 1x1 convs
 * without padding or groups and Linears over tokens [..., N, C].
 *
 * A BatchNorm stays when anything else reads it on the way (an add, an activation, a padded conv:
 * its zero padding would be normalised too), and when it reaches a classifier over pooled [B, C]
 * features: that fold saves one op on the last map and would rewrite the heads the head-merging
 * pass and the recorded exports keep as released.
 */
import { cloneGraph, consumers, type Graph, type Node } from '../ir.js';
import { paramOf, setParam } from './util.js';

export function foldPreBatchNorm(input: Graph): Graph {
  const graph = cloneGraph(input);
  // Later BatchNorms first: one between an earlier BatchNorm and its linears (a BatchNorm1d after
  // a token pooling) must be gone before the earlier one looks through it.
  for (const bn of [...graph.nodes].reverse()) {
    if (bn.op !== 'BatchNorm') continue;
    const targets = foldTargets(graph, consumers(graph), bn.outputs[0], 1);
    if (!targets?.length) continue;
    const affine = affineOf(graph, bn);
    for (const target of targets) foldInto(graph, target, affine);
    bypass(graph, bn);
  }
  return graph;
}

/** The linear maps every path from `value` (channels on `axis`) ends in, or undefined if a path ends elsewhere. */
function foldTargets(graph: Graph, users: Map<string, Node[]>, value: string, axis: number): Node[] | undefined {
  if (graph.outputs.includes(value)) return undefined;
  const shape = graph.values.get(value)!.shape;
  const found: Node[] = [];
  for (const node of users.get(value) ?? []) {
    if (node.inputs.indexOf(value) !== 0 || node.inputs.lastIndexOf(value) !== 0) return undefined;
    if (isFoldTarget(node, shape, axis)) {
      found.push(node);
      continue;
    }
    const next = channelAxisAfter(node, shape, graph.values.get(node.outputs[0])!.shape, axis);
    const deeper = next === undefined ? undefined : foldTargets(graph, users, node.outputs[0], next);
    if (!deeper) return undefined;
    found.push(...deeper);
  }
  return found;
}

function isFoldTarget(node: Node, shape: number[], axis: number): boolean {
  if (node.op === 'Linear') return shape.length >= 3 && axis === shape.length - 1;
  if (node.op === 'Conv') return axis === 1 && node.kernel === 1 && node.pad === 0 && node.groups === 1;
  return false;
}

/** Where the channel axis is in `node`'s output, if the node commutes with a per-channel affine map. */
function channelAxisAfter(node: Node, inShape: number[], outShape: number[], axis: number): number | undefined {
  switch (node.op) {
    case 'Transpose':
      return node.perm.indexOf(axis);
    case 'Reshape': {
      // The channel axis survives whole if the output has an axis of the same size after the same number of elements.
      const before = inShape.slice(0, axis).reduce((p, d) => p * d, 1);
      for (let j = 0, prefix = 1; j < outShape.length; prefix *= outShape[j++]) {
        if (prefix === before && outShape[j] === inShape[axis]) return j;
      }
      return undefined;
    }
    case 'ReduceMean':
      if (node.axes.includes(axis)) return undefined;
      return node.keepdims ? axis : axis - node.axes.filter((a) => a < axis).length;
    case 'Slice':
      return node.axis === axis ? undefined : axis;
    default:
      return undefined;
  }
}

function affineOf(graph: Graph, bn: Node & { op: 'BatchNorm' }): { scale: Float64Array; shift: Float64Array } | undefined {
  const [gamma, beta, mean, variance] = bn.inputs.slice(1).map((n) => paramOf(graph, n)?.data as Float32Array | undefined);
  if (!gamma || !beta || !mean || !variance) return undefined;
  const scale = Float64Array.from(gamma, (g, c) => g / Math.sqrt(variance[c] + bn.eps));
  return { scale, shift: Float64Array.from(beta, (b, c) => b - mean[c] * scale[c]) };
}

/** W' = W diag(a), c' = c + W b for a Linear [out, in] or a 1x1 conv [out, in, 1, 1] (the same layout). */
function foldInto(graph: Graph, target: Node, affine: { scale: Float64Array; shift: Float64Array } | undefined): void {
  const weight = paramOf(graph, target.inputs[1])!;
  const bias = target.inputs[2] ? paramOf(graph, target.inputs[2]) : undefined;
  const [out, inputs] = weight.shape;
  const w = weight.data as Float32Array | undefined;
  let folded: { weight: Float32Array; bias: Float32Array } | undefined;
  if (affine && w) {
    folded = { weight: new Float32Array(w.length), bias: new Float32Array(out) };
    const c = bias?.data as Float32Array | undefined;
    for (let o = 0; o < out; o++) {
      let acc = c ? c[o] : 0;
      for (let i = 0; i < inputs; i++) {
        folded.weight[o * inputs + i] = w[o * inputs + i] * affine.scale[i];
        acc += w[o * inputs + i] * affine.shift[i];
      }
      folded.bias[o] = acc;
    }
  }
  const kind = target.op === 'Conv' ? 'conv' : 'linear';
  const biasName = target.inputs[2] ?? `${target.module}.bias`;
  setParam(graph, weight.name, weight.shape, `${kind}_weight`, folded?.weight);
  setParam(graph, biasName, [out], `${kind}_bias`, folded?.bias);
  target.inputs = [target.inputs[0], weight.name, biasName];
}

/** Remove `node`; its readers read its input instead. */
function bypass(graph: Graph, node: Node): void {
  graph.nodes.splice(graph.nodes.indexOf(node), 1);
  for (const other of graph.nodes) other.inputs = other.inputs.map((i) => (i === node.outputs[0] ? node.inputs[0] : i));
}
