/**
 * Core ML on Apple hardware: convert the ONNX model with coremltools (the same bridge as
 * `eformer export --coreml`), compile it with `xcrun coremlcompiler`, and time it with the
 * Swift harness in harness/apple/, on this Mac (default) or on an iPhone/iPad (--device).
 */
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeviceError, MissingToolError, UsageError } from '../../core/errors.js';
import { megabytes } from '../../core/memory.js';
import { cachedCoreml } from '../../coreml/cache.js';
import { chooseDevice, type Device, label } from '../../devices/device.js';
import { onPath, runTool, toolVersion } from '../../devices/tool.js';
import type { DeviceBackend, DeviceMeasurement, DeviceRunOptions, ModelSource } from '../backend.js';
import { listAppleDevices, XCODE_INSTALL } from './devices.js';
import { buildMacHarness, explainCompilerFailure, type HarnessConfig, type HarnessResult, runDeviceHarness, runMacHarness } from './harness.js';

export const COMPUTE_UNITS = ['all', 'cpuOnly', 'cpuAndGPU', 'cpuAndNeuralEngine'];

export const coreml: DeviceBackend = {
  kind: 'device',
  id: 'coreml',
  platform: 'apple',
  description: 'Core ML on this Mac or on an iPhone/iPad (--device), through Xcode',
  // Core ML's own W8A8 (coremltools quantises the float graph with eformer's calibration inputs).
  int8Providers: COMPUTE_UNITS,
  options: [
    { flags: '--compute-units <units>', key: 'computeUnits', description: 'Core ML compute units', choices: COMPUTE_UNITS },
    { flags: '--team <id>', key: 'team', description: 'on an iPhone/iPad: the Apple development team that signs the test harness' },
  ],
  executionProviderOption: 'computeUnits',

  async ensureAvailable() {
    if (!onPath('xcrun')) throw new MissingToolError(`xcrun not found: ${XCODE_INSTALL}`);
  },

  executionProviders() {
    return COMPUTE_UNITS;
  },

  environment() {
    return { coreml_precision: 'fp16' };
  },

  async probe() {
    return [
      { name: 'xcrun', found: await toolVersion('xcrun', ['--version']), install: 'macOS only: `xcode-select --install`' },
      { name: 'xcodebuild', found: await toolVersion('xcodebuild', ['-version']), install: 'macOS only: install Xcode from the App Store' },
    ];
  },

  listDevices: (timeoutSeconds) => listAppleDevices(timeoutSeconds),

  async selectDevice(wanted, { timeoutSeconds }) {
    const devices = (await listAppleDevices(timeoutSeconds)).filter((d) => d.kind !== 'simulator' || d.id === wanted || d.name === wanted);
    const chosen = wanted ? chooseDevice(devices, wanted, 'Apple devices') : devices.find((d) => d.kind === 'mac');
    if (!chosen) throw new MissingToolError('Xcode lists no Mac to run on: pass --device with an iPhone or iPad (see `eformer devices`)');
    if (chosen.kind === 'simulator') throw new UsageError(`${label(chosen)} is a simulator: it runs on the Mac's CPU and says nothing about device latency`);
    if (chosen.kind === 'watch' || chosen.kind === 'tv' || chosen.kind === 'vision') {
      throw new UsageError(`${label(chosen)} is an Apple ${chosen.kind === 'tv' ? 'TV' : chosen.kind === 'watch' ? 'Watch' : 'Vision device'}: the harness runs on iPhone, iPad and Mac`);
    }
    return chosen;
  },

  async measure(device: Device, model: ModelSource, options: DeviceRunOptions): Promise<DeviceMeasurement> {
    if (options.threads !== undefined) throw new UsageError('--threads does not apply to Core ML, which schedules its own work: choose --compute-units');
    if (model.inputs.length !== 1 || model.inputs[0].dtype !== 'float32') throw new UsageError(`${model.name}: the Core ML harness feeds exactly one float32 input`);
    const team = options.backendOptions.team as string | undefined;
    // NAME:int8 as a file name everywhere the harness goes (a colon means a folder in Finder and Xcode).
    const file = model.name.replace(/:/g, '-');
    const run = { device, timeoutSeconds: options.timeoutSeconds, team, name: file };
    const dir = join(options.workDir, file);
    mkdirSync(dir, { recursive: true });
    // A plain tensor input and fp16, as `export --coreml` makes by default.
    // An int8 model: Core ML's W8A8 of the float graph, calibrated on the same inputs as the QDQ graph.
    const int8 = model.int8;
    const converted = int8
      ? await cachedCoreml(int8.floatOnnx, { inputType: 'tensor', w8a8: { rgb: int8.rgb, tensors: int8.tensors, ranges: int8.ranges }, metadata: { source: 'eformer profile --backend coreml --precision int8' } })
      : await cachedCoreml(model.onnx, { inputType: 'tensor', metadata: { source: 'eformer profile --backend coreml' } });
    // coremlcompiler names its output after the package: copy the cached package under the model's name.
    const pkg = join(dir, `${file}.mlpackage`);
    cpSync(converted.path, pkg, { recursive: true });
    const compileStep = 'compile the model (xcrun coremlcompiler)';
    await runTool('xcrun', ['coremlcompiler', 'compile', pkg, dir], { device: label(device), step: compileStep, timeoutSeconds: options.timeoutSeconds, install: XCODE_INSTALL, explain: explainCompilerFailure });
    const compiled = join(dir, `${file}.mlmodelc`);
    if (!existsSync(compiled)) throw new DeviceError(label(device), compileStep, `coremlcompiler ended without error but wrote no ${file}.mlmodelc`);
    const config: HarnessConfig = {
      model: `${file}.mlmodelc`,
      input_name: model.inputs[0].name,
      input_shape: model.inputs[0].shape,
      compute_units: options.executionProvider,
      warmup: options.warmup,
      runs: options.runs,
    };
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    const result = device.kind === 'mac' ? await runMacHarness(await buildMacHarness(options.workDir, run), dir, run) : await runDeviceHarness(compiled, config, options.workDir, run);
    // The harness echoes what it ran with: a mismatch means the numbers are not the ones asked for.
    if (result.compute_units !== config.compute_units) {
      throw new DeviceError(label(device), 'check the harness result', `the harness ran ${model.name} with compute units '${result.compute_units}', not the requested '${config.compute_units}'`);
    }
    const memory = memoryFigures(result.memory);
    // The package eformer converted (the harness loads its compiled form, which coremlcompiler makes from it).
    const modelBytes = packageBytes(pkg);
    const absent = { ...memory.absent, ...(modelBytes > 0 ? {} : { model_bytes: `${file}.mlpackage holds no file` }) };
    return {
      samples: result.samples_ms,
      warmupRuns: options.warmup,
      loadMs: result.load_ms,
      firstRunMs: result.first_run_ms,
      ...(memory.memoryMb ? { memoryMb: memory.memoryMb } : {}),
      ...(modelBytes > 0 ? { modelBytes } : {}),
      ...(Object.keys(absent).length ? { absent } : {}),
      settings: { compute_units: result.compute_units, precision: int8 ? 'w8a8' : String(converted.report.precision ?? 'fp16'), hardware: result.hardware, device_os: result.os },
    };
  },
};

export const MEMORY_SOURCE = 'phys_footprint (task_vm_info) of the harness: its peak less its footprint before loading';

/**
 * The harness's footprint readings (checked by readResult) in the results' terms: the peak less the
 * footprint before loading is the model's, and so is the footprint after loading less the same.
 */
export function memoryFigures(memory: HarnessResult['memory']): Pick<DeviceMeasurement, 'memoryMb' | 'absent'> {
  if (!memory) return { absent: { memory_mb: 'this harness reported no memory footprint' } };
  const peak = megabytes(memory.peak_bytes - memory.before_load_bytes);
  if (!(peak > 0)) return { absent: { memory_mb: "the harness's footprint never rose above its footprint before loading" } };
  const load = megabytes(memory.after_load_bytes - memory.before_load_bytes);
  const how: Record<string, string> = {
    ledger_phys_footprint_peak: '',
    sampled: ' (the peak sampled after loading and after each prediction, so a peak within one may be missed)',
  };
  const source = MEMORY_SOURCE + (Object.hasOwn(how, memory.method) ? how[memory.method] : ` (the peak read by ${memory.method})`);
  return { memoryMb: { peak, ...(load >= 0 ? { load } : {}), source } };
}

/** The bytes of the regular files under `dir`, walked with lstat: links are neither followed nor counted. */
export function packageBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = lstatSync(path);
    if (st.isDirectory()) total += packageBytes(path);
    else if (st.isFile()) total += st.size;
  }
  return total;
}
