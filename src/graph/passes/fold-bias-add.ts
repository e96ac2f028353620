/**
 * Fold a parameter added to a Linear's output into the Linear's bias: (x W^T + b) + c =
 * x W^T + (b + c), when c is a vector over the output features and the Linear feeds only that
 * add. VCMamba adds dt_proj's own bias a second time (the scan's delta_bias); folded, one bias
 * of 2b remains, as Core ML's own linear-bias fusion would make it.
 */
import { cloneGraph, consumers, type Graph, producers } from '../ir.js';
import { absorbInto, paramOf, setParam } from './util.js';

export function foldBiasAdd(input: Graph): Graph {
  const graph = cloneGraph(input);
  const users = consumers(graph);
  const made = producers(graph);
  for (const add of [...graph.nodes]) {
    if (add.op !== 'Add') continue;
    const k = add.inputs.findIndex((n) => paramOf(graph, n)?.dtype === 'float32');
    if (k < 0) continue;
    const extra = paramOf(graph, add.inputs[k])!;
    const branch = add.inputs[1 - k];
    const linear = made.get(branch);
    if (linear?.op !== 'Linear' || users.get(branch)?.length !== 1) continue;
    const out = paramOf(graph, linear.inputs[1])!.shape[0];
    if (extra.viewShape.length !== 1 || extra.viewShape[0] !== out) continue;
    const biasName = linear.inputs[2] ?? `${linear.module}.bias`;
    // The bias is rewritten in place: nothing but this Linear and this add may read it.
    if ((users.get(biasName) ?? []).some((n) => n !== linear && n !== add)) continue;
    const bias = linear.inputs[2] ? paramOf(graph, linear.inputs[2]) : undefined;
    const extraData = extra.data as Float32Array | undefined;
    const sum = extraData && (!bias || bias.data) ? extraData.map((v, o) => v + (bias ? (bias.data as Float32Array)[o] : 0)) : undefined;
    setParam(graph, biasName, [out], 'linear_bias', sum);
    linear.inputs = [linear.inputs[0], linear.inputs[1], biasName];
    absorbInto(graph, linear, add);
  }
  return graph;
}
