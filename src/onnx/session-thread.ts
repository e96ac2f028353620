/**
 * onnxruntime sessions in a thread of their own (session-worker.ts): timing sessions (profile) and
 * output sessions (predict, int8 calibration and fidelity, the Core ML and TFLite checks).
 * onnxruntime-node runs a model synchronously on the thread that calls it: on the main thread a
 * long run (a hostile ONNX Loop of 9e15 steps, a large model at batch 256, a calibration pass of a
 * large config) kept Ctrl-C and SIGTERM from being handled at all. Here the main thread only waits
 * for a message, so its signal handlers run at once, and a run still going is abandoned
 * (core/interrupt.ts). Each call is counted as uninterruptible work while it runs.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { InferenceSession } from 'onnxruntime-node';
import { uninterruptible } from '../core/interrupt.js';
import type { ModelInput } from './read.js';
import { type Feed, logSeverityLevel } from './runtime.js';
import type { Outputs, Reply, Request } from './session-worker.js';

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

/**
 * The worker's compiled file. A thread runs JavaScript only: beside this file in dist/; when this
 * file runs from its TypeScript source (the test runner), dist/'s copy, which `npm test` builds first.
 */
function workerFile(): URL {
  const beside = new URL('./session-worker.js', import.meta.url);
  return existsSync(beside) ? beside : new URL('../../dist/onnx/session-worker.js', import.meta.url);
}

interface SessionWorker {
  call(request: WithoutId<Request>): Promise<number | Outputs | undefined>;
  /** Close the session (ending its profile when asked) and stop the thread. */
  close(profiling: boolean): Promise<void>;
}

/** A thread holding one session of `onnx`, opened with `options` and with `inputs` filled for timing. */
async function startSession(onnx: Uint8Array, inputs: ModelInput[], options: InferenceSession.SessionOptions): Promise<SessionWorker> {
  const worker = new Worker(workerFile());
  const pending = new Map<number, { resolve: (v: number | Outputs | undefined) => void; reject: (e: Error) => void }>();
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
      new Promise<number | Outputs | undefined>((resolve, reject) => {
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
    call,
    async close(profiling) {
      try {
        await call({ op: 'close', profiling });
      } finally {
        worker.removeAllListeners('exit');
        await worker.terminate();
      }
    },
  };
}

export interface ThreadSession {
  /** One inference on the inputs filled at open; its wall time in ms, measured in the session's thread. */
  run(): Promise<number>;
  /** End profiling if it was on, release the session and stop the thread. */
  close(): Promise<void>;
}

/** Open `onnx` with `options` in a new thread, with deterministic data in every input, for timing. */
export async function openThreadSession(onnx: Uint8Array, inputs: ModelInput[], options: InferenceSession.SessionOptions): Promise<ThreadSession> {
  const session = await startSession(onnx, inputs, options);
  return {
    run: async () => (await session.call({ op: 'run' })) as number,
    close: () => session.close(Boolean(options.enableProfiling)),
  };
}

export interface OutputSession {
  run(feeds: Record<string, Feed>): Promise<Record<string, Float32Array>>;
  release(): Promise<void>;
}

/** A session, in a thread of its own, that returns float outputs by name. */
export async function outputSession(bytes: Uint8Array, options: { threads?: number } = {}): Promise<OutputSession> {
  const session = await startSession(bytes, [], { logSeverityLevel: logSeverityLevel(), ...(options.threads ? { intraOpNumThreads: options.threads } : {}) });
  return {
    run: async (feeds) => (await session.call({ op: 'outputs', feeds })) as Outputs,
    release: () => session.close(false),
  };
}

/** Run once and release. */
export async function runOnnx(bytes: Uint8Array, feeds: Record<string, Feed>): Promise<Record<string, Float32Array>> {
  const session = await outputSession(bytes);
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}
