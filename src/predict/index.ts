/** `eformer predict`: top-k classes for images, through the exported ONNX graph. */
import { UsageError } from '../core/errors.js';
import { imagenetClasses } from '../data/imagenet.js';
import { decodeImage } from '../images/decode.js';
import { checkPreprocessable, preprocess } from '../images/preprocess.js';
import { outputSession } from '../onnx/session-thread.js';
import { buildWithWeights, type ModelRequest, onnxBytes } from '../pipeline/index.js';

export interface ClassScore {
  index: number;
  label: string;
  probability: number;
}

export interface Prediction {
  image: string;
  top: ClassScore[];
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
  const preprocessing = built.entry.family.preprocessing;
  if (built.resolution !== preprocessing.crop) throw new UsageError(`predict preprocesses to ${preprocessing.crop}x${preprocessing.crop}; drop --resolution`);
  // Decode every image first: a bad file fails before any model work.
  const inputs = [];
  for (const image of req.images) {
    const rgb = await decodeImage(image, image, (width, height) => checkPreprocessable(width, height, preprocessing, image));
    inputs.push({ image, pixels: preprocess(rgb, preprocessing) });
  }
  const input = built.graph.inputs[0];
  const output = built.graph.outputNames[0];
  const session = await outputSession(onnxBytes(built).bytes);
  try {
    const predictions: Prediction[] = [];
    for (const { image, pixels } of inputs) {
      const logits = (await session.run({ [input.name]: { data: pixels, shape: input.shape } }))[output];
      const labels = built.entry.labels ?? (logits.length === 1000 ? imagenetClasses() : undefined);
      predictions.push({ image, top: topK(softmax(logits), req.top ?? 5, labels) });
    }
    return predictions;
  } finally {
    await session.release();
  }
}
