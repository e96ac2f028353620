/**
 * Checkpoint namings, detected from the keys and mapped onto eformer's names (which are the
 * original snap-research / torchvision keys): timm's EfficientFormer and EfficientFormerV2,
 * and Hugging Face transformers' EfficientFormer (V1).
 */
import type { StateDict } from './tensor.js';

export type NamingId = 'original' | 'timm' | 'huggingface';

type Rule = [RegExp, string | ((...groups: string[]) => string)];

function applyRules(key: string, rules: Rule[]): string {
  for (const [pattern, to] of rules) {
    const m = pattern.exec(key);
    if (m) return typeof to === 'string' ? key.replace(pattern, to) : to(...m.slice(1));
  }
  return key;
}

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

/** timm's EfficientFormerV2: ConvNorm modules (`.conv`/`.bn`) where the original used Sequential indices. */
function timmV2(keys: string[]): (key: string) => string {
  // Embeddings that carry attention (`asub`) name their conv path `conv`/`bn`, the others `proj`/`norm`.
  const withAttention = new Set(keys.map((k) => /^stages\.(\d+)\.downsample\.attn\./.exec(k)?.[1]).filter(Boolean));
  const convNorm = (prefix: string, rest: string) =>
    rest
      .replace(/^(stride_conv|q|k|v|v_local)\.conv\./, '$1.0.')
      .replace(/^(stride_conv|q|k|v|v_local)\.bn\./, '$1.1.')
      .replace(/^q\.local\./, 'q.local.0.')
      .replace(/^q\.proj\.conv\./, 'q.proj.0.')
      .replace(/^q\.proj\.bn\./, 'q.proj.1.')
      .replace(/^proj\.conv\./, 'proj.1.')
      .replace(/^proj\.bn\./, 'proj.2.')
      .replace(/^fc1\.conv\./, 'fc1.')
      .replace(/^fc1\.bn\./, 'norm1.')
      .replace(/^mid\.conv\./, 'mid.')
      .replace(/^mid\.bn\./, 'mid_norm.')
      .replace(/^fc2\.conv\./, 'fc2.')
      .replace(/^fc2\.bn\./, 'norm2.')
      .replace(/^/, prefix);
  const rules: Rule[] = [
    [/^stem\.conv1\.conv\.(.*)$/, 'patch_embed.0.$1'],
    [/^stem\.conv1\.bn\.(.*)$/, 'patch_embed.1.$1'],
    [/^stem\.conv2\.conv\.(.*)$/, 'patch_embed.3.$1'],
    [/^stem\.conv2\.bn\.(.*)$/, 'patch_embed.4.$1'],
    [/^stages\.(\d+)\.downsample\.conv\.conv\.(.*)$/, (i, rest) => `network.${2 * n(i) - 1}.${withAttention.has(i) ? 'conv' : 'proj'}.${rest}`],
    [/^stages\.(\d+)\.downsample\.conv\.bn\.(.*)$/, (i, rest) => `network.${2 * n(i) - 1}.${withAttention.has(i) ? 'bn' : 'norm'}.${rest}`],
    [/^stages\.(\d+)\.downsample\.attn\.(.*)$/, (i, rest) => convNorm(`network.${2 * n(i) - 1}.attn.`, rest)],
    [/^stages\.(\d+)\.blocks\.(\d+)\.ls([12])\.gamma$/, (i, j, k) => `network.${2 * n(i)}.${j}.layer_scale_${k}`],
    [/^stages\.(\d+)\.blocks\.(\d+)\.token_mixer\.(.*)$/, (i, j, rest) => convNorm(`network.${2 * n(i)}.${j}.token_mixer.`, rest)],
    [/^stages\.(\d+)\.blocks\.(\d+)\.mlp\.(.*)$/, (i, j, rest) => convNorm(`network.${2 * n(i)}.${j}.mlp.`, rest)],
    [/^head_dist\.(.*)$/, 'dist_head.$1'],
  ];
  return (key) => applyRules(key, rules);
}

/** Hugging Face transformers' EfficientFormer (V1). */
function huggingFace(keys: string[]): (key: string) => string {
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

export function detectNaming(keys: string[]): NamingId {
  if (keys.some((k) => k.startsWith('efficientformer.'))) return 'huggingface';
  if (keys.some((k) => k.startsWith('stem.') || k.startsWith('stages.'))) return 'timm';
  return 'original';
}

/** The state_dict renamed to eformer's (original) names, and which naming it came in. */
export function toOriginalNames(sd: StateDict): { naming: NamingId; stateDict: StateDict } {
  const keys = [...sd.keys()];
  const naming = detectNaming(keys);
  if (naming === 'original') return { naming, stateDict: sd };
  const isV2 = keys.some((k) => k.startsWith('stem.conv1.conv.'));
  const rename = naming === 'huggingface' ? huggingFace(keys) : isV2 ? timmV2(keys) : timmV1();
  return { naming, stateDict: new Map([...sd].map(([k, v]) => [rename(k), v])) };
}
