/**
 * Valid files of every kind eformer reads back and renders, each with every optional part filled
 * in, for the escaping and fuzz tests: a results file (two backends, a breakdown, an int8 twin,
 * a device, a reference, the papers' figures, load, memory and model size, and the reasons a
 * backend gives for the ones it cannot), a latency table of a small space (entries from the real
 * block cut, invented ratios, a training set and a fitted correction) and a search over it.
 * Nothing is measured: building them takes well under a second.
 */
import { analyse } from '../../src/latency/blocks.js';
import {
  blockSums,
  coveringPoints,
  fitCorrection,
  families,
  LUT_SCHEMA,
  type Lut,
  type LutEntry,
  mulberry32,
  RESULTS_SCHEMA,
  readSpace,
  samplePoint,
  search,
  type TrainingRecord,
} from '../../src/index.js';
import { SMALL_SPACE } from '../helpers.js';

export { SMALL_SPACE };

const v2 = families.find((f) => f.id === 'efficientformerv2')!;


const samples = (base: number) => Array.from({ length: 20 }, (_, i) => base + (i % 5) * 0.1);

function stats(base: number) {
  const s = samples(base);
  return { median: base + 0.2, mean: base + 0.2, p90: base + 0.4, p99: base + 0.4, min: base, max: base + 0.4, std: 0.14, cov: 0.014, median_ci95: [base + 0.1, base + 0.3], samples: s, quantile_rule: 'linear: sorted[(n-1)q] interpolated (numpy default)' };
}

const breakdown = {
  runs: 5,
  median_ms: 10.2,
  node_ms: 11.5,
  model_run_ms: 12.1,
  by_op: [
    { key: 'Conv', ms: 6.1, profiler_ms: 6.9, percent: 60, nodes: 20 },
    { key: 'Gelu', ms: 4.1, profiler_ms: 4.6, percent: 40, nodes: 8 },
  ],
  by_block: [{ key: 'network.0.0', ms: 10.2, profiler_ms: 11.5, percent: 100, nodes: 28 }],
  by_stage: [
    { key: 'stage 0 · mlp', ms: 6.1, profiler_ms: 6.9, percent: 60, nodes: 20 },
    { key: 'head', ms: 4.1, profiler_ms: 4.6, percent: 40, nodes: 8 },
  ],
};

/** A results file with every part a report can show. */
export function richResults(): Record<string, any> {
  const base = (model: string, backend: string, median: number) => ({
    model,
    family: 'efficientformerv2',
    backend,
    resolution: 224,
    batch: 1,
    params: { toolbox: 3530000, total: 3600000, deployed: 3500000 },
    macs: { toolbox: 396088544, standard: 380000000 },
    paper: { top1: 75.7, params_m: 3.5, macs_g: 0.4, latency_ms: 0.9, latency_device: 'iPhone 12, Core ML' },
    baseline: false,
    settings: { threads: 2, graph_optimization: 'all', execution_provider: 'cpu', spinning: false, interleaved: true },
    runs: 20,
    warmup_runs: 5,
    latency_ms: stats(median),
    noisy: false,
    single_session: { spinning: true, runs: 20, latency_ms: stats(median * 0.9) },
    vs_reference: { model: 'mobilenetv2_100', median: 1.4, ratios: Array.from({ length: 20 }, (_, i) => 1.3 + (i % 5) * 0.02) },
    breakdown,
    precision: 'fp32',
    load_ms: 150.2,
    first_run_ms: 12.4,
    memory_mb: { peak: 96.5, load: 80.25, source: 'resident set high-water mark of the worker (VmHWM), less its start' },
    model_bytes: 14_200_000,
  });
  /** A backend that could give none of the cost figures, each absent with its reason. */
  const { load_ms: _l, first_run_ms: _f, memory_mb: _m, model_bytes: _b, ...web } = base('efficientformerv2_s0', 'ort-web', 30);
  const absent = {
    ...web,
    absent: {
      load_ms: 'the page loads the model before the timer starts',
      first_run_ms: 'the page warms up before the timer starts',
      memory_mb: "the browser reports no memory of a page's own",
      model_bytes: 'the model was served from memory',
    },
  };
  const int8 = {
    ...base('efficientformerv2_s0:int8', 'ort-cpu', 8),
    precision: 'int8',
    int8: { fp32_model: 'efficientformerv2_s0', speedup: 1.2, paired: true, sqnr_db: 29.7, cosine: 0.9995, top1_agreement: 0.95, method: 'minmax', calibration: '64 random inputs (seed 0), minmax', quantized_layers: 40 },
  };
  const device = {
    ...base('efficientformerv2_s1', 'ort-android', 15),
    device: { platform: 'android', id: 'R5CT1234', name: 'Galaxy S22', model: 'SM-S901B', os: 'Android 14' },
    load_ms: 120.5,
    first_run_ms: 30.2,
    memory_mb: { peak: 210.5, load: 180.2, source: "onnxruntime_perf_test's Peak working set size", sampled_peak: 212.25 },
  };
  // A device harness that printed no model size: one figure absent.
  delete (device as Record<string, unknown>).model_bytes;
  (device as Record<string, unknown>).absent = { model_bytes: 'the harness reads the model on the device' };
  const cnn = { ...base('mobilenetv2_100', 'ort-cpu', 7), family: 'mobilenetv2', baseline: true, paper: { top1: 71.8, params_m: 3.5, macs_g: 0.3, latency_ms: 1.7, latency_device: 'iPhone 12, Core ML' } };
  return {
    schema: RESULTS_SCHEMA,
    env: { cpu: 'Test CPU', cores: 2, cpu_int8: ['AVX-512 VNNI'], os: 'Linux 6 x64', node: 'v20', onnxruntime: '1.30.0', eformer: '0.1.0', git_commit: 'abcdef0123456', created: '2026-11-22T00:00:00Z' },
    results: [base('efficientformerv2_s0', 'ort-cpu', 10), absent, int8, device, cnn],
  };
}

/** A latency table of SMALL_SPACE: the real blocks of its covering points, with invented ratios. */
export function smallLut(): Lut {
  const space = readSpace(SMALL_SPACE, v2, 'test');
  const searchSpace = v2.searchSpace!;
  const entries = new Map<string, LutEntry>();
  const rand = mulberry32(3);
  for (const point of coveringPoints(space, searchSpace)) {
    for (const b of analyse(v2, searchSpace.configOf(point), space.resolution).blocks) {
      if (entries.has(b.block.signature)) continue;
      const ratio = 0.02 + rand() * 0.1;
      entries.set(b.block.signature, { signature: b.block.signature, block: b.block.path, kind: b.kind, shape: b.shape, ratio, ratio_ci95: [ratio * 0.98, ratio * 1.02], median_ms: ratio * 2, runs: 10, params: b.params, macs: b.macs, io_elements: 4096 });
    }
  }
  const lut: Lut = {
    schema: LUT_SCHEMA,
    family: 'efficientformerv2',
    resolution: 64,
    backend: 'ort-cpu',
    settings: { threads: 2, graph_optimization: 'all' },
    env: { cpu: 'Test CPU', cores: 2, os: 'Linux', node: 'v20', eformer: '0.1.0', created: '2026-11-22T00:00:00Z' },
    space,
    reference: { model: 'efficientformerv2_s0', median_ms: 2, runs: 10 },
    sessions: 1,
    entries: [...entries.values()],
    training: [],
  };
  const training: TrainingRecord[] = Array.from({ length: 8 }, (_, i) => {
    const point = samplePoint(space, mulberry32(10 + i), searchSpace);
    const sums = blockSums(analyse(v2, searchSpace.configOf(point), space.resolution).blocks.map((b) => entries.get(b.block.signature)!));
    return { point, ...sums, measured_ratio: sums.sum_ratio * (0.8 + 0.05 * (i % 3)) };
  });
  lut.training = training;
  lut.correction = fitCorrection(training);
  return lut;
}

/** A search over `lut` with a budget between its fastest and slowest configurations. */
export function smallSearch(lut: Lut): Record<string, any> {
  const all = search(lut, 'lut.json', v2, { budgetMs: 1e6, top: 1 });
  const budgetMs = (all.fastest.ms + all.supernet.ms) / 2;
  return JSON.parse(JSON.stringify(search(lut, 'lut.json', v2, { budgetMs, top: 3 })));
}
