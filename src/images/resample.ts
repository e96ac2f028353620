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

/**
 * Pillow's coefficients for output pixels [from, from + count) of a resize from inSize to outSize:
 * each depends only on its own index, so a window of the output costs only its own pixels.
 */
function coefficients(inSize: number, outSize: number, from: number, count: number): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = SUPPORT * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(count * 2);
  const weights = new Int32Array(count * ksize);
  const k = new Float64Array(ksize);
  const ss = 1 / filterScale; // Pillow multiplies by the reciprocal; dividing rounds differently
  for (let o = 0; o < count; o++) {
    const center = (from + o + 0.5) * scale;
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
      weights[o * ksize + x] = Math.trunc(w < 0 ? -0.5 + w * (1 << PRECISION_BITS) : 0.5 + w * (1 << PRECISION_BITS));
    }
    bounds[o * 2] = xmin;
    bounds[o * 2 + 1] = xmax;
  }
  return { ksize, bounds, weights };
}

function clip8(v: number): number {
  if (v >= 1 << (PRECISION_BITS + 8)) return 255;
  if (v <= 0) return 0;
  return v >> PRECISION_BITS;
}

/**
 * One pass over a 3-channel image, along x (`horizontal`) or y, giving one output pixel per
 * coefficient row: `outW` x `outH` pixels. `rows`: the input row output row 0 reads (horizontal),
 * or the input row `src`'s first row stands for (vertical).
 */
function pass(src: RgbImage, c: Coefficients, outW: number, outH: number, horizontal: boolean, rows = 0): RgbImage {
  const out = new Uint8Array(outW * outH * 3);
  const half = 1 << (PRECISION_BITS - 1);
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const o = horizontal ? x : y;
      const start = c.bounds[o * 2] - (horizontal ? 0 : rows);
      const count = c.bounds[o * 2 + 1];
      const w = o * c.ksize;
      for (let ch = 0; ch < 3; ch++) {
        let acc = half;
        for (let i = 0; i < count; i++) {
          const sx = horizontal ? start + i : x;
          const sy = horizontal ? y + rows : start + i;
          acc += src.data[(sy * src.width + sx) * 3 + ch] * c.weights[w + i];
        }
        out[(y * outW + x) * 3 + ch] = clip8(acc);
      }
    }
  }
  return { width: outW, height: outH, data: out };
}

/** Rows [top, top + height) and columns [left, left + width) of an image, copied. */
function cut(image: RgbImage, left: number, top: number, width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) data.set(image.data.subarray(((top + y) * image.width + left) * 3, ((top + y) * image.width + left + width) * 3), y * width * 3);
  return { width, height, data };
}

export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * The `box` of the image resized to `width` x `height`, computing only that box: the same bytes
 * as resizing the whole image and cutting the box out, as Pillow does (its horizontal pass, too,
 * runs over only the rows the vertical pass reads). A 1x3000 picture resized whole for a 224x224
 * crop took 690 MB; this takes the crop's own size.
 */
export function resizeBicubicBox(image: RgbImage, width: number, height: number, box: Box): RgbImage {
  const vertical = height !== image.height ? coefficients(image.height, height, box.top, box.height) : undefined;
  // The input rows the vertical pass reads (all of the box's rows when there is none).
  const first = vertical ? vertical.bounds[0] : box.top;
  const last = vertical ? Math.max(...Array.from({ length: box.height }, (_, o) => vertical.bounds[o * 2] + vertical.bounds[o * 2 + 1])) : box.top + box.height;
  const across = width !== image.width ? pass(image, coefficients(image.width, width, box.left, box.width), box.width, last - first, true, first) : cut(image, box.left, first, box.width, last - first);
  return vertical ? pass(across, vertical, box.width, box.height, false, first) : across;
}

/** The whole image resized to `width` x `height`. */
export function resizeBicubic(image: RgbImage, width: number, height: number): RgbImage {
  return resizeBicubicBox(image, width, height, { left: 0, top: 0, width, height });
}
