/** EfficientFormer (V1) configuration: every field a variant can change. */
import { UsageError } from '../../core/errors.js';
import { checkStageLists } from '../config-json.js';

/** Mirrors Hugging Face's EfficientFormerConfig (names in camelCase). */
export interface EfficientFormerConfig {
  hiddenSizes: number[];
  depths: number[];
  /** Attention (Meta3D) blocks at the end of the last stage: `vit_num`. */
  numMeta3dBlocks: number;
  mlpExpansionRatio: number;
  poolSize: number;
  keyDim: number;
  numAttentionHeads: number;
  attentionRatio: number;
  /** The attention's fixed grid: the last stage must be this many tokens on a side. */
  resolution: number;
  numClasses: number;
  distillation: boolean;
  layerNormEps: number;
  batchNormEps: number;
}

const defaults = {
  mlpExpansionRatio: 4,
  poolSize: 3,
  keyDim: 32,
  numAttentionHeads: 8,
  attentionRatio: 4,
  resolution: 7,
  numClasses: 1000,
  distillation: true,
  layerNormEps: 1e-5,
  batchNormEps: 1e-5,
};

export function efficientFormerConfig(
  c: Pick<EfficientFormerConfig, 'hiddenSizes' | 'depths' | 'numMeta3dBlocks'> & Partial<EfficientFormerConfig>,
): EfficientFormerConfig {
  const config = { ...defaults, ...c };
  checkStageLists({ hiddenSizes: config.hiddenSizes, depths: config.depths });
  // The stem's first conv makes half the first stage's channels.
  if (config.hiddenSizes[0] % 2) throw new UsageError(`hiddenSizes[0] must be even (the stem's first conv makes half as many channels), got ${config.hiddenSizes[0]}`);
  const last = config.depths.at(-1)!;
  if (!(config.numMeta3dBlocks >= 0 && config.numMeta3dBlocks <= last)) throw new UsageError(`numMeta3dBlocks must be 0 to the last stage's depth (${last}), got ${config.numMeta3dBlocks}`);
  // The pooling mixer pads poolSize // 2 a side at stride 1: only an odd window keeps the map's size.
  if (config.poolSize % 2 !== 1) throw new UsageError(`poolSize must be odd (the pooling keeps the map's size), got ${config.poolSize}`);
  return config;
}
