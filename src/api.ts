/**
 * The library API the CLI (and users: `import { exportOnnx } from 'eformer'`) call.
 * Every function takes plain options and returns plain data.
 */
import { join } from 'node:path';
import { DEFAULT_OPSET, encodeOnnx, initializerElements, lowerToOnnx, type OnnxGraph } from './export/onnx.js';
import { convertToCoreml, type CoremlOptions, type CoremlResult } from './export/coreml.js';
import { ensureWritableDir, writeFileAtomic } from './export/write.js';
import { countGraph, type LayerCount } from './graph/count.js';
import { randomizeWeights } from './graph/init.js';
import type { Graph } from './graph/ir.js';
import { DEPLOY_PASSES, deployGraph, type Pass } from './graph/passes/index.js';
import { DEFAULT_RESOLUTION, findModel, type ModelEntry } from './models/index.js';
import { VERSION } from './version.js';
import { basename } from 'node:path';
import { UsageError } from './errors.js';
import { hfConfigEntry } from './models/hf-config.js';
import { readCheckpoint } from './weights/checkpoint.js';
import { loadStateDict } from './weights/load.js';
import { encodeSafetensors } from './weights/safetensors.js';

export interface ModelRequest {
  /** A zoo model name; or give `hfConfig`. */
  model?: string;
  /** A Hugging Face EfficientFormer config.json that defines the architecture. */
  hfConfig?: string;
  /** A custom variant: any family with its own config (library use). */
  spec?: ModelEntry;
  /** Checkpoint to load (.pth/.pt zip or .safetensors; original, timm or HF naming). */
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
}

/** The zoo entry or the custom spec a request names. */
export function resolveEntry(req: ModelRequest): ModelEntry {
  if (req.spec) return req.spec;
  if (req.hfConfig) return hfConfigEntry(req.hfConfig);
  if (!req.model) throw new UsageError('name a model with --model (see `eformer models`) or give --hf-config');
  return findModel(req.model);
}

/** The network as PyTorch defines it, with shapes but no weights yet. */
export function buildModel(req: ModelRequest): BuiltModel {
  const entry = resolveEntry(req);
  const resolution = req.resolution ?? DEFAULT_RESOLUTION;
  const graph = entry.family.build(entry.config, { resolution, batch: req.batch ?? 1, name: entry.name });
  return { entry, resolution, graph, weights: 'none' };
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
  const report = loadStateDict(built.graph, ckpt.stateDict, built.entry.name);
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

/** Counts of a built model; pass the lowered ONNX graph when there is one, to skip re-folding. */
export function countBuilt(built: BuiltModel, lowered?: OnnxGraph): CountRecord {
  const counts = countGraph(built.graph);
  const deployed = initializerElements(lowered ?? lowerToOnnx(deployGraph(stripWeights(built.graph)), DEFAULT_OPSET));
  return {
    model: built.entry.name,
    resolution: built.resolution,
    params: { ...counts.params, deployed },
    macs: counts.macs,
    layers: counts.layers,
  };
}

export interface OnnxOptions {
  opset?: number;
  /** Deployment passes to run; `[]` exports the graph exactly as PyTorch computes it. */
  passes?: readonly Pass[];
}

/** Serialise a built model (weights must be present) to ONNX bytes. */
export function onnxBytes(built: BuiltModel, options: OnnxOptions = {}): { bytes: Uint8Array; onnx: OnnxGraph } {
  const onnx = lowerToOnnx(deployGraph(built.graph, options.passes ?? DEPLOY_PASSES), options.opset ?? DEFAULT_OPSET);
  const bytes = encodeOnnx(onnx, {
    producerVersion: VERSION,
    docString: `${built.entry.name} at ${built.resolution}x${built.resolution}, exported by eformer ${VERSION}`,
    metadata: { model: built.entry.name, resolution: String(built.resolution), weights: built.weights },
  });
  return { bytes, onnx };
}

export interface ExportRequest extends ModelRequest, OnnxOptions {
  outDir?: string;
}

export interface ExportResult {
  path: string;
  bytes: number;
  counts: CountRecord;
}

/** Checks, weights, the ONNX bytes and the counts: what every export starts from. */
function prepareExport(req: ExportRequest) {
  const outDir = req.outDir ?? '.';
  // A bad name or size fails before the folder is touched.
  const entry = resolveEntry(req);
  entry.family.checkResolution(entry.config, req.resolution ?? DEFAULT_RESOLUTION, entry.name);
  ensureWritableDir(outDir);
  const built = buildWithWeights(req);
  const { bytes, onnx } = onnxBytes(built, req);
  return { outDir, built, bytes, counts: countBuilt(built, onnx) };
}

/** `eformer export --onnx`: write DIR/NAME.onnx atomically and return the counts. */
export function exportOnnx(req: ExportRequest): ExportResult {
  const { outDir, built, bytes, counts } = prepareExport(req);
  const path = join(outDir, `${built.entry.name}.onnx`);
  writeFileAtomic(path, bytes);
  return { path, bytes: bytes.length, counts };
}

/** The model's weights as a PyTorch state_dict in safetensors form (names are the checkpoint keys). */
export function stateDictBytes(built: BuiltModel): Uint8Array {
  const tensors = [...built.graph.params.values()].map((p) => {
    if (!p.data) throw new Error(`parameter ${p.name} has no data`);
    return { name: p.name, shape: p.shape, data: p.data };
  });
  return encodeSafetensors(tensors, { format: 'pt', producer: `eformer ${VERSION}`, model: built.entry.name });
}

export interface ModelExportRequest extends ExportRequest {
  onnx?: boolean;
  coreml?: CoremlOptions;
}

export interface ModelExportResult {
  onnx?: ExportResult;
  coreml?: CoremlResult;
  counts: CountRecord;
}

/**
 * `eformer export`: ONNX and/or Core ML. ONNX is written first, so it is there even when the
 * Core ML conversion then fails.
 */
export async function exportModel(req: ModelExportRequest): Promise<ModelExportResult> {
  const { outDir, built, bytes, counts } = prepareExport(req);
  const result: ModelExportResult = { counts };
  if (req.onnx) {
    const path = join(outDir, `${built.entry.name}.onnx`);
    writeFileAtomic(path, bytes);
    result.onnx = { path, bytes: bytes.length, counts };
  }
  if (req.coreml) {
    const extension = req.coreml.format === 'neuralnetwork' ? 'mlmodel' : 'mlpackage';
    const classes = (built.entry.config as { numClasses?: number }).numClasses ?? 1000;
    result.coreml = await convertToCoreml(bytes, join(outDir, `${built.entry.name}.${extension}`), {
      ...req.coreml,
      classes,
      metadata: {
        model: built.entry.name,
        resolution: String(built.resolution),
        params_toolbox: String(counts.params.toolbox),
        macs_toolbox: String(counts.macs.toolbox),
        eformer: VERSION,
        weights: built.weights,
        ...req.coreml.metadata,
      },
    });
  }
  return result;
}
