/**
 * The pooling token mixer (PoolFormer's, used by EfficientFormer V1), x + ls * (pool(x) - x),
 * rewritten as
 *   depthwise_1x1(x; 1 - ls) + depthwise_1x1(pool(x); ls),
 * the same function in real arithmetic. The Sub and the broadcast Mul force onnxruntime
 * to leave its channel-blocked (NCHWc) layout around every block; two depthwise 1x1 convs
 * and an Add stay in it, and the Add fuses into the conv that follows.
 */
import { cloneGraph, consumers, type Graph, type Node, producers } from '../ir.js';
import { paramOf, setParam } from './util.js';

export function rewritePoolingMixer(input: Graph): Graph {
  const graph = cloneGraph(input);
  const made = producers(graph);
  const users = consumers(graph);
  const single = (value: string) => users.get(value)?.length === 1;
  for (const add of [...graph.nodes]) {
    if (add.op !== 'Add') continue;
    for (const side of [0, 1]) {
      const x = add.inputs[side];
      const mul = made.get(add.inputs[1 - side]);
      if (mul?.op !== 'Mul' || !single(mul.outputs[0])) continue;
      const lsIndex = mul.inputs.findIndex((n) => paramOf(graph, n)?.role === 'layer_scale');
      const sub = made.get(mul.inputs[1 - lsIndex]);
      if (lsIndex < 0 || sub?.op !== 'Sub' || sub.inputs[1] !== x || !single(sub.outputs[0])) continue;
      const pool = made.get(sub.inputs[0]);
      if (pool?.op !== 'AvgPool' || pool.inputs[0] !== x) continue;
      replace(graph, { add, mul, sub, x, pooled: sub.inputs[0], ls: mul.inputs[lsIndex] });
      break;
    }
  }
  return graph;
}

function replace(graph: Graph, m: { add: Node; mul: Node; sub: Node; x: string; pooled: string; ls: string }): void {
  const ls = paramOf(graph, m.ls)!;
  const channels = ls.viewShape[0];
  const data = ls.data as Float32Array | undefined;
  const scope = m.sub.module; // `<block>.token_mixer`
  const keepName = `${scope}.keep.weight`;
  const mixName = `${scope}.mix.weight`;
  setParam(graph, keepName, [channels, 1, 1, 1], 'conv_weight', data && data.map((v) => 1 - v));
  setParam(graph, mixName, [channels, 1, 1, 1], 'conv_weight', data && Float32Array.from(data));
  const shape = graph.values.get(m.x)!.shape;
  const keepOut = `${scope}/keep`;
  const mixOut = `${scope}/mix`;
  graph.values.set(keepOut, { name: keepOut, shape, dtype: 'float32' });
  graph.values.set(mixOut, { name: mixOut, shape, dtype: 'float32' });
  const dw = { op: 'Conv' as const, kernel: 1, stride: 1, pad: 0, groups: channels, module: scope };
  const keep: Node = { ...dw, name: `${scope}/keep`, inputs: [m.x, keepName], outputs: [keepOut] };
  const mix: Node = { ...dw, name: `${scope}/mix`, inputs: [m.pooled, mixName], outputs: [mixOut] };
  const at = graph.nodes.indexOf(m.sub);
  graph.nodes.splice(at, 0, keep, mix);
  m.add.inputs = [keepOut, mixOut];
  graph.nodes = graph.nodes.filter((n) => n !== m.sub && n !== m.mul);
}
