/**
 * Calibration: the inputs (images from a folder through the family's own preprocessing, or seeded
 * random ones) and the activation ranges the float graph produces on them.
 *
 * Ranges come from running the deployed float graph in onnxruntime with every tensor a quantised
 * layer reads or writes added as a graph output. `minmax` takes the extremes; `percentile` and
 * `entropy` make a second pass that histograms each tensor over its min-max range and clip outliers:
 * percentile at the 0.01% and 99.99% points, entropy where the KL divergence between the tensor's
 * distribution and its 8-bit quantised form is smallest (TensorRT's method, over |x|).
 */
import { lstatSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../core/errors.js';
import { giveWay } from '../core/interrupt.js';
import { reason } from '../core/fs.js';
import { mulberry32 } from '../core/random.js';
import type { Graph } from '../graph/ir.js';
import { decodeImage } from '../images/decode.js';
import { checkPreprocessable, type Preprocessing, preprocess } from '../images/preprocess.js';
import { encodeOnnx } from '../onnx/encode.js';
import { DEFAULT_OPSET, lowerToOnnx } from '../onnx/lower.js';
import { outputSession } from '../onnx/session-thread.js';
import type { Range } from './quantize.js';

export type CalibrationMethod = 'minmax' | 'percentile' | 'entropy';
export const CALIBRATION_METHODS: readonly CalibrationMethod[] = ['minmax', 'percentile', 'entropy'];

export interface CalibrationSource {
  /** A folder of JPEG/PNG images. */
  dir?: string;
  /** Or this many seeded random inputs (default 64). */
  random?: number;
  seed?: number;
}

export const DEFAULT_RANDOM_INPUTS = 64;
/** More calibration inputs than this only cost time: ranges settle long before. */
export const MAX_CALIBRATION_INPUTS = 4096;

export interface CalibrationSet {
  kind: 'images' | 'random';
  /** File names (images) or `random #k`. */
  names: string[];
  /** Normalised NCHW tensors, one per input, each of `shape`. */
  tensors: Float32Array[];
  /** The same inputs as 8-bit RGB (HxWx3), before normalisation: what an ImageType input takes. */
  rgb: Uint8Array[];
  shape: number[];
}

/**
 * Every file in `dir` (hidden ones and subfolders aside), each of which must be an image. A
 * symbolic link is followed wherever it points: a calibration folder of links into a dataset is
 * ordinary, and the images are only read. An entry that cannot be read (a dangling link, a link
 * loop, no permission, a FIFO or device) is bad input, exit 2 naming it: skipping it would calibrate
 * on other images than the user gave, without a word.
 */
function listImages(dir: string): string[] {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new UsageError(`--calib '${dir}' is a file; give a folder of JPEG/PNG images`);
    names = readdirSync(dir);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read calibration folder '${dir}': ${reason(err)}`);
  }
  const files: string[] = [];
  for (const name of names.filter((n) => !n.startsWith('.')).sort()) {
    const path = join(dir, name);
    const kind = entryKind(path);
    if (kind === 'folder') continue;
    if (kind !== 'file') throw new UsageError(`calibration folder '${dir}': '${name}' ${kind}; give JPEG or PNG files`);
    files.push(path);
  }
  if (files.length === 0) throw new UsageError(`calibration folder '${dir}' holds no images (give JPEG or PNG files, or use --calib-random N)`);
  if (files.length > MAX_CALIBRATION_INPUTS) throw new UsageError(`calibration folder '${dir}' holds ${files.length} files; eformer calibrates on at most ${MAX_CALIBRATION_INPUTS}`);
  return files;
}

/** 'file', 'folder', or why the entry is neither (in words that follow its name). */
function entryKind(path: string): string {
  try {
    const st = statSync(path);
    if (st.isFile()) return 'file';
    if (st.isDirectory()) return 'folder';
    return st.isFIFO() ? 'is a FIFO, not a file' : st.isSocket() ? 'is a socket, not a file' : 'is a device, not a file';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') return 'is a symbolic link loop';
    if (code === 'ENOENT' && lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink()) return `is a symbolic link to '${readlinkSync(path)}', which does not exist`;
    return `cannot be read: ${reason(err)}`;
  }
}

/** The family's preprocessing, scaled to the model's input resolution when that is not the family's crop. */
function atResolution(p: Preprocessing, resolution: number): Preprocessing {
  return resolution === p.crop ? p : { ...p, crop: resolution, resizeShortest: Math.round((resolution * p.resizeShortest) / p.crop) };
}

/** Normalise 8-bit RGB (HxWx3) to NCHW as the preprocessing does. */
function normalise(rgb: Uint8Array, size: number, p: Preprocessing): Float32Array {
  const f = Math.fround;
  const pixels = size * size;
  const out = new Float32Array(3 * pixels);
  for (let c = 0; c < 3; c++) for (let i = 0; i < pixels; i++) out[c * pixels + i] = f(f(f(rgb[i * 3 + c] * (1 / 255)) - f(p.mean[c])) / f(p.std[c]));
  return out;
}

/**
 * The calibration inputs for a model of input `shape` ([1, 3, R, R]). Images are all decoded
 * first, so a bad file is named before any model work; random inputs are uniform 8-bit pixels,
 * normalised like an image, seeded so the same seed gives the same inputs.
 */
export async function calibrationSet(source: CalibrationSource, preprocessing: Preprocessing, shape: number[]): Promise<CalibrationSet> {
  const [batch, channels, height, width] = shape;
  if (batch !== 1 || channels !== 3 || height !== width) throw new UsageError(`int8 calibration takes models with one [1, 3, R, R] image input, not [${shape}]`);
  const p = atResolution(preprocessing, height);
  if (source.dir !== undefined) {
    const files = listImages(source.dir);
    const rgb: Uint8Array[] = [];
    const tensors: Float32Array[] = [];
    for (const file of files) {
      const image = await decodeImage(file, file, (width, height) => checkPreprocessable(width, height, p, file));
      const tensor = preprocess(image, p);
      tensors.push(tensor);
      // The crop's pixels back as bytes, for Core ML's ImageType (exactly what normalise() inverts).
      rgb.push(toRgb(tensor, height, p));
    }
    return { kind: 'images', names: files, tensors, rgb, shape };
  }
  const n = source.random ?? DEFAULT_RANDOM_INPUTS;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_CALIBRATION_INPUTS) throw new UsageError(`--calib-random must be 1 to ${MAX_CALIBRATION_INPUTS}, got ${n}`);
  const random = mulberry32(source.seed ?? 0);
  const rgb: Uint8Array[] = [];
  const tensors: Float32Array[] = [];
  for (let k = 0; k < n; k++) {
    // A plain loop: Uint8Array.from over a generator function took half a second for efficientformer_l7's 32 inputs.
    const pixels = new Uint8Array(height * width * 3);
    for (let i = 0; i < pixels.length; i++) pixels[i] = Math.floor(random() * 256);
    rgb.push(pixels);
    tensors.push(normalise(pixels, height, p));
    // Signals are handled between inputs (a set of 1,000 at 512 pixels is seconds of work).
    await giveWay();
  }
  return { kind: 'random', names: rgb.map((_, k) => `random #${k}`), tensors, rgb, shape };
}

function toRgb(tensor: Float32Array, size: number, p: Preprocessing): Uint8Array {
  const pixels = size * size;
  const rgb = new Uint8Array(pixels * 3);
  for (let c = 0; c < 3; c++) for (let i = 0; i < pixels; i++) rgb[i * 3 + c] = Math.max(0, Math.min(255, Math.round((tensor[c * pixels + i] * p.std[c] + p.mean[c]) * 255)));
  return rgb;
}

/** A session over a float graph that also returns the named intermediate tensors. */
export async function tappedSession(graph: Graph, tensors: readonly string[]) {
  const onnx = lowerToOnnx(graph, DEFAULT_OPSET);
  const outputName = (t: string) => {
    const i = graph.outputs.indexOf(t);
    return i >= 0 ? graph.outputNames[i] : t;
  };
  const extra = tensors.filter((t) => !graph.outputs.includes(t));
  onnx.outputs.push(...extra.map((t) => ({ name: t, shape: graph.values.get(t)!.shape })));
  // Fixed threads: the same inputs must give the same ranges, and so the same bytes, on every run.
  const session = await outputSession(encodeOnnx(onnx, { producerVersion: 'eformer calibration' }), { threads: 2 });
  const input = graph.inputs[0];
  return {
    async run(tensor: Float32Array): Promise<{ outputs: Map<string, Float32Array>; logits: Float32Array }> {
      const out = await session.run({ [input.name]: { data: tensor, shape: input.shape } });
      return { outputs: new Map(tensors.map((t) => [t, out[outputName(t)]])), logits: out[graph.outputNames[0]] };
    },
    release: () => session.release(),
  };
}

export interface Calibration {
  method: CalibrationMethod;
  /** The ranges quantisation uses (clipped by the method). */
  ranges: Map<string, Range>;
  /** Plain min and max over all inputs, whatever the method (what Core ML's calibration computes). */
  minmax: Map<string, Range>;
  /** The float graph's logits for each input: the reference the fidelity report compares with. */
  logits: Float32Array[];
}

const BINS = 2048;

/** Calibrate `tensors` of the float `graph` on `set`. */
export async function calibrate(graph: Graph, tensors: readonly string[], set: CalibrationSet, method: CalibrationMethod, progress?: (done: number, total: number) => void): Promise<Calibration> {
  const session = await tappedSession(graph, tensors);
  try {
    const minmax = new Map<string, Range>(tensors.map((t) => [t, { min: Infinity, max: -Infinity }]));
    const logits: Float32Array[] = [];
    const passes = method === 'minmax' ? 1 : 2;
    for (const [k, tensor] of set.tensors.entries()) {
      const { outputs, logits: l } = await session.run(tensor);
      logits.push(l);
      for (const [t, v] of outputs) {
        const r = minmax.get(t)!;
        for (let i = 0; i < v.length; i++) {
          const x = v[i];
          if (x < r.min) r.min = x;
          if (x > r.max) r.max = x;
        }
      }
      progress?.(k + 1, passes * set.tensors.length);
    }
    for (const [t, r] of minmax) if (!Number.isFinite(r.min) || !Number.isFinite(r.max)) throw new UsageError(`int8 calibration: tensor ${t} of the float model is not finite on the calibration inputs`);
    if (method === 'minmax') return { method, ranges: minmax, minmax, logits };

    // Second pass: histograms. percentile: of x over [min, max]; entropy: of |x| over [0, max |x|].
    const histograms = new Map(tensors.map((t) => [t, new Float64Array(BINS)]));
    const span = (t: string) => {
      const r = minmax.get(t)!;
      return method === 'percentile' ? { lo: r.min, hi: r.max } : { lo: 0, hi: Math.max(-r.min, r.max) };
    };
    for (const [k, tensor] of set.tensors.entries()) {
      const { outputs } = await session.run(tensor);
      for (const [t, v] of outputs) {
        const h = histograms.get(t)!;
        const { lo, hi } = span(t);
        const scale = hi > lo ? BINS / (hi - lo) : 0;
        for (let i = 0; i < v.length; i++) {
          const x = method === 'percentile' ? v[i] : Math.abs(v[i]);
          h[Math.min(BINS - 1, Math.floor((x - lo) * scale))]++;
        }
      }
      progress?.(set.tensors.length + k + 1, 2 * set.tensors.length);
    }
    const ranges = new Map<string, Range>();
    for (const t of tensors) {
      const r = minmax.get(t)!;
      const { lo, hi } = span(t);
      const h = histograms.get(t)!;
      const at = (bin: number) => lo + ((hi - lo) * bin) / BINS;
      if (method === 'percentile') {
        const [a, b] = percentileBins(h, 1e-4);
        ranges.set(t, { min: at(a), max: at(b + 1) });
      } else {
        // uint8 spends all 256 levels on [0, t] when the tensor never goes negative (after a ReLU), 128 a side otherwise.
        const threshold = at(entropyThreshold(h, r.min >= 0 ? 256 : 128));
        ranges.set(t, { min: Math.max(r.min, -threshold), max: Math.min(r.max, threshold) });
      }
    }
    return { method, ranges, minmax, logits };
  } finally {
    await session.release();
  }
}

/** The first and last bins that keep all but `tail` of the mass on either side. */
function percentileBins(h: Float64Array, tail: number): [number, number] {
  const total = h.reduce((a, b) => a + b, 0);
  let lo = 0;
  for (let acc = 0; lo < h.length - 1 && acc + h[lo] <= tail * total; lo++) acc += h[lo];
  let hi = h.length - 1;
  for (let acc = 0; hi > lo && acc + h[hi] <= tail * total; hi--) acc += h[hi];
  return [lo, hi];
}

/**
 * TensorRT's entropy calibration: for each candidate clip bin i, the reference distribution is
 * the histogram up to i with the clipped mass added to its last bin; the candidate is that
 * histogram merged into 128 levels and spread back; the threshold minimises KL(reference || candidate).
 * Returns the clip bin (an upper edge).
 */
function entropyThreshold(h: Float64Array, levels = 128): number {
  let best = h.length;
  let bestKl = Infinity;
  let lastNonZero = h.length;
  while (lastNonZero > 0 && h[lastNonZero - 1] === 0) lastNonZero--;
  if (lastNonZero <= levels) return h.length;
  for (let i = levels; i <= lastNonZero; i += 8) {
    const p = Array.from(h.subarray(0, i));
    for (let j = i; j < h.length; j++) p[i - 1] += h[j];
    const q = new Float64Array(i);
    const per = i / levels;
    for (let l = 0; l < levels; l++) {
      const start = Math.floor(l * per);
      const end = Math.floor((l + 1) * per);
      let sum = 0;
      let nonzero = 0;
      for (let j = start; j < end; j++) {
        sum += h[j];
        if (h[j] > 0) nonzero++;
      }
      for (let j = start; j < end; j++) if (h[j] > 0) q[j] = sum / nonzero;
    }
    const pSum = p.reduce((a, b) => a + b, 0);
    const qSum = q.reduce((a, b) => a + b, 0);
    let kl = 0;
    for (let j = 0; j < i; j++) {
      if (p[j] === 0) continue;
      const pj = p[j] / pSum;
      const qj = q[j] / qSum;
      kl += qj > 0 ? pj * Math.log(pj / qj) : pj * 20; // mass the candidate cannot represent: heavily penalised
    }
    if (kl < bestKl) {
      bestKl = kl;
      best = i;
    }
  }
  return best;
}
