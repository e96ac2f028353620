/**
 * The timing loop shared by everything that measures on a session backend (profile, latency tables).
 *
 * Warm-up: run each model until its latency settles (the median of the last window of runs
 * within SETTLE_TOLERANCE of the window before), or a fixed --warmup count.
 *
 * Measurement: models take turns run by run, round-robin, with the starting model rotating
 * each round, so slow drift (thermal, other tenants) hits all of them alike. This is only
 * fair when idle sessions leave the cores alone: onnxruntime's intra-op threads spin after
 * each run, and on a 2-core machine three live sessions with spinning on measured twice
 * their single-session latency. The profiler therefore runs this loop with spinning off
 * and measures single-session latency with spinning on separately (see profile.ts).
 */
import type { Turn } from './backend.js';
import { median } from '../core/stats.js';

export type { Turn };

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
}

export const DEFAULT_PLAN: TimingPlan = { minTime: 2, minRuns: 10, maxRuns: 2000 };

/** The most runs a model is timed (--runs): results files then stay within what the gate resamples (gate/compare.ts). */
export const MAX_RUNS = 10_000;

export interface Timing {
  samples: number[];
  warmupRuns: number;
}

/** Where a profile run is: building and loading a model, warming up, measuring, timing it alone, profiling its kernels. */
export type ProgressPhase = 'prepare' | 'warmup' | 'measure' | 'alone' | 'cold' | 'breakdown';

export type Progress = (event: { phase: ProgressPhase; id: string; done: number; total: number }) => void;

const SETTLE_WINDOW = 5;
const SETTLE_TOLERANCE = 0.05;
const MAX_WARMUP_RUNS = 200;
const MAX_WARMUP_MS = 5000;

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

/**
 * Run by run (keep 1, rewarm 0) suits onnxruntime-node. Some backends pay for switching: in
 * Chromium, the first ort-web run after another page ran was about 50% slower
 * (efficientformerv2_s0: 92 against 61 ms), so each turn there starts with discarded re-warm
 * runs and keeps a few runs after them (the backend declares its Turn).
 */
export const RUN_BY_RUN: Turn = { keep: 1, rewarm: 0 };

export async function measure(sessions: TimedSession[], plan: TimingPlan, progress?: Progress, turn: Turn = RUN_BY_RUN): Promise<Map<string, Timing>> {
  const timings = new Map<string, Timing>();
  for (const s of sessions) {
    const w = await warmUp(s, plan.warmup);
    timings.set(s.id, { samples: [], warmupRuns: w.runs });
    progress?.({ phase: 'warmup', id: s.id, done: 0, total: 1 });
  }
  const keptTime = (t: Timing) => t.samples.reduce((a, b) => a + b, 0) / 1000;
  const done = (t: Timing) =>
    plan.runs !== undefined ? t.samples.length >= plan.runs : t.samples.length >= plan.maxRuns || (keptTime(t) >= plan.minTime && t.samples.length >= plan.minRuns);
  const fraction = (t: Timing) =>
    plan.runs !== undefined ? t.samples.length / plan.runs : Math.min(1, Math.max(keptTime(t) / plan.minTime, t.samples.length / plan.maxRuns));

  let pending = sessions.filter((s) => !done(timings.get(s.id)!));
  try {
    for (let round = 0; pending.length; round++) {
      const start = round % pending.length;
      for (const s of [...pending.slice(start), ...pending.slice(0, start)]) {
        const t = timings.get(s.id)!;
        // Alone, nothing switches: no re-warm runs needed.
        if (sessions.length > 1) for (let i = 0; i < turn.rewarm; i++) await s.run();
        for (let i = 0; i < turn.keep && !done(t); i++) t.samples.push(await s.run());
        progress?.({ phase: 'measure', id: s.id, done: fraction(t), total: 1 });
      }
      pending = pending.filter((s) => !done(timings.get(s.id)!));
    }
  } catch (err) {
    // The rounds completed before a run failed are real measurements: kept with the error, cut to the
    // rounds every model finished, so that sample k of each still comes from the same round.
    const complete = Math.min(...[...timings.values()].map((t) => t.samples.length));
    if (complete > 0 && err !== null && typeof err === 'object') {
      timingsBeforeFailure.set(err, new Map([...timings].map(([id, t]) => [id, { ...t, samples: t.samples.slice(0, complete) }])));
    }
    throw err;
  }
  return timings;
}

const timingsBeforeFailure = new WeakMap<object, Map<string, Timing>>();

/** The complete rounds a failed `measure` had timed, if any. */
export function timingsBefore(err: unknown): Map<string, Timing> | undefined {
  return err !== null && typeof err === 'object' ? timingsBeforeFailure.get(err) : undefined;
}
