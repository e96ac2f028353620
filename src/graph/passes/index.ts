/** The deployment pipeline: every pass is exact in real arithmetic, so outputs agree to float rounding. */
import { cloneGraph, type Graph, pruneUnused } from '../ir.js';
import { precomputeAttentionBias } from './attention-bias.js';
import { foldAttentionScale } from './fold-attention-scale.js';
import { foldBatchNorm } from './fold-batchnorm.js';
import { foldBiasAdd } from './fold-bias-add.js';
import { foldLayerScale } from './fold-layer-scale.js';
import { foldPreBatchNorm } from './fold-pre-batchnorm.js';
import { mergeAttentionKeys } from './merge-attention-keys.js';
import { linearsAsPointwiseConvs } from './linears-as-pointwise-convs.js';
import { mergeDistillationHeads } from './merge-heads.js';
import { rewritePoolingMixer } from './pooling-mixer.js';
import { precomputeParameterOps } from './precompute-parameter-ops.js';

export { precomputeAttentionBias, foldAttentionScale, foldBatchNorm, foldBiasAdd, foldLayerScale, foldPreBatchNorm, linearsAsPointwiseConvs, mergeAttentionKeys, mergeDistillationHeads, precomputeParameterOps, rewritePoolingMixer };

export type Pass = (graph: Graph) => Graph;

export const DEPLOY_PASSES: readonly Pass[] = [
  foldBatchNorm,
  foldPreBatchNorm,
  foldLayerScale,
  foldAttentionScale,
  rewritePoolingMixer,
  precomputeAttentionBias,
  precomputeParameterOps,
  foldBiasAdd,
  mergeAttentionKeys,
  mergeDistillationHeads,
  linearsAsPointwiseConvs,
];

/** Run `passes` (all of them by default) and drop whatever no node reads any more. */
export function deployGraph(graph: Graph, passes: readonly Pass[] = DEPLOY_PASSES): Graph {
  const out = passes.reduce((g, pass) => pass(g), cloneGraph(graph));
  pruneUnused(out);
  return out;
}
