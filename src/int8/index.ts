/**
 * Static post-training int8 quantisation in eformer's own graph representation: calibrate the
 * deployed float graph, rewrite it in QDQ form (quantize.ts), and measure what that cost in
 * fidelity (fidelity.ts). Export and profile call `quantizeInt8`; lowering to ONNX is theirs.
 */
import { giveWay } from '../core/interrupt.js';
import { UsageError } from '../core/errors.js';
import type { Graph, Node } from '../graph/ir.js';
import type { Preprocessing } from '../images/preprocess.js';
import { calibrate, type CalibrationMethod, calibrationSet, type CalibrationSet, type CalibrationSource } from './calibrate.js';
import { int8Logits, type LayerFidelity, layerFidelity, meanCosine, sqnrDb, top1Agreement } from './fidelity.js';
import type { TfliteInt8 } from '../tflite/lower.js';
import { activationQuant, DEFAULT_POLICY, linearsAsMatMuls, planQuantization, type QuantizedWeights, type QuantizePolicy, quantizeGraph, quantizeLayerWeights, type Range } from './quantize.js';

export { CALIBRATION_METHODS, type CalibrationMethod, calibrationSet, type CalibrationSet, type CalibrationSource, DEFAULT_RANDOM_INPUTS } from './calibrate.js';
export { meanCosine, sqnrDb, top1Agreement, type LayerFidelity } from './fidelity.js';
export { activationQuant, quantizeWeights, type QuantizePolicy, DEFAULT_POLICY } from './quantize.js';

export interface Int8Options {
  calibration: CalibrationSource;
  method?: CalibrationMethod;
  /** Module-path patterns (`network.6.*`) whose layers stay float. */
  keepFloat?: readonly string[];
  /** Also measure every quantised layer's output SQNR. */
  byLayer?: boolean;
  /** Where the weights came from: a checkpoint makes top-1 agreement meaningful. */
  trainedWeights?: boolean;
  policy?: QuantizePolicy;
  progress?: (step: string) => void;
  /** Also plan an int8 TFLite model (Result.tflite), calibrated in the same pass. */
  tflite?: boolean;
}

/** What every int8 export reports (and results files keep, see results.ts `int8`). */
export interface Int8Report {
  method: CalibrationMethod;
  calibration: { kind: 'images' | 'random'; inputs: number; seed?: number; dir?: string };
  /** Layers quantised, and weight layers left float (by --keep-float or because they do too little work). */
  quantized_layers: number;
  float_layers: number;
  keep_float: string[];
  /** Logits of the int8 graph against the float graph's on the calibration inputs. */
  sqnr_db: number;
  cosine: number;
  top1_agreement: number;
  /** Why top-1 agreement says little here, when it does. */
  top1_caveat?: string;
  layers?: LayerFidelity[];
  seconds: number;
}

export interface Int8Result {
  graph: Graph;
  report: Int8Report;
  calibration: CalibrationSet;
  /** Plain min/max of every calibrated tensor (the Core ML check compares its own with these). */
  minmax: Map<string, Range>;
  /** With `tflite`: what the TFLite lowering needs to write the int8 model (see tfliteInt8). */
  tflite?: TfliteInt8;
  /** The float graph's logits for each calibration input (what fidelity is measured against). */
  floatLogits: Float32Array[];
}

/**
 * Opset of int8 exports unless told otherwise: 20 has a native Gelu. Below it GELU is the erf
 * pattern, which reads its input twice; when that input is a DequantizeLinear, onnxruntime gives each
 * reader its own DQ and then cannot fuse the pattern, and efficientformer_l1's GELUs ran as five
 * kernels each (Div, Erf, Add, two Mul: 43% of the int8 graph's kernel time, against 16% fused).
 */
export const INT8_OPSET = 20;

/** The ONNX metadata an int8 export carries: how it was calibrated and what it costs in fidelity. */
export function int8Metadata(r: Int8Report): Record<string, string> {
  return {
    precision: 'int8',
    int8_calibration: `${r.calibration.inputs} ${r.calibration.kind === 'random' ? `random inputs (seed ${r.calibration.seed})` : 'images'}, ${r.method}`,
    int8_logits_sqnr_db: r.sqnr_db.toFixed(2),
    int8_logits_cosine: r.cosine.toFixed(6),
  };
}

/** `network.6.*` as a matcher of module paths: `*` any run of characters; a plain path also matches its submodules. */
export function modulePattern(pattern: string): (module: string) => boolean {
  const re = new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return (module) => re.test(module) || module.startsWith(`${pattern}.`);
}

function keepFloatMatcher(graph: Graph, patterns: readonly string[]): (node: Node) => boolean {
  const layers = graph.nodes.filter((n) => n.op === 'Conv' || n.op === 'Linear');
  const matchers = patterns.map((p) => {
    const m = modulePattern(p);
    if (!layers.some((n) => m(n.module))) {
      throw new UsageError(`--keep-float '${p}' matches no Conv or Linear layer; layers look like ${layers.slice(0, 3).map((n) => n.module).join(', ')} (* matches any text)`);
    }
    return m;
  });
  return (node) => matchers.some((m) => m(node.module));
}

/** Calibrate, quantise and measure a deployed float graph. */
export async function quantizeInt8(deployed: Graph, preprocessing: Preprocessing, options: Int8Options): Promise<Int8Result> {
  const start = performance.now();
  const keepFloat = keepFloatMatcher(deployed, options.keepFloat ?? []);
  const graph = linearsAsMatMuls(deployed);
  await giveWay();
  const method = options.method ?? 'minmax';
  options.progress?.('int8: reading the calibration inputs');
  const set = await calibrationSet(options.calibration, preprocessing, graph.inputs[0].shape);
  const plan = planQuantization(graph, keepFloat, options.policy ?? DEFAULT_POLICY);
  // The TFLite model keeps Linears as FULLY_CONNECTED: its plan is made on the deployed graph, whose
  // tensors the MatMul form keeps under the same names, so one calibration serves both.
  const tflitePlan = options.tflite ? planQuantization(deployed, keepFloat, options.policy ?? DEFAULT_POLICY) : undefined;
  const tensors = [...new Set([...plan.tensors, ...(tflitePlan?.tensors ?? [])])];
  options.progress?.(`int8: calibrating on ${set.tensors.length} inputs (${method})`);
  const calibration = await calibrate(graph, tensors, set, method);
  const { graph: quantized, layers } = quantizeGraph(graph, plan, calibration.ranges, await quantizeLayerWeights(graph, plan.nodes));
  options.progress?.('int8: measuring fidelity');
  const logits = await int8Logits(quantized, set);
  const weightLayers = deployed.nodes.filter((n) => n.op === 'Conv' || n.op === 'Linear').length;
  // Ask only for what is missing: real weights, real images, or both.
  const caveat = !options.trainedWeights
    ? `the weights are seeded random ones: top-1 agreement means little; give --ckpt${set.kind === 'random' ? ' and --calib DIR' : ''}`
    : set.kind === 'random'
      ? 'the inputs are random: top-1 agreement means little; give --calib DIR with real images'
      : undefined;
  const report: Int8Report = {
    method,
    calibration: { kind: set.kind, inputs: set.tensors.length, ...(set.kind === 'random' ? { seed: options.calibration.seed ?? 0 } : { dir: options.calibration.dir }) },
    quantized_layers: layers.length,
    float_layers: weightLayers - layers.length,
    keep_float: [...(options.keepFloat ?? [])],
    sqnr_db: sqnrDb(calibration.logits, logits),
    cosine: meanCosine(calibration.logits, logits),
    top1_agreement: top1Agreement(calibration.logits, logits),
    ...(caveat ? { top1_caveat: caveat } : {}),
    seconds: 0,
  };
  if (options.byLayer) {
    options.progress?.('int8: per-layer SQNR');
    report.layers = await layerFidelity(graph, quantized, layers, set);
  }
  report.seconds = (performance.now() - start) / 1000;
  return { graph: quantized, report, calibration: set, minmax: calibration.minmax, floatLogits: calibration.logits, ...(tflitePlan ? { tflite: tfliteInt8(deployed, tflitePlan, calibration.ranges, await quantizeLayerWeights(deployed, tflitePlan.nodes)) } : {}) };
}

/**
 * The int8 TFLite model's plan: the same layers the ONNX int8 graph quantises (same policy, same
 * --keep-float) but the last, their weights int8 per output channel (symmetric, as the ONNX pass makes them),
 * and the int8 quantisation of each activation they read or write: the same scale as the ONNX
 * graph's uint8 one, the zero point moved by 128 (TFLite's int8 is asymmetric signed).
 */
function tfliteInt8(deployed: Graph, plan: ReturnType<typeof planQuantization>, ranges: Map<string, Range>, weights: QuantizedWeights): TfliteInt8 {
  // The layer that writes the logits keeps its int8 weights but computes in float, as the ONNX graph's
  // QGemm writes float: TFLite's int8 FULLY_CONNECTED writes int8, and 8 bits would cap the logits' precision.
  const layers = new Map(
    plan.nodes.map((n) => {
      const { q, scales } = weights.get(n.name)!;
      return [n.name, { weight: q, scales, ...(deployed.outputs.includes(plan.outputOf.get(n)!) ? { floatActivations: true } : {}) }];
    }),
  );
  const activations = new Map(
    plan.tensors.map((t) => {
      const { scale, zeroPoint } = activationQuant(ranges.get(t)!);
      return [t, { scale, zeroPoint: zeroPoint - 128 }];
    }),
  );
  return { layers, adds: new Set(plan.adds.map((n) => n.name)), activations, outputs: new Map([...plan.outputOf].map(([n, v]) => [n.name, v])) };
}
