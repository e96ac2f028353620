/**
 * An onnxruntime timing session in a thread of its own (session-worker.ts). onnxruntime-node runs a
 * model synchronously on the thread that calls it: on the main thread a long run (a hostile ONNX
 * Loop of 9e15 steps, a large model at batch 256) kept Ctrl-C and SIGTERM from being handled at
 * all. Here the main thread only waits for a message, so its signal handlers run at once, and a
 * run still going is abandoned (core/interrupt.ts). Each call is counted as uninterruptible work
 * while it runs.
 */
import { Worker } from 'node:worker_threads';
import type { InferenceSession } from 'onnxruntime-node';
import { uninterruptible } from '../core/interrupt.js';
import type { ModelInput } from './read.js';
import type { Reply, Request } from './session-worker.js';

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/** A call the session's thread could not complete, and at which step. */
export class SessionThreadError extends Error {
  constructor(
    readonly stage: 'open' | 'run' | 'close',
    message: string,
  ) {
    super(message);
  }
}

export interface ThreadSession {
  /** One inference on the inputs filled at open; its wall time in ms, measured in the session's thread. */
  run(): Promise<number>;
  /** End profiling if it was on, release the session and stop the thread. */
  close(): Promise<void>;
}

/** Open `onnx` with `options` in a new thread, with deterministic data in every input. Compiled code only (dist/): the worker is a .js file. */
export async function openThreadSession(onnx: Uint8Array, inputs: ModelInput[], options: InferenceSession.SessionOptions): Promise<ThreadSession> {
  const worker = new Worker(new URL('./session-worker.js', import.meta.url));
  const pending = new Map<number, { resolve: (v: number | undefined) => void; reject: (e: Error) => void }>();
  let next = 0;
  let failure: Error | undefined;
  const fail = (err: Error) => {
    failure = err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  worker.on('message', (reply: Reply) => {
    const p = pending.get(reply.id);
    pending.delete(reply.id);
    // An idle thread must not keep the process alive.
    if (pending.size === 0) worker.unref();
    if (reply.ok) p?.resolve(reply.value);
    else p?.reject(new SessionThreadError(reply.stage, reply.message));
  });
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`onnxruntime's session thread stopped (exit code ${code})`)));
  const call = (request: WithoutId<Request>) =>
    uninterruptible(
      new Promise<number | undefined>((resolve, reject) => {
        if (failure) return reject(failure);
        const id = next++;
        pending.set(id, { resolve, reject });
        worker.ref();
        worker.postMessage({ ...request, id });
      }),
    );
  try {
    await call({ op: 'open', onnx, inputs, options });
  } catch (err) {
    await worker.terminate();
    throw err;
  }
  return {
    run: async () => (await call({ op: 'run' }))!,
    async close() {
      try {
        await call({ op: 'close', profiling: Boolean(options.enableProfiling) });
      } finally {
        worker.removeAllListeners('exit');
        await worker.terminate();
      }
    },
  };
}
