/**
 * Images into 8-bit RGB through sharp (libvips with libjpeg-turbo and libpng), the same
 * decoders Pillow uses: JPEG pixels then equal Pillow's exactly, which a pure-JS decoder
 * did not manage (its chroma upsampling differs, up to 1.05 after normalisation).
 */
import { UsageError } from '../core/errors.js';
import { INPUT_LIMITS, readInputFile } from '../core/fs.js';
import { lazyRequire } from '../core/lazy.js';

const sharpModule = lazyRequire<(typeof import('sharp'))['default']>('sharp');

export interface RgbImage {
  width: number;
  height: number;
  /** Row-major RGB, 3 bytes a pixel. */
  data: Uint8Array;
}

/** Refuse decompression bombs before decoding them: 100 megapixels decode to 300 MB of RGB. */
export const MAX_PIXELS = 100_000_000;

/**
 * Decode a JPEG or PNG: the bytes, or a file (read as a regular file of at most INPUT_LIMITS.image).
 * Its size is read from the header first (sharp reads metadata without decoding): more than
 * MAX_PIXELS, or whatever `check(width, height)` refuses, stops here, before any pixel is decoded.
 */
export async function decodeImage(file: string | Uint8Array, name = typeof file === 'string' ? file : 'image', check?: (width: number, height: number) => void): Promise<RgbImage> {
  const sharp = sharpModule();
  const input = typeof file === 'string' ? readInputFile(file, 'image', INPUT_LIMITS.image) : file;
  let format: string | undefined;
  let width = 0;
  let height = 0;
  try {
    ({ format, width = 0, height = 0 } = await sharp(input).metadata());
  } catch (err) {
    const reason = String((err as Error).message);
    throw new UsageError(`${name} is not an image eformer can read (JPEG or PNG): ${reason.split('\n')[0]}`);
  }
  if (format !== 'jpeg' && format !== 'png') throw new UsageError(`${name} is ${format ?? 'an unknown format'}; eformer reads JPEG and PNG`);
  if (width * height > MAX_PIXELS) throw new UsageError(`${name} is ${width}x${height} pixels; eformer decodes images of at most ${MAX_PIXELS / 1e6} megapixels`);
  check?.(width, height);
  try {
    const { data, info } = await sharp(input, { limitInputPixels: MAX_PIXELS }).removeAlpha().toColorspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (err) {
    throw new UsageError(`cannot decode ${name}: ${String((err as Error).message).split('\n')[0]}`);
  }
}
