// Core ML numerics on Linux: every zoo model converted (fp32 and fp16, ImageType input) and run
// through eformer's MIL interpreter against onnxruntime on the same picture. Prints the relative
// and absolute logits error, top-5 agreement, and the interpreter's own time (model loaded).
//   npm run bench:coreml-numerics [-- --models efficientformer_l1,efficientformerv2_s0]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { exportModel, NUMERIC_TOLERANCE, zoo } from '../dist/index.js';

const { values: args } = parseArgs({ options: { models: { type: 'string' } } });
const models = args.models ? args.models.split(',') : zoo.map((m) => m.name);
console.log(`tolerance (max |diff| / max |logit|): fp32 ${NUMERIC_TOLERANCE.fp32}, fp16 ${NUMERIC_TOLERANCE.fp16}`);
console.log('model                   precision  rel. error  abs. error  top-5  interpreter s  verdict');
for (const model of models) {
  for (const precision of ['fp32', 'fp16']) {
    const dir = mkdtempSync(join(tmpdir(), 'eformer-bench-numerics-'));
    try {
      const { numerics: n } = await exportModel({ model, outDir: dir, coreml: { precision, verify: true } });
      const rel = n.relativeError === null ? 'non-finite' : n.relativeError.toExponential(2);
      const abs = n.absoluteError === null ? '-' : n.absoluteError.toExponential(2);
      console.log(`${model.padEnd(24)}${precision.padEnd(11)}${rel.padStart(10)}  ${abs.padStart(10)}  ${(n.top5Agree ? 'agree' : 'DIFFER').padEnd(5)}  ${n.seconds.toFixed(2).padStart(13)}  ${n.pass ? 'ok' : `FAILED: ${n.problem}`}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
