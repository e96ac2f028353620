/**
 * `eformer export`: the model's ONNX file and/or its Core ML model. ONNX is written first, so it
 * is there even when the Core ML conversion then fails.
 */
import { join } from 'node:path';
import { checkOutputDir, ensureWritableDir, removeEmptyDirs, writeFileAtomic, writeFileAtomicAsync } from '../core/fs.js';
import { VERSION } from '../core/version.js';
import { convertToCoreml, type CoremlOptions, type CoremlResult, type ReferencePrediction } from '../coreml/bridge.js';
import { checkNumerics, type NumericCheck } from '../coreml/interpret.js';
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
  /** Called with each step's name as it starts (for a status line). */
  progress?: (step: string) => void;
  onnx?: boolean;
  /** Core ML options; `verify: true` also compares the model's predictions with onnxruntime's. */
  coreml?: Omit<CoremlOptions, 'verify' | 'classes'> & { verify?: boolean };
}

export interface ModelExportResult {
  onnx?: ExportResult;
  coreml?: CoremlResult;
  /** --verify: the saved Core ML model run by eformer's MIL interpreter against onnxruntime. */
  numerics?: NumericCheck;
  counts: CountRecord;
}

/**
 * Checks, weights, the ONNX bytes and the counts: what every export starts from. The output folder
 * is checked first but created only once the model is built, so a bad checkpoint leaves no folder.
 */
function prepareExport(req: ExportRequest) {
  const outDir = req.outDir ?? '.';
  // A bad name or size fails before the folder is touched.
  const entry = resolveEntry(req);
  entry.family.checkResolution(entry.config, resolutionOf(req, entry), entry.name);
  checkOutputDir(outDir);
  const built = buildWithWeights(req);
  const { bytes, onnx } = onnxBytes(built, req);
  return { outDir, built, bytes, counts: countBuilt(built, onnx) };
}

/** Run `write` with the output folder in place; folders made for it are removed again if it fails and leaves them empty. */
async function intoFolder<T>(outDir: string, write: () => T | Promise<T>): Promise<T> {
  const created = ensureWritableDir(outDir);
  try {
    return await write();
  } catch (err) {
    removeEmptyDirs(created);
    throw err;
  }
}

const onnxPath = (outDir: string, built: BuiltModel) => join(outDir, `${built.entry.name}.onnx`);

/** `eformer export --onnx`: write DIR/NAME.onnx atomically and return the counts. */
export function exportOnnx(req: ExportRequest): ExportResult {
  const { outDir, built, bytes, counts } = prepareExport(req);
  const created = ensureWritableDir(outDir);
  try {
    writeFileAtomic(onnxPath(outDir, built), bytes);
  } catch (err) {
    removeEmptyDirs(created);
    throw err;
  }
  return { path: onnxPath(outDir, built), bytes: bytes.length, counts };
}

/** `eformer export`: ONNX and/or Core ML. The ONNX file is written in chunks, so Ctrl-C stops it cleanly. */
export async function exportModel(req: ModelExportRequest): Promise<ModelExportResult> {
  req.progress?.(`building ${req.model ?? 'the model'}`);
  const { outDir, built, bytes, counts } = prepareExport(req);
  return intoFolder(outDir, async () => {
    const result: ModelExportResult = { counts };
    if (req.onnx) {
      req.progress?.(`writing ${built.entry.name}.onnx (${(bytes.length / 1e6).toFixed(0)} MB)`);
      await writeFileAtomicAsync(onnxPath(outDir, built), bytes);
      result.onnx = { path: onnxPath(outDir, built), bytes: bytes.length, counts };
    }
    if (req.coreml) {
      const extension = req.coreml.format === 'neuralnetwork' ? 'mlmodel' : 'mlpackage';
      req.progress?.('converting to Core ML (coremltools)');
      const reference = req.coreml.verify ? await referencePrediction(built, bytes) : undefined;
      result.coreml = await convertToCoreml(bytes, join(outDir, `${built.entry.name}.${extension}`), {
        ...req.coreml,
        classes: classCount(built),
        verify: reference,
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
      if (reference) {
        req.progress?.('checking the Core ML numbers (MIL interpreter)');
        result.numerics = await checkNumerics(result.coreml.path, reference, {
          inputName: built.graph.inputs[0].name,
          inputType: result.coreml.report.input_type,
          precision: result.coreml.report.precision,
          classifier: classCount(built) === 1000,
          timeoutSeconds: req.coreml.timeout,
        });
      }
    }
    return result;
  });
}

/** A deterministic test picture of the model's input size, its normalised tensor, and onnxruntime's logits for it. */
export async function referencePrediction(built: BuiltModel, onnx: Uint8Array): Promise<ReferencePrediction & { tensor: Float32Array; shape: number[] }> {
  const input = built.graph.inputs[0];
  const [, , height, width] = input.shape;
  const { mean, std } = built.entry.family.preprocessing;
  const rgb = new Uint8Array(height * width * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 7 + (i % 3) * 50 + Math.floor(i / (width * 3)) * 3) % 256;
  const pixels = height * width;
  const tensor = new Float32Array(3 * pixels);
  for (let c = 0; c < 3; c++) for (let p = 0; p < pixels; p++) tensor[c * pixels + p] = (rgb[p * 3 + c] / 255 - mean[c]) / std[c];
  const outputs = await runOnnx(onnx, { [input.name]: { data: tensor, shape: input.shape } });
  return { rgb, logits: outputs[built.graph.outputNames[0]], tensor, shape: input.shape };
}
