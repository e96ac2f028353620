/**
 * The device drivers' parsers over output the real tools printed, collected from public issue
 * threads, documentation and other projects' test suites (fixtures/real/, each file's first line
 * names its source). fixtures/real/index.json says what each sample shows and what a correct
 * reading of it is; these tests hold eformer's parsers to that.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDevicectlJson, parseDevicectlTable, parseXctraceDevices, parseXctraceListing } from '../src/backends/coreml/devices.js';
import { explainCompilerFailure, explainXcodeFailure, explainXcresulttoolFailure, testOutcome } from '../src/backends/coreml/harness.js';
import { adbFailure, parseAdbDevices, parseAdbListing } from '../src/devices/android.js';
import { parsePerfTest, PerfTestOutputError, perfTestFigures } from '../src/backends/ort-android/perf-test.js';
import { benchmarkModelFailure, BenchmarkModelOutputError, parseBenchmarkModel, parseOpProfile, readDelegations } from '../src/backends/litert-android/benchmark-model.js';
import { root } from './helpers.js';

interface Sample {
  file: string;
  tool: string;
  source: string;
  shows: string;
  expected: any;
}

const dir = join(root, 'fixtures/real');
const index: Sample[] = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
/** The tool's output: everything after the source line. */
const output = (s: Sample) => readFileSync(join(dir, s.file), 'utf8').split('\n').slice(1).join('\n');
const of = (tool: string, prefix = '') => index.filter((s) => s.tool === tool && s.file.startsWith(`${tool}/${prefix}`));
const cases = (samples: Sample[]) => samples.map((s) => [s.file, s] as const);

describe('the real-output fixtures', () => {
  it('every file names its source on its first line and is in the index', () => {
    const files = readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith('.txt'))
      .map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
    expect(files.sort()).toEqual(index.map((s) => s.file).sort());
    for (const f of files) expect(readFileSync(join(dir, f), 'utf8').split('\n')[0]).toMatch(/^# source: \S/);
  });

  it('has at least five samples for every tool where that many were found', () => {
    const count = (tool: string) => index.filter((s) => s.tool === tool).length;
    for (const tool of ['adb', 'perf_test', 'xcodebuild', 'xcresulttool', 'coremlcompiler', 'benchmark_model']) expect(count(tool), tool).toBeGreaterThanOrEqual(5);
  });
});

describe('adb devices over real listings', () => {
  it.each(cases(of('adb', 'devices')))('%s', (_, s) => {
    const devices = parseAdbDevices(output(s));
    expect(devices.map((d) => d.id)).toEqual(s.expected.map((e: any) => e.id));
    expect(devices.map((d) => d.state)).toEqual(s.expected.map((e: any) => e.section_or_state));
    expect(devices.map((d) => d.model ?? null)).toEqual(s.expected.map((e: any) => e.model ?? null));
    expect(devices.map((d) => d.kind === 'emulator')).toEqual(s.expected.map((e: any) => e.kind === 'emulator'));
    // Every line of a real listing is read: eformer refuses a listing with a line it cannot read.
    expect(parseAdbListing(output(s)).unreadable).toEqual([]);
  });
});

describe('adb errors over real output', () => {
  it.each(cases(of('adb', 'error')))('%s', (_, s) => {
    const text = output(s);
    // No error or server preamble is ever read as a device.
    expect(parseAdbDevices(text)).toEqual([]);
    const explained = adbFailure(text);
    const kinds = (Array.isArray(s.expected) ? s.expected : [s.expected]).map((e: any) => e.kind);
    if (kinds.includes('unauthorized')) expect(explained).toMatch(/not authorized/);
    else if (kinds.includes('no-device')) expect(explained).toMatch(/disconnected/);
    else {
      // Otherwise adb's own error line, as it printed it.
      const key = [s.expected].flat().at(-1).key_line.replace(/^(?:adb: )?(?:error: )?/, '');
      expect(explained).toContain(key.slice(0, 60));
    }
  });
});

describe('onnxruntime_perf_test over real output', () => {
  const seconds = (name: string) => name.endsWith('_s');
  it.each(cases(of('perf_test')))('%s', (_, s) => {
    const text = output(s);
    const figures = perfTestFigures(text);
    const toMs: Record<string, number> = { s: 1000, sec: 1000, ms: 1 };
    const names: Record<string, string> = { runs: 'runs', min_s: 'min', max_s: 'max', p50_s: 'p50', p90_s: 'p90', p95_s: 'p95', p99_s: 'p99', p999_s: 'p999', avg_ms: 'mean', session_creation_s: 'sessionCreation', first_inference_ms: 'firstInference' };
    for (const [key, value] of Object.entries(s.expected as Record<string, number>)) {
      const f = figures.get(names[key]);
      expect(f, `${key} in ${s.file}`).toBeDefined();
      const ms = key === 'runs' ? f!.value : f!.value * toMs[f!.unit];
      expect(ms).toBeCloseTo(key === 'runs' ? value : seconds(key) ? value * 1000 : value, 6);
    }
    if ('p50_s' in s.expected) {
      const r = parsePerfTest(text);
      expect(r.summary.median).toBeCloseTo(s.expected.p50_s * 1000, 6);
      expect(r.summary.runs).toBe(s.expected.runs);
      expect(r.quantileRule).toMatch(/nearest-rank/);
    } else {
      // Builds (or runs) without -s print no per-run statistics: say what is missing, never guess a median.
      expect(() => parsePerfTest(text)).toThrow(PerfTestOutputError);
      expect(() => parsePerfTest(text)).toThrow(/P50 Latency/);
    }
  });
});

describe('xcrun xctrace list devices over real output', () => {
  it.each(cases(of('xctrace')))('%s', (_, s) => {
    const devices = parseXctraceDevices(output(s));
    expect(devices).toHaveLength(s.expected.length);
    s.expected.forEach((e: any, i: number) => {
      const d = devices[i];
      expect(d.name).toBe(e.name);
      expect(d.id).toBe(e.id);
      expect(d.os ?? null).toBe(e.os);
      expect(d.kind).toBe(e.kind);
      if (e.paired_watch) expect(d.paired).toMatch(new RegExp(`^${e.paired_watch}`));
      else expect(d.paired).toBeUndefined();
    });
    // Every line of a real listing is read: eformer refuses a listing with a line it cannot read.
    expect(parseXctraceListing(output(s))).toMatchObject({ unreadable: [], header: true });
  });
});

describe('xcrun devicectl list devices over real output', () => {
  const usable = (state: string) => state === 'connected' || state === 'available (paired)' || /paired \(tunnelState: (connected|disconnected)\)/.test(state);
  it.each(cases(of('devicectl')))('%s', (_, s) => {
    const text = output(s);
    const devices = text.trim().startsWith('{') ? parseDevicectlJson(text) : parseDevicectlTable(text);
    expect(devices).toHaveLength(s.expected.length);
    s.expected.forEach((e: any, i: number) => {
      const d = devices[i];
      // xcodebuild takes the hardware UDID where devicectl gives one; the table shows only the identifier.
      expect(d.id).toBe(e.udid ?? e.id);
      if (e.name) expect(d.name).toBe(e.name);
      expect(d.state === 'device').toBe(usable(e.section_or_state) || (e.kind === 'simulator' && e.section_or_state === 'booted'));
      expect(d.kind).toBe(e.kind);
    });
  });
});

describe('xcodebuild test failures over real output', () => {
  const says: Record<string, RegExp> = {
    locked: /locked/,
    'no-destination': /cannot (?:see|use) the device/,
    signing: /code signing failed/,
    crash: /crashed/,
  };
  it.each(cases(of('xcodebuild')))('%s', (_, s) => {
    expect(explainXcodeFailure(output(s))).toMatch(says[s.expected.kind]);
  });

  it('a busy device among the ineligible destinations is reported as busy, not as missing', () => {
    // The real sample (flutter/flutter#97574) breaks off inside this line; it is completed here by hand.
    const text = `xcodebuild: error: Unable to find a destination matching the provided destination specifier:
\t\t{ id:00008101-001E30D43C38001E }

\tIneligible destinations for the "EformerBench" scheme:
\t\t{ platform:iOS, id:00008101-001E30D43C38001E, name:Gleb’s  iPhone 11, error:Device is busy (Preparing the watch for development…) }`;
    expect(explainXcodeFailure(text, { id: '00008101-001E30D43C38001E' })).toBe(
      'the device is busy (Preparing the watch for development): wait until Xcode has finished preparing it, then run again',
    );
  });

  it('a locked device elsewhere does not hide a signing error (hand-written combination of two real lines)', () => {
    const text = `The device is passcode protected.\nerror: Signing for "EformerBenchTests" requires a development team. Select a development team in the Signing & Capabilities editor.`;
    expect(explainXcodeFailure(text)).toMatch(/code signing failed/);
  });

  it('a timeout waiting for the destination says so (hand-written: no complete real transcript was found)', () => {
    expect(explainXcodeFailure('xcodebuild: error: Timed out waiting for all destinations matching the provided destination specifier to become available')).toMatch(/timed out waiting for the destination/);
  });
});

describe('xcresulttool over real output', () => {
  it.each(cases(of('xcresulttool', 'error')))('%s', (_, s) => {
    expect(explainXcresulttoolFailure(output(s))).toMatch(/--legacy/);
  });

  it.each(cases(of('xcresulttool', 'get-test-results')))('%s: finds a test and its failure', (_, s) => {
    const text = output(s);
    const data = JSON.parse(text);
    // The first test case in the bundle, whatever it is called: its outcome and first failure must come back.
    const first = JSON.stringify(data).match(/"name":"([^"]+)\(\)","nodeIdentifier":"[^"]*","nodeType":"Test Case","result":"(\w+)"/);
    const anyCase = first ?? [null, 'testAccessibilityAndScreenshots', 'Failed'];
    const outcome = testOutcome(text, anyCase[1]!);
    expect(outcome).toBeDefined();
    expect(outcome!.result).toBe(anyCase[2]);
    if (outcome!.result === 'Failed') expect(outcome!.failures.length).toBeGreaterThan(0);
    expect(testOutcome(text, 'testBenchmark')).toBeUndefined();
  });
});

describe('coremlcompiler over real output', () => {
  it.each(cases(of('coremlcompiler')))('%s', (_, s) => {
    const explained = explainCompilerFailure(output(s));
    if (s.expected.kind === 'success') expect(explained).toBeUndefined();
    else if (s.expected.kind === 'tool-not-found') expect(explained).toMatch(/select a full Xcode/);
    else if (s.expected.kind === 'unsupported-spec-version') expect(explained).toMatch(/too old/);
    else expect(explained).toContain(s.expected.key_line.replace(/^.*?[Ee]rror:\s*/, '').slice(0, 50));
  });
});

describe('LiteRT benchmark_model over real output', () => {
  const us = (v: number) => v / 1000;
  it.each(cases(of('benchmark_model')))('%s', (_, s) => {
    const text = output(s);
    const e = s.expected;
    // What the runtime said about each delegate is read even from output without figures.
    const delegations = readDelegations(text).map(({ line: _line, ...d }) => Object.fromEntries(Object.entries(d).filter(([, v]) => v !== undefined)));
    expect(delegations).toEqual(e.delegations);
    if (e.error) {
      expect(() => parseBenchmarkModel(text)).toThrow(BenchmarkModelOutputError);
      expect(() => parseBenchmarkModel(text)).toThrow(e.error);
    } else {
      const r = parseBenchmarkModel(text);
      const want: Record<string, number | undefined> = { runs: e.runs, mean: us(e.mean_us), min: us(e.min_us), max: us(e.max_us), std: us(e.std_us) };
      for (const [key, value] of Object.entries(want)) expect(r.summary[key as keyof typeof r.summary], key).toBeCloseTo(value!, 9);
      // An average is never passed off as a median: builds that print none leave it out.
      if (e.statistic === 'median') {
        expect(r.summary.median).toBeCloseTo(us(e.median_us), 9);
        expect(r.summary.p5).toBeCloseTo(us(e.p5_us), 9);
        expect(r.summary.p95).toBeCloseTo(us(e.p95_us), 9);
        expect(r.quantileRule).toMatch(/nearest-rank/);
      } else {
        expect(r.summary.median).toBeUndefined();
        expect(r.quantileRule).toBeUndefined();
      }
      expect(r.initMs).toBeCloseTo(us(e.init_us), 9);
      expect(r.firstRunMs).toBeCloseTo(us(e.first_us), 9);
      expect(r.warmupRuns).toBe(e.warmup_runs);
      expect(r.threads).toBe(e.threads);
      expect(r.memoryMb?.init).toBe(e.memory_init_mb);
      expect(r.memoryMb?.overall).toBe(e.memory_overall_mb);
    }
    if (e.op_rows) {
      const rows = parseOpProfile(text);
      expect(rows).toHaveLength(e.op_rows);
      expect(rows[0]).toEqual(e.first_op);
      if (e.op_ms_by_type) {
        const byType: Record<string, number> = {};
        for (const row of rows) byType[row.op] = (byType[row.op] ?? 0) + row.ms;
        for (const [op, ms] of Object.entries(e.op_ms_by_type as Record<string, number>)) expect(byType[op], op).toBeCloseTo(ms, 9);
      }
    } else {
      expect(() => parseOpProfile(text)).toThrow(e.op_error ?? 'no per-operator profile');
    }
  });

  it.each(cases(of('android-shell')))('%s: a binary for another CPU is named as such', (_, s) => {
    const explained = benchmarkModelFailure(output(s), 126);
    expect(explained).toContain(s.expected.failure);
    expect(explained).toMatch(/built for another CPU; get android_aarch64_benchmark_model/);
  });
});
