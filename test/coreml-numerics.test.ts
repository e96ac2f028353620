/**
 * Core ML numerics on Linux: the saved package run through eformer's MIL interpreter
 * (python/mil_interpreter.py, numpy) against onnxruntime on the same input, within the README's
 * tolerances; and deliberately broken packages (test/coreml_mutants.py) that the check must fail.
 * Conversions are real (coremltools in .eformer/venv).
 */
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildWithRandomWeights, checkNumerics, exportModel, NUMERIC_TOLERANCE, onnxBytes, referencePrediction, runOnnx, sqnrDb, W8A8_SQNR_MARGIN_DB } from '../src/index.js';
import { cli, root, tempDir } from './helpers.js';

const venvPython = join(root, '.eformer/venv/bin/python');

describe('export --coreml --verify: the interpreted package equals onnxruntime', () => {
  for (const model of ['efficientformer_l1', 'efficientformerv2_s0', 'mobilenetv2_100']) {
    for (const precision of ['fp32', 'fp16'] as const) {
      it(`${model}, ${precision}`, async () => {
        const dir = tempDir();
        const r = await cli('export', '-m', model, '--coreml', '--precision', precision, '--verify', '-o', dir);
        expect(r.code, r.stderr).toBe(0);
        const line = r.stdout.split('\n').find((l) => l.includes('interpreted'))!;
        expect(line).toMatch(new RegExp(`interpreted \\(${precision}\\) vs onnxruntime: .* top-5 agree; tolerance ${NUMERIC_TOLERANCE[precision]}: ok`));
        const rel = Number(/: ([\d.e+-]+) of the largest logit/.exec(line)![1]);
        expect(rel).toBeLessThan(NUMERIC_TOLERANCE[precision]);
      });
    }
  }

  it('the NeuralNetwork format works for V2 too (its bilinear upsampling included)', async () => {
    const dir = tempDir();
    const r = await cli('export', '-m', 'efficientformerv2_s0', '--coreml', '--coreml-format', 'neuralnetwork', '--verify', '-o', dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/interpreted \(fp32\) vs onnxruntime: .* ok/);
  });
});

describe('the check fails on a broken converter', () => {
  const packages: Record<string, { path: string; reference: Awaited<ReturnType<typeof referencePrediction>>; inputType: 'image' | 'tensor'; precision: 'fp16' | 'fp32' }> = {};

  beforeAll(async () => {
    for (const [key, model, precision, inputType] of [
      ['l1-fp32', 'efficientformer_l1', 'fp32', 'image'],
      ['s0-fp32', 'efficientformerv2_s0', 'fp32', 'image'],
      ['s0-fp16', 'efficientformerv2_s0', 'fp16', 'image'],
    ] as const) {
      const dir = tempDir();
      const result = await exportModel({ model, outDir: dir, coreml: { precision, inputType } });
      const built = buildWithRandomWeights({ model });
      packages[key] = { path: result.coreml!.path, reference: await referencePrediction(built, onnxBytes(built).bytes), inputType, precision };
      // The unbroken package passes: what fails below fails because of the mutation.
      const p = packages[key];
      const unbroken = await checkNumerics(p.path, p.reference, { inputName: 'image', inputType, precision, classifier: true });
      expect(unbroken.pass, unbroken.problem).toBe(true);
      if (process.env.EFORMER_PRINT_DIFFS) console.log(`${key} unbroken: ${unbroken.relativeError}`);
    }
  }, 300_000);

  async function mutate(key: string, mutation: string) {
    const p = packages[key];
    const out = join(tempDir(), `${mutation}.mlpackage`);
    const m = await execa(venvPython, [join(root, 'test/coreml_mutants.py'), p.path, out, mutation], { reject: false });
    expect(m.exitCode, m.stderr).toBe(0);
    return checkNumerics(out, p.reference, { inputName: 'image', inputType: p.inputType, precision: p.precision, classifier: true });
  }

  it.each([
    ['a transposed permutation', 'l1-fp32', 'transpose-perm'],
    ['a pad moved to the other side', 's0-fp32', 'pad-side'],
    ['GELU tanh instead of exact (fp32: in fp16 the two forms are closer than fp16 resolves)', 'l1-fp32', 'gelu-tanh'],
    ['the normalisation folded twice', 's0-fp32', 'norm-twice'],
    ['a wrong LayerNorm axis', 'l1-fp32', 'layernorm-axis'],
    ['a pad moved, in fp16', 's0-fp16', 'pad-side'],
    ['the normalisation folded twice, in fp16', 's0-fp16', 'norm-twice'],
  ])('%s', async (_, key, mutation) => {
    const check = await mutate(key, mutation);
    if (process.env.EFORMER_PRINT_DIFFS) console.log(`${key} ${mutation}: ${check.relativeError} (${check.problem})`);
    expect(check.pass).toBe(false);
    expect(check.problem).toMatch(/differ/);
  });

  it('an op the interpreter does not know is an error that names it (exit 70), never a skip', async () => {
    await expect(mutate('s0-fp32', 'unknown-op')).rejects.toThrow(/eformer_unknown_op/);
  });
});

describe('W8A8 packages are verified too, and the check fails on a broken one', () => {
  it("the interpreter's quantize and dequantize equal coremltools' own implementation (ties, clipping, axes, zero points)", async () => {
    const r = await execa(venvPython, [join(root, 'test/mil_ops_check.py')], { reject: false });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!).checked).toBe(128);
  });

  // efficientformer_l1 has both kinds of quantisation coremltools writes (quantize/dequantize pairs on
  // activations, constexpr_affine_dequantize weights) and converts in about 15 s with 4 calibration inputs.
  let pkg = '';
  let reference: Awaited<ReturnType<typeof referencePrediction>>;
  let onnxInt8SqnrDb = 0;
  const check = (path: string) => checkNumerics(path, reference, { inputName: 'image', inputType: 'image', precision: 'fp16', classifier: true, w8a8: { onnxInt8SqnrDb } });

  beforeAll(async () => {
    const dir = tempDir();
    const result = await exportModel({ model: 'efficientformer_l1', outDir: dir, onnx: true, coreml: {}, int8: { calibration: { random: 4 } } });
    pkg = result.coreml!.path;
    const built = buildWithRandomWeights({ model: 'efficientformer_l1' });
    reference = await referencePrediction(built, onnxBytes(built).bytes);
    const int8 = await runOnnx(new Uint8Array(readFileSync(result.onnx!.path)), { image: { data: reference.tensor, shape: reference.shape } });
    onnxInt8SqnrDb = sqnrDb([reference.logits], [Object.values(int8)[0]]);
  }, 300_000);

  it('the saved package passes: its SQNR is within the margin of eformer\'s int8 ONNX graph\'s', async () => {
    const unbroken = await check(pkg);
    if (process.env.EFORMER_PRINT_DIFFS) console.log(`W8A8 unbroken: ${unbroken.w8a8?.sqnrDb} dB, ONNX int8 ${onnxInt8SqnrDb} dB`);
    expect(unbroken.pass, unbroken.problem).toBe(true);
    expect(unbroken.w8a8!.sqnrDb!).toBeGreaterThan(onnxInt8SqnrDb - W8A8_SQNR_MARGIN_DB);
  });

  it.each([
    ['a dequantize with a zero point its quantize did not use', 'act-zero-point'],
    ['per-channel weight scales in the wrong channel order', 'weight-scale-order'],
  ])('%s: --verify fails', async (_, mutation) => {
    const out = join(tempDir(), `${mutation}.mlpackage`);
    const m = await execa(venvPython, [join(root, 'test/coreml_mutants.py'), pkg, out, mutation], { reject: false });
    expect(m.exitCode, m.stderr).toBe(0);
    const broken = await check(out);
    if (process.env.EFORMER_PRINT_DIFFS) console.log(`W8A8 ${mutation}: ${broken.w8a8?.sqnrDb} dB (${broken.problem})`);
    expect(broken.pass).toBe(false);
    expect(broken.problem).toMatch(/dB SQNR from onnxruntime's float ones, below the floor/);
  });

  it('through the CLI: export --coreml --int8 --verify prints the SQNR and exits 0 (was 70: quantize unknown)', async () => {
    const r = await cli('export', '-m', 'mobilenetv2_100', '--coreml', '--int8', '--calib-random', '4', '--verify', '-o', tempDir());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/interpreted \(W8A8\) vs onnxruntime's float logits: SQNR [\d.]+ dB \(eformer's int8 ONNX: [\d.]+ dB\).*floor [\d.]+ dB: ok/);
  });
});
