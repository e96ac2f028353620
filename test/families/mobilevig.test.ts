/**
 * What is particular to MobileViG: the fixtures hold every block type and reach the graph conv's
 * shifts on both axes, the shifts follow the final grid at any input size, the deployment passes
 * leave no BatchNorm, layer scale or second head, and the breakdown names its stages.
 * Counts and fixture logits are checked by families.test.ts, every variant's export by export.test.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildWithRandomWeights,
  DEPLOY_PASSES,
  deployGraph,
  findModel,
  GraphBuilder,
  type Graph,
  mergeDistillationHeads,
  mobileViG,
  mobileViGConfig,
  onnxBytes,
  randomizeWeights,
  UsageError,
} from '../../src/index.js';
import { readCheckpointBytes } from '../../src/weights/checkpoint.js';
import { cli, maxAbs, maxAbsDiff, root, runOnnx, tempDir, testInput } from '../helpers.js';

const folder = join(root, 'fixtures/families/mobilevig');
const reference = JSON.parse(readFileSync(join(folder, 'reference.json'), 'utf8')) as {
  fixtures: { name: string; config: Record<string, unknown>; resolution: number; checkpoints: Record<string, string> }[];
};

const opsIn = (graph: Graph, module: string, op: string) => graph.nodes.filter((n) => n.op === op && n.module === module);

/** The graph conv's shifts: range(K, n, K) along rows, then along columns. */
const shifts = (n: number, k: number) => Math.max(0, Math.ceil((n - k) / k));

describe('the fixtures contain every MobileViG block type', () => {
  const tiny = reference.fixtures.find((f) => f.name === 'mobilevig_tiny')!;
  const keys = [...readCheckpointBytes(readFileSync(join(folder, tiny.checkpoints.reference))).stateDict.keys()];
  const has = (pattern: RegExp) => keys.some((k) => pattern.test(k));

  it.each([
    ['the stem', /^stem\.stem\.3\.weight$/],
    ['an inverted residual (depthwise mid conv, layer scale)', /^local_backbone\.\d+\.mlp\.mid_norm\.running_var$/],
    ['an inverted residual layer scale', /^local_backbone\.\d+\.layer_scale_2$/],
    ['a Downsample between convolutional stages and into the graph stages', /^local_backbone\.\d+\.conv\.1\.weight$/],
    ['a Grapher with its graph conv', /^backbone\.\d+\.0\.graph_conv\.nn\.1\.running_mean$/],
    ['an FFN', /^backbone\.\d+\.1\.fc2\.1\.weight$/],
    ['a Downsample between graph stages', /^backbone\.\d+\.conv\.0\.weight$/],
    ['the prediction conv', /^prediction\.2\.weight$/],
    ['both heads', /^dist_head\.weight$/],
  ])('%s', (_label, pattern) => expect(has(pattern)).toBe(true));

  it('every BatchNorm buffer is saved, as the reference state_dict has it', () => {
    expect(keys.filter((k) => k.endsWith('num_batches_tracked')).length).toBe(keys.filter((k) => k.endsWith('running_mean')).length);
  });

  it("every fixture's graph conv shifts along both axes (a grid too small for K would leave the max-relative path untested)", () => {
    for (const f of reference.fixtures) {
      const config = mobileViG.config(f.config, f.name);
      const graph = mobileViG.build(config, { resolution: f.resolution });
      const graphConvs = [...new Set(graph.nodes.filter((n) => n.module.endsWith('graph_conv')).map((n) => n.module))];
      expect(graphConvs.length).toBeGreaterThan(0);
      for (const module of graphConvs) {
        const axes = new Set(opsIn(graph, module, 'Slice').map((n) => (n.op === 'Slice' ? n.axis : -1)));
        expect([...axes].sort(), `${f.name} ${module}`).toEqual([2, 3]);
      }
    }
  });
});

describe('any input size', () => {
  it.each([
    [224, 7],
    [256, 8],
    [97, 4],
    [96, 3],
    [64, 2],
  ])('at %i the graph stage runs at %ix%i... with the reference loop range(K, n, K) of shifts per axis', (resolution, grid) => {
    const graph = mobileViG.build(findModel('mobilevig_ti').config as ReturnType<typeof mobileViGConfig>, { resolution });
    const module = 'backbone.0.0.graph_conv';
    const into = graph.nodes.find((n) => n.module === 'backbone.0.0.fc1.0' && n.op === 'Conv')!;
    expect(graph.values.get(into.outputs[0])!.shape.slice(2)).toEqual([grid, grid]);
    // One slice and one max per shift; below a grid of 3 there is none and the feature is y - y = 0.
    expect(opsIn(graph, module, 'Max').length).toBe(2 * shifts(grid, 2));
    expect(opsIn(graph, module, 'Slice').length).toBe(2 * shifts(grid, 2));
  });

  it('the shifts follow K (3 gives 3 and 6 on a 7x7 grid)', () => {
    const config = mobileViGConfig({ localBlocks: [1], localChannels: [8], globalBlocks: [1], globalChannels: [8], k: 3 });
    const graph = mobileViG.build(config, { resolution: 56 });
    expect(opsIn(graph, 'backbone.0.0.graph_conv', 'Slice').map((n) => (n.op === 'Slice' ? [n.axis, n.start] : []))).toEqual([
      [2, 4],
      [2, 1],
      [3, 4],
      [3, 1],
    ]);
  });

  it('an odd size exports and runs in onnxruntime', async () => {
    const bytes = onnxBytes(buildWithRandomWeights({ model: 'mobilevig_ti', resolution: 97 })).bytes;
    const logits = await runOnnx(bytes, testInput(97), [1, 3, 97, 97]);
    expect(logits.length).toBe(1000);
    expect(logits.every(Number.isFinite)).toBe(true);
  });

  it('refuses only what is not a size, saying that any size works', () => {
    const config = findModel('mobilevig_ti').config as ReturnType<typeof mobileViGConfig>;
    for (const resolution of [0, 100.5]) {
      expect(() => mobileViG.build(config, { resolution, name: 'mobilevig_ti' })).toThrow(UsageError);
      expect(() => mobileViG.build(config, { resolution, name: 'mobilevig_ti' })).toThrow(/mobilevig_ti cannot take resolution .*any size works/);
    }
  });

  // Every size the CLI parses is one MobileViG takes: what it refuses, it refuses for every model.
  it('the CLI refuses a size of 0 in one line, exit 2, writing nothing', async () => {
    const dir = tempDir();
    const r = await cli('export', '-m', 'mobilevig_ti', '--onnx', '-r', '0', '-o', dir);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--resolution must be an integer of at least 1/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('counts at an odd size through the CLI', async () => {
    const r = await cli('count', '-m', 'mobilevig_ti', '-r', '97', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/"resolution": 97/);
  });
});

describe('config', () => {
  it('stage lists must pair up', () => {
    expect(() => mobileViG.config({ localBlocks: [1, 1], localChannels: [8], globalBlocks: [1], globalChannels: [8] }, 'c.json')).toThrow(/localBlocks and localChannels/);
    expect(() => mobileViG.config({ localBlocks: [1], localChannels: [8], globalBlocks: [], globalChannels: [] }, 'c.json')).toThrow(/globalBlocks has 0 entries; eformer builds 1 to 8/);
    expect(() => mobileViG.config({ localBlocks: [1], localChannels: [8], globalBlocks: [1], globalChannels: [8], K: 2 }, 'c.json')).toThrow(/unknown field 'K'/);
  });

  it('without distillation there is one head and no averaging', () => {
    const graph = mobileViG.build(mobileViGConfig({ localBlocks: [1], localChannels: [8], globalBlocks: [1], globalChannels: [8], distillation: false }), { resolution: 64 });
    expect([...graph.params.keys()].filter((k) => k.includes('head'))).toEqual(['head.weight', 'head.bias']);
    expect(graph.nodes.some((n) => n.op === 'Scale' && n.factor === 0.5)).toBe(false);
  });
});

describe('deployment', () => {
  it('folds every BatchNorm and layer scale and merges the two 1x1-conv heads into one conv', () => {
    const built = buildWithRandomWeights({ model: 'mobilevig_ti' });
    const ops = (g: Graph, op: string) => g.nodes.filter((n) => n.op === op).length;
    expect(ops(built.graph, 'BatchNorm')).toBe(46);
    const deployed = deployGraph(built.graph);
    expect(ops(deployed, 'BatchNorm')).toBe(0);
    // What stays is the graph conv's negation in each of the two Graphers.
    expect(deployed.nodes.filter((n) => n.op === 'Mul' || (n.op === 'Scale' && n.factor !== -1))).toEqual([]);
    const heads = deployed.nodes.filter((n) => n.module.includes('head'));
    expect(heads.map((n) => `${n.op} ${n.module}`)).toEqual(['Conv head+dist_head']);
    expect(ops(deployed, 'Conv')).toBe(ops(built.graph, 'Conv') - 1);
  });

  it('the deployed graph computes what the unfolded one does', async () => {
    const built = buildWithRandomWeights({ model: 'mobilevig_ti' });
    const input = testInput();
    const unfolded = await runOnnx(onnxBytes(built, { passes: [] }).bytes, input, [1, 3, 224, 224]);
    const folded = await runOnnx(onnxBytes(built, { passes: DEPLOY_PASSES }).bytes, input, [1, 3, 224, 224]);
    expect(maxAbs(unfolded)).toBeGreaterThan(1e-2);
    expect(maxAbsDiff(unfolded, folded)).toBeLessThan(1e-5 * Math.max(1, maxAbs(unfolded)));
  });

  it('merges heads only when both layers are the same conv', () => {
    const b = new GraphBuilder('heads');
    const x = b.input('image', [1, 4, 3, 3]);
    const one = b.conv('head', x, { out: 2 });
    const other = b.conv('dist_head', x, { out: 2, kernel: 3, pad: 1 });
    b.output(b.scale(b.add(one, other), 0.5), 'logits');
    const graph = b.finish();
    randomizeWeights(graph);
    expect(mergeDistillationHeads(graph).nodes.map((n) => n.op)).toEqual(['Conv', 'Conv', 'Add', 'Scale']);
  });
});

describe('names', () => {
  it('groups and breakdown rows follow the stages', () => {
    const built = buildWithRandomWeights({ model: 'mobilevig_ti' });
    const name = mobileViG.blockNamer(built.graph);
    expect(name('stem.stem.3')).toEqual({ block: 'stem', stage: 'stem' });
    expect(name('local_backbone.1.mlp.fc1')).toEqual({ block: 'stage 0 · block 1 · mlp', stage: 'stage 0 · mlp' });
    expect(name('local_backbone.2.conv.0')).toEqual({ block: 'downsample 0->1', stage: 'downsample 0->1' });
    expect(name('local_backbone.6')).toEqual({ block: 'stage 2 · block 0 · residual', stage: 'stage 2 · residual' });
    expect(name('local_backbone.12.conv.1')).toEqual({ block: 'downsample 2->3', stage: 'downsample 2->3' });
    expect(name('backbone.1.0.graph_conv')).toEqual({ block: 'stage 3 · block 1 · grapher', stage: 'stage 3 · grapher' });
    expect(name('backbone.0.1.fc1.0')).toEqual({ block: 'stage 3 · block 0 · ffn', stage: 'stage 3 · ffn' });
    expect(name('head+dist_head')).toEqual({ block: 'head', stage: 'head' });
    expect(mobileViG.groupOf('local_backbone.7.mlp.fc2')).toBe('local_backbone.7');
    expect(mobileViG.groupOf('backbone.0.1.fc1.0')).toBe('backbone.0');
    expect(mobileViG.groupOf('prediction.1')).toBe('prediction');
  });

  it('a Downsample between graph stages starts the next stage', () => {
    const tiny = reference.fixtures.find((f) => f.name === 'mobilevig_tiny')!;
    const graph = mobileViG.build(mobileViG.config(tiny.config, tiny.name), { resolution: tiny.resolution });
    const name = mobileViG.blockNamer(graph);
    // localBlocks [1, 2], globalBlocks [2, 1]: local 0 | DS | 2, 3 | DS ; backbone 0, 1 | DS | 3.
    expect(name('local_backbone.3')?.block).toBe('stage 1 · block 1 · residual');
    expect(name('local_backbone.4.conv.0')?.block).toBe('downsample 1->2');
    expect(name('backbone.1.0.fc1.0')?.block).toBe('stage 2 · block 1 · grapher');
    expect(name('backbone.2.conv.0')?.block).toBe('downsample 2->3');
    expect(name('backbone.3.1.fc2.0')?.block).toBe('stage 3 · block 0 · ffn');
  });
});
