import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { exportOnnx } from '../src/index.js';
import { cli, tempDir } from './helpers.js';

let dir: string;
let resultsPath: string;

beforeAll(async () => {
  dir = tempDir();
  resultsPath = join(dir, 'results.json');
  const r = await cli('profile', '-m', 'efficientformerv2_s0,mobilenetv2_100', '--runs', '15', '--warmup', '3', '--breakdown', '--json', resultsPath, '--quiet');
  if (r.code !== 0) throw new Error(r.stderr);
});

describe('eformer profile on ort-cpu', () => {
  it('writes a versioned results file with env, counts, statistics and samples', () => {
    const results = JSON.parse(readFileSync(resultsPath, 'utf8'));
    expect(results.schema).toBe('eformer.results/1');
    for (const key of ['cpu', 'cores', 'os', 'node', 'onnxruntime', 'eformer', 'threads']) expect(results.env).toHaveProperty(key);
    expect(results.results.map((r: { model: string }) => r.model)).toEqual(['efficientformerv2_s0', 'mobilenetv2_100']);
    const r = results.results[0];
    expect(r).toMatchObject({ backend: 'ort-cpu', resolution: 224, runs: 15, warmup_runs: 3 });
    expect(r.params.toolbox).toBe(3534553);
    expect(r.macs.toolbox).toBe(396088544);
    for (const key of ['median', 'mean', 'p90', 'p99', 'min', 'max', 'std', 'cov']) expect(Number.isFinite(r.latency_ms[key])).toBe(true);
    expect(r.latency_ms.samples).toHaveLength(15);
    expect(r.latency_ms.min).toBeLessThanOrEqual(r.latency_ms.median);
    expect(r.paper).toMatchObject({ top1: 75.7, latency_ms: 0.9, latency_device: 'iPhone 12, Core ML' });
    expect(results.results[1].baseline).toBe(true);
  });

  it('the breakdown attributes node time to op types and to blocks', () => {
    const r = JSON.parse(readFileSync(resultsPath, 'utf8')).results[0];
    const b = r.breakdown;
    expect(b.runs).toBeGreaterThan(5);
    // Conv is efficientformerv2_s0's largest share (55% measured here); the GELU kernels come next.
    expect(b.by_op[0].key).toBe('Conv');
    expect(b.by_op[0].percent).toBeGreaterThan(30);
    const stages = b.by_stage.map((x: { key: string }) => x.key);
    expect(stages).toContain('stage 3 · attention');
    expect(stages).toContain('stage 2 · attention');
    expect(stages).toContain('stem');
    // Nearly everything is placed in a block (runtime-made nodes follow their producer).
    const unplaced = b.by_stage.find((x: { key: string }) => x.key.startsWith('(not'));
    expect(unplaced?.percent ?? 0).toBeLessThan(5);
  });

  it('profiles an ONNX file the user brings, with --shape for dynamic inputs', async () => {
    const { path } = exportOnnx({ model: 'mobilenetv2_100', outDir: dir });
    const r = await cli('profile', '--onnx', path, '--runs', '5', '--warmup', '1', '--format', 'csv', '--quiet');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[1]).toMatch(/^,mobilenetv2_100,ort-cpu,/);
  });
});

describe('ort-web: onnxruntime-web in headless Chromium, for real', () => {
  it('measures in the page, with WASM threads', async () => {
    const out = join(dir, 'web.json');
    const r = await cli('profile', '-b', 'ort-web', '-m', 'mobilenetv2_100', '--runs', '5', '--warmup', '2', '--no-single-session', '--quiet', '--json', out);
    expect(r.code).toBe(0);
    const results = JSON.parse(readFileSync(out, 'utf8'));
    expect(results.results[0]).toMatchObject({ model: 'mobilenetv2_100', backend: 'ort-web', runs: 5 });
    expect(results.results[0].latency_ms.median).toBeGreaterThan(0);
    expect(results.env.onnxruntime_web).toBe('1.30.0');
  });
});

describe('eformer report', () => {
  it.each(['table', 'markdown', 'csv', 'html'])('renders %s from the results file', async (format) => {
    const r = await cli('report', resultsPath, '--format', format);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('efficientformerv2_s0');
  });

  it('--out writes the file', async () => {
    const out = join(dir, 'report.md');
    const r = await cli('report', resultsPath, '--format', 'markdown', '--out', out);
    expect(r.code).toBe(0);
    expect(readFileSync(out, 'utf8')).toMatch(/^\| model \| backend/);
  });
});

describe('profile and report bad input: one line, exit 2', () => {
  const oneLine = (stderr: string) => {
    expect(stderr.trim().split('\n')).toHaveLength(1);
    return stderr.trim();
  };

  it('a model file that is not ONNX', async () => {
    const bogus = join(dir, 'bogus.onnx');
    writeFileSync(bogus, 'this is not a protobuf at all, just text '.repeat(20));
    const r = await cli('profile', '--onnx', bogus, '--quiet');
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/is not an ONNX model/);
  });

  it('an input shape the model rejects', async () => {
    const { path } = exportOnnx({ model: 'mobilenetv2_100', outDir: dir });
    const r = await cli('profile', '--onnx', path, '--shape', 'image=1x3x7', '--runs', '2', '--quiet');
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/rejects input image=1x3x7/);
  });

  it('--runs 0', async () => {
    const r = await cli('profile', '-m', 'mobilenetv2_100', '--runs', '0');
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/--runs must be an integer of at least 1/);
  });

  it('a results file of another schema version', async () => {
    const other = join(dir, 'v2.json');
    writeFileSync(other, JSON.stringify({ ...JSON.parse(readFileSync(resultsPath, 'utf8')), schema: 'eformer.results/2' }));
    const r = await cli('report', other);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/schema 'eformer.results\/2'; this eformer reads 'eformer.results\/1'/);
  });

  it('a corrupted results file', async () => {
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, readFileSync(resultsPath, 'utf8').slice(0, 300));
    const r = await cli('report', broken);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/not valid JSON/);
  });

  it('an unknown backend names the available ones', async () => {
    const r = await cli('profile', '-m', 'mobilenetv2_100', '--backend', 'tpu');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Allowed choices are ort-cpu/);
  });

  it('an execution provider this onnxruntime-node does not ship says how to get it (exit 3)', async () => {
    const r = await cli('profile', '-m', 'mobilenetv2_100', '--ep', 'cuda', '--runs', '1', '--quiet');
    expect(r.code).toBe(3);
    expect(oneLine(r.stderr)).toMatch(/'cuda' is not installed: .*onnxruntime-node-install=skip/);
  });

  it('a report --out that cannot be written leaves nothing behind', async () => {
    // (A missing folder is made: see test/hostile/files.test.ts. A folder under a regular file cannot be.)
    const out = join(resultsPath, 'x.html');
    const r = await cli('report', resultsPath, '--format', 'html', '--out', out);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/cannot write/);
    expect(existsSync(out)).toBe(false);
  });
});
