/**
 * Classification preprocessing as Hugging Face's image processors do it: short side to
 * `resizeShortest` (the long side truncated), Pillow bicubic, center crop, rescale by 1/255 and
 * per-channel normalisation, in float32 as numpy computes it. Each model family says which
 * numbers it was trained with (models/<family>/).
 */
import { UsageError } from '../core/errors.js';
import type { RgbImage } from './decode.js';
import { resizeBicubic } from './resample.js';

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

/** NCHW float32 [1, 3, crop, crop]. */
export function preprocess(image: RgbImage, options: Preprocessing): Float32Array {
  const [w, h] = resizedSize(image.width, image.height, options.resizeShortest);
  if (w < options.crop || h < options.crop) throw new UsageError(`image is too small to crop ${options.crop}x${options.crop}`);
  const resized = resizeBicubic(image, w, h);
  const size = options.crop;
  const left = Math.floor((w - size) / 2);
  const top = Math.floor((h - size) / 2);
  const out = new Float32Array(3 * size * size);
  const f = Math.fround;
  for (let ch = 0; ch < 3; ch++) {
    const mean = f(options.mean[ch]);
    const std = f(options.std[ch]);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const v = resized.data[((top + y) * w + left + x) * 3 + ch];
        // numpy: float64 rescale cast to float32, then float32 subtract and divide.
        out[ch * size * size + y * size + x] = f(f(f(v * (1 / 255)) - mean) / std);
      }
    }
  }
  return out;
}
