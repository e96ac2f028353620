/** `eformer predict`: ImageNet top-k for images, through the exported ONNX graph. */
import { readFileSync } from 'node:fs';
import ort from 'onnxruntime-node';
import { buildWithWeights, type ModelRequest, onnxBytes } from '../api.js';
import { UsageError } from '../errors.js';
import { decodeImage } from './decode.js';
import { EFFICIENTFORMER_PREPROCESSING, preprocess } from './preprocess.js';

export interface ClassScore {
  index: number;
  label: string;
  probability: number;
}

export interface Prediction {
  image: string;
  top: ClassScore[];
}

let imagenet: string[] | undefined;

/** The 1000 ImageNet-1k class names, in class-index order (torchvision's list). */
export function imagenetClasses(): string[] {
  imagenet ??= JSON.parse(readFileSync(new URL('../../data/imagenet-classes.json', import.meta.url), 'utf8')) as string[];
  return imagenet;
}

export function softmax(logits: Float32Array): Float64Array {
  const max = logits.reduce((m, v) => Math.max(m, v), -Infinity);
  const exp = Float64Array.from(logits, (v) => Math.exp(v - max));
  const sum = exp.reduce((a, b) => a + b, 0);
  return exp.map((v) => v / sum);
}

export function topK(probabilities: Float64Array, k: number, labels?: string[]): ClassScore[] {
  return [...probabilities.keys()]
    .sort((a, b) => probabilities[b] - probabilities[a] || a - b)
    .slice(0, k)
    .map((index) => ({ index, label: labels?.[index] ?? `class ${index}`, probability: probabilities[index] }));
}

export async function predict(req: ModelRequest & { images: string[]; top?: number }): Promise<Prediction[]> {
  if (!req.ckpt) throw new UsageError('predict needs trained weights: add --ckpt FILE');
  if (req.images.length === 0) throw new UsageError('name at least one image');
  const built = buildWithWeights({ ...req, batch: 1 });
  if (built.resolution !== EFFICIENTFORMER_PREPROCESSING.crop) throw new UsageError(`predict preprocesses to 224x224; drop --resolution`);
  // Decode every image first: a bad file fails before any model work.
  const inputs = [];
  for (const image of req.images) inputs.push({ image, pixels: preprocess(await decodeImage(image)) });
  const session = await ort.InferenceSession.create(onnxBytes(built).bytes);
  try {
    const predictions: Prediction[] = [];
    for (const { image, pixels } of inputs) {
      const out = await session.run({ image: new ort.Tensor('float32', pixels, [1, 3, 224, 224]) });
      const logits = out.logits.data as Float32Array;
      const labels = logits.length === 1000 ? imagenetClasses() : undefined;
      predictions.push({ image, top: topK(softmax(logits), req.top ?? 5, labels) });
    }
    return predictions;
  } finally {
    await session.release();
  }
}
