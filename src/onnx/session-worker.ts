/**
 * The thread an onnxruntime session lives in (session-thread.ts starts it): it opens one session
 * and answers `run` with the wall time of one inference on inputs it filled once (a timing
 * session, measured here around the runtime's call exactly as it was on the main thread), and
 * `outputs` with the float outputs for the feeds it is sent (predict, calibration, the checks).
 */
import { parentPort } from 'node:worker_threads';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import type { ModelInput } from './read.js';
import { fill } from './fill.js';
import { type Feed, onnxruntime } from './runtime.js';

export type Request =
  | { id: number; op: 'open'; onnx: Uint8Array; inputs: ModelInput[]; options: InferenceSession.SessionOptions }
  | { id: number; op: 'run' }
  | { id: number; op: 'outputs'; feeds: Record<string, Feed> }
  | { id: number; op: 'close'; profiling: boolean };

export type Outputs = Record<string, Float32Array>;

export type Reply = { id: number; ok: true; value?: number | Outputs } | { id: number; ok: false; stage: 'open' | 'run' | 'close'; message: string };

let session: InferenceSession | undefined;
let filled: Record<string, Tensor> = {};

async function handle(request: Request): Promise<number | Outputs | undefined> {
  switch (request.op) {
    case 'open': {
      session = await onnxruntime().InferenceSession.create(request.onnx, request.options);
      filled = Object.fromEntries(request.inputs.map((i) => [i.name, fill(i.shape, i.dtype)]));
      return undefined;
    }
    case 'run': {
      const start = performance.now();
      await session!.run(filled);
      return performance.now() - start;
    }
    case 'outputs': {
      const { Tensor } = onnxruntime();
      const feeds = Object.fromEntries(
        Object.entries(request.feeds).map(([name, f]) => [name, new Tensor(f.data instanceof BigInt64Array ? 'int64' : 'float32', f.data, f.shape)]),
      );
      const out = await session!.run(feeds);
      return Object.fromEntries(Object.entries(out).map(([name, t]) => [name, Float32Array.from(t.data as Float32Array)]));
    }
    case 'close':
      if (request.profiling) session?.endProfiling();
      await session?.release();
      session = undefined;
      return undefined;
  }
}

parentPort!.on('message', async (request: Request) => {
  try {
    const value = await handle(request);
    // Outputs are handed over, not copied: a calibration pass returns every tapped activation.
    const transfer = value && typeof value === 'object' ? Object.values(value).map((a) => a.buffer as ArrayBuffer) : [];
    parentPort!.postMessage({ id: request.id, ok: true, value } satisfies Reply, transfer);
  } catch (err) {
    const stage = request.op === 'outputs' ? 'run' : request.op;
    parentPort!.postMessage({ id: request.id, ok: false, stage, message: String((err as Error)?.message ?? err) } satisfies Reply);
  }
});
