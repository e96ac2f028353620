/**
 * Reading onnxruntime_perf_test: the figures it prints (run with -s) and what its failures
 * mean. Its output looks like
 *   Setting intra_op_num_threads to 4
 *   Session creation time cost: 0.217932 s
 *   First inference time cost: 196 ms
 *   Average inference time cost total: 98.961997 ms     (older builds: "Average inference time cost")
 *   Runs:50
 *   Min Latency: 0.0958204 s
 *   P50 Latency: 0.0995086 s
 *   ...
 * Units are printed with each figure (latencies in seconds, the first run in ms), and C++
 * streams print small values in scientific notation (9.58e-05 s).
 */
import type { SummaryStats } from '../../core/stats.js';
import { lastLine } from '../../core/text.js';

export interface PerfTestReport {
  /** Latencies of the timed runs, ms. */
  summary: SummaryStats;
  /** Session creation, ms. */
  loadMs: number;
  /** The first inference (perf_test's one warm-up run), ms. */
  firstRunMs: number;
  /** Intra-op threads, when perf_test was told a number. */
  threads?: number;
}

/** The output lacks figures eformer needs; the message names them. */
export class PerfTestOutputError extends Error {}

const TO_MS: Record<string, number> = { s: 1000, ms: 1, us: 0.001 };
const FIGURE = /^([A-Za-z][A-Za-z0-9 ]*?)\s*:\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([a-z%]*)\s*$/;

/** Every `Label: number unit` line, by label (a later line wins). */
function figures(stdout: string): Map<string, { value: number; unit: string }> {
  const found = new Map<string, { value: number; unit: string }>();
  for (const line of stdout.split(/\r?\n/)) {
    const m = FIGURE.exec(line.trim());
    if (m) found.set(m[1], { value: Number(m[2]), unit: m[3] });
  }
  return found;
}

export function parsePerfTest(stdout: string): PerfTestReport {
  const found = figures(stdout);
  const missing: string[] = [];
  let asked = 0;
  // Each needed figure under any of the labels perf_test versions print it as.
  const read = (labels: string[], convert: (f: { value: number; unit: string }) => number | undefined): number => {
    asked++;
    const f = labels.map((l) => found.get(l)).find(Boolean);
    const value = f && convert(f);
    if (value === undefined || !Number.isFinite(value) || value < 0) missing.push(`"${labels[0]}"`);
    return value ?? Number.NaN;
  };
  const ms = (label: string, ...aliases: string[]) => read([label, ...aliases], (f) => (f.unit in TO_MS ? f.value * TO_MS[f.unit] : undefined));
  const count = (...labels: string[]) => read(labels, (f) => (f.unit === '' && Number.isInteger(f.value) && f.value > 0 ? f.value : undefined));

  const loadMs = ms('Session creation time cost');
  const firstRunMs = ms('First inference time cost');
  const summary: SummaryStats = {
    runs: count('Runs', 'Total inference requests'),
    mean: ms('Average inference time cost', 'Average inference time cost total'),
    min: ms('Min Latency'),
    max: ms('Max Latency'),
    median: ms('P50 Latency'),
    p90: ms('P90 Latency'),
    p99: ms('P99 Latency'),
  };
  if (missing.length === asked) {
    throw new PerfTestOutputError(`none of its figures were printed${lastLine(stdout) ? ` (it ended with "${lastLine(stdout).slice(0, 80)}")` : ' (no output)'}`);
  }
  if (missing.length) throw new PerfTestOutputError(`missing ${missing.join(', ')}`);
  const threads = /Setting intra_op_num_threads to (\d+)/.exec(stdout)?.[1];
  return { summary, loadMs, firstRunMs, threads: threads ? Number(threads) : undefined };
}

// A process killed by signal N exits with 128 + N in the device's shell (Linux numbering).
const SIGNALS: Record<number, { name: string; text: RegExp }> = {
  132: { name: 'SIGILL', text: /Illegal instruction/ },
  134: { name: 'SIGABRT', text: /Aborted/ },
  135: { name: 'SIGBUS', text: /Bus error/ },
  136: { name: 'SIGFPE', text: /Floating point exception/ },
  137: { name: 'SIGKILL', text: /^Killed\b/m },
  139: { name: 'SIGSEGV', text: /Segmentation fault/ },
};

/** Why a perf_test run failed, from its exit code and output (stdout and stderr). */
export function perfTestFailure(output: string, exitCode: number | undefined): string {
  const signal = (exitCode !== undefined ? SIGNALS[exitCode] : undefined) ?? Object.values(SIGNALS).find((s) => s.text.test(output));
  if (signal) {
    // An abort is usually an uncaught onnxruntime exception, and its message is the reason.
    const reason = signal.name === 'SIGABRT' ? lastLine(output.split('\n').filter((l) => !signal.text.test(l)).join('\n')) : '';
    const hint = signal.name === 'SIGKILL' ? ' (the phone may have run out of memory)' : '';
    return `onnxruntime_perf_test crashed (${signal.name})${hint}${reason ? `: ${reason}` : ''}`;
  }
  const link = /CANNOT LINK EXECUTABLE.*$/m.exec(output)?.[0];
  if (link) return `onnxruntime_perf_test cannot start: ${link.trim()} (put libonnxruntime.so next to --perf-test)`;
  if (exitCode === 126) return `onnxruntime_perf_test cannot run on this device (built for another CPU or Android version?): ${lastLine(output)}`;
  return `onnxruntime_perf_test exited with ${exitCode ?? 'a signal'}${lastLine(output) ? `: ${lastLine(output)}` : ''}`;
}
