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
import type { ModelResult } from '../report/results.js';
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

export interface DeviceModel<P> {
  source: ModelSource;
  partial: P;
}

export async function profileOnDevice<P extends object>(
  backend: DeviceBackend,
  models: DeviceModel<P>[],
  req: DeviceRequest,
  finish: (results: ModelResult[], device: string) => unknown,
): Promise<{ results: ModelResult[]; device: string }> {
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
  // One work folder for the whole run: a driver may build its harness once and reuse it.
  const workDir = mkdtempSync(join(tmpdir(), `eformer-${backend.id}-`));
  try {
    for (const m of models) {
      req.progress?.({ phase: 'measure', id: m.source.name, done: 0, total: 1 });
      const measured = await backend.measure(device, m.source, { ...options, workDir });
      results.push({ ...m.partial, ...toResult(backend.id, measured, options), device: { platform: device.platform, id: device.id, name: device.name, model: device.model, os: device.os } } as ModelResult);
      req.progress?.({ phase: 'measure', id: m.source.name, done: 1, total: 1 });
    }
  } catch (err) {
    if (err instanceof DeviceError) err.partial = finish(results, label(device));
    throw err;
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
  return { results, device: label(device) };
}

function toResult(backendId: string, m: DeviceMeasurement, options: Omit<DeviceRunOptions, 'workDir'>): Partial<ModelResult> {
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
