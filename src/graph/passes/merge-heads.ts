/**
 * At inference the distilled models output (head(x) + dist_head(x)) / 2: one layer with
 * averaged weights computes the same thing. The heads are linears (EfficientFormer) or 1x1
 * convs on pooled [B, C, 1, 1] features (MobileViG); both must be the same kind of layer, with
 * the same attributes and biases, reading the same input.
 */
import { cloneGraph, consumers, type Graph, type Node, producers } from '../ir.js';
import { paramOf, setParam } from './util.js';

/** Same operator and attributes (conv kernel, stride, padding, groups), both with a bias. */
function sameLayer(a: Node, b: Node): boolean {
  if (a.op !== b.op || a.inputs[0] !== b.inputs[0] || a.inputs.length !== 3 || b.inputs.length !== 3) return false;
  if (a.op === 'Linear') return true;
  return a.op === 'Conv' && b.op === 'Conv' && a.kernel === b.kernel && a.stride === b.stride && a.pad === b.pad && a.groups === b.groups;
}

export function mergeDistillationHeads(input: Graph): Graph {
  const graph = cloneGraph(input);
  const made = producers(graph);
  const users = consumers(graph);
  for (const half of [...graph.nodes]) {
    if (half.op !== 'Scale' || half.factor !== 0.5) continue;
    const add = made.get(half.inputs[0]);
    if (!add || add.op !== 'Add') continue;
    const [a, b] = add.inputs.map((n) => made.get(n));
    if (!a || !b || !sameLayer(a, b)) continue;
    if (users.get(add.inputs[0])?.length !== 1 || users.get(add.inputs[1])?.length !== 1) continue;
    const [wa, ba, wb, bb] = [a.inputs[1], a.inputs[2], b.inputs[1], b.inputs[2]].map((n) => paramOf(graph, n)!);
    const average = (x?: Float32Array, y?: Float32Array) => (x && y ? x.map((v, i) => (v + y[i]) / 2) : undefined);
    const base = `${a.module}+${b.module}`;
    const kind = a.op === 'Conv' ? 'conv' : 'linear';
    setParam(graph, `${base}.weight`, wa.shape, `${kind}_weight`, average(wa.data as Float32Array, wb.data as Float32Array));
    setParam(graph, `${base}.bias`, ba.shape, `${kind}_bias`, average(ba.data as Float32Array, bb.data as Float32Array));
    a.inputs = [a.inputs[0], `${base}.weight`, `${base}.bias`];
    a.module = base;
    a.outputs = [half.outputs[0]];
    graph.nodes = graph.nodes.filter((n) => n !== b && n !== add && n !== half);
  }
  return graph;
}
