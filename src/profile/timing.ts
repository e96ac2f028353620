/**
 * The timing loop.
 *
 * Warm-up: run each model until its latency settles (the median of the last window of runs
 * within SETTLE_TOLERANCE of the window before), or a fixed --warmup count.
 *
 * Measurement: models take turns round-robin, so slow drift (thermal, other tenants) hits
 * all of them alike. Each turn is a short burst of runs of one model, and the first run of
 * every burst is thrown away: onnxruntime's intra-op threads keep spinning for a while after
 * a run, and the first run after a switch competes with the previous session's spinning
 * threads. This keeps spinning on, as applications deploy it, while only one session is
 * ever busy at a time.
 */

export interface TimedSession {
  id: string;
  run(): Promise<number>;
}

export interface TimingPlan {
  /** Fixed warm-up runs; undefined means "until latency settles". */
  warmup?: number;
  /** Fixed number of kept runs per model. */
  runs?: number;
  /** Otherwise: keep measuring until each model has this many seconds of kept runs. */
  minTime: number;
  /** Lower bound on kept runs per model in --min-time mode. */
  minRuns: number;
  /** Upper bound on kept runs per model in --min-time mode. */
  maxRuns: number;
  /** Target length of one burst, in milliseconds. */
  burstMs: number;
}

export const DEFAULT_PLAN: TimingPlan = { minTime: 2, minRuns: 10, maxRuns: 2000, burstMs: 60 };

export interface Timing {
  samples: number[];
  warmupRuns: number;
  discardedRuns: number;
}

export type Progress = (event: { phase: 'warmup' | 'measure'; id: string; done: number; total: number }) => void;

const SETTLE_WINDOW = 5;
const SETTLE_TOLERANCE = 0.05;
const MAX_WARMUP_RUNS = 200;
const MAX_WARMUP_MS = 5000;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

/** Warm one session up; returns the runs spent and the last latency seen. */
export async function warmUp(session: TimedSession, fixed?: number): Promise<{ runs: number; latency: number }> {
  const seen: number[] = [];
  if (fixed !== undefined) {
    for (let i = 0; i < fixed; i++) seen.push(await session.run());
    return { runs: fixed, latency: seen.length ? median(seen) : await session.run() };
  }
  const start = performance.now();
  for (;;) {
    seen.push(await session.run());
    const n = seen.length;
    if (n >= 2 * SETTLE_WINDOW) {
      const last = median(seen.slice(n - SETTLE_WINDOW));
      const before = median(seen.slice(n - 2 * SETTLE_WINDOW, n - SETTLE_WINDOW));
      if (Math.abs(last - before) <= SETTLE_TOLERANCE * before) return { runs: n, latency: last };
    }
    if (n >= MAX_WARMUP_RUNS || performance.now() - start > MAX_WARMUP_MS) return { runs: n, latency: median(seen.slice(-SETTLE_WINDOW)) };
  }
}

export async function measure(sessions: TimedSession[], plan: TimingPlan, progress?: Progress): Promise<Map<string, Timing>> {
  const timings = new Map<string, Timing>();
  const latency = new Map<string, number>();
  for (const s of sessions) {
    const w = await warmUp(s, plan.warmup);
    timings.set(s.id, { samples: [], warmupRuns: w.runs, discardedRuns: 0 });
    latency.set(s.id, w.latency);
    progress?.({ phase: 'warmup', id: s.id, done: 0, total: 1 });
  }
  const keptTime = (t: Timing) => t.samples.reduce((a, b) => a + b, 0) / 1000;
  const done = (t: Timing) =>
    plan.runs !== undefined ? t.samples.length >= plan.runs : t.samples.length >= plan.maxRuns || (keptTime(t) >= plan.minTime && t.samples.length >= plan.minRuns);
  const fraction = (t: Timing) =>
    plan.runs !== undefined ? t.samples.length / plan.runs : Math.min(1, Math.max(keptTime(t) / plan.minTime, t.samples.length / plan.maxRuns));

  let pending = sessions.filter((s) => !done(timings.get(s.id)!));
  while (pending.length) {
    for (const s of pending) {
      const t = timings.get(s.id)!;
      const wanted = plan.runs !== undefined ? plan.runs - t.samples.length : Infinity;
      const burst = Math.min(wanted, Math.max(2, Math.ceil(plan.burstMs / Math.max(latency.get(s.id)!, 0.01))));
      await s.run(); // pays for the previous session's spinning threads
      t.discardedRuns++;
      for (let i = 0; i < burst; i++) t.samples.push(await s.run());
      latency.set(s.id, median(t.samples.slice(-burst)));
      progress?.({ phase: 'measure', id: s.id, done: fraction(t), total: 1 });
    }
    pending = pending.filter((s) => !done(timings.get(s.id)!));
  }
  return timings;
}
