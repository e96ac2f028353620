/**
 * LiteRT (TensorFlow Lite) on an Android phone over adb: each model goes as .tflite to a fresh
 * folder under /data/local/tmp with the benchmark_model binary Google publishes for Android, which
 * loads it, warms up, times the runs and prints its own summary, read back by benchmark-model.ts.
 *
 * eformer drives the Interpreter API benchmark_model (flags --use_xnnpack, --use_gpu, --use_nnapi,
 * --enable_op_profiling). LiteRT's newer CompiledModel benchmark_model takes other flags and
 * ignores these with a warning, which eformer refuses rather than measure something else.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { DeviceError, MissingToolError, UsageError } from '../../core/errors.js';
import { ADB_INSTALL, adbFailure, adbOn, deviceWorkDir, listAndroidDevices } from '../../devices/android.js';
import { chooseDevice, type Device, label } from '../../devices/device.js';
import { notAndroidArm64 } from '../../devices/elf.js';
import { runTool, toolVersion } from '../../devices/tool.js';
import type { DeviceBackend, DeviceMeasurement, DeviceRunOptions, ModelSource } from '../backend.js';
import { type BenchmarkModelReport, benchmarkModelFailure, BenchmarkModelOutputError, type Delegation, ignoredFlags, parseBenchmarkModel, parseOpProfile, readDelegations } from './benchmark-model.js';

const BENCHMARK_MODEL = 'benchmark_model';
/** Google's nightly build for Android arm64, as LiteRT's "Benchmark Interpreter API" page lists it. */
export const BENCHMARK_MODEL_URL = 'https://storage.googleapis.com/tensorflow-nightly-public/prod/tensorflow/release/lite/tools/nightly/latest/android_aarch64_benchmark_model';
const HOWTO =
  `download LiteRT's benchmark_model for Android arm64 (${BENCHMARK_MODEL_URL}, the android_aarch64 native binary listed at ` +
  'https://ai.google.dev/edge/litert/models/measurement), then pass it to `eformer profile --benchmark-model PATH` (or set EFORMER_BENCHMARK_MODEL)';
const ARM64_ABI = 'arm64-v8a';

/** The delegate choice, benchmark_model's flag for it, and how the runtime names it in its log. */
const DELEGATES: Record<string, { flag: string; logged: RegExp }> = {
  xnnpack: { flag: '--use_xnnpack=true', logged: /xnnpack/i },
  gpu: { flag: '--use_gpu=true', logged: /gpu/i },
  nnapi: { flag: '--use_nnapi=true', logged: /nnapi/i },
};

let adbVersion: string | undefined;

/** The benchmark_model to push (--benchmark-model, else $EFORMER_BENCHMARK_MODEL), checked here before anything goes to the phone. */
function findBenchmarkModel(given: string | undefined): string {
  const path = given ?? process.env.EFORMER_BENCHMARK_MODEL;
  if (!path) throw new MissingToolError(`litert-android needs LiteRT's ${BENCHMARK_MODEL} for Android: ${HOWTO}`);
  if (!existsSync(path) || !statSync(path).isFile()) throw new MissingToolError(`${BENCHMARK_MODEL} not found at ${path}: ${HOWTO}`);
  const why = notAndroidArm64(path);
  if (why) throw new MissingToolError(`${path} is not a ${BENCHMARK_MODEL} for Android arm64 phones (${why}): ${HOWTO}`);
  return path;
}

/** The phone's CPU ABI, from its listing (getprop) or asked again; benchmark_model for android_aarch64 runs on arm64 phones only. */
async function checkArm64(device: Device, adb: ReturnType<typeof adbOn>): Promise<void> {
  const abi = device.abi ?? (await adb('read the CPU ABI', ['shell', 'getprop ro.product.cpu.abi'])).stdout.trim();
  if (abi !== ARM64_ABI) {
    throw new MissingToolError(`${label(device)} is not an arm64 phone (its CPU ABI is ${abi ? `'${abi.slice(0, 40)}'` : 'not reported'}): benchmark_model for android_aarch64 runs on ${ARM64_ABI} devices only`);
  }
}

/** The one shell command that runs benchmark_model on the pushed model, every choice explicit. */
export function benchmarkCommand(dir: string, options: DeviceRunOptions, profileRuns?: number): string {
  const args = [
    `--graph=${dir}/model.tflite`,
    // -1 lets LiteRT choose, which is what "no --threads" means on a device.
    `--num_threads=${options.threads ?? -1}`,
    `--warmup_runs=${options.warmup}`,
    // Exactly the runs asked for: no extra runs to fill a minimum time, none cut short before the step's timeout.
    '--warmup_min_secs=0',
    `--num_runs=${profileRuns ?? options.runs}`,
    '--min_secs=0',
    `--max_secs=${options.timeoutSeconds}`,
    DELEGATES[options.executionProvider].flag,
    ...(profileRuns !== undefined ? ['--enable_op_profiling=true'] : []),
  ];
  return `${dir}/${BENCHMARK_MODEL} ${args.join(' ')}`;
}

/** The delegate asked for must have run the model: a delegate that took nothing leaves CPU figures under its name. */
function checkDelegation(delegations: Delegation[], delegate: string, device: Device, model: string): Delegation[] {
  const mine = delegations.filter((d) => DELEGATES[delegate].logged.test(d.delegate));
  const none = mine.find((d) => d.coverage === 'none');
  if (none) throw new DeviceError(label(device), `run ${BENCHMARK_MODEL} on ${model}`, `the ${delegate} delegate ran no part of ${model} ("${none.line.slice(0, 160)}"): the figures would be the CPU's, not the ${delegate} delegate's`);
  return mine;
}

/** What the run recorded about delegation: how much of the graph the chosen delegate took, as the runtime said. */
function delegationSettings(mine: Delegation[]): Record<string, string | number> {
  const partial = mine.find((d) => d.coverage === 'partial');
  const counted = mine.find((d) => d.nodes !== undefined);
  return {
    ...(partial ? { delegated: 'partial' } : mine.some((d) => d.coverage === 'complete') ? { delegated: 'complete' } : {}),
    ...(counted?.nodes !== undefined ? { delegated_nodes: counted.nodes } : {}),
    ...(counted?.total !== undefined ? { total_nodes: counted.total } : {}),
    ...(counted?.partitions !== undefined ? { delegate_partitions: counted.partitions } : {}),
  };
}

/** One benchmark_model run, checked and read, or a one-line DeviceError naming what went wrong. */
async function runBenchmark(adb: ReturnType<typeof adbOn>, device: Device, model: string, command: string, delegate: string) {
  const step = `run ${BENCHMARK_MODEL} on ${model}`;
  const { stdout, stderr } = await adb(step, ['shell', command], (output, code) => adbFailure(output) ?? benchmarkModelFailure(output, code));
  const output = `${stdout}\n${stderr}`;
  // Flags a build does not know are ignored with a warning: the run would not be the one asked for.
  const ignored = ignoredFlags(output);
  if (ignored.length) {
    throw new DeviceError(label(device), step, `this ${BENCHMARK_MODEL} ignored ${ignored.join(' ').slice(0, 160)} (it does not know them; LiteRT's CompiledModel benchmark_model takes other flags): ${HOWTO}`);
  }
  const mine = checkDelegation(readDelegations(output), delegate, device, model);
  let report: BenchmarkModelReport;
  try {
    report = parseBenchmarkModel(output);
  } catch (err) {
    if (!(err instanceof BenchmarkModelOutputError)) throw err;
    throw new DeviceError(label(device), `read ${BENCHMARK_MODEL} output`, `could not read the figures for ${model}: ${err.message}`);
  }
  return { report, output, delegation: delegationSettings(mine) };
}

/**
 * benchmark_model's memory lines in the results' terms: the footprint added over the whole run is the
 * model's peak, the one added by initialisation its load; the sampled peak (the whole process) is
 * kept beside them, and stands in only when no delta was printed. A delta of 0 measures nothing.
 */
export function memoryFigures(m: BenchmarkModelReport['memoryMb']): Pick<DeviceMeasurement, 'memoryMb' | 'absent'> {
  if (m?.overall !== undefined && m.overall > 0) {
    return {
      memoryMb: {
        peak: m.overall,
        ...(m.init !== undefined && m.init >= 0 ? { load: m.init } : {}),
        ...(m.peak !== undefined ? { sampled_peak: m.peak } : {}),
        source: `${BENCHMARK_MODEL}'s footprint delta from the tool's start: overall (peak) and init (load)`,
      },
    };
  }
  if (m?.peak !== undefined) return { memoryMb: { peak: m.peak, source: `${BENCHMARK_MODEL}'s sampled peak footprint of its whole process (it printed no delta)` } };
  return { absent: { memory_mb: m ? `${BENCHMARK_MODEL} printed a footprint delta of ${m.overall ?? 0} MB, which measures nothing` : `this ${BENCHMARK_MODEL} printed no memory footprint` } };
}

export const litertAndroid: DeviceBackend = {
  kind: 'device',
  id: 'litert-android',
  platform: 'android',
  description: "LiteRT (TensorFlow Lite) on an Android phone over adb (Google's benchmark_model)",
  breakdown: true,
  options: [{ flags: '--benchmark-model <file>', key: 'benchmarkModel', description: "LiteRT's benchmark_model for Android arm64 (default: $EFORMER_BENCHMARK_MODEL)" }],

  async ensureAvailable() {
    const { stdout } = await runTool('adb', ['version'], { device: 'adb', step: 'check adb', timeoutSeconds: 30, install: ADB_INSTALL });
    adbVersion = stdout.split('\n')[0].trim() || undefined;
  },

  /** The delegate benchmark_model applies: XNNPACK (the CPU path apps ship), the GPU delegate, or NNAPI. */
  executionProviders: () => Object.keys(DELEGATES),

  environment: (): Record<string, string> => (adbVersion ? { adb: adbVersion } : {}),

  async probe() {
    const path = process.env.EFORMER_BENCHMARK_MODEL;
    const problem = path && existsSync(path) ? notAndroidArm64(path) : undefined;
    return [
      { name: 'adb', found: await toolVersion('adb', ['version']), install: 'apt-get install -y adb' },
      {
        name: 'benchmark_model (LiteRT, Android arm64)',
        found: path && existsSync(path) && !problem ? path : undefined,
        install: `${problem ? `$EFORMER_BENCHMARK_MODEL ${problem}; ` : ''}${HOWTO}`,
      },
    ];
  },

  listDevices: (timeoutSeconds) => listAndroidDevices(timeoutSeconds),

  async selectDevice(wanted, { timeoutSeconds }) {
    return chooseDevice(await listAndroidDevices(timeoutSeconds), wanted, 'Android devices');
  },

  async measure(device: Device, model: ModelSource, options: DeviceRunOptions): Promise<DeviceMeasurement> {
    const binary = findBenchmarkModel(options.backendOptions.benchmarkModel as string | undefined);
    if (!model.tflite) throw new UsageError(`${model.name}: litert-android runs the models eformer builds (it writes them as .tflite); an ONNX file cannot be measured on it`);
    if (options.graphOptimization !== 'all') throw new UsageError('--graph-opt is an onnxruntime setting; LiteRT has no optimisation levels (drop --graph-opt)');
    const adb = adbOn(device, options.timeoutSeconds);
    await checkArm64(device, adb);
    const file = join(options.workDir, `${model.name.replace(/[^\w.-]/g, '_')}.tflite`);
    const tflite = await model.tflite();
    writeFileSync(file, tflite);
    const dir = deviceWorkDir(randomBytes(4).toString('hex'));
    await adb('create a work folder on the device', ['shell', `mkdir -p ${dir}`]);
    try {
      await adb(`push ${model.name}`, ['push', file, `${dir}/model.tflite`]);
      await adb(`push ${BENCHMARK_MODEL}`, ['push', binary, `${dir}/${BENCHMARK_MODEL}`]);
      await adb(`make ${BENCHMARK_MODEL} executable`, ['shell', `chmod 755 ${dir}/${BENCHMARK_MODEL}`]);
      const delegate = options.executionProvider;
      const { report, delegation } = await runBenchmark(adb, device, model.name, benchmarkCommand(dir, options), delegate);
      const measured: DeviceMeasurement = {
        summary: report.summary,
        quantileRule: report.quantileRule,
        warmupRuns: report.warmupRuns ?? options.warmup,
        loadMs: report.initMs,
        firstRunMs: report.firstRunMs,
        settings: {
          benchmark_model: basename(binary),
          delegate,
          ...delegation,
          ...(report.threads !== undefined && report.threads > 0 ? { threads: report.threads } : {}),
        },
        modelBytes: tflite.byteLength,
        ...memoryFigures(report.memoryMb),
      };
      if (report.initMs === undefined) measured.absent = { ...measured.absent, load_ms: `this ${BENCHMARK_MODEL} printed no initialisation time` };
      if (report.firstRunMs === undefined) measured.absent = { ...measured.absent, first_run_ms: `this ${BENCHMARK_MODEL} printed no first inference time` };
      if (options.breakdownRuns !== undefined) {
        // A separate run: the profiler slows every op, so its times are shares, never the latency.
        const profiled = await runBenchmark(adb, device, model.name, benchmarkCommand(dir, options, options.breakdownRuns), delegate);
        let ops;
        try {
          ops = parseOpProfile(profiled.output);
        } catch (err) {
          if (!(err instanceof BenchmarkModelOutputError)) throw err;
          throw new DeviceError(label(device), `read ${BENCHMARK_MODEL} output`, `could not read the op profile of ${model.name}: ${err.message}`);
        }
        measured.opProfile = { profiler: "benchmark_model's op profiler (--enable_op_profiling)", runs: profiled.report.summary.runs, runMs: profiled.report.summary.mean, ops };
      }
      return measured;
    } finally {
      // Best effort: a folder left behind must never hide why the run failed.
      await adb('remove the work folder', ['shell', `rm -rf ${dir}`]).catch(() => undefined);
    }
  },
};
