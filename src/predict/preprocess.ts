/**
 * The EfficientFormer preprocessing of Hugging Face's EfficientFormerImageProcessor with the
 * checkpoints' settings: short side to 256 (the long side truncated), Pillow bicubic, center
 * crop 224, rescale by 1/255 and ImageNet normalisation, in float32 as numpy computes it.
 */
import { UsageError } from '../errors.js';
import type { RgbImage } from './decode.js';
import { resizeBicubic } from './resample.js';

export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];

export interface PreprocessOptions {
  shortestEdge: number;
  crop: number;
}

export const EFFICIENTFORMER_PREPROCESSING: PreprocessOptions = { shortestEdge: 256, crop: 224 };

/** Output size when the short side becomes `short`: `int(short * long / short_in)` for the other. */
export function resizedSize(width: number, height: number, short: number): [number, number] {
  return width <= height ? [short, Math.trunc((short * height) / width)] : [Math.trunc((short * width) / height), short];
}

/** NCHW float32 [1, 3, crop, crop]. */
export function preprocess(image: RgbImage, options: PreprocessOptions = EFFICIENTFORMER_PREPROCESSING): Float32Array {
  const [w, h] = resizedSize(image.width, image.height, options.shortestEdge);
  if (w < options.crop || h < options.crop) throw new UsageError(`image is too small to crop ${options.crop}x${options.crop}`);
  const resized = resizeBicubic(image, w, h);
  const size = options.crop;
  const left = Math.floor((w - size) / 2);
  const top = Math.floor((h - size) / 2);
  const out = new Float32Array(3 * size * size);
  const f = Math.fround;
  for (let ch = 0; ch < 3; ch++) {
    const mean = f(IMAGENET_MEAN[ch]);
    const std = f(IMAGENET_STD[ch]);
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
