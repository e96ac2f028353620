/** A Hugging Face transformers EfficientFormer `config.json` as an eformer V1 spec. */
import { readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { UsageError } from '../errors.js';
import { efficientFormer, efficientFormerConfig } from './efficientformer.js';
import { entry, type ModelEntry } from './spec.js';

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

export function hfConfigEntry(path: string): ModelEntry {
  let c: HfConfig;
  try {
    c = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read Hugging Face config '${path}': ${(err as NodeJS.ErrnoException).code ?? 'not valid JSON'}`);
  }
  if (c.model_type !== 'efficientformer') throw new UsageError(`${path}: model_type is '${c.model_type}', eformer reads 'efficientformer' (V1) configs`);
  if (!ints(c.hidden_sizes) || !ints(c.depths) || c.hidden_sizes!.length !== c.depths!.length) {
    throw new UsageError(`${path}: hidden_sizes and depths must be lists of positive integers of the same length`);
  }
  if ((c.hidden_act ?? 'gelu') !== 'gelu') throw new UsageError(`${path}: hidden_act '${c.hidden_act}' is not supported (gelu only)`);
  if ((c.downsample_patch_size ?? 3) !== 3 || (c.downsample_stride ?? 2) !== 2 || (c.downsample_pad ?? 1) !== 1) {
    throw new UsageError(`${path}: only the standard 3x3 stride-2 downsampling is supported`);
  }
  const numClasses = c.num_labels ?? (c.id2label ? Object.keys(c.id2label).length : 1000);
  const config = efficientFormerConfig({
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
  const name = basename(dirname(path)).replace(/[^A-Za-z0-9_.-]/g, '_') || 'efficientformer_hf';
  return entry({ name, family: efficientFormer, config });
}
