/**
 * Running a .tflite file in LiteRT's own interpreter (the ai-edge-litert package, python/
 * litert_run.py), with XNNPACK applied as LiteRT applies it on an Android CPU, and judging its
 * logits against onnxruntime's for the same input. The Python is found by the caller (the same
 * lookup as the Core ML bridge's); `eformer setup litert` installs the pinned package there.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InternalError, MissingToolError } from '../core/errors.js';
import { makeWorkDir, removeWorkDir } from '../core/fs.js';
import type { Probe } from '../core/probe.js';
import { lastLine } from '../core/text.js';

export const LITERT_RUNNER = new URL('../../python/litert_run.py', import.meta.url).pathname;
export const LITERT_REQUIREMENTS = new URL('../../python/requirements-litert.txt', import.meta.url).pathname;
export const LITERT_SETUP = 'eformer setup litert';

/**
 * How far LiteRT's logits may be from onnxruntime's, as max |diff| over max |logit|. fp32: float
 * reordering gave 4.9e-7 to 3.4e-6 over the zoo on seeded weights (README, LiteRT); the mistakes the
 * tests make (OIHW weights, an NCHW flatten, resizing without half-pixel centres) give 0.1 and more.
 * fp16 weights: rounding weights to float16 costs up to about 1e-3.
 */
export const TFLITE_TOLERANCE = { fp32: 1e-5, fp16: 1e-2 } as const;

/** What python/litert_run.py says about a run. */
export interface LitertReport {
  litert: string | null;
  input: { name: string; shape: number[] };
  output: { name: string; shape: number[] };
  /** Operators XNNPACK took (reconstructed from the delegated graph) and those left to LiteRT's own kernels. */
  delegation: { ops: number; delegated: number; partitions: number; outside: { index: number; op: string }[] };
  load_seconds: number;
  seconds: number;
}

export interface LitertRun {
  output: Float32Array;
  report: LitertReport;
}

/**
 * Run `file` on `input` (the model's own input tensor, NHWC) with the Python at `python`; with
 * `count`, `input.data` holds that many inputs of `input.shape` one after the other, and `output`
 * their outputs in the same order.
 */
export async function runLitert(
  file: string,
  input: { data: Float32Array; shape: number[] },
  python: { path: string; source: string },
  options: { model: string; threads?: number; timeoutSeconds?: number; count?: number },
): Promise<LitertRun> {
  const work = makeWorkDir('eformer-litert-');
  try {
    const x = join(work, 'input.f32');
    const y = join(work, 'output.f32');
    writeFileSync(x, new Uint8Array(input.data.buffer, input.data.byteOffset, input.data.byteLength));
    const args = [LITERT_RUNNER, file, '--input', x, '--shape', input.shape.join(','), '--out', y, '--count', String(options.count ?? 1), '--threads', String(options.threads ?? 1)];
    const { execa } = await import('execa');
    const r = await execa(python.path, args, { reject: false, timeout: (options.timeoutSeconds ?? 600) * 1000, env: { PYTHONWARNINGS: 'ignore', TF_CPP_MIN_LOG_LEVEL: '2' } });
    const message = lastLine(r.stderr.split('\n').filter((l) => !/^INFO: /.test(l)).join('\n'));
    if (r.exitCode === 11) throw new MissingToolError(`${message} (Python from ${python.source}); run '${LITERT_SETUP}'`);
    if (r.exitCode === 12) throw loadError(options.model, message);
    if (r.exitCode === 13) throw new InternalError(`LiteRT failed running ${options.model}: op ${message}`);
    if (r.timedOut) throw new MissingToolError(`LiteRT did not finish running ${options.model} within ${options.timeoutSeconds ?? 600} s`);
    if (r.exitCode !== 0) throw new InternalError(`the LiteRT runner failed on ${options.model} (exit ${r.exitCode ?? r.signal}): ${message || 'no message'}`);
    const report = JSON.parse(lastLine(r.stdout)) as LitertReport;
    const bytes = readFileSync(y);
    const output = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    return { output, report };
  } finally {
    removeWorkDir(work);
  }
}

/**
 * LiteRT refusing a file eformer wrote, in one line naming the model and the op. An op version the
 * installed runtime does not register means that runtime is older than the one eformer writes for
 * (the user's set-up: exit 3); anything else is eformer's bug (exit 70).
 */
function loadError(model: string, message: string): Error {
  const [op, ...rest] = message.split(': ');
  const detail = rest.join(': ');
  if (/Didn't find op for builtin opcode|version/.test(detail)) {
    return new MissingToolError(`LiteRT cannot load ${model}: op ${op}: ${detail}; install the pinned runtime with '${LITERT_SETUP}'`);
  }
  return new InternalError(`LiteRT cannot load ${model}: op ${op}: ${detail}`);
}

export interface TfliteCheck {
  precision: 'fp32' | 'fp16' | 'int8';
  /** int8: SQNR (dB) of LiteRT's logits against the float graph's on the calibration inputs, and the ONNX int8 graph's. */
  sqnrDb?: number;
  onnxSqnrDb?: number;
  /** max |LiteRT - onnxruntime| over max |onnxruntime| of the logits (null: non-finite values). */
  relativeError: number | null;
  absoluteError: number | null;
  top5Agree: boolean;
  /** fp32 and fp16: the bound relativeError is held to. */
  tolerance?: number;
  delegation: LitertReport['delegation'];
  pass: boolean;
  problem?: string;
  seconds: number;
}

/** An int8 model may lose at most this much SQNR against the ONNX int8 export of the same calibration. */
export const INT8_SQNR_MARGIN_DB = 1;

/**
 * An int8 model's logits on the calibration inputs (`run`, all of them one after the other) against
 * the float graph's: SQNR no worse than the ONNX int8 graph's minus INT8_SQNR_MARGIN_DB, and every
 * operator delegated to XNNPACK.
 */
export function judgeTfliteInt8(run: LitertRun, floatLogits: Float32Array[], onnxSqnrDb: number): TfliteCheck {
  const n = floatLogits[0].length;
  let signal = 0;
  let noise = 0;
  let finite = run.output.length === n * floatLogits.length;
  floatLogits.forEach((ref, k) => {
    for (let i = 0; i < n && finite; i++) {
      const y = run.output[k * n + i];
      if (!Number.isFinite(y)) finite = false;
      signal += ref[i] * ref[i];
      noise += (ref[i] - y) ** 2;
    }
  });
  const sqnrDb = finite ? 10 * Math.log10(signal / noise) : undefined;
  const outside = run.report.delegation.outside;
  let problem: string | undefined;
  if (sqnrDb === undefined) problem = 'LiteRT gives non-finite logits';
  else if (sqnrDb < onnxSqnrDb - INT8_SQNR_MARGIN_DB) problem = `its SQNR against the float model, ${sqnrDb.toFixed(1)} dB, is more than ${INT8_SQNR_MARGIN_DB} dB below the ONNX int8 graph's ${onnxSqnrDb.toFixed(1)} dB`;
  else if (outside.length) problem = `${outside.length} of ${run.report.delegation.ops} ops run outside XNNPACK (${[...new Set(outside.map((o) => o.op))].join(', ')})`;
  const first = run.output.subarray(0, n);
  return {
    precision: 'int8',
    sqnrDb,
    onnxSqnrDb,
    relativeError: null,
    absoluteError: null,
    top5Agree: finite && top5(first) === top5(floatLogits[0]),
    delegation: run.report.delegation,
    pass: !problem,
    problem,
    seconds: run.report.seconds + run.report.load_seconds,
  };
}

const top5 = (v: Float32Array) => [...v.keys()].sort((a, b) => v[b] - v[a] || a - b).slice(0, 5).join();

/**
 * LiteRT's logits against onnxruntime's: fp32 within TFLITE_TOLERANCE.fp32 with the same top-5 classes,
 * fp16 within TFLITE_TOLERANCE.fp16; and every operator delegated to XNNPACK.
 */
export function judgeTflite(run: LitertRun, reference: Float32Array, precision: 'fp32' | 'fp16'): TfliteCheck {
  const { output, report } = run;
  let diff = 0;
  let largest = 0;
  let finite = output.length === reference.length;
  for (let i = 0; i < reference.length && finite; i++) {
    if (!Number.isFinite(output[i])) finite = false;
    diff = Math.max(diff, Math.abs(output[i] - reference[i]));
    largest = Math.max(largest, Math.abs(reference[i]));
  }
  const relativeError = finite ? diff / largest : null;
  const tolerance = TFLITE_TOLERANCE[precision];
  const top5Agree = finite && top5(output) === top5(reference);
  const outside = report.delegation.outside;
  let problem: string | undefined;
  if (relativeError === null) problem = 'LiteRT gives non-finite logits';
  else if (relativeError > tolerance) problem = `its logits differ from onnxruntime's by ${relativeError.toExponential(2)} of the largest logit (${precision} tolerance ${tolerance})`;
  else if (precision === 'fp32' && !top5Agree) problem = "its top-5 classes differ from onnxruntime's";
  else if (outside.length) problem = `${outside.length} of ${report.delegation.ops} ops run outside XNNPACK (${[...new Set(outside.map((o) => o.op))].join(', ')})`;
  return { precision, relativeError, absoluteError: finite ? diff : null, top5Agree, tolerance, delegation: report.delegation, pass: !problem, problem, seconds: report.seconds + report.load_seconds };
}

/** What `eformer doctor` lists for LiteRT: ai-edge-litert in the first of `pythons` that runs. */
export async function probeLitert(pythons: { path: string; source: string }[]): Promise<Probe> {
  const { execa } = await import('execa');
  for (const p of pythons) {
    const r = await execa(p.path, ['-c', "from importlib.metadata import version; import ai_edge_litert; print(version('ai-edge-litert'))"], { reject: false, timeout: 20_000 });
    if (r.exitCode === 0) return { name: "ai-edge-litert (LiteRT's interpreter)", found: `${lastLine(r.stdout)} via ${p.path}`, install: LITERT_SETUP };
    // The first Python that runs is the one eformer uses: a missing package there is what to report.
    if ((r as { code?: string }).code !== 'ENOENT') break;
  }
  return { name: "ai-edge-litert (LiteRT's interpreter)", found: undefined, install: LITERT_SETUP };
}
