/**
 * Core ML numerics without a Mac: python/mil_interpreter.py reads the saved package back from
 * disk (the spec and the weight blobs as written) and evaluates it op by op in numpy, fp16 where
 * the program computes in fp16. eformer compares its output with onnxruntime's on the same input
 * and holds the difference to NUMERIC_TOLERANCE; a W8A8 package, whose int8 rounding is far larger
 * than any such tolerance, is held to an SQNR floor set by eformer's own int8 ONNX graph instead.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InternalError, MissingToolError } from '../core/errors.js';
import { makeWorkDir, removeWorkDir } from '../core/fs.js';
import { lastLine } from '../core/text.js';
import type { ReferencePrediction } from './bridge.js';
import { findPython, INTERPRETER, type Python, pythonName, runPython } from './python.js';

/**
 * How far the interpreted package may be from onnxruntime, as max |diff| over max |logit|.
 * fp32: float reordering gave 4e-7 to 1e-6 for eight of the nine zoo models and 2.3e-5 for
 * efficientformerv2_l (whose random weights drive its logits to 2000); the subtlest converter
 * mistake tried, GELU's tanh form for the exact one, gives 1.5e-4 on efficientformer_l1, the others
 * 0.1 and more. fp16: rounding gave up to 1.8e-3, mistakes 0.12 and more (the GELU forms differ by
 * less than fp16 resolves, so that one mistake only an fp32 package shows). Top-5 classes must
 * agree too. README: "Core ML".
 */
export const NUMERIC_TOLERANCE = { fp32: 5e-5, fp16: 1e-2 } as const;

/**
 * W8A8: the interpreted package's logits against onnxruntime's float ones must have an SQNR no more
 * than this many dB below what eformer's own int8 ONNX graph gets on the same picture. coremltools
 * quantises activations to symmetric int8 (no zero point), eformer to asymmetric uint8, so Core ML's
 * grid is coarser for the non-negative tensors after ReLU: on eight zoo models (seeded weights, 64
 * random calibration inputs; efficientformerv2_l's W8A8 conversion itself fails, its random-weight
 * activations overflowing fp16) the package was 0.9 to 8.4 dB below the ONNX graph (mobilenetv2_140
 * the most). Mistakes measured on efficientformer_l1: a dequantize given a zero point its quantize did
 * not use, 30 dB below; one weight's per-channel scales in the wrong channel order, 20 dB below.
 * Smaller mistakes in a single tensor hide in int8 noise: no comparison with a float model can see them.
 * README: "Core ML".
 */
export const W8A8_SQNR_MARGIN_DB = 12;

export interface InterpreterReport {
  /** What was compared: the classifier's probabilities or the output tensor; `logits` when a classifier exposes them. */
  compared: string;
  max_abs_error: number | null;
  max_rel_error: number | null;
  nonfinite_values?: number;
  /** SQNR of the compared values against the reference, in dB (null when identical or non-finite). */
  sqnr_db?: number | null;
  logits?: { name: string; max_abs_error: number | null; max_rel_error: number | null; sqnr_db?: number | null };
  top1_agree: boolean;
  top5_agree: boolean;
  seconds: number;
  load_seconds: number;
  /** The first op whose output held inf or NaN (fp16 overflow, typically). */
  first_nonfinite?: { op: string; output: string };
}

export interface NumericCheck {
  precision: 'fp16' | 'fp32';
  /** max |interpreted - onnxruntime| over max |onnxruntime| of the logits (null: non-finite values). */
  relativeError: number | null;
  absoluteError: number | null;
  tolerance: number;
  top5Agree: boolean;
  pass: boolean;
  seconds: number;
  /** What went wrong, in one line, when it did not pass. */
  problem?: string;
  /** A W8A8 package: judged by SQNR against the float logits, beside eformer's int8 ONNX graph's. */
  w8a8?: { sqnrDb: number | null; onnxInt8SqnrDb: number; floorDb: number; top1Agree: boolean };
}

/** numpy's .npy v1 format for a float32 array of `shape` (C order). */
function npy(data: Float32Array, shape: number[]): Uint8Array {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  // Magic (6) + version (2) + length (2) + header + '\n', padded to a multiple of 64.
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, ...Buffer.from('NUMPY'), 1, 0, header.length & 0xff, header.length >> 8]);
  out.set(Buffer.from(header, 'latin1'), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

/**
 * Run the interpreter on `pkg` with the reference input (the picture for an ImageType input, the
 * normalised tensor otherwise) and judge it against onnxruntime's logits.
 */
export async function checkNumerics(
  pkg: string,
  reference: ReferencePrediction & { tensor: Float32Array; shape: number[] },
  options: {
    inputName: string;
    inputType: 'image' | 'tensor';
    precision: 'fp16' | 'fp32';
    classifier: boolean;
    timeoutSeconds?: number;
    /** A W8A8 package, and the SQNR eformer's int8 ONNX graph gets against the float one on the same picture. */
    w8a8?: { onnxInt8SqnrDb: number };
  },
): Promise<NumericCheck> {
  const python = await findPython();
  const work = makeWorkDir('eformer-interpret-');
  try {
    const input = join(work, options.inputType === 'image' ? 'input.rgb' : 'input.npy');
    writeFileSync(input, options.inputType === 'image' ? reference.rgb : npy(reference.tensor, reference.shape));
    const logits = join(work, 'logits.f32');
    writeFileSync(logits, new Uint8Array(reference.logits.buffer, reference.logits.byteOffset, reference.logits.byteLength));
    const args = [INTERPRETER, pkg, '--verify', '--input', `${options.inputName}=${input}`, '--expected-logits', logits, ...(options.classifier ? ['--classifier'] : [])];
    const r = await runPython(python, args, { timeoutSeconds: options.timeoutSeconds ?? 600, what: 'the Core ML check (MIL interpreter)' });
    if (r.exitCode === 10) throw new InternalError(`the Core ML check cannot evaluate the package: ${lastLine(r.stderr)}`);
    if (r.exitCode === 11 || /No module named/.test(r.stderr)) throw new MissingToolError(`${lastLine(r.stderr)} (Python from ${python.source}); run 'eformer setup coreml'`);
    if (r.exitCode !== 0) throw new InternalError(`the Core ML check failed (exit ${r.exitCode}): ${lastLine(r.stderr) || 'no message'}`);
    const report = readReport(r.stdout, python);
    return options.w8a8 ? judgeW8a8(report, options.precision, options.w8a8.onnxInt8SqnrDb) : judge(report, options.precision);
  } finally {
    removeWorkDir(work);
  }
}

/** The interpreter's report, its last line of output; anything else is a Python that did not run it (exit 3). */
function readReport(stdout: string, python: Python): InterpreterReport {
  const line = lastLine(stdout);
  try {
    const report = JSON.parse(line) as InterpreterReport;
    if (typeof report === 'object' && report !== null && 'top5_agree' in report) return report;
  } catch {
    // Not JSON: said below.
  }
  throw new MissingToolError(`the Core ML check (MIL interpreter) exited 0 without its report (${line ? `it printed '${line.slice(0, 80)}'` : 'it printed nothing'}): is Python ${pythonName(python)} a working Python?`);
}

/** Pass or fail against NUMERIC_TOLERANCE, with the reason in one line. */
export function judge(report: InterpreterReport, precision: 'fp16' | 'fp32'): NumericCheck {
  const figures = report.logits ?? report;
  const tolerance = NUMERIC_TOLERANCE[precision];
  const rel = figures.max_rel_error;
  let problem: string | undefined;
  const where = report.first_nonfinite;
  if (rel === null) problem = `the interpreted package gives non-finite values${where ? `, first from ${where.op} ${where.output} (${precision} overflow?)` : ''}`;
  else if (rel > tolerance) problem = `its logits differ from onnxruntime's by ${rel.toExponential(2)} of the largest logit (${precision} tolerance ${tolerance})`;
  else if (!report.top5_agree) problem = `its top-5 classes differ from onnxruntime's`;
  return { precision, relativeError: rel, absoluteError: figures.max_abs_error, tolerance, top5Agree: report.top5_agree, pass: !problem, seconds: report.seconds, problem };
}

/** A W8A8 package: pass when its SQNR against the float logits is within W8A8_SQNR_MARGIN_DB of eformer's int8 graph's. */
export function judgeW8a8(report: InterpreterReport, precision: 'fp16' | 'fp32', onnxInt8SqnrDb: number): NumericCheck {
  const figures = report.logits ?? report;
  const sqnr = figures.sqnr_db ?? null;
  const floor = onnxInt8SqnrDb - W8A8_SQNR_MARGIN_DB;
  let problem: string | undefined;
  if (figures.max_rel_error === null) problem = `the interpreted W8A8 package gives non-finite values${report.first_nonfinite ? `, first from ${report.first_nonfinite.op} ${report.first_nonfinite.output}` : ''}`;
  else if (sqnr !== null && sqnr < floor) {
    problem = `its logits are ${sqnr.toFixed(1)} dB SQNR from onnxruntime's float ones, below the floor of ${floor.toFixed(1)} dB (eformer's int8 ONNX gets ${onnxInt8SqnrDb.toFixed(1)} dB; margin ${W8A8_SQNR_MARGIN_DB} dB)`;
  }
  return {
    precision,
    relativeError: figures.max_rel_error,
    absoluteError: figures.max_abs_error,
    tolerance: floor,
    top5Agree: report.top5_agree,
    pass: !problem,
    seconds: report.seconds,
    problem,
    w8a8: { sqnrDb: sqnr, onnxInt8SqnrDb, floorDb: floor, top1Agree: report.top1_agree },
  };
}
