/**
 * `eformer export --coreml`: the ONNX graph eformer wrote, rebuilt as a Core ML model by
 * python/onnx_to_coreml.py (coremltools' MIL builder), run through runPython (a Python that
 * crashes, hangs or gives no answer is exit 3). The package is written into a temporary folder beside its target (unguessable, mode 0700) and
 * renamed, so a failed conversion leaves nothing behind.
 */
import { existsSync, lstatSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { InternalError, MissingToolError, UsageError } from '../core/errors.js';
import { firstLine } from '../core/text.js';
import { makeTempDirBeside, makeWorkDir, removeWorkDir } from '../core/fs.js';
import { imagenetClasses } from '../data/imagenet.js';
import { BRIDGE, findPython, type Python, pythonName, runPython } from './python.js';

/** A picture and onnxruntime's logits for it, for the bridge to compare Core ML against. */
export interface ReferencePrediction {
  /** Row-major RGB bytes of the model's input size. */
  rgb: Uint8Array;
  logits: Float32Array;
}

export interface CoremlOptions {
  format?: 'mlprogram' | 'neuralnetwork';
  precision?: 'fp16' | 'fp32';
  minTarget?: string;
  inputType?: 'image' | 'tensor';
  quantize?: 'int8' | 'palettize4' | 'palettize6';
  /** Attached class labels (ImageNet names when the model has 1000 classes). */
  classes?: number;
  metadata?: Record<string, string>;
  /** Seconds before the bridge is stopped. */
  timeout?: number;
  /** On macOS, run the model through Core ML and compare it with this reference. */
  verify?: ReferencePrediction;
  /**
   * W8A8: quantise activations (coremltools' linear_quantize_activations, calibrated on these
   * inputs) and then weights (linear_quantize_weights), for iOS17. `ranges` are the ONNX
   * calibration's min/max by tensor name, which the bridge checks its own calibration against.
   */
  w8a8?: { rgb: Uint8Array[]; tensors: Float32Array[]; ranges: Record<string, [number, number]> };
}

/** What python/onnx_to_coreml.py reports about the package it wrote (its --report JSON). */
export interface BridgeReport {
  format: 'mlprogram' | 'neuralnetwork';
  precision: 'fp16' | 'fp32';
  input_type: 'image' | 'tensor';
  coremltools: string;
  /** Op histogram of the saved model. */
  ops: Record<string, number>;
  inputs: { name: string; type: string }[];
  outputs: { name: string; type: string }[];
  /** fp32 ML Programs: how many weights were compared with their ONNX initializers, and which differed. */
  weights_checked?: number;
  weights_differing?: string[];
  /** The saved model's interface and op histogram matched the ONNX graph. */
  verified: boolean;
  quantize?: string;
  bytes_before_quantization?: number;
  /** W8A8: the quantised ops in the saved model, and Core ML's calibration ranges against eformer's ONNX ones. */
  w8a8?: {
    calibrated_with: string;
    inputs: number;
    quantize_ops: number;
    dequantize_ops: number;
    quantized_weights: number;
    ranges_compared: number;
    /** Largest |Core ML bound - ONNX bound| / (ONNX max - min) over the compared tensors. */
    max_range_difference: number;
    worst_tensor: string | null;
    tolerance: number;
  };
  /** --verify: Core ML's own prediction against onnxruntime (macOS only). */
  prediction?: { ran: boolean; reason?: string; compared?: 'probabilities' | 'logits'; max_abs_error?: number };
}

export interface CoremlResult {
  path: string;
  bytes: number;
  seconds: number;
  report: BridgeReport;
}

const TARGET = /^(iOS|macOS)\d+$/;

/** Bytes under `path`; links are counted as links, never followed (a package holding a link loop must not hang). */
function sizeOf(path: string): number {
  const st = lstatSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((sum, f) => sum + sizeOf(join(path, f)), 0);
}

/** Convert ONNX bytes to `out` (.mlpackage or .mlmodel). */
export async function convertToCoreml(onnx: Uint8Array, out: string, options: CoremlOptions = {}): Promise<CoremlResult> {
  const format = options.format ?? 'mlprogram';
  if (format === 'neuralnetwork' && options.quantize) throw new UsageError('--quantize needs --coreml-format mlprogram');
  // Activation quantisation is an iOS17 feature of Core ML.
  const minTarget = options.minTarget ?? (options.w8a8 ? 'iOS17' : 'iOS16');
  if (options.w8a8 && /^iOS1[56]$/.test(minTarget)) throw new UsageError(`--int8 (W8A8) needs --min-target iOS17 or later, not ${minTarget}`);
  if (!TARGET.test(minTarget) || (minTarget.startsWith('iOS') && Number(minTarget.slice(3)) < 16)) {
    throw new UsageError(`--min-target ${minTarget} is not supported: use iOS16 or later (or macOS13 and later)`);
  }
  const python = await findPython();
  const work = makeWorkDir('eformer-coreml-');
  // The bridge writes into a folder of our own beside `out` (unguessable, mode 0700), never at a name someone could plant a link at.
  const tempDir = makeTempDirBeside(out);
  const temp = join(tempDir, basename(out));
  try {
    writeFileSync(join(work, 'model.onnx'), onnx);
    const args = [BRIDGE, '--onnx', join(work, 'model.onnx'), '--out', temp, '--format', format, '--min-target', minTarget, '--input-type', options.inputType ?? 'image', '--report', join(work, 'report.json')];
    if (options.precision) args.push('--precision', options.precision);
    if (options.quantize) args.push('--quantize', options.quantize);
    if (options.w8a8) {
      const { rgb, tensors, ranges } = options.w8a8;
      writeFileSync(join(work, 'calib.rgb'), Buffer.concat(rgb));
      writeFileSync(join(work, 'calib.f32'), Buffer.concat(tensors.map((t) => new Uint8Array(t.buffer, t.byteOffset, t.byteLength))));
      writeFileSync(join(work, 'ranges.json'), JSON.stringify(ranges));
      args.push('--w8a8', work, '--w8a8-inputs', String(tensors.length));
    }
    if (options.classes === 1000) {
      writeFileSync(join(work, 'labels.txt'), imagenetClasses().join('\n'));
      args.push('--labels', join(work, 'labels.txt'));
    }
    args.push('--metadata', JSON.stringify(options.metadata ?? {}));
    if (options.verify) {
      const { rgb, logits } = options.verify;
      writeFileSync(join(work, 'image.rgb'), rgb);
      writeFileSync(join(work, 'logits.f32'), new Uint8Array(logits.buffer, logits.byteOffset, logits.byteLength));
      args.push('--verify-image', join(work, 'image.rgb'), '--verify-logits', join(work, 'logits.f32'));
    }
    const start = performance.now();
    const timeoutSeconds = options.timeout ?? 600;
    const r = await runPython(python, args, { timeoutSeconds, what: 'the Core ML bridge' });
    const seconds = (performance.now() - start) / 1000;
    if (r.exitCode !== 0) throw bridgeError(r, python.source);
    // Exit 0 is the bridge's word that both were written: a Python that only says so is broken.
    const reportPath = join(work, 'report.json');
    const wrote = { package: existsSync(temp), report: existsSync(reportPath) };
    if (!wrote.package || !wrote.report) {
      const what = !wrote.package && !wrote.report ? 'neither the package nor its report' : !wrote.package ? 'no package' : 'no report';
      throw new MissingToolError(`the Core ML bridge exited 0 but wrote ${what}: is Python ${pythonName(python)} a working Python?`);
    }
    const report = readBridgeReport(reportPath, python);
    rmSync(out, { recursive: true, force: true });
    renameSync(temp, out);
    return { path: out, bytes: sizeOf(out), seconds, report };
  } finally {
    removeWorkDir(tempDir);
    removeWorkDir(work);
  }
}

/** The bridge's --report JSON; unreadable JSON is the tool failing (exit 3), not eformer's bug. */
function readBridgeReport(path: string, python: Python): BridgeReport {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as BridgeReport;
  } catch (err) {
    throw new MissingToolError(`the Core ML bridge wrote a report that is not JSON (${firstLine(err)}): is Python ${pythonName(python)} a working Python?`);
  }
}

/**
 * The bridge's last stderr line is its message; the exit code says whose fault it is: 11 a missing
 * or wrong coremltools (the user's set-up, exit 3); 10 an op eformer's own bridge cannot map and 12
 * a conversion or verification that failed (eformer's bugs, exit 70), as is any other code (a
 * Python exception in eformer's own script). Signals, timeouts and a shell that could not run
 * Python never get here: runPython makes them exit 3.
 */
function bridgeError(r: { exitCode: number; stderr: string }, source: string): Error {
  const last = r.stderr.trim().split('\n').filter((l) => !/libcoremlpython|^\s/.test(l)).at(-1) ?? '';
  if (r.exitCode === 11) return new MissingToolError(`${last} (Python from ${source})`);
  if (r.exitCode === 10) return new InternalError(`cannot convert to Core ML: ${last}`);
  if (r.exitCode === 12) return new InternalError(last);
  // 13: the model's numbers do not fit the package's precision (fp16 overflow): the input, not eformer.
  if (r.exitCode === 13) return new UsageError(last);
  return new InternalError(`the Core ML bridge failed (exit ${r.exitCode}): ${last || 'no message'}`);
}
