/**
 * Pillow's bicubic resize of 8-bit images, reproduced to the byte: a separable convolution
 * (horizontal pass, then vertical) with the a = -0.5 cubic kernel widened by the scale
 * factor when shrinking, coefficients in 22-bit fixed point, and each pass rounded and
 * clipped back to uint8. Hugging Face's image processors resize through Pillow, so
 * matching it is what makes preprocessing exact.
 */
import type { RgbImage } from './decode.js';

const PRECISION_BITS = 32 - 8 - 2;
const SUPPORT = 2; // bicubic

function bicubic(x: number): number {
  const a = -0.5;
  const t = Math.abs(x);
  if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
  return 0;
}

interface Coefficients {
  ksize: number;
  /** [start, count] of input pixels for each output pixel. */
  bounds: Int32Array;
  /** Fixed-point weights, ksize per output pixel. */
  weights: Int32Array;
}

function coefficients(inSize: number, outSize: number): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = SUPPORT * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  const ss = 1 / filterScale; // Pillow multiplies by the reciprocal; dividing rounds differently
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let sum = 0;
    for (let x = 0; x < xmax; x++) {
      k[x] = bicubic((x + xmin - center + 0.5) * ss);
      sum += k[x];
    }
    for (let x = 0; x < ksize; x++) {
      const w = x < xmax && sum !== 0 ? k[x] / sum : 0;
      // C's (int) truncates toward zero after the +-0.5.
      weights[xx * ksize + x] = Math.trunc(w < 0 ? -0.5 + w * (1 << PRECISION_BITS) : 0.5 + w * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, weights };
}

function clip8(v: number): number {
  if (v >= 1 << (PRECISION_BITS + 8)) return 255;
  if (v <= 0) return 0;
  return v >> PRECISION_BITS;
}

/** One pass along x (`horizontal`) or y, over a 3-channel image. */
function pass(src: RgbImage, outW: number, outH: number, horizontal: boolean): RgbImage {
  const c = coefficients(horizontal ? src.width : src.height, horizontal ? outW : outH);
  const out = new Uint8Array(outW * outH * 3);
  const half = 1 << (PRECISION_BITS - 1);
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const o = horizontal ? x : y;
      const start = c.bounds[o * 2];
      const count = c.bounds[o * 2 + 1];
      const w = o * c.ksize;
      for (let ch = 0; ch < 3; ch++) {
        let acc = half;
        for (let i = 0; i < count; i++) {
          const sx = horizontal ? start + i : x;
          const sy = horizontal ? y : start + i;
          acc += src.data[(sy * src.width + sx) * 3 + ch] * c.weights[w + i];
        }
        out[(y * outW + x) * 3 + ch] = clip8(acc);
      }
    }
  }
  return { width: outW, height: outH, data: out };
}

export function resizeBicubic(image: RgbImage, width: number, height: number): RgbImage {
  let img = image;
  if (width !== img.width) img = pass(img, width, img.height, true);
  if (height !== img.height) img = pass(img, width, height, false);
  return img;
}
