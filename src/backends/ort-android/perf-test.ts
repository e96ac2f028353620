/**
 * Reading onnxruntime_perf_test: the figures it prints (run with -s) and what its failures mean.
 * Builds differ in how they print the same figures, and the parser takes them all:
 *   Session creation time cost: 0.217932 s        (2020 builds: "Session creation time cost:0.133 s")
 *   First inference time cost: 196 ms             (vendor forks: "Warm-up inference time cost: ...")
 *   Average inference time cost total: 98.96 ms   (also "Average inference time cost:", "... (excluding warm-up):",
 *                                                  and the oldest "Average time cost: 58.8 ms")
 *   Total inference requests: 5 / Runs:5          (oldest: "Total iterations: 1000")
 *   Min Latency: 0.0958204 s                      (oldest: "Min Latency is 0.0559777 sec")
 *   P50 / P90 / P95 / P99 / P999 Latency ...
 *   Peak working set size: 36696064 bytes         (2021 builds: "Peak working set size:36696064")
 * Units are printed with each figure, and C++ streams print small values in scientific notation.
 *
 * Only the run's own summary counts: a figure's first unindented appearance. Anything indented
 * after it (the per-shape blocks some builds print with --data_shape) and log lines are left out.
 *
 * perf_test's percentiles are nearest-rank, `sorted[floor(n * q)]` (performance_runner.cc), not
 * eformer's linear interpolation: of 50 runs its P50 is the 26th fastest. Results say so.
 */
import type { SummaryStats } from '../../core/stats.js';
import { lastLine } from '../../core/text.js';
import { deviceCrash } from '../../devices/android.js';

export interface PerfTestReport {
  /** Latencies of the timed runs, ms. */
  summary: SummaryStats;
  /** Session creation, ms (the oldest builds do not print it). */
  loadMs?: number;
  /** The first inference (perf_test's one warm-up run), ms (likewise). */
  firstRunMs?: number;
  /** "Peak working set size": the whole perf_test process's peak resident set, bytes (builds before 1.4 do not print it). */
  peakBytes?: number;
  /** Intra-op threads, when perf_test was told a number. */
  threads?: number;
  /** How perf_test computes its percentiles. */
  quantileRule: typeof PERF_TEST_QUANTILES;
}

export const PERF_TEST_QUANTILES = 'nearest-rank: sorted[floor(n*q)] (onnxruntime_perf_test)';

/** The output lacks figures eformer needs; the message names them and the last line printed. */
export class PerfTestOutputError extends Error {}

/** Every figure perf_test prints that eformer reads, by canonical name, with the labels builds use. */
const LABELS: Record<string, string[]> = {
  sessionCreation: ['Session creation time cost'],
  firstInference: ['First inference time cost', 'Warm-up inference time cost'],
  mean: ['Average inference time cost total', 'Average inference time cost', 'Average inference time cost (excluding warm-up)', 'Average time cost'],
  runs: ['Runs', 'Total inference requests', 'Total iterations'],
  min: ['Min Latency'],
  max: ['Max Latency'],
  p50: ['P50 Latency'],
  p90: ['P90 Latency'],
  p95: ['P95 Latency'],
  p99: ['P99 Latency'],
  p999: ['P999 Latency'],
};

const TO_MS: Record<string, number> = { s: 1000, sec: 1000, ms: 1, us: 0.001 };
const NUMBER = '([-+]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][-+]?\\d+)?)';
/** `Label: 1.5 s`, `Label:1.5 s`, `Label is 1.5 sec` (a figure line), anchored at column 0. */
const FIGURE = new RegExp(`^([A-Za-z][A-Za-z0-9 ()-]*?)\\s*(?::|\\sis\\s)\\s*${NUMBER}\\s*([a-z%]*)\\s*$`);

export interface Figure {
  value: number;
  unit: string;
  /** The line it came from, for messages. */
  line: string;
}

/** The run's own figures: each label's first appearance on an unindented line. */
export function perfTestFigures(stdout: string): Map<string, Figure> {
  const byLabel = new Map<string, Figure>();
  for (const line of stdout.split(/\r?\n/)) {
    if (/^\s/.test(line)) continue; // indented: a per-shape block, not the run's summary
    const m = FIGURE.exec(line.trimEnd());
    if (m && !byLabel.has(m[1])) byLabel.set(m[1], { value: Number(m[2]), unit: m[3], line: line.trim() });
  }
  const found = new Map<string, Figure>();
  for (const [name, labels] of Object.entries(LABELS)) {
    const f = labels.map((l) => byLabel.get(l)).find(Boolean);
    if (f) found.set(name, f);
  }
  return found;
}

export function parsePerfTest(stdout: string): PerfTestReport {
  const found = perfTestFigures(stdout);
  const missing: string[] = [];
  const unreadable: string[] = [];
  let asked = 0;
  const read = (name: string, convert: (f: Figure) => number | undefined): number => {
    asked++;
    const f = found.get(name);
    if (!f) {
      missing.push(`"${LABELS[name][0]}"`);
      return Number.NaN;
    }
    const value = convert(f);
    if (value === undefined || !Number.isFinite(value) || value < 0) {
      unreadable.push(`"${f.line}"`);
      return Number.NaN;
    }
    return value;
  };
  const ms = (name: string) => read(name, (f) => (f.unit in TO_MS ? f.value * TO_MS[f.unit] : undefined));
  const count = (name: string) => read(name, (f) => (f.unit === '' && Number.isInteger(f.value) && f.value > 0 ? f.value : undefined));

  const optional = (name: string) => (found.has(name) ? ms(name) : undefined);
  const loadMs = optional('sessionCreation');
  const firstRunMs = optional('firstInference');
  const summary: SummaryStats = { runs: count('runs'), mean: ms('mean'), min: ms('min'), max: ms('max'), median: ms('p50'), p90: ms('p90'), p99: ms('p99') };
  if (unreadable.length) throw new PerfTestOutputError(`cannot read ${unreadable.join(', ')}`);
  if (missing.length === asked) {
    throw new PerfTestOutputError(`none of its figures were printed${lastLine(stdout) ? ` (it ended with "${lastLine(stdout).slice(0, 80)}")` : ' (no output)'}`);
  }
  if (missing.length) throw new PerfTestOutputError(`missing ${missing.join(', ')}${missing.some((m) => m.includes('Latency')) ? ' (was it run with -s? older builds print no per-run statistics)' : ''}`);
  const threads = /Setting intra_op_num_threads to (\d+)/.exec(stdout)?.[1];
  // Printed in bytes ("Peak working set size: 36696064 bytes"; 2021 builds drop the unit and the space).
  const peak = /^Peak working set size:\s*(\d+)(?:\s*bytes)?\s*$/m.exec(stdout)?.[1];
  const peakBytes = peak !== undefined && Number(peak) > 0 && Number.isSafeInteger(Number(peak)) ? Number(peak) : undefined;
  return { summary, loadMs, firstRunMs, peakBytes, threads: threads ? Number(threads) : undefined, quantileRule: PERF_TEST_QUANTILES };
}

/** Why a perf_test run failed, from its exit code and output (stdout and stderr). */
export function perfTestFailure(output: string, exitCode: number | undefined): string {
  // An abort is usually an uncaught onnxruntime exception, and its message is the reason.
  const crash = deviceCrash('onnxruntime_perf_test', output, exitCode);
  if (crash) return crash;
  const link = /CANNOT LINK EXECUTABLE.*$/m.exec(output)?.[0];
  if (link) return `onnxruntime_perf_test cannot start: ${link.trim()} (put libonnxruntime.so next to --perf-test)`;
  if (exitCode === 126) return `onnxruntime_perf_test cannot run on this device (built for another CPU or Android version?): ${lastLine(output)}`;
  return `onnxruntime_perf_test exited with ${exitCode ?? 'a signal'}${lastLine(output) ? `: ${lastLine(output)}` : ''}`;
}
