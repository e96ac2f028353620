/**
 * The versioned results file every report and the gate read. Everything a report shows is
 * in here, so any run can be re-reported later without measuring again.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from '../core/errors.js';
import type { LatencyStats } from '../core/stats.js';

export const RESULTS_SCHEMA = 'eformer.results/1';

export interface BreakdownRow {
  key: string;
  /** This row's share of the measured (un-profiled) median latency, ms. */
  ms: number;
  /** Mean kernel time per run as the runtime's profiler saw it, ms. */
  profiler_ms: number;
  /** Share of all node time. */
  percent: number;
  /** Kernel launches per run. */
  nodes: number;
}

/** Where the time goes, from the runtime's own per-node profile (`profile --breakdown`). */
export interface Breakdown {
  runs: number;
  /** The un-profiled median latency the `ms` columns are scaled to. */
  median_ms: number;
  /** Mean sum of node kernel times per run, ms. */
  node_ms: number;
  /** Median of the profiler's own `model_run` durations, ms. */
  model_run_ms: number;
  by_op: BreakdownRow[];
  by_block: BreakdownRow[];
  by_stage: BreakdownRow[];
}

export interface Environment {
  cpu: string;
  cores: number;
  os: string;
  node: string;
  onnxruntime?: string;
  eformer: string;
  git_commit?: string;
  created: string;
  [key: string]: unknown;
}

export interface ModelResult {
  model: string;
  backend: string;
  resolution?: number;
  batch: number;
  params?: { toolbox: number; total: number; deployed: number };
  macs?: { toolbox: number; standard: number };
  /** The paper's figures, for zoo models. */
  paper?: { top1: number; params_m: number; macs_g: number; iphone12_ms: number };
  baseline?: boolean;
  /**
   * How `latency_ms` was measured. On this machine: interleaved with the other models, thread
   * spinning off. On a device: by the device's own harness (threads 0 = the runtime's choice).
   */
  settings: { threads: number; graph_optimization: string; execution_provider: string; spinning: boolean; interleaved: boolean; [key: string]: string | number | boolean };
  /** The phone, tablet or Mac a device backend measured on. */
  device?: { platform: string; id: string; name: string; model?: string; os?: string };
  /** Device backends: loading (and compiling) the model, and its first prediction, in ms. */
  load_ms?: number;
  first_run_ms?: number;
  runs: number;
  warmup_runs: number;
  latency_ms: LatencyStats;
  noisy: boolean;
  /** The model measured alone with spinning on, as an app deploys it. */
  single_session?: { spinning: true; runs: number; latency_ms: LatencyStats };
  /**
   * Latency relative to a reference model timed in the same interleaved rounds: one ratio
   * per round. Machine-speed drift between runs cancels out of these; the gate uses them.
   */
  vs_reference?: { model: string; median: number; ratios: number[] };
  breakdown?: Breakdown;
}

export interface ResultsFile {
  schema: typeof RESULTS_SCHEMA;
  env: Environment;
  results: ModelResult[];
}

/** Read and check a results file; every problem is one clear line (exit 2). */
export function readResults(path: string): ResultsFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read results file '${path}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new UsageError(`'${path}' is not a results file: it is not valid JSON (empty or corrupted?)`);
  }
  return checkResults(data, path);
}

export function checkResults(data: unknown, path = 'results'): ResultsFile {
  const d = data as Partial<ResultsFile> | null;
  if (!d || typeof d !== 'object' || typeof d.schema !== 'string') throw new UsageError(`'${path}' is not an eformer results file (no "schema")`);
  if (d.schema !== RESULTS_SCHEMA) throw new UsageError(`'${path}' has schema '${d.schema}'; this eformer reads '${RESULTS_SCHEMA}'`);
  if (!d.env || !Array.isArray(d.results)) throw new UsageError(`'${path}' is missing "env" or "results"`);
  d.results.forEach((r, i) => {
    const s = r?.latency_ms;
    if (typeof r?.model !== 'string' || !s || !Number.isFinite(s.median) || !Array.isArray(s.samples)) {
      throw new UsageError(`'${path}': results[${i}] lacks a model name or latency_ms with median and samples`);
    }
  });
  return d as ResultsFile;
}
