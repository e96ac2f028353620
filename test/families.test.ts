/**
 * Every family folder under fixtures/families/ is checked the same way, from what its reference
 * script (scripts/families/<family>.py, which runs the family's own PyTorch code) recorded in
 * reference.json:
 * - counts: eformer's toolbox params and MACs, and the total params, equal the reference to the integer;
 * - fixtures: small random-weight models (every block type the family has, weights far from their
 *   initialisation) saved in each naming the family accepts; eformer builds the same config, loads
 *   the file and its ONNX must give the reference logits within EQUIVALENCE_RTOL x max |logit|.
 *   The input is the shared deterministic one (test/helpers.ts testInput, scripts' shared_input).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildWithWeights, countModel, entry, families, onnxBytes, papersZooNames, zoo } from '../src/index.js';
import { EQUIVALENCE_RTOL, equivalence, root, runOnnx, testInput } from './helpers.js';

interface FamilyReference {
  generator: Record<string, string>;
  counts: { model: string; resolution: number; params: { toolbox: number; total: number }; macs: { toolbox: number } }[];
  fixtures: {
    name: string;
    config: Record<string, unknown>;
    resolution: number;
    /** Checkpoint files by naming (`reference`, `timm`, ...), relative to the family's fixture folder. */
    checkpoints: Record<string, string>;
    logits: number[];
  }[];
}

const base = join(root, 'fixtures/families');
const folders = existsSync(base) ? readdirSync(base).filter((f) => existsSync(join(base, f, 'reference.json'))) : [];

describe('every family has its reference', () => {
  it("each family outside the papers' zoo (checked by counts.test.ts and checkpoints.test.ts) has fixtures/families/<family>/reference.json", () => {
    const papers = new Set(papersZooNames().map((n) => zoo.find((m) => m.name === n)!.family.id));
    expect(families.map((f) => f.id).filter((id) => !papers.has(id) && !folders.includes(id))).toEqual([]);
  });
});

for (const folder of folders) {
  const ref: FamilyReference = JSON.parse(readFileSync(join(base, folder, 'reference.json'), 'utf8'));
  const family = families.find((f) => f.id === folder);

  describe(`${folder}: counts equal ${ref.generator.script} to the integer`, () => {
    it('is a registered family', () => expect(family?.id).toBe(folder));
    for (const r of ref.counts) {
      it(`${r.model} @${r.resolution}`, () => {
        const ours = countModel({ model: r.model, resolution: r.resolution });
        expect({ toolboxParams: ours.params.toolbox, totalParams: ours.params.total, toolboxMacs: ours.macs.toolbox }).toEqual({
          toolboxParams: r.params.toolbox,
          totalParams: r.params.total,
          toolboxMacs: r.macs.toolbox,
        });
      });
    }
    it('covers every variant of the family', () => {
      const counted = new Set(ref.counts.map((r) => r.model));
      expect(zoo.filter((m) => m.family.id === folder).map((m) => m.name).filter((n) => !counted.has(n))).toEqual([]);
    });
  });

  describe(`${folder}: fixtures equal the reference code's logits (max |diff| <= ${EQUIVALENCE_RTOL} x max |logit|)`, () => {
    for (const f of ref.fixtures) {
      for (const [naming, file] of Object.entries(f.checkpoints)) {
        it(`${f.name}, ${naming} naming`, async () => {
          const spec = entry({ name: f.name, family: family!, config: family!.config(f.config, `${folder}/${f.name}`) });
          const built = buildWithWeights({ spec, ckpt: join(base, folder, file), resolution: f.resolution });
          const ours = await runOnnx(onnxBytes(built).bytes, testInput(f.resolution), [1, 3, f.resolution, f.resolution]);
          expect(ours.length).toBe(f.logits.length);
          const { diff, bound } = equivalence(ours, f.logits);
          if (process.env.EFORMER_PRINT_DIFFS) console.log(`${folder}/${f.name} (${naming}): max |diff| ${diff.toExponential(2)} (bound ${bound.toExponential(2)})`);
          expect(diff).toBeLessThanOrEqual(bound);
        });
      }
    }
  });
}
