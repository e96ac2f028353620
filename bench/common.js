// What several benchmarks share: a zoo model as a backend source, percentage formatting, and
// "our median against the runtime's own model_run for the same runs".
import { RUN_BY_RUN, buildWithRandomWeights, measure, median, onnxBytes, parseTrace, modelSource } from '../dist/index.js';

export const pct = (a, b) => `${a > b ? '+' : ''}${(((a - b) / b) * 100).toFixed(2)}%`;
export const ms = (x) => `${x.toFixed(3)} ms`;

export function source(model) {
  const built = buildWithRandomWeights({ model });
  return modelSource(built, onnxBytes(built).bytes);
}

/**
 * Time `runs` runs with eformer's harness on a session that also writes the runtime's own profile,
 * and return both medians for the same runs. open() runs once to check the model, then the warm-up
 * runs: those model_run events are skipped.
 */
export async function harnessAgainstOwnTiming(backend, model, options, profilePrefix, { runs = 200, warmup = 30 } = {}) {
  const session = await backend.open(source(model), { ...options, profilePrefix });
  for (let i = 0; i < warmup; i++) await session.run();
  const ours = [];
  for (let i = 0; i < runs; i++) ours.push(await session.run());
  const trace = await session.close();
  const own = parseTrace(trace).filter((e) => e.cat === 'Session' && e.name === 'model_run').slice(1 + warmup).map((e) => e.dur / 1000);
  return { ours: median(ours), own: median(own), runs: own.length };
}

/**
 * Time sessions side by side with eformer's own loop (round-robin, the start rotating; `turn` as
 * in timing.ts) and return each session's kept runs, sample k of every session from the same round.
 */
export async function sideBySide(sessions, { runs, warmup = 30, turn = RUN_BY_RUN }) {
  const timed = sessions.map((s, k) => ({ id: String(k), run: () => s.run() }));
  const timings = await measure(timed, { warmup, runs, minTime: 1, minRuns: 1, maxRuns: runs }, undefined, turn);
  return timed.map((t) => timings.get(t.id).samples);
}
