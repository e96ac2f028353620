// One side of a gate comparison: efficientformerv2_s0 interleaved with the reference
// mobilenetv2_100 for N rounds, as `eformer profile --reference` measures it, returned as a
// results file. `slow` runs s0 through a test backend that busy-waits 10% of each run's own time
// after it: a true ~10% slowdown. bench/gate.js calls it in-process, or runs this file as a
// separate process per side (what CI does: baseline and current come from different processes):
//   node bench/gate-side.js --rounds 200 [--slow] --out side.json
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildWithRandomWeights, countBuilt, findBackend, latencyStats, measure, modelSource, onnxBytes, sameRoundRatios } from '../dist/index.js';

export const MODEL = 'efficientformerv2_s0';
export const REFERENCE = 'mobilenetv2_100';
export const SLOWDOWN = 0.1;

async function open(model) {
  const built = buildWithRandomWeights({ model });
  const { bytes } = onnxBytes(built);
  const session = await findBackend('ort-cpu').open(modelSource(built, bytes), { graphOptimization: 'all', executionProvider: 'cpu', spinning: false });
  return { session, counts: countBuilt(built) };
}

/** The test backend: the same session, made SLOWDOWN slower by spinning after each run (also bench/gate-slow.js's, for the CLI). */
export function slowed(session) {
  return async () => {
    const start = performance.now();
    const t = await session.run();
    const until = performance.now() + t * SLOWDOWN;
    while (performance.now() < until);
    return performance.now() - start;
  };
}

/** Sessions for both models, opened once and reused by every measurement of this process. */
export async function openSides() {
  return { model: await open(MODEL), reference: await open(REFERENCE) };
}

export async function measureSide(sides, { rounds, slow }) {
  const { model, reference } = sides;
  const t = await measure(
    [{ id: MODEL, run: slow ? slowed(model.session) : () => model.session.run() }, { id: REFERENCE, run: () => reference.session.run() }],
    { warmup: 5, runs: rounds, minTime: 1, minRuns: 1, maxRuns: rounds },
  );
  const samples = t.get(MODEL).samples;
  const refSamples = t.get(REFERENCE).samples;
  const ratios = sameRoundRatios(samples, refSamples);
  const entry = (name, s, counts, r) => ({
    model: name, backend: 'ort-cpu', batch: 1, params: counts.params, macs: counts.macs, runs: s.length, warmup_runs: 5,
    settings: {}, latency_ms: latencyStats(s), noisy: false,
    vs_reference: { model: REFERENCE, median: latencyStats(r).median, ratios: r },
  });
  return { schema: 'eformer.results/1', env: {}, results: [entry(MODEL, samples, model.counts, ratios), entry(REFERENCE, refSamples, reference.counts, refSamples.map(() => 1))] };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '200' }, slow: { type: 'boolean', default: false }, out: { type: 'string' } } });
  const sides = await openSides();
  const file = await measureSide(sides, { rounds: Number(values.rounds), slow: values.slow });
  writeFileSync(values.out, JSON.stringify(file));
  for (const s of Object.values(sides)) await s.session.close();
}
