/**
 * The versioned results file every report and the gate read. Everything a report shows is
 * in here, so any run can be re-reported later without measuring again.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from '../core/errors.js';
import { type LatencyStats, statisticName } from '../core/stats.js';

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
  /** Device backends: loading (and compiling) the model, and its first prediction, in ms. */
  load_ms?: number;
  first_run_ms?: number;
  /**
   * Memory the device harness attributes to the model, MB, where it reports any (LiteRT's
   * benchmark_model: the footprint added by initialisation and by the whole run), and how it was measured.
   */
  memory_mb?: { init?: number; overall?: number; peak?: number; source: string };
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

/**
 * The one validator every reader uses (report, merge, gate): a results file that does not hold
 * what a measurement can produce is refused with one line naming the field, never rendered or
 * gated. Latencies are finite positive milliseconds, counts non-negative integers, and there is
 * at least one result.
 */
export function checkResults(data: unknown, path = 'results'): ResultsFile {
  const d = data as Partial<ResultsFile> | null;
  const bad = (where: string, what: string): never => {
    throw new UsageError(`'${path}': ${where} ${what}`);
  };
  if (!d || typeof d !== 'object' || typeof d.schema !== 'string') throw new UsageError(`'${path}' is not an eformer results file (no "schema")`);
  if (d.schema !== RESULTS_SCHEMA) throw new UsageError(`'${path}' has schema '${d.schema}'; this eformer reads '${RESULTS_SCHEMA}'`);
  if (!d.env || typeof d.env !== 'object' || !Array.isArray(d.results)) throw new UsageError(`'${path}' is missing "env" or "results"`);
  if (d.results.length === 0) throw new UsageError(`'${path}' holds no results (a run that measured nothing)`);
  const positive = (v: unknown, where: string) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) bad(where, `is ${JSON.stringify(v)}, expected a positive number of milliseconds`);
  };
  const count = (v: unknown, where: string) => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) bad(where, `is ${JSON.stringify(v)}, expected a whole number of at least 0`);
  };
  d.results.forEach((r, i) => {
    const at = `results[${i}]`;
    if (!r || typeof r !== 'object') bad(at, 'is not an object');
    if (typeof r.model !== 'string' || !r.model) bad(`${at}.model`, 'is missing');
    if (typeof r.backend !== 'string' || !r.backend) bad(`${at}.backend`, 'is missing');
    const s = r.latency_ms;
    if (!s || typeof s !== 'object') bad(`${at}.latency_ms`, 'is missing');
    checkStatistic(s, `${at}.latency_ms`, bad);
    // A harness summary may lack the percentiles; eformer's own statistics always have them.
    const required = s.statistic === 'mean' ? ['mean', 'min', 'max'] : s.from_summary ? ['median', 'mean', 'min', 'max'] : ['median', 'mean', 'p90', 'p99', 'min', 'max'];
    for (const key of ['median', 'mean', 'p90', 'p99', 'p5', 'p95', 'min', 'max'] as const) {
      if (required.includes(key) || s[key] !== undefined) positive(s[key], `${at}.latency_ms.${key}`);
    }
    const central = s.statistic === 'mean' ? s.mean : s.median!;
    const name = statisticName(s);
    if (s.min > central || central > s.max) bad(`${at}.latency_ms`, `has min ${s.min} > ${name} ${central} or ${name} > max ${s.max}`);
    if (!Array.isArray(s.samples)) bad(`${at}.latency_ms.samples`, 'is missing');
    if (s.samples.length === 0 && !s.from_summary) bad(`${at}.latency_ms.samples`, 'is empty (and the figures are not a harness summary)');
    s.samples.forEach((v, k) => positive(v, `${at}.latency_ms.samples[${k}]`));
    count(r.runs, `${at}.runs`);
    if (r.runs < 1) bad(`${at}.runs`, 'is 0');
    if (r.batch !== undefined) count(r.batch, `${at}.batch`);
    for (const group of ['params', 'macs'] as const) {
      const g = r[group] as Record<string, unknown> | undefined;
      if (g === undefined) continue;
      if (!g || typeof g !== 'object') bad(`${at}.${group}`, 'is not an object');
      for (const [key, v] of Object.entries(g)) count(v, `${at}.${group}.${key}`);
    }
    r.vs_reference?.ratios?.forEach((v, k) => {
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) bad(`${at}.vs_reference.ratios[${k}]`, `is ${JSON.stringify(v)}, expected a positive ratio`);
    });
    if (r.single_session) positive(r.single_session.latency_ms?.median, `${at}.single_session.latency_ms.median`);
    if (r.precision !== undefined && r.precision !== 'fp32' && r.precision !== 'int8') bad(`${at}.precision`, `is ${JSON.stringify(r.precision)}, expected "fp32" or "int8"`);
    if (r.int8 !== undefined) {
      if (!r.int8 || typeof r.int8 !== 'object' || typeof r.int8.fp32_model !== 'string') bad(`${at}.int8`, 'is not an int8 record (no fp32_model)');
      if (r.int8.speedup !== undefined && !(typeof r.int8.speedup === 'number' && Number.isFinite(r.int8.speedup) && r.int8.speedup > 0)) bad(`${at}.int8.speedup`, `is ${JSON.stringify(r.int8.speedup)}, expected a positive ratio`);
      if (r.int8.sqnr_db !== null && typeof r.int8.sqnr_db !== 'number') bad(`${at}.int8.sqnr_db`, `is ${JSON.stringify(r.int8.sqnr_db)}, expected decibels (or null for identical logits)`);
      for (const key of ['cosine', 'top1_agreement'] as const) if (typeof r.int8[key] !== 'number' || !Number.isFinite(r.int8[key])) bad(`${at}.int8.${key}`, `is ${JSON.stringify(r.int8[key])}, expected a number`);
    }
  });
  return d as ResultsFile;
}

/**
 * `statistic` names the figure a result stands for. An average stands only for a harness summary
 * that printed no median (LiteRT's older benchmark_model builds), and never travels with a median
 * it could be mistaken for.
 */
function checkStatistic(s: LatencyStats, at: string, bad: (where: string, what: string) => never): void {
  if (s.statistic !== undefined && s.statistic !== 'median' && s.statistic !== 'mean') bad(`${at}.statistic`, `is ${JSON.stringify(s.statistic)}, expected "median" or "mean"`);
  if (s.statistic !== 'mean') return;
  if (!s.from_summary || (Array.isArray(s.samples) && s.samples.length > 0)) bad(`${at}.statistic`, 'is "mean" for figures computed from runs (only a harness summary without a median is compared by its average)');
  if (s.median !== undefined) bad(`${at}.median`, 'is given beside statistic "mean": a result compares its median or its average, not both');
}

/** The paper's latency and where it was measured, from this or an older results file. */
export function paperLatency(r: ModelResult): { ms: number; device: string } | undefined {
  const p = r.paper;
  if (p?.latency_ms !== undefined) return { ms: p.latency_ms, device: p.latency_device ?? '' };
  if (p?.iphone12_ms !== undefined) return { ms: p.iphone12_ms, device: 'iPhone 12, Core ML' };
  return undefined;
}
