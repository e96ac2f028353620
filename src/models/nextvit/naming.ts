/** Checkpoint naming of Next-ViT besides the original bytedance keys: timm's `nextvit_*`. */
import type { Naming } from '../family.js';
import { anyKeyStartsWith, applyRules, type Rule } from '../renames.js';

/**
 * timm numbers blocks within stages (`stages.<s>.blocks.<b>`) where the original numbers them over
 * the whole network (`features.<i>`), calls the MLP convs `fc1`/`fc2` and the classifier `head.fc`.
 */
function timmNextVit(keys: readonly string[]): (key: string) => string {
  // Stage depths from the keys themselves: the first block of stage s is the sum of the earlier depths.
  const depths: number[] = [];
  for (const key of keys) {
    const m = /^stages\.(\d+)\.blocks\.(\d+)\./.exec(key);
    if (m) depths[Number(m[1])] = Math.max(depths[Number(m[1])] ?? 0, Number(m[2]) + 1);
  }
  const firstBlock = (stage: number) => depths.slice(0, stage).reduce((sum, d) => sum + (d ?? 0), 0);
  const block = (rest: string) => rest.replace(/^mlp\.fc([12])\./, 'mlp.conv$1.');
  const rules: Rule[] = [
    [/^stages\.(\d+)\.blocks\.(\d+)\.(.*)$/, (s, b, rest) => `features.${firstBlock(Number(s)) + Number(b)}.${block(rest)}`],
    [/^head\.fc\.(.*)$/, 'proj_head.0.$1'],
  ];
  return (key) => applyRules(key, rules);
}

export const timmNaming: Naming = {
  id: 'timm',
  detect: (keys) => anyKeyStartsWith(keys, 'stages.', 'head.fc.'),
  renamer: (keys) => timmNextVit(keys),
};
