/**
 * How big a model eformer builds may be, and the measures that decide it. A config's fields can
 * each be modest and still describe a network no machine runs (64 blocks of 4096 channels are 35
 * billion parameters), so what is built is bounded as a whole, from the graph's shapes, before any
 * weight is allocated:
 *
 * - parameters: at most 250 million (efficientformer_l7, the zoo's largest, has 82 M). Exporting
 *   l7 peaks at 14 bytes of memory a parameter and profiling it at 27 (float32 weights, the folded
 *   copy, the ONNX bytes and their copy in the session's thread, onnxruntime's own copy), so 250 M
 *   stay within about 7 GB, and the ONNX file within protobuf's 2 GB.
 * - MACs: at most 10^12 an image (about 100 times l7's 10 G at 224).
 * - activations: at most 4 GiB held at once, the largest sum of the tensors alive at any step of
 *   the graph, for the whole batch (the zoo at 224 holds 4 to 15 MB an image).
 */
import { type Graph, numel } from './ir.js';

export const MAX_PARAMS = 250_000_000;
export const MAX_MACS = 1e12;
export const MAX_ACTIVATION_BYTES = 4 * 2 ** 30;

const BYTES: Record<string, number> = { float32: 4, int64: 8, int32: 4, int8: 1, uint8: 1 };

/**
 * The most bytes of activations alive at once when the nodes run in graph order: a value lives
 * from the node that makes it to its last reader (graph inputs from the start, outputs to the end).
 * Parameters are not counted here.
 */
export function peakActivationBytes(graph: Graph): number {
  const lastUse = new Map<string, number>();
  graph.nodes.forEach((node, i) => node.inputs.forEach((v) => lastUse.set(v, i)));
  for (const o of graph.outputs) lastUse.set(o, Infinity);
  const bytes = (name: string) => {
    const v = graph.values.get(name)!;
    return numel(v.shape) * (BYTES[v.dtype] ?? 4);
  };
  let live = graph.inputs.reduce((s, v) => s + bytes(v.name), 0);
  let peak = live;
  graph.nodes.forEach((node, i) => {
    for (const o of node.outputs) live += bytes(o);
    peak = Math.max(peak, live);
    for (const v of new Set(node.inputs)) if (lastUse.get(v) === i && !graph.params.has(v)) live -= bytes(v);
    for (const o of node.outputs) if (!lastUse.has(o)) live -= bytes(o);
  });
  return peak;
}
