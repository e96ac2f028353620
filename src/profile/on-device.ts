/**
 * Profiling on a phone, tablet or Mac: each model in turn goes to the device backend's harness,
 * which warms up, times and reports back. A device that fails part-way (unplugged, locked, a
 * hung or crashed harness) ends the run with its error, and every result measured before it is
 * kept with the error (keepMeasured), so the caller can still write them.
 */
import type { DeviceBackend, DeviceMeasurement, DeviceRunOptions } from '../backends/backend.js';
import { backendOptions as declaredOptions } from '../backends/index.js';
import { UsageError } from '../core/errors.js';
import { absentUnlessGiven } from '../core/memory.js';
import { centralLatency, latencyStats, summaryStats } from '../core/stats.js';
import { aggregateOpTimes, scaleToMedian } from './breakdown.js';
import { label } from '../devices/device.js';
import type { ModelResult, ResultsFile } from '../results/results.js';
import { keepMeasured, type Measured, modelResult, type PreparedModel, resultsFile } from './result.js';
import { makeWorkDir, removeWorkDir } from '../core/fs.js';

export interface DeviceRequest {
  device?: string;
  threads?: number;
  graphOptimization: DeviceRunOptions['graphOptimization'];
  executionProvider?: string;
  warmup?: number;
  runs?: number;
  timeoutSeconds?: number;
  backendOptions: Readonly<Record<string, unknown>>;
  /** --breakdown on a backend whose harness profiles ops: this many profiled runs, apart from the timed ones. */
  breakdownRuns?: number;
  progress?: (event: { phase: 'measure'; id: string; done: number; total: number }) => void;
}

/** What a harness run defaults to: enough runs for a stable median on a phone, no more. */
export const DEVICE_DEFAULTS = { warmup: 10, runs: 100, timeoutSeconds: 600 };

/** The execution provider (or the backend's own name for it, e.g. Core ML compute units), checked. */
function executionProviderOf(backend: DeviceBackend, req: DeviceRequest): string {
  const own = backend.executionProviderOption ? (req.backendOptions[backend.executionProviderOption] as string | undefined) : undefined;
  if (own !== undefined && req.executionProvider !== undefined) {
    const flag = declaredOptions().find((o) => o.option.key === backend.executionProviderOption)?.option.flags.split(' ')[0];
    throw new UsageError(`give ${flag} or --ep, not both`);
  }
  const ep = own ?? req.executionProvider ?? backend.executionProviders()[0];
  if (!backend.executionProviders().includes(ep)) {
    throw new UsageError(`${backend.id} offers ${backend.executionProviders().join(', ')}, not '${ep}'`);
  }
  return ep;
}

export async function profileOnDevice(backend: DeviceBackend, models: PreparedModel[], req: DeviceRequest): Promise<ResultsFile> {
  const ep = executionProviderOf(backend, req);
  if (req.warmup !== undefined && backend.fixedWarmupRuns !== undefined) {
    throw new UsageError(`--warmup is not available on ${backend.id}: its harness always runs ${backend.fixedWarmupRuns} warm-up run(s)`);
  }
  const options: Omit<DeviceRunOptions, 'workDir'> = {
    threads: req.threads,
    graphOptimization: req.graphOptimization,
    executionProvider: ep,
    warmup: req.warmup ?? DEVICE_DEFAULTS.warmup,
    runs: req.runs ?? DEVICE_DEFAULTS.runs,
    timeoutSeconds: req.timeoutSeconds ?? DEVICE_DEFAULTS.timeoutSeconds,
    backendOptions: req.backendOptions,
    breakdownRuns: req.breakdownRuns,
  };
  const device = await backend.selectDevice(req.device, { timeoutSeconds: options.timeoutSeconds });
  const results: ModelResult[] = [];
  const file = (): ResultsFile => resultsFile({ ...backend.environment(), device: label(device) }, results);
  // One work folder for the whole run: a driver may build its harness once and reuse it.
  const workDir = makeWorkDir(`eformer-${backend.id}-`);
  try {
    for (const m of models) {
      req.progress?.({ phase: 'measure', id: m.source.name, done: 0, total: 1 });
      const measured = await backend.measure(device, m.source, { ...options, workDir });
      const where = { platform: device.platform, id: device.id, name: device.name, model: device.model, os: device.os };
      const stats = asMeasured(backend.id, measured, options);
      const extra = {
        device: where,
        ...absentUnlessGiven(
          { load_ms: measured.loadMs, first_run_ms: measured.firstRunMs, memory_mb: measured.memoryMb, model_bytes: measured.modelBytes, absent: measured.absent },
          `${backend.id}'s harness does not report it`,
        ),
        // The profiler slows every op: its times are shares, scaled to the latency measured without it.
        ...(measured.opProfile ? { breakdown: scaleToMedian(aggregateOpTimes(measured.opProfile, m.namer ?? (() => undefined)), centralLatency(stats.stats), stats.stats.statistic) } : {}),
      };
      results.push(modelResult(m.facts, stats, extra));
      req.progress?.({ phase: 'measure', id: m.source.name, done: 1, total: 1 });
    }
  } catch (err) {
    throw keepMeasured(err, file());
  } finally {
    removeWorkDir(workDir);
  }
  return file();
}

function asMeasured(backendId: string, m: DeviceMeasurement, options: Omit<DeviceRunOptions, 'workDir'>): Measured {
  const stats = m.samples?.length ? latencyStats(m.samples) : m.summary ? summaryStats(m.summary, m.quantileRule ?? 'the harness\'s own (not stated)') : undefined;
  if (!stats) throw new Error(`${backendId} returned neither samples nor a summary`);
  return {
    backend: backendId,
    settings: {
      threads: options.threads ?? 0,
      graph_optimization: options.graphOptimization,
      execution_provider: options.executionProvider,
      spinning: false,
      interleaved: false,
      ...m.settings,
    },
    runs: m.samples?.length || m.summary?.runs || 0,
    warmupRuns: m.warmupRuns,
    stats,
  };
}
