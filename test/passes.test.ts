import { describe, expect, it } from 'vitest';
import {
  buildWithRandomWeights,
  foldBatchNorm,
  foldLayerScale,
  mergeDistillationHeads,
  onnxBytes,
  type Pass,
  precomputeAttentionBias,
  rewritePoolingMixer,
} from '../src/index.js';
import { deployGraph } from '../src/graph/passes/index.js';
import { maxAbs, maxAbsDiff, runOnnx, testInput } from './helpers.js';

const opsOf = (passes: Pass[], model: string) => deployGraph(buildWithRandomWeights({ model }).graph, passes).nodes.map((n) => n.op);
const count = (ops: string[], op: string) => ops.filter((o) => o === op).length;

/** Logits of the unfolded graph and of the graph after `passes`, on the same input. */
async function compare(model: string, passes: Pass[]) {
  const built = buildWithRandomWeights({ model });
  const input = testInput();
  const reference = await runOnnx(onnxBytes(built, { passes: [] }).bytes, input, [1, 3, 224, 224]);
  const folded = await runOnnx(onnxBytes(built, { passes }).bytes, input, [1, 3, 224, 224]);
  return { reference, folded };
}

describe('folding passes preserve outputs', () => {
  const cases: [string, Pass[]][] = [
    ['foldBatchNorm', [foldBatchNorm]],
    ['foldLayerScale (after BN folding)', [foldBatchNorm, foldLayerScale]],
    ['precomputeAttentionBias', [precomputeAttentionBias]],
    ['mergeDistillationHeads', [mergeDistillationHeads]],
    ['rewritePoolingMixer', [rewritePoolingMixer]],
    ['all passes', [foldBatchNorm, foldLayerScale, rewritePoolingMixer, precomputeAttentionBias, mergeDistillationHeads]],
  ];
  for (const model of ['efficientformer_l1', 'efficientformerv2_s0', 'mobilenetv2_100']) {
    for (const [label, passes] of cases) {
      it(`${model}: ${label}`, async () => {
        const { reference, folded } = await compare(model, passes);
        // Relative to the logit scale: folding only reorders float arithmetic.
        expect(maxAbsDiff(reference, folded)).toBeLessThan(1e-5 * Math.max(1, maxAbs(reference)) * 10);
      });
    }
  }
});

describe('passes change the graph the way they claim', () => {
  it('BN folding leaves only the BatchNorm that follows no conv', () => {
    expect(count(opsOf([], 'efficientformerv2_s0'), 'BatchNorm')).toBeGreaterThan(50);
    expect(count(opsOf([foldBatchNorm], 'efficientformerv2_s0'), 'BatchNorm')).toBe(1); // the final `norm`
    expect(count(opsOf([foldBatchNorm], 'efficientformer_l1'), 'BatchNorm')).toBe(0);
  });

  it('layer scales fold except where the branch is not a conv or linear (V1 pooling mixer)', () => {
    const v1 = opsOf([foldBatchNorm, foldLayerScale], 'efficientformer_l1');
    // 14 Meta4D blocks keep the pooling-branch Mul; every MLP and attention scale folds.
    expect(count(v1, 'Mul')).toBe(14);
    expect(count(opsOf([foldBatchNorm, foldLayerScale], 'efficientformerv2_s0'), 'Mul')).toBe(0);
  });

  it('the V1 pooling mixer becomes two depthwise 1x1 convs and an add, with no Sub or Mul left', () => {
    const before = opsOf([foldBatchNorm, foldLayerScale], 'efficientformer_l1');
    const after = opsOf([foldBatchNorm, foldLayerScale, rewritePoolingMixer], 'efficientformer_l1');
    expect(count(after, 'Sub')).toBe(0);
    expect(count(after, 'Mul')).toBe(0);
    expect(count(after, 'Conv')).toBe(count(before, 'Conv') + 2 * 14);
    expect(count(after, 'AvgPool')).toBe(14);
  });

  it('bias tables become constants and the heads merge into one', () => {
    const ops = opsOf([precomputeAttentionBias, mergeDistillationHeads], 'efficientformerv2_s0');
    expect(count(ops, 'Gather')).toBe(0);
    expect(count(ops, 'Linear')).toBe(1);
  });
});
