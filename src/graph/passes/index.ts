/** The deployment pipeline: every pass is exact in real arithmetic, so outputs agree to float rounding. */
import { cloneGraph, type Graph, pruneUnused } from '../ir.js';
import { precomputeAttentionBias } from './attention-bias.js';
import { foldBatchNorm } from './fold-batchnorm.js';
import { foldLayerScale } from './fold-layer-scale.js';
import { linearsAsPointwiseConvs } from './linears-as-pointwise-convs.js';
import { mergeDistillationHeads } from './merge-heads.js';
import { rewritePoolingMixer } from './pooling-mixer.js';

export { precomputeAttentionBias, foldBatchNorm, foldLayerScale, mergeDistillationHeads, rewritePoolingMixer, linearsAsPointwiseConvs };

export type Pass = (graph: Graph) => Graph;

export const DEPLOY_PASSES: readonly Pass[] = [
  foldBatchNorm,
  foldLayerScale,
  rewritePoolingMixer,
  precomputeAttentionBias,
  mergeDistillationHeads,
  linearsAsPointwiseConvs,
];

/** Run `passes` (all of them by default) and drop whatever no node reads any more. */
export function deployGraph(graph: Graph, passes: readonly Pass[] = DEPLOY_PASSES): Graph {
  const out = passes.reduce((g, pass) => pass(g), cloneGraph(graph));
  pruneUnused(out);
  return out;
}
