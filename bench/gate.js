// False alarms and detections of the latency gate at its default settings, on this machine.
//   npm run bench:gate [-- --comparisons 100 --rounds 200]
// Each comparison measures baseline and current afresh (efficientformerv2_s0 interleaved with
// the reference mobilenetv2_100, as `eformer profile --reference` does) and asks the gate.
// A/A: the same model on both sides. Slow: the current side goes through a test backend
// that busy-waits 10% of each run's own time after it, a true ~10% slowdown.
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_BUDGET, buildWithRandomWeights, countBuilt, findBackend, gate, latencyStats, measure, onnxBytes, modelSource } from '../dist/index.js';

const ortCpu = findBackend('ort-cpu');

const { values: args } = parseArgs({ options: { comparisons: { type: 'string', default: '100' }, rounds: { type: 'string', default: '200' } } });
const comparisons = Number(args.comparisons);
const rounds = Number(args.rounds);
const MODEL = 'efficientformerv2_s0';
const REFERENCE = 'mobilenetv2_100';
const SLOWDOWN = 0.1;

async function open(model) {
  const built = buildWithRandomWeights({ model });
  const { bytes, onnx } = onnxBytes(built);
  const session = await ortCpu.open(
    modelSource(built, bytes),
    { graphOptimization: 'all', executionProvider: 'cpu', spinning: false },
  );
  return { session, counts: countBuilt(built, onnx) };
}

/** The test backend: the same session, made `SLOWDOWN` slower by spinning after each run. */
function slowed(session) {
  return async () => {
    const start = performance.now();
    const t = await session.run();
    const until = performance.now() + t * SLOWDOWN;
    while (performance.now() < until);
    return performance.now() - start;
  };
}

const model = await open(MODEL);
const reference = await open(REFERENCE);

function results(samples, refSamples) {
  const ratios = samples.map((s, k) => s / refSamples[k]);
  const entry = (name, s, counts) => ({
    model: name, backend: 'ort-cpu', batch: 1, params: counts.params, macs: counts.macs, runs: s.length, warmup_runs: 5,
    settings: {}, latency_ms: latencyStats(s), noisy: false,
    vs_reference: { model: REFERENCE, median: latencyStats(name === REFERENCE ? s.map(() => 1) : ratios).median, ratios: name === REFERENCE ? s.map(() => 1) : ratios },
  });
  return { schema: 'eformer.results/1', env: {}, results: [entry(MODEL, samples, model.counts), entry(REFERENCE, refSamples, reference.counts)] };
}

async function measurement(slow) {
  const t = await measure(
    [{ id: MODEL, run: slow ? slowed(model.session) : () => model.session.run() }, { id: REFERENCE, run: () => reference.session.run() }],
    { warmup: 5, runs: rounds, minTime: 1, minRuns: 1, maxRuns: rounds },
  );
  return results(t.get(MODEL).samples, t.get(REFERENCE).samples);
}

const options = { config: { defaults: DEFAULT_BUDGET, models: {} }, flags: {} };
const tally = { aa: { alarms: 0, n: 0, changes: [] }, slow: { detections: 0, n: 0, changes: [] } };
const start = performance.now();
for (let i = 0; i < comparisons; i++) {
  for (const kind of ['aa', 'slow']) {
    const base = await measurement(false);
    const cur = await measurement(kind === 'slow');
    const check = gate(base, cur, options).models.find((m) => m.model === MODEL).checks.find((c) => c.metric === 'latency');
    const t = tally[kind];
    t.n++;
    t.changes.push(check.change);
    if (check.outcome === 'regression') kind === 'aa' ? t.alarms++ : t.detections++;
  }
  if ((i + 1) % 10 === 0) console.error(`${i + 1}/${comparisons} pairs: ${tally.aa.alarms} false alarms, ${tally.slow.detections} detections`);
}
const minutes = (performance.now() - start) / 60000;
const spread = (xs) => { const s = [...xs].sort((a, b) => a - b); return `median ${(s[s.length >> 1] * 100).toFixed(1)}%, 2.5-97.5%: ${(s[Math.floor(s.length * 0.025)] * 100).toFixed(1)}% to ${(s[Math.ceil(s.length * 0.975) - 1] * 100).toFixed(1)}%`; };
console.log(`gate defaults: latency limit +${(DEFAULT_BUDGET.latency * 100).toFixed(0)}% and 95% CI above zero, ratio to ${REFERENCE}, ${rounds} interleaved rounds per side`);
console.log(`A/A:  ${tally.aa.alarms} false alarms in ${tally.aa.n} comparisons (measured change ${spread(tally.aa.changes)})`);
console.log(`slow: ${tally.slow.detections} detections in ${tally.slow.n} comparisons of a true +${SLOWDOWN * 100}% (measured change ${spread(tally.slow.changes)})`);
console.log(`${(minutes).toFixed(1)} minutes for ${4 * comparisons} measurements`);

// One full gate decision from the command line, as CI runs it: profile + gate, wall time.
const dir = mkdtempSync(join(tmpdir(), 'eformer-bench-gate-'));
const cliArgs = ['bin/eformer.js', 'profile', '-m', MODEL, '--reference', REFERENCE, '--runs', String(rounds), '--no-single-session', '--quiet'];
await execa('node', [...cliArgs, '--json', join(dir, 'base.json')], { cwd: new URL('..', import.meta.url) });
const t0 = performance.now();
const run = await execa('node', [...cliArgs, '--json', join(dir, 'cur.json'), '--baseline', join(dir, 'base.json')], { cwd: new URL('..', import.meta.url), reject: false });
console.log(`one gate decision from the CLI (profile ${MODEL} + reference, then gate): ${((performance.now() - t0) / 1000).toFixed(1)} s, exit ${run.exitCode}`);
rmSync(dir, { recursive: true, force: true });
