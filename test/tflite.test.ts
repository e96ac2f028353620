/**
 * The .tflite writer and the channels-last lowering, read back with the classes flatc generated from
 * LiteRT's schema (no runtime here; test/tflite-litert.test.ts runs the files in LiteRT).
 */
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ByteBuffer } from 'flatbuffers';
import { describe, expect, it } from 'vitest';
import { buildWithRandomWeights, countModel, GraphBuilder, lowerToTflite, tfliteBytes, VERSION, writeTflite } from '../src/index.js';
import { BuiltinOperator } from '../src/tflite/generated/tflite/builtin-operator.js';
import { Model } from '../src/tflite/generated/tflite/model.js';
import { TensorType } from '../src/tflite/generated/tflite/tensor-type.js';
import { afterTranspose, NHWC, reshapeLayout, transposeData, transposePerm } from '../src/tflite/layout.js';
import { toFloat16 } from '../src/tflite/float16.js';
import { cli, root, tempDir } from './helpers.js';

const read = (bytes: Uint8Array) => Model.getRootAsModel(new ByteBuffer(bytes));

/** Op names of a file, in order (builtin_code; deprecated_builtin_code for codes < 127 must agree). */
function opsOf(model: Model): string[] {
  const sub = model.subgraphs(0)!;
  return Array.from({ length: sub.operatorsLength() }, (_, i) => {
    const code = model.operatorCodes(sub.operators(i)!.opcodeIndex())!;
    return BuiltinOperator[code.builtinCode()];
  });
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('the .tflite file', () => {
  const built = buildWithRandomWeights({ model: 'efficientformer_l1' });
  const { bytes } = tfliteBytes(built);
  const model = read(bytes);
  const sub = model.subgraphs(0)!;

  it('the same model gives byte-identical files; other weights give other bytes', () => {
    expect(sha(tfliteBytes(buildWithRandomWeights({ model: 'efficientformer_l1' })).bytes)).toBe(sha(bytes));
    expect(sha(tfliteBytes(buildWithRandomWeights({ model: 'efficientformer_l1', seed: 1 })).bytes)).not.toBe(sha(bytes));
  });

  it('is a TFL3 file whose every constant starts on a 16-byte boundary; buffer 0 is the empty sentinel', () => {
    expect(Model.bufferHasIdentifier(new ByteBuffer(bytes))).toBe(true);
    expect(model.version()).toBe(3);
    expect(model.buffers(0)!.dataLength()).toBe(0);
    let constants = 0;
    for (let i = 1; i < model.buffersLength(); i++) {
      const data = model.buffers(i)!.dataArray();
      if (!data || data.length === 0) continue;
      constants++;
      expect(data.byteOffset - bytes.byteOffset, `buffer ${i}`).toSatisfy((o: number) => o % 16 === 0);
    }
    expect(constants).toBeGreaterThan(100);
    // Activations point at the sentinel; constants each at their own buffer.
    const used = new Set<number>();
    for (let t = 0; t < sub.tensorsLength(); t++) {
      const b = sub.tensors(t)!.buffer();
      if (b !== 0) {
        expect(used.has(b), `buffer ${b} shared`).toBe(false);
        used.add(b);
      }
    }
  });

  it('builtin operators only, no custom options, codes written both ways', () => {
    for (let i = 0; i < model.operatorCodesLength(); i++) {
      const code = model.operatorCodes(i)!;
      expect(code.builtinCode()).not.toBe(BuiltinOperator.CUSTOM);
      expect(code.deprecatedBuiltinCode()).toBe(Math.min(code.builtinCode(), 127));
      expect(code.customCode()).toBeNull();
    }
    for (let i = 0; i < sub.operatorsLength(); i++) {
      const op = sub.operators(i)!;
      expect(op.customOptionsLength()).toBe(0);
      expect(op.customOptionsArray()).toBeNull();
      expect(op.intermediatesLength()).toBe(0);
    }
  });

  it('op versions are the lowest the features used need (the converter rules): FULLY_CONNECTED with keep_num_dims is 5, GELU 1', () => {
    const versions = new Map<string, number[]>();
    for (let i = 0; i < model.operatorCodesLength(); i++) {
      const c = model.operatorCodes(i)!;
      const name = BuiltinOperator[c.builtinCode()];
      versions.set(name, [...(versions.get(name) ?? []), c.version()]);
    }
    // The classifier head (2-D) is version 1, the token linears (3-D, keep_num_dims) version 5.
    expect(versions.get('FULLY_CONNECTED')?.sort()).toEqual([1, 5]);
    expect(versions.get('GELU')).toEqual([1]);
    expect(versions.get('CONV_2D')).toEqual([1]);
    expect(versions.get('BATCH_MATMUL')).toEqual([1]);
  });

  it('metadata: model, params, MACs, eformer version, weights, precision', () => {
    const counts = countModel({ model: 'efficientformer_l1' });
    const entries = Object.fromEntries(
      Array.from({ length: model.metadataLength() }, (_, i) => {
        const m = model.metadata(i)!;
        return [m.name(), new TextDecoder().decode(model.buffers(m.buffer())!.dataArray()!)];
      }),
    );
    expect(entries).toEqual({
      model: 'efficientformer_l1',
      resolution: '224',
      params_toolbox: String(counts.params.toolbox),
      macs_toolbox: String(counts.macs.toolbox),
      eformer: VERSION,
      weights: 'random (seed 0)',
      precision: 'fp32',
    });
    expect(model.description()).toBe(`efficientformer_l1 at 224x224, exported by eformer ${VERSION}`);
  });

  it('channels-last from the input on: image [1, 224, 224, 3] in, logits out, a serving_default signature', () => {
    const input = sub.tensors(sub.inputs(0)!)!;
    expect(input.name()).toBe('image');
    expect(Array.from(input.shapeArray()!)).toEqual([1, 224, 224, 3]);
    const output = sub.tensors(sub.outputs(0)!)!;
    expect(output.name()).toBe('logits');
    expect(Array.from(output.shapeArray()!)).toEqual([1, 1000]);
    const sig = model.signatureDefs(0)!;
    expect(sig.signatureKey()).toBe('serving_default');
    expect(sig.inputs(0)!.name()).toBe('image');
    expect(sig.outputs(0)!.name()).toBe('logits');
  });

  it('weights are laid out at export time: CONV_2D filters OHWI, DEPTHWISE_CONV_2D 1HWC, FULLY_CONNECTED [out, in]', () => {
    const shapes = (op: string, input: number) => {
      const out: number[][] = [];
      for (let i = 0; i < sub.operatorsLength(); i++) {
        const o = sub.operators(i)!;
        if (BuiltinOperator[model.operatorCodes(o.opcodeIndex())!.builtinCode()] === op) out.push(Array.from(sub.tensors(o.inputs(input)!)!.shapeArray()!));
      }
      return out;
    };
    // The stem's first conv: 24 filters of 3x3 over RGB, on the image padded by one pixel (PyTorch pads
    // a stride-2 conv where TFLite's SAME would not, so an explicit PAD comes first).
    expect(shapes('CONV_2D', 1)[0]).toEqual([24, 3, 3, 3]);
    expect(shapes('CONV_2D', 0)[0]).toEqual([1, 226, 226, 3]);
    expect(opsOf(model).slice(0, 2)).toEqual(['PAD', 'CONV_2D']);
    // V1's pooling mixer as depthwise 1x1 convs: [1, 1, 1, C].
    expect(shapes('DEPTHWISE_CONV_2D', 1)[0]).toEqual([1, 1, 1, 48]);
    expect(shapes('FULLY_CONNECTED', 1).at(-1)).toEqual([1000, 448]);
    const stem = built.graph.params.get('patch_embed.0.weight')!;
    const filter = (() => {
      for (let i = 0; i < sub.operatorsLength(); i++) {
        const o = sub.operators(i)!;
        if (model.operatorCodes(o.opcodeIndex())!.builtinCode() === BuiltinOperator.CONV_2D) return sub.tensors(o.inputs(1)!)!;
      }
      throw new Error('no conv');
    })();
    // After BN folding the values differ from the checkpoint's, but the layout is the point: OHWI[o][h][w][i] = OIHW[o][i][h][w] of the folded weight.
    expect(Array.from(filter.shapeArray()!)).toEqual([stem.shape[0], 3, 3, stem.shape[1]]);
  });

  it('no TRANSPOSE except where attention heads are formed or undone: l1 has two (its one attention block), MobileNetV2 none', () => {
    expect(opsOf(model).filter((o) => o === 'TRANSPOSE')).toHaveLength(2);
    expect(opsOf(read(tfliteBytes(buildWithRandomWeights({ model: 'mobilenetv2_100' })).bytes))).not.toContain('TRANSPOSE');
    // Each TRANSPOSE of l1 sits next to a BATCH_MATMUL of its attention (through slices or a reshape).
    const producers = new Map<number, number>();
    const readers = new Map<number, number[]>();
    for (let i = 0; i < sub.operatorsLength(); i++) {
      const o = sub.operators(i)!;
      for (const t of o.outputsArray()!) producers.set(t, i);
      for (const t of o.inputsArray()!) readers.set(t, [...(readers.get(t) ?? []), i]);
    }
    const name = (i: number) => BuiltinOperator[model.operatorCodes(sub.operators(i)!.opcodeIndex())!.builtinCode()];
    const near = (i: number, dir: 'up' | 'down', depth: number): string[] => {
      if (depth === 0) return [];
      const o = sub.operators(i)!;
      const next = dir === 'down' ? Array.from(o.outputsArray()!).flatMap((t) => readers.get(t) ?? []) : Array.from(o.inputsArray()!).flatMap((t) => (producers.has(t) ? [producers.get(t)!] : []));
      return next.flatMap((j) => [name(j), ...near(j, dir, depth - 1)]);
    };
    for (let i = 0; i < sub.operatorsLength(); i++) {
      if (name(i) !== 'TRANSPOSE') continue;
      expect([...near(i, 'down', 2), ...near(i, 'up', 2)]).toContain('BATCH_MATMUL');
    }
  });

  it('fp16: float constants stored as FLOAT16, each dequantised by a DEQUANTIZE (version 3), the file half the size', () => {
    const half = tfliteBytes(built, { precision: 'fp16' });
    expect(half.bytes.length).toBeLessThan(bytes.length * 0.52);
    const m = read(half.bytes);
    const s = m.subgraphs(0)!;
    let fp16 = 0;
    for (let t = 0; t < s.tensorsLength(); t++) if (s.tensors(t)!.type() === TensorType.FLOAT16) fp16++;
    const dequantize = opsOf(m).filter((o) => o === 'DEQUANTIZE').length;
    expect(dequantize).toBe(fp16);
    expect(fp16).toBeGreaterThan(100);
    for (let i = 0; i < m.operatorCodesLength(); i++) if (m.operatorCodes(i)!.builtinCode() === BuiltinOperator.DEQUANTIZE) expect(m.operatorCodes(i)!.version()).toBe(3);
  });
});

describe('layouts', () => {
  it('flatten(2) of an NHWC map is a RESHAPE whose result is [B, HW, C] in memory, so transpose(1, 2) after it is free', () => {
    const flat = reshapeLayout([1, 448, 7, 7], [1, 448, 49], NHWC)!;
    expect(flat).toEqual([0, 2, 1]);
    expect(afterTranspose(flat, [0, 2, 1])).toEqual([0, 1, 2]);
  });

  it('splitting channels into heads keeps the map order: [B, C, H, W] -> [B, heads, d, HW] is [B, HW, heads, d] in memory', () => {
    expect(reshapeLayout([1, 256, 7, 7], [1, 8, 32, 49], NHWC)).toEqual([0, 3, 1, 2]);
  });

  it('a reshape that mixes axes the layout has apart cannot be done in place', () => {
    // [B, heads, N, d] held as [B, N, heads, d]: merging heads and d needs them next to each other.
    expect(reshapeLayout([1, 8, 49, 128], [1, 8, 6272], [0, 2, 1, 3])).toBeUndefined();
    expect(reshapeLayout([1, 8, 49, 128], [1, 392, 128], [0, 2, 1, 3])).toBeUndefined();
  });

  it('size-1 axes go anywhere: squeezing [1, 1, C, 1] is in place whatever their order', () => {
    expect(reshapeLayout([1, 1000, 1, 1], [1, 1000], NHWC)).toEqual([0, 1]);
  });

  it('transposeData moves data as the permutation says, and transposePerm composes layouts', () => {
    const data = Float32Array.from({ length: 24 }, (_, i) => i);
    // [2, 3, 4] -> [4, 2, 3]: out[k][i][j] = in[i][j][k]
    const out = transposeData(data, [2, 3, 4], [2, 0, 1]);
    expect(out[1 * 6 + 1 * 3 + 2]).toBe(1 * 12 + 2 * 4 + 1);
    expect(transposePerm([0, 1, 2, 3], NHWC)).toEqual([0, 2, 3, 1]);
    expect(transposePerm(NHWC, [0, 1, 2, 3])).toEqual([0, 3, 1, 2]);
  });

  it('float16 conversion rounds to nearest even, keeps signs, subnormals and infinities (numpy astype(float16))', () => {
    const x = Float32Array.of(1, -2, 65504, 65520, 1e-8, 5.960464477539063e-8, 1 + 2 ** -11, 1 + 3 * 2 ** -11, Infinity, 0.1);
    // 65520 rounds up to inf; 1+2^-11 ties to 1 (even), 1+3*2^-11 to 1+2^-9.
    expect(Array.from(toFloat16(x))).toEqual([0x3c00, 0xc000, 0x7bff, 0x7c00, 0x0000, 0x0001, 0x3c00, 0x3c02, 0x7c00, 0x2e66]);
  });
});

describe('what LiteRT cannot express exits 2, naming the op and the model', () => {
  it('an average pool whose padding TFLite cannot reproduce', () => {
    const b = new GraphBuilder('oddpool');
    const x = b.input('image', [1, 3, 8, 8]);
    // count_include_pad=False with a padding SAME does not give (k3 s2 p1 on 8: SAME pads 0 before).
    const y = b.avgPool(x, { kernel: 3, stride: 2, pad: 1, countIncludePad: false }, 'pool');
    b.output(y, 'logits');
    const graph = b.finish();
    expect(() => lowerToTflite(graph)).toThrow(/cannot write oddpool as TFLite: average pooling k3 s2 p1 .*\(AvgPool .* in pool\)/);
  });
});

describe('eformer export --tflite', () => {
  it('writes DIR/NAME.tflite alone, byte-identical to the library, and prints what it wrote', async () => {
    const dir = tempDir();
    const r = await cli('export', '-m', 'mobilenetv2_100', '--tflite', '-o', dir);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(dir)).toEqual(['mobilenetv2_100.tflite']);
    expect(r.stdout.replace(/\s+/g, ' ')).toMatch(/wrote .*mobilenetv2_100\.tflite \(14\.0 MB, fp32, \d+ ops, 0 TRANSPOSE\)/);
    expect(sha(readFileSync(join(dir, 'mobilenetv2_100.tflite')))).toBe(sha(tfliteBytes(buildWithRandomWeights({ model: 'mobilenetv2_100' })).bytes));
  });

  it('fp16 and int8 files are byte-identical from run to run too', async () => {
    const run = async (args: string[]) => {
      const dir = tempDir();
      const r = await cli('export', '-m', 'mobilenetv2_100', '--tflite', ...args, '-o', dir);
      expect(r.code, r.stderr).toBe(0);
      return readdirSync(dir).map((f) => sha(readFileSync(join(dir, f))));
    };
    for (const args of [['--precision', 'fp16'], ['--int8', '--calib-random', '4']]) expect(await run(args)).toEqual(await run(args));
  });

  it('with --onnx both files; nothing to export names --tflite', async () => {
    const dir = tempDir();
    expect((await cli('export', '-m', 'mobilenetv2_100', '--tflite', '--onnx', '-o', dir)).code).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['mobilenetv2_100.onnx', 'mobilenetv2_100.tflite']);
    const none = await cli('export', '-m', 'mobilenetv2_100', '-o', dir);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/nothing to export: add --onnx, --tflite and\/or --coreml/);
  });

  it('the help says what --precision means for each format', async () => {
    const r = await cli('export', '--help');
    expect(r.stdout.replace(/\s+/g, ' ')).toMatch(/Core ML: the compute precision .* TFLite: fp16 stores the weights as float16/);
  });
});

describe('writeTflite on a hand-made model', () => {
  it('a model with no metadata and a scalar constant writes and reads back', () => {
    const bytes = writeTflite({
      description: 'tiny',
      tensors: [
        { name: 'x', shape: [2], type: TensorType.FLOAT32 },
        { name: 'c', shape: [], type: TensorType.FLOAT32, data: new Uint8Array(Float32Array.of(2).buffer) },
        { name: 'y', shape: [2], type: TensorType.FLOAT32 },
      ],
      operators: [{ op: BuiltinOperator.MUL, inputs: [0, 1], outputs: [2], options: { kind: 'elementwise', activation: 'NONE' } }],
      inputs: [{ name: 'x', tensor: 0 }],
      outputs: [{ name: 'y', tensor: 2 }],
      metadata: [],
    });
    const m = read(bytes);
    expect(m.metadataLength()).toBe(0);
    expect(Array.from(m.subgraphs(0)!.tensors(1)!.shapeArray() ?? [])).toEqual([]);
    expect(opsOf(m)).toEqual(['MUL']);
  });
});

describe('eformer setup litert', () => {
  const pins = (file: string) =>
    new Map(
      readFileSync(join(root, 'python', file), 'utf8')
        .split('\n')
        .filter((l) => l.trim() && !l.startsWith('#'))
        .map((l) => {
          const m = /^([A-Za-z0-9_.-]+)==(\S+)$/.exec(l.trim());
          expect(m, `${file}: '${l}' is not an exact pin`).not.toBeNull();
          return [m![1].toLowerCase().replace(/_/g, '-'), m![2]] as const;
        }),
    );

  it('pins ai-edge-litert 2.3.0 and each of its dependencies exactly, agreeing with the Core ML pins it shares', () => {
    const litert = pins('requirements-litert.txt');
    expect(litert.get('ai-edge-litert')).toBe('2.3.0');
    for (const dep of ['numpy', 'protobuf', 'flatbuffers', 'ml-dtypes', 'tqdm', 'backports.strenum', 'typing-extensions']) expect(litert.has(dep), dep).toBe(true);
    for (const [name, version] of pins('requirements.txt')) if (litert.has(name)) expect(litert.get(name), name).toBe(version);
  });

  const fakePython = (dir: string) => {
    const path = join(dir, 'python3');
    // -c: the version probe; -m venv DIR: a "venv" whose python is this script; anything else is logged.
    writeFileSync(path, `#!/bin/sh\ncase "$1" in -c) echo 3.11.7;; -m) if [ "$2" = venv ]; then mkdir -p "$3/bin" && cp "$0" "$3/bin/python"; fi; echo "$@" >> "${dir}/calls";; esac\n`);
    chmodSync(path, 0o755);
    return path;
  };

  it('adds to an existing .eformer/venv (never remakes it): pip install -r python/requirements-litert.txt there', async () => {
    const dir = tempDir();
    const python = fakePython(dir);
    mkdirSync(join(dir, '.eformer/venv/bin'), { recursive: true });
    copyFileSync(python, join(dir, '.eformer/venv/bin/python'));
    const { execa } = await import('execa');
    const r = await execa('node', [join(root, 'bin/eformer.js'), 'setup', 'litert'], { cwd: dir, reject: false, env: { ...process.env, EFORMER_PYTHON: python } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n')).toEqual([`-m pip install --disable-pip-version-check -q -r ${join(root, 'python/requirements-litert.txt')}`]);
    expect(r.stdout).toMatch(/ready: .*\.eformer\/venv\/bin\/python/);
  });

  it('makes .eformer/venv first when there is none', async () => {
    const dir = tempDir();
    const python = fakePython(dir);
    const { execa } = await import('execa');
    const r = await execa('node', [join(root, 'bin/eformer.js'), 'setup', 'litert'], { cwd: dir, reject: false, env: { ...process.env, EFORMER_PYTHON: python } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n')).toEqual(['-m venv .eformer/venv', `-m pip install --disable-pip-version-check -q -r ${join(root, 'python/requirements-litert.txt')}`]);
  });

  it('doctor lists ai-edge-litert and how to get it', async () => {
    const r = await cli('doctor', '--json');
    const probe = (JSON.parse(r.stdout) as { name: string; found?: string; install: string }[]).find((p) => p.name.startsWith('ai-edge-litert'));
    expect(probe?.install).toBe('eformer setup litert');
  });
});
