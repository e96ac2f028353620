/**
 * Reading LiteRT's (TensorFlow Lite's) benchmark_model: the figures it prints, the delegation it
 * reports, its per-operator profile, and what its failures mean. Builds since 2018 print the same
 * measurements in different words, and the parser takes them all:
 *
 *   Running benchmark for at least 1 iterations and at least 0.5 seconds ...   (warm-up)
 *   count=40 first=32942 curr=12594 min=11340 max=32942 avg=12581.9 std=3331
 *   Running benchmark for at least 50 iterations and at least 1 seconds ...    (the timed runs)
 *   count=50 first=.. curr=.. min=.. max=.. avg=1.24027e+06 std=2565 p5=.. median=.. p95=..
 *   Inference timings in us: Init: 5579, First inference: .., Warmup (avg): .., Inference (avg): ..
 *       (2019: "Average inference timings in us: Warmup: .., Init: .., no stats: .." or "... Inference: ..")
 *   Memory footprint delta from the start of the tool (MB): init=6.36 overall=109.8
 *       (2020: "Peak memory footprint (MB): init=0 overall=12.87"; with --report_peak_memory_footprint
 *        also "Overall peak memory footprint (MB) via periodic monitoring: 44.2")
 *
 * Every figure is in microseconds, C++ streams print large ones in scientific notation
 * (1.24027e+06), and a statistics line of runs that all took the same time reads
 * `count=1 curr=905463` or `count=10 curr=...(all same)`. Lines may carry a log prefix (`INFO: `,
 * `INFO: [file.h:81] `, or a logcat header when read from the Android benchmark app).
 *
 * The run's figures come from the statistics line after the second "Running benchmark" line (the
 * first is the warm-up), never from the profiler's "Timings (microseconds): count=..." line. Only
 * builds since about TensorFlow Lite 2.19 print a median (nearest-rank, like perf_test: of 50 runs
 * the 26th fastest); older ones print the average alone, and the result then stands for its average.
 */
import type { SummaryStats } from '../../core/stats.js';
import { lastLine } from '../../core/text.js';
import { deviceCrash } from '../../devices/android.js';
import type { OpTime } from '../backend.js';

export const BENCHMARK_MODEL_QUANTILES = 'nearest-rank: sorted[floor(n*q)] (benchmark_model)';

/** How one delegate took the graph, as the runtime reported it. */
export interface Delegation {
  /** As the runtime names it: TfLiteXNNPackDelegate, XNNPACK, GPU, NNAPI, ... */
  delegate: string;
  /** Nodes the delegate replaced, and of how many, where the line says. */
  nodes?: number;
  total?: number;
  partitions?: number;
  /** Delegate kernels ("partially executed by the delegate w/ 44 delegate kernels"). */
  kernels?: number;
  /** complete: the whole graph runs in the delegate; partial: some nodes stay on the CPU; none: nothing runs in it. */
  coverage?: 'complete' | 'partial' | 'none';
  /** The line it was read from. */
  line: string;
}

export interface BenchmarkModelReport {
  /** The timed runs, ms. */
  summary: SummaryStats;
  /** Set when a median was printed: how benchmark_model computes its percentiles. */
  quantileRule?: string;
  /** Creating the interpreter, applying delegates and allocating tensors, ms. */
  initMs?: number;
  /** The first warm-up run, ms. */
  firstRunMs?: number;
  warmupRuns?: number;
  warmupMeanMs?: number;
  /** benchmark_model's memory figures, MB: the footprint added by initialisation and by the whole run, and the sampled peak. */
  memoryMb?: { init?: number; overall?: number; peak?: number };
  /** Threads the tool was told to use (-1: the runtime's choice). */
  threads?: number;
  delegations: Delegation[];
}

/** The output lacks what eformer needs, or contradicts itself; the message says which. */
export class BenchmarkModelOutputError extends Error {}

const NUMBER = '[-+]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][-+]?\\d+)?';
const US_TO_MS = 0.001;

/** A line without its log prefix: logcat's `05-30 15:16:44.857  3380  3380 I tflite  : `, `INFO: `, `INFO: [file.h:81] `. */
export function withoutLogPrefix(line: string): string {
  return line
    .replace(/^\d\d-\d\d \d\d:\d\d:\d\d\.\d+\s+\d+\s+\d+\s+[VDIWEF]\s+[^:]*?\s*:\s?/, '')
    .replace(/^(?:INFO|WARN|WARNING|ERROR|VERBOSE|DEBUG): (?:\[[^\]]*\] ?)?/, '');
}

/** `key=value` pairs of a statistics line (`count=.. first=.. avg=..`), values as numbers. */
function statPairs(line: string): Map<string, number> {
  return new Map([...line.matchAll(new RegExp(`\\b(\\w+)=(${NUMBER})`, 'g'))].map((m) => [m[1], Number(m[2])]));
}

interface RunStats {
  count: number;
  first?: number;
  min: number;
  max: number;
  avg: number;
  std?: number;
  p5?: number;
  median?: number;
  p95?: number;
}

/**
 * One statistics line in microseconds. `count=N curr=X` (N = 1, or "(all same)") means every run
 * took X. A line cut short (no avg, or min above max) is unreadable, never half-read.
 */
function readStats(line: string, what: string): RunStats | undefined {
  const p = statPairs(line);
  const count = p.get('count');
  if (count === undefined || !Number.isInteger(count) || count < 0) throw new BenchmarkModelOutputError(`cannot read the ${what} statistics line "${line.trim().slice(0, 120)}"`);
  if (count === 0) return undefined;
  const curr = p.get('curr');
  const same = !p.has('avg') && curr !== undefined && (count === 1 || /\(all same\)/.test(line));
  const s: RunStats = same
    ? { count, first: curr, min: curr!, max: curr!, avg: curr!, std: 0 }
    : { count, first: p.get('first'), min: p.get('min')!, max: p.get('max')!, avg: p.get('avg')!, std: p.get('std') };
  for (const key of ['p5', 'median', 'p95'] as const) if (p.has(key)) s[key] = p.get(key);
  const numbers = [s.min, s.max, s.avg, s.first, s.std, s.p5, s.median, s.p95].filter((v) => v !== undefined);
  const incomplete = [s.min, s.max, s.avg].some((v) => v === undefined) || numbers.some((v) => !Number.isFinite(v) || v! < 0);
  if (incomplete || s.min > s.avg || s.avg > s.max || (s.median !== undefined && (s.median < s.min || s.median > s.max))) {
    throw new BenchmarkModelOutputError(`the ${what} statistics line is incomplete or inconsistent: "${line.trim().slice(0, 120)}"`);
  }
  return s;
}

/** The statistics line after each "Running benchmark for ..." line: the warm-up's, then the timed runs'. */
function runBlocks(lines: string[]): string[] {
  const blocks: string[] = [];
  lines.forEach((line, i) => {
    if (!/Running benchmark for /.test(line)) return;
    for (let j = i + 1; j < lines.length && !/Running benchmark for /.test(lines[j]); j++) {
      if (/(?:^|\s)count=\d/.test(withoutLogPrefix(lines[j]))) {
        blocks.push(lines[j]);
        return;
      }
    }
  });
  return blocks;
}

/** The first number after `label` on the line that has it (the one summary line each build prints). */
function figureAfter(text: string, label: RegExp): number | undefined {
  const m = new RegExp(`${label.source}\\s*(${NUMBER})`).exec(text);
  return m ? Number(m[1]) : undefined;
}

export function parseBenchmarkModel(stdout: string): BenchmarkModelReport {
  const lines = stdout.split(/\r?\n/);
  const blocks = runBlocks(lines);
  if (blocks.length < 2) {
    const last = lastLine(stdout);
    const why = blocks.length === 1 ? 'it ended after the warm-up' : 'it printed no run statistics';
    throw new BenchmarkModelOutputError(`${why}${last ? ` (the last line was "${last.slice(0, 100)}")` : ' (no output)'}`);
  }
  const warmup = readStats(blocks[0], 'warm-up');
  const timed = readStats(blocks[1], "timed runs'");
  if (!timed) throw new BenchmarkModelOutputError('it made no timed runs (count=0)');

  // The summary line repeats the timed runs' average: a disagreement means the wrong line was read.
  const summaryAvg = figureAfter(stdout, /Inference timings in us:.*Inference \(avg\):/) ?? figureAfter(stdout, /Average inference timings in us:.*(?:no stats|Inference):/);
  if (summaryAvg !== undefined && Math.abs(summaryAvg - timed.avg) > 1e-3 * timed.avg) {
    throw new BenchmarkModelOutputError(`its average (${summaryAvg} us) disagrees with the timed runs' statistics (avg=${timed.avg} us)`);
  }
  const initUs = figureAfter(stdout, /Inference timings in us: Init:/) ?? figureAfter(stdout, /Average inference timings in us:.*Init:/);
  const initMs = initUs !== undefined ? initUs * US_TO_MS : figureAfter(stdout, /Initialized session in/);
  const firstUs = figureAfter(stdout, /First inference:/) ?? warmup?.first ?? timed.first;

  const ms = (us: number | undefined) => (us === undefined ? undefined : us * US_TO_MS);
  const summary: SummaryStats = {
    runs: timed.count,
    mean: timed.avg * US_TO_MS,
    min: timed.min * US_TO_MS,
    max: timed.max * US_TO_MS,
    ...(timed.std !== undefined ? { std: timed.std * US_TO_MS } : {}),
    ...(timed.median !== undefined ? { median: ms(timed.median), p5: ms(timed.p5), p95: ms(timed.p95) } : {}),
  };
  for (const key of Object.keys(summary) as (keyof SummaryStats)[]) if (summary[key] === undefined) delete summary[key];
  const threads = figureAfter(stdout, /Num threads: \[/) ?? figureAfter(stdout, /#threads used for CPU inference: \[/);
  return {
    summary,
    quantileRule: timed.median !== undefined ? BENCHMARK_MODEL_QUANTILES : undefined,
    initMs,
    firstRunMs: ms(firstUs),
    warmupRuns: warmup?.count ?? 0,
    warmupMeanMs: ms(warmup?.avg),
    memoryMb: memoryOf(stdout),
    threads,
    delegations: readDelegations(stdout),
  };
}

function memoryOf(text: string): BenchmarkModelReport['memoryMb'] {
  const delta = new RegExp(`(?:Memory footprint delta from the start of the tool|Peak memory footprint) \\(MB\\): init=(${NUMBER}) overall=(${NUMBER})`).exec(text);
  const peak = figureAfter(text, /Overall peak memory footprint \(MB\) via periodic monitoring:/);
  // LiteRT's CompiledModel tool words them "Init footprint: 8.94 MB" / "Overall footprint: 11.51 MB".
  const init = delta ? Number(delta[1]) : figureAfter(text, /Init footprint:/);
  const overall = delta ? Number(delta[2]) : figureAfter(text, /Overall footprint:/);
  const memory = { init, overall, peak: peak !== undefined && peak > 0 ? peak : undefined };
  return Object.values(memory).some((v) => v !== undefined) ? (Object.fromEntries(Object.entries(memory).filter(([, v]) => v !== undefined)) as BenchmarkModelReport['memoryMb']) : undefined;
}

/** Flags the binary did not know, and so ignored (it warns "Unconsumed cmdline flags: --use_nnapi=true ..."). */
export function ignoredFlags(stdout: string): string[] {
  return (/Unconsumed cmdline flags: *(.*)$/m.exec(stdout)?.[1] ?? '').split(/\s+/).filter((f) => f.startsWith('--'));
}

/** What the runtime said about each delegate it applied (or could not): readable even from a run that failed. */
export function readDelegations(stdout: string): Delegation[] {
  const out: Delegation[] = [];
  for (const raw of stdout.split(/\r?\n/)) {
    const line = withoutLogPrefix(raw).trim();
    let m = /Replacing (\d+)(?: out of (\d+))? node\(s\) with delegate \(([^)]+)\) node, yielding (\d+) partitions/.exec(line);
    if (m) {
      const [nodes, total] = [Number(m[1]), m[2] !== undefined ? Number(m[2]) : undefined];
      const coverage = total !== undefined ? (nodes === 0 ? 'none' : nodes === total ? 'complete' : 'partial') : Number(m[4]) > 1 ? 'partial' : undefined;
      out.push({ delegate: m[3], nodes, total, partitions: Number(m[4]), coverage, line });
      continue;
    }
    m = /Explicitly applied (\w+) delegate, and the model graph will be (completely|partially) executed by the delegate(?: w\/ (\d+) delegate kernels)?/.exec(line);
    if (m) {
      out.push({ delegate: m[1], coverage: m[2] === 'completely' ? 'complete' : 'partial', kernels: m[3] !== undefined ? Number(m[3]) : undefined, line });
      continue;
    }
    m = /Though (\w+) delegate is explicitly applied, the model graph will not be executed by the delegate/.exec(line);
    if (m) {
      out.push({ delegate: m[1], coverage: 'none', line });
      continue;
    }
    m = /^(?:First )?(\d+) operations will run on the GPU, and the remaining (\d+)(?: operations will run)? on the CPU/.exec(line);
    if (m) out.push({ delegate: 'GPU', nodes: Number(m[1]), total: Number(m[1]) + Number(m[2]), coverage: Number(m[1]) === 0 ? 'none' : Number(m[2]) === 0 ? 'complete' : 'partial', line });
  }
  return out;
}

/** Rows that are the runtime's own bookkeeping, not the model's work. */
const BOOKKEEPING = /^(AllocateTensors|ModifyGraphWithDelegate|LiteRT::Run\[.*\])$/;

/**
 * The per-operator profile of the timed runs (`--enable_op_profiling=true`): the "Run Order" table
 * under "Operator-wise Profiling Info for Regular Benchmark Runs", or, in builds that print only
 * one profile, the first Run Order table that is not the initialisation's. Columns are found by
 * their headers ([node type], [avg ms], [Name]) and split on tabs or runs of spaces.
 */
export function parseOpProfile(stdout: string): OpTime[] {
  const lines = stdout.split(/\r?\n/).map(withoutLogPrefix);
  const regular = lines.findIndex((l) => /Operator-wise Profiling Info for Regular Benchmark Runs/.test(l));
  let start = -1;
  let initSection = false;
  for (let i = Math.max(0, regular); i < lines.length; i++) {
    if (/Profiling Info for Benchmark Initialization/.test(lines[i])) initSection = true;
    if (/Operator-wise Profiling Info for Regular Benchmark Runs/.test(lines[i])) initSection = false;
    if (/=+ Run Order =+/.test(lines[i]) && !initSection) {
      start = i;
      break;
    }
  }
  if (start < 0) throw new BenchmarkModelOutputError('it printed no per-operator profile (was it run with --enable_op_profiling=true?)');
  const cells = (l: string) => l.trim().split(/\s*\t\s*|\s{2,}/).map((c) => c.trim());
  const header = cells(lines[start + 1] ?? '');
  const col = (name: string) => header.findIndex((h) => h.toLowerCase() === `[${name}]`);
  const [type, avg, name] = [col('node type'), col('avg ms'), col('name')];
  if (type < 0 || avg < 0) throw new BenchmarkModelOutputError(`cannot read the profile's header "${(lines[start + 1] ?? '').trim().slice(0, 100)}"`);
  const rows: OpTime[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.trim() || /^=+/.test(line.trim())) break;
    const c = cells(line);
    const ms = Number(c[avg]);
    if (c.length !== header.length || !Number.isFinite(ms) || ms < 0) throw new BenchmarkModelOutputError(`cannot read the profile row "${line.trim().slice(0, 100)}"`);
    if (BOOKKEEPING.test(c[type])) continue;
    rows.push({ op: c[type], name: name >= 0 ? c[name].replace(/^\[(.*)\]$/, '$1').replace(/:\d+$/, '') : c[type], ms });
  }
  if (rows.length === 0) throw new BenchmarkModelOutputError('its per-operator profile has no rows');
  return rows;
}

/** Why a benchmark_model run failed, from its exit code and everything it printed (stdout and stderr). */
export function benchmarkModelFailure(output: string, exitCode: number | undefined): string {
  const crash = deviceCrash('benchmark_model', output, exitCode);
  if (crash) return crash;
  const notExecutable = /not executable: (\d+)-bit ELF file|Exec format error|syntax error: .*unexpected/.exec(output);
  if (notExecutable) return `the phone cannot execute benchmark_model (${notExecutable[0]}): it was built for another CPU; get android_aarch64_benchmark_model`;
  const link = /CANNOT LINK EXECUTABLE.*$/m.exec(output)?.[0];
  if (link) return `benchmark_model cannot start: ${link.trim().slice(0, 200)}`;
  const node = /Node number \d+ \((\w+)\) failed to (prepare|invoke)[^\n]*/.exec(output);
  if (node) return `benchmark_model cannot ${node[2] === 'prepare' ? 'load' : 'run'} the model: the ${node[1]} op failed (${node[0].trim()})`;
  const op = /Didn't find op for builtin opcode '(\w+)'[^\n]*/.exec(output);
  if (op) return `benchmark_model cannot load the model: this build has no ${op[1]} kernel (${op[0].trim()})`;
  const failed = /^.*(?:Failed to (?:allocate tensors|invoke|apply \w+ delegate|create \w+ delegate|load model|mmap model)|Benchmarking failed)[^\n]*$/im.exec(output)?.[0];
  if (failed) return `benchmark_model failed: ${withoutLogPrefix(failed.trim()).slice(0, 200)}`;
  const last = lastLine(output).slice(0, 200);
  if (exitCode === 126) return `benchmark_model cannot run on this phone: ${last}`;
  return `benchmark_model exited with ${exitCode ?? 'a signal'}${last ? `: ${last}` : ''}`;
}
