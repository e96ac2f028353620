/** A Hugging Face transformers EfficientFormer `config.json` (model_type `efficientformer`) as a V1 config. */
import { UsageError } from '../../core/errors.js';
import { CONFIG_LIMITS, checkRange, RANGES, type Range, whole } from '../config-json.js';
import { type EfficientFormerConfig, efficientFormerConfig } from './config.js';

interface HfConfig {
  model_type?: string;
  hidden_sizes?: number[];
  depths?: number[];
  num_meta3d_blocks?: number;
  mlp_expansion_ratio?: number;
  pool_size?: number;
  key_dim?: number;
  num_attention_heads?: number;
  attention_ratio?: number;
  resolution?: number;
  num_labels?: number;
  id2label?: Record<string, string>;
  distillation?: boolean;
  layer_norm_eps?: number;
  batch_norm_eps?: number;
  hidden_act?: string;
  downsample_patch_size?: number;
  downsample_stride?: number;
  downsample_pad?: number;
}

const ints = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every((x) => Number.isInteger(x) && x > 0);

/** A field of the file, when present, within `range` (the limits every family's configs share). */
function within(path: string, field: string, value: unknown, range: Range): void {
  if (value !== undefined) checkRange(path, field, value, range);
}

export function readHfConfig(raw: Record<string, unknown>, path: string): EfficientFormerConfig {
  const c = raw as HfConfig;
  if (!ints(c.hidden_sizes) || !ints(c.depths) || c.hidden_sizes!.length !== c.depths!.length) {
    throw new UsageError(`${path}: hidden_sizes and depths must be lists of positive integers of the same length`);
  }
  within(path, 'the number of stages', c.depths!.length, whole(1, CONFIG_LIMITS.stages));
  c.depths!.forEach((d, i) => within(path, `depths[${i}]`, d, RANGES.blocks));
  within(path, 'the total depth', c.depths!.reduce((a, b) => a + b, 0), whole(1, CONFIG_LIMITS.totalDepth));
  c.hidden_sizes!.forEach((w, i) => within(path, `hidden_sizes[${i}]`, w, RANGES.width));
  within(path, 'num_labels', c.num_labels, RANGES.classes);
  within(path, 'num_attention_heads', c.num_attention_heads, RANGES.heads);
  within(path, 'key_dim', c.key_dim, RANGES.keyDim);
  within(path, 'attention_ratio', c.attention_ratio, RANGES.ratio);
  within(path, 'mlp_expansion_ratio', c.mlp_expansion_ratio, RANGES.ratio);
  within(path, 'num_meta3d_blocks', c.num_meta3d_blocks, whole(0, c.depths!.at(-1)!));
  within(path, 'resolution', c.resolution, RANGES.grid);
  within(path, 'pool_size', c.pool_size, RANGES.kernel);
  within(path, 'layer_norm_eps', c.layer_norm_eps, RANGES.eps);
  within(path, 'batch_norm_eps', c.batch_norm_eps, RANGES.eps);
  if (c.id2label !== undefined && c.num_labels === undefined) within(path, 'the number of labels in id2label', Object.keys(c.id2label ?? {}).length, RANGES.classes);
  if ((c.hidden_act ?? 'gelu') !== 'gelu') throw new UsageError(`${path}: hidden_act '${c.hidden_act}' is not supported (gelu only)`);
  if ((c.downsample_patch_size ?? 3) !== 3 || (c.downsample_stride ?? 2) !== 2 || (c.downsample_pad ?? 1) !== 1) {
    throw new UsageError(`${path}: only the standard 3x3 stride-2 downsampling is supported`);
  }
  const numClasses = c.num_labels ?? (c.id2label ? Object.keys(c.id2label).length : 1000);
  return efficientFormerConfig({
    hiddenSizes: c.hidden_sizes!,
    depths: c.depths!,
    numMeta3dBlocks: c.num_meta3d_blocks ?? 1,
    mlpExpansionRatio: c.mlp_expansion_ratio ?? 4,
    poolSize: c.pool_size ?? 3,
    keyDim: c.key_dim ?? 32,
    numAttentionHeads: c.num_attention_heads ?? 8,
    attentionRatio: c.attention_ratio ?? 4,
    resolution: c.resolution ?? 7,
    numClasses,
    distillation: c.distillation ?? true,
    // transformers' default is 1e-12, not PyTorch's 1e-5: it matters for exact outputs.
    layerNormEps: c.layer_norm_eps ?? 1e-12,
    batchNormEps: c.batch_norm_eps ?? 1e-5,
  });
}
