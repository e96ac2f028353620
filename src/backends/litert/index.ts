/**
 * LiteRT (TensorFlow Lite) on this machine: the .tflite eformer writes, run by LiteRT's own Python
 * runtime (ai-edge-litert) on XNNPACK, the CPU kernels and graph delegation LiteRT uses on an
 * Android phone's CPU. One worker process holds every model's Interpreter and times each invoke()
 * inside itself (worker.ts), so eformer's loop interleaves models run by run as on ort-cpu and the
 * process boundary is not in any figure.
 */
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InternalError, MissingToolError, UsageError } from '../../core/errors.js';
import { makeWorkDir, removeWorkDir } from '../../core/fs.js';
import { findPython } from '../../coreml/python.js';
import type { BackendSession, ModelSource, SessionBackend, SessionOptions } from '../backend.js';
import { COLD_START_RUNS, coldStartInChild } from '../cold-start.js';
import { LITERT_SETUP } from '../../tflite/litert.js';
import { LitertWorker, WorkerRequestError } from './worker.js';

let worker: LitertWorker | undefined;
let workDir: string | undefined;
let openSessions = 0;
let versions: { litert?: string; python?: string } = {};

/** The worker, started on first use with the Python eformer's venv lookup finds; exit 3 when LiteRT is not installed there. */
async function startedWorker(): Promise<LitertWorker> {
  if (!worker) {
    const python = await findPython().catch(() => {
      throw new MissingToolError(`LiteRT's Python runtime needs Python 3 (apt-get install -y python3 python3-venv), then run '${LITERT_SETUP}'`);
    });
    worker = new LitertWorker(python.path, `the Python from ${python.source}`);
  }
  try {
    versions = await worker.started();
  } catch (err) {
    worker = undefined;
    throw err;
  }
  return worker;
}

/** The last session closed: stop the worker and remove the models written for it. */
async function release(): Promise<void> {
  if (--openSessions > 0) return;
  const w = worker;
  worker = undefined;
  await w?.stop();
  if (workDir) removeWorkDir(workDir);
  workDir = undefined;
}

/**
 * LiteRT refusing a model eformer wrote: one line naming the model and the op LiteRT names. An op
 * (version) the installed runtime does not register means it is not the pinned runtime (exit 3);
 * anything else is eformer writing a file LiteRT cannot take, a bug (exit 70).
 */
function loadFailure(model: string, err: WorkerRequestError): Error {
  const op = err.op ? `op ${err.op}: ` : '';
  if (/Didn't find op|version/i.test(err.message)) return new MissingToolError(`LiteRT cannot load ${model}: ${op}${err.message}; install the pinned runtime with '${LITERT_SETUP}'`);
  return new InternalError(`LiteRT cannot load ${model}: ${op}${err.message}`);
}

export const litert: SessionBackend = {
  kind: 'session',
  id: 'litert',
  description: "LiteRT (TensorFlow Lite) on this machine's CPU through XNNPACK (ai-edge-litert's runtime, in one Python worker)",
  // The interpreter's own profiler is not read: use litert-android's benchmark_model for an op breakdown.
  breakdown: false,

  async ensureAvailable() {
    // Starting the worker is the check: it imports LiteRT, or says what to install.
    openSessions++;
    try {
      await startedWorker();
    } finally {
      await release();
    }
  },

  /** LiteRT's CPU path: its default resolver applies the XNNPACK delegate. */
  executionProviders: () => ['cpu'],

  environment(): Record<string, string> {
    return { ai_edge_litert: versions.litert ?? 'unknown', litert_cpu: 'xnnpack (default delegate)' };
  },

  // `eformer doctor` lists ai-edge-litert itself (tflite/litert.ts): export --verify needs it too.
  async probe() {
    return [];
  },

  async open(model: ModelSource, options: SessionOptions): Promise<BackendSession> {
    if (!model.tflite) throw new UsageError(`${model.name}: litert runs the models eformer builds (it writes them as .tflite); an ONNX file cannot be run on it`);
    if (options.executionProvider !== 'cpu') throw new UsageError(`litert runs LiteRT's CPU path (XNNPACK), --ep cpu; for the GPU delegate or NNAPI use -b litert-android`);
    if (options.graphOptimization !== 'all') throw new UsageError('--graph-opt is an onnxruntime setting; LiteRT has no optimisation levels (drop --graph-opt)');
    if (options.profilePrefix) throw new UsageError('--breakdown is not available on litert');
    openSessions++;
    let handle: number;
    let w: LitertWorker;
    try {
      w = await startedWorker();
      workDir ??= makeWorkDir('eformer-litert-');
      const file = join(workDir, `${openSessions}-${model.name.replace(/[^\w.-]/g, '_')}.tflite`);
      writeFileSync(file, await model.tflite());
      // Threads as eformer records them: no --threads means every core (LiteRT's own default is one).
      const threads = options.threads ?? cpus().length;
      try {
        handle = (await w.request({ op: 'open', path: file, threads })).handle as number;
      } catch (err) {
        throw err instanceof WorkerRequestError ? loadFailure(model.name, err) : err;
      }
    } catch (err) {
      await release();
      throw err;
    }
    return {
      async run() {
        try {
          const reply = await w.request({ op: 'run', handle, count: 1 });
          return (reply.ns as number[])[0] / 1e6;
        } catch (err) {
          if (!(err instanceof WorkerRequestError)) throw err;
          throw new MissingToolError(`LiteRT failed running ${model.name}: ${err.op ? `op ${err.op}: ` : ''}${err.message}`);
        }
      },
      async close() {
        try {
          await w.request({ op: 'close', handle }).catch(() => undefined);
        } finally {
          await release();
        }
        return undefined;
      },
    };
  },

  /** A fresh Python process loads the .tflite with the worker's settings and reports what it cost. */
  async coldStart(model: ModelSource, options: SessionOptions) {
    const python = await findPython();
    const tflite = await model.tflite!();
    return coldStartInChild({
      model: model.name,
      file: tflite,
      extension: '.tflite',
      command: python.path,
      args: (path) => [COLD_START_SCRIPT, path, String(options.threads ?? cpus().length), String(COLD_START_RUNS)],
      timeoutSeconds: options.timeoutSeconds ?? 600,
    });
  },
};

const COLD_START_SCRIPT = fileURLToPath(new URL('../../../python/litert_cold_start.py', import.meta.url));
