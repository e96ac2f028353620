/**
 * What is particular to EfficientMod (families.test.ts checks its counts and fixture logits):
 * the fixture holds every block type, standard MACs equal fvcore's, the resolution limits, and
 * the deployment pass that runs its channels-last Linears as NCHW 1x1 convs.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildModel,
  buildWithRandomWeights,
  countModel,
  DEPLOY_PASSES,
  deployGraph,
  findModel,
  type Graph,
  linearsAsPointwiseConvs,
  type Node,
  onnxBytes,
  papersZooNames,
  readCheckpoint,
} from '../../src/index.js';
import { cli, EQUIVALENCE_RTOL, maxAbs, maxAbsDiff, root, runOnnx, tempDir, testInput } from '../helpers.js';

const folder = join(root, 'fixtures/families/efficientmod');
const reference = JSON.parse(readFileSync(join(folder, 'reference.json'), 'utf8')) as {
  counts: { model: string; resolution: number; macs: { toolbox: number; standard: number } }[];
  fixtures: { name: string; checkpoints: Record<string, string> }[];
};

describe('efficientmod fixture', () => {
  const stateDict = readCheckpoint(join(folder, reference.fixtures[0].checkpoints.reference)).stateDict;
  const keys = [...stateDict.keys()];
  const fc1 = keys.filter((k) => /^layers\.\d+\.blocks\.\d+\.mlp\.fc1\.weight$/.test(k) && keys.includes(k.replace('fc1.weight', 'context_layer.f.weight')));

  it('has modulation blocks that keep the width (r = 1: no GELU) and that widen it (r > 1: tiled context)', () => {
    const ratios = fc1.map((k) => stateDict.get(k)!.shape[0] / stateDict.get(k)!.shape[1]);
    expect(ratios).toContain(1);
    expect(ratios.some((r) => r > 1)).toBe(true);
  });

  it('has attention blocks (a bias-free qkv) in two stages, and the three downsampling embeddings', () => {
    const attention = keys.filter((k) => k.endsWith('.attn.qkv.weight'));
    expect(new Set(attention.map((k) => k.split('.')[1])).size).toBe(2);
    expect(keys.filter((k) => k.endsWith('.attn.qkv.bias'))).toEqual([]);
    expect(keys.filter((k) => /^layers\.\d\.downsample\.proj\.weight$/.test(k))).toHaveLength(3);
  });
});

describe('efficientmod counts', () => {
  // The toolbox MACs are far below the real ones on this channels-last network (a Linear counts W
  // tokens, not H·W); the standard count is the real one, as fvcore counts it.
  for (const r of reference.counts) {
    it(`${r.model} @${r.resolution}: standard MACs equal fvcore's conv + linear + matmul`, () => {
      const ours = countModel({ model: r.model, resolution: r.resolution });
      expect(ours.macs.standard).toBe(r.macs.standard);
    });
  }
});

describe('efficientmod resolutions', () => {
  it('refuses sizes below 32 in one line with exit 2, naming the sizes it takes, and writes nothing', async () => {
    const dir = tempDir();
    for (const args of [['count', '-m', 'efficientmod_xxs', '-r', '31'], ['export', '-m', 'efficientmod_s', '--onnx', '-r', '20', '-o', dir]]) {
      const r = await cli(...args);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/cannot take resolution \d+: use any whole number from 32 up/);
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it.each([32, 201])('runs at %i (odd grids, a 1x1 last stage)', async (resolution) => {
    const bytes = onnxBytes(buildWithRandomWeights({ model: 'efficientmod_xs', resolution })).bytes;
    const logits = await runOnnx(bytes, testInput(resolution), [1, 3, resolution, resolution]);
    expect(logits.every(Number.isFinite)).toBe(true);
    expect(maxAbs(logits)).toBeGreaterThan(1e-3);
  });
});

const without = DEPLOY_PASSES.filter((p) => p !== linearsAsPointwiseConvs);
const ops = (g: Graph, op: string) => g.nodes.filter((n) => n.op === op);

describe('linearsAsPointwiseConvs', () => {
  it.each([
    ['efficientmod_xxs', 224],
    ['efficientmod_s', 256],
  ])('%s @%i: the same logits with and without it', async (model, resolution) => {
    const built = buildWithRandomWeights({ model, resolution });
    const input = testInput(resolution);
    const shape = [1, 3, resolution, resolution];
    const before = await runOnnx(onnxBytes(built, { passes: without }).bytes, input, shape);
    const after = await runOnnx(onnxBytes(built).bytes, input, shape);
    // Only the summation order changes (a Gemm against a 1x1 conv kernel): within the bound the
    // fixtures hold to (3.4e-7 and 4.0e-7 of the largest logit measured here).
    expect(maxAbsDiff(before, after)).toBeLessThan(EQUIVALENCE_RTOL * maxAbs(before));
  });

  it('turns every channels-last Linear into a 1x1 conv and drops the permutes around the depthwise convs', () => {
    const built = buildModel({ model: 'efficientmod_xxs' });
    const before = deployGraph(built.graph, without);
    const after = deployGraph(built.graph);
    const { depths, attentionDepths } = findModel('efficientmod_xxs').config as { depths: number[]; attentionDepths: number[] };
    const modulation = depths.reduce((a, b) => a + b, 0);
    const shapeOf = (g: Graph, v: string) => g.values.get(v)!.shape;
    expect(ops(before, 'Linear').filter((n) => shapeOf(before, n.inputs[0]).length === 4)).toHaveLength(4 * modulation);
    expect(ops(after, 'Linear').filter((n) => shapeOf(after, n.inputs[0]).length === 4)).toEqual([]);
    // What is left: four Linears per attention block and the head.
    expect(ops(after, 'Linear')).toHaveLength(4 * attentionDepths.reduce((a, b) => a + b, 0) + 1);
    expect(ops(after, 'Conv')).toHaveLength(ops(before, 'Conv').length + 4 * modulation);

    // Each block: f (1x1) -> depthwise -> GELU -> g (1x1), no permute in between; one permute in
    // (the LayerNorm's output) and one out (to the residual add).
    const made = new Map(after.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as [string, Node])));
    const readers = (n: Node) => after.nodes.filter((m) => m.inputs.includes(n.outputs[0]));
    const depthwise = ops(after, 'Conv').filter((n) => n.op === 'Conv' && n.groups > 1);
    expect(depthwise).toHaveLength(modulation);
    for (const dw of depthwise) {
      const f = made.get(dw.inputs[0])!;
      expect([f.op, f.module]).toEqual(['Conv', dw.module.replace('context_list.0', 'f')]);
      expect(readers(dw).map((n) => n.op)).toEqual(['Gelu']);
      expect(readers(readers(dw)[0]).map((n) => `${n.op} ${n.module}`)).toEqual([`Conv ${dw.module.replace('context_list.0', 'g')}`]);
    }
    expect(ops(after, 'Transpose').length).toBe(ops(before, 'Transpose').length);
  });

  it("leaves the papers' nine models exactly as they were", () => {
    for (const model of papersZooNames()) {
      const graph = deployGraph(buildModel({ model }).graph, without);
      const rewritten = linearsAsPointwiseConvs(graph);
      expect(JSON.stringify(rewritten.nodes), model).toBe(JSON.stringify(graph.nodes));
      expect([...rewritten.params.keys()], model).toEqual([...graph.params.keys()]);
    }
  });
});

