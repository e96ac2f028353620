/**
 * Profiling on a phone, tablet or Mac: each model in turn goes to the device backend's harness,
 * which warms up, times and reports back. A device that fails part-way (unplugged, locked, a
 * hung or crashed harness) ends the run with a DeviceError that carries every result measured
 * before it, so the caller can still write them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { label } from '../devices/device.js';
import { DeviceError, UsageError } from '../errors.js';
import { type ModelResult, RESULTS_SCHEMA, type ResultsFile } from '../report/results.js';
import { captureEnvironment } from './env.js';
import type { DeviceBackend, DeviceMeasurement, DeviceRunOptions, ModelSource } from './backend.js';
import { latencyStats, NOISY_COV, summaryStats } from './stats.js';

export interface DeviceRequest {
  device?: string;
  threads?: number;
  graphOptimization: DeviceRunOptions['graphOptimization'];
  executionProvider?: string;
  warmup?: number;
  runs?: number;
  timeoutSeconds?: number;
  team?: string;
  perfTest?: string;
  progress?: (event: { phase: 'measure'; id: string; done: number; total: number }) => void;
}

/** What a harness run defaults to: enough runs for a stable median on a phone, no more. */
export const DEVICE_DEFAULTS = { warmup: 10, runs: 100, timeoutSeconds: 600 };

/** A model ready for the device, with what eformer already knows of it (counts, paper figures). */
export interface DeviceModel {
  source: ModelSource;
  partial: Omit<ModelResult, 'backend' | 'settings' | 'runs' | 'warmup_runs' | 'latency_ms' | 'noisy'>;
}

export async function profileOnDevice(backend: DeviceBackend, models: DeviceModel[], req: DeviceRequest): Promise<ResultsFile> {
  const ep = req.executionProvider ?? backend.executionProviders()[0];
  if (!backend.executionProviders().includes(ep)) {
    throw new UsageError(`${backend.id} offers ${backend.executionProviders().join(', ')}, not '${ep}'`);
  }
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
    team: req.team,
    perfTest: req.perfTest,
  };
  const device = await backend.selectDevice(req.device, { timeoutSeconds: options.timeoutSeconds });
  const results: ModelResult[] = [];
  const file = (): ResultsFile => ({ schema: RESULTS_SCHEMA, env: captureEnvironment({ ...backend.environment(), device: label(device) }), results });
  // One work folder for the whole run: a driver may build its harness once and reuse it.
  const workDir = mkdtempSync(join(tmpdir(), `eformer-${backend.id}-`));
  try {
    for (const m of models) {
      req.progress?.({ phase: 'measure', id: m.source.name, done: 0, total: 1 });
      const measured = await backend.measure(device, m.source, { ...options, workDir });
      const where = { platform: device.platform, id: device.id, name: device.name, model: device.model, os: device.os };
      results.push({ ...m.partial, ...toResult(backend.id, measured, options), device: where });
      req.progress?.({ phase: 'measure', id: m.source.name, done: 1, total: 1 });
    }
  } catch (err) {
    if (err instanceof DeviceError) err.partial = file();
    throw err;
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
  return file();
}

function toResult(backendId: string, m: DeviceMeasurement, options: Omit<DeviceRunOptions, 'workDir'>) {
  const stats = m.samples?.length ? latencyStats(m.samples) : m.summary ? summaryStats(m.summary) : undefined;
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
    warmup_runs: m.warmupRuns,
    latency_ms: stats,
    noisy: (stats.cov ?? 0) > NOISY_COV,
    load_ms: m.loadMs,
    first_run_ms: m.firstRunMs,
  };
}
