/**
 * How far the int8 graph is from the float one: SQNR and cosine similarity of the logits, top-1
 * agreement, and per layer (`--by-layer`) the SQNR of each quantised layer's output against the
 * float graph's, as Q-HyViT's analysis does, beside the SQNR that layer's own output quantiser
 * alone would give (the float tensor through its own Q -> DQ): where the first falls well below the
 * second, error arrives from earlier layers; where both are low, this tensor's range is the problem.
 */
import type { Graph, Node } from '../graph/ir.js';
import type { CalibrationSet } from './calibrate.js';
import { tappedSession } from './calibrate.js';
import type { QuantizedLayer } from './quantize.js';

/** 10 log10(signal power / noise power), pooled over all the pairs. Infinity when they are equal. */
export function sqnrDb(reference: readonly Float32Array[], test: readonly Float32Array[]): number {
  let signal = 0;
  let noise = 0;
  reference.forEach((r, k) => {
    const t = test[k];
    for (let i = 0; i < r.length; i++) {
      signal += r[i] * r[i];
      noise += (r[i] - t[i]) ** 2;
    }
  });
  return 10 * Math.log10(signal / noise);
}

/** Mean over inputs of the cosine similarity of each pair. */
export function meanCosine(reference: readonly Float32Array[], test: readonly Float32Array[]): number {
  let sum = 0;
  reference.forEach((r, k) => {
    const t = test[k];
    let dot = 0;
    let rr = 0;
    let tt = 0;
    for (let i = 0; i < r.length; i++) {
      dot += r[i] * t[i];
      rr += r[i] * r[i];
      tt += t[i] * t[i];
    }
    sum += dot / Math.sqrt(rr * tt);
  });
  return sum / reference.length;
}

const argmax = (v: Float32Array) => v.reduce((best, x, i) => (x > v[best] ? i : best), 0);

/** Fraction of inputs whose top-1 class is the same. */
export function top1Agreement(reference: readonly Float32Array[], test: readonly Float32Array[]): number {
  return reference.filter((r, k) => argmax(r) === argmax(test[k])).length / reference.length;
}

export interface LayerFidelity {
  module: string;
  op: string;
  /** Output of the int8 graph at this layer against the float graph's: the error accumulated up to here. */
  sqnr_db: number;
  /** The float tensor through this layer's own output quantiser only (absent when the layer writes float). */
  own_sqnr_db?: number;
}

/** Run the int8 graph on every calibration input. */
export async function int8Logits(graph: Graph, set: CalibrationSet): Promise<Float32Array[]> {
  const session = await tappedSession(graph, []);
  try {
    const out: Float32Array[] = [];
    for (const t of set.tensors) out.push((await session.run(t)).logits);
    return out;
  } finally {
    await session.release();
  }
}

/** A copy of the int8 graph with a second DQ for each layer's quantised output, so tapping it leaves the runtime's fusions alone. */
function withProbes(graph: Graph, layers: QuantizedLayer[]): { graph: Graph; probes: string[] } {
  const probes: string[] = [];
  const nodes: Node[] = [];
  const dq = new Map(graph.nodes.filter((n) => n.op === 'DequantizeLinear').map((n) => [n.outputs[0], n]));
  const values = new Map(graph.values);
  const extra = new Map<string, Node>();
  for (const layer of layers) {
    const source = dq.get(layer.quantizedOutput);
    if (!source) {
      probes.push(layer.quantizedOutput);
      continue;
    }
    const probe = `${layer.quantizedOutput}:probe`;
    values.set(probe, { ...graph.values.get(layer.quantizedOutput)!, name: probe });
    extra.set(source.name, { ...source, name: `${source.name}/probe`, outputs: [probe] });
    probes.push(probe);
  }
  for (const n of graph.nodes) {
    nodes.push(n);
    const e = extra.get(n.name);
    if (e) nodes.push(e);
  }
  return { graph: { ...graph, nodes, values }, probes };
}

/** Per-layer SQNR of every quantised layer on the calibration inputs. */
export async function layerFidelity(floatGraph: Graph, int8Graph: Graph, layers: QuantizedLayer[], set: CalibrationSet): Promise<LayerFidelity[]> {
  const { graph: probed, probes } = withProbes(int8Graph, layers);
  const float = await tappedSession(floatGraph, layers.map((l) => l.output));
  const int8 = await tappedSession(probed, probes);
  const acc = layers.map(() => ({ signal: 0, noise: 0, own: 0 }));
  try {
    for (const t of set.tensors) {
      const f = (await float.run(t)).outputs;
      const q = (await int8.run(t)).outputs;
      layers.forEach((layer, k) => {
        const r = f.get(layer.output)!;
        const x = q.get(probes[k])!;
        const a = acc[k];
        const quant = layer.outputQuant;
        for (let i = 0; i < r.length; i++) {
          a.signal += r[i] * r[i];
          a.noise += (r[i] - x[i]) ** 2;
          if (quant) {
            const level = Math.max(0, Math.min(255, Math.round(r[i] / quant.scale) + quant.zeroPoint));
            a.own += (r[i] - (level - quant.zeroPoint) * quant.scale) ** 2;
          }
        }
      });
    }
  } finally {
    await float.release();
    await int8.release();
  }
  return layers.map((layer, k) => ({
    module: layer.module,
    op: layer.op,
    sqnr_db: 10 * Math.log10(acc[k].signal / acc[k].noise),
    ...(layer.outputQuant ? { own_sqnr_db: 10 * Math.log10(acc[k].signal / acc[k].own) } : {}),
  }));
}
