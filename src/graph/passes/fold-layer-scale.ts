/**
 * Fold a layer-scale vector into the conv or linear that produces the scaled branch:
 * ls * (W x + b) = (ls W) x + ls b, exactly, when that output feeds nothing else.
 * Where the branch does not end in a conv or linear (V1's pooling mixer), the Mul stays.
 */
import { cloneGraph, consumers, type Graph, type Param, producers } from '../ir.js';
import { absorbInto, paramOf, scaleOutputChannels, setParam } from './util.js';

export function foldLayerScale(input: Graph): Graph {
  const graph = cloneGraph(input);
  const users = consumers(graph);
  const made = producers(graph);
  for (const mul of [...graph.nodes]) {
    if (mul.op !== 'Mul') continue;
    const scaleIndex = mul.inputs.findIndex((n) => paramOf(graph, n)?.role === 'layer_scale');
    if (scaleIndex < 0) continue;
    const ls = paramOf(graph, mul.inputs[scaleIndex]) as Param;
    const branch = mul.inputs[1 - scaleIndex];
    const layer = made.get(branch);
    if (!layer || (layer.op !== 'Conv' && layer.op !== 'Linear') || users.get(branch)?.length !== 1) continue;
    const weight = paramOf(graph, layer.inputs[1])!;
    const out = weight.shape[0];
    const bias = layer.inputs[2] ? paramOf(graph, layer.inputs[2]) : undefined;
    const lsData = ls.data as Float32Array | undefined;
    const scaled = lsData ? scaleOutputChannels(weight.data as Float32Array, bias?.data as Float32Array | undefined, out, (o) => lsData[o]) : {};
    const biasName = layer.inputs[2] ?? `${layer.module}.bias`;
    const kind = layer.op === 'Conv' ? 'conv' : 'linear';
    setParam(graph, weight.name, weight.shape, `${kind}_weight`, scaled.weight);
    setParam(graph, biasName, [out], `${kind}_bias`, scaled.bias);
    layer.inputs = [layer.inputs[0], weight.name, biasName];
    absorbInto(graph, layer, mul);
  }
  return graph;
}
