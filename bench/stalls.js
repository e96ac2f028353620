// How long eformer's commands hold the event loop (and so how long Ctrl-C or SIGTERM can go
// unanswered): each command runs once with bench/stall-monitor.cjs preloaded, which records the
// longest stretch the loop did not turn, and when.
//
//   npm run bench:stalls [-- --model efficientformer_l7]
//
// The goal is about a second at most, on the largest of the papers' models. onnxruntime's runs do not
// count (they run in threads); building a model, writing its graph and quantising its weights do.
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { model: { type: 'string', default: 'efficientformer_l7' } } });
const dir = mkdtempSync(join(tmpdir(), 'eformer-bench-stalls-'));
const out = join(dir, 'out');
const m = values.model;
const commands = [
  ['count', '-m', m],
  ['export', '-m', m, '--onnx', '-o', out],
  ['export', '-m', m, '--tflite', '-o', out],
  ['export', '-m', m, '--onnx', '--tflite', '--int8', '-o', out],
  ['profile', '-m', m, '--runs', '5', '--warmup', '1', '--no-reference', '--no-cold-start', '--json', join(dir, 'one.json')],
  // The largest results file report reads: that result repeated to 60 MB, just under the 64 MiB input bound.
  ['report', join(dir, 'big.json'), '-o', join(dir, 'big.html')],
  ['profile', '-b', 'litert', '-m', m, '--runs', '5', '--warmup', '1', '--no-reference', '--no-cold-start'],
];
console.log(`${'command'.padEnd(60)}  longest hold ms  at s  total s`);
for (const args of commands) {
  const log = join(dir, 'stall.json');
  const r = await execa('node', ['bin/eformer.js', ...args], {
    reject: false,
    env: { NODE_OPTIONS: `--require ${join(import.meta.dirname, 'stall-monitor.cjs')}`, EFORMER_STALL_LOG: log },
  });
  if (r.exitCode !== 0) throw new Error(`eformer ${args.join(' ')} exited ${r.exitCode}: ${r.stderr}`);
  if (args.includes(join(dir, 'one.json'))) {
    const one = JSON.parse(readFileSync(join(dir, 'one.json'), 'utf8'));
    const copies = Math.floor(60e6 / JSON.stringify(one.results[0]).length);
    const results = Array.from({ length: copies }, (_, i) => ({ ...one.results[0], model: `${one.results[0].model}_${i}` }));
    writeFileSync(join(dir, 'big.json'), JSON.stringify({ ...one, results }));
  }
  const s = JSON.parse(readFileSync(log, 'utf8'));
  console.log(`${args.join(' ').replaceAll(out, 'OUT').replaceAll(dir, 'DIR').padEnd(60)}  ${s.ms.toFixed(0).padStart(15)}  ${(s.at / 1000).toFixed(1).padStart(4)}  ${(s.total / 1000).toFixed(1).padStart(7)}`);
  rmSync(out, { recursive: true, force: true });
}
rmSync(dir, { recursive: true, force: true });
