/**
 * The thread a timing session lives in (session-thread.ts starts it): it opens one onnxruntime
 * session, fills its inputs once, and answers `run` with the wall time of one inference, measured
 * here around the runtime's call exactly as it was on the main thread.
 */
import { parentPort } from 'node:worker_threads';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import type { ModelInput } from './read.js';
import { fill } from './fill.js';
import { onnxruntime } from './runtime.js';

export type Request =
  | { id: number; op: 'open'; onnx: Uint8Array; inputs: ModelInput[]; options: InferenceSession.SessionOptions }
  | { id: number; op: 'run' }
  | { id: number; op: 'close'; profiling: boolean };

export type Reply = { id: number; ok: true; value?: number } | { id: number; ok: false; stage: 'open' | 'run' | 'close'; message: string };

let session: InferenceSession | undefined;
let feeds: Record<string, Tensor> = {};

async function handle(request: Request): Promise<number | undefined> {
  switch (request.op) {
    case 'open': {
      session = await onnxruntime().InferenceSession.create(request.onnx, request.options);
      feeds = Object.fromEntries(request.inputs.map((i) => [i.name, fill(i.shape, i.dtype)]));
      return undefined;
    }
    case 'run': {
      const start = performance.now();
      await session!.run(feeds);
      return performance.now() - start;
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
    parentPort!.postMessage({ id: request.id, ok: true, value: await handle(request) } satisfies Reply);
  } catch (err) {
    parentPort!.postMessage({ id: request.id, ok: false, stage: request.op, message: String((err as Error)?.message ?? err) } satisfies Reply);
  }
});
