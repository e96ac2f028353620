/**
 * What is known of a model before it is measured (counts, the paper's figures, how to name its
 * blocks), and the one place a measurement becomes a result and results become a results file,
 * for session and device backends alike.
 */
import { type LatencyStats, NOISY_COV } from '../core/stats.js';
import type { BlockNamer } from '../models/family.js';
import type { ModelSource } from '../onnx/read.js';
import { loadOnnxFile } from '../onnx/read.js';
import { type BuiltModel, buildWithWeights, countBuilt, type ModelRequest, modelSource, onnxBytes } from '../pipeline/index.js';
import { captureEnvironment } from '../results/environment.js';
import { type ModelResult, RESULTS_SCHEMA, type ResultsFile } from '../results/results.js';

/** The fields of a result that the model alone determines. */
export type ModelFacts = Pick<ModelResult, 'model' | 'family' | 'resolution' | 'batch' | 'params' | 'macs' | 'paper' | 'baseline'>;

export interface PreparedModel {
  source: ModelSource;
  facts: ModelFacts;
  /** Breakdown names for the model's modules (zoo models only). */
  namer?: BlockNamer;
}

/** A zoo model (or config) built, exported in memory and counted. */
export function prepareModel(req: ModelRequest, batch: number): PreparedModel {
  const built: BuiltModel = buildWithWeights({ ...req, batch });
  const { bytes, onnx } = onnxBytes(built);
  const counts = countBuilt(built, onnx);
  const paper = built.entry.paper;
  return {
    source: modelSource(built, bytes),
    facts: {
      model: built.entry.name,
      family: built.entry.family.id,
      resolution: built.resolution,
      batch,
      params: counts.params,
      macs: counts.macs,
      paper: paper ? { top1: paper.top1Value, params_m: paper.paramsM, macs_g: paper.macsG, latency_ms: paper.latency?.ms, latency_device: paper.latency?.device } : undefined,
      baseline: Boolean(built.entry.baseline),
    },
    namer: built.entry.family.blockNamer(built.graph),
  };
}

/** An ONNX file the user brings: only what its graph declares is known. */
export function prepareFile(path: string, shapes: Record<string, number[]>): PreparedModel {
  const source = loadOnnxFile(path, shapes);
  return { source, facts: { model: source.name, batch: source.inputs[0]?.shape[0] ?? 1 } };
}

export interface Measured {
  backend: string;
  settings: ModelResult['settings'];
  runs: number;
  warmupRuns: number;
  stats: LatencyStats;
}

/** A model's result: its facts, how it was measured, and whatever the backend shape adds. */
export function modelResult(facts: ModelFacts, m: Measured, extra: Partial<ModelResult> = {}): ModelResult {
  return {
    ...facts,
    backend: m.backend,
    settings: m.settings,
    runs: m.runs,
    warmup_runs: m.warmupRuns,
    latency_ms: m.stats,
    noisy: (m.stats.cov ?? 0) > NOISY_COV,
    ...extra,
  };
}

export function resultsFile(environment: Record<string, string>, results: ModelResult[]): ResultsFile {
  return { schema: RESULTS_SCHEMA, env: captureEnvironment(environment), results };
}
