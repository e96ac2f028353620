/**
 * The versioned results file every report and the gate read. Everything a report shows is
 * in here, so any run can be re-reported later without measuring again.
 */
import { UsageError } from '../core/errors.js';
import { readInputText } from '../core/fs.js';
import type { AbsentFigures, MemoryFigures } from '../core/memory.js';
import { type LatencyStats, statisticName } from '../core/stats.js';
import { checkFields, count, flag, integer, interval, list, milliseconds, name, nonNegative, nonNegativeMs, nullable, number, oneOf, optional, ratio, record, scalar, text } from './fields.js';

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
  /** The un-profiled median latency the `ms` columns are scaled to (the average, where `scaled_to` says so). */
  median_ms: number;
  /** Absent: the median. 'mean' when the result stands for its average (a harness that printed no median). */
  scaled_to?: 'median' | 'mean';
  /** Whose profile the shares come from, when not onnxruntime's. */
  profiler?: string;
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
  /** The CPU's integer dot-product instruction sets (VNNI, AMX, Arm dot product; [] for none), where the OS says. */
  cpu_int8?: string[];
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
  /** The model family (zoo and config models), for charts that colour by family. */
  family?: string;
  backend: string;
  resolution?: number;
  batch: number;
  params?: { toolbox: number; total: number; deployed: number };
  macs?: { toolbox: number; standard: number };
  /**
   * The paper's figures, for zoo models: latency where the paper measured it (`latency_device`).
   * Files from eformer 0.1 have `iphone12_ms` instead; read them with `paperLatency`.
   */
  paper?: { top1: number; params_m: number; macs_g?: number; latency_ms?: number; latency_device?: string; iphone12_ms?: number };
  baseline?: boolean;
  /**
   * How `latency_ms` was measured. On this machine: interleaved with the other models, thread
   * spinning off. On a device: by the device's own harness (threads 0 = the runtime's choice).
   */
  settings: { threads: number; graph_optimization: string; execution_provider: string; spinning: boolean; interleaved: boolean; [key: string]: string | number | boolean };
  /** The phone, tablet or Mac a device backend measured on. */
  device?: { platform: string; id: string; name: string; model?: string; os?: string };
  /** Loading the model (session creation, or compiling and loading), ms, measured apart from the timed runs. */
  load_ms?: number;
  /** The first inference after loading, ms. */
  first_run_ms?: number;
  /** Peak memory attributable to the model, MB, and how the backend measured it. */
  memory_mb?: MemoryFigures;
  /** The size of the model file the backend loaded, bytes. */
  model_bytes?: number;
  /** Why any of load_ms, first_run_ms, memory_mb or model_bytes is missing (a figure a backend cannot give is never 0). */
  absent?: AbsentFigures;
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
  /**
   * The graph's number format: absent in files from before int8 (they are all fp32). An int8
   * result is a model of its own (`model` is `NAME:int8`), so the gate guards it like any other.
   */
  precision?: 'fp32' | 'int8';
  int8?: Int8Facts;
}

/** What an int8 result adds: its float twin, how much faster it ran, and what it costs in fidelity. */
export interface Int8Facts {
  /** The float model's result in the same file (`NAME`). */
  fp32_model: string;
  /**
   * fp32 latency / int8 latency: the median of the per-round ratios when both were timed in the
   * same interleaved rounds (`paired`), else the ratio of the two medians (device harnesses).
   */
  speedup?: number;
  paired?: boolean;
  /** Logits of the int8 graph against the float graph's on the calibration inputs. */
  sqnr_db: number | null;
  cosine: number;
  top1_agreement: number;
  method: string;
  calibration: string;
  quantized_layers: number;
}

export interface ResultsFile {
  schema: typeof RESULTS_SCHEMA;
  env: Environment;
  results: ModelResult[];
}

/** Read and check a results file (named by `flag`, e.g. --baseline, in messages); every problem is one clear line (exit 2). */
export function readResults(path: string, flag?: string): ResultsFile {
  return checkResults(parseResultsJson(readInputText(path, flag ? `${flag} results file` : 'results file'), path), path);
}

/** A results file's text as JSON, still to be checked (checkResults); text that is not JSON is one clear line. */
export function parseResultsJson(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`'${path}' is not a results file: it is not valid JSON (empty or corrupted?)`);
  }
}

/** Latency statistics: every figure a report or the gate reads. */
const statsRule = record({
  statistic: optional(oneOf('median', 'mean')),
  // Which of these must be present depends on `statistic` and `from_summary` (checkStatistics).
  median: optional(milliseconds),
  mean: milliseconds,
  p90: optional(milliseconds),
  p99: optional(milliseconds),
  p5: optional(milliseconds),
  p95: optional(milliseconds),
  min: milliseconds,
  max: milliseconds,
  std: optional(nonNegativeMs),
  cov: optional(nonNegative),
  median_ci95: optional(interval(milliseconds)),
  samples: list(milliseconds),
  from_summary: optional(flag),
  quantile_rule: optional(text),
});

const breakdownRow = record({ key: text, ms: nonNegativeMs, profiler_ms: optional(nonNegativeMs), percent: number('a share from 0 to 100', (n) => n >= 0 && n <= 100), nodes: optional(count) });

export const deviceRule = record({ platform: text, id: text, name: text, model: optional(text), os: optional(text) });

/** What the reports, the gate and merge read of `env`: text where text is shown, the int8 instructions as a list. */
export const environmentRule = record({
  cpu: optional(text),
  cores: optional(count),
  cpu_int8: optional(list(text)),
  os: optional(text),
  node: optional(text),
  onnxruntime: optional(text),
  onnxruntime_web: optional(text),
  device: optional(text),
  eformer: optional(text),
  git_commit: optional(text),
  created: optional(text),
});

const resultRule = record({
  model: name,
  family: optional(text),
  backend: name,
  resolution: optional(integer(1)),
  batch: optional(count),
  params: optional(record({ toolbox: count }, count)),
  macs: optional(record({ toolbox: count }, count)),
  paper: optional(
    record({
      top1: number('a top-1 accuracy from 0 to 100', (n) => n >= 0 && n <= 100),
      params_m: optional(nonNegative),
      macs_g: optional(nonNegative),
      latency_ms: optional(milliseconds),
      latency_device: optional(text),
      iphone12_ms: optional(milliseconds),
    }),
  ),
  baseline: optional(flag),
  settings: optional(record({ threads: optional(count), graph_optimization: optional(text), execution_provider: optional(text) }, scalar)),
  device: optional(deviceRule),
  load_ms: optional(nonNegativeMs),
  first_run_ms: optional(nonNegativeMs),
  memory_mb: optional(record({ peak: number('a positive number of megabytes', (n) => n > 0 && n < 2 ** 40), load: optional(number('a number of megabytes', (n) => n >= 0 && n < 2 ** 40)), source: text }, scalar)),
  model_bytes: optional(integer(1)),
  absent: optional(record({ load_ms: optional(text), first_run_ms: optional(text), memory_mb: optional(text), model_bytes: optional(text) })),
  runs: integer(1),
  warmup_runs: optional(count),
  latency_ms: statsRule,
  noisy: optional(flag),
  single_session: optional(record({ runs: optional(count), latency_ms: statsRule })),
  vs_reference: optional(record({ model: name, median: ratio, ratios: list(ratio, 1) })),
  breakdown: optional(
    record({
      runs: integer(1),
      median_ms: milliseconds,
      scaled_to: optional(oneOf('median', 'mean')),
      profiler: optional(text),
      node_ms: nonNegativeMs,
      model_run_ms: nonNegativeMs,
      by_op: list(breakdownRow),
      by_block: optional(list(breakdownRow)),
      by_stage: list(breakdownRow),
    }),
  ),
  precision: optional(oneOf('fp32', 'int8')),
  int8: optional(
    record({
      fp32_model: name,
      speedup: optional(ratio),
      paired: optional(flag),
      sqnr_db: nullable(number('decibels (or null for identical logits)')),
      cosine: number('a number'),
      top1_agreement: number('a share from 0 to 1', (n) => n >= 0 && n <= 1),
      method: optional(text),
      calibration: optional(text),
      quantized_layers: optional(count),
    }),
  ),
});

/**
 * The one validator every reader uses (report, merge, gate): a results file that does not hold
 * what a measurement can produce is refused with one line naming the field, never rendered or
 * gated. Every field a report or the gate reads is checked: latencies are finite positive
 * milliseconds, counts non-negative integers, text is text, and there is at least one result.
 */
export function checkResults(data: unknown, path = 'results'): ResultsFile {
  const d = data as Partial<ResultsFile> | null;
  if (!d || typeof d !== 'object' || typeof d.schema !== 'string') throw new UsageError(`'${path}' is not an eformer results file (no "schema")`);
  if (d.schema !== RESULTS_SCHEMA) throw new UsageError(`'${path}' has schema '${d.schema}'; this eformer reads '${RESULTS_SCHEMA}'`);
  if (!d.env || typeof d.env !== 'object' || !Array.isArray(d.results)) throw new UsageError(`'${path}' is missing "env" or "results"`);
  if (d.results.length === 0) throw new UsageError(`'${path}' holds no results (a run that measured nothing)`);
  checkFields(d, record({ env: environmentRule, results: list(resultRule) }), path);
  const bad = (where: string, what: string): never => {
    throw new UsageError(`'${path}': ${where} ${what}`);
  };
  d.results.forEach((r, i) => {
    const at = `results[${i}]`;
    for (const [s, where] of [[r.latency_ms, `${at}.latency_ms`], ...(r.single_session ? [[r.single_session.latency_ms, `${at}.single_session.latency_ms`] as const] : [])] as const) {
      checkStatistics(s, where, bad);
      const central = s.statistic === 'mean' ? s.mean : s.median!;
      const name = statisticName(s);
      if (s.min > central || central > s.max) bad(where, `has min ${s.min} > ${name} ${central} or ${name} > max ${s.max}`);
      if (s.samples.length === 0 && !s.from_summary) bad(`${where}.samples`, 'is empty (and the figures are not a harness summary)');
    }
  });
  return d as ResultsFile;
}

/**
 * `statistic` names the figure a result stands for. An average stands only for a harness summary
 * that printed no median (LiteRT's older benchmark_model builds), and never travels with a median
 * it could be mistaken for. A harness summary may lack the percentiles; eformer's own statistics
 * always have them.
 */
function checkStatistics(s: LatencyStats, at: string, bad: (where: string, what: string) => never): void {
  if (s.statistic === 'mean') {
    if (!s.from_summary || s.samples.length > 0) bad(`${at}.statistic`, 'is "mean" for figures computed from runs (only a harness summary without a median is compared by its average)');
    if (s.median !== undefined) bad(`${at}.median`, 'is given beside statistic "mean": a result compares its median or its average, not both');
    return;
  }
  if (s.median === undefined) bad(`${at}.median`, 'is missing (only a harness summary with statistic "mean" has none)');
  if (!s.from_summary) for (const key of ['p90', 'p99'] as const) if (s[key] === undefined) bad(`${at}.${key}`, 'is missing (figures computed from runs always have it)');
}

/** The paper's latency and where it was measured, from this or an older results file. */
export function paperLatency(r: ModelResult): { ms: number; device: string } | undefined {
  const p = r.paper;
  if (p?.latency_ms !== undefined) return { ms: p.latency_ms, device: p.latency_device ?? '' };
  if (p?.iphone12_ms !== undefined) return { ms: p.iphone12_ms, device: 'iPhone 12, Core ML' };
  return undefined;
}
