// Core ML conversion time and output sizes for efficientformer_l1: fp32, fp16, int8, palettize4.
//   npm run bench:coreml   (needs `eformer setup coreml` first)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportModel } from '../dist/index.js';

const model = process.argv[2] ?? 'efficientformer_l1';
const dir = mkdtempSync(join(tmpdir(), 'eformer-bench-coreml-'));
const variants = [
  ['fp32', { precision: 'fp32' }],
  ['fp16', { precision: 'fp16' }],
  ['int8', { quantize: 'int8' }],
  ['palettize4', { quantize: 'palettize4' }],
  ['neuralnetwork fp32 (.mlmodel)', { format: 'neuralnetwork' }],
];
try {
  for (const [label, options] of variants) {
    const t0 = performance.now();
    const { coreml } = await exportModel({ model, outDir: join(dir, label.replace(/\W+/g, '_')), coreml: options });
    const total = (performance.now() - t0) / 1000;
    console.log(`${model} ${label.padEnd(30)} ${(coreml.bytes / 1e6).toFixed(1).padStart(6)} MB   bridge ${coreml.seconds.toFixed(1)} s, export total ${total.toFixed(1)} s`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
