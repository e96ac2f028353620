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
 *
 * Memory (memory_mb.peak) and load time (load_ms) are noisier than counts and have no runs to
 * resample: gated only when a budget names them, by a single relative threshold on the two values
 * (no bootstrap), or an absolute ceiling. A budget on a figure the current results lack cannot be
 * evaluated and fails, naming the reason they give; a figure the baseline lacks skips the relative
 * budget, saying so.
 *
 * Raw medians of two processes are not compared unless asked (`rawMedians`): an A/A comparison
 * of two `profile` runs without a reference gave "+5.9% REGRESSION" here, and the bootstrap CI,
 * which sees only the spread within each run, cannot know about the drift between them.
 */
import { MAX_RUNS } from '../backends/timing.js';
import { UsageError } from '../core/errors.js';
import { giveWay } from '../core/interrupt.js';
import { mulberry32 } from '../core/random.js';
import { centralLatency, median, statisticName } from '../core/stats.js';
import type { ModelResult, ResultsFile } from '../results/results.js';
import { type Check, type ModelVerdict, type Outcome, type Verdict, VERDICT_SCHEMA } from '../results/verdict.js';
import { type Allowance, type Budget, budgetFor, DEFAULT_REFERENCE, type GateConfig } from './budgets.js';

export { type Check, type ModelVerdict, type Outcome, type Verdict, VERDICT_SCHEMA };

export interface GateOptions {
  config: GateConfig;
  flags: Partial<Budget>;
  reference?: string;
  bootstrap?: number;
  /** Compare results measured differently (another backend, provider, resolution, batch or threads), saying so in the verdict. */
  allowSetupChange?: boolean;
  /**
   * Compare raw medians when the files hold no common reference (unsafe: medians of separate
   * processes drift 10-20% on shared machines). Without it such a comparison is refused.
   */
  rawMedians?: boolean;
}

/** Why raw medians are unsafe, in the words every report and refusal uses. */
export const RAW_MEDIANS_DRIFT = 'medians of separate processes drift ~10-20% on a shared machine';

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
  const [resampleA, resampleB] = [medianOfResample(a, next), medianOfResample(b, next)];
  const changes = new Float64Array(resamples);
  for (let i = 0; i < resamples; i++) {
    // b is drawn first, as the formula reads: the draws, and so the verdicts, are those of sorting each resample.
    const mb = resampleB();
    changes[i] = mb / resampleA() - 1;
  }
  changes.sort();
  return [changes[Math.floor(0.025 * resamples)], changes[Math.ceil(0.975 * resamples) - 1]];
}

/**
 * The median of n draws with replacement from `xs`, without sorting each resample: a draw's rank
 * in the sorted data is counted, and the middle ranks are found by walking the counts, O(n) a
 * resample instead of O(n log n). The same values, interpolated as stats.quantile does.
 */
function medianOfResample(xs: number[], next: () => number): () => number {
  const n = xs.length;
  const order = Array.from(xs.keys()).sort((i, j) => xs[i] - xs[j]);
  const rank = new Int32Array(n);
  order.forEach((i, r) => (rank[i] = r));
  const sorted = order.map((i) => xs[i]);
  const counts = new Int32Array(n);
  const pos = (n - 1) * 0.5;
  const [lo, hi] = [Math.floor(pos), Math.ceil(pos)];
  return () => {
    counts.fill(0);
    for (let k = 0; k < n; k++) counts[rank[Math.floor(next() * n)]]++;
    // The values at positions lo and hi of the sorted resample.
    let seen = 0;
    let r = 0;
    while (seen + counts[r] <= lo) seen += counts[r++];
    const vLo = sorted[r];
    while (seen + counts[r] <= hi) seen += counts[r++];
    const vHi = sorted[r];
    return vLo + (vHi - vLo) * (pos - lo);
  };
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
  if (!reference) return { values: r.latency_ms.samples, basis: 'raw median ms' };
  if (r.vs_reference?.model !== reference) {
    throw new UsageError(`${side} has no measurements of ${r.model} against reference ${reference}: profile with --reference ${reference}`);
  }
  return { values: r.vs_reference.ratios, basis: `median ratio to ${reference}` };
}

/**
 * The most samples one model's bootstrap draws, over its resamples (2000 x 20,000 samples: a
 * fraction of a second). The samples come from files: a million of them took minutes, deaf to
 * Ctrl-C. profile keeps at most MAX_RUNS runs a model, well within it.
 */
export const MAX_BOOTSTRAP_DRAWS = 40_000_000;

function latencyCheck(base: ModelResult, cur: ModelResult, limit: number, reference: string | undefined, resamples: number): Check {
  if (!reference && (!base.latency_ms.samples.length || !cur.latency_ms.samples.length)) return summaryCheck(base, cur, limit);
  const a = latencySeries(base, reference, 'the baseline');
  const b = latencySeries(cur, reference, 'the current results');
  if ((a.values.length + b.values.length) * resamples > MAX_BOOTSTRAP_DRAWS) {
    throw new UsageError(
      `${base.model} has ${a.values.length} baseline and ${b.values.length} current samples; the gate resamples at most ${MAX_BOOTSTRAP_DRAWS / resamples} a model (${resamples} times), and profile keeps at most ${MAX_RUNS} runs`,
    );
  }
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

/** The cost figures a budget may guard: the value gated, and the field of `absent` that says why it is missing. */
const COSTS = {
  memory: { figure: 'memory_mb', basis: 'peak MB (memory_mb.peak)', unit: 'MB', value: (r: ModelResult) => r.memory_mb?.peak },
  load: { figure: 'load_ms', basis: 'load ms', unit: 'ms', value: (r: ModelResult) => r.load_ms },
} as const;

/** Why `r` has no `figure`, in the results file's words. */
const absentWhy = (r: ModelResult, figure: 'memory_mb' | 'load_ms') => r.absent?.[figure] ?? 'the results give no reason';

/** The memory and load checks a budget asks for: relative growth over the baseline, and absolute ceilings. */
function costChecks(b: ModelResult, c: ModelResult, budget: Budget): Check[] {
  const checks: Check[] = [];
  for (const metric of ['memory', 'load'] as const) {
    const cost = COSTS[metric];
    const [vb, vc] = [cost.value(b), cost.value(c)];
    const missing = (m: Check['metric'], limit: string): Check => ({
      metric: m,
      baseline: vb ?? null,
      current: null,
      change: null,
      basis: cost.basis,
      limit,
      outcome: 'missing',
      note: `the budget cannot be evaluated: the current results have no ${cost.figure} (${absentWhy(c, cost.figure)})`,
    });
    const relative = budget[metric];
    if (relative !== undefined) {
      const limit = `+${pct(relative)}`;
      if (vc === undefined) checks.push(missing(metric, limit));
      else if (vb === undefined) {
        checks.push({ metric, baseline: null, current: vc, change: null, basis: cost.basis, limit, outcome: 'skipped', note: `skipped: the baseline has no ${cost.figure} (${absentWhy(b, cost.figure)})` });
      } else {
        const change = vc / vb - 1;
        checks.push({ metric, baseline: vb, current: vc, change, basis: cost.basis, limit, outcome: change > relative ? 'regression' : change < -relative ? 'improvement' : 'pass' });
      }
    }
    const ceiling = metric === 'memory' ? budget.maxMemoryMb : budget.maxLoadMs;
    if (ceiling !== undefined) {
      const limit = `<= ${ceiling} ${cost.unit}`;
      if (vc === undefined) checks.push(missing(`${metric}_ceiling`, limit));
      else checks.push({ metric: `${metric}_ceiling`, baseline: vb ?? null, current: vc, change: vb === undefined ? null : vc / vb - 1, basis: cost.basis, limit, outcome: vc > ceiling ? 'regression' : 'pass' });
    }
  }
  return checks;
}

function indexByModel(file: ResultsFile, side: string): Map<string, ModelResult> {
  const map = new Map<string, ModelResult>();
  for (const r of file.results) {
    if (map.has(r.model)) throw new UsageError(`${side} lists ${r.model} twice`);
    map.set(r.model, r);
  }
  return map;
}

/** The one reference every result of these files was measured against (undefined: none, or several). */
export function commonReference(...files: Pick<ResultsFile, 'results'>[]): string | undefined {
  const refs = new Set(files.flatMap((f) => f.results.map((r) => r.vs_reference?.model)));
  return refs.size === 1 ? [...refs][0] : undefined;
}

/** What a side was measured against, in words: `mobilenetv2_100`, `no reference`, or the mix. */
function referencesOf(file: Pick<ResultsFile, 'results'>): string {
  const refs = [...new Set(file.results.map((r) => r.vs_reference?.model ?? 'no reference'))];
  return refs.length === 1 ? (refs[0] === 'no reference' ? 'no reference' : `reference ${refs[0]}`) : `a mix (${refs.join(', ')})`;
}

/**
 * The reference the gate compares latency against: the one asked for, else the one both files
 * were measured against, else the budgets file's. With none, raw medians are compared only when
 * asked (`rawMedians`); otherwise this refuses, saying what each side holds and what to do.
 */
export function gateReference(baseline: Pick<ResultsFile, 'results'>, current: Pick<ResultsFile, 'results'>, options: Pick<GateOptions, 'reference' | 'config' | 'rawMedians'>): string | undefined {
  const reference = options.reference ?? commonReference(baseline, current) ?? options.config.reference;
  if (reference || options.rawMedians) return reference;
  const [b, c] = [referencesOf(baseline), referencesOf(current)];
  const onDevice = [...baseline.results, ...current.results].some((r) => r.device);
  const sides = b === c ? `both sides have ${b}` : `the baseline has ${b}, the current results ${c}`;
  const fix = onDevice
    ? 'a device harness times one model at a time, so pass --raw-medians to compare raw medians anyway'
    : `profile both again (profile --json times ${DEFAULT_REFERENCE} in every round by default; --reference MODEL names another), or pass --raw-medians to compare raw medians anyway`;
  throw new UsageError(`the gate compares latency as the ratio to a reference model timed in the same rounds, and ${sides} (raw ${RAW_MEDIANS_DRIFT}): ${fix}`);
}

/** Compare `current` with `baseline` under the budgets: the verdict. */
export function gate(baseline: ResultsFile, current: ResultsFile, options: GateOptions): Verdict {
  const steps = gateSteps(baseline, current, options);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * The same, giving way to the event loop between models: a model's bootstrap can take half a second,
 * and a whole zoo's many seconds in which Ctrl-C and SIGTERM would wait (their handlers are JavaScript).
 */
export async function gateAsync(baseline: ResultsFile, current: ResultsFile, options: GateOptions): Promise<Verdict> {
  const steps = gateSteps(baseline, current, options);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await giveWay();
  }
}

/** The gate, one model at a time: it yields after each model's checks. */
function* gateSteps(baseline: ResultsFile, current: ResultsFile, options: GateOptions): Generator<void, Verdict> {
  if (baseline.schema !== current.schema) throw new UsageError(`baseline is ${baseline.schema}, current is ${current.schema}: compare results of one schema`);
  const base = indexByModel(baseline, 'the baseline');
  const cur = indexByModel(current, 'the current results');
  const onlyBase = [...base.keys()].filter((m) => !cur.has(m));
  const onlyCur = [...cur.keys()].filter((m) => !base.has(m));
  if (onlyBase.length || onlyCur.length) {
    // A reference timed on one side only: say that the references differ, not only that a model does.
    const referencesOnly = [...onlyBase, ...onlyCur].every((m) => m === commonReference(baseline) || m === commonReference(current));
    if (referencesOnly) gateReference(baseline, current, options);
    const parts = [onlyBase.length ? `only in the baseline: ${onlyBase.join(', ')}` : '', onlyCur.length ? `only in the current results: ${onlyCur.join(', ')}` : ''];
    throw new UsageError(`baseline and current results cover different models (${parts.filter(Boolean).join('; ')})`);
  }
  const changes = setupChanges(base, cur);
  if (changes.length && !options.allowSetupChange) {
    throw new UsageError(`baseline and current were measured differently (${changes[0]}${changes.length > 1 ? ` and ${changes.length - 1} more` : ''}): gate like with like, or pass --allow-setup-change to compare them anyway`);
  }
  const reference = gateReference(baseline, current, options);
  if (reference && !base.has(reference)) throw new UsageError(`reference model ${reference} is not in the results; profile with --reference ${reference}`);

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
    checks.push(...costChecks(b, c, budget));
    const outcome = checks.some((x) => x.outcome === 'regression') ? 'regression' : checks.some((x) => x.outcome === 'missing') ? 'missing' : 'pass';
    models.push({ model, checks, outcome });
    yield;
  }
  const latency_compared = reference ? `the median of per-round ratios to ${reference}, timed in the same rounds (its own latency is not gated)` : `raw medians (--raw-medians), unsafe: ${RAW_MEDIANS_DRIFT}`;
  return { schema: VERDICT_SCHEMA, reference, latency_compared, ...(reference ? {} : { raw_medians: true as const }), pass: models.every((m) => m.outcome === 'pass'), models, ...(changes.length ? { setup_changes: changes } : {}) };
}
