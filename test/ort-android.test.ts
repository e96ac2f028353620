/**
 * --backend ort-android against a fake adb replaying fixtures/transcripts/android/: the
 * transcripts are written by hand from adb's and onnxruntime_perf_test's documented output,
 * not recorded from a phone, so these tests check the driver, not a real device.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseGetprop } from '../src/devices/android.js';
import { cliWith, expectOneLine, expectTranscriptPlayed, expectWorkFoldersRemoved, fakeTools } from './fakes.js';
import { tempDir } from './helpers.js';

const MODELS = 'efficientformerv2_s0,efficientformer_l1';
// Enough where the run fails before (or at) the first model.
const ONE_MODEL = 'efficientformerv2_s0';
const PIXEL = 'Pixel 7 (2B0C1FDH2000AB)';

/** A stand-in for perf_test on the host: only its path and bytes reach the fake adb. */
function perfTestFile(withLibrary = false): string {
  const dir = tempDir('eformer-perf-test-');
  writeFileSync(join(dir, 'onnxruntime_perf_test'), '\x7fELF stand-in');
  if (withLibrary) writeFileSync(join(dir, 'libonnxruntime.so'), '\x7fELF stand-in');
  return join(dir, 'onnxruntime_perf_test');
}

/** `eformer profile --backend ort-android` with a fake adb replaying the transcript. */
async function profile(transcript: string, args: string[], env: Record<string, string> = {}, models = MODELS) {
  const fakes = fakeTools(`android/${transcript}`, ['adb']);
  const json = join(tempDir(), 'results.json');
  const r = await cliWith({ ...fakes.env, ...env }, 'profile', '--backend', 'ort-android', '-m', models, '--json', json, '--runs', '50', '--quiet', ...args);
  return { ...r, fakes, results: existsSync(json) ? JSON.parse(readFileSync(json, 'utf8')) : undefined };
}

const results = (file: { results: { model: string }[] } | undefined) => file?.results.map((r) => r.model);

describe.concurrent('ort-android: a run that works', () => {
  it('measures both models on the one phone and reads perf_test figures into ms', async () => {
    const perfTest = perfTestFile(true);
    const r = await profile('success', ['--perf-test', perfTest, '--threads', '4']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expectTranscriptPlayed(r.fakes);
    expect(expectWorkFoldersRemoved(r.fakes.calls())).toBe(2);
    // The library beside perf_test goes along, and perf_test finds it through LD_LIBRARY_PATH.
    expect(r.fakes.calls().filter((c) => c.includes('push') && c.some((a) => a.endsWith('/libonnxruntime.so')))).toHaveLength(2);

    const file = r.results;
    expect(file.env).toMatchObject({ adb: 'Android Debug Bridge version 1.0.41', device: PIXEL });
    expect(results(file)).toEqual(['efficientformerv2_s0', 'efficientformer_l1']);
    const [s0, l1] = file.results;
    expect(s0).toMatchObject({
      backend: 'ort-android',
      runs: 50,
      warmup_runs: 1,
      first_run_ms: 41,
      settings: { threads: 4, graph_optimization: 'all', execution_provider: 'cpu', perf_test: 'onnxruntime_perf_test' },
      device: { platform: 'android', id: '2B0C1FDH2000AB', name: 'Pixel 7', model: 'Pixel 7', os: 'Android 14' },
    });
    expect(s0.load_ms).toBeCloseTo(183.402, 9);
    const expectLatency = (got: Record<string, unknown>, want: Record<string, number>) => {
      for (const [key, value] of Object.entries(want)) expect(got[key], key).toBeCloseTo(value, 9);
      expect(got).toMatchObject({ samples: [], from_summary: true });
    };
    // median = P50, in ms; mean from "Average inference time cost total" (s0) and "... cost" (l1).
    expectLatency(s0.latency_ms, { median: 12.2951, mean: 12.346218, p90: 12.9862, p99: 14.1207, min: 11.8734, max: 14.1207 });
    expectLatency(l1.latency_ms, { median: 30.3716, mean: 30.5928, p90: 31.5207, p99: 33.8742, min: 29.7415, max: 33.8742 });
    expect(l1.load_ms).toBeCloseTo(402.117, 9);
    expect(l1.first_run_ms).toBe(88);
    expect(r.stdout).toContain('efficientformer_l1');
  });

  it('a budgets file that names a reference does not stop a device run: a harness cannot interleave one, so none is timed', async () => {
    const budgets = join(tempDir(), 'eformer.config.json');
    writeFileSync(budgets, JSON.stringify({ reference: 'mobilenetv2_100' }));
    const r = await profile('success', ['--perf-test', perfTestFile(true), '--threads', '4', '--budgets', budgets]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(results(r.results)).toEqual(['efficientformerv2_s0', 'efficientformer_l1']);
    expect(r.results.results.every((x: { vs_reference?: unknown }) => x.vs_reference === undefined)).toBe(true);
  });

  it('--device picks one of several; XNNPACK threads, the graph level and $EFORMER_PERF_TEST reach perf_test', async () => {
    const r = await profile('choose-device', ['--device', 'R58M41ABCDE', '--ep', 'xnnpack', '--threads', '2', '--graph-opt', 'basic'], { EFORMER_PERF_TEST: perfTestFile() });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expectTranscriptPlayed(r.fakes);
    expect(expectWorkFoldersRemoved(r.fakes.calls())).toBe(2);
    expect(r.results.results[1]).toMatchObject({
      model: 'efficientformer_l1',
      settings: { threads: 2, execution_provider: 'xnnpack', graph_optimization: 'basic' },
      // adb lists it as SM_S901B; the phone's own getprop says SM-S901B.
      device: { id: 'R58M41ABCDE', name: 'SM-S901B', model: 'SM-S901B', os: 'Android 13' },
    });
    expect(r.results.results[1].latency_ms.median).toBeCloseTo(23.9915, 9);
  });
});

describe.concurrent('ort-android: choosing a device', () => {
  it('--warmup is refused (exit 2): perf_test always runs exactly one warm-up inference', async () => {
    const r = await profile('no-device', ['--perf-test', perfTestFile(), '--warmup', '5'], {}, ONE_MODEL);
    expect(r.code).toBe(2);
    expectOneLine(r.stderr, '--warmup is not available on ort-android');
  });

  it('no device connected: exit 3', async () => {
    const r = await profile('no-device', ['--perf-test', perfTestFile()], {}, ONE_MODEL);
    expect(r.code).toBe(3);
    expectOneLine(r.stderr, 'no Android devices connected');
    expectTranscriptPlayed(r.fakes);
  });

  it('several devices and no --device: exit 2, naming them', async () => {
    const r = await profile('several-devices', ['--perf-test', perfTestFile()], {}, ONE_MODEL);
    expect(r.code).toBe(2);
    expectOneLine(r.stderr, '2 Android devices are connected', PIXEL, 'SM-S901B (R58M41ABCDE)', 'choose one with --device');
    expectTranscriptPlayed(r.fakes);
  });

  it('a locked phone whose USB debugging prompt was not accepted: exit 3, saying what to do', async () => {
    const r = await profile('unauthorized', ['--perf-test', perfTestFile()], {}, ONE_MODEL);
    expect(r.code).toBe(3);
    expectOneLine(r.stderr, '2B0C1FDH2000AB is unauthorized: unlock it and accept the USB debugging prompt');
    expectTranscriptPlayed(r.fakes);
  });
});

describe.concurrent('ort-android: what is missing on the host', () => {
  it('no adb on PATH: exit 3 with how to install it', async () => {
    const r = await cliWith({ PATH: tempDir('eformer-empty-path-') }, 'profile', '--backend', 'ort-android', '-m', 'efficientformerv2_s0', '--perf-test', perfTestFile(), '--quiet');
    expect(r.code).toBe(3);
    expectOneLine(r.stderr, 'adb not found: install the Android platform tools');
  });

  it('no perf_test where --perf-test says: exit 3 with how to build one, before anything is pushed', async () => {
    const r = await profile('perf-test-missing', ['--perf-test', '/nonexistent/onnxruntime_perf_test'], {}, ONE_MODEL);
    expect(r.code).toBe(3);
    expectOneLine(r.stderr, 'onnxruntime_perf_test not found at /nonexistent/onnxruntime_perf_test', './build.sh --android', 'then pass --perf-test PATH');
    expectTranscriptPlayed(r.fakes);
  });
});

describe.concurrent('ort-android: a device that fails part-way keeps what was measured (exit 3, one line naming device and step)', () => {
  it('perf_test crashes (SIGSEGV) on the second model', async () => {
    const r = await profile('crash', ['--perf-test', perfTestFile(), '--threads', '2']);
    expect(r.code).toBe(3);
    expectOneLine(r.stderr, `${PIXEL}: run onnxruntime_perf_test on efficientformer_l1: onnxruntime_perf_test crashed (SIGSEGV)`);
    expect(results(r.results)).toEqual(['efficientformerv2_s0']);
    expect(r.results.results[0].latency_ms.median).toBeCloseTo(12.2951, 9);
    expectTranscriptPlayed(r.fakes);
    expect(expectWorkFoldersRemoved(r.fakes.calls())).toBe(2);
  });

  it('the phone is unplugged while the second model is pushed; the failed clean-up does not hide why', async () => {
    const r = await profile('disconnected', ['--perf-test', perfTestFile()]);
    expect(r.code).toBe(3);
    expectOneLine(r.stderr, `${PIXEL}: push efficientformer_l1: the device disconnected`);
    expect(results(r.results)).toEqual(['efficientformerv2_s0']);
    expectTranscriptPlayed(r.fakes);
    // The clean-up is still tried (and fails, the phone being gone).
    expect(expectWorkFoldersRemoved(r.fakes.calls())).toBe(2);
  });

  it('perf_test output without the statistics cannot be read: names what is missing', async () => {
    const r = await profile('unreadable-output', ['--perf-test', perfTestFile()], {}, ONE_MODEL);
    expect(r.code).toBe(3);
    expectOneLine(r.stderr, `${PIXEL}: read onnxruntime_perf_test output: could not read the figures for efficientformerv2_s0: missing "Min Latency"`, '"P50 Latency"');
    // Nothing was measured, so nothing (or an empty list) is written.
    expect(results(r.results) ?? []).toEqual([]);
    expectTranscriptPlayed(r.fakes);
    expect(expectWorkFoldersRemoved(r.fakes.calls())).toBe(1);
  });
});

// Alone, not beside the concurrent runs: every step gets --timeout 8 here, ample for a fake adb call
// on a loaded machine and far below the fake's 60 s hang.
describe('ort-android: a hung perf_test (exit 3, keeping what was measured)', () => {
  it('perf_test hangs on the second model: --timeout stops it, the folder is removed', async () => {
    const r = await profile('timeout', ['--perf-test', perfTestFile(), '--timeout', '8']);
    expect(r.code).toBe(3);
    expectOneLine(r.stderr, `${PIXEL}: run onnxruntime_perf_test on efficientformer_l1: timed out after 8 s`);
    expect(results(r.results)).toEqual(['efficientformerv2_s0']);
    expectTranscriptPlayed(r.fakes);
    expect(expectWorkFoldersRemoved(r.fakes.calls())).toBe(2);
  });
});

describe('parseGetprop', () => {
  it('reads [key]: [value] lines, values with spaces and empty ones', () => {
    expect(parseGetprop('[ro.product.model]: [Pixel 7]\n[ro.build.version.release]: [14]\r\n[persist.sys.empty]: []\nnoise\n')).toEqual({
      'ro.product.model': 'Pixel 7',
      'ro.build.version.release': '14',
      'persist.sys.empty': '',
    });
  });
});
