/**
 * Channels-last networks (EfficientMod) apply Linears to [B, H, W, C] maps and permute to NCHW
 * and back around every conv. Where Linears, elementwise activations, products of equal-shaped
 * maps and concats along the channels form a stretch together with such convs, the stretch runs
 * in NCHW instead: each Linear becomes the 1x1 conv with the same weights (a Linear on a
 * channels-last map and a 1x1 conv on the channels-first one compute the same sums), the
 * permutes around the convs inside it disappear, and one permute is placed where the stretch
 * meets the rest (a LayerNorm's output coming in, the residual add going out).
 *
 * Why: onnxruntime keeps convs, their activations, products and concats in its channel-blocked
 * layout (NCHWc) from one conv to the next, and its 1x1 convs there beat the Gemms a Linear
 * lowers to; the reference's graph leaves that layout around every conv.
 *
 * Stretches grow from Linears on rank-4 inputs, so NCHW models and the [B, N, C] token blocks of
 * EfficientFormer are left as they are.
 */
import { cloneGraph, consumers, type Graph, type Node, producers } from '../ir.js';
import { paramOf, setParam } from './util.js';

const TO_LAST = [0, 2, 3, 1];
const TO_FIRST = [0, 3, 1, 2];
const ELEMENTWISE_UNARY = new Set(['Gelu', 'Relu', 'Relu6', 'Sigmoid', 'Softplus', 'Exp', 'Scale']);

const isPerm = (node: Node | undefined, perm: number[]): boolean => node?.op === 'Transpose' && node.perm.join() === perm.join();

export function linearsAsPointwiseConvs(input: Graph): Graph {
  const graph = cloneGraph(input);
  const made = producers(graph);
  const users = consumers(graph);
  const shapeOf = (value: string) => graph.values.get(value)!.shape;
  const isParam = (value: string) => graph.params.has(value);

  /** Ops that compute the same on a channels-first map as on the channels-last one (their rank-4 outputs). */
  const convertible = (node: Node): boolean => {
    const out = shapeOf(node.outputs[0]);
    if (out.length !== 4) return false;
    if (node.op === 'Linear') return true;
    if (node.op === 'Concat') return node.axis === 3;
    if (node.op === 'Mul') return node.inputs.every((i) => !isParam(i) && shapeOf(i).join() === out.join());
    return ELEMENTWISE_UNARY.has(node.op);
  };
  const activations = (node: Node) => [...(node.op === 'Linear' ? [node.inputs[0]] : node.inputs), ...node.outputs];

  // The stretch: convertible ops joined by channels-last maps.
  const stretch = new Set<Node>();
  const maps = new Set<string>();
  const pending = graph.nodes.filter((n) => n.op === 'Linear' && shapeOf(n.inputs[0]).length === 4);
  while (pending.length) {
    const node = pending.pop()!;
    if (stretch.has(node) || !convertible(node)) continue;
    stretch.add(node);
    for (const value of activations(node)) {
      if (maps.has(value)) continue;
      maps.add(value);
      const producer = made.get(value);
      if (producer) pending.push(producer);
      pending.push(...(users.get(value) ?? []));
    }
  }
  if (!stretch.size) return graph;

  const dropped = new Set<Node>();
  const added: { after: string; node: Node }[] = [];
  const permute = (from: string, to: string, perm: number[], module: string, after: string) => {
    const shape = perm.map((p) => shapeOf(from)[p]);
    graph.values.set(to, { name: to, shape, dtype: 'float32' });
    added.push({ after, node: { op: 'Transpose', perm, name: `${to}/Transpose`, module, inputs: [from], outputs: [to] } });
  };

  // The channels-first name of every map: what a permute back from a conv read, the map itself
  // (renamed) when the stretch makes it, or a permute of it when it comes from outside.
  const first = new Map<string, string>();
  for (const value of maps) {
    const producer = made.get(value);
    if (producer && stretch.has(producer)) {
      const renamed = `${value}:nchw`;
      const [b, h, w, c] = shapeOf(value);
      graph.values.set(renamed, { name: renamed, shape: [b, c, h, w], dtype: 'float32' });
      first.set(value, renamed);
    } else if (isPerm(producer, TO_LAST)) {
      first.set(value, producer!.inputs[0]);
      if ((users.get(value) ?? []).every((u) => stretch.has(u)) && !graph.outputs.includes(value)) dropped.add(producer!);
    } else {
      first.set(value, `${value}:nchw`);
      permute(value, `${value}:nchw`, TO_FIRST, producer?.module ?? '', value);
    }
  }

  // Consumers outside the stretch: a permute to NCHW now reads the channels-first map directly;
  // anything else (a residual add, a LayerNorm) reads the channels-last map, permuted back.
  for (const value of maps) {
    const producer = made.get(value);
    if (!producer || !stretch.has(producer)) continue;
    const outside = (users.get(value) ?? []).filter((u) => !stretch.has(u));
    const permutedBack = outside.filter((u) => isPerm(u, TO_FIRST) && !(users.get(u.outputs[0]) ?? []).some((r) => stretch.has(r)));
    for (const user of permutedBack) {
      dropped.add(user);
      for (const reader of users.get(user.outputs[0]) ?? []) reader.inputs = reader.inputs.map((i) => (i === user.outputs[0] ? first.get(value)! : i));
      graph.outputs = graph.outputs.map((o) => (o === user.outputs[0] ? first.get(value)! : o));
    }
    if (outside.some((u) => !permutedBack.includes(u)) || graph.outputs.includes(value)) permute(first.get(value)!, value, TO_LAST, producer.module, first.get(value)!);
  }

  const rewritten = new Map<Node, Node>();
  for (const node of stretch) {
    const io = { inputs: node.inputs.map((i) => first.get(i) ?? i), outputs: node.outputs.map((o) => first.get(o) ?? o) };
    if (node.op === 'Linear') rewritten.set(node, pointwiseConv(graph, node, io));
    else if (node.op === 'Concat') rewritten.set(node, { ...node, ...io, axis: 1 });
    else rewritten.set(node, { ...node, ...io });
  }

  // Each new permute goes right after whatever makes the map it permutes.
  const ordered: Node[] = [];
  const place = (node: Node) => {
    ordered.push(node);
    for (const a of added) if (node.outputs.includes(a.after)) place(a.node);
  };
  const nodes = graph.nodes.filter((n) => !dropped.has(n)).map((n) => rewritten.get(n) ?? n);
  const madeByNodes = new Set(nodes.flatMap((n) => n.outputs));
  for (const a of added) if (!madeByNodes.has(a.after)) place(a.node); // a permute of a graph input
  for (const node of nodes) place(node);
  graph.nodes = ordered;
  return graph;
}

/** The Linear as the 1x1 conv with the same weights, seen as [out, in, 1, 1]. */
function pointwiseConv(graph: Graph, linear: Node, io: { inputs: string[]; outputs: string[] }): Node {
  const weight = paramOf(graph, linear.inputs[1])!;
  const [out, inFeatures] = weight.shape;
  setParam(graph, weight.name, [out, inFeatures, 1, 1], 'conv_weight', weight.data as Float32Array | undefined);
  if (linear.inputs[2]) {
    const bias = paramOf(graph, linear.inputs[2])!;
    setParam(graph, bias.name, [out], 'conv_bias', bias.data as Float32Array | undefined);
  }
  return { op: 'Conv', kernel: 1, stride: 1, pad: 0, groups: 1, name: linear.name, module: linear.module, ...io };
}
