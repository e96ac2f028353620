/**
 * At inference the distilled models output (head(x) + dist_head(x)) / 2: one linear layer
 * with averaged weights computes the same thing.
 */
import { cloneGraph, consumers, type Graph, producers } from '../ir.js';
import { paramOf, setParam } from './util.js';

export function mergeDistillationHeads(input: Graph): Graph {
  const graph = cloneGraph(input);
  const made = producers(graph);
  const users = consumers(graph);
  for (const half of [...graph.nodes]) {
    if (half.op !== 'Scale' || half.factor !== 0.5) continue;
    const add = made.get(half.inputs[0]);
    if (!add || add.op !== 'Add') continue;
    const [a, b] = add.inputs.map((n) => made.get(n));
    if (a?.op !== 'Linear' || b?.op !== 'Linear' || a.inputs[0] !== b.inputs[0]) continue;
    if (users.get(add.inputs[0])?.length !== 1 || users.get(add.inputs[1])?.length !== 1) continue;
    const [wa, ba, wb, bb] = [a.inputs[1], a.inputs[2], b.inputs[1], b.inputs[2]].map((n) => paramOf(graph, n)!);
    const average = (x?: Float32Array, y?: Float32Array) => (x && y ? x.map((v, i) => (v + y[i]) / 2) : undefined);
    const base = `${a.module}+${b.module}`;
    setParam(graph, `${base}.weight`, wa.shape, 'linear_weight', average(wa.data as Float32Array, wb.data as Float32Array));
    setParam(graph, `${base}.bias`, ba.shape, 'linear_bias', average(ba.data as Float32Array, bb.data as Float32Array));
    a.inputs = [a.inputs[0], `${base}.weight`, `${base}.bias`];
    a.module = base;
    a.outputs = [half.outputs[0]];
    graph.nodes = graph.nodes.filter((n) => n !== b && n !== add && n !== half);
  }
  return graph;
}
