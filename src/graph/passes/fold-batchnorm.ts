/**
 * Fold an inference BatchNorm into the conv before it:
 *   W' = W * g / sqrt(var + eps),  b' = (b - mean) * g / sqrt(var + eps) + beta.
 * A BatchNorm with no conv of its own before it (EfficientFormerV2's final `norm`) stays.
 */
import { cloneGraph, consumers, type Graph, producers } from '../ir.js';
import { absorbInto, paramOf, scaleOutputChannels, setParam } from './util.js';

export function foldBatchNorm(input: Graph): Graph {
  const graph = cloneGraph(input);
  const users = consumers(graph);
  const made = producers(graph);
  for (const bn of [...graph.nodes]) {
    if (bn.op !== 'BatchNorm') continue;
    const conv = made.get(bn.inputs[0]);
    if (!conv || conv.op !== 'Conv' || users.get(bn.inputs[0])?.length !== 1) continue;
    const [gamma, beta, mean, variance] = bn.inputs.slice(1).map((n) => paramOf(graph, n)?.data as Float32Array | undefined);
    const weight = paramOf(graph, conv.inputs[1])!;
    const bias = conv.inputs[2] ? paramOf(graph, conv.inputs[2]) : undefined;
    const out = weight.shape[0];
    const haveData = gamma && beta && mean && variance;
    const factor = (o: number) => gamma![o] / Math.sqrt(variance![o] + bn.eps);
    const scaled = haveData ? scaleOutputChannels(weight.data as Float32Array, bias?.data as Float32Array | undefined, out, factor) : {};
    if (scaled.bias) for (let o = 0; o < out; o++) scaled.bias[o] += beta![o] - mean![o] * factor(o);
    const biasName = conv.inputs[2] ?? `${conv.module}.bias`;
    setParam(graph, weight.name, weight.shape, 'conv_weight', scaled.weight);
    setParam(graph, biasName, [out], 'conv_bias', scaled.bias);
    conv.inputs = [conv.inputs[0], weight.name, biasName];
    absorbInto(graph, conv, bn);
  }
  return graph;
}
