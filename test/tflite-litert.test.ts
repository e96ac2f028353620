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
import { judgeTflite, judgeTfliteInt8, runLitert, TFLITE_TOLERANCE } from '../src/tflite/litert.js';
import { TensorType } from '../src/tflite/generated/tflite/tensor-type.js';
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

describe('--config variants export too', () => {
  // VCMamba's chunked and parallel scans sum segments as products with constant 0/1 matrices (a
  // MatMul by a constant: FULLY_CONNECTED), which the default unrolled scan does not use.
  for (const scan of ['chunked', 'parallel']) {
    it(`vcmamba_s with scan: ${scan}`, async () => {
      const dir = tempDir();
      const config = join(dir, 'config.json');
      writeFileSync(config, JSON.stringify({ schema: 'eformer.config/1', family: 'vcmamba', name: `vcmamba_s_${scan}`, resolution: 224, config: { widths: [32, 64, 144, 288], depths: [4, 4, 12, 8], mambaBlocks: 4, scan } }));
      const r = await cli('export', '--config', config, '--tflite', '--verify', '-o', dir);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/(\d+)\/\1 ops delegated in 1 partition; tolerance 1e-5: ok/);
    });
  }
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

describe('int8: the same calibration as the ONNX int8 export, int8 weights, activations and int32 biases', () => {
  const read = (bytes: Uint8Array) => Model.getRootAsModel(new ByteBuffer(bytes));

  it('mobilenetv2_100: every conv int8 (per-channel OHWI / 1HWC weights, int32 biases at input x weight scale), the logits float, SQNR within 1 dB of the ONNX int8 graph, all delegated', async () => {
    const dir = tempDir();
    const r = await exportModel({ model: 'mobilenetv2_100', outDir: dir, tflite: { verify: true }, int8: { calibration: { random: 8 } } });
    const c = r.tfliteCheck!;
    print(`mobilenetv2_100 int8: SQNR ${c.sqnrDb?.toFixed(2)} dB, ONNX int8 ${c.onnxSqnrDb?.toFixed(2)} dB`);
    expect(c.problem).toBeUndefined();
    expect(c.sqnrDb!).toBeGreaterThan(c.onnxSqnrDb! - 1);
    expect(c.delegation.delegated).toBe(c.delegation.ops);
    expect(readdirSync(dir)).toEqual(['mobilenetv2_100.int8.tflite']);
    const m = read(readFileSync(join(dir, 'mobilenetv2_100.int8.tflite')));
    const sub = m.subgraphs(0)!;
    const name = (o: number) => BuiltinOperator[m.operatorCodes(sub.operators(o)!.opcodeIndex())!.builtinCode()];
    let convs = 0;
    for (let i = 0; i < sub.operatorsLength(); i++) {
      const op = sub.operators(i)!;
      if (name(i) !== 'CONV_2D' && name(i) !== 'DEPTHWISE_CONV_2D') continue;
      convs++;
      const [x, w, b] = [0, 1, 2].map((k) => sub.tensors(op.inputs(k)!)!);
      const y = sub.tensors(op.outputs(0)!)!;
      expect([x.type(), w.type(), b.type(), y.type()]).toEqual([TensorType.INT8, TensorType.INT8, TensorType.INT32, TensorType.INT8]);
      const wq = w.quantization()!;
      const channels = w.shape(name(i) === 'CONV_2D' ? 0 : 3)!;
      expect(wq.scaleLength()).toBe(channels);
      expect(wq.quantizedDimension()).toBe(name(i) === 'CONV_2D' ? 0 : 3);
      for (let k = 0; k < wq.zeroPointLength(); k++) expect(wq.zeroPoint(k)).toBe(0n);
      const inputScale = x.quantization()!.scale(0)!;
      for (let k = 0; k < channels; k += 7) expect(b.quantization()!.scale(k)).toBeCloseTo(Math.fround(wq.scale(k)! * inputScale), 12);
    }
    expect(convs).toBe(52);
    const versions = Object.fromEntries(Array.from({ length: m.operatorCodesLength() }, (_, i) => [BuiltinOperator[m.operatorCodes(i)!.builtinCode()], m.operatorCodes(i)!.version()]));
    expect(versions).toMatchObject({ CONV_2D: 3, DEPTHWISE_CONV_2D: 3, ADD: 2, QUANTIZE: 1 });
    // The classifier: float FULLY_CONNECTED on its int8 weights dequantised (DEQUANTIZE of per-channel int8: version 5).
    const last = sub.operators(sub.operatorsLength() - 1)!;
    expect(name(sub.operatorsLength() - 1)).toBe('FULLY_CONNECTED');
    expect(sub.tensors(last.outputs(0)!)!.type()).toBe(TensorType.FLOAT32);
    expect(versions.DEQUANTIZE).toBe(5);
  });

  it('efficientformer_l1: token linears int8 FULLY_CONNECTED (keep_num_dims: version 5), attention, GELU and LayerNorm float, SQNR within 1 dB', async () => {
    const r = await exportModel({ model: 'efficientformer_l1', outDir: tempDir(), tflite: { verify: true }, int8: { calibration: { random: 8 } } });
    const c = r.tfliteCheck!;
    print(`efficientformer_l1 int8: SQNR ${c.sqnrDb?.toFixed(2)} dB, ONNX int8 ${c.onnxSqnrDb?.toFixed(2)} dB`);
    expect(c.pass, c.problem).toBe(true);
  });

  it('the check fails on biases at the wrong scale (every int8 conv\'s int32 bias doubled in the file)', async () => {
    const built = buildWithRandomWeights({ model: 'mobilenetv2_100' });
    const dir = tempDir();
    const r = await exportModel({ model: 'mobilenetv2_100', outDir: dir, int8: { calibration: { random: 8 } }, tflite: {} });
    const bytes = readFileSync(r.tflite!.path);
    const m = read(bytes);
    const sub = m.subgraphs(0)!;
    // The biases as if quantised at half the scale the kernels add them at.
    for (let i = 0; i < sub.operatorsLength(); i++) {
      const op = sub.operators(i)!;
      if (m.operatorCodes(op.opcodeIndex())!.builtinCode() !== BuiltinOperator.CONV_2D) continue;
      const data = m.buffers(sub.tensors(op.inputs(2)!)!.buffer())!.dataArray()!;
      const bias = new Int32Array(data.buffer, data.byteOffset, data.length / 4);
      for (let k = 0; k < bias.length; k++) bias[k] *= 2;
    }
    const file = join(dir, 'wrong.tflite');
    writeFileSync(file, bytes);
    const { int8 } = await import('../src/int8/index.js').then(async (q) => ({ int8: await q.quantizeInt8(onnxBytes(built).deployed, built.entry.family.preprocessing, { calibration: { random: 8 } }) }));
    const inputs = int8.calibration.tensors.map((t) => channelsLast(t, int8.calibration.shape));
    const data = new Float32Array(inputs.length * inputs[0].data.length);
    inputs.forEach((x, k) => data.set(x.data, k * x.data.length));
    const run = await runLitert(file, { data, shape: inputs[0].shape }, await python(), { model: 'mobilenetv2_100', count: inputs.length });
    const check = judgeTfliteInt8(run, int8.floatLogits, int8.report.sqnr_db);
    print(`doubled biases: SQNR ${check.sqnrDb?.toFixed(2)} dB against ${check.onnxSqnrDb?.toFixed(2)}`);
    expect(check.pass).toBe(false);
    expect(check.problem).toMatch(/more than 1 dB below the ONNX int8 graph's/);
  });
});

describe('interrupting --verify', () => {
  it("SIGTERM while LiteRT runs the file: exit 143, the runner's work folder removed, the .tflite complete", async () => {
    const { spawn } = await import('node:child_process');
    const dir = tempDir();
    const tmp = tempDir('eformer-tmpdir-');
    const child = spawn(process.execPath, [join(root, 'bin/eformer.js'), 'export', '-m', 'efficientformer_l1', '--tflite', '--verify', '-o', dir], { cwd: root, env: { ...process.env, TMPDIR: tmp }, stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    for (let i = 0; i < 12000 && child.exitCode === null; i++) {
      if (readdirSync(tmp).some((f) => f.startsWith('eformer-litert-'))) {
        child.kill('SIGTERM');
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(await exited).toBe(143);
    // (onnxruntime-node leaves its own .ses and mat-debug-PID.log in $TMPDIR whenever a session runs.)
    expect(readdirSync(tmp).filter((f) => f.startsWith('eformer-'))).toEqual([]);
    expect(readdirSync(dir)).toEqual(['efficientformer_l1.tflite']);
    const written = readFileSync(join(dir, 'efficientformer_l1.tflite'));
    expect(Buffer.compare(written, tfliteBytes(buildWithRandomWeights({ model: 'efficientformer_l1' })).bytes)).toBe(0);
  });
});
