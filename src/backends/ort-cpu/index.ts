/** The embedded desktop runtime: onnxruntime-node, in this process (each session in a thread of its own). */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MissingToolError, UsageError } from '../../core/errors.js';
import { firstLine } from '../../core/text.js';
import { logSeverityLevel, onnxruntime } from '../../onnx/runtime.js';
import { openThreadSession, SessionThreadError, type ThreadSession } from '../../onnx/session-thread.js';
import type { BackendSession, ModelSource, SessionBackend, SessionOptions } from '../backend.js';
import { COLD_START_RUNS, coldStartInChild } from '../cold-start.js';

function newestTrace(prefix: string): string | undefined {
  const dir = dirname(prefix);
  if (!existsSync(dir)) return undefined;
  const files = readdirSync(dir).filter((f) => f.startsWith(basename(prefix)) && f.endsWith('.json'));
  return files.length ? join(dir, files.sort().at(-1)!) : undefined;
}

export const ortCpu: SessionBackend = {
  kind: 'session',
  id: 'ort-cpu',
  description: 'ONNX Runtime on this machine (onnxruntime-node, in-process)',
  // onnxruntime's CPU provider fuses QDQ into its integer kernels (QLinearConv, QGemm, QLinearAdd).
  int8Providers: ['cpu'],

  async ensureAvailable() {
    try {
      onnxruntime();
    } catch (err) {
      throw new MissingToolError(`onnxruntime-node does not load: ${firstLine(err)}; run 'npm ci'`);
    }
  },

  /** The providers whose binaries ship inside the installed onnxruntime-node package. */
  executionProviders() {
    return onnxruntime()
      .listSupportedBackends()
      .filter((b) => b.bundled)
      .map((b) => b.name);
  },

  environment() {
    const ort = onnxruntime();
    return { onnxruntime: ort.env.versions.node ?? ort.env.versions.common ?? 'unknown' };
  },

  async probe() {
    let found: string | undefined;
    try {
      found = `${this.environment().onnxruntime} (${this.executionProviders().join(', ')})`;
    } catch {
      found = undefined;
    }
    return [{ name: 'onnxruntime-node', found, install: 'npm ci' }];
  },

  async open(model: ModelSource, options: SessionOptions): Promise<BackendSession> {
    const ort = onnxruntime();
    const ep = options.executionProvider;
    const known = ort.listSupportedBackends().find((b) => b.name === ep);
    if (!known) throw new UsageError(`unknown execution provider '${ep}'; this onnxruntime-node offers: ${this.executionProviders().join(', ')}`);
    if (!known.bundled) {
      throw new MissingToolError(
        `execution provider '${ep}' is not installed: onnxruntime-node fetches its ${ep} binaries at install time; on a machine with the ${ep} runtime, ` +
          `drop 'onnxruntime-node-install=skip' from .npmrc and run 'npm ci' again (installed here: ${this.executionProviders().join(', ')})`,
      );
    }
    // The session lives in a thread of its own, so a run that does not end cannot hold off Ctrl-C.
    let session: ThreadSession;
    try {
      session = await openThreadSession(model.onnx, model.inputs, {
        intraOpNumThreads: options.threads ?? 0,
        logSeverityLevel: logSeverityLevel(),
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: options.graphOptimization,
        executionProviders: [options.executionProvider],
        enableProfiling: Boolean(options.profilePrefix),
        profileFilePrefix: options.profilePrefix,
        extra: { session: { intra_op: { allow_spinning: options.spinning ? '1' : '0' } } },
      });
    } catch (err) {
      if (!(err instanceof SessionThreadError)) throw err;
      if (ep !== 'cpu') throw new MissingToolError(`execution provider '${ep}' could not start on this machine: ${firstLine(err)}`);
      throw new UsageError(`onnxruntime cannot load ${model.name}: ${firstLine(err)}`);
    }
    // Check the shapes once, outside any timing.
    try {
      await session.run();
    } catch (err) {
      await session.close();
      if (!(err instanceof SessionThreadError)) throw err;
      const shapes = model.inputs.map((i) => `${i.name}=${i.shape.join('x')}`).join(', ');
      throw new UsageError(`${model.name} rejects input ${shapes}: ${firstLine(err)}`);
    }
    return {
      run: () => session.run(),
      async close() {
        await session.close();
        return options.profilePrefix ? newestTrace(options.profilePrefix) : undefined;
      },
    };
  },

  /** A fresh node process opens the model as an app would (spinning on) and reports what it cost. */
  coldStart(model: ModelSource, options: SessionOptions) {
    const request = {
      inputs: model.inputs,
      runs: COLD_START_RUNS,
      options: {
        intraOpNumThreads: options.threads ?? 0,
        logSeverityLevel: logSeverityLevel(),
        graphOptimizationLevel: options.graphOptimization,
        executionProviders: [options.executionProvider],
      },
    };
    return coldStartInChild({
      model: model.name,
      file: model.onnx,
      extension: '.onnx',
      command: process.execPath,
      args: (path) => [COLD_START_CHILD, path, JSON.stringify(request)],
      timeoutSeconds: options.timeoutSeconds ?? 600,
    });
  },
};

/** Compiled code only (dist/), like the session thread: the child is a .js file. */
const COLD_START_CHILD = fileURLToPath(new URL('../../onnx/cold-start-child.js', import.meta.url));
