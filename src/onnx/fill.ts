/** What eformer feeds a model it times: the same numbers in every run, thread and process. */
import type { Tensor } from 'onnxruntime-node';
import { onnxruntime } from './runtime.js';

/** Deterministic input data: what fills an input does not change CPU latency, but NaNs could. */
export function fill(shape: number[], dtype: 'float32' | 'int64'): Tensor {
  const ort = onnxruntime();
  const n = shape.reduce((a, b) => a * b, 1);
  if (dtype === 'int64') return new ort.Tensor('int64', new BigInt64Array(n), shape);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.sin(i * 0.37);
  return new ort.Tensor('float32', data, shape);
}

