/**
 * Load time, first inference, peak memory and model size: every backend records them or says why
 * not, never 0. The real runs check the figures mean what they say (the model's memory, not the
 * process's); the rest checks how each tool's output becomes them and that a failed measurement
 * loses nothing.
 */
import { readdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { coldStartInChild, costOf } from '../src/backends/cold-start.js';
import { memoryFigures } from '../src/backends/litert-android/index.js';
import { parsePerfTest } from '../src/backends/ort-android/perf-test.js';
import { checkResults } from '../src/results/results.js';
import { cli, root, tempDir } from './helpers.js';

describe('ort-cpu: a cold process per model', () => {
  it("efficientformer_l7's peak memory holds its weights; efficientformerv2_s0's is its own, not the process's", async () => {
    const json = join(tempDir(), 'cold.json');
    const r = await cli('profile', '-m', 'efficientformer_l7,efficientformerv2_s0', '--runs', '3', '--warmup', '1', '--no-single-session', '--no-reference', '--quiet', '--json', json);
    expect(r.code, r.stderr).toBe(0);
    const [l7, s0] = JSON.parse(readFileSync(json, 'utf8')).results;
    for (const m of [l7, s0]) {
      expect(m.load_ms).toBeGreaterThan(0);
      expect(m.first_run_ms).toBeGreaterThan(0);
      expect(m.absent).toBeUndefined();
      expect(m.memory_mb.load).toBeLessThanOrEqual(m.memory_mb.peak);
    }
    // 82 M float32 weights: a figure of 0, or one that left the weights out, fails here.
    expect(l7.model_bytes).toBeGreaterThan(4 * l7.params.deployed);
    expect(l7.memory_mb.peak * 2 ** 20).toBeGreaterThanOrEqual(l7.model_bytes);
    // node and onnxruntime alone hold about 50 MB: a figure that counted the process would exceed 90 MB for s0 (it is about 60).
    expect(s0.memory_mb.peak * 2 ** 20).toBeGreaterThanOrEqual(s0.model_bytes);
    expect(s0.memory_mb.peak).toBeLessThan(90);
    // The table shows them at its defaults.
    const table = await cli('report', json);
    expect(table.stdout).toMatch(/load/);
  }, 120_000);

  it('--no-cold-start: the figures are absent and say why, never 0', async () => {
    const json = join(tempDir(), 'warm.json');
    const r = await cli('profile', '-m', 'efficientformerv2_s0', '-r', '64', '--runs', '2', '--warmup', '1', '--no-single-session', '--no-reference', '--no-cold-start', '--quiet', '--json', json);
    expect(r.code, r.stderr).toBe(0);
    const [s0] = JSON.parse(readFileSync(json, 'utf8')).results;
    expect(s0.memory_mb).toBeUndefined();
    expect(s0.load_ms).toBeUndefined();
    expect(s0.absent).toEqual({ load_ms: 'not measured (--no-cold-start)', first_run_ms: 'not measured (--no-cold-start)', memory_mb: 'not measured (--no-cold-start)', model_bytes: 'not measured (--no-cold-start)' });
  });
});

describe('a cold process that fails costs nothing measured', () => {
  const script = (body: string) => {
    const path = join(tempDir(), 'child.sh');
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  };
  const run = (body: string) => coldStartInChild({ model: 'm', file: new Uint8Array(1000), extension: '.onnx', command: script(body), args: (p) => [p], timeoutSeconds: 5 });

  it('a crash, an exit code, no figures, garbage figures and a hang become reasons; the file size stays', async () => {
    for (const [body, says] of [
      ['kill -SEGV $$', /killed by SIGSEGV/],
      ['echo "out of memory" >&2; exit 1', /exited with 1: out of memory/],
      ['echo hello', /printed no figures/],
      ['echo \'eformer-cold-start {"load_ms": -1, "first_run_ms": 2, "peak_reset": true}\'', /printed no figures/],
      ['echo \'eformer-cold-start {"load_ms": 1, "first_run_ms": 2, "before": {"rss": 1e400, "peak": 0}, "peak_reset": true}\'', /printed no figures/],
      ['sleep 30', /timed out after 5 s/],
    ] as const) {
      const cost = await run(body);
      expect(cost.model_bytes, body).toBe(1000);
      expect(cost.memory_mb, body).toBeUndefined();
      expect(cost.absent?.memory_mb, body).toMatch(says);
      expect(cost.absent?.load_ms, body).toBe(cost.absent?.memory_mb);
    }
  }, 30_000);

  it('what a child prints reaches a reason without its control characters', async () => {
    const cost = await run("printf 'boom \\033[2J\\033]0;owned\\007' >&2; exit 1");
    expect(cost.absent?.memory_mb).toMatch(/boom/);
    expect(cost.absent?.memory_mb).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  });

  it('the peak is the growth beyond the process before loading; no growth, or no /proc, is absent', () => {
    const MB = 2 ** 20;
    expect(costOf({ load_ms: 5, first_run_ms: 2, before: { rss: 50 * MB, peak: 50 * MB }, loaded: { rss: 70 * MB, peak: 75 * MB }, end: { rss: 72 * MB, peak: 80 * MB }, peak_reset: true })).toMatchObject({ load_ms: 5, first_run_ms: 2, memory_mb: { peak: 30, load: 20 } });
    expect(costOf({ load_ms: 5, first_run_ms: 2, before: { rss: 50 * MB, peak: 50 * MB }, loaded: null, end: { rss: 50 * MB, peak: 50 * MB }, peak_reset: true }).absent?.memory_mb).toMatch(/no more memory/);
    expect(costOf({ load_ms: 5, first_run_ms: 2, before: null, loaded: null, end: null, peak_reset: false })).toMatchObject({ load_ms: 5, absent: { memory_mb: expect.stringMatching(/no \/proc/) } });
  });
});

describe("device tools' own memory and load figures", () => {
  it("onnxruntime_perf_test's Peak working set size, in every form the collected real outputs print it", () => {
    const dir = join(root, 'fixtures/real/perf_test');
    let seen = 0;
    for (const f of readdirSync(dir)) {
      const text = readFileSync(join(dir, f), 'utf8');
      const body = text.slice(text.indexOf('\n') + 1);
      const printed = /^Peak working set size:\s*(\d+)/m.exec(body)?.[1];
      let report;
      try {
        report = parsePerfTest(body);
      } catch {
        continue; // outputs kept for their failure (no figures): the parser's own tests cover them
      }
      expect(report.peakBytes, f).toBe(printed === undefined ? undefined : Number(printed));
      if (printed) seen++;
    }
    expect(seen).toBeGreaterThanOrEqual(3);
  });

  it("benchmark_model's footprint deltas: overall is the model's peak, init its load, the sampled peak kept beside; 0 is no figure", () => {
    expect(memoryFigures({ init: 24.8711, overall: 31.2305, peak: 44.2 }).memoryMb).toMatchObject({ peak: 31.2305, load: 24.8711, sampled_peak: 44.2 });
    expect(memoryFigures({ peak: 44.2 }).memoryMb).toMatchObject({ peak: 44.2, source: expect.stringMatching(/whole process/) });
    expect(memoryFigures({ init: 0, overall: 0 })).toEqual({ absent: { memory_mb: expect.stringMatching(/delta of 0 MB/) } });
    expect(memoryFigures(undefined)).toEqual({ absent: { memory_mb: expect.stringMatching(/printed no memory footprint/) } });
  });
});

describe('results files: the figures are checked like every other', () => {
  const base = { model: 'm', backend: 'ort-cpu', batch: 1, runs: 1, latency_ms: { median: 1, mean: 1, min: 1, max: 1, p90: 1, p99: 1, stdev: 0, samples: [1] } };
  const file = (extra: object) => ({ schema: 'eformer.results/1', env: { cpu: 'x', cores: 1, os: 'x', node: 'x', eformer: 'x', created: 'x' }, results: [{ ...base, ...extra }] });
  it('a peak of 0, a negative size, a number where a reason goes are refused; a reason is kept', () => {
    expect(() => checkResults(file({ memory_mb: { peak: 0, source: 's' } }))).toThrow(/memory_mb.peak is 0, expected a positive number of megabytes/);
    expect(() => checkResults(file({ model_bytes: -3 }))).toThrow(/model_bytes/);
    expect(() => checkResults(file({ absent: { memory_mb: 0 } }))).toThrow(/absent.memory_mb/);
    expect(checkResults(file({ memory_mb: { peak: 12.5, load: 3, source: 's', sampled_peak: 40 }, absent: { load_ms: 'why' } })).results[0]).toMatchObject({ memory_mb: { peak: 12.5 }, absent: { load_ms: 'why' } });
  });
});
