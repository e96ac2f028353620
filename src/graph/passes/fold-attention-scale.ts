/**
 * Fold the attention scale into the query projection: (s Q) K = s (Q K), and s Q = (s W) x + s c,
 * exactly in real arithmetic. Applies where the scaled MatMul reads a Linear through reshapes and
 * transposes only, each read by nothing else; the Mul on the [heads, N, N'] logits goes away.
 */
import { cloneGraph, consumers, type Graph, type Node, producers } from '../ir.js';
import { paramOf, scaleOutputChannels, setParam } from './util.js';

export function foldAttentionScale(input: Graph): Graph {
  const graph = cloneGraph(input);
  const users = consumers(graph);
  const made = producers(graph);
  const soleReader = (value: string) => users.get(value)?.length === 1 && !graph.outputs.includes(value);
  for (const scale of [...graph.nodes]) {
    if (scale.op !== 'Scale') continue;
    const matmul = made.get(scale.inputs[0]);
    if (matmul?.op !== 'MatMul' || !soleReader(scale.inputs[0])) continue;
    const projection = matmul.inputs.map((operand) => linearBehind(operand, made, soleReader)).find((n) => n);
    if (!projection) continue;
    const weight = paramOf(graph, projection.inputs[1])!;
    const bias = projection.inputs[2] ? paramOf(graph, projection.inputs[2]) : undefined;
    const out = weight.shape[0];
    const scaled = scaleOutputChannels(weight.data as Float32Array | undefined, bias?.data as Float32Array | undefined, out, () => scale.factor);
    const biasName = projection.inputs[2] ?? `${projection.module}.bias`;
    setParam(graph, weight.name, weight.shape, 'linear_weight', scaled.weight);
    setParam(graph, biasName, [out], 'linear_bias', scaled.bias);
    projection.inputs = [projection.inputs[0], weight.name, biasName];
    graph.nodes.splice(graph.nodes.indexOf(scale), 1);
    for (const other of graph.nodes) other.inputs = other.inputs.map((i) => (i === scale.outputs[0] ? matmul.outputs[0] : i));
    graph.outputs = graph.outputs.map((o) => (o === scale.outputs[0] ? matmul.outputs[0] : o));
  }
  return graph;
}

/** The Linear that makes `value` through reshapes and transposes read by nothing else, if any. */
function linearBehind(value: string, made: Map<string, Node>, soleReader: (value: string) => boolean): Node | undefined {
  for (let node = made.get(value); node && soleReader(node.outputs[0]); node = made.get(node.inputs[0])) {
    if (node.op === 'Linear') return node;
    if (node.op !== 'Reshape' && node.op !== 'Transpose') return undefined;
  }
  return undefined;
}
