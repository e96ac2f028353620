/**
 * Precompute `attention_biases[:, attention_bias_idxs]` as one constant [heads, Nq, Nk]
 * table, as PyTorch's eval mode caches it, so no Gather runs at inference.
 */
import { cloneGraph, type Graph, numel } from '../ir.js';
import { paramOf, setParam } from './util.js';

export function precomputeAttentionBias(input: Graph): Graph {
  const graph = cloneGraph(input);
  graph.nodes = graph.nodes.filter((node) => {
    if (node.op !== 'Gather') return true;
    const table = paramOf(graph, node.inputs[0]);
    const idxs = paramOf(graph, node.inputs[1]);
    if (!table || !idxs || table.role !== 'attention_biases') return true;
    const out = graph.values.get(node.outputs[0])!;
    const [heads, offsets] = table.shape;
    const cells = numel(idxs.shape);
    let data: Float32Array | undefined;
    if (table.data && idxs.data) {
      const src = table.data as Float32Array;
      const index = idxs.data as BigInt64Array;
      data = new Float32Array(heads * cells);
      for (let h = 0; h < heads; h++) for (let i = 0; i < cells; i++) data[h * cells + i] = src[h * offsets + Number(index[i])];
    }
    const name = `${node.module}.attention_bias_table`;
    setParam(graph, name, out.shape, 'constant', data);
    // Consumers read the table where they read the Gather's output.
    for (const other of graph.nodes) other.inputs = other.inputs.map((i) => (i === node.outputs[0] ? name : i));
    return false;
  });
  return graph;
}
