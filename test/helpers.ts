import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import ort from 'onnxruntime-node';

export const root = new URL('..', import.meta.url).pathname;

/** A fresh scratch folder, inside the run's own (global-setup.ts removes it at the end). */
export function tempDir(prefix = 'eformer-test-'): string {
  return mkdtempSync(join(process.env.EFORMER_TEST_SCRATCH ?? tmpdir(), prefix));
}

/** Run the built CLI; never throws, returns exit code and output. */
export async function cli(...args: string[]) {
  const r = await execa('node', [join(root, 'bin/eformer.js'), ...args], { reject: false, cwd: root });
  return { code: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A deterministic, non-trivial image-like input. */
export function testInput(resolution = 224, batch = 1): Float32Array {
  const data = new Float32Array(batch * 3 * resolution * resolution);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37) * 1.5 + Math.cos(i * 0.011);
  return data;
}

export async function runOnnx(bytes: Uint8Array, input: Float32Array, shape: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 2 });
  try {
    const out = await session.run({ image: new ort.Tensor('float32', input, shape) });
    return out.logits.data as Float32Array;
  } finally {
    await session.release();
  }
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function maxAbs(a: Float32Array): number {
  return a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
}

/**
 * How close eformer's ONNX must be to the PyTorch reference: max |diff| over the logits at most
 * this fraction of the largest |logit|. Float32 reordering (BN folded into convs, other summation
 * orders) gave at most 7.5e-7 here (torchvision's MobileNetV2; 3.7e-7 for EfficientFormerV2); a real
 * mistake such as the wrong LayerNorm eps in a Hugging Face config gives 7.3e-6 (checkpoints.test.ts
 * keeps that case, so the bound cannot drift up unnoticed).
 */
export const EQUIVALENCE_RTOL = 2e-6;

/** Whether `ours` equals the reference within EQUIVALENCE_RTOL, and by how much it differs. */
export function equivalence(ours: Float32Array, reference: ArrayLike<number>): { diff: number; bound: number } {
  const ref = Float32Array.from(reference);
  return { diff: maxAbsDiff(ours, ref), bound: EQUIVALENCE_RTOL * Math.max(maxAbs(ref), 1e-3) };
}

/** A small space of V2 at 64x64: every block kind, a few choices, builds and times in seconds. */
export const SMALL_SPACE = {
  family: 'efficientformerv2',
  resolution: 64,
  stages: [
    { widths: [16], depths: [1], ratios: [4] },
    { widths: [16, 24], depths: [1], ratios: [4] },
    { widths: [32], depths: [1, 2], ratios: [3, 4] },
    { widths: [32], depths: [1, 2], ratios: [4] },
  ],
  attention: [0, 1],
};
