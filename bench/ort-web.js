// onnxruntime-web (WASM in headless Chromium) against its own profiler and against native. Run: npm run bench:web
//  1. harness overhead: for the same runs of efficientformerv2_s0, eformer's in-page median against the median
//     of onnxruntime-web's own `model_run` durations (its profile, caught from the browser console);
//  2. profiler overhead: a plain and a profiled ort-web session, interleaved in short turns (see interleaved());
//  3. WASM vs native: an ort-cpu and an ort-web session, 2 threads each, interleaved run by run in one bench run,
//     so both see the same machine at the same moment; the spread is that of the per-round ratios.
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildWithRandomWeights, onnxBytes } from '../dist/index.js';
import { ortCpu } from '../dist/profile/backends/ort-cpu.js';
import { ortWeb } from '../dist/profile/backends/ort-web.js';
import { parseTrace } from '../dist/profile/breakdown.js';
import { median, medianCi, quantile } from '../dist/profile/stats.js';

const dir = mkdtempSync(join(tmpdir(), 'eformer-bench-web-'));
const pct = (a, b) => `${a > b ? '+' : ''}${(((a - b) / b) * 100).toFixed(2)}%`;
const ms = (x) => `${x.toFixed(3)} ms`;
const WARMUP = 30;
// ort-cpu with spinning off, as eformer interleaves it (an idle spinning pool steals the timed session's cores);
// eformer's ort-web ignores `spinning` (onnxruntime-web's own default applies).
const OPTIONS = { threads: 2, graphOptimization: 'all', executionProvider: 'cpu', spinning: false };

function source(model) {
  return { name: model, onnx: onnxBytes(buildWithRandomWeights({ model })).bytes, inputs: [{ name: 'image', shape: [1, 3, 224, 224], dtype: 'float32' }] };
}

/** Per-round ratios b/a: their median, its 95% interval and the middle half of the rounds. */
function roundRatios(a, b) {
  const ratios = b.map((x, k) => x / a[k]).sort((x, y) => x - y);
  const [lo, hi] = medianCi(ratios);
  const x = (v) => `${v.toFixed(3)}x`;
  return `per-round ratio median ${x(median(ratios))} (95% CI ${x(lo)}-${x(hi)}, middle half of rounds ${x(quantile(ratios, 0.25))}-${x(quantile(ratios, 0.75))})`;
}

/**
 * Warm every session up, then give them turns round by round, alternating which goes first; each
 * turn is `turn` runs, and a session's figure for the round is their median. With turn > 1 the first
 * run of a turn is dropped: here the first run on a Chromium page right after another page ran is
 * about 50% slower (efficientformerv2_s0: 92 against 61 ms, all of it in the first half of the graph;
 * gone after ~200 ms idle; none after an ort-cpu run), which run-by-run turns would charge to both pages.
 */
async function interleaved(sessions, rounds, turn = 1) {
  for (let i = 0; i < WARMUP; i++) for (const s of sessions) await s.run();
  const times = sessions.map(() => []);
  for (let i = 0; i < rounds; i++) {
    const order = sessions.map((_, k) => k);
    if (i % 2) order.reverse();
    for (const k of order) {
      if (turn > 1) await sessions[k].run();
      const kept = [];
      for (let j = turn > 1 ? 1 : 0; j < turn; j++) kept.push(await sessions[k].run());
      times[k].push(median(kept));
    }
  }
  return times;
}

async function harnessOverhead(model, runs = 200) {
  const session = await ortWeb.open(source(model), { ...OPTIONS, profilePrefix: join(dir, 'harness') });
  for (let i = 0; i < WARMUP; i++) await session.run();
  const ours = [];
  for (let i = 0; i < runs; i++) ours.push(await session.run());
  const trace = await session.close();
  // open() ran once to check the model, then the warm-up runs: skip those model_run events.
  const ort = parseTrace(trace).filter((e) => e.cat === 'Session' && e.name === 'model_run').slice(1 + WARMUP).map((e) => e.dur / 1000);
  const [m1, m2] = [median(ours), median(ort)];
  console.log(
    `harness overhead ${model} on ort-web: eformer in-page median ${ms(m1)}, onnxruntime-web model_run median ${ms(m2)} over the same ${ort.length} runs: ` +
      `the harness adds ${pct(m1, m2)} (${ms(m1 - m2)})`,
  );
}

async function profilerOverhead(model, rounds = 50, turn = 4) {
  const both = source(model);
  const plain = await ortWeb.open(both, OPTIONS);
  const profiled = await ortWeb.open(both, { ...OPTIONS, profilePrefix: join(dir, 'overhead') });
  try {
    const times = await interleaved([plain, profiled], rounds, turn);
    const [a, b] = times.map(median);
    console.log(
      `profiler overhead ${model} on ort-web: ${ms(a)} plain, ${ms(b)} with onnxruntime-web's profiler on (${pct(b, a)}); ` +
        `${roundRatios(...times)} over ${rounds} interleaved rounds of ${turn} runs a page (the first dropped)`,
    );
  } finally {
    await plain.close();
    await profiled.close();
  }
}

/**
 * Side by side in one run, in turns of `turn` runs (the first dropped): run-by-run turns slowed the
 * native runs too (l1: 30.9 ms interleaved against 22.8 ms alone), so each side also runs alone
 * right after, for the ratio without any switching.
 */
async function wasmVsNative(model, rounds = 100, turn = 4) {
  const both = source(model);
  const native = await ortCpu.open(both, OPTIONS);
  const web = await ortWeb.open(both, OPTIONS);
  try {
    const [n, w] = await interleaved([native, web], rounds, turn);
    const alone = async (s) => {
      for (let i = 0; i < WARMUP; i++) await s.run();
      const t = [];
      for (let i = 0; i < rounds; i++) t.push(await s.run());
      return median(t);
    };
    const [an, aw] = [await alone(native), await alone(web)];
    console.log(
      `WASM vs native ${model}: ort-cpu median ${ms(median(n))}, ort-web median ${ms(median(w))}, ratio of medians ${(median(w) / median(n)).toFixed(3)}x; ` +
        `${roundRatios(n, w)} over ${rounds} interleaved rounds of ${turn} runs a side (the first dropped); ` +
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
