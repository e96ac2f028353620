/** The deployment pipeline: every pass is exact in real arithmetic, so outputs agree to float rounding. */
import { cloneGraph, type Graph, pruneUnused } from '../ir.js';
import { precomputeAttentionBias } from './attention-bias.js';
import { foldBatchNorm } from './fold-batchnorm.js';
import { foldBatchNormIntoNextConv } from './fold-batchnorm-into-next-conv.js';
import { foldBiasAdd } from './fold-bias-add.js';
import { foldLayerScale } from './fold-layer-scale.js';
import { mergeDistillationHeads } from './merge-heads.js';
import { rewritePoolingMixer } from './pooling-mixer.js';
import { precomputeParameterOps } from './precompute-parameter-ops.js';

export { precomputeAttentionBias, foldBatchNorm, foldBatchNormIntoNextConv, foldBiasAdd, foldLayerScale, mergeDistillationHeads, precomputeParameterOps, rewritePoolingMixer };

export type Pass = (graph: Graph) => Graph;

export const DEPLOY_PASSES: readonly Pass[] = [
  foldBatchNorm,
  foldBatchNormIntoNextConv,
  foldLayerScale,
  rewritePoolingMixer,
  precomputeAttentionBias,
  precomputeParameterOps,
  foldBiasAdd,
  mergeDistillationHeads,
];

/** Run `passes` (all of them by default) and drop whatever no node reads any more. */
export function deployGraph(graph: Graph, passes: readonly Pass[] = DEPLOY_PASSES): Graph {
  const out = passes.reduce((g, pass) => pass(g), cloneGraph(graph));
  pruneUnused(out);
  return out;
}
