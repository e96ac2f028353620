/**
 * ONNX Runtime on an Android phone over adb: each model goes to a fresh folder under
 * /data/local/tmp with an onnxruntime_perf_test built for the device, which loads it, runs it
 * once (its only warm-up), times --runs runs and prints the statistics eformer reads back.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DeviceError, MissingToolError } from '../../core/errors.js';
import { megabytes } from '../../core/memory.js';
import { chooseDevice, type Device, label } from '../../devices/device.js';
import { runTool, toolVersion } from '../../devices/tool.js';
import type { DeviceBackend, DeviceRunOptions } from '../backend.js';
import { ADB_INSTALL, adbFailure, adbOn, deviceWorkDir, listAndroidDevices } from '../../devices/android.js';
import { parsePerfTest, PerfTestOutputError, perfTestFailure } from './perf-test.js';

const PERF_TEST = 'onnxruntime_perf_test';
const PERF_TEST_HOWTO =
  "build it with onnxruntime's ./build.sh --android --android_abi arm64-v8a --android_sdk_path SDK --android_ndk_path NDK --config Release " +
  '(add --use_xnnpack or --use_nnapi for those providers; it lands in build/Android/Release/), then pass --perf-test PATH (or set EFORMER_PERF_TEST)';
const LEVELS: Record<DeviceRunOptions['graphOptimization'], number> = { disabled: 0, basic: 1, extended: 2, all: 99 };

let adbVersion: string | undefined;

/** The perf_test binary to push: --perf-test, else $EFORMER_PERF_TEST. */
function findPerfTest(given: string | undefined): string {
  const path = given ?? process.env.EFORMER_PERF_TEST;
  if (!path) throw new MissingToolError(`ort-android needs an ${PERF_TEST} built for the device: ${PERF_TEST_HOWTO}`);
  if (!existsSync(path)) throw new MissingToolError(`${PERF_TEST} not found at ${path}: ${PERF_TEST_HOWTO}`);
  return path;
}

/** The one shell command that runs perf_test in the work folder. */
function perfTestCommand(dir: string, options: DeviceRunOptions, withLibrary: boolean): string {
  const args = ['-I', '-m', 'times', '-r', String(options.runs), '-s', '-e', options.executionProvider];
  // perf_test hands -x to XNNPACK's own pool as well (and turns spinning off for it), so one
  // thread count serves every provider.
  if (options.threads !== undefined) args.push('-x', String(options.threads));
  args.push('-o', String(LEVELS[options.graphOptimization]), 'model.onnx');
  const env = withLibrary ? `LD_LIBRARY_PATH=${dir} ` : '';
  return `cd ${dir} && ${env}./${PERF_TEST} ${args.join(' ')}`;
}

/** perf_test's figures, or a DeviceError saying which are missing. */
function readReport(stdout: string, device: Device, modelName: string) {
  try {
    return parsePerfTest(stdout);
  } catch (err) {
    if (!(err instanceof PerfTestOutputError)) throw err;
    throw new DeviceError(label(device), `read ${PERF_TEST} output`, `could not read the figures for ${modelName}: ${err.message}`);
  }
}

export const ortAndroid: DeviceBackend = {
  kind: 'device',
  id: 'ort-android',
  platform: 'android',
  description: 'ONNX Runtime on an Android device over adb (onnxruntime_perf_test)',
  // perf_test runs the QDQ graph as it is; XNNPACK and NNAPI take QDQ node units as well.
  int8Providers: ['cpu', 'xnnpack', 'nnapi'],
  fixedWarmupRuns: 1,
  options: [{ flags: '--perf-test <file>', key: 'perfTest', description: 'an onnxruntime_perf_test built for the device (default: $EFORMER_PERF_TEST)' }],

  async ensureAvailable() {
    const { stdout } = await runTool('adb', ['version'], { device: 'adb', step: 'check adb', timeoutSeconds: 30, install: ADB_INSTALL });
    adbVersion = stdout.split('\n')[0].trim() || undefined;
  },

  executionProviders: () => ['cpu', 'xnnpack', 'nnapi'],

  environment: (): Record<string, string> => (adbVersion ? { adb: adbVersion } : {}),

  async probe() {
    const perfTest = process.env.EFORMER_PERF_TEST;
    return [
      { name: 'adb', found: await toolVersion('adb', ['version']), install: '`apt-get install -y adb`' },
      {
        name: 'onnxruntime_perf_test (Android)',
        found: perfTest && existsSync(perfTest) ? perfTest : undefined,
        install: "build it for the phone with onnxruntime's `build.sh --android`, then set EFORMER_PERF_TEST or pass `eformer profile --perf-test`",
      },
    ];
  },

  listDevices: (timeoutSeconds) => listAndroidDevices(timeoutSeconds),

  async selectDevice(wanted, { timeoutSeconds }) {
    // The listing already read each reachable device's properties (its model and Android version).
    return chooseDevice(await listAndroidDevices(timeoutSeconds), wanted, 'Android devices');
  },

  async measure(device, model, options) {
    const perfTest = findPerfTest(options.backendOptions.perfTest as string | undefined);
    const library = join(dirname(perfTest), 'libonnxruntime.so');
    const withLibrary = existsSync(library);
    const adb = adbOn(device, options.timeoutSeconds);
    const dir = deviceWorkDir(randomBytes(4).toString('hex'));
    const onnx = join(options.workDir, 'model.onnx');
    writeFileSync(onnx, model.onnx);

    await adb('create a work folder on the device', ['shell', `mkdir -p ${dir}`]);
    try {
      await adb(`push ${model.name}`, ['push', onnx, `${dir}/model.onnx`]);
      await adb(`push ${PERF_TEST}`, ['push', perfTest, `${dir}/${PERF_TEST}`]);
      if (withLibrary) await adb('push libonnxruntime.so', ['push', library, `${dir}/libonnxruntime.so`]);
      await adb(`make ${PERF_TEST} executable`, ['shell', `chmod 755 ${dir}/${PERF_TEST}`]);
      const { stdout } = await adb(`run ${PERF_TEST} on ${model.name}`, ['shell', perfTestCommand(dir, options, withLibrary)], (output, code) => adbFailure(output) ?? perfTestFailure(output, code));
      const report = readReport(stdout, device, model.name);
      return {
        summary: report.summary,
        quantileRule: report.quantileRule,
        // perf_test's first inference is its one and only warm-up run; --warmup cannot change that.
        warmupRuns: this.fixedWarmupRuns ?? 1,
        loadMs: report.loadMs,
        firstRunMs: report.firstRunMs,
        modelBytes: model.onnx.byteLength,
        ...(report.peakBytes !== undefined
          ? { memoryMb: { peak: megabytes(report.peakBytes), source: "onnxruntime_perf_test's Peak working set size: the whole process's peak resident set (runtime and binary included)" } }
          : {}),
        absent: {
          ...(report.peakBytes === undefined ? { memory_mb: `this ${PERF_TEST} printed no Peak working set size` } : {}),
          ...(report.loadMs === undefined ? { load_ms: `this ${PERF_TEST} printed no session creation time` } : {}),
          ...(report.firstRunMs === undefined ? { first_run_ms: `this ${PERF_TEST} printed no first inference time` } : {}),
        },
        settings: { perf_test: basename(perfTest), ...(report.threads !== undefined ? { threads: report.threads } : {}) },
      };
    } finally {
      // Best effort: a folder left behind must never hide why the run failed.
      await adb('remove the work folder', ['shell', `rm -rf ${dir}`]).catch(() => undefined);
    }
  },
};
