/** Small helpers the folding passes share. */
import type { Graph, Node, Param, ParamRole } from '../ir.js';

/** Put a new (or replacement) float parameter into the graph; never mutates the old one. */
export function setParam(graph: Graph, name: string, shape: number[], role: ParamRole, data: Float32Array | undefined): void {
  const param: Param = { name, shape, viewShape: shape, dtype: 'float32', role, trainable: true, data };
  graph.params.set(name, param);
  graph.values.set(name, { name, shape, dtype: 'float32' });
}

export function paramOf(graph: Graph, valueName: string): Param | undefined {
  return graph.params.get(valueName);
}

/**
 * Remove `node`; whatever read its output reads `producer`'s instead. The surviving value
 * keeps the producer's name, so runtimes that name fused kernels after their output still
 * point at the right module in profiles.
 */
export function absorbInto(graph: Graph, producer: Node, node: Node): void {
  const [from, to] = [node.outputs[0], producer.outputs[0]];
  graph.nodes.splice(graph.nodes.indexOf(node), 1);
  // Only the readers of `from` get a new input list: copying every node's list on every call made
  // a 256-block network's folding quadratic in garbage.
  for (const other of graph.nodes) if (other.inputs.includes(from)) other.inputs = other.inputs.map((i) => (i === from ? to : i));
  graph.outputs = graph.outputs.map((o) => (o === from ? to : o));
}

/**
 * Scale output channel o of a conv or linear weight, and its bias (zero when absent), by
 * `factor(o)`. Returns new arrays; the inputs are left as they are.
 */
export function scaleOutputChannels(
  weight: Float32Array | undefined,
  bias: Float32Array | undefined,
  outChannels: number,
  factor: (o: number) => number,
): { weight?: Float32Array; bias?: Float32Array } {
  if (!weight) return {};
  const per = weight.length / outChannels;
  const w = new Float32Array(weight.length);
  for (let o = 0; o < outChannels; o++) {
    const f = factor(o);
    for (let i = o * per; i < (o + 1) * per; i++) w[i] = weight[i] * f;
  }
  const b = new Float32Array(outChannels);
  for (let o = 0; o < outChannels; o++) b[o] = (bias ? bias[o] : 0) * factor(o);
  return { weight: w, bias: b };
}
