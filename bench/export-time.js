// Time `eformer export --onnx` for the seven EfficientFormers (build, random weights, fold,
// encode, atomic write), in-process through the library. Run: npm run bench:export
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportOnnx, zoo } from '../dist/index.js';

const models = zoo.filter((m) => !m.baseline).map((m) => m.name);
const dir = mkdtempSync(join(tmpdir(), 'eformer-bench-'));
const rows = [];
const start = performance.now();
for (const model of models) {
  const t0 = performance.now();
  const { bytes } = exportOnnx({ model, outDir: dir });
  rows.push({ model, seconds: (performance.now() - t0) / 1000, mb: bytes / 1e6 });
}
const total = (performance.now() - start) / 1000;
rmSync(dir, { recursive: true, force: true });
for (const r of rows) console.log(`${r.model.padEnd(22)} ${r.seconds.toFixed(2).padStart(6)} s ${r.mb.toFixed(1).padStart(7)} MB`);
console.log(`${'total'.padEnd(22)} ${total.toFixed(2).padStart(6)} s (target < 10 s)`);
