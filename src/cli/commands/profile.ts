import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import { backends, findBackend } from '../../backends/index.js';
import { MAX_RUNS } from '../../backends/timing.js';
import { checkOutputs, type InputPath, writeFileAtomic } from '../../core/fs.js';
import { DEFAULT_REFERENCE } from '../../gate/budgets.js';
import { checkBaselineComparable, checkGateOutputs, referenceToTime } from '../../gate/run.js';
import { findModel, papersZooNames } from '../../models/index.js';
import { parseShapeOption } from '../../onnx/read.js';
import { measuredBefore, profile } from '../../profile/profile.js';
import { findFormat, formats } from '../../report/formats/index.js';
import { readResults, type ResultsFile } from '../../results/results.js';
import { addBackendFlags, backendOptionValues } from '../backend-flags.js';
import { addGateFlags, addInt8Flags, addModelFlags, checkModelFlags, type Int8Flags, int8Options, integer, type ModelFlags, positiveSeconds } from '../flags.js';

/** --min-time: an hour of timed runs a model (--runs caps at MAX_RUNS the same way). */
const MAX_MIN_TIME_SECONDS = 3600;
import { progressBar } from '../progress.js';
import { checkThreads } from '../warnings.js';
import { gateAndReport } from './gate.js';

interface ProfileOptions extends ModelFlags, Int8Flags {
  precision?: ('fp32' | 'int8')[];
  [flag: string]: unknown;
  shard?: { index: number; count: number };
  baseline?: string;
  model?: string[];
  onnx?: string[];
  shape?: Record<string, number[]>;
  backend: string;
  threads?: number;
  graphOpt: 'disabled' | 'basic' | 'extended' | 'all';
  ep?: string;
  device?: string;
  timeout?: number;
  batch: number;
  warmup?: number;
  runs?: number;
  minTime?: number;
  singleSession: boolean;
  coldStart: boolean;
  breakdown?: boolean;
  json?: string;
  format: string;
  quiet?: boolean;
  wide?: boolean;
  /** A model name, or false for --no-reference. */
  reference?: string | false;
}

const shapes = (value: string, previous: Record<string, number[]> = {}) => {
  const [name, shape] = parseShapeOption(value);
  return { ...previous, [name]: shape };
};

const precisionList = (value: string) => {
  const list = [...new Set(value.split(',').map((s) => s.trim()))];
  const bad = list.find((p) => p !== 'fp32' && p !== 'int8');
  if (bad !== undefined || list.length === 0) throw new InvalidArgumentError(`--precision takes fp32, int8 or fp32,int8, got '${value}'`);
  return list as ('fp32' | 'int8')[];
};

const shardOption = (value: string) => {
  const m = /^(\d+)\/(\d+)$/.exec(value.trim());
  if (!m || Number(m[1]) < 1 || Number(m[1]) > Number(m[2])) throw new InvalidArgumentError(`--shard must look like 1/4 (1 <= I <= N), got '${value}'`);
  return { index: Number(m[1]), count: Number(m[2]) };
};

/** Formats that print to a terminal (the HTML report is for `eformer report -o`). */
const PRINTABLE = formats.filter((f) => f.id !== 'html').map((f) => f.id);

export function register(program: Command): void {
  const cmd = program
    .command('profile')
    .description('measure params, MACs and latency; with no arguments, the paper zoo on the embedded ONNX Runtime CPU backend');
  addModelFlags(cmd, { defaults: "the EfficientFormer papers' nine models unless --onnx, --config or --hf-config" })
    .option('--onnx <files...>', 'profile ONNX files you bring instead of (or besides) zoo models')
    .option('--shape <name=dims>', 'input shape for a dynamic input of --onnx, e.g. image=1x3x224x224 (repeatable)', shapes)
    .addOption(new Option('-b, --backend <id>', `where to run: ${backends.map((b) => `${b.id} (${b.description})`).join('; ')}`).choices(backends.map((b) => b.id)).default('ort-cpu'))
    .option('-t, --threads <n>', "intra-op threads (default: all cores; on a device, the runtime's choice)", integer('--threads'))
    .addOption(new Option('--graph-opt <level>', 'onnxruntime graph optimisation level').choices(['disabled', 'basic', 'extended', 'all']).default('all'))
    .option('--ep <provider>', 'execution provider: cpu (default) and what onnxruntime-node bundles; wasm on ort-web; cpu, xnnpack, nnapi on ort-android; cpu (XNNPACK) on litert; the delegate xnnpack (default), gpu or nnapi on litert-android');
  addBackendFlags(cmd)
    .option('--batch <n>', 'batch size', integer('--batch'), 1)
    .option('--warmup <n>', 'fixed warm-up runs (default: until latency settles; device backends: 10)', integer('--warmup', 0, MAX_RUNS))
    .option('--runs <n>', `timed runs per model, at most ${MAX_RUNS} (default: adaptive, see --min-time; device backends: 100)`, integer('--runs', 1, MAX_RUNS))
    .option('--min-time <s>', 'seconds of timed runs per model when --runs is not given (default: 2)', positiveSeconds('--min-time', MAX_MIN_TIME_SECONDS))
    .option('--no-single-session', 'skip timing each model alone with thread spinning on (the as-deployed figure)')
    .option('--no-cold-start', 'skip measuring load time, first inference and peak memory (ort-cpu and litert load each model again in a fresh process for them; ort-web reads its page)')
    .option('--breakdown', "per-op breakdown from the runtime's own profiler, in separate runs after timing (onnxruntime's; on litert-android, benchmark_model's --enable_op_profiling)")
    .option('--json <file>', 'write the results JSON (schema eformer.results/1) to FILE')
    .addOption(new Option('--format <format>', 'what to print').choices(PRINTABLE).default('table'))
    .option('-q, --quiet', 'no progress bar')
    .option('--wide', 'every column in the table, not just what fits 100 columns')
    .option('--reference <model>', `also time this model every round and record each model's ratio to it, what the gate compares (default with --json or --baseline: the baseline's reference, else eformer.config.json's, else ${DEFAULT_REFERENCE}; none on device backends)`)
    .option('--no-reference', 'time no reference model, even with --json or --baseline (the gate then compares only with --raw-medians)')
    .option('--shard <i/n>', 'measure only slice I of N of the models and ONNX files (the reference, when one is timed, in every shard)', shardOption)
    .option('--baseline <file>', 'then gate the results against this baseline (exit 1 on a regression)')
    .option('--precision <list>', 'fp32, int8 or fp32,int8: each model in each precision (int8 as NAME:int8, quantised as `eformer export --int8` does), with the speed-up and fidelity', precisionList);
  addInt8Flags(cmd, { byLayer: false, seed: false });
  addGateFlags(cmd).action(async (opts: ProfileOptions) => {
      checkModelFlags(opts, true);
    const int8 = int8Options(opts, Boolean(opts.precision?.includes('int8')), 0, '--precision int8 (or fp32,int8)');
    const configs = ([] as string[]).concat(opts.config ?? []);
    const models = opts.model ?? (opts.onnx?.length || opts.hfConfig || configs.length ? [] : papersZooNames());
    models.forEach(findModel);
    // Everything that could fail after minutes of measuring is checked first: where the results
    // and the gate's reports go (none of them a file this run reads), and the baseline they will be compared with.
    const inputs: InputPath[] = [
      ...(opts.baseline ? [{ path: opts.baseline, flag: '--baseline' }] : []),
      ...configs.map((path) => ({ path, flag: '--config' })),
      ...(opts.hfConfig ? [{ path: opts.hfConfig, flag: '--hf-config' }] : []),
      ...(opts.ckpt ? [{ path: opts.ckpt, flag: '--ckpt' }] : []),
      ...(opts.onnx ?? []).map((path) => ({ path, flag: '--onnx' })),
    ];
    const json = opts.json ? { path: opts.json, flag: '--json' } : undefined;
    const interleaves = findBackend(opts.backend).kind === 'session';
    const gateSettings = { ...opts, reference: opts.reference || undefined };
    if (opts.baseline) checkGateOutputs(gateSettings, inputs, [json]);
    else checkOutputs([json], inputs);
    const baseline = opts.baseline ? readResults(opts.baseline, '--baseline') : undefined;
    // Results that may be gated time a reference in every round: raw medians drift between processes.
    const reference = referenceToTime(opts, { gated: Boolean(opts.json || opts.baseline), interleaves, baseline });
    if (baseline) checkBaselineComparable(baseline, reference, gateSettings);
    // --threads means this machine's cores only for backends that run here (a phone has its own).
    checkThreads(opts.threads, findBackend(opts.backend).kind);
    const ids = [...models.flatMap((m) => (opts.precision ?? ['fp32']).map((p) => (p === 'int8' ? `${m}:int8` : m))), ...configs.map((f) => f.replace(/^.*\//, '').replace(/\.json$/, '')), ...(opts.onnx ?? []).map((f) => f.replace(/^.*\//, '').replace(/\.onnx$/, ''))];
    let results: ResultsFile;
    try {
      results = await profile({
        models,
        hfConfig: opts.hfConfig,
        configs,
        ckpt: opts.ckpt,
        onnxFiles: opts.onnx,
        shapes: opts.shape,
        backend: opts.backend,
        resolution: opts.resolution,
        batch: opts.batch,
        threads: opts.threads,
        graphOptimization: opts.graphOpt,
        executionProvider: opts.ep,
        device: opts.device,
        timeoutSeconds: opts.timeout,
        backendOptions: backendOptionValues(opts),
        singleSession: opts.singleSession,
        coldStart: opts.coldStart,
        reference,
        shard: opts.shard,
        breakdown: opts.breakdown,
        precisions: opts.precision,
        int8,
        plan: { warmup: opts.warmup, runs: opts.runs, minTime: opts.minTime },
        progress: progressBar(reference && !ids.includes(reference) ? [...ids, reference] : ids, Boolean(opts.quiet)),
      });
    } catch (err) {
      // A run that failed part-way (a device that went away, a breakdown that failed after the timing):
      // keep what it measured, then report the failure.
      const measured = measuredBefore(err);
      if (measured) show(measured, opts);
      throw err;
    }
    show(results, opts);
    if (opts.baseline) await gateAndReport(opts.baseline, results, opts.json, gateSettings);
  });
}

/** Write the JSON (when asked) and print the report. */
function show(results: ResultsFile, opts: ProfileOptions): void {
  if (opts.json) writeFileAtomic(opts.json, `${JSON.stringify(results, null, 1)}\n`);
  if (results.results.length) console.log(findFormat(opts.format).render([results], { wide: Boolean(opts.wide), everyColumn: '--wide or --format markdown/csv' }));
}
