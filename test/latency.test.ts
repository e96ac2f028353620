/**
 * Latency tables, prediction and search: the block cut (blocks chained equal the whole model),
 * the space operations, the correction's fit, merging shards, the commands on ort-cpu with a
 * small space, their refusals, and the device wiring against a fake adb.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  buildLut,
  buildWithRandomWeights,
  combineSessions,
  coveringPoints,
  DEFAULT_OPSET,
  deployGraph,
  encodeOnnx,
  families,
  correctedRatio,
  correctionFormula,
  fitCorrection,
  type Lut,
  lowerToOnnx,
  mergeLuts,
  mulberry32,
  onnxBytes,
  outsideSpace,
  readSpace,
  samplePoint,
  shrinks,
  supernet,
  type TrainingRecord,
} from '../src/index.js';
import { blockGraph, splitIntoBlocks } from '../src/graph/blocks.js';
import { cliWith, fakeTools } from './fakes.js';
import { cli, maxAbs, maxAbsDiff, root, runOnnx, SMALL_SPACE, tempDir, testInput } from './helpers.js';

const v2 = families.find((f) => f.id === 'efficientformerv2')!;
const v1 = families.find((f) => f.id === 'efficientformer')!;

describe('blocks', () => {
  it.each(['efficientformerv2_s0', 'efficientformer_l1'])('%s: its blocks, each exported alone and run in a chain, give the whole model\'s logits', async (model) => {
    const built = buildWithRandomWeights({ model });
    const family = built.entry.family;
    const blocks = splitIntoBlocks(built.graph, family.searchSpace!.blockOf);
    // Every node is in exactly one block.
    expect(blocks.reduce((n, b) => n + b.nodes.length, 0)).toBe(built.graph.nodes.length);
    let x = testInput();
    let shape = [1, 3, 224, 224];
    for (const block of blocks) {
      const g = blockGraph(built.graph, block);
      const session = await ort.InferenceSession.create(encodeOnnx(lowerToOnnx(deployGraph(g), DEFAULT_OPSET), { producerVersion: 'test' }));
      const out = (await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, shape) })).out;
      x = out.data as Float32Array;
      shape = out.dims as number[];
    }
    const whole = await runOnnx(onnxBytes(built).bytes, testInput(), [1, 3, 224, 224]);
    expect(maxAbsDiff(x, whole)).toBeLessThan(1e-5 * Math.max(1, maxAbs(whole)));
  });

  it('equal computations have equal signatures wherever they sit; different ones differ', () => {
    const sigs = (model: string) => splitIntoBlocks(buildWithRandomWeights({ model }).graph, v2.searchSpace!.blockOf).map((b) => b.signature);
    const s0 = sigs('efficientformerv2_s0');
    // s0's stage 0 has two identical blocks (width 32, ratio 4): one signature.
    expect(s0[1]).toBe(s0[2]);
    // Its stem equals s1's (both 32 wide); its head (176) does not equal s1's (224).
    const s1 = sigs('efficientformerv2_s1');
    expect(s0[0]).toBe(s1[0]);
    expect(s0.at(-1)).not.toBe(s1.at(-1));
  });
});

describe('search space', () => {
  const space = readSpace(SMALL_SPACE, v2, 'test');
  it('the covering points hold every block of random points of the default spaces', () => {
    for (const family of [v1, v2]) {
      const search = family.searchSpace!;
      const full = readSpace({}, family, 'default');
      const known = new Set(coveringPoints(full, search).flatMap((p) => splitIntoBlocks(family.build(search.configOf(p), { resolution: full.resolution }), search.blockOf).map((b) => b.signature)));
      const rand = mulberry32(7);
      for (let i = 0; i < 10; i++) {
        const p = samplePoint(full, rand, search);
        expect(outsideSpace(p, full, search.attentionStages)).toBeUndefined();
        for (const b of splitIntoBlocks(family.build(search.configOf(p), { resolution: full.resolution }), search.blockOf)) expect(known.has(b.signature), b.path).toBe(true);
      }
    }
  });

  it('shrinking the supernet stays in the space and always makes it smaller', () => {
    const top = supernet(space);
    const next = shrinks(top, space, v2.searchSpace!);
    expect(next.length).toBeGreaterThan(3);
    for (const p of next) {
      expect(outsideSpace(p, space, v2.searchSpace!.attentionStages)).toBeUndefined();
      expect(JSON.stringify(p)).not.toBe(JSON.stringify(top));
      expect(p.ratios.map((r) => r.length)).toEqual(p.depths);
    }
  });

  it('a space file is checked field by field', () => {
    expect(() => readSpace({ ...SMALL_SPACE, stages: SMALL_SPACE.stages.slice(0, 3) }, v2, 'space.json')).toThrow(/stages must list 4 stages/);
    expect(() => readSpace({ ...SMALL_SPACE, attention: [3] }, v2, 'space.json')).toThrow(/stage 2 may be 1 blocks deep, fewer than the fewest attention blocks \(3\)/);
    expect(() => readSpace({ ...SMALL_SPACE, widths: [1] }, v2, 'space.json')).toThrow(/unknown field 'widths'/);
    expect(() => readSpace({ stages: SMALL_SPACE.stages }, v1, 'space.json')).toThrow(/efficientformer has one expansion ratio/);
  });
});

describe('a model timed in several sessions', () => {
  it('is their per-round geometric mean, so a round slow in one session and fast in the other cancels', () => {
    const stats = (median: number, samples: number[]) => ({ median, mean: median, p90: median, p99: median, min: median, max: median, samples });
    const session = (median: number, samples: number[]) => ({ model: 'm-session', runs: samples.length, latency_ms: stats(median, samples) }) as unknown as Parameters<typeof combineSessions>[0][0];
    const one = combineSessions([session(2, [1, 4, 2])], 'm');
    expect(one.model).toBe('m');
    expect(one.latency_ms.samples).toEqual([1, 4, 2]);
    const two = combineSessions([session(2, [1, 4, 2]), session(8, [4, 1, 8, 9])], 'm');
    expect(two.latency_ms.samples.map((x) => Number(x.toFixed(9)))).toEqual([2, 2, 4]);
    expect(two.latency_ms.median).toBeCloseTo(4, 9);
    expect(two.runs).toBe(7);
  });
});

describe('the correction', () => {
  it('recovers the coefficients that made the data, and a shard-merge keeps every entry once', () => {
    const rand = mulberry32(3);
    const training: TrainingRecord[] = Array.from({ length: 20 }, () => {
      const sum = 0.5 + 2 * rand();
      const blocks = 10 + Math.floor(30 * rand());
      return { point: { widths: [], depths: [], ratios: [], attention: 0 }, sum_ratio: sum, blocks, measured_ratio: 0.9 * sum - 0.004 * blocks + 0.05 };
    });
    const c = fitCorrection(training)!;
    expect(c.a).toBeCloseTo(0.9, 6);
    expect(c.b).toBeCloseTo(-0.004, 6);
    expect(c.c).toBeCloseTo(0.05, 6);
    expect(c.training_rmspe).toBeLessThan(1e-9);
    // With too few models, a plain scale.
    expect(fitCorrection(training.slice(0, 3))!.b).toBe(0);
  });

  it('fits the elements-moved term when every model records it, and predicts through it', () => {
    const rand = mulberry32(5);
    const training: TrainingRecord[] = Array.from({ length: 20 }, () => {
      const sum = 0.5 + 2 * rand();
      const blocks = 10 + Math.floor(30 * rand());
      const io = 0.2 + 3 * rand();
      return { point: { widths: [], depths: [], ratios: [], attention: 0 }, sum_ratio: sum, blocks, io_melements: io, measured_ratio: 0.9 * sum - 0.004 * blocks - 0.03 * io + 0.05 };
    });
    const c = fitCorrection(training)!;
    expect(c.d).toBeCloseTo(-0.03, 6);
    expect(c.a).toBeCloseTo(0.9, 6);
    expect(c.training_rmspe).toBeLessThan(1e-9);
    expect(correctedRatio(c, { sum_ratio: 1, blocks: 20, io_melements: 2 })).toBeCloseTo(0.9 - 0.08 - 0.06 + 0.05, 9);
    expect(correctionFormula(c)).toMatch(/^0\.900 x sum - 0\.0040 x blocks - 0\.0300 x Melements moved \+ 0\.050$/);
    // One model without the count (a table from before it was recorded): the term is left out.
    expect(fitCorrection([...training, { ...training[0], io_melements: undefined }])!.d).toBeUndefined();
  });
});

describe('lut build, predict-latency and search on ort-cpu (a small space at 64x64)', () => {
  let dir: string;
  let lutPath: string;
  let lut: Lut;

  beforeAll(async () => {
    dir = tempDir();
    writeFileSync(join(dir, 'space.json'), JSON.stringify(SMALL_SPACE));
    lutPath = join(dir, 'lut.json');
    const r = await cli('lut', 'build', '--family', 'efficientformerv2', '--space', join(dir, 'space.json'), '--runs', '5', '--training', '8', '-o', lutPath, '-q');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.replace(/\n/g, ' ')).toMatch(/wrote .*lut\.json: \d+ blocks of efficientformerv2 at 64x64 on ort-cpu, as ratios to efficientformerv2_s0/);
    // The fitted correction as the file holds it, all four terms (8 training models are enough for them).
    expect(r.stdout.replace(/\n/g, ' ')).toMatch(/measured = -?\d+\.\d{3} x sum [+-] \d+\.\d{4} x blocks [+-] \d+\.\d{4} x Melements moved [+-] \d+\.\d{3} \(ratios;/);
    lut = JSON.parse(readFileSync(lutPath, 'utf8'));
  }, 240_000);

  it('the table holds every block of the space, as positive ratios, with its environment and correction', () => {
    expect(lut.schema).toBe('eformer.lut/1');
    // stem, 1 + 2 stage-0/1 blocks, 2 embeddings 0->1, 2 embeddings 1->2, stage 2 (2 ratios x ffn/attention), embedding 2->3, stage 3 (ffn, attention), head.
    const kinds = new Set(lut.entries.map((e) => e.kind));
    for (const k of ['stem', 'stage 0 · mlp', 'stage 2 · attention', 'stage 3 · attention', 'embedding 2->3', 'head']) expect(kinds.has(k), k).toBe(true);
    expect(lut.entries.every((e) => e.ratio > 0 && e.runs === 5)).toBe(true);
    // What each block moves per run: its input's and its output's elements (shape reads `[1x3x64x64] -> [1x16x16x16]`).
    const elements = (shape: string) => [...shape.matchAll(/\[([\dx]+)\]/g)].reduce((s, m) => s + m[1].split('x').reduce((p, d) => p * Number(d), 1), 0);
    for (const e of lut.entries) expect(e.io_elements, e.block).toBe(elements(e.shape));
    expect(lut.entries.find((e) => e.kind === 'stem')!.shape).toMatch(/^\[1x3x64x64\] -> /);
    expect(lut.training).toHaveLength(8);
    expect(lut.correction?.training_size).toBe(8);
    expect(lut.env.cpu).toBeTruthy();
  });

  it('predict-latency gives a per-block table whose shares add up, and JSON with the same numbers', async () => {
    const config = join(dir, 'point.json');
    writeFileSync(config, JSON.stringify({ family: 'efficientformerv2', resolution: 64, config: { widths: [16, 24, 32, 32], depths: [1, 1, 2, 2], vitNum: 1, expansionRatios: [[4], [4], [3, 4], [4, 4]] } }));
    const r = await cli('predict-latency', '--lut', lutPath, '--config', config, '--json');
    expect(r.code, r.stderr).toBe(0);
    const p = JSON.parse(r.stdout);
    expect(p.blocks.length).toBe(1 + 1 + 1 + 1 + 1 + 2 + 1 + 2 + 1);
    expect(p.sum_ratio).toBeCloseTo(p.blocks.reduce((s: number, b: { ratio: number }) => s + b.ratio, 0), 9);
    const c = lut.correction!;
    expect(c.d).toBeDefined();
    expect(p.io_melements).toBeGreaterThan(0);
    expect(p.ratio).toBeCloseTo(c.a * p.sum_ratio + c.b * p.blocks.length + c.d! * p.io_melements + c.c, 9);
    expect(p.ms).toBeCloseTo(p.ratio * lut.reference.median_ms, 9);
    const table = await cli('predict-latency', '--lut', lutPath, '--config', config);
    expect(table.stdout.replace(/\n/g, ' ')).toMatch(/point on ort-cpu: predicted \d+\.\d{3} ms/);
  });

  it('search fits the budget, ranks by MACs, writes configs that count and export, and refuses an impossible budget', async () => {
    const out = join(dir, 'search');
    const budget = (lut.reference.median_ms * 0.6).toFixed(3);
    const r = await cli('search', '--lut', lutPath, '--budget-ms', budget, '-k', '3', '-o', out);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(readFileSync(join(out, 'search.json'), 'utf8'));
    expect(result.chosen.length).toBeGreaterThan(0);
    for (const c of result.chosen) expect(c.ms).toBeLessThanOrEqual(Number(budget));
    expect(result.chosen.map((c: { macs: number }) => c.macs)).toEqual([...result.chosen.map((c: { macs: number }) => c.macs)].sort((a, b) => b - a));
    // Along the front, more latency buys more MACs.
    for (let i = 1; i < result.front.length; i++) expect(result.front[i].macs).toBeGreaterThan(result.front[i - 1].macs);
    const configs = readdirSync(out).filter((f) => f !== 'search.json');
    expect(configs).toHaveLength(result.chosen.length);
    const counted = await cli('count', '--config', join(out, configs[0]), '--json');
    expect(JSON.parse(counted.stdout)[0].macs.toolbox).toBe(result.chosen[0].macs);

    const impossible = await cli('search', '--lut', lutPath, '--budget-ms', '0.0001');
    expect(impossible.code).toBe(2);
    expect(impossible.stderr).toMatch(/^eformer: no configuration fits 0.0001 ms: the fastest in .* is predicted at \d+\.\d{3} ms$/m);
  });

  it.each([
    ['a table of another family', ['predict-latency', '-m', 'efficientformer_l1'], /measured for efficientformerv2; efficientformer_l1 is efficientformer/],
    ['another resolution', ['predict-latency', '-m', 'efficientformerv2_s0'], /measured at 64x64; efficientformerv2_s0 is asked for at 224x224/],
    ['another backend', ['predict-latency', '-m', 'efficientformerv2_s0', '-r', '64', '--backend', 'ort-web'], /on ort-cpu; this asks for backend ort-web, not ort-cpu/],
    ['a configuration outside the space', ['predict-latency', '-m', 'efficientformerv2_s0', '-r', '64'], /efficientformerv2_s0 is outside the space .* covers: stage 0 width 32 \(the space has 16\)/],
    ['search for another family', ['search', '--family', 'efficientformer', '--budget-ms', '5'], /this asks for family efficientformer, not efficientformerv2/],
  ])('%s: one line, exit 2', async (_, args, pattern) => {
    const r = await cli(...args, '--lut', lutPath);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(pattern);
  });

  it('a file of another schema and a block the table has no entry for are named', async () => {
    const results = join(dir, 'results.json');
    writeFileSync(results, JSON.stringify({ schema: 'eformer.results/1', results: [] }));
    const r = await cli('predict-latency', '--lut', results, '-m', 'efficientformerv2_s0');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not a latency table \(schema "eformer.results\/1"; eformer reads eformer.lut\/1/);
    // A table that lost an entry: the missing block is named with its kind and shape.
    const holed = join(dir, 'holed.json');
    const stem = lut.entries.find((e) => e.kind === 'stem')!;
    writeFileSync(holed, JSON.stringify({ ...lut, entries: lut.entries.filter((e) => e !== stem) }));
    const config = join(dir, 'point.json');
    const missing = await cli('predict-latency', '--lut', holed, '--config', config);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/block stem \(stem, \[1x3x64x64\] -> \[1x16x16x16\]\) has no entry in .*holed\.json/);
  });

  it('shards merge into the table they split, refusing shards of another table', async () => {
    const shard = (i: number) => ({ ...lut, entries: lut.entries.filter((_, k) => k % 2 === i), training: lut.training.filter((_, k) => k % 2 === i) });
    const merged = mergeLuts([{ lut: shard(0), path: 'a' }, { lut: shard(1), path: 'b' }]);
    expect(new Set(merged.entries.map((e) => e.signature))).toEqual(new Set(lut.entries.map((e) => e.signature)));
    expect(merged.training).toHaveLength(lut.training.length);
    expect(() => mergeLuts([{ lut, path: 'a' }, { lut: { ...lut, resolution: 96 }, path: 'b' }])).toThrow(/b: resolution 96 differs from a's 64/);
    // The command refits the correction over the pooled training models.
    const [a, b] = [join(dir, 'a.json'), join(dir, 'b.json')];
    writeFileSync(a, JSON.stringify(shard(0)));
    writeFileSync(b, JSON.stringify(shard(1)));
    const r = await cli('lut', 'merge', a, b, '-o', join(dir, 'merged.json'));
    expect(r.code, r.stderr).toBe(0);
    const refit = JSON.parse(readFileSync(join(dir, 'merged.json'), 'utf8'));
    expect(refit.correction.a).toBeCloseTo(lut.correction!.a, 6);
  });

  it('search --verify keeps its measurements in search.json (backend, reference median), and the page shows predicted against measured', async () => {
    const out = join(dir, 'verified');
    const r = await cli('search', '--lut', lutPath, '--budget-ms', (lut.reference.median_ms * 0.6).toFixed(3), '-k', '2', '-o', out, '--verify', '-q');
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(readFileSync(join(out, 'search.json'), 'utf8'));
    expect(result.verified).toMatchObject({ backend: 'ort-cpu', reference: { model: 'efficientformerv2_s0', median_ms: expect.any(Number) } });
    expect(result.verified.candidates).toHaveLength(result.chosen.length);
    for (const c of result.verified.candidates) expect(c.measured_ms > 0 && c.predicted_ms > 0).toBe(true);
    // What the command printed is what the file keeps.
    const printed = r.stdout.split('\n').filter((l) => /^\d+ +\d+\.\d{3} +\d+\.\d{3} +-?\d+\.\d%$/.test(l.trim())).map((l) => l.trim().split(/ +/).slice(1, 3).map(Number));
    expect(printed).toEqual(result.verified.candidates.map((c: { predicted_ms: number; measured_ms: number }) => [Number(c.predicted_ms.toFixed(3)), Number(c.measured_ms.toFixed(3))]));
    const html = join(dir, 'verified.html');
    expect((await cli('report', join(out, 'search.json'), '-o', html)).code).toBe(0);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('<th>measured ms</th>');
    expect(page).toContain(`<td>${result.verified.candidates[0].measured_ms.toFixed(3)}</td>`);
    expect(page).toMatch(/measured by search --verify on ort-cpu, interleaved with efficientformerv2_s0/);
  });

  it('lut build reports blocks and training models done of all as it goes, and prints nothing on stderr when it is not a terminal', async () => {
    const space = join(dir, 'space.json');
    const events: { blocks: { done: number; total: number }; training: { done: number; total: number } }[] = [];
    // The compiled library: ort-cpu times in a worker thread, and the worker is a .js file in dist/.
    const compiled: { buildLut: typeof buildLut } = await import(join(root, 'dist/index.js'));
    const table = await compiled.buildLut({ family: 'efficientformerv2', spaceFile: space, runs: 2, training: 2, onProgress: (p) => events.push(p) });
    const blocks = table.entries.length;
    expect(events[0]).toEqual({ blocks: { done: 0, total: blocks }, training: { done: 0, total: 2 } });
    // Groups of eight blocks, then the training models' one group.
    const groups = Math.ceil(blocks / 8);
    expect(events.map((e) => e.blocks.done)).toEqual([0, ...Array.from({ length: groups }, (_, i) => Math.min(8 * (i + 1), blocks)), blocks]);
    expect(events.at(-1)).toEqual({ blocks: { done: blocks, total: blocks }, training: { done: 2, total: 2 } });
    // The command's status line is for terminals only: the test's stderr is a pipe.
    const r = await cli('lut', 'build', '--family', 'efficientformerv2', '--space', space, '--runs', '2', '--training', '2', '-o', join(dir, 'quiet.json'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
  }, 120_000);

  it('the HTML pages draw a bar per block and the Pareto front', async () => {
    const html = join(dir, 'lut.html');
    expect((await cli('report', lutPath, '-o', html)).code).toBe(0);
    const page = readFileSync(html, 'utf8');
    expect(page.match(/class="bar"/g)).toHaveLength(lut.entries.length);
    const search = join(dir, 'search', 'search.json');
    const html2 = join(dir, 'search.html');
    expect((await cli('report', search, '-o', html2)).code).toBe(0);
    const result = JSON.parse(readFileSync(search, 'utf8'));
    expect(readFileSync(html2, 'utf8').match(/class="front"/g)).toHaveLength(result.front.length);
    expect((await cli('report', lutPath)).stderr).toMatch(/it renders as HTML/);
  });
});

describe('lut build on a device backend (fake adb)', () => {
  // With --sessions 2 every block runs twice, at 0.8x and 1.25x its time (geometric mean: its time; an
  // arithmetic mean or one session alone would be 2.5% or 20% off).
  it.each([1, 2])('times every block with perf_test on the phone and stores the ratio of its P50 to the reference\'s (%i sessions a block)', async (sessions) => {
    const dir = tempDir();
    const space = { ...SMALL_SPACE, stages: SMALL_SPACE.stages.map((s) => ({ ...s, widths: [s.widths[0]], depths: [1], ratios: [4] })), attention: [0] };
    writeFileSync(join(dir, 'space.json'), JSON.stringify(space));
    // The transcript: the device is found once per measuring group, then each model runs through
    // perf_test with its own P50 (the reference's three copies 8, 10 and 12.5 ms, geometric mean 10;
    // the k-th block k ms), so the ratios are known.
    const success = JSON.parse(readFileSync(join(root, 'fixtures/transcripts/android/success.json'), 'utf8'));
    const [version, devices, getprop] = success.calls;
    const perModel = success.calls.slice(3, 10);
    const perfTestAt = perModel.findIndex((c: { args: string[] }) => c.args.some((a) => a.includes('onnxruntime_perf_test -I')));
    const run = (p50: number) =>
      perModel.map((c: { stdout: string }, i: number) =>
        i === perfTestAt ? { ...c, stdout: c.stdout.replace(/(P50 Latency: )[\d.e-]+/, `$1${p50 / 1000}`).replace(/(Average inference time cost: )[\d.]+/, `$1${p50}`) } : c,
      );
    const blocks = 9;
    const reference = [...run(8), ...run(10), ...run(12.5)];
    const scale = sessions === 1 ? [1] : [0.8, 1.25];
    const blocksTimed = (ks: number[]) => scale.flatMap((f) => ks.flatMap((k) => run(k * f)));
    const calls = [version, devices, getprop, ...reference, ...blocksTimed([1, 2, 3, 4, 5, 6, 7, 8]), version, devices, getprop, ...reference, ...blocksTimed([9])];
    const transcript = join(dir, 'transcript.json');
    writeFileSync(transcript, JSON.stringify({ note: 'made by test/latency.test.ts from fixtures/transcripts/android/success.json', calls }));
    {
      const fakes = fakeTools(transcript, ['adb']);
      const perf = join(dir, 'onnxruntime_perf_test');
      writeFileSync(perf, '\x7fELF stand-in');
      writeFileSync(join(dir, 'libonnxruntime.so'), '\x7fELF stand-in');
      const out = join(dir, 'lut.json');
      const r = await cliWith(fakes.env, 'lut', 'build', '--family', 'efficientformerv2', '--space', join(dir, 'space.json'), '--backend', 'ort-android', '--perf-test', perf, '--threads', '4', '--runs', '50', '--sessions', String(sessions), '--training', '0', '-o', out, '-q');
      expect(fakes.mismatches()).toEqual([]);
      expect(r.code, r.stderr).toBe(0);
      const table: Lut = JSON.parse(readFileSync(out, 'utf8'));
      expect(table.entries).toHaveLength(blocks);
      expect(table.backend).toBe('ort-android');
      expect(table.device?.name).toBe('Pixel 7');
      expect(table.entries.map((e) => Number(e.ratio.toFixed(6)))).toEqual([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
      expect(table.sessions).toBe(sessions);
    }
  }, 120_000);
});
