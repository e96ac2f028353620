/**
 * What every latency backend provides. A backend is one folder under backends/ that owns its
 * driver, the command-line options only it takes (declared here once, with their help), their
 * validation, its `eformer doctor` probe, its set-up and its host-tool parsers. It implements
 * one of two shapes; the timing loop, results and reports never know which backend they talk to.
 *
 * - A session backend (ort-cpu, ort-web) runs one inference at a time on this machine, so
 *   eformer's own loop can interleave models round-robin and time every run.
 * - A device backend (coreml, ort-android, litert-android) hands a whole benchmark to a harness on
 *   a phone or Mac and reads the figures back: the harness owns warm-up and timing, eformer owns
 *   the model, the tools and the parsing.
 */
import type { AbsentFigures, MemoryFigures, ModelCost } from '../core/memory.js';
import type { Probe } from '../core/probe.js';
import type { SummaryStats } from '../core/stats.js';
import type { Device } from '../devices/device.js';
import type { ModelSource } from '../onnx/read.js';

export type { ModelInput, ModelSource } from '../onnx/read.js';
export type { Probe };

/**
 * A command-line option that belongs to one backend. The CLI adds it to the commands that run
 * backends and hands its value back, untouched, in `backendOptions[key]`.
 */
export interface BackendOption {
  /** commander flags, e.g. `--team <id>`. */
  flags: string;
  /** Where the value goes in `backendOptions`. */
  key: string;
  description: string;
  choices?: readonly string[];
}

/**
 * How a model takes its turn when several are interleaved. Run by run (keep 1, rewarm 0) suits
 * onnxruntime-node; a backend that pays for switching between models discards re-warm runs first.
 */
export interface Turn {
  keep: number;
  rewarm: number;
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
  /** Seconds any one step may take before the backend gives up (ort-web's browser steps); unset: the backend's own limits. */
  timeoutSeconds?: number;
}

export interface BackendSession {
  /** One inference; returns its wall time in milliseconds, measured as close to the runtime as possible. */
  run(): Promise<number>;
  /**
   * For a backend that cannot start a cold process of its own: what opening this session cost
   * (load, first run) and the memory it holds now. Read after the timed runs, before close().
   */
  cost?(): Promise<ModelCost>;
  /** Release the session; when profiling was on, returns the runtime's trace file. */
  close(): Promise<string | undefined>;
}

interface BackendBase {
  readonly id: string;
  /** One line for `--help` and `eformer doctor`. */
  readonly description: string;
  /** Options only this backend takes. */
  readonly options?: readonly BackendOption[];
  /**
   * Whether `--breakdown` works here: on a session backend unless this is false (its runtime writes
   * onnxruntime's profile); on a device backend only when true (its harness profiles ops itself).
   */
  readonly breakdown?: boolean;
  /** The backend option, if any, that names the execution provider in this backend's own terms (Core ML's compute units). */
  readonly executionProviderOption?: string;
  /**
   * The execution providers (or compute units) on which this backend runs eformer's int8 models
   * (QDQ graphs; Core ML quantises the float graph W8A8). Absent: it cannot run them.
   */
  readonly int8Providers?: readonly string[];
  /** Throws MissingToolError naming what is missing and how to install it. */
  ensureAvailable(): Promise<void>;
  /** Execution providers (or compute units) this backend offers; the first is the default. */
  executionProviders(): string[];
  /** Runtime facts recorded in results (versions, providers). */
  environment(): Record<string, string>;
  /** What `eformer doctor` lists for this backend. */
  probe(): Promise<Probe[]>;
}

export interface SessionBackend extends BackendBase {
  readonly kind: 'session';
  /** How to take turns when interleaving several models (default: run by run). */
  readonly turn?: Turn;
  open(model: ModelSource, options: SessionOptions): Promise<BackendSession>;
  /**
   * Load time, first inference, peak memory and file size of `model`, measured cold in a process
   * of its own (so the figures are the model's, not the interleaved run's). Absent: the backend
   * cannot, and profile records why.
   */
  coldStart?(model: ModelSource, options: SessionOptions): Promise<ModelCost>;
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
  /** A folder for the driver's work files, shared by every model of one run (deleted afterwards). */
  workDir: string;
  /** The values of this backend's own options, as the user gave them. */
  backendOptions: Readonly<Record<string, unknown>>;
  /** Set for --breakdown: profile the model's ops in a separate run of this many runs. */
  breakdownRuns?: number;
}

/** One op (or delegate kernel) of a runtime's per-op profile: its average time per run. */
export interface OpTime {
  op: string;
  /** The node's name in the model (its module path, when eformer wrote the model). */
  name: string;
  ms: number;
}

export interface DeviceMeasurement {
  /** Per-run latencies in milliseconds, when the harness reports each run. */
  samples?: number[];
  /** Otherwise the harness's own summary, and the rule its percentiles follow. */
  summary?: SummaryStats;
  quantileRule?: string;
  warmupRuns: number;
  /** Loading (and compiling) the model on the device, ms. */
  loadMs?: number;
  /** The first prediction after loading, ms. */
  firstRunMs?: number;
  /** Facts about how this run was set up (threads the runtime chose, compute units). */
  settings?: Record<string, string | number | boolean>;
  /** Peak memory the harness attributes to the model, MB, and how it measured it. */
  memoryMb?: MemoryFigures;
  /** The size of the model file the harness loaded, bytes. */
  modelBytes?: number;
  /** Why a figure above is missing (the harness does not print it, or printed a meaningless value). */
  absent?: AbsentFigures;
  /** With breakdownRuns: the per-op profile of a separate profiled run (which slows the runs down, so it is kept apart). */
  opProfile?: { profiler: string; runs: number; runMs: number; ops: OpTime[] };
}

export interface DeviceBackend extends BackendBase {
  readonly kind: 'device';
  /** The device platform this backend drives, as `eformer devices` lists it. */
  readonly platform: Device['platform'];
  /** Set when the harness's warm-up is fixed (onnxruntime_perf_test runs exactly one): --warmup is then refused. */
  readonly fixedWarmupRuns?: number;
  /** The platform's devices, usable or not, for `eformer devices`. */
  listDevices(timeoutSeconds: number): Promise<Device[]>;
  /** `wanted` is --device (serial, UDID or name); without it, the only suitable device. */
  selectDevice(wanted: string | undefined, options: { timeoutSeconds: number }): Promise<Device>;
  measure(device: Device, model: ModelSource, options: DeviceRunOptions): Promise<DeviceMeasurement>;
}

export type Backend = SessionBackend | DeviceBackend;
