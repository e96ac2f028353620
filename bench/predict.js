// How well latency tables predict whole models they never saw, on this machine.
//   npm run bench:predict [-- --backend ort-cpu|ort-web --variants 40 --runs 30 --sessions 1 --training 24 --cases v1@224,v2@224,v2@256 --json out.json]
// For each case (family at a resolution): build the table (blocks, and the training set of
// random configurations, seed 1, that fits the correction), then draw held-out configurations
// with other seeds (none of them in the training set), time each whole, interleaved with the
// table's reference, and predict it. Errors are of ratios to the reference, measured within
// the same rounds, so the machine's drift between the table and the measurement cancels (see
// README, "Predicting latency"). Also timed: building the table, one prediction, one search.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { buildLut, correctedRatio, fitCorrection, measurePoints, pointEntry, predictLatency, samplePoints, search, searchableFamily, spaceFor } from '../dist/index.js';

const { values: args } = parseArgs({
  options: {
    backend: { type: 'string', default: 'ort-cpu' },
    variants: { type: 'string', default: '40' },
    runs: { type: 'string', default: '30' },
    sessions: { type: 'string', default: '1' },
    training: { type: 'string', default: '24' },
    cases: { type: 'string', default: 'v1@224,v2@224,v2@256' },
    json: { type: 'string' },
  },
});
const FAMILIES = { v1: 'efficientformer', v2: 'efficientformerv2' };
const settings = { backend: args.backend, runs: Number(args.runs), sessions: Number(args.sessions), threads: 2 };
const report = { backend: args.backend, sessions: settings.sessions, cases: [] };

for (const c of args.cases.split(',')) {
  const [short, res] = c.split('@');
  const family = searchableFamily(FAMILIES[short]);
  const resolution = Number(res);
  let t = performance.now();
  const lut = await buildLut({ family: family.id, resolution, training: Number(args.training), seed: 1, ...settings });
  const buildSeconds = (performance.now() - t) / 1000;

  // Held out: other seeds, and any configuration that happens to be in the training set dropped.
  const space = spaceFor(family, undefined, resolution);
  const trained = new Set(lut.training.map((r) => JSON.stringify(r.point)));
  const held = samplePoints(family, space, Number(args.variants) + 10, 1000 + resolution).filter((p) => !trained.has(JSON.stringify(p))).slice(0, Number(args.variants));
  const measured = await measurePoints(family, held, resolution, lut.reference.model, settings, 'heldout');

  const predictMs = [];
  const sums = []; // each prediction's block sums, to refit other corrections with
  const errors = measured.map((m, i) => {
    t = performance.now();
    const p = predictLatency(lut, 'lut', pointEntry(family, m.point, `heldout_${i}`), { resolution });
    predictMs.push(performance.now() - t);
    sums.push({ sum_ratio: p.sum_ratio, blocks: p.blocks.length, io_melements: p.io_melements });
    return p.ratio / m.ratio - 1;
  });
  t = performance.now();
  const s = search(lut, 'lut', family, { budgetMs: lut.reference.median_ms });
  const searchSeconds = (performance.now() - t) / 1000;

  const within = errors.filter((e) => Math.abs(e) <= 0.1).length / errors.length;
  const rmspe = Math.sqrt(errors.reduce((a, e) => a + e * e, 0) / errors.length);
  // What the elements-moved term is worth: the same training set fitted without it, on the same held-out models.
  const without = fitCorrection(lut.training.map(({ io_melements, ...t }) => t));
  const errorsWithout = measured.map((m, i) => correctedRatio(without, sums[i]) / m.ratio - 1);
  const sorted = [...predictMs].sort((a, b) => a - b);
  const row = {
    case: `${family.id}@${resolution}`,
    blocks: lut.entries.length,
    training: lut.training.length,
    held_out: errors.length,
    within_10pct: within,
    rmspe,
    max_abs_error: Math.max(...errors.map(Math.abs)),
    training_rmspe: lut.correction?.training_rmspe,
    lut_build_s: buildSeconds,
    predict_ms_median: sorted[Math.floor(sorted.length / 2)],
    search_s: searchSeconds,
    search_evaluated: s.evaluated,
    reference: `${lut.reference.model} ${lut.reference.median_ms.toFixed(3)} ms`,
    errors,
    without_io_term: {
      within_10pct: errorsWithout.filter((e) => Math.abs(e) <= 0.1).length / errorsWithout.length,
      rmspe: Math.sqrt(errorsWithout.reduce((a, e) => a + e * e, 0) / errorsWithout.length),
      training_rmspe: without?.training_rmspe,
    },
    correction: lut.correction,
    // Everything needed to refit other corrections offline.
    training_records: lut.training,
    held_out_records: measured.map((m, i) => ({ point: m.point, measured_ratio: m.ratio, ...sums[i] })),
  };
  report.cases.push(row);
  console.log(
    `${row.case} on ${args.backend}${settings.sessions > 1 ? ` (${settings.sessions} sessions a model)` : ''}: ${(within * 100).toFixed(0)}% of ${row.held_out} held-out variants within ±10%, RMSPE ${(rmspe * 100).toFixed(1)}% (max ${(row.max_abs_error * 100).toFixed(1)}%; training ${(row.training_rmspe * 100).toFixed(1)}% on ${row.training}); ` +
      `without the elements-moved term ${(row.without_io_term.within_10pct * 100).toFixed(0)}% / RMSPE ${(row.without_io_term.rmspe * 100).toFixed(1)}%; ` +
      `table of ${row.blocks} blocks built in ${buildSeconds.toFixed(0)} s, a prediction ${row.predict_ms_median.toFixed(1)} ms, a search ${searchSeconds.toFixed(1)} s (${s.evaluated} configurations); reference ${row.reference}`,
  );
}
if (args.json) writeFileSync(args.json, `${JSON.stringify(report, null, 1)}\n`);
