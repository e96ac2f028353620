/**
 * .tflite files run in LiteRT's own interpreter (ai-edge-litert from .eformer/venv, which the suite's
 * set-up installs with `eformer setup litert`), XNNPACK applied as on an Android CPU:
 * - numbers: the papers' models and the smallest of each successor family against onnxruntime, and
 *   each family's fixture checkpoint against the logits of the family's own PyTorch code;
 * - delegation: every op of every zoo model inside XNNPACK (read from the delegated graph);
 * - mutations: three layout mistakes a converter can make, each of which the check must fail;
 * - failures: a missing package, a file LiteRT refuses, each one line with the right exit code.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ByteBuffer } from 'flatbuffers';
import { describe, expect, it } from 'vitest';
import { buildWithRandomWeights, buildWithWeights, entry, exportModel, families, onnxBytes, tfliteBytes, writeTflite, zoo } from '../src/index.js';
import { channelsLast, referencePrediction } from '../src/export/index.js';
import { findPython } from '../src/coreml/python.js';
import { BuiltinOperator } from '../src/tflite/generated/tflite/builtin-operator.js';
import { Model } from '../src/tflite/generated/tflite/model.js';
import { judgeTflite, runLitert, TFLITE_TOLERANCE } from '../src/tflite/litert.js';
import { type LayoutMistake, lowerToTflite } from '../src/tflite/lower.js';
import { cli, maxAbs, maxAbsDiff, root, runOnnx, tempDir, testInput } from './helpers.js';

const python = () => findPython();
const print = (line: string) => process.env.EFORMER_PRINT_DIFFS && console.log(line);

describe('LiteRT runs the export fully delegated to XNNPACK, within 1e-5 of onnxruntime, with the same top-5', () => {
  // The papers' three and the smallest of each successor family (Next-ViT's seeded random weights
  // are too ill-conditioned for a 1e-5 bound: its fixture checkpoint below stands for it).
  for (const model of ['mobilenetv2_100', 'efficientformer_l1', 'efficientformerv2_s0', 'mobilevig_ti', 'efficientmod_xxs', 'fcaformer_l1', 'vcmamba_s']) {
    it(model, async () => {
      const dir = tempDir();
      const r = await exportModel({ model, outDir: dir, tflite: { verify: true } });
      const c = r.tfliteCheck!;
      print(`${model}: ${c.relativeError?.toExponential(2)} of the largest logit, ${c.delegation.delegated}/${c.delegation.ops} delegated`);
      expect(c.problem).toBeUndefined();
      expect(c.relativeError!).toBeLessThanOrEqual(TFLITE_TOLERANCE.fp32);
      expect(c.top5Agree).toBe(true);
      expect(c.delegation.delegated).toBe(c.delegation.ops);
      expect(c.delegation.partitions).toBe(1);
      expect(readdirSync(dir)).toEqual([`${model}.tflite`]);
    });
  }

  it('fp16 weights: within 1e-2, every op (the DEQUANTIZEs too) delegated', async () => {
    const r = await exportModel({ model: 'efficientformerv2_s0', outDir: tempDir(), tflite: { precision: 'fp16', verify: true } });
    const c = r.tfliteCheck!;
    print(`efficientformerv2_s0 fp16: ${c.relativeError?.toExponential(2)}`);
    expect(c.pass).toBe(true);
    expect(c.relativeError!).toBeGreaterThan(TFLITE_TOLERANCE.fp32);
    expect(c.relativeError!).toBeLessThanOrEqual(TFLITE_TOLERANCE.fp16);
    expect(c.delegation.delegated).toBe(c.delegation.ops);
  });
});

describe("each family's fixture checkpoint as .tflite gives the logits of the family's own PyTorch code", () => {
  const base = join(root, 'fixtures/families');
  for (const folder of readdirSync(base).filter((f) => existsSync(join(base, f, 'reference.json')))) {
    const ref = JSON.parse(readFileSync(join(base, folder, 'reference.json'), 'utf8'));
    const f = ref.fixtures[0];
    it(`${folder}: ${f.name}`, async () => {
      const family = families.find((x) => x.id === folder)!;
      const spec = entry({ name: f.name, family, config: family.config(f.config, `${folder}/${f.name}`) });
      const built = buildWithWeights({ spec, ckpt: join(base, folder, Object.values(f.checkpoints)[0] as string), resolution: f.resolution });
      const dir = tempDir();
      const file = join(dir, 'model.tflite');
      writeFileSync(file, tfliteBytes(built).bytes);
      const shape = [1, 3, f.resolution, f.resolution];
      const run = await runLitert(file, channelsLast(testInput(f.resolution), shape), await python(), { model: f.name });
      const torch = Float32Array.from(f.logits as number[]);
      const onnx = await runOnnx(onnxBytes(built).bytes, testInput(f.resolution), shape);
      const check = judgeTflite(run, onnx, 'fp32');
      const vsTorch = maxAbsDiff(run.output, torch) / maxAbs(torch);
      print(`${folder}/${f.name}: vs onnxruntime ${check.relativeError?.toExponential(2)}, vs PyTorch ${vsTorch.toExponential(2)}`);
      expect(check.problem).toBeUndefined();
      expect(vsTorch).toBeLessThanOrEqual(TFLITE_TOLERANCE.fp32);
    });
  }
});

describe('every zoo model: every op delegated to XNNPACK, in one partition', () => {
  it('all 27', async () => {
    const dir = tempDir();
    const py = await python();
    const outside: string[] = [];
    for (const m of zoo) {
      const built = buildWithRandomWeights({ model: m.name });
      const file = join(dir, `${m.name}.tflite`);
      writeFileSync(file, tfliteBytes(built).bytes);
      const [, c, h, w] = built.graph.inputs[0].shape;
      const { report } = await runLitert(file, { data: new Float32Array(c * h * w), shape: [1, h, w, c] }, py, { model: m.name });
      const d = report.delegation;
      if (d.delegated !== d.ops || d.partitions !== 1) outside.push(`${m.name}: ${d.delegated}/${d.ops} in ${d.partitions} (${d.outside.map((o) => o.op).join(', ')})`);
    }
    expect(outside).toEqual([]);
  }, 600_000);

  it('the delegation check sees an op left outside (a GATHER, which XNNPACK has no kernel for)', async () => {
    const bytes = writeTflite({
      description: 'gather',
      tensors: [
        { name: 'x', shape: [4, 3], type: 0 },
        { name: 'a', shape: [4, 3], type: 0 },
        { name: 'idx', shape: [4], type: 2, data: new Uint8Array(Int32Array.of(3, 2, 1, 0).buffer) },
        { name: 'g', shape: [4, 3], type: 0 },
        { name: 'y', shape: [4, 3], type: 0 },
      ],
      operators: [
        { op: BuiltinOperator.RELU, inputs: [0], outputs: [1] },
        { op: BuiltinOperator.GATHER, inputs: [1, 2], outputs: [3] },
        { op: BuiltinOperator.RELU, inputs: [3], outputs: [4] },
      ],
      inputs: [{ name: 'x', tensor: 0 }],
      outputs: [{ name: 'y', tensor: 4 }],
      metadata: [],
    });
    const file = join(tempDir(), 'gather.tflite');
    writeFileSync(file, bytes);
    const run = await runLitert(file, { data: new Float32Array(12), shape: [4, 3] }, await python(), { model: 'gather' });
    expect(run.report.delegation).toMatchObject({ ops: 3, delegated: 2, partitions: 2, outside: [{ index: 1, op: 'GATHER' }] });
    expect(judgeTflite(run, new Float32Array(12), 'fp32').problem).toBe('1 of 3 ops run outside XNNPACK (GATHER)');
  });
});

describe('the check fails on layout mistakes (a test-only hook in the lowering makes each)', () => {
  const cases: [LayoutMistake, string][] = [
    ['conv-weights-oihw', 'mobilenetv2_100'],
    ['head-flatten-nchw', 'efficientformer_l1'],
    ['resize-without-half-pixel', 'efficientformerv2_s0'],
  ];
  for (const [mistake, model] of cases) {
    it(`${mistake} (${model})`, async () => {
      const built = buildWithRandomWeights({ model });
      const { bytes: onnx, deployed } = onnxBytes(built);
      const reference = await referencePrediction(built, onnx);
      const dir = tempDir();
      const judge = async (m?: LayoutMistake) => {
        const file = join(dir, `${m ?? 'right'}.tflite`);
        writeFileSync(file, writeTflite(lowerToTflite(deployed, { mistake: m })));
        return judgeTflite(await runLitert(file, channelsLast(reference.tensor, reference.shape), await python(), { model }), reference.logits, 'fp32');
      };
      const right = await judge();
      const wrong = await judge(mistake);
      print(`${mistake} on ${model}: ${wrong.relativeError?.toExponential(2)} of the largest logit (right: ${right.relativeError?.toExponential(2)})`);
      expect(right.pass).toBe(true);
      expect(wrong.pass).toBe(false);
      expect(wrong.relativeError!).toBeGreaterThan(100 * TFLITE_TOLERANCE.fp32);
    });
  }
});

describe('export --tflite --verify from the command line', () => {
  it('prints the comparison and the delegation, exit 0', async () => {
    const dir = tempDir();
    const r = await cli('export', '-m', 'mobilenetv2_100', '--tflite', '--verify', '-o', dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/LiteRT \(XNNPACK\) vs onnxruntime: \d\.\d\de-\d of the largest logit .*top-5 agree; (\d+)\/\1 ops delegated in 1 partition; tolerance 1e-5: ok/);
  });

  it('a Python without ai-edge-litert: exit 3 naming `eformer setup litert`; the file is written', async () => {
    const dir = tempDir();
    // A virtual environment with nothing in it: it runs, but has neither numpy nor ai_edge_litert.
    const venv = join(tempDir(), 'venv');
    const { execa } = await import('execa');
    await execa('python3', ['-m', 'venv', '--without-pip', venv]);
    const r = await execa('node', [join(root, 'bin/eformer.js'), 'export', '-m', 'mobilenetv2_100', '--tflite', '--verify', '-o', dir], { reject: false, env: { ...process.env, EFORMER_PYTHON: join(venv, 'bin/python') } });
    expect(r.exitCode).toBe(3);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/No module named '(numpy|ai_edge_litert)'.*run 'eformer setup litert'/);
    expect(readdirSync(dir)).toEqual(['mobilenetv2_100.tflite']);
  });
});

describe('LiteRT refusing a file: one line naming the model and the op', () => {
  const built = buildWithRandomWeights({ model: 'efficientformer_l1' });
  const original = tfliteBytes(built).bytes;
  const input = { data: new Float32Array(224 * 224 * 3), shape: [1, 224, 224, 3] };
  /** Write an int32 in place at a table field (the generated code has no mutators). */
  const poke = (table: { bb: ByteBuffer | null; bb_pos: number }, field: number, value: number) => table.bb!.writeInt32(table.bb_pos + table.bb!.__offset(table.bb_pos, field), value);

  it('an op version the runtime does not register: exit 3 (the runtime is older than the file), naming the op', async () => {
    const bytes = original.slice();
    const m = Model.getRootAsModel(new ByteBuffer(bytes));
    for (let i = 0; i < m.operatorCodesLength(); i++) {
      const code = m.operatorCodes(i)!;
      if (code.builtinCode() === BuiltinOperator.FULLY_CONNECTED && code.version() === 5) poke(code, 8, 99);
    }
    const file = join(tempDir(), 'l1.tflite');
    writeFileSync(file, bytes);
    const err = await runLitert(file, input, await python(), { model: 'efficientformer_l1' }).catch((e: Error & { exitCode: number }) => e);
    expect((err as { exitCode: number }).exitCode).toBe(3);
    expect((err as Error).message).toMatch(/^LiteRT cannot load efficientformer_l1: op FULLY_CONNECTED: Didn't find op for builtin opcode 'FULLY_CONNECTED' version '99'/);
    expect((err as Error).message).not.toContain('\n');
  });

  it('an op that fails to prepare (a RESHAPE to the wrong size): exit 70 naming the op, found by reloading without XNNPACK', async () => {
    const bytes = original.slice();
    const m = Model.getRootAsModel(new ByteBuffer(bytes));
    const sub = m.subgraphs(0)!;
    for (let i = 0; i < sub.operatorsLength(); i++) {
      const op = sub.operators(i)!;
      if (m.operatorCodes(op.opcodeIndex())!.builtinCode() !== BuiltinOperator.RESHAPE) continue;
      const data = m.buffers(sub.tensors(op.inputs(1)!)!.buffer())!.dataArray()!;
      new Int32Array(data.buffer, data.byteOffset, data.length / 4)[1] += 1;
      break;
    }
    const file = join(tempDir(), 'l1.tflite');
    writeFileSync(file, bytes);
    const err = await runLitert(file, input, await python(), { model: 'efficientformer_l1' }).catch((e: Error & { exitCode: number }) => e);
    expect((err as { exitCode: number }).exitCode).toBe(70);
    expect((err as Error).message).toMatch(/^LiteRT cannot load efficientformer_l1: op RESHAPE: .*failed to prepare/);
    expect((err as Error).message).not.toContain('\n');
  });
});
