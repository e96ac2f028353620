/**
 * What is known of a model before it is measured (counts, the paper's figures, how to name its
 * blocks), and the one place a measurement becomes a result and results become a results file,
 * for session and device backends alike.
 */
import { giveWay } from '../core/interrupt.js';
import { type LatencyStats, NOISY_COV } from '../core/stats.js';
import type { BlockNamer } from '../models/family.js';
import type { ModelSource } from '../onnx/read.js';
import { loadOnnxFile } from '../onnx/read.js';
import { INT8_OPSET, type Int8Options, int8Metadata, quantizeInt8 } from '../int8/index.js';
import { type BuiltModel, buildWithWeights, countBuilt, graphBytes, type ModelRequest, modelSource, onnxBytes } from '../pipeline/index.js';
import { captureEnvironment } from '../results/environment.js';
import { type ModelResult, RESULTS_SCHEMA, type ResultsFile } from '../results/results.js';

/** The fields of a result that the model alone determines. */
export type ModelFacts = Pick<ModelResult, 'model' | 'family' | 'resolution' | 'batch' | 'params' | 'macs' | 'paper' | 'baseline' | 'precision' | 'int8'>;

export interface PreparedModel {
  source: ModelSource;
  facts: ModelFacts;
  /** Breakdown names for the model's modules (zoo models only). */
  namer?: BlockNamer;
}

/** A zoo model (or config) built, exported in memory and counted. */
/** Results measured before a run failed, kept with its error (by the error object) so the caller can still write them. */
const measuredBeforeFailure = new WeakMap<object, ResultsFile>();

/** Keep `file` with `err` (when it measured anything) and return `err`, for rethrowing. */
export function keepMeasured(err: unknown, file: ResultsFile): unknown {
  if (err !== null && typeof err === 'object' && file.results.length) measuredBeforeFailure.set(err, file);
  return err;
}

/** What a failed run had measured, if anything. */
export function measuredBefore(err: unknown): ResultsFile | undefined {
  return err !== null && typeof err === 'object' ? measuredBeforeFailure.get(err) : undefined;
}

export async function prepareModel(req: ModelRequest, batch: number): Promise<PreparedModel> {
  const built = buildWithWeights({ ...req, batch });
  // Building efficientformer_l7 and writing its graph take over half a second each: a signal is handled between them.
  await giveWay();
  return prepareBuilt(built, batch).fp32;
}

export type Precision = 'fp32' | 'int8';
export type ProfileInt8Options = Omit<Int8Options, 'trainedWeights' | 'progress' | 'byLayer'>;

/**
 * The model in each precision asked for, from one build: the float graph, and the int8 one
 * (`NAME:int8`, calibrated and quantised as `export --int8` does, its fidelity in its facts).
 */
export async function preparePrecisions(req: ModelRequest, batch: number, precisions: readonly Precision[], int8: ProfileInt8Options, progress?: (step: string) => void): Promise<PreparedModel[]> {
  const built = buildWithWeights({ ...req, batch });
  await giveWay();
  const { fp32, deployed } = prepareBuilt(built, batch);
  const out: PreparedModel[] = [];
  if (precisions.includes('fp32')) out.push({ ...fp32, facts: { ...fp32.facts, precision: 'fp32' } });
  if (precisions.includes('int8')) {
    const q = await quantizeInt8(deployed, built.entry.family.preprocessing, { ...int8, trainedWeights: Boolean(req.ckpt), progress });
    const name = `${built.entry.name}:int8`;
    const r = q.report;
    out.push({
      source: {
        ...modelSource(built, graphBytes(built, q.graph, INT8_OPSET, int8Metadata(r)).bytes),
        name,
        // The float model's .tflite is not this model: LiteRT backends get no int8 twin until eformer writes int8 .tflite.
        tflite: undefined,
        // Backends that convert the model themselves (Core ML) quantise the float graph with the same calibration.
        int8: { floatOnnx: fp32.source.onnx, rgb: q.calibration.rgb, tensors: q.calibration.tensors, ranges: Object.fromEntries([...q.minmax].map(([t, v]) => [t, [v.min, v.max]])) },
      },
      facts: {
        ...fp32.facts,
        model: name,
        precision: 'int8',
        int8: {
          fp32_model: built.entry.name,
          sqnr_db: Number.isFinite(r.sqnr_db) ? r.sqnr_db : null,
          cosine: r.cosine,
          top1_agreement: r.top1_agreement,
          method: r.method,
          calibration: int8Metadata(r).int8_calibration,
          quantized_layers: r.quantized_layers,
        },
      },
      namer: fp32.namer,
    });
  }
  return out;
}

function prepareBuilt(built: BuiltModel, batch: number) {
  const { bytes, deployed } = onnxBytes(built);
  const counts = countBuilt(built);
  const paper = built.entry.paper;
  const fp32: PreparedModel = {
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
  return { fp32, deployed };
}

/** An ONNX file the user brings: what its graph declares, and the counts eformer's exports record in their metadata. */
export function prepareFile(path: string, shapes: Record<string, number[]>): PreparedModel {
  const { counts, ...source } = loadOnnxFile(path, shapes);
  return { source, facts: { model: source.name, batch: source.inputs[0]?.shape[0] ?? 1, ...(counts ?? {}) } };
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
