// Time `eformer export --onnx` for the seven EfficientFormers two ways, alternating so drift
// hits both alike: seven separate CLI processes (what a user or a CI script runs), and the same
// seven exports in one process through the library.
//   npm run bench:export [-- --repeats 3]
// Goal (issue 11): the seven separate processes in under 9 s in total.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { exportOnnx, zoo } from '../dist/index.js';

const { values: args } = parseArgs({ options: { repeats: { type: 'string', default: '3' } } });
const cli = fileURLToPath(new URL('../bin/eformer.js', import.meta.url));
const models = zoo.filter((m) => m.family.id.startsWith('efficientformer')).map((m) => m.name);

function separateProcesses(dir) {
  const start = performance.now();
  for (const model of models) execFileSync(process.execPath, [cli, 'export', '-m', model, '--onnx', '-o', dir], { stdio: 'ignore' });
  return (performance.now() - start) / 1000;
}

function oneProcess(dir) {
  const rows = [];
  const start = performance.now();
  for (const model of models) {
    const t0 = performance.now();
    const { bytes } = exportOnnx({ model, outDir: dir });
    rows.push({ model, seconds: (performance.now() - t0) / 1000, mb: bytes / 1e6 });
  }
  return { total: (performance.now() - start) / 1000, rows };
}

const separate = [];
const inProcess = [];
let rows = [];
for (let i = 0; i < Number(args.repeats); i++) {
  const dir = mkdtempSync(join(tmpdir(), 'eformer-bench-'));
  try {
    separate.push(separateProcesses(dir));
    const one = oneProcess(dir);
    inProcess.push(one.total);
    rows = one.rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
for (const r of rows) console.log(`${r.model.padEnd(22)} ${r.seconds.toFixed(2).padStart(6)} s ${r.mb.toFixed(1).padStart(7)} MB (last in-process run)`);
const fmt = (xs) => xs.map((x) => x.toFixed(2)).join(', ');
console.log(`seven separate 'eformer export' processes: ${fmt(separate)} s (goal < 9 s)`);
console.log(`the same seven exports in one process:     ${fmt(inProcess)} s`);
