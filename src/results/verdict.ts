/** The gate's verdict file (`eformer gate --verdict`): its schema and types. */

export const VERDICT_SCHEMA = 'eformer.gate/1';

/**
 * `skipped`: a relative memory or load budget whose baseline lacks the figure (the gate passes it,
 * saying so); `missing`: a memory or load budget whose current results lack the figure, so it
 * cannot be evaluated (the gate fails it, naming the reason the results give).
 */
export type Outcome = 'pass' | 'regression' | 'improvement' | 'skipped' | 'missing';

export interface Check {
  metric: 'latency' | 'latency_ceiling' | 'params' | 'macs' | 'memory' | 'memory_ceiling' | 'load' | 'load_ceiling';
  /** null: the side has no such figure (memory and load only; `note` says why). */
  baseline: number | null;
  current: number | null;
  /** Relative change (current / baseline - 1); null when a side has no figure. */
  change: number | null;
  /** 95% bootstrap CI of the relative change (latency only). */
  ci95?: [number, number];
  /** What the check compared: e.g. `median ratio to mobilenetv2_100` or `median ms`. */
  basis: string;
  limit: string;
  outcome: Outcome;
  /** Why a check was skipped or could not be evaluated: the figure absent, and the reason the results file gives. */
  note?: string;
}

export interface ModelVerdict {
  model: string;
  checks: Check[];
  /** `missing`: no regression, but a budget could not be evaluated (a figure absent from the current results); it fails too. */
  outcome: 'pass' | 'regression' | 'missing';
}

export interface Verdict {
  schema: typeof VERDICT_SCHEMA;
  reference?: string;
  /** What latency was compared, in words: the per-round ratio to the reference, or raw medians and why they are unsafe. */
  latency_compared?: string;
  /** Raw medians were compared because the user asked (`--raw-medians`): no reference. */
  raw_medians?: true;
  pass: boolean;
  models: ModelVerdict[];
  /** How baseline and current were measured differently, when a comparison across setups was allowed. */
  setup_changes?: string[];
}
