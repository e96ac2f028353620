/**
 * The IR operations the successor families brought (max, concat, slice/roll, sigmoid, SiLU,
 * softplus, exp, sum, constant gathers, ceil-mode pooling, bias-free linears): lowered to ONNX and
 * run in onnxruntime, and converted to Core ML and run by the MIL interpreter. The two runtimes
 * must agree on a graph that uses every one of them; each family's PyTorch equivalence test
 * checks their meaning against the reference code.
 */
import { describe, expect, it } from 'vitest';
import { checkNumerics, convertToCoreml, encodeOnnx, GraphBuilder, lowerToOnnx, randomizeWeights, runOnnx } from '../src/index.js';
import { tempDir, testInput } from './helpers.js';
import { join } from 'node:path';

function graph() {
  const b = new GraphBuilder('ops');
  const x = b.input('image', [1, 3, 14, 14]);
  let y = b.conv('stem', x, { out: 8, kernel: 3, stride: 2, pad: 1 }); // [1, 8, 7, 7]
  const rolled = b.max(b.roll(y, 2, 2), b.roll(y, -3, 3));
  y = b.concat([y, b.sub(rolled, y)], 1); // [1, 16, 7, 7]
  y = b.avgPool(y, { kernel: 2, stride: 2, pad: 0, countIncludePad: false, ceilMode: true }); // [1, 16, 4, 4]
  y = b.silu(y);
  const gate = b.sigmoid(b.softplus(b.slice(y, 1, 0, 8)));
  y = b.mul(b.slice(y, 1, 8, 16), gate);
  y = b.select(y, 3, [3, 1, 2, 0]);
  y = b.add(y, b.exp(b.scale(y, -1)));
  const tokens = b.transpose(b.reshape(y, [1, 8, 16]), [0, 2, 1]); // [1, 16, 8]
  const pooled = b.sum(b.linear('proj', tokens, 12, { bias: false }), [1]); // [1, 12]
  b.output(b.linear('head', pooled, 5), 'logits');
  const g = b.finish();
  randomizeWeights(g, 3);
  return g;
}

describe('new IR operations', () => {
  it('run in onnxruntime and in the Core ML interpreter, and agree', async () => {
    const onnx = encodeOnnx(lowerToOnnx(graph()), { producerVersion: 'test' });
    const input = testInput(14).slice(0, 3 * 14 * 14);
    const logits = (await runOnnx(onnx, { image: { data: input, shape: [1, 3, 14, 14] } })).logits;
    expect(logits).toHaveLength(5);
    expect(logits.every(Number.isFinite)).toBe(true);
    const pkg = join(tempDir(), 'ops.mlpackage');
    await convertToCoreml(onnx, pkg, { inputType: 'tensor', precision: 'fp32', classes: 5 });
    const check = await checkNumerics(pkg, { rgb: new Uint8Array(), logits, tensor: input, shape: [1, 3, 14, 14] }, { inputName: 'image', inputType: 'tensor', precision: 'fp32', classifier: false });
    expect(check.pass, check.problem).toBe(true);
    expect(check.relativeError!).toBeLessThan(1e-5);
  });
});
