/**
 * The build pipeline every use case starts from: resolve the model (zoo name, Hugging Face
 * config or a custom entry) -> build the PyTorch-faithful graph -> fill it with weights (a
 * checkpoint, strictly matched, or seeded random ones) -> run the deployment passes -> lower to
 * ONNX (-> bytes). Counts are read off the built graph and the lowered one.
 */
import { basename } from 'node:path';
import { giveWay } from '../core/interrupt.js';
import { UsageError } from '../core/errors.js';
import { VERSION } from '../core/version.js';
import { countGraph, type LayerCount } from '../graph/count.js';
import { randomizeWeights } from '../graph/init.js';
import type { Graph } from '../graph/ir.js';
import { DEPLOY_PASSES, deployGraph, type Pass } from '../graph/passes/index.js';
import { MAX_ACTIVATION_BYTES, MAX_MACS, MAX_PARAMS, peakActivationBytes } from '../graph/size.js';
import { entryFromConfigFile, entryFromHfConfig, findModel, type ModelEntry } from '../models/index.js';
import { encodeOnnx } from '../onnx/encode.js';
import { DEFAULT_OPSET, initializerElements, lowerToOnnx, type OnnxGraph } from '../onnx/lower.js';
import { countMetadata, MAX_INPUT_ELEMENTS, modelInput, type ModelSource } from '../onnx/read.js';
import { lowerToTflite, type TfliteInt8, type TflitePrecision } from '../tflite/lower.js';
import type { TfliteModel } from '../tflite/model.js';
import { writeTflite } from '../tflite/write.js';
import { readCheckpoint } from '../weights/checkpoint.js';
import { encodeSafetensors } from '../weights/safetensors.js';
import { loadStateDict } from './load.js';

export interface ModelRequest {
  /** A zoo model name; or give `hfConfig`. */
  model?: string;
  /** A Hugging Face config.json that defines the architecture (its family reads it). */
  hfConfig?: string;
  /** An eformer model config file (`eformer.config/1`, what `eformer search` writes). */
  config?: string;
  /** A custom variant: any family with its own config (library use). */
  spec?: ModelEntry;
  /** Checkpoint to load (.pth/.pt zip or .safetensors; any naming the family accepts). */
  ckpt?: string;
  resolution?: number;
  batch?: number;
  /** Seed for the random weights used when no checkpoint is given. */
  seed?: number;
}

export interface BuiltModel {
  entry: ModelEntry;
  resolution: number;
  /** The PyTorch-faithful graph (what counting reads). */
  graph: Graph;
  /** Where the weights came from, for metadata and reports. */
  weights: string;
  /** Params and MACs, counted once from the shapes when the graph is built. */
  counts: CountRecord;
}

/** The zoo entry or the custom spec a request names. */
export function resolveEntry(req: ModelRequest): ModelEntry {
  if (req.spec) return req.spec;
  if (req.hfConfig) return entryFromHfConfig(req.hfConfig);
  if (req.config) return entryFromConfigFile(req.config);
  if (!req.model) throw new UsageError('name a model with --model (see `eformer models`), or give --config or --hf-config');
  return findModel(req.model);
}

/** The resolution a request builds at: the flag, else the family's default. */
export function resolutionOf(req: ModelRequest, entry: ModelEntry): number {
  return req.resolution ?? entry.resolution ?? entry.family.defaultResolution;
}

/** Sizes beyond any model here: refused before anything is allocated. */
export const MAX_RESOLUTION = 2048;
export const MAX_BATCH = 256;

/** A resolution and batch eformer can build without exhausting memory, or a UsageError naming the limit. */
export function checkSize(resolution: number, batch: number): void {
  if (!Number.isSafeInteger(resolution) || resolution < 1 || resolution > MAX_RESOLUTION) {
    throw new UsageError(`resolution ${resolution} is out of range: eformer builds 1 to ${MAX_RESOLUTION} pixels (the zoo's models are published at 224)`);
  }
  if (!Number.isSafeInteger(batch) || batch < 1 || batch > MAX_BATCH) throw new UsageError(`batch ${batch} is out of range: eformer builds batches of 1 to ${MAX_BATCH}`);
  const elements = batch * 3 * resolution * resolution;
  if (elements > MAX_INPUT_ELEMENTS) {
    throw new UsageError(`a batch of ${batch} at ${resolution}x${resolution} is ${elements} input values; eformer feeds at most ${MAX_INPUT_ELEMENTS} (lower --batch or --resolution)`);
  }
}

/**
 * The network as PyTorch defines it, with shapes but no weights yet, counted and checked against
 * the size limits (graph/size.ts) before anything the size of its weights is allocated.
 */
export function buildModel(req: ModelRequest): BuiltModel {
  const entry = resolveEntry(req);
  const resolution = resolutionOf(req, entry);
  const batch = req.batch ?? 1;
  checkSize(resolution, batch);
  const graph = entry.family.build(entry.config, { resolution, batch, name: entry.name });
  const counts = countGraphOf(entry, resolution, graph);
  checkModelSize(counts, graph, batch);
  return { entry, resolution, graph, weights: 'none', counts };
}

const grouped = (n: number) => Math.round(n).toLocaleString('en-US');

/** Parameters, MACs and activations within graph/size.ts's limits, or a UsageError naming the measure and its limit. */
function checkModelSize(counts: CountRecord, graph: Graph, batch: number): void {
  const what = `${counts.model} at ${counts.resolution}x${counts.resolution}`;
  const params = Math.max(counts.params.total, counts.params.deployed);
  if (params > MAX_PARAMS) {
    throw new UsageError(`${what} has ${grouped(params)} parameters${params > counts.params.total ? ' once deployed (its attention bias tables grow with the resolution)' : ''}; eformer builds at most ${grouped(MAX_PARAMS)} (3 times efficientformer_l7)`);
  }
  // The toolbox convention leaves layers out (GELU is undercounted, channels-last Linears too): take the larger count.
  const macs = Math.max(counts.macs.toolbox, counts.macs.standard / batch);
  if (macs > MAX_MACS) throw new UsageError(`${what} needs ${(macs / 1e9).toFixed(0)} G MACs an image; eformer builds at most ${MAX_MACS / 1e9} G (about 100 times efficientformer_l7)`);
  const activations = peakActivationBytes(graph);
  if (activations > MAX_ACTIVATION_BYTES) {
    throw new UsageError(
      `${what}${batch > 1 ? `, batch ${batch},` : ''} holds ${(activations / 2 ** 30).toFixed(1)} GiB of activations at once; eformer builds at most ${MAX_ACTIVATION_BYTES / 2 ** 30} GiB (lower --resolution${batch > 1 ? ' or --batch' : ''})`,
    );
  }
}

/** The same graph without weight data: passes then only reshape, which is all counting needs. */
function stripWeights(graph: Graph): Graph {
  const params = new Map([...graph.params].map(([name, p]) => [name, { ...p, data: undefined }]));
  return { ...graph, params };
}

/** The model with deterministic random weights (seeded per parameter name). */
export function buildWithRandomWeights(req: ModelRequest): BuiltModel {
  const built = buildModel(req);
  const seed = req.seed ?? 0;
  randomizeWeights(built.graph, seed);
  return { ...built, weights: `random (seed ${seed})` };
}

/** The model with the request's checkpoint loaded strictly, or random weights without one. */
export function buildWithWeights(req: ModelRequest): BuiltModel {
  if (!req.ckpt) return buildWithRandomWeights(req);
  const built = buildModel(req);
  const ckpt = readCheckpoint(req.ckpt);
  const report = loadStateDict(built.graph, ckpt.stateDict, built.entry);
  return { ...built, weights: `${basename(req.ckpt)} (${report.naming} naming, ${ckpt.format})` };
}

/** The record `eformer count --json` prints. */
export interface CountRecord {
  model: string;
  resolution: number;
  params: { toolbox: number; total: number; deployed: number };
  macs: { toolbox: number; standard: number };
  layers: LayerCount[];
}

/** Counts need only shapes; with a checkpoint it is also loaded, to prove it matches. */
export function countModel(req: ModelRequest): CountRecord {
  const built = req.ckpt ? buildWithWeights({ ...req, batch: 1 }) : buildModel({ ...req, batch: 1 });
  return countBuilt(built);
}

/** Counts of a built model (made when it was built: they depend on shapes only). */
export function countBuilt(built: BuiltModel): CountRecord {
  return built.counts;
}

/** Counts of a graph from its shapes: the deployed count from the passes run on a weightless copy. */
function countGraphOf(entry: ModelEntry, resolution: number, graph: Graph): CountRecord {
  const counts = countGraph(graph, (path) => entry.family.groupOf(path));
  const deployed = initializerElements(lowerToOnnx(deployGraph(stripWeights(graph)), DEFAULT_OPSET));
  return { model: entry.name, resolution, params: { ...counts.params, deployed }, macs: counts.macs, layers: counts.layers };
}

export interface OnnxOptions {
  opset?: number;
  /** Deployment passes to run; `[]` exports the graph exactly as PyTorch computes it. */
  passes?: readonly Pass[];
}

/** Serialise a built model (weights must be present) to ONNX bytes; `deployed` is the graph after the passes. */
export function onnxBytes(built: BuiltModel, options: OnnxOptions = {}): { bytes: Uint8Array; onnx: OnnxGraph; deployed: Graph } {
  const deployed = deployGraph(built.graph, options.passes ?? DEPLOY_PASSES);
  return { ...graphBytes(built, deployed, options.opset ?? DEFAULT_OPSET), deployed };
}

/**
 * A deployed graph of `built` (its float form, or a quantised one) as ONNX bytes, with the model's
 * metadata (its name, resolution, weights, and its toolbox and standard counts, which
 * `profile --onnx` reads back) and any `extra`.
 */
export function graphBytes(built: BuiltModel, graph: Graph, opset: number, extra: Record<string, string> = {}): { bytes: Uint8Array; onnx: OnnxGraph } {
  const onnx = lowerToOnnx(graph, opset);
  const counts = countGraph(built.graph);
  const bytes = encodeOnnx(onnx, {
    producerVersion: VERSION,
    docString: `${built.entry.name} at ${built.resolution}x${built.resolution}, exported by eformer ${VERSION}`,
    metadata: { model: built.entry.name, resolution: String(built.resolution), weights: built.weights, ...countMetadata(counts), ...extra },
  });
  return { bytes, onnx };
}

export interface TfliteOptions {
  /** fp32 (default), or fp16 weights stored as LiteRT's float16 quantisation writes them (float16 constants + DEQUANTIZE). */
  precision?: TflitePrecision;
  /** Deployment passes to run; `[]` lowers the graph exactly as PyTorch computes it. */
  passes?: readonly Pass[];
  /** The model's counts, when the caller has them already (they go into the metadata). */
  counts?: CountRecord;
  /** The graph after the passes, when the caller has it already. */
  deployed?: Graph;
  /** An int8 model: the layers int8/ planned and calibrated (quantizeInt8 with `tflite`); `precision` is then ignored. */
  int8?: TfliteInt8;
  /** More metadata entries (the int8 calibration, say). */
  metadata?: [string, string][];
}

/** What a .tflite file says about itself (its metadata entries): as the ONNX file's metadata_props and the Core ML model's. */
export function tfliteMetadata(built: BuiltModel, counts: CountRecord, precision: string): [string, string][] {
  return [
    ['model', built.entry.name],
    ['resolution', String(built.resolution)],
    ['params_toolbox', String(counts.params.toolbox)],
    ['macs_toolbox', String(counts.macs.toolbox)],
    ['eformer', VERSION],
    ['weights', built.weights],
    ['precision', precision],
  ];
}

/**
 * A built model (weights present) as .tflite bytes: the deployment passes, then the channels-last
 * TFLite lowering (tflite/lower.ts) and its FlatBuffer writer. The input is NHWC [1, R, R, 3].
 */
export function tfliteBytes(built: BuiltModel, options: TfliteOptions = {}): { bytes: Uint8Array; model: TfliteModel; deployed: Graph } {
  const deployed = options.deployed ?? deployGraph(built.graph, options.passes ?? DEPLOY_PASSES);
  const precision = options.int8 ? 'fp32' : (options.precision ?? 'fp32');
  const model = lowerToTflite(deployed, {
    precision,
    int8: options.int8,
    description: `${built.entry.name} at ${built.resolution}x${built.resolution}, exported by eformer ${VERSION}`,
    metadata: [...tfliteMetadata(built, options.counts ?? countBuilt(built), options.int8 ? 'int8' : precision), ...(options.metadata ?? [])],
  });
  return { bytes: writeTflite(model), model, deployed };
}

/** The built model as backends and runtimes take it: bytes plus the graph's own input signature. */
export function modelSource(built: BuiltModel, bytes: Uint8Array): ModelSource {
  let tflite: Uint8Array | undefined;
  const writeTfliteOnce = async () => {
    if (!tflite) {
      const deployed = deployGraph(built.graph, DEPLOY_PASSES);
      // Folding efficientformer_l7 and writing it take a second: a signal is handled between them.
      await giveWay();
      tflite = tfliteBytes(built, { deployed }).bytes;
    }
    return tflite;
  };
  return { name: built.entry.name, onnx: bytes, inputs: built.graph.inputs.map(modelInput), tflite: writeTfliteOnce };
}

/** How many classes the model scores: the last dimension of its (first) output. */
export function classCount(built: BuiltModel): number {
  return built.graph.values.get(built.graph.outputs[0])!.shape.at(-1)!;
}

/** The model's weights as a PyTorch state_dict in safetensors form (names are the checkpoint keys). */
export function stateDictBytes(built: BuiltModel): Uint8Array {
  // Constants the graph derives (index tables) are not PyTorch state.
  const tensors = [...built.graph.params.values()].filter((p) => p.role !== 'constant').map((p) => {
    if (!p.data) throw new Error(`parameter ${p.name} has no data`);
    return { name: p.name, shape: p.shape, data: p.data };
  });
  return encodeSafetensors(tensors, { format: 'pt', producer: `eformer ${VERSION}`, model: built.entry.name });
}
