/**
 * What a person sees while eformer works: one status line on stderr, rewritten in place, and only
 * when stderr is a terminal (never in logs or CI output).
 */
import type { Progress } from '../backends/timing.js';
import type { LutBuildProgress } from '../latency/build.js';

export interface StatusLine {
  /** Show `text`, with a bar when `fraction` (0..1) is given. */
  update(text: string, fraction?: number): void;
  /** Clear the line. */
  done(): void;
}

/** The status line on screen now, if one is: a message printed over it must clear it first. */
let onScreen: StatusLine | undefined;

/** Clear the status line if one is showing (before the interrupt message, say); otherwise do nothing. */
export function clearStatusLine(): void {
  onScreen?.done();
}

export function statusLine(quiet = false): StatusLine | undefined {
  if (quiet || !process.stderr.isTTY) return undefined;
  const width = Math.max(40, Math.min(process.stderr.columns ?? 80, 100) - 1);
  const line: StatusLine = {
    update(text, fraction) {
      const bar = fraction === undefined ? '' : `[${'#'.repeat(Math.round(fraction * 20)).padEnd(20, '.')}] ${(fraction * 100).toFixed(0).padStart(3)}% `;
      process.stderr.write(`\r${`${bar}${text}`.slice(0, width).padEnd(width)}`);
      onScreen = line;
    },
    done() {
      if (onScreen === line) process.stderr.write(`\r${' '.repeat(width)}\r`);
      if (onScreen === line) onScreen = undefined;
    },
  };
  return line;
}

/** `eformer profile`'s events as a status line: a bar while measuring, the step's name otherwise. */
export function progressBar(ids: string[], quiet: boolean): Progress | undefined {
  const line = statusLine(quiet);
  if (!line) return undefined;
  const measured = new Map(ids.map((id) => [id, 0]));
  const where = (id: string) => `${ids.indexOf(id) + 1}/${ids.length}`;
  return ({ phase, id, done }) => {
    if (phase === 'measure' || phase === 'warmup') {
      measured.set(id, phase === 'warmup' ? 0 : done);
      const fraction = [...measured.values()].reduce((a, b) => a + b, 0) / ids.length;
      line.update(`${phase === 'warmup' ? 'warming up' : 'measuring'} ${id}`, fraction);
      if (fraction >= 1) line.done();
      return;
    }
    const what = { prepare: 'building and loading', alone: 'timing alone, as deployed:', cold: 'loading cold, for load time and memory:', breakdown: 'profiling kernels of' }[phase];
    if (done >= 1 && where(id) === `${ids.length}/${ids.length}`) line.done();
    else line.update(`${what} ${id} (${where(id)})`);
  };
}

/** Run `work` with a status line that counts the seconds, for steps that print nothing while they run. */
export async function withTicker<T>(label: string, work: Promise<T>, quiet = false): Promise<T> {
  const line = statusLine(quiet);
  if (!line) return work;
  const start = Date.now();
  const tick = () => line.update(`${label} ${Math.round((Date.now() - start) / 1000)} s`);
  tick();
  const timer = setInterval(tick, 1000);
  try {
    return await work;
  } finally {
    clearInterval(timer);
    line.done();
  }
}

/** A few seconds, minutes or hours, rounded as a person reads an estimate. */
export function roughDuration(seconds: number): string {
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

/**
 * `lut build`'s overall progress: blocks and training models timed, of all, and the time left at the
 * pace measured so far in each phase (`seconds` spent in each). Blocks and whole training models cost
 * very differently, so no time is given for a phase before one of its groups is done.
 */
export function lutBuildStatus(p: LutBuildProgress, seconds: { blocks: number; training: number }): string {
  const parts = [`blocks ${p.blocks.done}/${p.blocks.total}`, ...(p.training.total ? [`training models ${p.training.done}/${p.training.total}`] : [])];
  const left = (done: number, total: number, spent: number) => (done > 0 ? roughDuration((spent / done) * (total - done)) : undefined);
  if (p.blocks.done < p.blocks.total) {
    const blocks = left(p.blocks.done, p.blocks.total, seconds.blocks);
    if (blocks) parts.push(p.training.total ? `~${blocks} left for the blocks` : `~${blocks} left`);
  } else if (p.training.done < p.training.total) {
    const training = left(p.training.done, p.training.total, seconds.training);
    if (training) parts.push(`~${training} left`);
  } else {
    parts.push('fitting the correction');
  }
  return parts.join(', ');
}

/**
 * `lut build`'s status line: the overall count and time left, then what is being measured now. Only
 * on a terminal (undefined otherwise, like every status line); `now` is the clock, in ms.
 */
export function lutBuildProgress(quiet: boolean, now: () => number = Date.now) {
  const line = statusLine(quiet);
  if (!line) return undefined;
  let started: { blocks: number; training?: number } | undefined;
  let overall = '';
  return {
    overall(p: LutBuildProgress) {
      const t = now();
      started ??= { blocks: t };
      if (p.blocks.done >= p.blocks.total) started.training ??= t;
      const seconds = { blocks: ((started.training ?? t) - started.blocks) / 1000, training: started.training === undefined ? 0 : (t - started.training) / 1000 };
      overall = lutBuildStatus(p, seconds);
      line.update(overall);
    },
    step(text: string) {
      line.update(overall ? `${overall} · ${text}` : text);
    },
    done() {
      line.done();
    },
  };
}
