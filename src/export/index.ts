/**
 * `eformer export`: the model's ONNX file and/or its Core ML model. ONNX is written first, so it
 * is there even when the Core ML conversion then fails.
 */
import { join } from 'node:path';
import { ensureWritableDir, writeFileAtomic } from '../core/fs.js';
import { VERSION } from '../core/version.js';
import { convertToCoreml, type CoremlOptions, type CoremlResult, type ReferencePrediction } from '../coreml/bridge.js';
import { runOnnx } from '../onnx/runtime.js';
import {
  type BuiltModel,
  buildWithWeights,
  classCount,
  type CountRecord,
  countBuilt,
  type ModelRequest,
  type OnnxOptions,
  onnxBytes,
  resolutionOf,
  resolveEntry,
} from '../pipeline/index.js';

export interface ExportRequest extends ModelRequest, OnnxOptions {
  outDir?: string;
}

export interface ExportResult {
  path: string;
  bytes: number;
  counts: CountRecord;
}

export interface ModelExportRequest extends ExportRequest {
  onnx?: boolean;
  /** Core ML options; `verify: true` also compares the model's predictions with onnxruntime's. */
  coreml?: Omit<CoremlOptions, 'verify' | 'classes'> & { verify?: boolean };
}

export interface ModelExportResult {
  onnx?: ExportResult;
  coreml?: CoremlResult;
  counts: CountRecord;
}

/** Checks, weights, the ONNX bytes and the counts: what every export starts from. */
function prepareExport(req: ExportRequest) {
  const outDir = req.outDir ?? '.';
  // A bad name or size fails before the folder is touched.
  const entry = resolveEntry(req);
  entry.family.checkResolution(entry.config, resolutionOf(req, entry), entry.name);
  ensureWritableDir(outDir);
  const built = buildWithWeights(req);
  const { bytes, onnx } = onnxBytes(built, req);
  return { outDir, built, bytes, counts: countBuilt(built, onnx) };
}

function writeOnnx(outDir: string, built: BuiltModel, bytes: Uint8Array, counts: CountRecord): ExportResult {
  const path = join(outDir, `${built.entry.name}.onnx`);
  writeFileAtomic(path, bytes);
  return { path, bytes: bytes.length, counts };
}

/** `eformer export --onnx`: write DIR/NAME.onnx atomically and return the counts. */
export function exportOnnx(req: ExportRequest): ExportResult {
  const { outDir, built, bytes, counts } = prepareExport(req);
  return writeOnnx(outDir, built, bytes, counts);
}

/** `eformer export`: ONNX and/or Core ML. */
export async function exportModel(req: ModelExportRequest): Promise<ModelExportResult> {
  const { outDir, built, bytes, counts } = prepareExport(req);
  const result: ModelExportResult = { counts };
  if (req.onnx) result.onnx = writeOnnx(outDir, built, bytes, counts);
  if (req.coreml) {
    const extension = req.coreml.format === 'neuralnetwork' ? 'mlmodel' : 'mlpackage';
    result.coreml = await convertToCoreml(bytes, join(outDir, `${built.entry.name}.${extension}`), {
      ...req.coreml,
      classes: classCount(built),
      verify: req.coreml.verify ? await referencePrediction(built, bytes) : undefined,
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

/** A deterministic test picture of the model's input size and onnxruntime's logits for it (normalised as the family's preprocessing says). */
async function referencePrediction(built: BuiltModel, onnx: Uint8Array): Promise<ReferencePrediction> {
  const input = built.graph.inputs[0];
  const [, , height, width] = input.shape;
  const { mean, std } = built.entry.family.preprocessing;
  const rgb = new Uint8Array(height * width * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 7 + (i % 3) * 50 + Math.floor(i / (width * 3)) * 3) % 256;
  const pixels = height * width;
  const tensor = new Float32Array(3 * pixels);
  for (let c = 0; c < 3; c++) for (let p = 0; p < pixels; p++) tensor[c * pixels + p] = (rgb[p * 3 + c] / 255 - mean[c]) / std[c];
  const outputs = await runOnnx(onnx, { [input.name]: { data: tensor, shape: input.shape } });
  return { rgb, logits: outputs[built.graph.outputNames[0]] };
}
