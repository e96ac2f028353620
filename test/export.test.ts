import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import onnxProto from 'onnx-proto';
import { buildWithRandomWeights, exportOnnx, onnxBytes, zoo } from '../src/index.js';
import { maxAbs, maxAbsDiff, root, runOnnx, tempDir, testInput } from './helpers.js';

/** Hashes recorded before the architecture step: the restructure and every later change must keep the bytes. */
const RECORDED = JSON.parse(readFileSync(join(root, 'fixtures/reference/onnx-sha256.json'), 'utf8')).sha256 as Record<string, string>;

const { onnx } = onnxProto;

describe('every zoo model exports to ONNX that runs in onnxruntime-node', () => {
  const dir = tempDir();
  for (const entry of zoo) {
    it(entry.name, async () => {
      const result = exportOnnx({ model: entry.name, outDir: dir });
      expect(result.path).toBe(join(dir, `${entry.name}.onnx`));
      const bytes = readFileSync(result.path);
      const model = onnx.ModelProto.decode(bytes);
      // The counts travel in the metadata (profile --onnx reads them back); they came after the
      // recording, so the rest of the file, re-encoded without them, must keep the recorded bytes.
      const props = Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]));
      const { params, macs } = result.counts;
      expect([props.params_toolbox, props.params_total, props.macs_toolbox, props.macs_standard]).toEqual([params.toolbox, params.total, macs.toolbox, macs.standard].map(String));
      const withoutCounts = onnx.ModelProto.encode({ ...model, metadataProps: model.metadataProps.filter((p) => !/^(params|macs)_/.test(p.key)) } as never).finish();
      // The nine models recorded before the architecture step must keep their bytes.
      if (RECORDED[entry.name]) expect(createHash('sha256').update(withoutCounts).digest('hex'), 'byte-identical to the recorded export').toBe(RECORDED[entry.name]);
      expect(Number(model.opsetImport[0].version)).toBe(17);
      expect(model.graph!.input.map((i) => i.name)).toEqual(['image']);
      const dims = model.graph!.input[0].type!.tensorType!.shape!.dim!.map((d) => Number(d.dimValue));
      const r = entry.family.defaultResolution;
      expect(dims).toEqual([1, 3, r, r]);
      // Weights travel as raw bytes, never as per-element arrays.
      for (const init of model.graph!.initializer) expect(init.floatData.length + init.int64Data.length).toBe(0);
      // deployed params = elements of the initializers actually written
      const elements = model.graph!.initializer.reduce((s, t) => s + t.dims.reduce((a, d) => a * Number(d), 1), 0);
      expect(elements).toBe(result.counts.params.deployed);

      const logits = await runOnnx(bytes, testInput(r), [1, 3, r, r]);
      expect(logits.length).toBe(1000);
      expect(logits.every(Number.isFinite)).toBe(true);
      expect(maxAbs(logits)).toBeGreaterThan(1e-3);
    });
  }

  it('every recorded model is still in the zoo', () => {
    expect(Object.keys(RECORDED).filter((name) => !zoo.some((m) => m.name === name))).toEqual([]);
  });

  it('leaves no temp files behind', () => {
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('determinism', () => {
  it('exports byte-identical files twice in a row', () => {
    const [a, b] = [tempDir(), tempDir()];
    exportOnnx({ model: 'efficientformerv2_s0', outDir: a });
    exportOnnx({ model: 'efficientformerv2_s0', outDir: b });
    const first = readFileSync(join(a, 'efficientformerv2_s0.onnx'));
    const second = readFileSync(join(b, 'efficientformerv2_s0.onnx'));
    expect(first.equals(second)).toBe(true);
  });

  it('a different seed gives different weights', () => {
    const one = onnxBytes(buildWithRandomWeights({ model: 'mobilenetv2_100', seed: 1 })).bytes;
    const two = onnxBytes(buildWithRandomWeights({ model: 'mobilenetv2_100', seed: 2 })).bytes;
    expect(Buffer.from(one).equals(Buffer.from(two))).toBe(false);
  });
});

describe('other resolutions, batch sizes and opsets', () => {
  it.each([
    ['efficientformerv2_s0', 256],
    ['efficientformerv2_s1', 384],
    ['efficientformerv2_s0', 192],
    ['efficientformer_l1', 200],
    ['mobilenetv2_100', 160],
  ])('%s at %i', async (model, resolution) => {
    const bytes = onnxBytes(buildWithRandomWeights({ model, resolution })).bytes;
    const logits = await runOnnx(bytes, testInput(resolution), [1, 3, resolution, resolution]);
    expect(logits.length).toBe(1000);
    expect(logits.every(Number.isFinite)).toBe(true);
  });

  it('batch 2 gives the same logits per image as batch 1', async () => {
    const single = testInput();
    const batch = new Float32Array(2 * single.length);
    batch.set(single, 0);
    batch.set(single, single.length);
    const one = await runOnnx(onnxBytes(buildWithRandomWeights({ model: 'efficientformer_l1' })).bytes, single, [1, 3, 224, 224]);
    const two = await runOnnx(onnxBytes(buildWithRandomWeights({ model: 'efficientformer_l1', batch: 2 })).bytes, batch, [2, 3, 224, 224]);
    expect(maxAbsDiff(one, two.subarray(0, 1000))).toBeLessThan(1e-4);
    expect(maxAbsDiff(one, two.subarray(1000))).toBeLessThan(1e-4);
  });

  it.each([18, 20, 21])('opset %i computes the same logits as opset 17', async (opset) => {
    const built = buildWithRandomWeights({ model: 'efficientformerv2_s0' });
    const base = await runOnnx(onnxBytes(built).bytes, testInput(), [1, 3, 224, 224]);
    const other = await runOnnx(onnxBytes(built, { opset }).bytes, testInput(), [1, 3, 224, 224]);
    expect(maxAbsDiff(base, other)).toBeLessThan(1e-4);
  });
});

describe('no partial output', () => {
  it('writes nothing when the model cannot be built', () => {
    const dir = tempDir();
    expect(() => exportOnnx({ model: 'efficientformer_l1', resolution: 256, outDir: dir })).toThrow(/7x7 grid/);
    expect(existsSync(join(dir, 'efficientformer_l1.onnx'))).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });
});
