// How much the profiler itself adds, and how repeatable it is. Run: npm run bench:profile
//  1. fidelity: for the same runs of efficientformer_l1, eformer's median against the median of
//     onnxruntime's own `model_run` durations (target: within 3%);
//  2. stability: two back-to-back `eformer profile --model efficientformerv2_s0` (target: within 3%);
//  3. breakdown: per-op node time against the measured median (target: within 5%), and how much
//     onnxruntime's profiler slows a run down (why eformer scales its shares to the median).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { harnessAgainstOwnTiming, pct, sideBySide, source } from './common.js';
import { findBackend, median } from '../dist/index.js';

const ortCpu = findBackend('ort-cpu');

const dir = mkdtempSync(join(tmpdir(), 'eformer-bench-profile-'));

async function fidelity(model) {
  const r = await harnessAgainstOwnTiming(ortCpu, model, { graphOptimization: 'all', executionProvider: 'cpu', spinning: false }, join(dir, 'fidelity'));
  console.log(`fidelity ${model}: eformer median ${r.ours.toFixed(3)} ms, onnxruntime model_run median ${r.own.toFixed(3)} ms over the same ${r.runs} runs: harness adds ${pct(r.ours, r.own)}`);
}

/** Interleaved: a plain session against one with onnxruntime's profiler on. */
async function profilerOverhead(model, rounds = 150) {
  const both = source(model);
  const options = { graphOptimization: 'all', executionProvider: 'cpu', spinning: false };
  const plain = await ortCpu.open(both, options);
  const profiled = await ortCpu.open(both, { ...options, profilePrefix: join(dir, 'overhead') });
  const times = await sideBySide([plain, profiled], { runs: rounds, warmup: 20 });
  await plain.close();
  await profiled.close();
  const [a, b] = times.map(median);
  console.log(`profiler overhead ${model}: ${a.toFixed(3)} ms plain, ${b.toFixed(3)} ms with onnxruntime's profiler on (${pct(b, a)}), interleaved`);
}

async function profileOnce(args, out) {
  await execa('node', ['bin/eformer.js', 'profile', ...args, '--json', out, '--quiet'], { cwd: new URL('..', import.meta.url) });
  return JSON.parse(readFileSync(out, 'utf8')).results[0];
}

async function stability(model) {
  const a = await profileOnce(['--model', model], join(dir, 'a.json'));
  const b = await profileOnce(['--model', model], join(dir, 'b.json'));
  console.log(`stability ${model}: two back-to-back runs, medians ${a.latency_ms.median.toFixed(3)} and ${b.latency_ms.median.toFixed(3)} ms: ${pct(b.latency_ms.median, a.latency_ms.median)} apart (CoV ${(a.latency_ms.cov * 100).toFixed(1)}%, ${(b.latency_ms.cov * 100).toFixed(1)}%)`);
}

async function breakdown(model) {
  const r = await profileOnce(['--model', model, '--breakdown', '--no-single-session'], join(dir, 'c.json'));
  const b = r.breakdown;
  const sum = b.by_op.reduce((s, row) => s + row.ms, 0);
  console.log(
    `breakdown ${model}: rows sum to ${sum.toFixed(3)} ms vs measured median ${r.latency_ms.median.toFixed(3)} ms (${pct(sum, r.latency_ms.median)}); ` +
      `raw profiler node time ${b.node_ms.toFixed(3)} ms/run (${pct(b.node_ms, r.latency_ms.median)}), profiler model_run ${b.model_run_ms.toFixed(3)} ms`,
  );
}

try {
  await fidelity('efficientformer_l1');
  await stability('efficientformerv2_s0');
  await profilerOverhead('efficientformer_l1');
  await profilerOverhead('efficientformerv2_s0');
  await breakdown('efficientformer_l1');
  await breakdown('efficientformerv2_s0');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
