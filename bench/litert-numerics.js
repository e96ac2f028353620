// LiteRT numerics: every zoo model written as .tflite (fp32 and fp16; int8 for the models --int8
// names) and run in LiteRT's own interpreter (ai-edge-litert, XNNPACK applied), against onnxruntime
// on the same picture. No timing: it prints errors, top-5 agreement and delegation.
//   npm run bench:litert-numerics [-- --models efficientformer_l1,efficientformerv2_s0] [--int8 m1,m2 | --int8 default] [--no-fp16]
// Columns: rel. error = max |LiteRT - onnxruntime| / max |logit|; floor = the same figure for
// onnxruntime against itself, the graph with and without eformer's deployment passes (float
// reordering alone): a model whose floor is near or above the bound is ill-conditioned on its seeded
// random weights, whatever runs it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildWithRandomWeights, exportModel, INT8_SQNR_MARGIN_DB, onnxBytes, referencePrediction, runOnnx, TFLITE_TOLERANCE, zoo } from '../dist/index.js';

const { values: args } = parseArgs({ options: { models: { type: 'string' }, int8: { type: 'string' }, 'no-fp16': { type: 'boolean' } } });
const models = args.models ? args.models.split(',') : zoo.map((m) => m.name);
const SMALLEST = ['mobilenetv2_100', 'efficientformer_l1', 'efficientformerv2_s0', 'mobilevig_ti', 'nextvit_small', 'efficientmod_xxs', 'fcaformer_l1', 'vcmamba_s'];
const int8Models = args.int8 === undefined ? [] : args.int8 === 'default' ? SMALLEST : args.int8.split(',');

async function floor(model) {
  const built = buildWithRandomWeights({ model });
  const folded = onnxBytes(built).bytes;
  const reference = await referencePrediction(built, folded);
  const input = built.graph.inputs[0];
  const plain = (await runOnnx(onnxBytes(built, { passes: [] }).bytes, { [input.name]: { data: reference.tensor, shape: reference.shape } }))[built.graph.outputNames[0]];
  let diff = 0;
  let largest = 0;
  reference.logits.forEach((v, i) => {
    diff = Math.max(diff, Math.abs(v - plain[i]));
    largest = Math.max(largest, Math.abs(v));
  });
  return { floor: diff / largest, largest };
}

const pad = (s, n) => String(s).padEnd(n);
console.log(`bounds (max |diff| / max |logit|): fp32 ${TFLITE_TOLERANCE.fp32.toExponential(0)} with the same top-5, fp16 ${TFLITE_TOLERANCE.fp16.toExponential(0)}; int8: SQNR at most ${INT8_SQNR_MARGIN_DB} dB below the ONNX int8 graph's`);
console.log('model                 precision  rel. error  floor     max|logit|  top-5   delegated       TRANSPOSE  MB      verdict');
const failed = [];
for (const model of models) {
  const { floor: f, largest } = await floor(model);
  for (const precision of args['no-fp16'] ? ['fp32'] : ['fp32', 'fp16']) {
    const dir = mkdtempSync(join(tmpdir(), 'eformer-bench-litert-'));
    try {
      const { tflite: t, tfliteCheck: c } = await exportModel({ model, outDir: dir, tflite: { precision, verify: true } });
      const d = c.delegation;
      const rel = c.relativeError === null ? 'non-finite' : c.relativeError.toExponential(2);
      console.log(
        `${pad(model, 22)}${pad(precision, 11)}${pad(rel, 12)}${pad(f.toExponential(1), 10)}${pad(largest.toPrecision(4), 12)}${pad(c.top5Agree ? 'same' : 'DIFFER', 8)}${pad(`${d.delegated}/${d.ops} (${d.partitions})`, 16)}${pad(t.transposes, 11)}${pad((t.bytes / 1e6).toFixed(1), 8)}${c.pass ? 'ok' : `FAILED: ${c.problem}`}`,
      );
      if (!c.pass) failed.push(`${model} ${precision}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
if (int8Models.length) {
  console.log('\nint8 (64 seeded random calibration inputs, minmax): SQNR of the logits against the float graph on them');
  console.log('model                 TFLite int8  ONNX int8   delegated       MB      verdict');
  for (const model of int8Models) {
    const dir = mkdtempSync(join(tmpdir(), 'eformer-bench-litert-'));
    try {
      const { tflite: t, tfliteCheck: c } = await exportModel({ model, outDir: dir, tflite: { verify: true }, int8: { calibration: { random: 64 } } });
      const d = c.delegation;
      console.log(`${pad(model, 22)}${pad(`${c.sqnrDb?.toFixed(1)} dB`, 13)}${pad(`${c.onnxSqnrDb?.toFixed(1)} dB`, 12)}${pad(`${d.delegated}/${d.ops} (${d.partitions})`, 16)}${pad((t.bytes / 1e6).toFixed(1), 8)}${c.pass ? 'ok' : `FAILED: ${c.problem}`}`);
      if (!c.pass) failed.push(`${model} int8`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
console.log(failed.length ? `\nbeyond the bound: ${failed.join(', ')}` : '\nall within their bounds');
