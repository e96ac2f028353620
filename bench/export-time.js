// Time `eformer export --onnx` for the seven EfficientFormers two ways, alternating so drift
// hits both alike: seven separate CLI processes (what a user or a CI script runs), and the same
// seven exports in one process through the library.
//   npm run bench:export [-- --repeats 3]
// Goal (issue 11): the seven separate processes in under 9 s in total.
//
//   npm run bench:export -- --successors
// Every variant of the families after EfficientFormer exported in one process, against the time
// torch.onnx.export takes for the same models (the `export_s` each family's reference script
// reports for torch.onnx.export alone, weights loaded). Goal (issue 15): ours within 2x of torch's.
// Needs the Python and reference checkouts bench:ort needs (EFORMER_TORCH_PYTHON, EFORMER_REFS).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { writeFileSync } from 'node:fs';
import { buildWithRandomWeights, exportOnnx, papersZooNames, stateDictBytes, zoo } from '../dist/index.js';

const { values: args } = parseArgs({ options: { repeats: { type: 'string', default: '3' }, successors: { type: 'boolean', default: false } } });
const FAMILY_REPOS = { mobilevig: 'MobileViG', nextvit: 'Next-ViT', efficientmod: 'EfficientMod', fcaformer: 'FcaFormer', vcmamba: 'VCMamba' };

if (args.successors) {
  const papers = new Set(papersZooNames());
  const successors = zoo.filter((m) => !papers.has(m.name)).map((m) => m.name);
  const dir = mkdtempSync(join(tmpdir(), 'eformer-bench-'));
  try {
    let ours = 0;
    for (const model of successors) {
      const t0 = performance.now();
      exportOnnx({ model, outDir: dir });
      const s = (performance.now() - t0) / 1000;
      ours += s;
      console.log(`ours  ${model.padEnd(22)} ${s.toFixed(2).padStart(7)} s`);
    }
    const python = process.env.EFORMER_TORCH_PYTHON ?? '/opt/refvenv/bin/python';
    const refs = process.env.EFORMER_REFS ?? '/tmp/refs';
    let torch = 0;
    for (const model of successors) {
      const built = buildWithRandomWeights({ model });
      const weights = join(dir, `${model}.safetensors`);
      writeFileSync(weights, stateDictBytes(built));
      const family = built.entry.family.id;
      const script = fileURLToPath(new URL(`../scripts/families/${family}.py`, import.meta.url));
      const r = await execa(python, [script, '--reference-repo', join(refs, FAMILY_REPOS[family]), 'torch-onnx', '--model', model, '--weights', weights, '--onnx-out', join(dir, `${model}.torch.onnx`)]);
      const s = JSON.parse(r.stdout.trim().split('\n').at(-1)).export_s;
      torch += s;
      console.log(`torch ${model.padEnd(22)} ${s.toFixed(2).padStart(7)} s`);
    }
    console.log(`${successors.length} successor variants: ours ${ours.toFixed(1)} s in one process, torch.onnx.export ${torch.toFixed(1)} s; ours/torch ${(ours / torch).toFixed(3)} (goal <= 2)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}
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
