import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bootstrapChange, gate } from '../src/gate/compare.js';
import { DEFAULT_BUDGET, DEFAULT_REFERENCE } from '../src/gate/budgets.js';
import { referenceToTime } from '../src/gate/run.js';
import { exportOnnx } from '../src/index.js';
import { mergeResults } from '../src/results/merge.js';
import { shardOf } from '../src/profile/profile.js';
import { latencyStats, summaryStats } from '../src/core/stats.js';
import type { ResultsFile } from '../src/results/results.js';
import { cli, tempDir } from './helpers.js';

/** Seeded noise, so every verdict here is reproducible. */
function noise(seed: number) {
  let s = seed;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

interface Spec {
  model: string;
  ms: number;
  params?: number;
  macs?: number;
  /** Relative spread of the per-round noise. */
  spread?: number;
  seed?: number;
}

/** A results file whose per-round ratios to mobilenetv2_100 centre on ms / 7. */
function results(specs: Spec[], env: Record<string, unknown> = {}): ResultsFile {
  const rounds = 200;
  const refRand = noise(99);
  const ref = Array.from({ length: rounds }, () => 7 * (1 + 0.1 * (refRand() - 0.5)));
  const entry = (s: Spec, samples: number[], ratios: number[]) => ({
    model: s.model,
    backend: 'ort-cpu',
    resolution: 224,
    batch: 1,
    params: { toolbox: s.params ?? 1000, total: s.params ?? 1000, deployed: s.params ?? 1000 },
    macs: { toolbox: s.macs ?? 5000, standard: s.macs ?? 5000 },
    settings: { threads: 2, graph_optimization: 'all', execution_provider: 'cpu', spinning: false, interleaved: true },
    runs: rounds,
    warmup_runs: 5,
    latency_ms: latencyStats(samples),
    noisy: false,
    vs_reference: { model: 'mobilenetv2_100', median: latencyStats(ratios).median, ratios },
  });
  const out = specs.map((s) => {
    const r = noise(s.seed ?? 1);
    const samples = ref.map((x) => (x * s.ms) / 7 * (1 + (s.spread ?? 0.04) * (r() - 0.5)));
    return entry(s, samples, samples.map((v, k) => v / ref[k]));
  });
  out.push(entry({ model: 'mobilenetv2_100', ms: 7 }, ref, ref.map(() => 1)));
  return { schema: 'eformer.results/1', env: { cpu: 'test cpu', cores: 2, os: 'linux', node: 'v20', eformer: '0', created: '', threads: '2', ...env }, results: out };
}

const options = { config: { defaults: DEFAULT_BUDGET, models: {} }, flags: {} };
const latency = (v: ReturnType<typeof gate>, model = 'efficientformerv2_s0') => v.models.find((m) => m.model === model)!.checks.find((c) => c.metric === 'latency')!;

describe('gate decisions', () => {
  const base = results([{ model: 'efficientformerv2_s0', ms: 14 }]);

  it('passes identical measurements (and uses the reference found in both files)', () => {
    const v = gate(base, base, options);
    expect(v.pass).toBe(true);
    expect(v.reference).toBe('mobilenetv2_100');
    expect(latency(v).basis).toBe('median ratio to mobilenetv2_100');
  });

  it('fails a 15% slowdown, with a confidence interval above zero', () => {
    const v = gate(base, results([{ model: 'efficientformerv2_s0', ms: 14 * 1.15, seed: 2 }]), options);
    expect(v.pass).toBe(false);
    expect(latency(v).outcome).toBe('regression');
    expect(latency(v).change).toBeCloseTo(0.15, 1);
    expect(latency(v).ci95![0]).toBeGreaterThan(0);
  });

  it('passes a real but small 3% slowdown: below the minimum effect', () => {
    expect(gate(base, results([{ model: 'efficientformerv2_s0', ms: 14 * 1.03, seed: 3 }]), options).pass).toBe(true);
  });

  it('passes a 6% shift that the noise cannot tell from zero', () => {
    const noisy = (ms: number, seed: number) => results([{ model: 'efficientformerv2_s0', ms, spread: 1.5, seed }]);
    const v = gate(noisy(14, 4), noisy(14 * 1.06, 5), options);
    expect(latency(v).ci95![0]).toBeLessThan(0);
    expect(v.pass).toBe(true);
  });

  it('marks a speed-up as an improvement, not a failure', () => {
    const v = gate(base, results([{ model: 'efficientformerv2_s0', ms: 14 * 0.8, seed: 6 }]), options);
    expect(latency(v).outcome).toBe('improvement');
    expect(v.pass).toBe(true);
  });

  it('a device harness that printed only a summary is gated on its P50 alone (no runs, so no CI), when raw medians are asked for', () => {
    const summaryOnly = (p50: number): ResultsFile => {
      const f = results([{ model: 'efficientformerv2_s0', ms: 14 }]);
      const device = { platform: 'android', id: 'R5CT', name: 'Pixel 8' };
      f.results = [{ ...f.results[0], backend: 'ort-android', device, vs_reference: undefined, latency_ms: summaryStats({ runs: 100, mean: p50, min: p50, max: p50, median: p50, p90: p50, p99: p50 }, 'nearest-rank') }];
      return f;
    };
    // A harness times one model at a time: no reference, so its medians are compared only when asked.
    expect(() => gate(summaryOnly(20), summaryOnly(22), options)).toThrow(/both sides have no reference .*a device harness times one model at a time, so pass --raw-medians/);
    const raw = { ...options, rawMedians: true };
    const slower = latency(gate(summaryOnly(20), summaryOnly(22), raw));
    expect(slower.outcome).toBe('regression');
    expect(slower.ci95).toBeUndefined();
    expect(slower.basis).toContain('no runs, no CI');
    expect(latency(gate(summaryOnly(20), summaryOnly(20.6), raw)).outcome).toBe('pass');
  });

  it('gates params and MACs exactly', () => {
    const bigger = results([{ model: 'efficientformerv2_s0', ms: 14, params: 1_001_000 }]);
    const small = results([{ model: 'efficientformerv2_s0', ms: 14, params: 1000 }]);
    expect(gate(small, bigger, options).pass).toBe(false);
    expect(gate(small, bigger, { ...options, flags: { params: { absolute: 1_000_000 } } }).pass).toBe(true);
    expect(gate(small, bigger, { ...options, flags: { params: { absolute: 999_999 } } }).pass).toBe(false);
    const macs = results([{ model: 'efficientformerv2_s0', ms: 14, macs: 5001 }]);
    expect(gate(small, macs, options).pass).toBe(false);
    expect(gate(small, macs, { ...options, flags: { macs: { relative: 0.001 } } }).pass).toBe(true);
  });

  it('an absolute latency ceiling', () => {
    expect(gate(base, base, { ...options, flags: { maxLatencyMs: 10 } }).pass).toBe(false);
    expect(gate(base, base, { ...options, flags: { maxLatencyMs: 20 } }).pass).toBe(true);
  });

  describe('results without a reference timed in the same rounds', () => {
    /** The same file without its reference: raw samples only, as `profile --no-reference` or eformer 0.1 wrote them. */
    const withoutReference = (f: ResultsFile): ResultsFile => ({ ...f, results: f.results.filter((r) => r.model !== 'mobilenetv2_100').map((r) => ({ ...r, vs_reference: undefined })) });
    const a = withoutReference(base);
    const b = withoutReference(results([{ model: 'efficientformerv2_s0', ms: 14 * 1.06, seed: 11 }]));

    it('are refused at the defaults, never passed or failed on raw medians, and the line says what to do', () => {
      // Main compared raw medians here and reported +6% REGRESSION: drift between two processes looks like that.
      expect(() => gate(a, b, options)).toThrow(/both sides have no reference \(raw medians of separate processes drift ~10-20% on a shared machine\): profile both again .*--raw-medians/);
      expect(() => gate(a, a, options)).toThrow(/--raw-medians/);
    });

    it('a reference on one side only is named as such, not as a missing model', () => {
      expect(() => gate(base, b, options)).toThrow(/the baseline has reference mobilenetv2_100, the current results no reference/);
    });

    it('are compared on raw medians when asked, and the verdict says so and why it is unsafe', () => {
      const v = gate(a, b, { ...options, rawMedians: true });
      expect(v.raw_medians).toBe(true);
      expect(v.reference).toBeUndefined();
      expect(v.latency_compared).toMatch(/^raw medians \(--raw-medians\), unsafe: medians of separate processes drift ~10-20%/);
      expect(latency(v).basis).toBe('raw median ms');
    });
  });

  it('compares against the reference both files were measured with, before the budgets file\'s', () => {
    const v = gate(base, base, { ...options, config: { ...options.config, reference: 'efficientformerv2_l' } });
    expect(v.reference).toBe('mobilenetv2_100');
    expect(v.latency_compared).toBe('the median of per-round ratios to mobilenetv2_100, timed in the same rounds (its own latency is not gated)');
    expect(v.raw_medians).toBeUndefined();
  });

  it('the bootstrap CI is deterministic and brackets the true change', () => {
    const r = noise(7);
    const a = Array.from({ length: 300 }, () => 1 + 0.2 * r());
    const b = a.map((x) => x * 1.1);
    expect(bootstrapChange(a, b)).toEqual(bootstrapChange(a, b));
    const [lo, hi] = bootstrapChange(a, b);
    expect(lo).toBeLessThan(0.1 + 1e-9);
    expect(hi).toBeGreaterThan(0.1 - 1e-9);
  });
});

describe('eformer gate on the command line', () => {
  const dir = tempDir();
  const write = (name: string, data: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, typeof data === 'string' ? data : JSON.stringify(data));
    return path;
  };
  const basePath = write('base.json', results([{ model: 'efficientformer_l1', ms: 30 }]));
  const slowPath = write('slow.json', results([{ model: 'efficientformer_l1', ms: 36, seed: 8 }]));
  const againPath = write('again.json', results([{ model: 'efficientformer_l1', ms: 30, seed: 9 }]));

  it('exit 0 on a pass, 1 on a regression, with JUnit, JSON and Markdown reports', async () => {
    // The same model measured again (other noise, same speed) passes.
    expect((await cli('gate', '--baseline', basePath, '--current', againPath)).code).toBe(0);
    const junit = join(dir, 'gate.xml');
    const verdict = join(dir, 'verdict.json');
    const summary = write('summary.md', '# earlier step\n');
    const r = await cli('gate', '--baseline', basePath, '--current', slowPath, '--junit', junit, '--verdict', verdict);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^efficientformer_l1\n(?:  .*\n)*?  latency .*REGRESSION/m);
    expect(r.stderr.trim()).toBe('eformer: regression in efficientformer_l1');
    expect(readFileSync(junit, 'utf8')).toMatch(/<testcase classname="eformer.gate.efficientformer_l1" name="latency"><failure message="efficientformer_l1 latency regressed: \+(19|20|21)\.\d%">/);
    expect(JSON.parse(readFileSync(verdict, 'utf8'))).toMatchObject({ schema: 'eformer.gate/1', pass: false });
    // GitHub Actions: the Markdown summary is appended to $GITHUB_STEP_SUMMARY.
    const { execa } = await import('execa');
    await execa('node', ['bin/eformer.js', 'gate', '--baseline', basePath, '--current', slowPath], { reject: false, env: { GITHUB_STEP_SUMMARY: summary } });
    expect(readFileSync(summary, 'utf8')).toMatch(/^# earlier step\n### eformer latency gate: FAILED/);
  });

  it('budgets from eformer.config.json, per model', async () => {
    const config = write('eformer.config.json', { reference: 'mobilenetv2_100', budgets: { default: { latency: '5%' }, efficientformer_l1: { latency: '25%' } } });
    expect((await cli('gate', '--baseline', basePath, '--current', slowPath, '--budgets', config)).code).toBe(0);
    // eformer 0.1's flag name still works on `gate`.
    expect((await cli('gate', '--baseline', basePath, '--current', slowPath, '--config', config)).code).toBe(0);
  });

  it('a budget for a model neither file holds is applied to nothing, and a warning names it (it was silent)', async () => {
    const config = write('misspelt.json', { budgets: { efficientformer_11: { latency: '1%' }, 'efficientformer_l1\u001b[2J': { latency: '1%' } } });
    const r = await cli('gate', '--baseline', basePath, '--current', againPath, '--budgets', config);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^eformer: warning: the budgets file sets a budget for 'efficientformer_11', which neither results file holds: it is applied to nothing/m);
    expect(r.stderr).toContain("'efficientformer_l1\\x1b[2J'");
    expect(r.stderr).not.toContain('\u001b');
  });

  it('--update-baseline reports, then replaces the baseline and exits 0', async () => {
    const baseline = write('to-update.json', readFileSync(basePath, 'utf8'));
    const r = await cli('gate', '--baseline', baseline, '--current', slowPath, '--update-baseline');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/REGRESSION[\s\S]*baseline updated/);
    expect(readFileSync(baseline, 'utf8')).toBe(readFileSync(slowPath, 'utf8'));
  });

  it('two files without a reference: exit 2 at the defaults; with --raw-medians every report says raw medians were compared', async () => {
    const bare = (name: string, ms: number, seed: number) => {
      const f = results([{ model: 'efficientformer_l1', ms, seed }]);
      return write(name, { ...f, results: f.results.filter((r) => r.model === 'efficientformer_l1').map((r) => ({ ...r, vs_reference: undefined })) });
    };
    const [a, b] = [bare('bare-a.json', 30, 21), bare('bare-b.json', 30 * 1.059, 22)];
    const refused = await cli('gate', '--baseline', a, '--current', b);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/^eformer: the gate compares latency as the ratio to a reference model .*--raw-medians to compare raw medians anyway$/m);
    const [junit, verdict, markdown] = ['raw.xml', 'raw-verdict.json', 'raw.md'].map((f) => join(dir, f));
    const raw = await cli('gate', '--baseline', a, '--current', b, '--raw-medians', '--junit', junit, '--verdict', verdict, '--markdown', markdown);
    expect([0, 1]).toContain(raw.code);
    expect(raw.stderr).toMatch(/^eformer: warning: latency compared as raw medians \(--raw-medians\), unsafe/m);
    expect(raw.stdout.replace(/\n/g, ' ')).toMatch(/latency: raw medians \(--raw-medians\), unsafe: medians of separate processes drift/);
    expect(readFileSync(markdown, 'utf8')).toMatch(/Latency compared as raw medians \(--raw-medians\), unsafe/);
    expect(readFileSync(junit, 'utf8')).toMatch(/<property name="latency_compared" value="raw medians \(--raw-medians\), unsafe/);
    expect(JSON.parse(readFileSync(verdict, 'utf8'))).toMatchObject({ raw_medians: true, latency_compared: expect.stringMatching(/^raw medians/) });
  });

  it('with a reference, every report says latency was compared as the ratio to it', async () => {
    const [junit, verdict] = ['ref.xml', 'ref-verdict.json'].map((f) => join(dir, f));
    const r = await cli('gate', '--baseline', basePath, '--current', againPath, '--junit', junit, '--verdict', verdict);
    expect(r.code).toBe(0);
    expect(r.stdout.replace(/\n/g, ' ')).toMatch(/latency: the median of per-round ratios to mobilenetv2_100, timed in the same rounds/);
    expect(readFileSync(junit, 'utf8')).toMatch(/<property name="latency_compared" value="the median of per-round ratios to mobilenetv2_100/);
    expect(JSON.parse(readFileSync(verdict, 'utf8')).raw_medians).toBeUndefined();
  });

  const badInput: [string, () => string[], RegExp][] = [
    ['different schema versions', () => ['--current', write('v2.json', { ...results([{ model: 'efficientformer_l1', ms: 30 }]), schema: 'eformer.results/2' })], /schema 'eformer.results\/2'/],
    ['a model on one side only', () => ['--current', write('other.json', results([{ model: 'efficientformerv2_s1', ms: 30 }]))], /only in the baseline: efficientformer_l1; only in the current results: efficientformerv2_s1/],
    ['an empty file', () => ['--current', write('empty.json', '')], /not valid JSON/],
    ['a corrupted file', () => ['--current', write('broken.json', readFileSync(basePath, 'utf8').slice(0, 500))], /not valid JSON/],
    ['a budget that does not parse', () => ['--current', basePath, '--max-latency-increase', 'fast'], /--max-latency-increase must be a number or a percentage/],
    ['a latency ceiling given as a percentage', () => ['--current', basePath, '--max-latency-ms', '5%'], /--max-latency-ms takes milliseconds, got '5%'/],
    ['a config that does not parse', () => ['--current', basePath, '--budgets', write('bad.config.json', { budgets: { default: { latency: 'x%' } } })], /budgets.default.latency/],
    // A budget the file seems to set but the gate never reads would let a regression pass (all were read as no budgets, exit 0 or 70).
    ['a budget at the top of the budgets file, outside "budgets"', () => ['--current', slowPath, '--budgets', write('top.json', { max_latency_ms: 1 })], /unknown key 'max_latency_ms': budgets go under "budgets"/],
    ['a misspelt key at the top of the budgets file', () => ['--current', slowPath, '--budgets', write('typo.json', { budget: { default: { latency: '1%' } } })], /unknown key 'budget' \(known: reference, budgets/],
    ['a budgets file that is null', () => ['--current', slowPath, '--budgets', write('null.json', 'null')], /must be an object/],
    ['a budgets file that is a list', () => ['--current', slowPath, '--budgets', write('list.json', [{ latency: '1%' }])], /must be an object/],
    ['"budgets" as a string', () => ['--current', slowPath, '--budgets', write('string.json', { budgets: '1%' })], /"budgets" must be an object/],
    ['a null default budget', () => ['--current', slowPath, '--budgets', write('nulldefault.json', { budgets: { default: null } })], /budgets.default must be an object/],
    ['a reference the files lack', () => ['--current', basePath, '--reference', 'efficientformerv2_l'], /no measurements of efficientformer_l1 against reference efficientformerv2_l|reference model efficientformerv2_l is not in the results/],
  ];
  it.each(badInput)('%s: exit 2, one line, never a pass', async (_, args, pattern) => {
    const r = await cli('gate', '--baseline', basePath, ...args());
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(pattern);
  });
});

describe('sharding and merging', () => {
  it('shards are deterministic and cover every model once', () => {
    const models = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    const shards = [1, 2, 3].map((i) => shardOf(models, { index: i, count: 3 }));
    expect(shards.flat().sort()).toEqual(models);
    expect(shardOf(models, { index: 2, count: 3 })).toEqual(['b', 'e']);
    expect(() => shardOf(models, { index: 4, count: 3 })).toThrow(/--shard/);
  });

  it('merges shards, keeping one copy of the shared reference', () => {
    const a = results([{ model: 'efficientformer_l1', ms: 30 }]);
    const b = results([{ model: 'efficientformerv2_s0', ms: 14 }]);
    const merged = mergeResults([{ path: 'a.json', results: a }, { path: 'b.json', results: b }]);
    expect(merged.file.results.map((r) => r.model)).toEqual(['efficientformer_l1', 'mobilenetv2_100', 'efficientformerv2_s0']);
    expect(merged.warnings).toEqual([]);
  });

  it('flags merges across environments and refuses other schema versions', () => {
    const a = results([{ model: 'efficientformer_l1', ms: 30 }]);
    const b = results([{ model: 'efficientformerv2_s0', ms: 14 }], { cpu: 'another cpu' });
    expect(mergeResults([{ path: 'a', results: a }, { path: 'b', results: b }]).warnings[0]).toMatch(/cpu is test cpu \/ another cpu/);
    expect(() => mergeResults([{ path: 'a', results: a }, { path: 'b', results: { ...b, schema: 'eformer.results/2' as never } }])).toThrow(/schema/);
  });

  it('a checkpoint is loaded into the profiled model, never into the reference', async () => {
    const hf = join(new URL('..', import.meta.url).pathname, 'fixtures/checkpoints/v1_tiny_hf');
    const r = await cli('profile', '--hf-config', join(hf, 'config.json'), '--ckpt', join(hf, 'model.safetensors'), '--reference', 'mobilenetv2_100', '--runs', '3', '--warmup', '1', '--no-single-session', '--quiet', '--format', 'csv');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^,v1_tiny_hf,ort-cpu/m);
    expect(r.stdout).toMatch(/^,mobilenetv2_100,ort-cpu/m);
  });

  it('profile --shard with --reference, merged by `report merge`, then gated', async () => {
    const dir = tempDir();
    const common = ['profile', '-m', 'efficientformerv2_s0,mobilenetv2_140', '--reference', 'mobilenetv2_100', '--runs', '5', '--warmup', '1', '--no-single-session', '--quiet'];
    for (const i of [1, 2]) expect((await cli(...common, '--shard', `${i}/2`, '--json', join(dir, `s${i}.json`))).code).toBe(0);
    const s1 = JSON.parse(readFileSync(join(dir, 's1.json'), 'utf8'));
    expect(s1.results.map((r: { model: string }) => r.model)).toEqual(['efficientformerv2_s0', 'mobilenetv2_100']);
    expect(s1.results[0].vs_reference.ratios).toHaveLength(5);
    const m = await cli('report', 'merge', join(dir, 's1.json'), join(dir, 's2.json'), '--out', join(dir, 'all.json'));
    expect(m.code).toBe(0);
    const all = JSON.parse(readFileSync(join(dir, 'all.json'), 'utf8'));
    expect(all.results.map((r: { model: string }) => r.model)).toEqual(['efficientformerv2_s0', 'mobilenetv2_100', 'mobilenetv2_140']);
    expect((await cli('gate', '--baseline', join(dir, 'all.json'), '--current', join(dir, 'all.json'))).code).toBe(0);
  });
});

describe('profile times a reference whenever its results may be gated', () => {
  const dir = tempDir();
  const quick = ['--runs', '3', '--warmup', '1', '--quiet'];
  const models = (path: string) => JSON.parse(readFileSync(path, 'utf8')).results.map((r: { model: string }) => r.model);

  it('which reference: the flag, none, the baseline\'s, the budgets file\'s, then mobilenetv2_100; none on a device', () => {
    const budgets = join(dir, 'budgets.json');
    writeFileSync(budgets, JSON.stringify({ reference: 'mobilenetv2_140' }));
    const baseline = results([{ model: 'efficientformer_l1', ms: 30 }]);
    const interleaves = { gated: true, interleaves: true };
    expect(referenceToTime({ reference: 'efficientformerv2_s0' }, interleaves)).toBe('efficientformerv2_s0');
    expect(referenceToTime({ reference: false }, interleaves)).toBeUndefined();
    expect(referenceToTime({ budgets }, { ...interleaves, baseline })).toBe('mobilenetv2_100');
    expect(referenceToTime({ budgets }, interleaves)).toBe('mobilenetv2_140');
    expect(referenceToTime({}, interleaves)).toBe(DEFAULT_REFERENCE);
    // Nothing gated (no --json, no --baseline): only a reference that was asked for.
    expect(referenceToTime({}, { gated: false, interleaves: true })).toBeUndefined();
    expect(referenceToTime({ budgets }, { gated: false, interleaves: true })).toBe('mobilenetv2_140');
    // A harness times one model at a time: it cannot interleave a reference, so none is added.
    expect(referenceToTime({ budgets }, { gated: true, interleaves: false })).toBeUndefined();
  });

  it('profile --json records every model against mobilenetv2_100 by default, timed in the same rounds; --no-reference times none', async () => {
    const json = join(dir, 'default.json');
    const r = await cli('profile', '-m', 'efficientformerv2_s0', ...quick, '--json', json);
    expect(r.code, r.stderr).toBe(0);
    const file = JSON.parse(readFileSync(json, 'utf8'));
    expect(models(json)).toEqual(['efficientformerv2_s0', 'mobilenetv2_100']);
    for (const result of file.results) expect(result.vs_reference).toMatchObject({ model: 'mobilenetv2_100', ratios: expect.any(Array) });
    expect(file.results[0].vs_reference.ratios).toHaveLength(3);
    // The reference is there to cancel drift: it is not timed alone as a model of the user's would be.
    expect(file.results[0].single_session).toBeDefined();
    expect(file.results[1].single_session).toBeUndefined();
    expect(r.stdout).toMatch(/^mobilenetv2_100 .* ref /m);
    const none = join(dir, 'none.json');
    expect((await cli('profile', '-m', 'efficientformerv2_s0', ...quick, '--no-single-session', '--no-reference', '--json', none)).code).toBe(0);
    expect(models(none)).toEqual(['efficientformerv2_s0']);
    expect(JSON.parse(readFileSync(none, 'utf8')).results[0].vs_reference).toBeUndefined();
  });

  it('profile --baseline refuses, before measuring, a baseline the gate could compare only on raw medians', async () => {
    const baseline = join(dir, 'old-baseline.json');
    const f = results([{ model: 'efficientformerv2_s0', ms: 14 }]);
    writeFileSync(baseline, JSON.stringify({ ...f, results: f.results.slice(0, 1).map((x) => ({ ...x, vs_reference: undefined })) }));
    const json = join(dir, 'never.json');
    const r = await cli('profile', '-m', 'efficientformerv2_s0', ...quick, '--json', json, '--baseline', baseline);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/the baseline has no reference, the current results reference mobilenetv2_100 .*--raw-medians/);
    expect(existsSync(json)).toBe(false);
  });

  it("the README's workflow: profile --baseline times the baseline's own reference unasked, and gates on ratios to it", async () => {
    const [base, cur, junit] = ['wf-base.json', 'wf-cur.json', 'wf-gate.xml'].map((f) => join(dir, f));
    const common = ['profile', '--model', 'efficientformerv2_s0', ...quick, '--no-single-session'];
    expect((await cli(...common, '--reference', 'mobilenetv2_140', '--json', base)).code).toBe(0);
    // The limit only keeps three noisy rounds from failing the build: what is compared is the point here.
    const r = await cli(...common, '--json', cur, '--baseline', base, '--junit', junit, '--max-latency-increase', '1000%');
    expect(r.code, r.stderr).toBe(0);
    expect(models(cur)).toEqual(['efficientformerv2_s0', 'mobilenetv2_140']);
    expect(JSON.parse(readFileSync(cur, 'utf8')).results[0].vs_reference.model).toBe('mobilenetv2_140');
    expect(readFileSync(junit, 'utf8')).toMatch(/<property name="latency_compared" value="the median of per-round ratios to mobilenetv2_140/);
  });

  it('--shard with more shards than models: an empty shard holds the reference alone, and the shards merge and gate', async () => {
    const common = ['profile', '-m', 'efficientformerv2_s0', ...quick, '--no-single-session'];
    for (const i of [1, 2]) {
      const r = await cli(...common, '--shard', `${i}/2`, '--json', join(dir, `one-${i}.json`));
      expect(r.code, r.stderr).toBe(0);
    }
    expect(models(join(dir, 'one-2.json'))).toEqual(['mobilenetv2_100']);
    const all = join(dir, 'one-all.json');
    expect((await cli('report', 'merge', join(dir, 'one-1.json'), join(dir, 'one-2.json'), '--out', all)).code).toBe(0);
    expect(models(all)).toEqual(['efficientformerv2_s0', 'mobilenetv2_100']);
    expect((await cli('gate', '--baseline', all, '--current', all)).code).toBe(0);
    // With no reference an empty shard has nothing to measure: it says which models went where.
    const empty = await cli(...common, '--no-reference', '--shard', '2/2');
    expect(empty.code).toBe(2);
    expect(empty.stderr.trim()).toBe('eformer: shard 2 of 2 holds none of the 1 model given (efficientformerv2_s0; they go to shards in turn): use at most 1 shard, or time a reference (--reference), which every shard holds');
  });

  it('--shard slices ONNX files with the models: each file is measured in one shard', async () => {
    const { path } = exportOnnx({ model: 'mobilenetv2_100', outDir: dir });
    const other = join(dir, 'other.onnx');
    copyFileSync(path, other);
    const shards = [];
    for (const i of [1, 2]) {
      // No --json: nothing is gated, so no reference joins the shard.
      const r = await cli('profile', '--onnx', path, '--onnx', other, ...quick, '--no-single-session', '--shard', `${i}/2`, '--format', 'csv');
      expect(r.code, r.stderr).toBe(0);
      shards.push(r.stdout.split('\n').slice(1).filter(Boolean).map((line) => line.split(',')[1]));
    }
    expect(shards).toEqual([['mobilenetv2_100'], ['other']]);
  });
});
