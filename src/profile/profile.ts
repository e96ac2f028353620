/**
 * `eformer profile`: export each zoo model (or take the user's ONNX), open one session per
 * model on the chosen backend, time them round-robin, optionally collect the runtime's own
 * per-node profile, and return a results file. Device backends hand each model to their
 * harness instead (on-device.ts).
 */
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { BackendSession, DeviceBackend, SessionBackend, SessionOptions } from '../backends/backend.js';
import { checkBackendOptions, findBackend } from '../backends/index.js';
import { giveWay } from '../core/interrupt.js';
import { UsageError } from '../core/errors.js';
import { absentUnlessGiven, type ModelCost } from '../core/memory.js';
import { centralLatency, latencyStats, sameRoundRatios, statisticName } from '../core/stats.js';
import type { ModelRequest } from '../pipeline/index.js';
import type { ModelResult, ResultsFile } from '../results/results.js';
import { aggregateTrace, parseTrace, scaleToMedian } from './breakdown.js';
import { profileOnDevice } from './on-device.js';
import { keepMeasured, modelResult, type Precision, type PreparedModel, prepareFile, prepareModel, preparePrecisions, type ProfileInt8Options, resultsFile } from './result.js';

export { measuredBefore } from './result.js';
import { DEFAULT_PLAN, measure, type Progress, timingsBefore, type TimingPlan, warmUp } from '../backends/timing.js';
import { makeWorkDir, removeWorkDir } from '../core/fs.js';

export interface ProfileRequest {
  /** Zoo model names. */
  models?: string[];
  /** A Hugging Face config.json to profile instead of zoo models. */
  hfConfig?: string;
  /** Model config files (eformer.config/1), profiled with the zoo models. */
  configs?: string[];
  /** Checkpoint for the one model profiled (random weights otherwise). */
  ckpt?: string;
  /** Also time this zoo model in every round and record each model's per-round ratio to it. */
  reference?: string;
  /** Measure only slice `index` (1-based) of `count` of the models (the reference always). */
  shard?: { index: number; count: number };
  /** ONNX files the user brings. */
  onnxFiles?: string[];
  /** Models already built in memory (library use: the blocks of a latency table). */
  prepared?: PreparedModel[];
  /** Input shapes for dynamic inputs of user files. */
  shapes?: Record<string, number[]>;
  backend?: string;
  resolution?: number;
  batch?: number;
  threads?: number;
  graphOptimization?: SessionOptions['graphOptimization'];
  executionProvider?: string;
  /** Also time each model alone with spinning on, as apps deploy it (default true). */
  singleSession?: boolean;
  /** Measure each model's load time, first inference and peak memory in a fresh process (default true). */
  coldStart?: boolean;
  plan?: Partial<TimingPlan>;
  /** Collect the runtime's per-node profile (in separate sessions, after timing). */
  breakdown?: boolean;
  breakdownRuns?: number;
  progress?: Progress;
  /** Device backends: --device (serial, UDID or name) and the seconds any one step may take. */
  device?: string;
  timeoutSeconds?: number;
  /** Values of the chosen backend's own options (see Backend.options), passed to it untouched. */
  backendOptions?: Record<string, unknown>;
  /**
   * Profile each model in these precisions (results `NAME` and `NAME:int8`, interleaved in the same
   * rounds on session backends). Without it, models are profiled as exported (fp32) and results carry no precision.
   */
  precisions?: Precision[];
  /** How int8 models are calibrated (seeded random inputs by default). */
  int8?: ProfileInt8Options;
}

export async function profile(req: ProfileRequest): Promise<ResultsFile> {
  const backend = findBackend(req.backend ?? 'ort-cpu');
  const backendOptions = req.backendOptions ?? {};
  checkBackendOptions(backend, backendOptions);
  if (backend.kind === 'device') checkDeviceRequest(backend, req);
  else if (req.breakdown && backend.breakdown === false) throw new UsageError(`--breakdown is not available on ${backend.id}: its runtime writes no per-op profile eformer reads`);
  const precisions = req.precisions;
  if (precisions?.includes('int8')) checkInt8(backend, req);
  await backend.ensureAvailable();
  const plan: TimingPlan = { ...DEFAULT_PLAN, ...req.plan, minTime: req.plan?.minTime ?? DEFAULT_PLAN.minTime };
  if (plan.runs !== undefined && plan.runs < 1) throw new UsageError('--runs must be at least 1');
  if (!(plan.minTime > 0)) throw new UsageError('--min-time must be a positive number of seconds');
  const batch = req.batch ?? 1;
  // Zoo models, configs and ONNX files are sliced together: each goes to one shard.
  const given: (ModelRequest | { onnx: string })[] = [
    ...(req.hfConfig ? [{ hfConfig: req.hfConfig }] : [...(req.models ?? []).map((model) => ({ model })), ...(req.configs ?? []).map((config) => ({ config }))]),
    ...(req.onnxFiles ?? []).map((onnx) => ({ onnx })),
  ];
  const mine = shardOf(given, req.shard);
  const requests = mine.filter((r): r is ModelRequest => !('onnx' in r));
  const onnxFiles = mine.flatMap((r) => ('onnx' in r ? [r.onnx] : []));
  if (req.ckpt && requests.length !== 1) throw new UsageError('--ckpt needs exactly one model (--model NAME, --config or --hf-config)');
  // The checkpoint belongs to the user's model, never to the reference.
  if (req.ckpt) requests[0].ckpt = req.ckpt;
  // The reference, when none of this run's own models is it: timed to cancel drift, nothing more.
  const referenceOnly = req.reference && !requests.some((r) => r.model === req.reference) ? req.reference : undefined;
  if (mine.length === 0 && given.length && !referenceOnly && !req.prepared?.length) {
    const names = given.map((r) => ('onnx' in r ? r.onnx : (r.model ?? r.config ?? r.hfConfig)));
    throw new UsageError(`shard ${req.shard!.index} of ${req.shard!.count} holds none of the ${given.length} model${given.length > 1 ? 's' : ''} given (${names.join(', ')}; they go to shards in turn): use at most ${given.length} shard${given.length > 1 ? 's' : ''}, or time a reference (--reference), which every shard holds`);
  }
  const prepare = async (id: string, make: () => PreparedModel | Promise<PreparedModel>) => {
    req.progress?.({ phase: 'prepare', id, done: 0, total: 1 });
    const model = await make();
    await giveWay();
    return model;
  };
  const models: PreparedModel[] = [];
  for (const r of requests) {
    req.progress?.({ phase: 'prepare', id: r.model ?? r.config ?? 'model', done: 0, total: 1 });
    if (precisions) models.push(...(await preparePrecisions({ ...r, resolution: req.resolution }, batch, precisions, req.int8 ?? { calibration: {} })));
    else models.push(await prepareModel({ ...r, resolution: req.resolution }, batch));
    await giveWay();
  }
  // The reference is timed as exported: it is there to cancel drift, not to be quantised.
  if (referenceOnly) models.push(await prepare(referenceOnly, () => prepareReference(referenceOnly, req.resolution, batch)));
  for (const f of onnxFiles) models.push(await prepare(f, () => prepareFile(f, req.shapes ?? {})));
  const prepared = [...models, ...(req.prepared ?? [])];
  if (prepared.length === 0) throw new UsageError('nothing to profile: name --model or --onnx');
  if (backend.kind === 'device') {
    const file = await profileOnDevice(backend, prepared, {
      device: req.device,
      threads: req.threads,
      graphOptimization: req.graphOptimization ?? 'all',
      executionProvider: req.executionProvider,
      warmup: req.plan?.warmup,
      runs: req.plan?.runs,
      timeoutSeconds: req.timeoutSeconds,
      backendOptions,
      breakdownRuns: req.breakdown ? (req.breakdownRuns ?? 20) : undefined,
      progress: req.progress,
    });
    // A harness times one model at a time: the speed-up is the ratio of the medians (of the averages, where it prints no median).
    for (const r of file.results) {
      const twin = r.int8 && file.results.find((f) => f.model === r.int8!.fp32_model);
      if (twin && statisticName(twin.latency_ms) !== statisticName(r.latency_ms)) continue;
      if (twin) r.int8!.speedup = centralLatency(twin.latency_ms) / centralLatency(r.latency_ms);
      if (twin) r.int8!.paired = false;
    }
    return file;
  }
  return profileSessions(backend, prepared, req, plan, referenceOnly);
}

/** The reference model, built at the run's resolution; a size it cannot take is named as the reference's problem. */
async function prepareReference(reference: string, resolution: number | undefined, batch: number): Promise<PreparedModel> {
  try {
    return await prepareModel({ model: reference, resolution }, batch);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    throw new UsageError(`the reference ${reference}, timed in every round: ${err.message}; name another with --reference, or none with --no-reference`);
  }
}

/** int8 needs a zoo, config or Hugging Face model (eformer quantises its own graph) and a backend that runs QDQ graphs. */
function checkInt8(backend: ReturnType<typeof findBackend>, req: ProfileRequest): void {
  if (req.onnxFiles?.length) throw new UsageError('--precision int8 quantises the models eformer builds; --onnx files are profiled as they are (drop --onnx, or --precision)');
  const ep = req.executionProvider ?? (backend.executionProviderOption ? (req.backendOptions?.[backend.executionProviderOption] as string | undefined) : undefined);
  const supported = backend.int8Providers;
  if (!supported) throw new UsageError(`--precision int8: backend ${backend.id} cannot run int8 models`);
  if (ep !== undefined && !supported.includes(ep)) throw new UsageError(`--precision int8: ${backend.id} runs int8 (QDQ) models on ${supported.join(', ')}, not '${ep}'`);
  if ((req.batch ?? 1) !== 1) throw new UsageError('--precision int8 calibrates batch-1 models: drop --batch');
}

async function profileSessions(backend: SessionBackend, prepared: PreparedModel[], req: ProfileRequest, plan: TimingPlan, referenceOnly?: string): Promise<ResultsFile> {
  const options: SessionOptions = {
    threads: req.threads,
    graphOptimization: req.graphOptimization ?? 'all',
    executionProvider: req.executionProvider ?? 'cpu',
    // Interleaved sessions must not spin: idle pools would steal the busy one's cores.
    spinning: false,
    timeoutSeconds: req.timeoutSeconds,
  };
  const sessions: BackendSession[] = [];
  let timings;
  let opened: (ModelCost | undefined)[] = [];
  // A failure from here on keeps what was measured before it (keepMeasured): the rounds every model
  // completed, and each model's latency once the timing is done.
  let failure: unknown;
  try {
    for (const p of prepared) {
      req.progress?.({ phase: 'prepare', id: p.source.name, done: 0, total: 1 });
      sessions.push(await backend.open(p.source, options));
    }
    try {
      timings = await measure(
        prepared.map((p, i) => ({ id: p.source.name, run: () => sessions[i].run() })),
        plan,
        req.progress,
        backend.turn,
      );
    } catch (err) {
      timings = timingsBefore(err);
      if (!timings) throw err;
      failure = err;
    }
    // A backend that cannot start a cold process tells what opening each session cost, before it closes.
    if (failure === undefined && !backend.coldStart && req.coldStart !== false) for (const s of sessions) opened.push(await s.cost?.());
  } finally {
    for (const s of sessions) await s.close().catch((err) => (failure ??= err));
  }

  const threads = options.threads ?? cpus().length;
  const referenceSamples = req.reference ? timings.get(req.reference)?.samples : undefined;
  const speedup = (p: PreparedModel) => {
    const twin = p.facts.int8 && timings.get(p.facts.int8.fp32_model)?.samples;
    if (!twin) return p.facts.int8;
    // Sample k of both comes from the same round of the round-robin: the ratio cancels the machine's drift.
    return { ...p.facts.int8!, speedup: latencyStats(sameRoundRatios(twin, timings.get(p.source.name)!.samples)).median, paired: true };
  };
  const results: ModelResult[] = [];
  // What each model's own session, cold process and profiler add comes after the interleaved timing,
  // which on ort-web is many minutes: if one of them fails, every model's latency is still kept
  // (with the error, for the caller to write), and the extras are not tried again.
  for (const [i, p] of prepared.entries()) {
    const t = timings.get(p.source.name)!;
    const stats = latencyStats(t.samples);
    const settings = { threads, graph_optimization: options.graphOptimization, execution_provider: options.executionProvider, spinning: false, interleaved: prepared.length > 1 };
    // A reference timed only to cancel drift is not anyone's model: no as-deployed figure, no breakdown.
    const own = p.source.name !== referenceOnly;
    let extras: Partial<Pick<ModelResult, 'single_session' | 'breakdown'>> & ModelCost = {};
    if (own && failure === undefined) {
      try {
        extras = await extrasOf(backend, p, options, req, plan, opened[i], stats.median);
      } catch (err) {
        failure = err;
      }
    }
    results.push(
      modelResult(
        { ...p.facts, ...(p.facts.int8 ? { int8: speedup(p) } : {}) },
        { backend: backend.id, settings, runs: t.samples.length, warmupRuns: t.warmupRuns, stats },
        { vs_reference: referenceSamples && req.reference ? pairedRatios(req.reference, t.samples, referenceSamples) : undefined, ...extras },
      ),
    );
  }
  const file = resultsFile({ ...backend.environment(), threads: String(threads) }, results);
  if (failure !== undefined) throw keepMeasured(failure, file);
  req.progress?.({ phase: 'alone', id: prepared.at(-1)!.source.name, done: 1, total: 1 });
  return file;
}

/** A model's figures beyond the interleaved latency: alone in one session, its cold cost, its breakdown. */
async function extrasOf(backend: SessionBackend, p: PreparedModel, options: SessionOptions, req: ProfileRequest, plan: TimingPlan, opened: ModelCost | undefined, median: number) {
  const alone = req.singleSession === false ? undefined : (req.progress?.({ phase: 'alone', id: p.source.name, done: 0, total: 1 }), await singleSession(backend, p, options, plan));
  const cost = await costOf(backend, p, options, req, opened);
  const breakdown = req.breakdown
    ? (req.progress?.({ phase: 'breakdown', id: p.source.name, done: 0, total: 1 }), scaleToMedian(await breakdownOf(backend, p, options, req.breakdownRuns ?? 20), median))
    : undefined;
  return { single_session: alone, ...cost, breakdown };
}

/** What only an in-process, interleaving backend can do. */
function checkDeviceRequest(backend: DeviceBackend, req: ProfileRequest): void {
  const id = backend.id;
  if (req.reference) throw new UsageError(`--reference needs a backend that interleaves models run by run (ort-cpu, ort-web), not ${id}`);
  if (req.breakdown && !backend.breakdown) throw new UsageError(`--breakdown is not available on ${id}`);
  if (req.plan?.minTime !== undefined) {
    throw new UsageError(`${id} runs a fixed number of runs on the device: use --runs, not --min-time`);
  }
}

/** A deterministic slice of the model list: every count-th model, starting at index. */
export function shardOf<T>(models: T[], shard?: { index: number; count: number }): T[] {
  if (!shard) return models;
  const { index, count } = shard;
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(index) || index < 1 || index > count) {
    throw new UsageError(`--shard must be I/N with 1 <= I <= N, got ${index}/${count}`);
  }
  return models.filter((_, i) => i % count === index - 1);
}

/** Ratios of samples taken in the same round (sample k of every model comes from the same turn of the round-robin). */
function pairedRatios(reference: string, samples: number[], referenceSamples: number[]): ModelResult['vs_reference'] {
  const ratios = sameRoundRatios(samples, referenceSamples);
  return { model: reference, median: latencyStats(ratios).median, ratios };
}

/** Load time, first inference, peak memory and file size, from a cold process of the model's own; reasons where there are none. */
async function costOf(backend: SessionBackend, p: PreparedModel, options: SessionOptions, req: ProfileRequest, opened: ModelCost | undefined): Promise<ModelCost> {
  if (req.coldStart === false) return absentUnlessGiven({}, 'not measured (--no-cold-start)');
  if (!backend.coldStart) return absentUnlessGiven(opened ?? {}, `${backend.id} cannot measure it`);
  req.progress?.({ phase: 'cold', id: p.source.name, done: 0, total: 1 });
  return backend.coldStart(p.source, { ...options, spinning: true });
}

/** The model alone, one live session, spinning on: the latency an app sees. */
async function singleSession(backend: SessionBackend, p: PreparedModel, options: SessionOptions, plan: TimingPlan): Promise<ModelResult['single_session']> {
  const session = await backend.open(p.source, { ...options, spinning: true });
  try {
    const own: TimingPlan = { ...plan, runs: plan.runs, minTime: plan.minTime / 2 };
    const t = (await measure([{ id: p.source.name, run: () => session.run() }], own)).get(p.source.name)!;
    return { spinning: true, runs: t.samples.length, latency_ms: latencyStats(t.samples) };
  } finally {
    await session.close();
  }
}

/** A separate profiling session: the profiler's own overhead must not touch the timed runs. */
async function breakdownOf(backend: SessionBackend, p: PreparedModel, options: SessionOptions, runs: number) {
  const dir = makeWorkDir('eformer-ortprof-');
  try {
    const session = await backend.open(p.source, { ...options, profilePrefix: join(dir, 'trace') });
    // The profiler records from the first run: warm up, then drop those runs' events.
    const { runs: warm } = await warmUp({ id: p.source.name, run: () => session.run() });
    for (let i = 0; i < runs; i++) await session.run();
    const trace = await session.close();
    if (!trace) throw new UsageError(`backend ${backend.id} wrote no profile for ${p.source.name}`);
    return aggregateTrace(parseTrace(trace).filter(dropRuns(warm + 1)), p.namer ?? (() => undefined));
  } finally {
    removeWorkDir(dir);
  }
}

/** Filter that drops every event up to and including the n-th `model_run` (open() runs once). */
function dropRuns(n: number) {
  let seen = 0;
  return (e: { cat?: string; name?: string }) => {
    if (seen >= n) return true;
    if (e.cat === 'Session' && e.name === 'model_run') seen++;
    return false;
  };
}
