/**
 * `eformer export`: the model's ONNX file, its TFLite file and/or its Core ML model. ONNX is written
 * first and TFLite next, so they are there even when the Core ML conversion then fails.
 */
import { basename, join } from 'node:path';
import { UsageError } from '../core/errors.js';
import { giveWay } from '../core/interrupt.js';
import type { Graph } from '../graph/ir.js';
import { BuiltinOperator } from '../tflite/model.js';
import { checkOutputs, ensureWritableDir, removeEmptyDirs, writeFileAtomic, writeFileAtomicAsync } from '../core/fs.js';
import { VERSION } from '../core/version.js';
import { convertToCoreml, type CoremlOptions, type CoremlResult, type ReferencePrediction } from '../coreml/bridge.js';
import { checkNumerics, type NumericCheck } from '../coreml/interpret.js';
import { findPython } from '../coreml/python.js';
import { judgeTflite, judgeTfliteInt8, runLitert, type TfliteCheck } from '../tflite/litert.js';
import type { TflitePrecision } from '../tflite/lower.js';
import { INT8_OPSET, type Int8Options, type Int8Report, type Int8Result, int8Metadata, quantizeInt8, sqnrDb } from '../int8/index.js';
import { runOnnx } from '../onnx/session-thread.js';
import {
  type BuiltModel,
  buildWithWeights,
  classCount,
  type CountRecord,
  countBuilt,
  graphBytes,
  type ModelRequest,
  type OnnxOptions,
  onnxBytes,
  resolutionOf,
  resolveEntry,
  tfliteBytes,
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
  coreml?: Omit<CoremlOptions, 'verify' | 'classes' | 'w8a8'> & { verify?: boolean };
  /** Static int8 quantisation: the ONNX file in QDQ form (NAME.int8.onnx) and/or a Core ML W8A8 model. */
  int8?: Omit<Int8Options, 'trainedWeights' | 'progress'>;
  /** NAME.tflite, channels-last; `verify: true` also runs it in LiteRT's interpreter against onnxruntime. */
  tflite?: { precision?: TflitePrecision; verify?: boolean; timeout?: number };
}

export interface TfliteExportResult extends ExportResult {
  precision: TflitePrecision | 'int8';
  ops: number;
  /** TRANSPOSE operators in the file (where attention heads are formed or undone). */
  transposes: number;
}

export interface ModelExportResult {
  onnx?: ExportResult;
  tflite?: TfliteExportResult;
  /** --verify: the saved .tflite run in LiteRT (XNNPACK) against onnxruntime. */
  tfliteCheck?: TfliteCheck;
  coreml?: CoremlResult;
  /** --verify: the saved Core ML model run by eformer's MIL interpreter against onnxruntime. */
  numerics?: NumericCheck;
  /** --int8: calibration and fidelity against the float graph. */
  int8?: Int8Report;
  counts: CountRecord;
}

/**
 * Checks, weights, the ONNX bytes and the counts: what every export starts from. The output folder
 * and the ONNX and TFLite files (NAME`onnxSuffix`.onnx, NAME`tfliteSuffix`.tflite) are checked first, but the folder is created only once
 * the model is built, so a bad checkpoint leaves no folder.
 */
function prepareExport(req: ExportRequest, onnxSuffix?: string, tfliteSuffix?: string) {
  const outDir = req.outDir ?? '.';
  // A bad name or size fails before the folder is touched.
  const entry = resolveEntry(req);
  entry.family.checkResolution(entry.config, resolutionOf(req, entry), entry.name);
  const inputs = ([[req.ckpt, '--ckpt'], [req.config, '--config'], [req.hfConfig, '--hf-config']] as const).filter(([path]) => path).map(([path, flag]) => ({ path: path!, flag }));
  const onnxFile = onnxSuffix === undefined ? undefined : { path: join(outDir, `${entry.name}${onnxSuffix}.onnx`), flag: '--out-dir' };
  const tfliteFile = tfliteSuffix === undefined ? undefined : { path: join(outDir, `${entry.name}${tfliteSuffix}.tflite`), flag: '--out-dir' };
  checkOutputs([{ path: outDir, flag: '--out-dir', kind: 'folder' }, onnxFile, tfliteFile], inputs);
  return { outDir, built: buildWithWeights(req) };
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

const onnxPath = (outDir: string, built: BuiltModel, suffix = '') => join(outDir, `${built.entry.name}${suffix}.onnx`);

/** `eformer export --onnx`: write DIR/NAME.onnx atomically and return the counts. */
export function exportOnnx(req: ExportRequest): ExportResult {
  const { outDir, built } = prepareExport(req, '');
  const { bytes } = onnxBytes(built, req);
  const counts = countBuilt(built);
  const created = ensureWritableDir(outDir);
  try {
    writeFileAtomic(onnxPath(outDir, built), bytes);
  } catch (err) {
    removeEmptyDirs(created);
    throw err;
  }
  return { path: onnxPath(outDir, built), bytes: bytes.length, counts };
}

/** `eformer export`: ONNX and/or Core ML, float or int8. The ONNX file is written in chunks, so Ctrl-C stops it cleanly. */
export async function exportModel(req: ModelExportRequest): Promise<ModelExportResult> {
  if (req.int8 && req.coreml?.format === 'neuralnetwork') throw new UsageError('--int8 for Core ML quantises activations, which needs an ML Program: drop --coreml-format neuralnetwork');
  if (req.int8 && req.coreml?.quantize) throw new UsageError('give --int8 (weights and activations) or --quantize (weights only), not both');
  if (req.int8 && req.coreml?.precision === 'fp32') throw new UsageError("--int8 for Core ML quantises an fp16 program (coremltools' activation quantisation makes fp16 scales): drop --precision fp32");
  req.progress?.(`building ${req.model ?? 'the model'}`);
  const { outDir, built } = prepareExport(req, req.onnx ? (req.int8 ? '.int8' : '') : undefined, req.tflite ? (req.int8 ? '.int8' : '') : undefined);
  // Building efficientformer_l7 and writing its graph are a second each: a signal is handled between them.
  await giveWay();
  const { bytes, deployed } = onnxBytes(built, req);
  const counts = countBuilt(built);
  await giveWay();
  // Calibration reads the user's images and runs the model: it fails, if it does, before any folder is made.
  const int8 = req.int8 ? await quantizeInt8(deployed, built.entry.family.preprocessing, { ...req.int8, trainedWeights: Boolean(req.ckpt), progress: req.progress, tflite: Boolean(req.tflite) }) : undefined;
  return intoFolder(outDir, async () => {
    const result: ModelExportResult = { counts, ...(int8 ? { int8: int8.report } : {}) };
    // The int8 graph's file, also what --verify judges a W8A8 package beside.
    const int8Bytes = int8 && (req.onnx || req.coreml?.verify) ? graphBytes(built, int8.graph, req.opset ?? INT8_OPSET, int8Metadata(int8.report)).bytes : undefined;
    if (req.onnx) {
      const written = int8Bytes ?? bytes;
      const path = onnxPath(outDir, built, int8 ? '.int8' : '');
      req.progress?.(`writing ${basename(path)} (${(written.length / 1e6).toFixed(0)} MB)`);
      await writeFileAtomicAsync(path, written);
      result.onnx = { path, bytes: written.length, counts };
    }
    if (req.tflite) Object.assign(result, await exportTflite(built, deployed, bytes, counts, outDir, req.tflite, int8, req.progress));
    if (req.coreml) {
      const extension = req.coreml.format === 'neuralnetwork' ? 'mlmodel' : 'mlpackage';
      req.progress?.(int8 ? 'converting to Core ML and quantising it W8A8 (coremltools)' : 'converting to Core ML (coremltools)');
      const reference = req.coreml.verify ? await referencePrediction(built, bytes) : undefined;
      result.coreml = await convertToCoreml(bytes, join(outDir, `${built.entry.name}${int8 ? '.int8' : ''}.${extension}`), {
        ...req.coreml,
        classes: classCount(built),
        verify: reference,
        w8a8: int8 ? w8a8Calibration(int8) : undefined,
        metadata: {
          model: built.entry.name,
          resolution: String(built.resolution),
          params_toolbox: String(counts.params.toolbox),
          macs_toolbox: String(counts.macs.toolbox),
          eformer: VERSION,
          weights: built.weights,
          ...(int8 ? { precision: 'int8 (W8A8)' } : {}),
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
          // W8A8 is judged beside eformer's own int8 graph on the same picture (see W8A8_SQNR_MARGIN_DB).
          w8a8: int8Bytes ? { onnxInt8SqnrDb: await int8Sqnr(built, int8Bytes, reference) } : undefined,
        });
      }
    }
    return result;
  });
}

/** SQNR of eformer's int8 graph's logits against the float graph's, on the reference picture. */
async function int8Sqnr(built: BuiltModel, int8Bytes: Uint8Array, reference: Awaited<ReturnType<typeof referencePrediction>>): Promise<number> {
  const input = built.graph.inputs[0];
  const outputs = await runOnnx(int8Bytes, { [input.name]: { data: reference.tensor, shape: reference.shape } });
  return sqnrDb([reference.logits], [outputs[built.graph.outputNames[0]]]);
}

/**
 * DIR/NAME.tflite from the deployed graph (NAME.int8.tflite with int8), and with `verify` its run in
 * LiteRT: a float model against onnxruntime's logits for the same picture, an int8 one against the
 * float graph's logits on the calibration inputs (SQNR, beside the ONNX int8 graph's).
 */
async function exportTflite(
  built: BuiltModel,
  deployed: Graph,
  onnx: Uint8Array,
  counts: CountRecord,
  outDir: string,
  options: NonNullable<ModelExportRequest['tflite']>,
  int8: Int8Result | undefined,
  progress?: (step: string) => void,
): Promise<Pick<ModelExportResult, 'tflite' | 'tfliteCheck'>> {
  const precision = int8 ? 'int8' : (options.precision ?? 'fp32');
  const metadata: [string, string][] = int8 ? [['int8_calibration', int8Metadata(int8.report).int8_calibration]] : [];
  const { bytes, model } = tfliteBytes(built, { precision: options.precision, counts, deployed, int8: int8?.tflite, metadata });
  const path = join(outDir, `${built.entry.name}${int8 ? '.int8' : ''}.tflite`);
  progress?.(`writing ${basename(path)} (${(bytes.length / 1e6).toFixed(0)} MB)`);
  await writeFileAtomicAsync(path, bytes);
  const tflite: TfliteExportResult = { path, bytes: bytes.length, counts, precision, ops: model.operators.length, transposes: model.operators.filter((o) => o.op === BuiltinOperator.TRANSPOSE).length };
  if (!options.verify) return { tflite };
  progress?.('checking the TFLite numbers (LiteRT, XNNPACK)');
  const python = await findPython();
  if (int8) {
    const inputs = int8.calibration.tensors.map((t) => channelsLast(t, int8.calibration.shape));
    const data = new Float32Array(inputs.reduce((n, i) => n + i.data.length, 0));
    inputs.forEach((input, k) => data.set(input.data, k * input.data.length));
    const run = await runLitert(path, { data, shape: inputs[0].shape }, python, { model: built.entry.name, timeoutSeconds: options.timeout, count: inputs.length });
    return { tflite, tfliteCheck: judgeTfliteInt8(run, int8.floatLogits, int8.report.sqnr_db) };
  }
  const reference = await referencePrediction(built, onnx);
  const run = await runLitert(path, channelsLast(reference.tensor, reference.shape), python, { model: built.entry.name, timeoutSeconds: options.timeout });
  return { tflite, tfliteCheck: judgeTflite(run, reference.logits, precision as TflitePrecision) };
}

/** An NCHW tensor as NHWC: the input a channels-last .tflite takes. */
export function channelsLast(tensor: Float32Array, shape: number[]): { data: Float32Array; shape: number[] } {
  const [n, c, h, w] = shape;
  const out = new Float32Array(tensor.length);
  for (let b = 0; b < n; b++) for (let ch = 0; ch < c; ch++) for (let p = 0; p < h * w; p++) out[(b * h * w + p) * c + ch] = tensor[(b * c + ch) * h * w + p];
  return { data: out, shape: [n, h, w, c] };
}

/** What the Core ML bridge calibrates with (the same inputs) and the ONNX ranges it is checked against. */
function w8a8Calibration(int8: Int8Result): CoremlOptions['w8a8'] {
  return { rgb: int8.calibration.rgb, tensors: int8.calibration.tensors, ranges: Object.fromEntries([...int8.minmax].map(([name, r]) => [name, [r.min, r.max]])) };
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
