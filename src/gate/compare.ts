/**
 * The regression gate's decisions.
 *
 * Params and MACs are deterministic: compared exactly against their allowance.
 *
 * Latency is noisy, and on shared machines the whole machine's speed drifts between runs
 * (medians of the same model 12% apart run to run were measured here). So with a reference
 * model the gate compares, per run, the per-round ratios model/reference (both timed in the
 * same interleaved round), which cancels most of that drift. A slowdown is a regression only
 * when the point estimate of the change exceeds the allowed increase (the minimum effect)
 * AND the 95% bootstrap confidence interval of the change lies above zero.
 */
import { UsageError } from '../core/errors.js';
import { mulberry32 } from '../core/random.js';
import { centralLatency, median, statisticName } from '../core/stats.js';
import type { ModelResult, ResultsFile } from '../results/results.js';
import { type Check, type ModelVerdict, type Outcome, type Verdict, VERDICT_SCHEMA } from '../results/verdict.js';
import { type Allowance, type Budget, budgetFor, type GateConfig } from './budgets.js';

export { type Check, type ModelVerdict, type Outcome, type Verdict, VERDICT_SCHEMA };

export interface GateOptions {
  config: GateConfig;
  flags: Partial<Budget>;
  reference?: string;
  bootstrap?: number;
  /** Compare results measured differently (another backend, provider, resolution, batch or threads), saying so in the verdict. */
  allowSetupChange?: boolean;
}

/** What makes two measurements of a model comparable: the same backend, provider, input and threads. */
function setupOf(r: ModelResult): Record<string, unknown> {
  return {
    backend: r.backend,
    'execution provider': r.settings?.execution_provider,
    resolution: r.resolution,
    batch: r.batch,
    threads: r.settings?.threads,
    device: r.device?.id,
  };
}

/** Every way a model's baseline and current setups differ, as `model: what baseline -> current`. */
function setupChanges(base: Map<string, ModelResult>, cur: Map<string, ModelResult>): string[] {
  const changes: string[] = [];
  for (const [model, b] of base) {
    const [sb, sc] = [setupOf(b), setupOf(cur.get(model)!)];
    for (const key of Object.keys(sb)) if (JSON.stringify(sb[key]) !== JSON.stringify(sc[key])) changes.push(`${model}: ${key} ${sb[key] ?? '-'} -> ${sc[key] ?? '-'}`);
  }
  return changes;
}

/** 95% percentile-bootstrap CI of median(b) / median(a) - 1. */
export function bootstrapChange(a: number[], b: number[], resamples = 2000, seed = 1): [number, number] {
  // Seeded: the same files always give the same verdict.
  const next = mulberry32(seed);
  const draw = (xs: number[], into: Float64Array) => {
    for (let i = 0; i < into.length; i++) into[i] = xs[Math.floor(next() * xs.length)];
    return median(into);
  };
  const [ba, bb] = [new Float64Array(a.length), new Float64Array(b.length)];
  const changes = new Float64Array(resamples);
  for (let i = 0; i < resamples; i++) changes[i] = draw(b, bb) / draw(a, ba) - 1;
  changes.sort();
  return [changes[Math.floor(0.025 * resamples)], changes[Math.ceil(0.975 * resamples) - 1]];
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

function allowanceCheck(metric: 'params' | 'macs', base: number, cur: number, allow: Allowance): Check {
  const limit = 'relative' in allow ? base * allow.relative : allow.absolute;
  return {
    metric,
    baseline: base,
    current: cur,
    change: base ? cur / base - 1 : 0,
    basis: 'exact count',
    limit: 'relative' in allow ? `+${pct(allow.relative)}` : `+${allow.absolute}`,
    outcome: cur - base > limit ? 'regression' : cur < base ? 'improvement' : 'pass',
  };
}

/** What latency the gate compares for a result: paired ratios to the reference, or raw samples. */
function latencySeries(r: ModelResult, reference: string | undefined, side: string): { values: number[]; basis: string } {
  if (!reference) return { values: r.latency_ms.samples, basis: 'median ms' };
  if (r.vs_reference?.model !== reference) {
    throw new UsageError(`${side} has no measurements of ${r.model} against reference ${reference}: profile with --reference ${reference}`);
  }
  return { values: r.vs_reference.ratios, basis: `median ratio to ${reference}` };
}

function latencyCheck(base: ModelResult, cur: ModelResult, limit: number, reference: string | undefined, resamples: number): Check {
  if (!reference && (!base.latency_ms.samples.length || !cur.latency_ms.samples.length)) return summaryCheck(base, cur, limit);
  const a = latencySeries(base, reference, 'the baseline');
  const b = latencySeries(cur, reference, 'the current results');
  const [mb, mc] = [median(a.values), median(b.values)];
  const change = mc / mb - 1;
  const ci95 = bootstrapChange(a.values, b.values, resamples);
  const outcome: Outcome = change > limit && ci95[0] > 0 ? 'regression' : change < -limit && ci95[1] < 0 ? 'improvement' : 'pass';
  return { metric: 'latency', baseline: mb, current: mc, change, ci95, basis: a.basis, limit: `+${pct(limit)}`, outcome };
}

/**
 * A device harness that prints only a summary (onnxruntime_perf_test, benchmark_model) leaves no
 * runs to resample: compare the summaries' medians (their averages, when they print no median)
 * against the limit alone, and say so in the basis.
 */
function summaryCheck(base: ModelResult, cur: ModelResult, limit: number): Check {
  const statistic = comparedStatistic(base, cur);
  const [mb, mc] = [centralLatency(base.latency_ms), centralLatency(cur.latency_ms)];
  const change = mc / mb - 1;
  const outcome: Outcome = change > limit ? 'regression' : change < -limit ? 'improvement' : 'pass';
  const why = statistic === 'average' ? 'the harness printed no median; ' : '';
  return { metric: 'latency', baseline: mb, current: mc, change, basis: `${statistic} ms from the harness summary (${why}no runs, no CI)`, limit: `+${pct(limit)}`, outcome };
}

/** The one statistic both sides stand for: a median is never compared with an average. */
function comparedStatistic(base: ModelResult, cur: ModelResult): 'median' | 'average' {
  const [a, b] = [statisticName(base.latency_ms), statisticName(cur.latency_ms)];
  if (a !== b) throw new UsageError(`${base.model}: the baseline stands for its ${a} and the current result for its ${b}; a median and an average are not compared (measure both with the same harness build)`);
  return a;
}

function indexByModel(file: ResultsFile, side: string): Map<string, ModelResult> {
  const map = new Map<string, ModelResult>();
  for (const r of file.results) {
    if (map.has(r.model)) throw new UsageError(`${side} lists ${r.model} twice`);
    map.set(r.model, r);
  }
  return map;
}

/** The reference both files were measured against, when every result has one and they agree. */
function commonReference(...files: ResultsFile[]): string | undefined {
  const refs = new Set(files.flatMap((f) => f.results.map((r) => r.vs_reference?.model)));
  return refs.size === 1 ? [...refs][0] : undefined;
}

export function gate(baseline: ResultsFile, current: ResultsFile, options: GateOptions): Verdict {
  if (baseline.schema !== current.schema) throw new UsageError(`baseline is ${baseline.schema}, current is ${current.schema}: compare results of one schema`);
  const reference = options.reference ?? options.config.reference ?? commonReference(baseline, current);
  const base = indexByModel(baseline, 'the baseline');
  const cur = indexByModel(current, 'the current results');
  const onlyBase = [...base.keys()].filter((m) => !cur.has(m));
  const onlyCur = [...cur.keys()].filter((m) => !base.has(m));
  if (onlyBase.length || onlyCur.length) {
    const parts = [onlyBase.length ? `only in the baseline: ${onlyBase.join(', ')}` : '', onlyCur.length ? `only in the current results: ${onlyCur.join(', ')}` : ''];
    throw new UsageError(`baseline and current results cover different models (${parts.filter(Boolean).join('; ')})`);
  }
  if (reference && !base.has(reference)) throw new UsageError(`reference model ${reference} is not in the results; profile with --reference ${reference}`);
  const changes = setupChanges(base, cur);
  if (changes.length && !options.allowSetupChange) {
    throw new UsageError(`baseline and current were measured differently (${changes[0]}${changes.length > 1 ? ` and ${changes.length - 1} more` : ''}): gate like with like, or pass --allow-setup-change to compare them anyway`);
  }

  const models: ModelVerdict[] = [];
  for (const [model, b] of base) {
    const c = cur.get(model)!;
    const budget = budgetFor(options.config, model, options.flags);
    const checks: Check[] = [];
    if (b.params && c.params) checks.push(allowanceCheck('params', b.params.toolbox, c.params.toolbox, budget.params));
    if (b.macs && c.macs) checks.push(allowanceCheck('macs', b.macs.toolbox, c.macs.toolbox, budget.macs));
    // The reference is the yardstick: its own latency is not gated against itself.
    if (model !== reference) checks.push(latencyCheck(b, c, budget.latency, reference, options.bootstrap ?? 2000));
    if (budget.maxLatencyMs !== undefined) {
      const statistic = comparedStatistic(b, c);
      const m = centralLatency(c.latency_ms);
      const baselineMs = centralLatency(b.latency_ms);
      checks.push({
        metric: 'latency_ceiling',
        baseline: baselineMs,
        current: m,
        change: m / baselineMs - 1,
        basis: `${statistic} ms`,
        limit: `<= ${budget.maxLatencyMs} ms`,
        outcome: m > budget.maxLatencyMs ? 'regression' : 'pass',
      });
    }
    models.push({ model, checks, outcome: checks.some((x) => x.outcome === 'regression') ? 'regression' : 'pass' });
  }
  return { schema: VERDICT_SCHEMA, reference, pass: models.every((m) => m.outcome === 'pass'), models, ...(changes.length ? { setup_changes: changes } : {}) };
}
