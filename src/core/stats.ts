/**
 * The one statistics module: every median, quantile and latency summary in eformer comes from
 * here, so a figure means the same thing in the timing loop, the results file, the breakdown
 * and the gate.
 *
 * Quantiles interpolate linearly between the two closest ranks: position (n - 1) * q in the
 * sorted data (numpy's default, Hyndman & Fan type 7). The median of an even count is therefore
 * the mean of the two middle values. Device harnesses that print their own summary may use
 * another rule (onnxruntime_perf_test picks the nearest rank); such figures are marked
 * `from_summary` in the results.
 *
 * The figure that stands for a measurement (in tables, the gate, latency tables) is its median,
 * except where a harness prints no median at all: older LiteRT benchmark_model builds print only an
 * average. Such a result says `statistic: 'mean'`, has no median, and is compared as an average,
 * never passed off as a median (`centralLatency`).
 */

/** Which figure stands for a measurement: its median, or (a harness that prints no median) its average. */
export type CentralStatistic = 'median' | 'mean';

export interface LatencyStats {
  /**
   * The figure compared in tables, the gate and latency tables. Absent in files from before it
   * existed, which all compare the median.
   */
  statistic?: CentralStatistic;
  /** Absent only when a harness's summary holds no median (then `statistic` is 'mean'). */
  median?: number;
  mean: number;
  /** Absent when a harness's summary does not print them. */
  p90?: number;
  p99?: number;
  /** The 5th and 95th percentiles, where a harness prints those instead (LiteRT's benchmark_model). */
  p5?: number;
  p95?: number;
  min: number;
  max: number;
  /** Absent when only a harness's summary is known. */
  std?: number;
  /** Coefficient of variation: std / mean. */
  cov?: number;
  /** Distribution-free 95% confidence interval of the median (order statistics). */
  median_ci95?: [number, number];
  /** Every kept run, in order; empty when the harness printed only a summary. */
  samples: number[];
  /** True when these figures are a device harness's own summary, not computed from samples. */
  from_summary?: boolean;
  /** How the median and percentiles were computed (LINEAR_QUANTILES, or a harness's own rule). */
  quantile_rule?: string;
}

/** eformer's own rule, recorded with every statistic it computes. */
export const LINEAR_QUANTILES = 'linear: sorted[(n-1)q] interpolated (numpy default)';

/** Statistics computed here from every run: the median and percentiles are always there. */
export type SampledStats = LatencyStats & { statistic: 'median'; median: number; p90: number; p99: number };

/** A latency summary when a harness prints statistics but not the runs themselves; it may lack a median and percentiles. */
export interface SummaryStats {
  runs: number;
  mean: number;
  min: number;
  max: number;
  median?: number;
  p90?: number;
  p99?: number;
  p5?: number;
  p95?: number;
  /** Standard deviation of the runs, when the harness prints it. */
  std?: number;
}

/** The figure that stands for a measurement: its median, or its average when it has no median (see `statistic`). */
export function centralLatency(s: Pick<LatencyStats, 'statistic' | 'median' | 'mean'>): number {
  if (s.statistic === 'mean') return s.mean;
  if (s.median === undefined) throw new Error('latency statistics without a median must say statistic: "mean"');
  return s.median;
}

/** The name of that figure, for tables, verdicts and messages. */
export function statisticName(s: Pick<LatencyStats, 'statistic'>): 'median' | 'average' {
  return s.statistic === 'mean' ? 'average' : 'median';
}

/** Quantile q of data already sorted ascending (type 7, see above). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Ascending copy as a Float64Array (typed sort is numeric and fast in hot loops). */
export function sortedCopy(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

/**
 * Per-round ratios of two models timed in the same interleaved rounds (`measure`): sample k of
 * each comes from round k. In --min-time mode a model stops once it has its time, so the faster
 * one has more samples; only the rounds both ran pair up.
 */
export function sameRoundRatios(samples: readonly number[], reference: readonly number[]): number[] {
  const n = Math.min(samples.length, reference.length);
  return Array.from({ length: n }, (_, k) => samples[k] / reference[k]);
}

export function median(values: ArrayLike<number>): number {
  return quantile(sortedCopy(values), 0.5);
}

/**
 * Ranks j < k with P(X(j) <= median <= X(k)) >= 95% for n samples, by the normal
 * approximation to Binomial(n, 1/2): n/2 -+ 1.96 sqrt(n)/2.
 */
export function medianCi(sorted: ArrayLike<number>): [number, number] {
  const n = sorted.length;
  if (n < 6) return [sorted[0], sorted[n - 1]];
  const half = (1.96 * Math.sqrt(n)) / 2;
  const j = Math.max(0, Math.floor(n / 2 - half) - 1);
  const k = Math.min(n - 1, Math.ceil(n / 2 + half));
  return [sorted[j], sorted[k]];
}

/** Below this many runs there is no meaningful confidence interval of the median (nor a spread below 2). */
export const MIN_RUNS_FOR_CI = 6;

export function latencyStats(samples: readonly number[]): SampledStats {
  const sorted = sortedCopy(samples);
  const n = sorted.length;
  const mean = sorted.reduce((s, v) => s + v, 0) / n;
  const std = n > 1 ? Math.sqrt(sorted.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1)) : undefined;
  return {
    statistic: 'median',
    median: quantile(sorted, 0.5),
    mean,
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    min: sorted[0],
    max: sorted[n - 1],
    ...(std !== undefined ? { std, cov: mean > 0 ? std / mean : 0 } : {}),
    ...(n >= MIN_RUNS_FOR_CI ? { median_ci95: medianCi(sorted) } : {}),
    samples: [...samples],
    quantile_rule: LINEAR_QUANTILES,
  };
}

/**
 * Statistics a harness printed itself (P50 as the median) by its own `rule`; no samples, so no CI.
 * A summary without a median is compared by its average, and says so (`statistic: 'mean'`).
 */
export function summaryStats(s: SummaryStats, rule: string): LatencyStats {
  const defined = <T extends object>(o: T) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
  const spread = s.std !== undefined ? { std: s.std, cov: s.mean > 0 ? s.std / s.mean : 0 } : {};
  return {
    statistic: s.median !== undefined ? 'median' : 'mean',
    ...defined({ median: s.median, p90: s.p90, p99: s.p99, p5: s.p5, p95: s.p95 }),
    mean: s.mean,
    min: s.min,
    max: s.max,
    ...spread,
    samples: [],
    from_summary: true,
    quantile_rule: rule,
  };
}

/** Above this coefficient of variation a measurement is flagged as noisy. */
export const NOISY_COV = 0.1;
