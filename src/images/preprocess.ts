/**
 * Classification preprocessing as Hugging Face's image processors do it: short side to
 * `resizeShortest` (the long side truncated), Pillow bicubic, center crop, rescale by 1/255 and
 * per-channel normalisation, in float32 as numpy computes it. Each model family says which
 * numbers it was trained with (models/<family>/).
 */
import { UsageError } from '../core/errors.js';
import type { RgbImage } from './decode.js';
import { resizeBicubicBox } from './resample.js';

export interface Preprocessing {
  /** The short side is resized to this many pixels. */
  resizeShortest: number;
  /** Then a centred square of this size is cut out: the model's input resolution. */
  crop: number;
  mean: readonly number[];
  std: readonly number[];
}

/** Output size when the short side becomes `short`: `int(short * long / short_in)` for the other. */
export function resizedSize(width: number, height: number, short: number): [number, number] {
  return width <= height ? [short, Math.trunc((short * height) / width)] : [Math.trunc((short * width) / height), short];
}

/**
 * The longest side may be at most this many times the shortest. Beyond it the reference (Hugging
 * Face's processor, through Pillow) resizes the whole picture first: a 1x1,000,000 strip becomes
 * 256x256,000,000 pixels, which it cannot hold; and the centre crop would keep under 1% of it.
 */
export const MAX_ASPECT_RATIO = 100;

/** Whether an image of this size can be preprocessed; else a UsageError naming the image. Cheap: call it before decoding. */
export function checkPreprocessable(width: number, height: number, options: Preprocessing, name = 'image'): void {
  if (Math.max(width, height) > MAX_ASPECT_RATIO * Math.min(width, height)) {
    throw new UsageError(`${name} is ${width}x${height} pixels: eformer takes images whose long side is at most ${MAX_ASPECT_RATIO} times the short one (the ${options.crop}x${options.crop} centre crop would keep under 1% of it)`);
  }
  const [w, h] = resizedSize(width, height, options.resizeShortest);
  if (w < options.crop || h < options.crop) throw new UsageError(`${name} is too small to crop ${options.crop}x${options.crop}`);
}

/** NCHW float32 [1, 3, crop, crop]. Only the crop is resized: the same bytes as resizing the whole image, in the crop's memory. */
export function preprocess(image: RgbImage, options: Preprocessing): Float32Array {
  checkPreprocessable(image.width, image.height, options);
  const [w, h] = resizedSize(image.width, image.height, options.resizeShortest);
  const size = options.crop;
  const crop = resizeBicubicBox(image, w, h, { left: Math.floor((w - size) / 2), top: Math.floor((h - size) / 2), width: size, height: size });
  const out = new Float32Array(3 * size * size);
  const f = Math.fround;
  for (let ch = 0; ch < 3; ch++) {
    const mean = f(options.mean[ch]);
    const std = f(options.std[ch]);
    for (let i = 0; i < size * size; i++) {
      // numpy: float64 rescale cast to float32, then float32 subtract and divide.
      out[ch * size * size + i] = f(f(f(crop.data[i * 3 + ch] * (1 / 255)) - mean) / std);
    }
  }
  return out;
}
