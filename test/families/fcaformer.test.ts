/**
 * What is particular to FcaFormer: the fixture really holds every block type, the input sizes the
 * build-time attention tables allow, the toolbox's view of the model (the ConvNeXt blocks' own
 * LayerNorm class unhooked, qkv counted on both of its calls), and the deployment passes that
 * apply to it, mergeAttentionKeys among them, against the graph without them.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildWithRandomWeights,
  countModel,
  DEPLOY_PASSES,
  deployGraph,
  foldBatchNorm,
  foldLayerScale,
  mergeAttentionKeys,
  onnxBytes,
  type Pass,
  precomputeAttentionBias,
  readCheckpoint,
  stateDictBytes,
} from '../../src/index.js';
import { cli, maxAbs, maxAbsDiff, root, runOnnx, tempDir, testInput } from '../helpers.js';

const fixtures = join(root, 'fixtures/families/fcaformer');
const reference = JSON.parse(readFileSync(join(fixtures, 'reference.json'), 'utf8'));

describe('fcaformer: the tiny fixture holds every block type', () => {
  const fixture = reference.fixtures[0];
  const keys = [...readCheckpoint(join(fixtures, fixture.checkpoints.reference)).stateDict.keys()];
  const shape = (key: string) => readCheckpoint(join(fixtures, fixture.checkpoints.reference)).stateDict.get(key)!.shape;
  const has = (key: string) => keys.includes(key);

  it('ConvNeXt blocks and patch merging in the first two stages', () => {
    for (const s of [0, 1]) {
      for (const part of ['gamma', 'dwconv.weight', 'norm.weight', 'pwconv1.weight', 'pwconv2.weight']) expect(has(`layer_${s}.blocks.0.${part}`), `layer_${s} ${part}`).toBe(true);
    }
    for (const s of [0, 1, 2]) expect(has(`layer_${s}.downsample.conv2.c.weight`)).toBe(true);
  });

  it('FcaBlocks with no cross tokens, with one and with several earlier blocks, cut to cabMaxDepth, and a last block making none', () => {
    expect(fixture.config.cabMaxDepth).toBe(2);
    expect(has('layer_2.blocks.0.s_token_bias')).toBe(false); // the first block attends to its own tokens only
    // 6x6 grid: 4 cross tokens a block; block 3 sees the last two blocks' (cab_max_d = 2), not three.
    expect([1, 2, 3].map((i) => shape(`layer_2.blocks.${i}.s_token_bias`))).toEqual([
      [1, 2, 1, 4],
      [1, 2, 1, 8],
      [1, 2, 1, 8],
    ]);
    expect(shape('layer_2.blocks.3.s_scale_factors')).toEqual([1, 8, 1]);
    expect([0, 1, 2, 3].map((i) => has(`layer_2.blocks.${i}.dw_conv.weight`))).toEqual([true, true, true, false]);
    // Stage 3 at 3x3: one cross token; both stages have their relative-position tables.
    expect(shape('layer_3.blocks.1.s_token_bias')).toEqual([1, 3, 1, 1]);
    expect(shape('layer_2.blocks.0.attention_biases')).toEqual([2, 36]);
    expect(shape('layer_3.blocks.0.attention_biases')).toEqual([3, 9]);
    for (const part of ['s_norm.weight', 'norm1.weight', 'norm2.weight', 'mlp.norm.weight', 'local_conv.bn.running_var', 'gamma_1', 'gamma_2']) expect(has(`layer_3.blocks.1.${part}`), part).toBe(true);
  });

  it('runs at an input below its build size (90 on tables built for 96)', () => {
    expect(fixture.resolution).toBe(90);
  });
});

describe('fcaformer: input sizes the build-time tables allow', () => {
  it('builds inputs 209 to 224 on the 224 tables and 241 to 256 on tables for 256', () => {
    for (const r of [209, 216, 224]) expect(countModel({ model: 'fcaformer_l1', resolution: r }).params.total).toBe(6187560);
    // Built for 256, the tables grow (16x16 and 8x8 grids): the reference built at img_size=256.
    expect(countModel({ model: 'fcaformer_l1', resolution: 241 }).params.total).toBe(6190020);
  });

  for (const [r, allowed] of [
    [240, 'use 209 to 224 or 241 to 256'],
    [208, 'use 177 to 192 or 209 to 224'],
    [225, 'use 209 to 224 or 241 to 256'],
  ] as const) {
    it(`refuses ${r} in one line, naming the sizes that work, and writes nothing`, async () => {
      const dir = tempDir();
      const r1 = await cli('export', '-m', 'fcaformer_l1', '--onnx', '-r', String(r), '-o', dir);
      expect(r1.code).toBe(2);
      expect(r1.stderr.trim().split('\n')).toHaveLength(1);
      expect(r1.stderr).toContain(`fcaformer_l1 cannot take resolution ${r}`);
      expect(r1.stderr).toContain(allowed);
      expect(r1.stderr).toContain('the released models, built at 224: 209 to 224');
      expect(readdirSync(dir)).toEqual([]);
    });
  }

  it('refuses inputs too small for any table', async () => {
    const r = await cli('count', '-m', 'fcaformer_l1', '-r', '16');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot take resolution 16: use an integer of at least 17/);
  });

  it('a checkpoint made for the 224 tables loads for 209 to 224 and not for 256 (the tables are part of the weights)', async () => {
    const ckpt = join(tempDir(), 'fcaformer_l1.safetensors');
    writeFileSync(ckpt, stateDictBytes(buildWithRandomWeights({ model: 'fcaformer_l1' })));
    expect((await cli('count', '-m', 'fcaformer_l1', '-r', '209', '--ckpt', ckpt)).code).toBe(0);
    const r = await cli('count', '-m', 'fcaformer_l1', '-r', '256', '--ckpt', ckpt);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/layer_2\.blocks\.0\.attention_biases: checkpoint \[6, 196\], model \[6, 256\]/);
  });
});

describe('fcaformer: what the toolbox hooks', () => {
  const layers = countModel({ model: 'fcaformer_l1' }).layers;
  it("does not hook the ConvNeXt blocks' own LayerNorm class, only nn.LayerNorm", () => {
    const norms = layers.filter((l) => l.kind === 'LayerNorm').map((l) => l.module);
    expect(norms.filter((m) => /^layer_[01]\./.test(m))).toEqual([]);
    expect(norms).toHaveLength(31); // the reference's hook fired 31 times (4 ConvNeXt norms not among them)
  });

  it('counts qkv once in the first block of a stage and twice in every later one (tokens, then cross tokens)', () => {
    const calls = (block: string) => layers.filter((l) => l.module === `${block}.qkv`);
    expect(calls('layer_2.blocks.0')).toHaveLength(1);
    expect(calls('layer_2.blocks.5')).toHaveLength(2);
    expect(calls('layer_2.blocks.5')[1].params).toBe(192 * 576 + 576);
    expect(layers.filter((l) => l.kind === 'Linear')).toHaveLength(47);
  });
});

describe('fcaformer: deployment passes', () => {
  const built = buildWithRandomWeights({ model: 'fcaformer_l1' });
  const ops = (passes: readonly Pass[]) => deployGraph(built.graph, passes).nodes.map((n) => n.op);
  const count = (list: string[], op: string) => list.filter((o) => o === op).length;

  it('fold every BN and layer scale, precompute the bias tables, and merge each block\'s two key sets', () => {
    const before = ops([]);
    const after = ops(DEPLOY_PASSES);
    expect(count(after, 'BatchNorm')).toBe(0);
    expect(count(after, 'Gather')).toBe(0);
    // What stays multiplied: the cross tokens by s_scale_factors (5 blocks of stage 2, 1 of stage 3).
    expect(count(before, 'Mul')).toBe(26);
    expect(count(after, 'Mul')).toBe(6);
    // One q @ k product a block instead of two where there are cross tokens; no logits are concatenated.
    expect(count(before, 'MatMul') - count(after, 'MatMul')).toBe(6);
    expect(count(after, 'Concat')).toBe(count(before, 'Concat'));
  });

  it('mergeAttentionKeys needs the bias tables as constants: without precomputeAttentionBias it leaves the graph alone', () => {
    expect(count(ops([mergeAttentionKeys]), 'MatMul')).toBe(count(ops([]), 'MatMul'));
    expect(count(ops([precomputeAttentionBias, mergeAttentionKeys]), 'MatMul')).toBe(count(ops([]), 'MatMul') - 6);
  });

  const cases: [string, Pass[]][] = [
    ['precomputeAttentionBias + mergeAttentionKeys', [precomputeAttentionBias, mergeAttentionKeys]],
    ['foldBatchNorm + foldLayerScale', [foldBatchNorm, foldLayerScale]],
    ['all passes', [...DEPLOY_PASSES]],
  ];
  for (const [label, passes] of cases) {
    it(`${label} keep the logits (against the graph without passes)`, async () => {
      const input = testInput();
      const plain = await runOnnx(onnxBytes(built, { passes: [] }).bytes, input, [1, 3, 224, 224]);
      const deployed = await runOnnx(onnxBytes(built, { passes }).bytes, input, [1, 3, 224, 224]);
      expect(maxAbsDiff(plain, deployed)).toBeLessThanOrEqual(2e-6 * maxAbs(plain));
    });
  }
});
