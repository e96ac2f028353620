// onnxruntime-web (WASM in headless Chromium) against its own profiler and against native. Run: npm run bench:web
//  1. harness overhead: for the same runs of efficientformerv2_s0, eformer's in-page median against the median
//     of onnxruntime-web's own `model_run` durations (its profile, caught from the browser console);
//  2. profiler overhead: a plain and a profiled ort-web session, side by side in ort-web's turns;
//  3. WASM vs native: an ort-cpu and an ort-web session, 2 threads each, side by side in one bench run,
//     so both see the same machine at the same moment; the spread is that of the per-round ratios.
// Side by side means eformer's own timing loop (measure() in timing.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { harnessAgainstOwnTiming, ms, pct, sideBySide, source } from './common.js';
import { findBackend, median, medianCi, quantile, sameRoundRatios } from '../dist/index.js';

const ortCpu = findBackend('ort-cpu');
const ortWeb = findBackend('ort-web');

const dir = mkdtempSync(join(tmpdir(), 'eformer-bench-web-'));
const WARMUP = 30;
// ort-cpu with spinning off, as eformer interleaves it (an idle spinning pool steals the timed session's cores);
// eformer's ort-web ignores `spinning` (onnxruntime-web's own default applies).
const OPTIONS = { threads: 2, graphOptimization: 'all', executionProvider: 'cpu', spinning: false };

/** Per-round ratios b/a (sample k of both sides comes from the same round): median, 95% interval, middle half. */
function roundRatios(a, b) {
  const ratios = sameRoundRatios(b, a).sort((x, y) => x - y);
  const [lo, hi] = medianCi(ratios);
  const x = (v) => `${v.toFixed(3)}x`;
  return `per-round ratio median ${x(median(ratios))} (95% CI ${x(lo)}-${x(hi)}, middle half of rounds ${x(quantile(ratios, 0.25))}-${x(quantile(ratios, 0.75))})`;
}

async function harnessOverhead(model) {
  const r = await harnessAgainstOwnTiming(ortWeb, model, OPTIONS, join(dir, 'harness'), { warmup: WARMUP });
  console.log(
    `harness overhead ${model} on ort-web: eformer in-page median ${ms(r.ours)}, onnxruntime-web model_run median ${ms(r.own)} over the same ${r.runs} runs: ` +
      `the harness adds ${pct(r.ours, r.own)} (${ms(r.ours - r.own)})`,
  );
}

// ort-web's own turn (timing.ts): one discarded re-warm run, then three kept. The first run on a
// Chromium page right after another page ran is about 50% slower.
const TURN = ortWeb.turn;
const turnText = `turns of ${TURN.rewarm} discarded + ${TURN.keep} kept runs`;

async function profilerOverhead(model, runs = 150) {
  const both = source(model);
  const plain = await ortWeb.open(both, OPTIONS);
  const profiled = await ortWeb.open(both, { ...OPTIONS, profilePrefix: join(dir, 'overhead') });
  try {
    const times = await sideBySide([plain, profiled], { runs, warmup: WARMUP, turn: TURN });
    const [a, b] = times.map(median);
    console.log(
      `profiler overhead ${model} on ort-web: ${ms(a)} plain, ${ms(b)} with onnxruntime-web's profiler on (${pct(b, a)}); ` +
        `${roundRatios(...times)} over ${runs} runs each, side by side in ${turnText}`,
    );
  } finally {
    await plain.close();
    await profiled.close();
  }
}

/**
 * Side by side in one run, in ort-web's turns: run-by-run turns slowed the native runs too (l1:
 * 30.9 ms interleaved against 22.8 ms alone), so each side also runs alone right after, for the
 * ratio without any switching.
 */
async function wasmVsNative(model, runs = 300) {
  const both = source(model);
  const native = await ortCpu.open(both, OPTIONS);
  const web = await ortWeb.open(both, OPTIONS);
  try {
    const [n, w] = await sideBySide([native, web], { runs, warmup: WARMUP, turn: TURN });
    const alone = async (s) => median((await sideBySide([s], { runs: 100, warmup: WARMUP }))[0]);
    const [an, aw] = [await alone(native), await alone(web)];
    console.log(
      `WASM vs native ${model}: ort-cpu median ${ms(median(n))}, ort-web median ${ms(median(w))}, ratio of medians ${(median(w) / median(n)).toFixed(3)}x; ` +
        `${roundRatios(n, w)} over ${runs} runs each, side by side in ${turnText}; ` +
        `each alone right after: ${ms(an)} and ${ms(aw)}, ${(aw / an).toFixed(3)}x`,
    );
  } finally {
    await native.close();
    await web.close();
  }
}

try {
  const env = { ...ortCpu.environment(), ...ortWeb.environment() };
  console.log(`machine: ${cpus().length} cores; onnxruntime-node ${env.onnxruntime}, onnxruntime-web ${env.onnxruntime_web} in ${env.browser}; 2 threads each, warm-up ${WARMUP} runs`);
  await harnessOverhead('efficientformerv2_s0');
  await profilerOverhead('efficientformerv2_s0');
  await wasmVsNative('efficientformer_l1');
  await wasmVsNative('efficientformerv2_s0');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
