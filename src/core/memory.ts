/**
 * The cost of a model beyond its latency, as every device tool prints it beside latency: loading
 * it, its first inference, the memory it takes and the size of its file. Every backend records
 * the same fields; one it cannot give is absent and says why, never 0.
 */
import { readFileSync, writeFileSync } from 'node:fs';

/** Memory a backend attributes to a model, MB (2^20 bytes), and how it measured it. */
export interface MemoryFigures {
  /** Peak memory attributable to the model over loading and every run: the figure reports show and the gate guards. */
  peak: number;
  /** Memory attributable to the model once it is loaded, before its first run, where the backend can tell. */
  load?: number;
  /** How the figures were measured, in words a report can print beside them. */
  source: string;
  /** A tool's own further figures, MB, under the tool's names (benchmark_model's sampled peak). */
  [figure: string]: number | string | undefined;
}

/** The figures every backend records beside latency. */
export type CostFigure = 'load_ms' | 'first_run_ms' | 'memory_mb' | 'model_bytes';
/** For each figure a backend could not give: why. */
export type AbsentFigures = Partial<Record<CostFigure, string>>;

/** What a backend measured of a model's cost, in the results file's terms. */
export interface ModelCost {
  load_ms?: number;
  first_run_ms?: number;
  memory_mb?: MemoryFigures;
  model_bytes?: number;
  absent?: AbsentFigures;
}

export const MIB = 2 ** 20;

/** A byte count in MB, to four decimals (what a results file keeps). */
export function megabytes(bytes: number): number {
  return Math.round((bytes / MIB) * 1e4) / 1e4;
}

/**
 * This process's resident set now and at its peak, from /proc (Linux; undefined elsewhere). Read by
 * the processes eformer starts to measure one model's memory.
 */
export function residentBytes(): { rss: number; peak: number } | undefined {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s*(\\d+) kB`, 'm').exec(status)?.[1]);
    const rss = kb('VmRSS');
    const peak = kb('VmHWM');
    return Number.isFinite(rss) && Number.isFinite(peak) ? { rss: rss * 1024, peak: peak * 1024 } : undefined;
  } catch {
    return undefined;
  }
}

/** Reset this process's peak resident set to its current one (Linux 4.0+), so a peak read later is the model's. */
export function resetPeakResident(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/** Every figure missing from `cost` gets `why`, unless it already says why. */
export function absentUnlessGiven(cost: ModelCost, why: string): ModelCost {
  const absent: AbsentFigures = { ...cost.absent };
  for (const figure of ['load_ms', 'first_run_ms', 'memory_mb', 'model_bytes'] as const) if (cost[figure] === undefined && absent[figure] === undefined) absent[figure] = why;
  const { absent: _, ...given } = cost;
  return Object.keys(absent).length ? { ...given, absent } : given;
}
