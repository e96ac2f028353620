import { describe, expect, it } from 'vitest';
import { latencyStats, medianCi, quantile, sameRoundRatios } from '../src/core/stats.js';
import { measure, warmUp } from '../src/backends/timing.js';

describe('latency statistics', () => {
  it('match hand-computed values', () => {
    const s = latencyStats([5, 1, 4, 2, 3]);
    expect(s.median).toBe(3);
    expect(s.mean).toBe(3);
    expect(s.min).toBe(1);
    expect(s.max).toBe(5);
    expect(s.std).toBeCloseTo(Math.sqrt(2.5), 12);
    expect(s.cov).toBeCloseTo(Math.sqrt(2.5) / 3, 12);
    expect(s.p90).toBeCloseTo(4.6, 12); // numpy.percentile([1..5], 90)
    expect(s.samples).toEqual([5, 1, 4, 2, 3]);
  });

  it('quantile interpolates like numpy', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 0.99)).toBeCloseTo(99.1, 10);
  });

  it('the median CI covers the true median about 95% of the time', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let covered = 0;
    const trials = 400;
    for (let t = 0; t < trials; t++) {
      const xs = Array.from({ length: 101 }, rand).sort((a, b) => a - b);
      const [lo, hi] = medianCi(xs);
      if (lo <= 0.5 && 0.5 <= hi) covered++;
    }
    expect(covered / trials).toBeGreaterThan(0.92);
    expect(covered / trials).toBeLessThan(0.995);
  });
});

/** A fake session whose latency follows a script, for the loop's logic (no real time). */
function scripted(id: string, latencies: (i: number) => number) {
  let i = 0;
  return { id, calls: () => i, run: async () => latencies(i++) };
}

describe('timing loop', () => {
  it('warm-up stops once latency settles', async () => {
    const s = scripted('a', (i) => (i < 12 ? 50 - i * 3 : 10));
    const w = await warmUp(s);
    expect(w.runs).toBeGreaterThanOrEqual(12);
    expect(w.runs).toBeLessThan(30);
    expect(w.latency).toBe(10);
  });

  it('--runs gives every model exactly N runs, interleaved run by run', async () => {
    const order: string[] = [];
    const mk = (id: string, ms: number) => ({ id, run: async () => (order.push(id), ms) });
    const t = await measure([mk('a', 5), mk('b', 20)], { warmup: 2, runs: 30, minTime: 1, minRuns: 1, maxRuns: 1000 });
    expect(t.get('a')!.samples).toHaveLength(30);
    expect(t.get('b')!.samples).toHaveLength(30);
    // a and b alternate turns: both appear before either is finished
    const measured = order.slice(4);
    expect(measured.slice(0, 4).sort()).toEqual(['a', 'a', 'b', 'b']);
  });

  it('turns with a re-warm run keep none of the runs that pay for switching', async () => {
    // A session whose first run after another session ran costs 100 ms, then 10 ms.
    let last = '';
    const mk = (id: string) => ({ id, run: async () => { const ms = last === id ? 10 : 100; last = id; return ms; } });
    const plan = { warmup: 1, runs: 7, minTime: 1, minRuns: 1, maxRuns: 1000 };
    const turns = await measure([mk('a'), mk('b')], plan, undefined, { keep: 3, rewarm: 1 });
    for (const id of ['a', 'b']) expect(turns.get(id)!.samples).toEqual([10, 10, 10, 10, 10, 10, 10]);
    // Run by run (the start rotating each round), most kept runs are ones that paid for the switch.
    const runByRun = await measure([mk('a'), mk('b')], plan);
    expect(runByRun.get('a')!.samples.filter((ms) => ms === 100).length).toBeGreaterThan(3);
  });

  it('--min-time stops on accumulated time', async () => {
    const t = await measure([scripted('a', () => 100)], { warmup: 0, minTime: 2, minRuns: 5, maxRuns: 1000 });
    const kept = t.get('a')!.samples;
    expect(kept.reduce((x, y) => x + y, 0)).toBeGreaterThanOrEqual(2000);
    expect(kept.length).toBeLessThan(25);
  });

  it('--min-time gives a faster model more samples; per-round ratios pair only the rounds both ran', async () => {
    const t = await measure([scripted('fast', () => 50), scripted('slow', () => 100)], { warmup: 0, minTime: 1, minRuns: 1, maxRuns: 1000 });
    const [fast, slow] = [t.get('fast')!.samples, t.get('slow')!.samples];
    expect(fast.length).toBeGreaterThan(slow.length);
    // Pairing every fast sample with slow[k] would divide by undefined for the rounds slow sat out.
    for (const ratios of [sameRoundRatios(fast, slow), sameRoundRatios(slow, fast)]) {
      expect(ratios).toHaveLength(slow.length);
      expect(ratios.every(Number.isFinite)).toBe(true);
    }
    expect(latencyStats(sameRoundRatios(fast, slow)).median).toBeCloseTo(0.5, 9);
  });
});
