/** Checkpoint naming of EfficientFormerV2 besides the original snap-research keys: timm's `efficientformerv2_*`. */
import type { Naming } from '../family.js';
import { anyKeyStartsWith, applyRules, type Rule } from '../renames.js';

const n = (s: string) => Number(s);

/** timm's EfficientFormerV2: ConvNorm modules (`.conv`/`.bn`) where the original used Sequential indices. */
function timmV2(keys: readonly string[]): (key: string) => string {
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

export const timmNaming: Naming = {
  id: 'timm',
  detect: (keys) => anyKeyStartsWith(keys, 'stem.', 'stages.'),
  renamer: (keys) => timmV2(keys),
};
