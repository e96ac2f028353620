/**
 * What every latency backend provides. A backend is one file in backends/ implementing one of
 * two shapes; the timing loop, results and reports never know which backend they talk to.
 *
 * - A session backend (ort-cpu, ort-web) runs one inference at a time on this machine, so
 *   eformer's own loop can interleave models round-robin and time every run.
 * - A device backend (coreml, ort-android) hands a whole benchmark to a harness on a phone or
 *   Mac and reads the figures back: the harness owns warm-up and timing, eformer owns the
 *   model, the tools and the parsing.
 */
import type { Device } from '../devices/device.js';
import type { Turn } from './timing.js';

export interface ModelInput {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int64';
}

/** A model ready to profile: ONNX bytes (in memory or on disk) and its input signature. */
export interface ModelSource {
  name: string;
  onnx: Uint8Array;
  inputs: ModelInput[];
}

export interface SessionOptions {
  /** Intra-op threads; undefined means all cores. */
  threads?: number;
  graphOptimization: 'disabled' | 'basic' | 'extended' | 'all';
  executionProvider: string;
  /** Let the intra-op pool spin between runs (onnxruntime's default, how apps deploy it). */
  spinning: boolean;
  /** Write the runtime's own per-node profile under this path prefix. */
  profilePrefix?: string;
}

export interface BackendSession {
  /** One inference; returns its wall time in milliseconds, measured as close to the runtime as possible. */
  run(): Promise<number>;
  /** Release the session; when profiling was on, returns the runtime's trace file. */
  close(): Promise<string | undefined>;
}

interface BackendBase {
  readonly id: string;
  readonly description: string;
  /** Throws MissingToolError naming what is missing and how to install it. */
  ensureAvailable(): Promise<void>;
  /** Execution providers (or compute units) this backend offers. */
  executionProviders(): string[];
  /** Runtime facts recorded in results (versions, providers). */
  environment(): Record<string, string>;
}

export interface SessionBackend extends BackendBase {
  readonly kind: 'session';
  /** How to take turns when interleaving several models (default: run by run). */
  readonly turn?: Turn;
  open(model: ModelSource, options: SessionOptions): Promise<BackendSession>;
}

export interface DeviceRunOptions {
  /** Intra-op threads (ONNX Runtime); undefined lets the runtime choose. */
  threads?: number;
  graphOptimization: SessionOptions['graphOptimization'];
  /** ONNX Runtime execution provider or Core ML compute units, already checked against executionProviders(). */
  executionProvider: string;
  warmup: number;
  runs: number;
  /** Seconds any one step on the device may take before it counts as hung. */
  timeoutSeconds: number;
  /** Apple code-signing team for on-device XCTest runs. */
  team?: string;
  /** An onnxruntime_perf_test built for the device (ort-android). */
  perfTest?: string;
  /** A folder for the driver's work files, shared by every model of one run (deleted afterwards). */
  workDir: string;
}

/** A latency summary when the harness prints statistics but not the runs themselves. */
export interface SummaryStats {
  runs: number;
  mean: number;
  min: number;
  max: number;
  median: number;
  p90: number;
  p99: number;
}

export interface DeviceMeasurement {
  /** Per-run latencies in milliseconds, when the harness reports each run. */
  samples?: number[];
  /** Otherwise the harness's own summary. */
  summary?: SummaryStats;
  warmupRuns: number;
  /** Loading (and compiling) the model on the device, ms. */
  loadMs?: number;
  /** The first prediction after loading, ms. */
  firstRunMs?: number;
  /** Facts about how this run was set up (threads the runtime chose, compute units). */
  settings?: Record<string, string | number>;
}

export interface DeviceBackend extends BackendBase {
  readonly kind: 'device';
  /** Set when the harness's warm-up is fixed (onnxruntime_perf_test runs exactly one): --warmup is then refused. */
  readonly fixedWarmupRuns?: number;
  /** `wanted` is --device (serial, UDID or name); without it, the only suitable device. */
  selectDevice(wanted: string | undefined, options: { timeoutSeconds: number }): Promise<Device>;
  measure(device: Device, model: ModelSource, options: DeviceRunOptions): Promise<DeviceMeasurement>;
}

export type Backend = SessionBackend | DeviceBackend;
