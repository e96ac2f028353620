import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildWithRandomWeights, efficientFormerV2, type EfficientFormerV2Config, findModel, onnxBytes, papersZooNames, zoo } from '../src/index.js';
import { cli, runOnnx, tempDir, testInput } from './helpers.js';

/** One line on stderr, no stack trace. */
function expectOneLine(stderr: string, pattern: RegExp) {
  const lines = stderr.trim().split('\n');
  expect(lines[0]).toMatch(pattern);
  expect(stderr).not.toMatch(/\n\s+at /);
}

describe('eformer count', () => {
  it('--json prints records of the documented shape', async () => {
    const r = await cli('count', '--model', 'efficientformerv2_s0', '--json');
    expect(r.code).toBe(0);
    const records = JSON.parse(r.stdout);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ model: 'efficientformerv2_s0', resolution: 224 });
    expect(Object.keys(records[0].params).sort()).toEqual(['deployed', 'toolbox', 'total']);
    expect(Object.keys(records[0].macs).sort()).toEqual(['standard', 'toolbox']);
    expect(records[0].params.toolbox).toBe(3534553);
  });

  it('--by-layer shows layers and per-stage subtotals', async () => {
    const r = await cli('count', '--model', 'efficientformer_l1', '--by-layer');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/network\.6\.4\.token_mixer\s+Attention/);
    expect(r.stdout).toMatch(/= network\.6\s+subtotal/);
    expect(r.stdout).toMatch(/= patch_embed\s+subtotal/);
    expect(r.stdout).toContain('1,300,053,440');
  });

  it("counts the papers' nine by default, as the README says, and the whole zoo with -m all", async () => {
    const r = await cli('count', '--json');
    expect(JSON.parse(r.stdout).map((x: { model: string }) => x.model)).toEqual(papersZooNames());
    expect(papersZooNames()).toHaveLength(9);
    expect((await cli('count', '--help')).stdout.replace(/\s+/g, ' ')).toContain("default: the EfficientFormer papers' nine models");
    expect(JSON.parse((await cli('count', '-m', 'all', '--json')).stdout)).toHaveLength(zoo.length);
  });
});

describe('eformer models', () => {
  it("lists the zoo with the paper's figures", async () => {
    const r = await cli('models');
    expect(r.code).toBe(0);
    for (const name of ['efficientformer_l7', 'efficientformerv2_l', 'mobilenetv2_140']) expect(r.stdout).toContain(name);
    expect(r.stdout).toMatch(/efficientformerv2_s0.*75\.7.*3\.5.*0\.40.*0\.9/);
  });
});

describe('eformer export', () => {
  it('writes DIR/NAME.onnx and prints the counts', async () => {
    const dir = tempDir();
    const r = await cli('export', '--model', 'efficientformerv2_s0', '--onnx', '--out-dir', dir);
    expect(r.code).toBe(0);
    expect(existsSync(join(dir, 'efficientformerv2_s0.onnx'))).toBe(true);
    expect(r.stdout).toContain('3.535');
  });
});

describe('bad input: one line, exit 2, nothing written', () => {
  it('unknown model names the allowed ones', async () => {
    const r = await cli('export', '--model', 'efficientformer_l9', '--onnx');
    expect(r.code).toBe(2);
    expectOneLine(r.stderr, /unknown model 'efficientformer_l9'; efficientformer has efficientformer_l1, efficientformer_l3, efficientformer_l7;/);
    const v2 = await cli('count', '--model', 'efficientformerv2_s9');
    expectOneLine(v2.stderr, /unknown model 'efficientformerv2_s9'; efficientformerv2 has efficientformerv2_s0,/);
    const other = await cli('count', '--model', 'resnet50');
    expectOneLine(other.stderr, /unknown model 'resnet50'; families: efficientformer, efficientformerv2, mobilenetv2/);
  });

  it('V1 at a size its 7x7 attention cannot take', async () => {
    const dir = tempDir();
    const r = await cli('export', '--model', 'efficientformer_l3', '--resolution', '256', '--onnx', '--out-dir', dir);
    expect(r.code).toBe(2);
    expectOneLine(r.stderr, /efficientformer_l3 cannot take resolution 256: .*7x7 grid.*193 to 224/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('V2 at a size its strided attention cannot take', async () => {
    const r = await cli('count', '--model', 'efficientformerv2_s1', '--resolution', '200');
    expect(r.code).toBe(2);
    expectOneLine(r.stderr, /needs an even grid \(ceil\(R\/16\) even\): use 177 to 192 or 209 to 224/);
  });

  it("V2 takes exactly the README's sizes: R from 32m-15 to 32m for every m >= 1, 17 to 32 included", () => {
    const s0 = findModel('efficientformerv2_s0');
    const accepted = (r: number) => {
      try {
        efficientFormerV2.checkResolution(s0.config as EfficientFormerV2Config, r, 'efficientformerv2_s0');
        return true;
      } catch {
        return false;
      }
    };
    for (let r = 1; r <= 400; r++) expect(accepted(r), `resolution ${r}`).toBe(r >= 17 && (r + 15) % 32 < 16);
    // Below the first range only the next one is named (no negative sizes).
    expect(() => efficientFormerV2.checkResolution(s0.config as EfficientFormerV2Config, 16, 'efficientformerv2_s0')).toThrow(/ceil\(R\/16\) even\): use 17 to 32 \(e\.g\./);
  });

  it('V2 at 17 and 31 builds, exports and runs in onnxruntime, with finite logits', async () => {
    for (const resolution of [17, 31]) {
      const built = buildWithRandomWeights({ model: 'efficientformerv2_s0', resolution });
      const logits = await runOnnx(onnxBytes(built).bytes, testInput(resolution), [1, 3, resolution, resolution]);
      expect(logits).toHaveLength(1000);
      expect(logits.every(Number.isFinite)).toBe(true);
    }
  });

  it('a resolution that is not a number', async () => {
    const r = await cli('count', '--model', 'efficientformerv2_s1', '--resolution', 'big');
    expect(r.code).toBe(2);
    expectOneLine(r.stderr, /--resolution must be an integer/);
  });

  it('an output folder that cannot be written', async () => {
    const dir = tempDir();
    const file = join(dir, 'not-a-folder');
    writeFileSync(file, 'x');
    const r = await cli('export', '--model', 'mobilenetv2_100', '--onnx', '--out-dir', join(file, 'sub'));
    expect(r.code).toBe(2);
    expectOneLine(r.stderr, /cannot write to output folder .*not a folder/);
    expect(readdirSync(dir)).toEqual(['not-a-folder']);
  });

  it('an opset out of range', async () => {
    const r = await cli('export', '--model', 'mobilenetv2_100', '--onnx', '--opset', '11', '--out-dir', tempDir());
    expect(r.code).toBe(2);
    expectOneLine(r.stderr, /opset 11 is not supported: use 17 to 21/);
  });

  it('export without a format', async () => {
    const r = await cli('export', '--model', 'mobilenetv2_100');
    expect(r.code).toBe(2);
    expectOneLine(r.stderr, /add --onnx/);
  });

  it('an unknown option', async () => {
    const r = await cli('count', '--frobnicate');
    expect(r.code).toBe(2);
    expectOneLine(r.stderr, /unknown option '--frobnicate'/);
  });

  it('--verbose adds the stack trace', async () => {
    const r = await cli('count', '--model', 'nope', '--verbose');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\n\s+at /);
  });
});
