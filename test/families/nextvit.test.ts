/**
 * Next-ViT beyond the checks every family gets (test/families.test.ts: counts and fixtures against
 * the reference code): what the fixture covers, the resolutions the family refuses, the breakdown
 * names, and the two deployment passes it brought (pre-norm BatchNorm folding, attention scale
 * folding), each compared with the graph left as PyTorch computes it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildModel,
  buildWithRandomWeights,
  buildWithWeights,
  DEPLOY_PASSES,
  deployGraph,
  encodeOnnx,
  entry,
  foldAttentionScale,
  foldBatchNorm,
  foldPreBatchNorm,
  type Graph,
  GraphBuilder,
  lowerToOnnx,
  nextVit,
  onnxBytes,
  type Pass,
  randomizeWeights,
  readCheckpoint,
  type Value,
} from '../../src/index.js';
import { cli, equivalence, root, runOnnx, tempDir, testInput } from '../helpers.js';

const base = join(root, 'fixtures/families/nextvit');
const reference = JSON.parse(readFileSync(join(base, 'reference.json'), 'utf8'));
const fixtures: { name: string; config: Record<string, unknown>; resolution: number; checkpoints: Record<string, string> }[] = reference.fixtures;

function fixtureModel(f: (typeof fixtures)[number]) {
  const spec = entry({ name: f.name, family: nextVit, config: nextVit.config(f.config, f.name) });
  return buildWithWeights({ spec, ckpt: join(base, f.checkpoints.reference), resolution: f.resolution });
}

const count = (graph: Graph, op: string) => graph.nodes.filter((n) => n.op === op).length;

describe('the fixture holds every Next-ViT block kind', () => {
  const keys = [...readCheckpoint(join(base, fixtures[0].checkpoints.reference)).stateDict.keys()];
  const blocks = [...new Set(keys.map((k) => /^features\.(\d+)\./.exec(k)?.[1]).filter((i) => i !== undefined))].map(Number);
  const has = (i: number, rest: string) => keys.includes(`features.${i}.${rest}`);
  const transformer = blocks.filter((i) => has(i, 'e_mhsa.q.weight'));
  const conv = blocks.filter((i) => !transformer.includes(i));
  const graph = buildModel({ spec: entry({ name: 'tiny', family: nextVit, config: nextVit.config(fixtures[0].config, 'tiny') }), resolution: 64 }).graph;
  const strided = new Set(graph.nodes.filter((n) => n.op === 'AvgPool').map((n) => Number(n.module.split('.')[1])));

  it('convolution blocks with each embedding: 1x1 conv at stride 1, pool + 1x1 conv at stride 2, identity', () => {
    expect(conv.filter((i) => has(i, 'patch_embed.conv.weight') && !strided.has(i)).length).toBeGreaterThan(0);
    expect(conv.filter((i) => has(i, 'patch_embed.conv.weight') && strided.has(i)).length).toBeGreaterThan(0);
    expect(conv.filter((i) => !has(i, 'patch_embed.conv.weight')).length).toBeGreaterThan(0);
  });

  it('transformer blocks with pooled keys (BatchNorm1d) and with full keys', () => {
    expect(transformer.filter((i) => has(i, 'e_mhsa.norm.running_var')).length).toBeGreaterThan(0);
    expect(transformer.filter((i) => !has(i, 'e_mhsa.norm.running_var')).length).toBeGreaterThan(0);
    for (const i of transformer) for (const part of ['projection.conv', 'mhca.group_conv3x3', 'norm1', 'norm2', 'mlp.conv1']) expect(keys.some((k) => k.startsWith(`features.${i}.${part}.`))).toBe(true);
  });

  it('one resolution where the key pooling divides the tokens, one where it drops a remainder and pools partial windows', () => {
    const slices = (r: number) => count(buildModel({ spec: entry({ name: 'tiny', family: nextVit, config: nextVit.config(fixtures[0].config, 'tiny') }), resolution: r }).graph, 'Slice');
    const resolutions = fixtures.map((f) => f.resolution);
    expect(resolutions.map(slices).sort()).toEqual([0, 2]);
    // 100 -> 50 -> 25: the strided blocks pool 25x25 and 13x13 maps, both odd.
    expect(resolutions).toContain(100);
  });
});

describe('resolutions', () => {
  it('refuses a map too small for the key pooling: one line, exit 2, nothing written', async () => {
    const dir = tempDir();
    const r = await cli('export', '--model', 'nextvit_small', '--resolution', '24', '--onnx', '--out-dir', dir);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/nextvit_small cannot take resolution 24: stage 1's attention averages keys over 16 tokens and its 3x3 map has 9: use 25 or more/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('takes the smallest size it names, and sizes the pooling does not divide', async () => {
    for (const resolution of [25, 200]) {
      const built = buildWithRandomWeights({ model: 'nextvit_small', resolution });
      const logits = await runOnnx(onnxBytes(built).bytes, testInput(resolution), [1, 3, resolution, resolution]);
      expect(logits.every(Number.isFinite)).toBe(true);
    }
  });
});

describe('breakdown names', () => {
  it('numbers blocks within stages from the flat features index', () => {
    const graph = buildModel({ model: 'nextvit_small' }).graph;
    const name = nextVit.blockNamer(graph);
    expect(name('stem.2.conv')?.block).toBe('stem');
    expect(name('features.2.mlp.conv1')?.block).toBe('stage 0 · block 2 (NCB) · mlp');
    expect(name('features.6.e_mhsa.q')?.block).toBe('stage 1 · block 3 (NTB) · attention');
    expect(name('features.12.patch_embed.conv')?.block).toBe('stage 2 · block 5 (NCB) · embedding');
    expect(name('features.19')?.stage).toBe('stage 3 · residual + layout');
    expect(name('proj_head.0')?.block).toBe('head');
  });
});

async function logitsOf(graph: Graph, passes: readonly Pass[], resolution: number, channels = 3): Promise<Float32Array> {
  const bytes = encodeOnnx(lowerToOnnx(deployGraph(graph, passes)), { producerVersion: 'test' });
  const input = testInput(resolution, Math.ceil(channels / 3)).slice(0, channels * resolution * resolution);
  return runOnnx(bytes, input, [1, channels, resolution, resolution]);
}

describe('deployment passes on Next-ViT', () => {
  for (const f of fixtures) {
    it(`${f.name}: the pre-norm and scale folds leave the logits as they were`, async () => {
      const { graph } = fixtureModel(f);
      const unfolded = await logitsOf(graph, [], f.resolution);
      for (const passes of [[foldBatchNorm, foldPreBatchNorm], [foldAttentionScale], DEPLOY_PASSES]) {
        const folded = await logitsOf(graph, passes, f.resolution);
        const { diff, bound } = equivalence(folded, unfolded);
        expect(diff).toBeLessThanOrEqual(bound);
      }
    });
  }

  it('every BatchNorm folds except the last one before the classifier, and no attention scale is left', () => {
    const { graph } = buildModel({ model: 'nextvit_small' });
    expect(count(graph, 'BatchNorm')).toBe(61);
    // The post-conv ones fold into their convs; 16 NCB norms, 4 + 4 NTB norm1/norm2, 3 BatchNorm1d and the final norm remain.
    expect(count(deployGraph(graph, [foldBatchNorm]), 'BatchNorm')).toBe(28);
    const deployed = deployGraph(graph);
    expect(count(deployed, 'BatchNorm')).toBe(1);
    expect(deployed.nodes.find((n) => n.op === 'BatchNorm')?.module).toBe('norm');
    expect(count(graph, 'Scale')).toBe(4);
    expect(count(deployed, 'Scale')).toBe(0);
    expect(count(deployed, 'Linear')).toBe(count(graph, 'Linear'));
  });
});

/** A graph on an [1, 8, 6, 6] input with random weights, its output from `body`. */
function synthetic(body: (b: GraphBuilder, x: Value) => Value): Graph {
  const b = new GraphBuilder('synthetic');
  b.output(body(b, b.input('image', [1, 8, 6, 6])), 'logits');
  const graph = b.finish();
  randomizeWeights(graph, 5);
  return graph;
}

describe('pre-norm folding: where it applies and where it must not', () => {
  const cases: [string, (b: GraphBuilder, x: Value) => Value, number][] = [
    ['into a 1x1 conv', (b, x) => b.conv('c', b.batchNorm('bn', x), { out: 4 }), 0],
    ['into a bias-free 1x1 conv', (b, x) => b.conv('c', b.batchNorm('bn', x), { out: 4, bias: false }), 0],
    [
      'through tokens, a sliced and windowed token mean and a BatchNorm1d into linears (E_MHSA)',
      (b, x) => {
        const flat = b.reshape(b.batchNorm('bn', x), [1, 8, 36]);
        const q = b.linear('q', b.transpose(flat, [0, 2, 1]), 4);
        const pooled = b.batchNorm('bn1d', b.mean(b.reshape(b.slice(flat, 2, 0, 32), [1, 8, 8, 4]), [3]));
        const k = b.linear('k', b.transpose(pooled, [0, 2, 1]), 4);
        return b.matmul(q, b.transpose(k, [0, 2, 1]));
      },
      0,
    ],
    ['not into a 3x3 conv (its zero padding is not normalised)', (b, x) => b.conv('c', b.batchNorm('bn', x), { out: 4, kernel: 3, pad: 1 }), 1],
    ['not into a padded 1x1 conv', (b, x) => b.conv('c', b.batchNorm('bn', x), { out: 4, pad: 1 }), 1],
    [
      'not when something else reads it',
      (b, x) => {
        const normed = b.batchNorm('bn', x);
        return b.add(b.conv('c', normed, { out: 8 }), b.relu(normed));
      },
      1,
    ],
    [
      'not through a reshape that splits the channels',
      (b, x) => b.linear('l', b.transpose(b.reshape(b.batchNorm('bn', x), [1, 2, 4, 36]), [0, 1, 3, 2]), 3),
      1,
    ],
    [
      'not through a reshape that mixes channels with pixels, though an axis of the same size comes out',
      (b, x) => b.linear('l', b.transpose(b.reshape(b.batchNorm('bn', x), [1, 6, 8, 6]), [0, 1, 3, 2]), 3),
      1,
    ],
    ['not through a mean over the channels', (b, x) => b.linear('l', b.transpose(b.mean(b.reshape(b.batchNorm('bn', x), [1, 8, 36]), [1], true), [0, 2, 1]), 3), 1],
    ['not into a classifier over pooled features', (b, x) => b.linear('head', b.mean(b.batchNorm('bn', x), [2, 3]), 3), 1],
  ];
  for (const [label, body, left] of cases) {
    it(label, async () => {
      const graph = synthetic(body);
      const folded = deployGraph(graph, [foldPreBatchNorm]);
      expect(count(folded, 'BatchNorm')).toBe(left);
      const { diff, bound } = equivalence(await logitsOf(folded, [], 6, 8), await logitsOf(graph, [], 6, 8));
      expect(diff).toBeLessThanOrEqual(bound);
    });
  }
});
