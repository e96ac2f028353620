/**
 * Fold an inference BatchNorm into the unpadded 1x1 conv that is its only reader (VCMamba's
 * pre-norms before `mamba.in_conv` and `mlp.fc1`). With s = g / sqrt(var + eps) and
 * t = beta - mean * s per input channel c:
 *   W'[o, c] = W[o, c] * s[c],   b'[o] = b[o] + sum_c W[o, c] * t[c].
 * A padded or k > 1 conv would also see t where it reads padding, so it is left alone. Runs after
 * foldBatchNorm, so a BatchNorm that follows a conv is already gone.
 */
import { cloneGraph, consumers, type Graph } from '../ir.js';
import { paramOf, setParam } from './util.js';

export function foldBatchNormIntoNextConv(input: Graph): Graph {
  const graph = cloneGraph(input);
  const users = consumers(graph);
  for (const bn of [...graph.nodes]) {
    if (bn.op !== 'BatchNorm' || graph.outputs.includes(bn.outputs[0])) continue;
    const readers = users.get(bn.outputs[0]);
    const conv = readers?.length === 1 ? readers[0] : undefined;
    if (conv?.op !== 'Conv' || conv.kernel !== 1 || conv.pad !== 0 || conv.inputs[0] !== bn.outputs[0]) continue;
    const [gamma, beta, mean, variance] = bn.inputs.slice(1).map((n) => paramOf(graph, n)?.data as Float32Array | undefined);
    const weight = paramOf(graph, conv.inputs[1])!;
    const bias = conv.inputs[2] ? paramOf(graph, conv.inputs[2]) : undefined;
    const [out, perGroup] = weight.shape;
    let folded: { weight: Float32Array; bias: Float32Array } | undefined;
    if (gamma && beta && mean && variance && weight.data && (!bias || bias.data)) {
      const w = weight.data as Float32Array;
      const outPerGroup = out / conv.groups;
      folded = { weight: new Float32Array(w.length), bias: new Float32Array(out) };
      for (let o = 0; o < out; o++) {
        let shift = bias ? (bias.data as Float32Array)[o] : 0;
        for (let i = 0; i < perGroup; i++) {
          const c = Math.floor(o / outPerGroup) * perGroup + i;
          const s = gamma[c] / Math.sqrt(variance[c] + bn.eps);
          folded.weight[o * perGroup + i] = w[o * perGroup + i] * s;
          shift += w[o * perGroup + i] * (beta[c] - mean[c] * s);
        }
        folded.bias[o] = shift;
      }
    }
    const biasName = conv.inputs[2] ?? `${conv.module}.bias`;
    setParam(graph, weight.name, weight.shape, 'conv_weight', folded?.weight);
    setParam(graph, biasName, [out], 'conv_bias', folded?.bias);
    conv.inputs = [bn.inputs[0], weight.name, biasName];
    graph.nodes.splice(graph.nodes.indexOf(bn), 1);
  }
  return graph;
}
