/**
 * `eformer lut build`: time every block a family's search space can use, on any backend, each
 * interleaved with a reference model (the family's smallest published model) so that every
 * entry is a ratio measured within the same rounds; then time whole random configurations of
 * the space (the training set) and fit the correction that turns a sum of blocks into a
 * whole-model prediction. Measuring is `profile` itself, with the blocks as in-memory models.
 */
import { UsageError } from '../core/errors.js';
import { readInputText } from '../core/fs.js';
import { mulberry32 } from '../core/random.js';
import { latencyStats, median, sameRoundRatios } from '../core/stats.js';
import { findBackend } from '../backends/index.js';
import { blockGraph } from '../graph/blocks.js';
import { type Graph, numel } from '../graph/ir.js';
import { randomizeWeights } from '../graph/init.js';
import { deployGraph } from '../graph/passes/index.js';
import { encodeOnnx } from '../onnx/encode.js';
import { DEFAULT_OPSET, lowerToOnnx } from '../onnx/lower.js';
import { modelInput } from '../onnx/read.js';
import { lowerToTflite } from '../tflite/lower.js';
import { writeTflite } from '../tflite/write.js';
import { entry, type ModelEntry, type ModelFamily } from '../models/family.js';
import { zoo } from '../models/index.js';
import { coveringPoints, type Point, readSpace, samplePoint, type SpaceSpec } from '../models/space.js';
import { profile, type ProfileRequest } from '../profile/profile.js';
import { prepareModel, type PreparedModel } from '../profile/result.js';
import type { ModelResult, ResultsFile } from '../results/results.js';
import { analyse, spaceOf } from './blocks.js';
import { type BlockSums, blockSums, fitCorrection, LUT_SCHEMA, type Lut, type LutEntry, mergeLuts, readLut, searchableFamily, type TrainingRecord } from './lut.js';

export { searchableFamily };
import { lookUp } from './predict.js';

/** How the measuring is done: everything `profile` takes about the backend, the device and the runs. */
export type MeasureSettings = Pick<
  ProfileRequest,
  'backend' | 'threads' | 'graphOptimization' | 'executionProvider' | 'device' | 'timeoutSeconds' | 'backendOptions' | 'progress'
> & {
  /** Timed rounds per block (each round times every block and the reference once). */
  runs?: number;
  /**
   * Sessions each model is timed in (default 1), combined like the reference's copies, against onnxruntime-web
   * pages running identical models up to 8% apart (REFERENCE_COPIES). Two did not improve the benchmark's
   * predictions for V2 at 224 on ort-web (83% within ±10% against 88%; README).
   */
  sessions?: number;
};

export interface LutBuildRequest extends MeasureSettings {
  family: string;
  resolution?: number;
  /** A `--space` file; the family's own space otherwise. */
  spaceFile?: string;
  /** Whole random configurations timed for the correction (0: none, the plain sum is used). */
  training?: number;
  /** Seed of the training configurations (held-out sets use other seeds). */
  seed?: number;
  /** Measure only slice `index` of `count` of the blocks and training models (merge shards with `lut merge`). */
  shard?: { index: number; count: number };
  /** Called as measuring starts and after each group: how many blocks and training models are timed, of all. */
  onProgress?: (p: LutBuildProgress) => void;
}

/** How far a table's build is: blocks and training models timed, of all (this shard's). */
export interface LutBuildProgress {
  blocks: { done: number; total: number };
  training: { done: number; total: number };
}

export const LUT_DEFAULTS = { runs: 30, training: 24, seed: 1 };

/** Models timed together in one profile run: enough to share rounds, few enough to keep memory small. */
const MODELS_PER_GROUP = 8;

/** The space a request asks for: a `--space` file or the family's own, at the requested resolution. */
export function spaceFor(family: ModelFamily<unknown>, spaceFile?: string, resolution?: number): SpaceSpec {
  let raw: Record<string, unknown> = {};
  if (spaceFile) {
    const text = readInputText(spaceFile, '--space search space');
    try {
      raw = JSON.parse(text);
    } catch {
      throw new UsageError(`cannot read search space '${spaceFile}': not valid JSON`);
    }
    if (raw.family !== undefined && raw.family !== family.id) throw new UsageError(`${spaceFile} is a space of ${raw.family}, not ${family.id}`);
  }
  const space = readSpace(raw, family, spaceFile ?? `${family.id}'s search space`);
  if (resolution !== undefined) space.resolution = resolution;
  const search = spaceOf(family);
  // The largest and smallest configurations must build at this resolution (V1's attention grid, V2's even grid).
  const probe = search.configOf({ widths: space.stages.map((s) => s.widths[0]), depths: space.stages.map((s) => Math.max(...s.depths)), ratios: space.stages.map((s) => Array(Math.max(...s.depths)).fill(s.ratios[0])), attention: Math.max(...space.attention) });
  family.checkResolution(probe, space.resolution, `${family.id}'s search space`);
  return space;
}

/** A point of the family's space as a model entry (what profile, count and export take). */
export function pointEntry(family: ModelFamily<unknown>, point: Point, name: string): ModelEntry {
  return entry({ name, family, config: spaceOf(family).configOf(point) });
}

/** The family's smallest published model: every entry of the family's tables is a ratio to it. */
export function referenceModel(family: ModelFamily<unknown>): string {
  return zoo.find((m) => m.family.id === family.id)!.name;
}

interface BlockToTime {
  prepared: PreparedModel;
  entry: Omit<LutEntry, 'ratio' | 'ratio_ci95' | 'median_ms' | 'runs'>;
}

/** Every distinct block of the space, as an ONNX model of its own (deployed like the whole model is). */
export function blocksOfSpace(family: ModelFamily<unknown>, space: SpaceSpec): BlockToTime[] {
  const search = spaceOf(family);
  const found = new Map<string, BlockToTime>();
  for (const point of coveringPoints(space, search)) {
    const analysed = analyse(family, search.configOf(point), space.resolution, family.id);
    for (const b of analysed.blocks) {
      if (found.has(b.block.signature)) continue;
      const graph = blockGraph(analysed.graph, b.block);
      randomizeWeights(graph, 0);
      const deployed = deployGraph(graph);
      const onnx = encodeOnnx(lowerToOnnx(deployed, DEFAULT_OPSET), { producerVersion: 'eformer lut' });
      const name = `${b.block.path}#${b.block.signature.slice(0, 8)}`;
      // LiteRT backends time the block as .tflite, written only when one asks.
      const tflite = async () => writeTflite(lowerToTflite(deployed, { description: `${name}, a block timed by eformer lut` }));
      found.set(b.block.signature, {
        prepared: { source: { name, onnx, inputs: graph.inputs.map(modelInput), tflite }, facts: { model: name, batch: 1 } },
        entry: { signature: b.block.signature, block: b.block.path, kind: b.kind, shape: b.shape, params: b.params, macs: b.macs, io_elements: ioElements(graph) },
      });
    }
  }
  return [...found.values()];
}

/** Random configurations of the space, seeded: the training set (seed 1) and held-out sets (other seeds). */
export function samplePoints(family: ModelFamily<unknown>, space: SpaceSpec, count: number, seed: number): Point[] {
  const rand = mulberry32(seed);
  const seen = new Set<string>();
  const points: Point[] = [];
  for (let tries = 0; points.length < count && tries < count * 50; tries++) {
    const p = samplePoint(space, rand, spaceOf(family));
    const key = JSON.stringify(p);
    if (!seen.has(key)) {
      seen.add(key);
      points.push(p);
    }
  }
  return points;
}

/**
 * Copies of the reference timed in every group, each its own session. Identical copies of one model
 * in different pages of onnxruntime-web ran at speeds up to 8% apart for a whole run (efficientformerv2_s0,
 * three copies in each of three groups: copy-to-copy ratios 0.94-1.08), so a ratio to one copy carries
 * that page's speed; the per-round geometric mean of three copies carries a third of its variance.
 */
export const REFERENCE_COPIES = 3;

const geometricMean = (xs: readonly number[]) => Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length);

/** Per-round geometric mean of the copies' samples (rounds all copies ran). */
function geometricMeanByRound(copies: readonly number[][]): number[] {
  const n = Math.min(...copies.map((c) => c.length));
  return Array.from({ length: n }, (_, k) => geometricMean(copies.map((c) => c[k])));
}

/**
 * A result's median. Latency tables are tables of medians: a device harness that printed only
 * averages (older LiteRT benchmark_model builds) cannot fill one without passing an average off as
 * a median.
 */
export function medianOf(r: Pick<ModelResult, 'model' | 'latency_ms'>): number {
  if (r.latency_ms.median === undefined) {
    throw new UsageError(`${r.model}: the harness printed only an average, and latency tables hold medians: use a harness build that prints one (benchmark_model builds since about TensorFlow Lite 2.19 print 'median=' on their statistics lines)`);
  }
  return r.latency_ms.median;
}

/** One ratio per model: the median of per-round ratios when interleaved, else the ratio of medians. */
function ratioOf(r: ModelResult, referenceRounds: number[] | undefined, referenceMedian: number): { ratio: number; ci?: [number, number] } {
  if (referenceRounds) {
    const s = latencyStats(sameRoundRatios(r.latency_ms.samples, referenceRounds));
    return { ratio: s.median, ci: s.median_ci95 };
  }
  return { ratio: medianOf(r) / referenceMedian };
}

/** `count` copies of one prepared model, named `NAME<tag>1` ..., each to be timed in its own session. */
function copiesOf(prepared: PreparedModel, tag: string, count: number): PreparedModel[] {
  return Array.from({ length: count }, (_, i) => {
    const name = `${prepared.source.name}${tag}${i + 1}`;
    return { ...prepared, source: { ...prepared.source, name }, facts: { ...prepared.facts, model: name } };
  });
}

/**
 * One model's sessions as one result: per-round geometric mean of their samples (when interleaved),
 * geometric mean of their medians, runs summed. With one session it is that session's result.
 */
export function combineSessions(sessions: ModelResult[], name: string): ModelResult {
  if (sessions.length === 1) return { ...sessions[0], model: name };
  const first = sessions[0];
  return {
    ...first,
    model: name,
    runs: sessions.reduce((s, r) => s + r.runs, 0),
    latency_ms: { ...first.latency_ms, median: geometricMean(sessions.map(medianOf)), samples: geometricMeanByRound(sessions.map((r) => r.latency_ms.samples)) },
  };
}

/**
 * Time `models` in groups, each with REFERENCE_COPIES copies of the reference, and return each model's
 * ratio to the copies' geometric mean and the copies' own results. On a session backend every round times
 * each model and each copy once and ratios are taken round by round; a device backend times them one after
 * another, in the same run, and its ratios are of medians. With `sessions` > 1 each model is timed in that
 * many sessions of its own (the first session of every model, then the second, ...) and they are combined
 * like the reference's copies, so a model's ratio carries less of one session's (one page's) speed.
 */
export async function timeAgainstReference(models: PreparedModel[], reference: string, resolution: number, settings: MeasureSettings, onGroup?: (modelsDone: number) => void): Promise<{ ratios: Map<string, { ratio: number; ci?: [number, number]; runs: number }>; references: ModelResult[]; file: ResultsFile }> {
  const ratios = new Map<string, { ratio: number; ci?: [number, number]; runs: number }>();
  const references: ModelResult[] = [];
  const interleaved = findBackend(settings.backend ?? 'ort-cpu').kind === 'session';
  const copies = copiesOf(await prepareModel({ model: reference, resolution }, 1), '-copy', REFERENCE_COPIES);
  const { runs, sessions = 1, ...rest } = settings;
  let file: ResultsFile | undefined;
  for (let start = 0; start < models.length; start += MODELS_PER_GROUP) {
    const group = models.slice(start, start + MODELS_PER_GROUP);
    const sessionsOf = group.map((m) => (sessions > 1 ? copiesOf(m, '-session', sessions) : [m]));
    const results = await profile({
      ...rest,
      models: [],
      prepared: [...copies, ...Array.from({ length: sessions }, (_, k) => sessionsOf.map((s) => s[k])).flat()],
      resolution,
      singleSession: false,
      // A table needs latencies only: no cold process per block.
      coldStart: false,
      plan: { runs: runs ?? LUT_DEFAULTS.runs },
    });
    file ??= results;
    const byName = new Map(results.results.map((r) => [r.model, r]));
    const refs = copies.map((c) => byName.get(c.source.name)!);
    references.push(...refs);
    // The copies combine exactly as a model's sessions do.
    const ref = combineSessions(refs, reference).latency_ms;
    const rounds = interleaved ? ref.samples : undefined;
    group.forEach((m, i) => {
      const r = combineSessions(sessionsOf[i].map((s) => byName.get(s.source.name)!), m.source.name);
      ratios.set(m.source.name, { ...ratioOf(r, rounds, medianOf({ model: reference, latency_ms: ref })), runs: r.runs });
    });
    onGroup?.(start + group.length);
  }
  return { ratios, references, file: file! };
}

export async function buildLut(req: LutBuildRequest): Promise<Lut> {
  const family = searchableFamily(req.family);
  const space = spaceFor(family, req.spaceFile, req.resolution);
  const reference = referenceModel(family);
  const pick = <T>(items: T[]) => (req.shard ? items.filter((_, i) => i % req.shard!.count === req.shard!.index - 1) : items);
  const blocks = pick(blocksOfSpace(family, space));
  const trainingPoints = pick(samplePoints(family, space, req.training ?? LUT_DEFAULTS.training, req.seed ?? LUT_DEFAULTS.seed));

  const report = (blocksDone: number, trainingDone: number) =>
    req.onProgress?.({ blocks: { done: blocksDone, total: blocks.length }, training: { done: trainingDone, total: trainingPoints.length } });
  report(0, 0);
  const timed = await timeAgainstReference(
    blocks.map((b) => b.prepared),
    reference,
    space.resolution,
    req,
    (done) => report(done, 0),
  );
  const trainingDone = (done: number) => report(blocks.length, done);
  const referenceMs = median(timed.references.map(medianOf));
  const entries: LutEntry[] = blocks.map((b) => {
    const t = timed.ratios.get(b.prepared.source.name)!;
    return { ...b.entry, ratio: t.ratio, ratio_ci95: t.ci, median_ms: t.ratio * referenceMs, runs: t.runs };
  });
  const first = timed.file.results[0];
  const lut: Lut = {
    schema: LUT_SCHEMA,
    family: family.id,
    resolution: space.resolution,
    backend: first.backend,
    settings: first.settings,
    device: first.device,
    env: timed.file.env,
    space,
    reference: { model: reference, median_ms: referenceMs, runs: timed.references.reduce((s, r) => s + r.runs, 0) },
    sessions: req.sessions ?? 1,
    entries,
    training: [],
  };
  if (trainingPoints.length && !req.shard) {
    lut.training = await measureTraining(lut, family, trainingPoints, req, true, trainingDone);
  } else if (trainingPoints.length) {
    // A shard has only part of the blocks: its training models are summed after merging.
    lut.training = await measureTraining({ ...lut, entries: [] }, family, trainingPoints, req, false, trainingDone);
  }
  lut.correction = fitCorrection(lut.training.filter((t) => t.sum_ratio > 0));
  return lut;
}

/** Whole configurations measured against the reference, with the table's sum for each when it has every block. */
async function measureTraining(lut: Lut, family: ModelFamily<unknown>, points: Point[], settings: MeasureSettings, sum: boolean, onGroup?: (done: number) => void): Promise<TrainingRecord[]> {
  const measured = await measurePoints(family, points, lut.resolution, lut.reference.model, settings, 'train', onGroup);
  return measured.map((m) => ({
    point: m.point,
    measured_ratio: m.ratio,
    ...(sum ? sumOf(lut, family, m.point) : { sum_ratio: 0, blocks: 0 }),
  }));
}

/** The table's sums for a point (before the correction): block ratios, block count, elements moved. */
export function sumOf(lut: Lut, family: ModelFamily<unknown>, point: Point): BlockSums {
  const analysed = analyse(family, spaceOf(family).configOf(point), lut.resolution);
  return blockSums(lookUp(lut, 'the table', analysed, 'configuration').entries);
}

/** Elements a block graph reads and writes per run. */
function ioElements(graph: Graph): number {
  return [...graph.inputs.map((i) => i.shape), ...graph.outputs.map((o) => graph.values.get(o)!.shape)].reduce((s, shape) => s + numel(shape), 0);
}

/** Whole configurations timed against the reference: what training sets, benchmarks and `search --verify` measure. */
export async function measurePoints(family: ModelFamily<unknown>, points: Point[], resolution: number, reference: string, settings: MeasureSettings, prefix: string, onGroup?: (done: number) => void) {
  const prepared: PreparedModel[] = [];
  for (const [i, p] of points.entries()) prepared.push(await prepareModel({ spec: pointEntry(family, p, `${prefix}_${i}`), resolution }, 1));
  const timed = await timeAgainstReference(prepared, reference, resolution, settings, onGroup);
  const referenceMs = median(timed.references.map(medianOf));
  return points.map((point, i) => ({ point, ratio: timed.ratios.get(`${prefix}_${i}`)!.ratio, referenceMs }));
}

/** Shards of one table (`lut build --shard`) as one, its training sums recomputed over all blocks and the correction refitted. */
export function mergeLutFiles(paths: string[]): Lut {
  const merged = mergeLuts(paths.map((path) => ({ path, lut: readLut(path) })));
  const family = searchableFamily(merged.family);
  const training = merged.training.map((t) => ({ ...t, ...sumOf(merged, family, t.point) }));
  return { ...merged, training, correction: fitCorrection(training) };
}

