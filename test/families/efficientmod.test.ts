/**
 * What is particular to EfficientMod (families.test.ts checks its counts and fixture logits):
 * the fixture holds every block type, standard MACs equal fvcore's, and the resolution limits.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildWithRandomWeights, countModel, onnxBytes, readCheckpoint } from '../../src/index.js';
import { cli, maxAbs, root, runOnnx, tempDir, testInput } from '../helpers.js';

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
