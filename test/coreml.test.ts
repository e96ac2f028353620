import { chmodSync, existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { exportModel } from '../src/export/index.js';
import { convertToCoreml } from '../src/coreml/bridge.js';
import { cachedCoreml } from '../src/coreml/cache.js';
import { encodeOnnx } from '../src/onnx/encode.js';
import { root, tempDir } from './helpers.js';

// The suite's set-up (scripts/setup-test-env.sh) makes .eformer/venv with the pinned coremltools.
const cli = (args: string[], env: Record<string, string> = {}) =>
  execa('node', [join(root, 'bin/eformer.js'), ...args], { reject: false, cwd: root, env: { ...process.env, ...env } });

describe('real Core ML conversions through coremltools', () => {
  it.each(['efficientformer_l1', 'efficientformerv2_s0'])('%s: ML Program, fp16, ImageType input, classifier, verified', async (model) => {
    const dir = tempDir();
    const r = await exportModel({ model, outDir: dir, onnx: true, coreml: {} });
    const c = r.coreml!;
    expect(c.path).toBe(join(dir, `${model}.mlpackage`));
    expect(existsSync(join(c.path, 'Manifest.json'))).toBe(true);
    expect(existsSync(join(c.path, 'Data/com.apple.CoreML/model.mlmodel'))).toBe(true);
    expect(c.report.verified).toBe(true);
    expect(c.report.inputs).toEqual([{ name: 'image', type: 'imageType' }]);
    expect(c.report.outputs.map((o) => o.name).sort()).toEqual(['classLabel', 'classLabel_probs']);
    expect(c.report.ops.conv).toBe(model === 'efficientformer_l1' ? 61 : 83);
    expect(c.report.ops.gelu).toBe(model === 'efficientformer_l1' ? 15 : 35);
    expect(c.report.ops.classify).toBe(1);
    expect(readdirSync(dir).sort()).toEqual([`${model}.mlpackage`, `${model}.onnx`]);
  });

  it('--verify checks the numbers with the interpreter here, and says plainly that Core ML itself cannot run', async () => {
    const dir = tempDir();
    const r = await cli(['export', '-m', 'mobilenetv2_100', '--coreml', '--verify', '-o', dir]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/interpreted \(fp16\) vs onnxruntime: .* ok/);
    expect(r.stdout).toMatch(process.platform === 'darwin' ? /Core ML itself vs onnxruntime: max \|diff\|/ : /Core ML itself: not run \(Core ML runs models only on macOS\)/);
  });

  it('fp32: every weight equals the ONNX initializer it came from', async () => {
    const dir = tempDir();
    const c = (await exportModel({ model: 'efficientformerv2_s0', outDir: dir, coreml: { precision: 'fp32', inputType: 'tensor' } })).coreml!;
    expect(c.report.weights_checked).toBeGreaterThan(140);
    expect(c.report.weights_differing).toEqual([]);
    expect(c.report.inputs).toEqual([{ name: 'image', type: 'multiArrayType' }]);
  });

  it('NeuralNetwork .mlmodel, and int8 weight quantization that shrinks the file', async () => {
    const dir = tempDir();
    const nn = (await exportModel({ model: 'efficientformer_l1', outDir: dir, coreml: { format: 'neuralnetwork' } })).coreml!;
    expect(nn.path.endsWith('.mlmodel')).toBe(true);
    expect(statSync(nn.path).isFile()).toBe(true);
    expect(nn.report.ops.convolution).toBe(61);
    const q = (await exportModel({ model: 'efficientformerv2_s0', outDir: dir, coreml: { quantize: 'int8' } })).coreml!;
    expect(q.bytes).toBeLessThan((q.report.bytes_before_quantization as number) * 0.6);
  });
});

describe('Core ML faults: one line, the right exit code, no partial package, the ONNX still written', () => {
  const fakePython = (script: string) => {
    const path = join(tempDir(), 'python');
    writeFileSync(path, `#!/bin/sh\n${script}\n`);
    chmodSync(path, 0o755);
    return path;
  };
  const expectClean = (dir: string, model: string) => {
    expect(readdirSync(dir)).toEqual([`${model}.onnx`]);
  };

  it('Python missing: exit 3', async () => {
    const dir = tempDir();
    const r = await cli(['export', '-m', 'mobilenetv2_100', '--onnx', '--coreml', '-o', dir], { EFORMER_PYTHON: '/nonexistent/python3' });
    expect(r.exitCode).toBe(3);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/EFORMER_PYTHON .* does not run: install Python 3/);
    expectClean(dir, 'mobilenetv2_100');
  });

  it('coremltools missing or unsupported: exit 3 naming the fix', async () => {
    const dir = tempDir();
    // Runs `-c` checks like a real Python, but the bridge itself reports coremltools missing.
    const python = fakePython(`case "$1" in -c) echo 3.11.7;; *) echo "missing Python package: coremltools; run \\\`eformer setup coreml\\\`" >&2; exit 11;; esac`);
    const r = await cli(['export', '-m', 'mobilenetv2_100', '--onnx', '--coreml', '-o', dir], { EFORMER_PYTHON: python });
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/missing Python package: coremltools; run `eformer setup coreml`/);
    expectClean(dir, 'mobilenetv2_100');
  });

  it('the bridge killed in the middle: exit 3 (the tool failed, not the input)', async () => {
    const dir = tempDir();
    const python = fakePython(`case "$1" in -c) echo 3.11.7;; *) mkdir -p "$(dirname "$0")/x"; kill -9 $$;; esac`);
    const r = await cli(['export', '-m', 'mobilenetv2_100', '--onnx', '--coreml', '-o', dir], { EFORMER_PYTHON: python });
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/the Core ML bridge: Python .* was killed by SIGKILL; nothing was written/);
    expectClean(dir, 'mobilenetv2_100');
  });

  it('an ONNX op the bridge does not map: the error names the op and the node', async () => {
    const onnx = encodeOnnx(
      {
        name: 'odd',
        opset: 17,
        inputs: [{ name: 'image', shape: [1, 3, 8, 8] }],
        outputs: [{ name: 'logits', shape: [1, 3, 8, 8] }],
        nodes: [{ name: 'weird/Sin_0', opType: 'Sin', inputs: ['image'], outputs: ['logits'], attrs: {} }],
        initializers: [],
      },
      { producerVersion: 'test' },
    );
    const dir = tempDir();
    await expect(convertToCoreml(onnx, join(dir, 'odd.mlpackage'), { inputType: 'tensor' })).rejects.toThrow(/ONNX op Sin \(node weird\/Sin_0\) has no Core ML mapping/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a cached conversion whose report is damaged is converted again, not an internal error', async () => {
    const onnx = encodeOnnx(
      {
        name: 'tiny',
        opset: 17,
        inputs: [{ name: 'image', shape: [1, 3, 8, 8] }],
        outputs: [{ name: 'logits', shape: [1, 3, 8, 8] }],
        nodes: [{ name: 'act/Relu_0', opType: 'Relu', inputs: ['image'], outputs: ['logits'], attrs: {} }],
        initializers: [],
      },
      { producerVersion: 'test' },
    );
    const previous = process.env.EFORMER_CACHE;
    process.env.EFORMER_CACHE = tempDir();
    try {
      const first = await cachedCoreml(onnx, { inputType: 'tensor' });
      expect(first.cached).toBe(false);
      const report = first.path.replace(/\.mlpackage$/, '.json');
      writeFileSync(report, '{"inputs": [');
      const again = await cachedCoreml(onnx, { inputType: 'tensor' });
      expect(again.cached).toBe(false);
      expect(again.report.inputs).toEqual(first.report.inputs);
      expect((await cachedCoreml(onnx, { inputType: 'tensor' })).cached).toBe(true);
    } finally {
      if (previous === undefined) delete process.env.EFORMER_CACHE;
      else process.env.EFORMER_CACHE = previous;
    }
  });

  it('an unwritable output folder: exit 2, nothing written', async () => {
    const parent = tempDir();
    writeFileSync(join(parent, 'file'), 'x');
    const r = await cli(['export', '-m', 'mobilenetv2_100', '--coreml', '-o', join(parent, 'file', 'sub')]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/cannot write to output folder/);
    expect(readdirSync(parent)).toEqual(['file']);
  });

  it('bad Core ML options', async () => {
    const r = await cli(['export', '-m', 'mobilenetv2_100', '--coreml', '--min-target', 'iOS13', '-o', tempDir()]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/--min-target iOS13 is not supported: use iOS16 or later/);
  });
});

describe('eformer doctor', () => {
  it('lists every external piece with found or missing and how to install', async () => {
    const r = await cli(['doctor', '--json']);
    expect(r.exitCode).toBe(0);
    const pieces = JSON.parse(r.stdout) as { name: string; found?: string; install: string }[];
    // The bridge first, then each backend's own pieces in registry order.
    expect(pieces.map((p) => p.name)).toEqual(['python (for Core ML)', 'coremltools (+ onnx)', 'Core ML bridge', "ai-edge-litert (LiteRT's interpreter)", 'onnxruntime-node', 'chromium (ort-web)', 'xcrun', 'xcodebuild', 'adb', 'onnxruntime_perf_test (Android)', 'benchmark_model (LiteRT, Android arm64)']);
    // A tool two backends use (adb, for both Android backends) is listed once.
    expect(pieces.find((p) => p.name === 'coremltools (+ onnx)')!.found).toMatch(/^9\.0 via .*\.eformer\/venv/);
    for (const p of pieces) expect(p.install.length).toBeGreaterThan(3);
  });
});
