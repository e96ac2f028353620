/**
 * Checkpoint namings of EfficientFormer (V1) besides the original snap-research keys: timm's
 * `efficientformer_*` and Hugging Face transformers' EfficientFormer.
 */
import type { Naming } from '../family.js';
import { anyKeyStartsWith, applyRules, type Rule } from '../renames.js';

const n = (s: string) => Number(s);

/** timm's EfficientFormer (V1): `stem.conv1`, `stages.i.downsample`, `stages.i.blocks.j`, `ls1.gamma`. */
function timmV1(): (key: string) => string {
  const rules: Rule[] = [
    [/^stem\.conv1\.(.*)$/, 'patch_embed.0.$1'],
    [/^stem\.norm1\.(.*)$/, 'patch_embed.1.$1'],
    [/^stem\.conv2\.(.*)$/, 'patch_embed.3.$1'],
    [/^stem\.norm2\.(.*)$/, 'patch_embed.4.$1'],
    [/^stages\.(\d+)\.downsample\.conv\.(.*)$/, (i, rest) => `network.${2 * n(i) - 1}.proj.${rest}`],
    [/^stages\.(\d+)\.downsample\.norm\.(.*)$/, (i, rest) => `network.${2 * n(i) - 1}.norm.${rest}`],
    [/^stages\.(\d+)\.blocks\.(\d+)\.ls([12])\.gamma$/, (i, j, k) => `network.${2 * n(i)}.${j}.layer_scale_${k}`],
    [/^stages\.(\d+)\.blocks\.(\d+)\.(.*)$/, (i, j, rest) => `network.${2 * n(i)}.${j}.${rest}`],
    [/^head_dist\.(.*)$/, 'dist_head.$1'],
  ];
  return (key) => applyRules(key, rules);
}

/** Hugging Face transformers' EfficientFormer (V1). */
function huggingFace(keys: readonly string[]): (key: string) => string {
  const stages = keys.map((k) => /^efficientformer\.encoder\.intermediate_stages\.(\d+)\./.exec(k)?.[1]).filter(Boolean).map(Number);
  const lastStage = stages.length ? Math.max(...stages) + 1 : 0;
  const meta4d = new Set(keys.map((k) => /last_stage\.meta4D_layers\.blocks\.(\d+)\./.exec(k)?.[1]).filter(Boolean)).size;
  const block = (rest: string) =>
    rest
      .replace(/^mlp\.convolution1\./, 'mlp.fc1.')
      .replace(/^mlp\.convolution2\./, 'mlp.fc2.')
      .replace(/^mlp\.batchnorm_before\./, 'mlp.norm1.')
      .replace(/^mlp\.batchnorm_after\./, 'mlp.norm2.')
      .replace(/^mlp\.linear_in\./, 'mlp.fc1.')
      .replace(/^mlp\.linear_out\./, 'mlp.fc2.')
      .replace(/^layernorm([12])\./, 'norm$1.')
      .replace(/^token_mixer\.projection\./, 'token_mixer.proj.');
  const rules: Rule[] = [
    [/^efficientformer\.patch_embed\.convolution1\.(.*)$/, 'patch_embed.0.$1'],
    [/^efficientformer\.patch_embed\.batchnorm_before\.(.*)$/, 'patch_embed.1.$1'],
    [/^efficientformer\.patch_embed\.convolution2\.(.*)$/, 'patch_embed.3.$1'],
    [/^efficientformer\.patch_embed\.batchnorm_after\.(.*)$/, 'patch_embed.4.$1'],
    [/^efficientformer\.encoder\.intermediate_stages\.(\d+)\.meta4D_layers\.blocks\.(\d+)\.(.*)$/, (i, j, rest) => `network.${i}.${j}.${block(rest)}`],
    [/^efficientformer\.encoder\.intermediate_stages\.(\d+)\.projection\.(.*)$/, (i, rest) => `network.${i}.proj.${rest}`],
    [/^efficientformer\.encoder\.intermediate_stages\.(\d+)\.norm\.(.*)$/, (i, rest) => `network.${i}.norm.${rest}`],
    [/^efficientformer\.encoder\.last_stage\.meta4D_layers\.blocks\.(\d+)\.(.*)$/, (j, rest) => `network.${lastStage}.${j}.${block(rest)}`],
    // The Flat module takes the slot between the last 4-D block and the first 3-D one.
    [/^efficientformer\.encoder\.last_stage\.meta3D_layers\.blocks\.(\d+)\.(.*)$/, (j, rest) => `network.${lastStage}.${meta4d + 1 + n(j)}.${block(rest)}`],
    [/^efficientformer\.layernorm\.(.*)$/, 'norm.$1'],
    [/^classifier\.(.*)$/, 'head.$1'],
    [/^distillation_classifier\.(.*)$/, 'dist_head.$1'],
  ];
  return (key) => applyRules(key, rules);
}

export const timmNaming: Naming = {
  id: 'timm',
  detect: (keys) => anyKeyStartsWith(keys, 'stem.', 'stages.'),
  renamer: () => timmV1(),
};

export const huggingFaceNaming: Naming = {
  id: 'huggingface',
  detect: (keys) => anyKeyStartsWith(keys, 'efficientformer.'),
  renamer: (keys) => huggingFace(keys),
};
