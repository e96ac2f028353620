/**
 * int8 post-training quantisation: the QDQ export runs, is deterministic and has the structure
 * onnxruntime fuses; --keep-float keeps what it names; the fidelity figures equal a reference
 * computed here from logits this test runs itself; bad input fails in one line with nothing written;
 * Core ML W8A8; profile --precision on ort-cpu and, with fake tools, on coreml and ort-android.
 */
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../src/images/decode.js';
import { preprocess } from '../src/images/preprocess.js';
import { buildWithRandomWeights, cpuInt8Instructions, exportModel, families, findModel, onnxBytes, papersZooNames, zoo } from '../src/index.js';
import { cliWith, fakeTools } from './fakes.js';
import { cli, root, runOnnx, tempDir, testInput } from './helpers.js';

const { onnx } = onnxProto;
const TYPE = onnx.TensorProto.DataType;

/** Which Conv/Gemm/MatMul nodes are quantised, after checking each one's QDQ structure. */
function quantizedNodes(bytes: Uint8Array): string[] {
  const g = onnx.ModelProto.decode(bytes).graph!;
  const inits = new Map(g.initializer.map((t) => [t.name!, t]));
  const producer = new Map(g.node.flatMap((n) => n.output!.map((o) => [o, n] as const)));
  const readers = (v: string) => g.node.filter((n) => n.input!.includes(v));
  const outputs = new Set(g.output.map((o) => o.name));
  const dqOf = (v: string, type: number) => {
    const dq = producer.get(v);
    expect(dq?.opType, `${v} comes from a DequantizeLinear`).toBe('DequantizeLinear');
    const stored = inits.get(dq!.input![0]);
    expect(stored?.dataType, `${dq!.input![0]} is stored as type ${type}`).toBe(type);
    return { dq: dq!, stored: stored! };
  };
  const quantized: string[] = [];
  for (const n of g.node.filter((m) => ['Conv', 'Gemm', 'MatMul'].includes(m.opType!))) {
    const weight = n.input![1];
    if (producer.get(weight)?.opType !== 'DequantizeLinear') {
      // A float layer keeps a float weight (the attention matmuls multiply two activations).
      if (inits.has(weight)) expect(inits.get(weight)!.dataType, `${n.name}: weight`).toBe(TYPE.FLOAT);
      continue;
    }
    quantized.push(n.name!);
    // Input: uint8 activation, Q then DQ.
    const x = producer.get(n.input![0]);
    expect(x?.opType, `${n.name}: input`).toBe('DequantizeLinear');
    expect(producer.get(x!.input![0])?.opType, `${n.name}: input`).toBe('QuantizeLinear');
    expect(inits.get(x!.input![2])?.dataType).toBe(TYPE.UINT8);
    // Weight: int8, one scale per output channel, zero points 0.
    const w = dqOf(weight, TYPE.INT8);
    const channels = Number(w.stored.dims![n.opType === 'MatMul' ? 1 : 0]);
    expect(Number(inits.get(w.dq.input![1])!.dims![0]), `${n.name}: per-channel scales`).toBe(channels);
    expect([...inits.get(w.dq.input![2])!.rawData!].every((z) => z === 0), `${n.name}: weight zero points`).toBe(true);
    // Bias: int32.
    if (n.input![2]) dqOf(n.input![2], TYPE.INT32);
    // Output: to a Q alone (what lets the runtime fuse the layer), or the graph's float logits.
    const out = n.output![0];
    if (!outputs.has(out)) {
      const next = readers(out);
      const afterRelu = next.length === 1 && ['Relu', 'Clip'].includes(next[0].opType!) ? readers(next[0].output![0]) : next;
      expect(afterRelu.map((m) => m.opType), `${n.name}: output`).toEqual(['QuantizeLinear']);
    }
  }
  return quantized;
}

describe("int8 export of the papers' nine zoo models", () => {
  const dir = tempDir();
  for (const entry of papersZooNames().map(findModel)) {
    it(`${entry.name}: QDQ around every quantised layer, runs in onnxruntime with finite logits`, async () => {
      const r = await exportModel({ model: entry.name, onnx: true, outDir: dir, int8: { calibration: { random: 2 } } });
      expect(r.onnx!.path).toBe(join(dir, `${entry.name}.int8.onnx`));
      const bytes = readFileSync(r.onnx!.path);
      const quantized = quantizedNodes(bytes);
      expect(quantized.length).toBe(r.int8!.quantized_layers);
      expect(quantized.length).toBeGreaterThan(10);
      const model = onnx.ModelProto.decode(bytes);
      expect(Number(model.opsetImport[0].version)).toBe(20);
      const res = entry.family.defaultResolution;
      const logits = await runOnnx(bytes, testInput(res), [1, 3, res, res]);
      expect(logits.length).toBe(1000);
      expect(logits.every(Number.isFinite)).toBe(true);
    });
  }
});

describe('int8 export of the smallest variant of each successor family', () => {
  const dir = tempDir();
  const papers = new Set(papersZooNames());
  const successors = families.filter((f) => !zoo.some((m) => m.family === f && papers.has(m.name)));
  // FcaFormer reuses one projection's weight in two layers: its dequantised weight must be made once.
  for (const model of successors.map((f) => zoo.find((m) => m.family === f)!)) {
    it(`${model.name}: QDQ around every quantised layer, runs in onnxruntime with finite logits`, async () => {
      const r = await exportModel({ model: model.name, onnx: true, outDir: dir, int8: { calibration: { random: 2 } } });
      const bytes = readFileSync(r.onnx!.path);
      const quantized = quantizedNodes(bytes);
      expect(quantized.length).toBe(r.int8!.quantized_layers);
      expect(quantized.length).toBeGreaterThan(10);
      const res = model.family.defaultResolution;
      const logits = await runOnnx(bytes, testInput(res), [1, 3, res, res]);
      expect(logits.every(Number.isFinite)).toBe(true);
    });
  }
});

describe('the integer kernels onnxruntime runs', () => {
  /** Op types of onnxruntime-node's own optimised graph of an ONNX file (what its session runs). */
  async function optimizedOps(file: string): Promise<string[]> {
    const optimized = join(tempDir(), 'optimized.onnx');
    // Basic and extended levels only: the layout level rewrites Convs for this CPU and names nothing new here.
    await ort.InferenceSession.create(file, { graphOptimizationLevel: 'extended', optimizedModelFilePath: optimized });
    return onnx.ModelProto.decode(readFileSync(optimized)).graph!.node.map((n) => n.opType!);
  }

  it('token linears run as QLinearMatMul (the faster integer GEMM in onnxruntime-web), the 2-D head as QGemm, every Conv as QLinearConv', async () => {
    const r = await exportModel({ model: 'efficientformer_l1', onnx: true, outDir: tempDir(), int8: { calibration: { random: 2 } } });
    const ops = await optimizedOps(r.onnx!.path);
    const count = (op: string) => ops.filter((o) => o === op).length;
    // efficientformer_l1's one attention block: qkv, proj, fc1 and fc2 over 49 tokens; the head reads pooled features.
    expect(count('QLinearMatMul')).toBe(4);
    expect(count('QGemm')).toBe(1);
    expect(count('QLinearConv') + count('QLinearMatMul') + count('QGemm')).toBe(r.int8!.quantized_layers);
    // The float bias Add after fc1 folds into its GELU.
    expect(count('BiasGelu')).toBe(1);
  });
});

describe("the CPU's int8 instructions", () => {
  it('are read from /proc/cpuinfo flags (x86) and Features (ARM), [] when there are none', () => {
    // This development machine's own flags line, shortened to the relevant part.
    const xeon = 'processor\t: 0\nflags\t\t: fpu sse sse2 avx avx2 avx512f avx512bw avx512_vnni avx_vnni avx512_bf16 amx_bf16 amx_tile amx_int8\n';
    expect(cpuInt8Instructions(xeon)).toEqual(['AVX-512 VNNI', 'AVX-VNNI', 'AMX-INT8']);
    expect(cpuInt8Instructions('flags\t\t: fpu sse sse2 avx avx2 fma\n')).toEqual([]);
    // Written for this test, in the format of an arm64 kernel's /proc/cpuinfo.
    expect(cpuInt8Instructions('processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics asimddp i8mm\n')).toEqual(['Arm dot product', 'Arm I8MM']);
  });
});

describe('int8 determinism and --keep-float', () => {
  it('the same request writes byte-identical files twice', async () => {
    const [a, b] = [tempDir(), tempDir()];
    await exportModel({ model: 'mobilenetv2_100', onnx: true, outDir: a, int8: { calibration: { random: 4 } } });
    await exportModel({ model: 'mobilenetv2_100', onnx: true, outDir: b, int8: { calibration: { random: 4 } } });
    expect(readFileSync(join(a, 'mobilenetv2_100.int8.onnx')).equals(readFileSync(join(b, 'mobilenetv2_100.int8.onnx')))).toBe(true);
  });

  it('keeps float exactly the layers it names, and nothing else', async () => {
    const dir = tempDir();
    const all = quantizedNodes(readFileSync((await exportModel({ model: 'efficientformer_l1', onnx: true, outDir: dir, int8: { calibration: { random: 2 } } })).onnx!.path));
    const kept = await exportModel({ model: 'efficientformer_l1', onnx: true, outDir: dir, int8: { calibration: { random: 2 }, keepFloat: ['network.6.*', 'patch_embed.0'] } });
    const some = quantizedNodes(readFileSync(kept.onnx!.path));
    const named = (n: string) => n.startsWith('network.6.') || n.startsWith('patch_embed.0/');
    expect(all.filter(named).length).toBeGreaterThan(3);
    expect(some).toEqual(all.filter((n) => !named(n)));
    expect(kept.int8!.keep_float).toEqual(['network.6.*', 'patch_embed.0']);
  });

  it('percentile and entropy calibration export too', async () => {
    const sqnr = async (method: 'minmax' | 'percentile' | 'entropy') => {
      const r = await exportModel({ model: 'mobilenetv2_100', onnx: true, outDir: tempDir(), int8: { calibration: { random: 2 }, method } });
      expect(r.int8!.method).toBe(method);
      return r.int8!.sqnr_db;
    };
    const minmax = await sqnr('minmax');
    // Clipping 0.01% of each tail costs little here; KL divergence clips ReLU6 outputs near 1.5 (README, int8).
    expect(Math.abs((await sqnr('percentile')) - minmax)).toBeLessThan(3);
    expect(await sqnr('entropy')).toBeLessThan(minmax - 10);
  });
});

describe('int8 fidelity report', () => {
  it('SQNR and cosine equal a reference computed here from logits this test runs', async () => {
    const images = tempDir();
    for (const f of ['gradient.jpg', 'gradient.png']) copyFileSync(join(root, 'fixtures/images', f), join(images, f));
    const dir = tempDir();
    const r = await exportModel({ model: 'mobilenetv2_100', onnx: true, outDir: dir, int8: { calibration: { dir: images }, byLayer: true } });
    const float = onnxBytes(buildWithRandomWeights({ model: 'mobilenetv2_100' })).bytes;
    const int8 = readFileSync(r.onnx!.path);
    const pp = findModel('mobilenetv2_100').family.preprocessing;
    let signal = 0;
    let noise = 0;
    let cosines = 0;
    for (const f of ['gradient.jpg', 'gradient.png']) {
      const x = preprocess(await decodeImage(join(images, f)), pp);
      const a = await runOnnx(float, x, [1, 3, 224, 224]);
      const b = await runOnnx(int8, x, [1, 3, 224, 224]);
      let dot = 0;
      let aa = 0;
      let bb = 0;
      a.forEach((v, i) => {
        signal += v * v;
        noise += (v - b[i]) ** 2;
        dot += v * b[i];
        aa += v * v;
        bb += b[i] * b[i];
      });
      cosines += dot / Math.sqrt(aa * bb);
    }
    expect(r.int8!.calibration).toMatchObject({ kind: 'images', inputs: 2 });
    expect(r.int8!.sqnr_db).toBeCloseTo(10 * Math.log10(signal / noise), 3);
    expect(r.int8!.cosine).toBeCloseTo(cosines / 2, 6);
    // Random weights: the report says that top-1 agreement means little.
    expect(r.int8!.top1_caveat).toMatch(/random/);
    // --by-layer: one row per quantised layer; the last layers carry the error of all before them.
    const layers = r.int8!.layers!;
    expect(layers).toHaveLength(r.int8!.quantized_layers);
    expect(layers.every((l) => Number.isFinite(l.sqnr_db) && l.sqnr_db > 0)).toBe(true);
    expect(layers[0].sqnr_db).toBeGreaterThan(layers.at(-2)!.sqnr_db);
  });
});

describe('int8 bad input: one line, exit 2 (3 for a missing tool), nothing written', () => {
  const run = async (args: string[], env: Record<string, string> = {}) => {
    const out = join(tempDir(), 'out');
    const r = await cliWith({ ...process.env, ...env } as Record<string, string>, 'export', '-m', 'mobilenetv2_100', '-o', out, ...args);
    const lines = r.stderr.trim().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^eformer: /);
    expect(existsSync(out) ? readdirSync(out) : [], 'nothing written').toEqual([]);
    return r;
  };

  it('an empty calibration folder', async () => {
    const r = await run(['--onnx', '--int8', '--calib', tempDir()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/holds no images/);
  });

  it('a calibration folder that cannot be read', async () => {
    const r = await run(['--onnx', '--int8', '--calib', '/nonexistent/calibration']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot read calibration folder '\/nonexistent\/calibration': no such folder/);
  });

  it('an image eformer cannot decode, named', async () => {
    const images = tempDir();
    copyFileSync(join(root, 'fixtures/images/gradient.png'), join(images, 'a.png'));
    writeFileSync(join(images, 'notes.jpg'), 'not a picture');
    const r = await run(['--onnx', '--int8', '--calib', images]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('notes.jpg');
  });

  it('--keep-float that matches nothing', async () => {
    const r = await run(['--onnx', '--int8', '--calib-random', '2', '--keep-float', 'network.6.*']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--keep-float 'network\.6\.\*' matches no Conv or Linear layer; layers look like features\.0\.0/);
  });

  it('calibration flags without --int8, and both calibration sources', async () => {
    expect((await run(['--onnx', '--calib-random', '4'])).stderr).toMatch(/--calib-random is for int8 models: add --int8/);
    expect((await run(['--onnx', '--int8', '--calib', tempDir(), '--calib-random', '4'])).code).toBe(2);
  });

  it('Core ML W8A8 needs an ML Program', async () => {
    const r = await run(['--coreml', '--int8', '--coreml-format', 'neuralnetwork']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/needs an ML Program/);
  });

  it('Core ML W8A8 with no Python: exit 3', async () => {
    const r = await run(['--coreml', '--int8', '--calib-random', '2'], { EFORMER_PYTHON: '/nonexistent/python3' });
    expect(r.code).toBe(3);
  });

  it('a backend provider that cannot run int8, and --onnx files', async () => {
    const web = await cli('profile', '-m', 'mobilenetv2_100', '--precision', 'int8', '--ep', 'webgpu', '--quiet');
    expect(web.code).toBe(2);
    expect(web.stderr.trim()).toBe("eformer: --precision int8: ort-cpu runs int8 (QDQ) models on cpu, not 'webgpu'");
    const file = join(tempDir(), 'm.onnx');
    writeFileSync(file, onnxBytes(buildWithRandomWeights({ model: 'mobilenetv2_100' })).bytes);
    const own = await cli('profile', '--onnx', file, '--precision', 'int8', '--quiet');
    expect(own.code).toBe(2);
    expect(own.stderr).toMatch(/--onnx files are profiled as they are/);
  });
});

describe('Core ML W8A8', () => {
  it('the saved package has quantised activations and weights, calibrated like the ONNX graph', async () => {
    const dir = tempDir();
    const r = await exportModel({ model: 'mobilenetv2_100', coreml: {}, outDir: dir, int8: { calibration: { random: 2 } } });
    expect(r.coreml!.path).toBe(join(dir, 'mobilenetv2_100.int8.mlpackage'));
    const w = r.coreml!.report.w8a8!;
    // Every conv and the classifier's linear read a quantised weight; activations are quantised around them.
    expect(w.quantized_weights).toBe(53);
    expect(r.coreml!.report.ops.constexpr_affine_dequantize).toBe(53);
    expect(w.quantize_ops).toBeGreaterThan(50);
    expect(r.coreml!.report.ops.quantize).toBe(w.quantize_ops);
    expect(w.ranges_compared).toBeGreaterThan(50);
    expect(w.max_range_difference).toBeLessThanOrEqual(w.tolerance);
    expect(w.tolerance).toBe(1e-2);
  });
});

describe('profile --precision fp32,int8', () => {
  it('on ort-cpu: both models interleaved, the speed-up and fidelity in the JSON, every report format and the gate', async () => {
    const dir = tempDir();
    const json = join(dir, 'r.json');
    const r = await cli('profile', '-m', 'mobilenetv2_100', '--precision', 'fp32,int8', '--calib-random', '2', '--runs', '6', '--warmup', '1', '--no-single-session', '--quiet', '--json', json);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const file = JSON.parse(readFileSync(json, 'utf8'));
    const [fp32, int8] = file.results;
    expect([fp32.model, fp32.precision, int8.model, int8.precision]).toEqual(['mobilenetv2_100', 'fp32', 'mobilenetv2_100:int8', 'int8']);
    expect(int8.settings.interleaved).toBe(true);
    // The speed-up is the median of per-round ratios: recompute it from the samples.
    const ratios = fp32.latency_ms.samples.map((v: number, k: number) => v / int8.latency_ms.samples[k]).sort((a: number, b: number) => a - b);
    expect(int8.int8.speedup).toBeCloseTo((ratios[2] + ratios[3]) / 2, 9);
    expect(int8.int8).toMatchObject({ fp32_model: 'mobilenetv2_100', paired: true, method: 'minmax', calibration: '2 random inputs (seed 0), minmax' });
    expect(int8.int8.sqnr_db).toBeGreaterThan(20);
    expect(r.stdout).toContain('int8 speed-up');
    // The CPU's integer instructions are named with the results (this machine's, read here independently).
    const flags = (readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '').trim().split(/\s+/);
    expect(file.env.cpu_int8.includes('AVX-512 VNNI')).toBe(flags.includes('avx512_vnni'));
    expect(file.env.cpu_int8.includes('AMX-INT8')).toBe(flags.includes('amx_int8'));
    expect(r.stdout.replace(/\s+/g, ' ')).toMatch(/measured on: .*int8 instructions: /); // the line wraps at 100 columns
    for (const format of ['csv', 'markdown', 'html']) {
      const out = await cli('report', json, '-f', format);
      expect(out.code, out.stderr).toBe(0);
      expect(out.stdout).toContain('mobilenetv2_100:int8');
      expect(out.stdout).toContain(format === 'csv' ? 'int8_speedup' : 'int8 speed-up');
    }
    const gate = await cli('gate', '--baseline', json, '--current', json);
    expect(gate.code).toBe(0);
    expect(gate.stdout).toContain('mobilenetv2_100:int8');
  });

  it('on ort-android (fake adb): perf_test runs the QDQ model; the speed-up is the ratio of the harness medians', async () => {
    const perf = join(tempDir(), 'onnxruntime_perf_test');
    writeFileSync(perf, '\x7fELF stand-in');
    writeFileSync(join(perf, '..', 'libonnxruntime.so'), '\x7fELF stand-in');
    const fakes = fakeTools('android/success', ['adb']);
    const json = join(tempDir(), 'r.json');
    const r = await cliWith(fakes.env, 'profile', '-b', 'ort-android', '-m', 'efficientformerv2_s0', '--precision', 'fp32,int8', '--calib-random', '2', '--perf-test', perf, '--threads', '4', '--runs', '50', '--quiet', '--json', json);
    expect(r.stderr).toBe('');
    expect(fakes.mismatches()).toEqual([]);
    const results = JSON.parse(readFileSync(json, 'utf8')).results;
    expect(results.map((x: { model: string }) => x.model)).toEqual(['efficientformerv2_s0', 'efficientformerv2_s0:int8']);
    expect(results[1].int8.speedup).toBeCloseTo(results[0].latency_ms.median / results[1].latency_ms.median, 12);
    expect(results[1].int8.paired).toBe(false);
  });

  it('on coreml (fake Xcode tools): the int8 model is Core ML W8A8 of the float graph', async () => {
    const fakes = fakeTools('apple/mac-int8', ['xcrun', 'xcodebuild']);
    const json = join(tempDir(), 'r.json');
    const cache = tempDir('eformer-coreml-cache-');
    const r = await cliWith({ ...fakes.env, EFORMER_CACHE: cache }, 'profile', '-b', 'coreml', '-m', 'mobilenetv2_100', '--precision', 'fp32,int8', '--calib-random', '2', '--compute-units', 'cpuAndNeuralEngine', '--runs', '20', '--warmup', '5', '--quiet', '--json', json);
    expect(fakes.mismatches()).toEqual([]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [fp32, int8] = JSON.parse(readFileSync(json, 'utf8')).results;
    expect(int8.model).toBe('mobilenetv2_100:int8');
    expect(fp32.settings.precision).toBe('fp16');
    expect(int8.settings.precision).toBe('w8a8');
    expect(int8.int8.speedup).toBeCloseTo(fp32.latency_ms.median / int8.latency_ms.median, 12);
  });
});
