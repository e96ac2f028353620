/**
 * What every latency backend provides. A backend is one file in backends/ implementing this;
 * the timing loop, results and reports never know which one they are talking to.
 */

export interface ModelInput {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int64';
}

/** A model ready to profile: ONNX bytes (in memory or on disk) and its input signature. */
export interface ModelSource {
  name: string;
  onnx: Uint8Array;
  inputs: ModelInput[];
}

export interface SessionOptions {
  /** Intra-op threads; undefined means all cores. */
  threads?: number;
  graphOptimization: 'disabled' | 'basic' | 'extended' | 'all';
  executionProvider: string;
  /** Let the intra-op pool spin between runs (onnxruntime's default, how apps deploy it). */
  spinning: boolean;
  /** Write the runtime's own per-node profile under this path prefix. */
  profilePrefix?: string;
}

export interface BackendSession {
  /** One inference; returns its wall time in milliseconds, measured as close to the runtime as possible. */
  run(): Promise<number>;
  /** Release the session; when profiling was on, returns the runtime's trace file. */
  close(): Promise<string | undefined>;
}

export interface Backend {
  readonly id: string;
  readonly description: string;
  /** Throws MissingToolError naming what is missing and how to install it. */
  ensureAvailable(): Promise<void>;
  /** Execution providers this installation offers. */
  executionProviders(): string[];
  /** Runtime facts recorded in results (versions, providers). */
  environment(): Record<string, string>;
  open(model: ModelSource, options: SessionOptions): Promise<BackendSession>;
}
