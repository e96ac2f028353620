/** EfficientFormer (V1) configuration: every field a variant can change. */

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
  return { ...defaults, ...c };
}
