/**
 * --backend litert-android against a fake adb replaying fixtures/transcripts/litert-android/: the
 * transcripts are written by hand in the shape of real adb and benchmark_model output
 * (fixtures/real/benchmark_model/), not recorded from a phone, so these tests check the driver, not a
 * real device. benchmark_model itself is a stand-in file with a real ELF header: only its header is
 * read on the host, and only its path reaches the fake adb.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { benchmarkCommand } from '../src/backends/litert-android/index.js';
import { benchmarkModelFailure, parseBenchmarkModel, readDelegations } from '../src/backends/litert-android/benchmark-model.js';
import { checkResults } from '../src/results/results.js';
import { notAndroidArm64, readElf } from '../src/devices/elf.js';
import { DEFAULT_BUDGET } from '../src/gate/budgets.js';
import { gate } from '../src/gate/compare.js';
import { exportOnnx } from '../src/index.js';
import { medianOf } from '../src/latency/build.js';
import { cliWith, expectOneLine, expectTranscriptPlayed, expectWorkFoldersRemoved, type Fakes, fakeTools } from './fakes.js';
import { root, tempDir } from './helpers.js';

const MODELS = 'efficientformerv2_s0,mobilenetv2_100';
const ONE_MODEL = 'efficientformerv2_s0';
const PIXEL = 'Pixel 7 (2B0C1FDH2000AB)';

/** An ELF file header (and a PT_INTERP program header naming `interpreter`), as a compiler writes them. */
function elfBytes(machine: number, bits: 32 | 64, interpreter?: string): Buffer {
  const interp = interpreter ? Buffer.from(`${interpreter}\0`, 'latin1') : Buffer.alloc(0);
  const [ehsize, phsize] = bits === 64 ? [64, 56] : [52, 32];
  const b = Buffer.alloc(ehsize + phsize + interp.length + 64);
  b.writeUInt32BE(0x7f454c46, 0);
  b[4] = bits === 64 ? 2 : 1;
  b[5] = 1;
  b[6] = 1;
  b.writeUInt16LE(3, 16);
  b.writeUInt16LE(machine, 18);
  b.writeUInt32LE(1, 20);
  const interpAt = ehsize + phsize;
  if (bits === 64) {
    b.writeBigUInt64LE(BigInt(ehsize), 32);
    b.writeUInt16LE(ehsize, 52);
    b.writeUInt16LE(phsize, 54);
    b.writeUInt16LE(interpreter ? 1 : 0, 56);
    b.writeUInt32LE(3, ehsize);
    b.writeBigUInt64LE(BigInt(interpAt), ehsize + 8);
    b.writeBigUInt64LE(BigInt(interp.length), ehsize + 32);
  } else {
    b.writeUInt32LE(ehsize, 28);
    b.writeUInt16LE(ehsize, 40);
    b.writeUInt16LE(phsize, 42);
    b.writeUInt16LE(interpreter ? 1 : 0, 44);
    b.writeUInt32LE(3, ehsize);
    b.writeUInt32LE(interpAt, ehsize + 4);
    b.writeUInt32LE(interp.length, ehsize + 16);
  }
  interp.copy(b, interpAt);
  return b;
}

const ANDROID_ARM64 = () => elfBytes(183, 64, '/system/bin/linker64');

function binary(bytes: Buffer = ANDROID_ARM64(), name = 'benchmark_model'): string {
  const path = join(tempDir('eformer-benchmark-model-'), name);
  writeFileSync(path, bytes);
  return path;
}

/** `eformer profile --backend litert-android` with a fake adb replaying the transcript. */
async function profile(transcript: string, args: string[], env: Record<string, string> = {}, models = MODELS) {
  const fakes = fakeTools(`litert-android/${transcript}`, ['adb']);
  const json = join(tempDir(), 'results.json');
  const r = await cliWith({ ...fakes.env, ...env }, 'profile', '--backend', 'litert-android', '-m', models, '--json', json, '--quiet', ...args);
  return { ...r, fakes, json, results: existsSync(json) ? JSON.parse(readFileSync(json, 'utf8')) : undefined };
}

const pushes = (fakes: Fakes) => fakes.calls().filter((c) => c.includes('push'));
const models = (file: { results: { model: string }[] } | undefined) => file?.results.map((r) => r.model);

describe.concurrent('litert-android: runs that work', () => {
  it('measures both models with explicit flags and reads the median, spread, init, first run and memory in ms', async () => {
    const r = await profile('success', ['--benchmark-model', binary(), '--threads', '4', '--runs', '50']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expectTranscriptPlayed(r.fakes);
    expect(expectWorkFoldersRemoved(r.fakes.calls())).toBe(2);
    // The .tflite eformer wrote is what reaches the phone, under the name the command gives it.
    expect(pushes(r.fakes).map((c) => c.at(-1))).toEqual(expect.arrayContaining([expect.stringMatching(/\/model\.tflite$/), expect.stringMatching(/\/benchmark_model$/)]));
    const file = r.results;
    expect(file.env).toMatchObject({ adb: 'Android Debug Bridge version 1.0.41', device: PIXEL });
    expect(models(file)).toEqual(['efficientformerv2_s0', 'mobilenetv2_100']);
    const [s0, mb] = file.results;
    expect(s0).toMatchObject({
      backend: 'litert-android',
      runs: 50,
      warmup_runs: 10,
      settings: { threads: 4, execution_provider: 'xnnpack', delegate: 'xnnpack', delegated: 'complete', benchmark_model: 'benchmark_model' },
      device: { platform: 'android', id: '2B0C1FDH2000AB', name: 'Pixel 7', os: 'Android 14' },
      memory_mb: { peak: 31.2305, load: 24.8711 },
      model_bytes: expect.any(Number),
    });
    expect(s0.load_ms).toBeCloseTo(61.274, 9);
    expect(s0.first_run_ms).toBeCloseTo(28.41, 9);
    const want = { median: 11.951, mean: 11.9874, min: 11.802, max: 12.716, std: 0.141, p5: 11.819, p95: 12.297 };
    for (const [key, value] of Object.entries(want)) expect(s0.latency_ms[key], key).toBeCloseTo(value, 9);
    expect(s0.latency_ms).toMatchObject({ statistic: 'median', samples: [], from_summary: true, quantile_rule: expect.stringMatching(/nearest-rank/) });
    // benchmark_model prints no p90 or p99: none are made up.
    expect(s0.latency_ms.p90).toBeUndefined();
    expect(s0.latency_ms.p99).toBeUndefined();
    expect(mb.latency_ms.median).toBeCloseTo(4.419, 9);
    // The file reads back through the one validator report and gate use.
    expect(() => checkResults(file)).not.toThrow();
    const report = await cliWith({}, 'report', r.json);
    expect(report.code).toBe(0);
    // The note column wraps within the terminal's width.
    expect(report.stdout.replace(/-\s+/g, '-').replace(/\s+/g, ' ')).toContain('P50 from the harness (nearest-rank)');
  });

  it('--breakdown profiles each model in a second run with --enable_op_profiling=true, scaled to the unprofiled median', async () => {
    const r = await profile('op-profiling', ['--benchmark-model', binary(), '--ep', 'gpu', '--runs', '50', '--breakdown'], {}, ONE_MODEL);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expectTranscriptPlayed(r.fakes);
    expect(expectWorkFoldersRemoved(r.fakes.calls())).toBe(1);
    const [s0] = r.results.results;
    // No --threads: -1, the runtime's choice, recorded as 0.
    expect(s0.settings).toMatchObject({ threads: 0, execution_provider: 'gpu', delegated: 'complete' });
    expect(s0.latency_ms.median).toBeCloseTo(6.514, 9);
    expect(s0.breakdown).toMatchObject({ runs: 20, profiler: expect.stringMatching(/benchmark_model/) });
    expect(s0.breakdown.model_run_ms).toBeCloseTo(7.2096, 9);
    expect(s0.breakdown.by_op).toEqual([expect.objectContaining({ key: 'TfLiteGpuDelegateV2', percent: 100 })]);
    expect(s0.breakdown.by_op[0].ms).toBeCloseTo(6.514, 9);
    expect(s0.breakdown.by_op[0].profiler_ms).toBeCloseTo(7.151, 9);
  });

  it('a delegate that takes only part of the graph is measured, and the results say how much it took', async () => {
    const r = await profile('delegate-fallback', ['--benchmark-model', binary(), '--ep', 'gpu', '--runs', '50'], {}, ONE_MODEL);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expectTranscriptPlayed(r.fakes);
    expect(r.results.results[0].settings).toMatchObject({ delegated: 'partial', delegated_nodes: 240, total_nodes: 253, delegate_partitions: 2 });
  });

  it('an old build that prints only averages: the result stands for its average, never a median', async () => {
    const r = await profile('average-only', ['--benchmark-model', binary(), '--threads', '4', '--runs', '50'], {}, ONE_MODEL);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expectTranscriptPlayed(r.fakes);
    const s = r.results.results[0].latency_ms;
    expect(s).toMatchObject({ statistic: 'mean', from_summary: true });
    expect(s.median).toBeUndefined();
    expect(s.mean).toBeCloseTo(12.3185, 9);
    expect(r.results.results[0].memory_mb).toMatchObject({ peak: 31.5117, load: 25.0391 });
    const report = await cliWith({}, 'report', r.json, '--wide');
    expect(report.code).toBe(0);
    expect(report.stdout.replace(/\s+/g, ' ')).toMatch(/average from the harness \(no median printed\)/);
    expect(report.stdout).toMatch(/12\.319/);
  });

  it('asks the phone for its ABI when the listing did not say', async () => {
    const r = await profile('abi-asked', ['--benchmark-model', binary(), '--threads', '4', '--runs', '50'], {}, ONE_MODEL);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expectTranscriptPlayed(r.fakes);
  });
});

describe.concurrent('litert-android: what is missing or wrong (exit 3, one line, nothing pushed)', () => {
  it('no benchmark_model given: says where Google publishes it', async () => {
    const r = await profile('no-push', [], { EFORMER_BENCHMARK_MODEL: '' }, ONE_MODEL);
    expect(r.code).toBe(3);
    expectOneLine(r.stderr, "litert-android needs LiteRT's benchmark_model for Android", 'android_aarch64_benchmark_model', '--benchmark-model PATH');
    expectTranscriptPlayed(r.fakes);
  });

  it('no file where --benchmark-model says', async () => {
    const r = await profile('no-push', ['--benchmark-model', '/nonexistent/benchmark_model'], {}, ONE_MODEL);
    expect(r.code).toBe(3);
    expectOneLine(r.stderr, 'benchmark_model not found at /nonexistent/benchmark_model', 'android_aarch64_benchmark_model');
    expectTranscriptPlayed(r.fakes);
  });

  it.each([
    ['an x86_64 (desktop) build', elfBytes(62, 64, '/lib64/ld-linux-x86-64.so.2'), 'it is built for 64-bit x86_64, not arm64 (aarch64)'],
    ['a 32-bit ARM build', elfBytes(40, 32, '/system/bin/linker'), 'it is built for 32-bit arm, not arm64 (aarch64)'],
    ['the Linux aarch64 build (glibc loader)', elfBytes(183, 64, '/lib/ld-linux-aarch64.so.1'), 'it is built for Linux, not Android (it asks for the loader /lib/ld-linux-aarch64.so.1)'],
    ['an HTML page saved in its place', Buffer.from('<!DOCTYPE html><html>Not Found</html>'), 'it is not an executable (ELF) file: it starts with "<!DOCTYPE html><"'],
  ])('%s is refused before pushing', async (_, bytes, why) => {
    const path = binary(bytes);
    const r = await profile('no-push', ['--benchmark-model', path], {}, ONE_MODEL);
    expect(r.code).toBe(3);
    expectOneLine(r.stderr, `${path} is not a benchmark_model for Android arm64 phones (${why})`, 'android_aarch64_benchmark_model');
    expectTranscriptPlayed(r.fakes);
    expect(pushes(r.fakes)).toEqual([]);
  });

  it('a phone that is not arm64', async () => {
    const r = await profile('not-arm64', ['--benchmark-model', binary()], {}, ONE_MODEL);
    expect(r.code).toBe(3);
    expectOneLine(r.stderr, "sdk_gphone64_x86_64 (emulator-5554) is not an arm64 phone (its CPU ABI is 'x86_64')", 'arm64-v8a devices only');
    expectTranscriptPlayed(r.fakes);
  });

  it('NNAPI asked for but not applied: the CPU figures printed under its name are refused', async () => {
    const r = await profile('nnapi-not-applied', ['--benchmark-model', binary(), '--ep', 'nnapi', '--runs', '50'], {}, ONE_MODEL);
    expect(r.code).toBe(3);
    expectOneLine(r.stderr, `${PIXEL}: run benchmark_model on efficientformerv2_s0: the nnapi delegate ran no part of efficientformerv2_s0`, "the figures would be the CPU's");
    expectTranscriptPlayed(r.fakes);
    expect(expectWorkFoldersRemoved(r.fakes.calls())).toBe(1);
  });

  it("LiteRT's CompiledModel benchmark_model ignores --use_xnnpack: refused, naming the binary to get", async () => {
    const r = await profile('compiled-model-tool', ['--benchmark-model', binary(), '--threads', '4', '--runs', '50'], {}, ONE_MODEL);
    expect(r.code).toBe(3);
    expectOneLine(r.stderr, 'this benchmark_model ignored --use_xnnpack=true', 'android_aarch64_benchmark_model');
    expectTranscriptPlayed(r.fakes);
    expect(expectWorkFoldersRemoved(r.fakes.calls())).toBe(1);
  });

  it('an ONNX file cannot be measured on it: exit 2, after the binary is checked and before anything is pushed', async () => {
    const { path } = exportOnnx({ model: 'mobilenetv2_100', outDir: tempDir() });
    const fakes = fakeTools('litert-android/no-push', ['adb']);
    const r = await cliWith(fakes.env, 'profile', '--backend', 'litert-android', '--onnx', path, '--benchmark-model', binary(), '--quiet');
    expect(r.code).toBe(2);
    expectOneLine(r.stderr, 'mobilenetv2_100: litert-android runs the models eformer builds (it writes them as .tflite)');
    expectTranscriptPlayed(fakes);
  });
});

describe.concurrent('litert-android: a run that fails part-way (exit 3, keeping what was measured, folders removed)', () => {
  it('benchmark_model crashes (SIGSEGV) on the second model', async () => {
    const r = await profile('crash', ['--benchmark-model', binary(), '--threads', '4', '--runs', '50']);
    expect(r.code).toBe(3);
    expectOneLine(r.stderr, `${PIXEL}: run benchmark_model on mobilenetv2_100: benchmark_model crashed (SIGSEGV)`);
    expect(models(r.results)).toEqual(['efficientformerv2_s0']);
    expectTranscriptPlayed(r.fakes);
    expect(expectWorkFoldersRemoved(r.fakes.calls())).toBe(2);
  });

  it('output cut inside the statistics line is refused, naming the line', async () => {
    const r = await profile('unreadable-output', ['--benchmark-model', binary(), '--threads', '4', '--runs', '50'], {}, ONE_MODEL);
    expect(r.code).toBe(3);
    expectOneLine(r.stderr, `${PIXEL}: read benchmark_model output: could not read the figures for efficientformerv2_s0`, 'incomplete or inconsistent', 'max=127');
    expect(models(r.results) ?? []).toEqual([]);
    expectTranscriptPlayed(r.fakes);
    expect(expectWorkFoldersRemoved(r.fakes.calls())).toBe(1);
  });
});

describe('litert-android: the command line', () => {
  const options = { graphOptimization: 'all' as const, executionProvider: 'xnnpack', warmup: 3, runs: 7, timeoutSeconds: 90, workDir: '/tmp', backendOptions: {} };
  it('every choice is explicit: threads (-1 = LiteRT decides), exact warm-up and run counts, the step timeout, the delegate', () => {
    expect(benchmarkCommand('/d', options)).toBe('/d/benchmark_model --graph=/d/model.tflite --num_threads=-1 --warmup_runs=3 --warmup_min_secs=0 --num_runs=7 --min_secs=0 --max_secs=90 --use_xnnpack=true');
    expect(benchmarkCommand('/d', { ...options, threads: 2, executionProvider: 'nnapi' }, 20)).toBe(
      '/d/benchmark_model --graph=/d/model.tflite --num_threads=2 --warmup_runs=3 --warmup_min_secs=0 --num_runs=20 --min_secs=0 --max_secs=90 --use_nnapi=true --enable_op_profiling=true',
    );
  });
});

// Forms the sources print (benchmark_model.cc, stats_calculator.h, the delegates) that no public
// output collected for fixtures/real/ shows whole: hand-written inputs, each in the printed shape.
describe('benchmark_model lines no collected output shows (hand-written inputs)', () => {
  const run = (warm: string, timed: string, tail = '') =>
    `INFO: Running benchmark for at least 0 iterations and at least 0 seconds but terminate if exceeding 600 seconds.\nINFO: ${warm}\n\nINFO: Running benchmark for at least 5 iterations and at least 0 seconds but terminate if exceeding 600 seconds.\nINFO: ${timed}\n${tail}`;

  it('runs that all took the same time, a warm-up of none, and the sampled peak memory', () => {
    const r = parseBenchmarkModel(run('count=0', 'count=5 curr=2500(all same) p5=2500 median=2500 p95=2500', 'INFO: Overall peak memory footprint (MB) via periodic monitoring: 44.2\n'));
    expect(r.summary).toMatchObject({ runs: 5, mean: 2.5, min: 2.5, max: 2.5, std: 0, median: 2.5 });
    expect(r.warmupRuns).toBe(0);
    // No warm-up run: the first run is the first timed one.
    expect(r.firstRunMs).toBe(2.5);
    expect(r.memoryMb).toEqual({ peak: 44.2 });
  });

  it('a timings line that disagrees with the statistics line means the wrong line was read: refused', () => {
    expect(() => parseBenchmarkModel(run('count=1 curr=3000', 'count=5 first=2 curr=2 min=1 max=3 avg=2 std=1', 'INFO: Inference timings in us: Init: 1, First inference: 3000, Warmup (avg): 3000, Inference (avg): 2.5\n'))).toThrow(/disagrees/);
  });

  it('"Replacing N out of M node(s)" with N < M is a partial delegation, N = 0 none', () => {
    expect(readDelegations('VERBOSE: Replacing 250 out of 253 node(s) with delegate (TfLiteGpuDelegateV2) node, yielding 2 partitions for subgraph 0.')).toMatchObject([{ delegate: 'TfLiteGpuDelegateV2', nodes: 250, total: 253, partitions: 2, coverage: 'partial' }]);
    expect(readDelegations('Replacing 0 out of 12 node(s) with delegate (TfLiteXNNPackDelegate) node, yielding 1 partitions.')[0].coverage).toBe('none');
    expect(readDelegations('ERROR: 294 operations will run on the GPU, and the remaining 3 operations will run on the CPU.')).toMatchObject([{ delegate: 'GPU', nodes: 294, total: 297, coverage: 'partial' }]);
  });

  it.each([
    ['', 139, 'benchmark_model crashed (SIGSEGV)'],
    ["terminating with uncaught exception of type std::bad_alloc: std::bad_alloc\nAborted", 134, 'benchmark_model crashed (SIGABRT): terminating with uncaught exception of type std::bad_alloc: std::bad_alloc'],
    ['Killed', 137, 'benchmark_model crashed (SIGKILL) (the phone may have run out of memory)'],
    ['ERROR: Node number 12 (GELU) failed to prepare.\nERROR: Failed to allocate tensors!', 1, 'benchmark_model cannot load the model: the GELU op failed (Node number 12 (GELU) failed to prepare.)'],
    ["ERROR: Didn't find op for builtin opcode 'GELU' version '2'. An older version of this builtin might be supported.", 1, "benchmark_model cannot load the model: this build has no GELU kernel"],
    ['ERROR: Failed to allocate tensors!\nERROR: Benchmarking failed.', 1, 'benchmark_model failed: Failed to allocate tensors!'],
    ['CANNOT LINK EXECUTABLE "./benchmark_model": library "libc++_shared.so" not found', 1, 'benchmark_model cannot start: CANNOT LINK EXECUTABLE'],
  ])('failure %#: %s', (output, code, says) => {
    expect(benchmarkModelFailure(output, code)).toContain(says);
  });
});

describe('ELF headers', () => {
  it('reads machine, class and loader of real binaries on this machine and of headers written as compilers write them', () => {
    expect(readElf(process.execPath)).toMatchObject({ bits: 64, machine: process.arch === 'x64' ? 'x86_64' : 'aarch64' });
    const arm64Library = join(root, 'node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/libonnxruntime.so.1');
    if (existsSync(arm64Library)) {
      // A shared library asks for no loader: it reads as a static aarch64 binary, which Android runs.
      expect(readElf(arm64Library)).toEqual({ bits: 64, machine: 'aarch64' });
    }
    expect(notAndroidArm64(binary())).toBeUndefined();
    expect(notAndroidArm64(binary(Buffer.alloc(0)))).toBe('it is empty');
    expect(notAndroidArm64(binary(Buffer.from('\x7fELF')))).toMatch(/not an executable \(ELF\) file/);
  });

  it('a header whose program headers point past the end of the file is read without them, never out of bounds', () => {
    const b = elfBytes(183, 64, '/system/bin/linker64');
    b.writeBigUInt64LE(BigInt(1e12), 32);
    expect(readElf(binary(b))).toEqual({ bits: 64, machine: 'aarch64' });
  });
});

describe('the gate and the statistic a device result stands for', () => {
  const env = { cpu: 'x', cores: 1, os: 'x', node: 'x', eformer: 'x', created: 'x' };
  const result = (latency: Record<string, unknown>) => ({
    schema: 'eformer.results/1' as const,
    env,
    results: [{ model: 'm', backend: 'litert-android', batch: 1, settings: { threads: 0, graph_optimization: 'all', execution_provider: 'xnnpack', spinning: false, interleaved: false }, runs: 50, warmup_runs: 10, noisy: false, latency_ms: { samples: [], from_summary: true, min: 9, max: 15, ...latency } }],
  });
  const averages = (mean: number) => result({ statistic: 'mean', mean });
  const medians = (median: number) => result({ statistic: 'median', median, mean: median });
  // A device harness times one model at a time: there is no reference, so raw figures are compared, as asked.
  const options = { config: { defaults: DEFAULT_BUDGET, models: {} }, flags: {}, rawMedians: true };

  it('compares averages with averages and says so', () => {
    const v = gate(checkResults(averages(10)), checkResults(averages(12)), options);
    const check = v.models[0].checks.find((c) => c.metric === 'latency')!;
    expect(check).toMatchObject({ baseline: 10, current: 12, outcome: 'regression' });
    expect(check.basis).toMatch(/^average ms from the harness summary \(the harness printed no median/);
  });

  it('refuses to compare a median with an average', () => {
    expect(() => gate(checkResults(medians(10)), checkResults(averages(10)), options)).toThrow(/a median and an average are not compared/);
  });

  it('latency tables hold medians: a result that stands for its average is refused, naming the harness build to use', () => {
    expect(() => medianOf(checkResults(averages(10)).results[0])).toThrow(/m: the harness printed only an average, and latency tables hold medians/);
    expect(medianOf(checkResults(medians(10)).results[0])).toBe(10);
  });

  it('the validator refuses an average dressed as a median, and a median-less result that does not say it stands for its average', () => {
    expect(() => checkResults(result({ statistic: 'mean', mean: 10, median: 10 }))).toThrow(/median is given beside statistic "mean"/);
    expect(() => checkResults(result({ mean: 10 }))).toThrow(/latency_ms.median is missing/);
    expect(() => checkResults(result({ statistic: 'mean', mean: 10, from_summary: false, samples: [10] }))).toThrow(/statistic is "mean" for figures computed from runs/);
  });
});
