/**
 * Core ML on Apple hardware: convert the ONNX model with coremltools (the same bridge as
 * `eformer export --coreml`), compile it with `xcrun coremlcompiler`, and time it with the
 * Swift harness in harness/apple/, on this Mac (default) or on an iPhone/iPad (--device).
 */
import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeviceError, MissingToolError, UsageError } from '../../core/errors.js';
import { cachedCoreml } from '../../coreml/cache.js';
import { chooseDevice, type Device, label } from '../../devices/device.js';
import { onPath, runTool, toolVersion } from '../../devices/tool.js';
import type { DeviceBackend, DeviceMeasurement, DeviceRunOptions, ModelSource } from '../backend.js';
import { listAppleDevices, XCODE_INSTALL } from './devices.js';
import { buildMacHarness, explainCompilerFailure, type HarnessConfig, runDeviceHarness, runMacHarness } from './harness.js';

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
    return {
      samples: result.samples_ms,
      warmupRuns: options.warmup,
      loadMs: result.load_ms,
      firstRunMs: result.first_run_ms,
      settings: { compute_units: result.compute_units, precision: int8 ? 'w8a8' : String(converted.report.precision ?? 'fp16'), hardware: result.hardware, device_os: result.os },
    };
  },
};
