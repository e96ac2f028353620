/**
 * Core ML for every family beyond the papers' zoo: the smallest variant of each converts through
 * the coremltools bridge (its structural verification included) and the saved package, run by
 * eformer's MIL interpreter, equals onnxruntime within the fp32 tolerance (`export --verify`).
 * The papers' nine are covered by coreml-numerics.test.ts and bench:coreml-numerics.
 */
import { describe, expect, it } from 'vitest';
import { families, NUMERIC_TOLERANCE, papersZooNames, zoo } from '../src/index.js';
import { cli, tempDir } from './helpers.js';

const papers = new Set(papersZooNames());
const successors = families.filter((f) => !zoo.some((m) => m.family === f && papers.has(m.name)));
/** Each family's first zoo entry: the zoo lists a family smallest first. */
const smallest = successors.map((f) => zoo.find((m) => m.family === f)!.name);

describe('export --coreml --verify for the smallest variant of each successor family', () => {
  for (const model of smallest) {
    it(model, async () => {
      const r = await cli('export', '-m', model, '--coreml', '--precision', 'fp32', '--verify', '-o', tempDir());
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/structur|ops:/);
      const line = r.stdout.split('\n').find((l) => l.includes('interpreted'))!;
      expect(line).toMatch(new RegExp(`interpreted \\(fp32\\) vs onnxruntime: .* top-5 agree; tolerance ${NUMERIC_TOLERANCE.fp32}: ok`));
    });
  }
});
