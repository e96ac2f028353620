/**
 * `profile --backend coreml` and `eformer devices` against fake xcrun / xcodebuild replaying
 * fixtures/transcripts/apple/ (hand-written from Xcode's documented output, not recorded on
 * hardware). The Core ML conversion in between is real (coremltools in .eformer/venv).
 */
import { existsSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdirSync, writeFileSync } from 'node:fs';
import { MEMORY_SOURCE, memoryFigures, packageBytes } from '../src/backends/coreml/index.js';
import { memoryProblem } from '../src/backends/coreml/harness.js';
import { cliWith, FAKE_TOOL, fakeTools } from './fakes.js';
import { tempDir } from './helpers.js';

const IPHONE = '00008101-001E30D43C38001E';
const S0 = 'efficientformerv2_s0';
const TWO = `${S0},efficientformer_l1`;

// Conversions are real and slow; share them between the tests of this file only.
const cache = tempDir('eformer-coreml-cache-');

function coreml(transcript: string) {
  const fakes = fakeTools(`apple/${transcript}`, ['xcrun', 'xcodebuild']);
  return { ...fakes, env: { ...fakes.env, EFORMER_CACHE: cache } };
}

async function profile(fakes: ReturnType<typeof coreml>, ...args: string[]) {
  const json = join(tempDir(), 'results.json');
  const r = await cliWith(fakes.env, 'profile', '--backend', 'coreml', '--runs', '20', '--warmup', '5', '--quiet', '--json', json, ...args);
  const results = existsSync(json) ? JSON.parse(readFileSync(json, 'utf8')) : undefined;
  return { ...r, results };
}

/** One line, naming the device and the step, and no stack trace. */
function expectOneLine(stderr: string, ...parts: string[]) {
  const lines = stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^eformer: /);
  for (const p of parts) expect(lines[0]).toContain(p);
}

describe('coreml backend (fake Xcode tools)', () => {
  it('measures two models on this Mac, building the harness once', async () => {
    const fakes = coreml('mac-success');
    const r = await profile(fakes, '-m', TWO, '--compute-units', 'cpuAndNeuralEngine');
    expect(fakes.mismatches()).toEqual([]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(fakes.used()).toBe(fakes.total);
    const [s0, l1] = r.results.results;
    expect(s0.model).toBe(S0);
    expect(l1.model).toBe('efficientformer_l1');
    expect(s0.backend).toBe('coreml');
    expect(s0.device).toMatchObject({ platform: 'apple', id: '2F2B5B3C-5C3E-5E0B-8E5B-9C3D0A1B2C3D', name: 'Jane’s MacBook Pro' });
    expect(s0.runs).toBe(20);
    expect(s0.latency_ms.samples).toHaveLength(20);
    expect(s0.latency_ms.median).toBeCloseTo(1.31, 1);
    expect(l1.latency_ms.median).toBeCloseTo(1.62, 1);
    expect(s0.load_ms).toBe(48.1);
    expect(s0.first_run_ms).toBe(7.9);
    // The harness echoes the compute units it ran with; eformer checks them against the request.
    expect(s0.settings).toMatchObject({ compute_units: 'cpuAndNeuralEngine', hardware: 'Mac14,2', precision: 'fp16' });
    expect(s0.params.toolbox).toBeGreaterThan(3e6);
    // The transcript's phys_footprint readings: peak and after-load, each less the footprint before loading.
    expect(s0.memory_mb).toEqual({ peak: 28.5, load: 15, source: MEMORY_SOURCE });
    expect(l1.memory_mb).toMatchObject({ peak: 36.5, load: 21.5 });
    expect(l1.memory_mb.source).toContain('sampled after loading and after each prediction');
    // The .mlpackage eformer converted: fp16 weights of a 3.5M-parameter model are megabytes.
    expect(s0.model_bytes).toBeGreaterThan(1e6);
    expect(l1.model_bytes).toBeGreaterThan(s0.model_bytes);
    expect(s0.absent).toBeUndefined();
    expect(r.results.env.device).toContain('MacBook');
    // Device runs add the device to the table (load and first-run times in --wide and the files).
    expect(r.stdout).toMatch(/device/);
  });

  it('runs the XCTest harness on an iPhone and reads the result back with xcresulttool', async () => {
    const fakes = coreml('iphone-success');
    const r = await profile(fakes, '-m', S0, '--device', IPHONE, '--team', 'ABCDE12345');
    expect(fakes.mismatches()).toEqual([]);
    expect(r.code).toBe(0);
    expect(fakes.used()).toBe(fakes.total);
    const [s0] = r.results.results;
    expect(s0.device).toMatchObject({ id: IPHONE, name: 'Jane’s iPhone', os: '17.5.1' });
    expect(s0.settings.hardware).toBe('iPhone13,2');
    expect(s0.load_ms).toBe(212.4);
    expect(s0.latency_ms.median).toBeCloseTo(1.02, 1);
    expect(s0.memory_mb).toEqual({ peak: 45.5, load: 23.5, source: MEMORY_SOURCE });
    expect(s0.model_bytes).toBeGreaterThan(1e6);
  });

  it('Xcode 15+: runs on an iPhone that xctrace calls offline but devicectl calls connected', async () => {
    const fakes = coreml('iphone-offline-in-xctrace');
    const r = await profile(fakes, '-m', S0, '--device', 'Jane’s iPhone', '--team', 'ABCDE12345');
    expect(fakes.mismatches()).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.results.results[0].device).toMatchObject({ id: IPHONE, name: 'Jane’s iPhone' });
    // This transcript's harness predates the memory readings: memory is absent and says why, never 0.
    const [s0] = r.results.results;
    expect(s0.memory_mb).toBeUndefined();
    expect(s0.absent).toEqual({ memory_mb: 'this harness reported no memory footprint' });
    expect(s0.model_bytes).toBeGreaterThan(1e6);
  });

  it('a harness result with a malformed memory object: exit 3, the numbers are not kept', async () => {
    const fakes = coreml('mac-bad-memory');
    const r = await profile(fakes, '-m', S0, '--compute-units', 'cpuAndNeuralEngine');
    expect(fakes.mismatches()).toEqual([]);
    expect(r.code).toBe(3);
    expectOneLine(r.stderr, 'Jane’s MacBook Pro', 'read the Mac harness result', "the harness result's memory lacks peak_bytes");
    expect(r.results).toBeUndefined();
  });

  it('a harness that ran with other compute units than asked: exit 3, the numbers are not kept', async () => {
    const fakes = coreml('compute-units-mismatch');
    const r = await profile(fakes, '-m', S0, '--compute-units', 'cpuAndNeuralEngine');
    expect(fakes.mismatches()).toEqual([]);
    expect(r.code).toBe(3);
    expectOneLine(r.stderr, "compute units 'all', not the requested 'cpuAndNeuralEngine'");
    expect(r.results).toBeUndefined();
  });

  it('a device that is not connected: exit 3, one line', async () => {
    const fakes = coreml('no-device');
    const r = await profile(fakes, '-m', S0, '--device', '00008110-FFFF00000000001E');
    expect(r.code).toBe(3);
    expectOneLine(r.stderr, "device '00008110-FFFF00000000001E' is not connected", 'Jane’s iPhone');
    expect(r.results).toBeUndefined();
  });

  it('an offline device: exit 3 with what to do', async () => {
    const fakes = coreml('offline-device');
    const r = await profile(fakes, '-m', S0, '--device', '00008027-000A2D8E0C8A801E');
    expect(r.code).toBe(3);
    // xctrace lists it offline and devicectl says it is unavailable: devicectl's word wins.
    expectOneLine(r.stderr, 'Jane’s iPad (00008027-000A2D8E0C8A801E) is unavailable', 'connect it, unlock it and trust this Mac');
  });

  it('a simulator is refused (exit 2): it measures the Mac, not a phone', async () => {
    const fakes = coreml('no-device');
    const r = await profile(fakes, '-m', S0, '--device', 'iPhone 15 Simulator');
    expect(r.code).toBe(2);
    expectOneLine(r.stderr, 'is a simulator');
  });

  it('a locked iPhone: exit 3 naming the device and the xcodebuild step', async () => {
    const fakes = coreml('locked');
    const r = await profile(fakes, '-m', S0, '--device', IPHONE, '--team', 'ABCDE12345');
    expect(fakes.mismatches()).toEqual([]);
    expect(r.code).toBe(3);
    expectOneLine(r.stderr, `Jane’s iPhone (${IPHONE})`, 'xcodebuild test', 'the device is locked');
  });

  it('a model coremlcompiler rejects: exit 3 naming the compile step and its error', async () => {
    const fakes = coreml('compile-error');
    const r = await profile(fakes, '-m', S0);
    expect(r.code).toBe(3);
    expectOneLine(r.stderr, 'Jane’s MacBook Pro', 'compile the model (xcrun coremlcompiler)', 'Manifest.json is missing');
  });

  it('a harness that hangs is stopped by --timeout: exit 3', async () => {
    const fakes = coreml('timeout');
    // Every step gets 8 s: ample for a fake tool on a loaded machine, far below the fake's 60 s hang.
    const r = await profile(fakes, '-m', S0, '--device', IPHONE, '--team', 'ABCDE12345', '--timeout', '8');
    expect(r.code).toBe(3);
    expectOneLine(r.stderr, `Jane’s iPhone (${IPHONE})`, 'xcodebuild test', 'timed out after 8 s');
    expect(r.results).toBeUndefined();
  });

  it('a crash on the device during the second model keeps the first result', async () => {
    const fakes = coreml('crash-mid-run');
    const r = await profile(fakes, '-m', TWO, '--device', IPHONE, '--team', 'ABCDE12345');
    expect(fakes.mismatches()).toEqual([]);
    expect(r.code).toBe(3);
    expectOneLine(r.stderr, `Jane’s iPhone (${IPHONE})`, 'xcodebuild test', 'crashed');
    expect(r.results.results.map((x: { model: string }) => x.model)).toEqual([S0]);
  });

  it('a result bundle without our attachment: exit 3, unreadable output named', async () => {
    const fakes = coreml('unreadable-result');
    const r = await profile(fakes, '-m', S0, '--device', IPHONE, '--team', 'ABCDE12345');
    expect(r.code).toBe(3);
    expect(fakes.mismatches()).toEqual([]);
    expectOneLine(r.stderr, 'read the XCTest result', 'the harness test failed', 'The model could not be loaded', 'attached no result');
  });

  it('without Xcode: exit 3 saying what to install', async () => {
    const r = await cliWith({ PATH: '/usr/bin:/bin' }, 'profile', '--backend', 'coreml', '-m', S0, '--quiet');
    expect(r.code).toBe(3);
    expectOneLine(r.stderr, 'xcrun not found', 'Xcode');
  });

  it('device-only and session-only flags are refused as usage errors', async () => {
    const env = coreml('no-device').env;
    expect((await cliWith(env, 'profile', '-m', S0, '--compute-units', 'all')).code).toBe(2);
    const ref = await cliWith(env, 'profile', '-b', 'coreml', '-m', S0, '--reference', 'mobilenetv2_100', '--quiet');
    expect(ref.code).toBe(2);
    expectOneLine(ref.stderr, '--reference needs a backend that interleaves');
  });
});

describe("the harness's memory readings and the package size", () => {
  const memory = { before_load_bytes: 100 * 2 ** 20, after_load_bytes: 112 * 2 ** 20, peak_bytes: 130 * 2 ** 20, method: 'ledger_phys_footprint_peak' };

  it('accepts whole, consistent readings', () => {
    expect(memoryProblem(memory)).toBeUndefined();
    expect(memoryProblem({ ...memory, method: 'sampled' })).toBeUndefined();
  });

  it.each([
    ['a string of bytes', { ...memory, peak_bytes: '136314880' }, 'lacks peak_bytes'],
    ['a negative footprint', { ...memory, before_load_bytes: -1 }, 'lacks before_load_bytes'],
    ['a fraction of a byte', { ...memory, after_load_bytes: 1.5 }, 'lacks after_load_bytes'],
    ['null (JSON has no NaN)', { ...memory, peak_bytes: null }, 'lacks peak_bytes'],
    ['an infinite footprint (1e400 in JSON)', { ...memory, peak_bytes: JSON.parse('1e400') }, 'lacks peak_bytes'],
    ['beyond 2^53', { ...memory, peak_bytes: 2 ** 53 }, 'lacks peak_bytes'],
    ['a missing field', { before_load_bytes: 1, peak_bytes: 2, method: 'sampled' }, 'lacks after_load_bytes'],
    ['no method', { ...memory, method: 7 }, 'lacks the method'],
    ['a peak below the footprint before loading', { ...memory, peak_bytes: 99 * 2 ** 20 }, 'has a peak'],
    ['a peak below the footprint after loading', { ...memory, peak_bytes: 111 * 2 ** 20 }, 'has a peak'],
    ['not an object', [1, 2, 3], 'is not an object'],
  ])('refuses %s', (_, bad, why) => {
    expect(memoryProblem(bad)).toContain(why);
  });

  it('the peak and the load, each less the footprint before loading; a peak that never rose is absent, never 0', () => {
    expect(memoryFigures(memory)).toEqual({ memoryMb: { peak: 30, load: 12, source: MEMORY_SOURCE } });
    // Loading may hand memory back (a load below 0 is left out; the peak still speaks).
    expect(memoryFigures({ ...memory, after_load_bytes: 99 * 2 ** 20 }).memoryMb).toEqual({ peak: 30, source: MEMORY_SOURCE });
    expect(memoryFigures({ ...memory, after_load_bytes: memory.before_load_bytes, peak_bytes: memory.before_load_bytes })).toEqual({
      absent: { memory_mb: "the harness's footprint never rose above its footprint before loading" },
    });
    expect(memoryFigures(undefined)).toEqual({ absent: { memory_mb: 'this harness reported no memory footprint' } });
    expect(memoryFigures(null)).toEqual({ absent: { memory_mb: 'this harness reported no memory footprint' } });
  });

  it("the package's size: its regular files, links neither followed nor counted", () => {
    const pkg = join(tempDir(), 'm.mlpackage');
    mkdirSync(join(pkg, 'Data/com.apple.CoreML/weights'), { recursive: true });
    writeFileSync(join(pkg, 'Manifest.json'), 'x'.repeat(100));
    writeFileSync(join(pkg, 'Data/com.apple.CoreML/model.mlmodel'), 'x'.repeat(1000));
    writeFileSync(join(pkg, 'Data/com.apple.CoreML/weights/weight.bin'), 'x'.repeat(10_000));
    const big = join(tempDir(), 'big.bin');
    writeFileSync(big, 'x'.repeat(1_000_000));
    symlinkSync(big, join(pkg, 'Data/outside.bin'));
    symlinkSync(pkg, join(pkg, 'Data/loop'));
    expect(packageBytes(pkg)).toBe(11_100);
  });
});

describe('eformer devices (fake xcrun and adb)', () => {
  it('lists Apple and Android devices with their state', async () => {
    const fakes = fakeTools('devices', ['xcrun', 'adb']);
    const r = await cliWith(fakes.env, 'devices', '--json');
    expect(fakes.mismatches()).toEqual([]);
    expect(r.code).toBe(0);
    const listings = JSON.parse(r.stdout);
    const apple = listings.find((l: { platform: string }) => l.platform === 'apple').devices;
    expect(apple.map((d: { kind: string; state: string }) => `${d.kind}:${d.state}`)).toEqual(['mac:device', 'phone:device', 'tablet:unavailable', 'simulator:device', 'simulator:device']);
    expect(apple[2]).toMatchObject({ name: 'Jane’s iPad', os: '16.7.8' });
    expect(apple[3].name).toBe('iPad Air 11-inch (M2) Simulator');
    const android = listings.find((l: { platform: string }) => l.platform === 'android').devices;
    expect(android).toMatchObject([{ id: '2B0C1FDH2000AB', name: 'Pixel 7', state: 'device' }, { id: 'R58M41ABCDE', state: 'unauthorized' }]);
  });

  it('without xcrun and adb: exit 3', async () => {
    const r = await cliWith({ PATH: '/nonexistent' }, 'devices');
    expect(r.code).toBe(3);
    expect(r.stdout).toContain('xcrun not found');
  });
});

describe('the fake Xcode tools check what matters on the iPhone path', () => {
  /** Call the fake xcodebuild of the iphone-success transcript the way eformer would, from `cwd`. */
  async function xcodebuild(prepare: (pkg: string) => void, folder = 'package-efficientformerv2_s0') {
    const fakes = coreml('iphone-success');
    const pkg = join(tempDir(), folder);
    mkdirSync(join(pkg, 'Tests/EformerBenchTests/Resources/Model.mlmodelc'), { recursive: true });
    writeFileSync(join(pkg, 'Package.swift'), '// harness');
    const config = { model: 'Model.mlmodelc', input_name: 'image', input_shape: [1, 3, 224, 224], compute_units: 'all', warmup: 5, runs: 20 };
    writeFileSync(join(pkg, 'Tests/EformerBenchTests/Resources/config.json'), JSON.stringify(config));
    prepare(pkg);
    // Skip the listing and compile calls: start the transcript at xcodebuild.
    writeFileSync(join(fakes.env.EFORMER_FAKE_STATE, 'next'), '3');
    const args = ['test', '-scheme', 'EformerBench', '-destination', `platform=iOS,id=${IPHONE}`, '-resultBundlePath', join(pkg, '..', 'efficientformerv2_s0.xcresult'), '-only-testing:EformerBenchTests/BenchmarkTests/testBenchmark', '-allowProvisioningUpdates', 'DEVELOPMENT_TEAM=ABCDE12345'];
    const r = await execa(process.execPath, [FAKE_TOOL, 'xcodebuild', ...args], { cwd: pkg, env: fakes.env, reject: false });
    return { code: r.exitCode, mismatch: fakes.mismatches().join('\n') };
  }
  const config = (pkg: string) => join(pkg, 'Tests/EformerBenchTests/Resources/config.json');

  it('accepts what eformer prepares', async () => {
    expect(await xcodebuild(() => {})).toEqual({ code: 0, mismatch: '' });
  });

  it('refuses a harness config asking for one run', async () => {
    const r = await xcodebuild((pkg) => writeFileSync(config(pkg), JSON.stringify({ ...JSON.parse(readFileSync(config(pkg), 'utf8')), runs: 1 })));
    expect(r.code).toBe(99);
    expect(r.mismatch).toContain('config.json has runs=1, expected 20');
  });

  it('refuses unknown compute units', async () => {
    const r = await xcodebuild((pkg) => writeFileSync(config(pkg), JSON.stringify({ ...JSON.parse(readFileSync(config(pkg), 'utf8')), compute_units: 'bogus' })));
    expect(r.mismatch).toContain('compute_units="bogus"');
  });

  it('refuses a package without the compiled model', async () => {
    const r = await xcodebuild((pkg) => rmSync(join(pkg, 'Tests/EformerBenchTests/Resources/Model.mlmodelc'), { recursive: true }));
    expect(r.mismatch).toContain('Model.mlmodelc is missing');
  });

  it('refuses to run from another working folder', async () => {
    const r = await xcodebuild(() => {}, 'elsewhere');
    expect(r.code).toBe(99);
    expect(r.mismatch).toMatch(/ran in .*\/elsewhere, expected re:\.\*\/package-efficientformerv2_s0/);
  });
});
