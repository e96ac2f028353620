/** The gate's verdict file (`eformer gate --verdict`): its schema and types. */

export const VERDICT_SCHEMA = 'eformer.gate/1';

export type Outcome = 'pass' | 'regression' | 'improvement';

export interface Check {
  metric: 'latency' | 'latency_ceiling' | 'params' | 'macs';
  baseline: number;
  current: number;
  /** Relative change (current / baseline - 1). */
  change: number;
  /** 95% bootstrap CI of the relative change (latency only). */
  ci95?: [number, number];
  /** What the check compared: e.g. `median ratio to mobilenetv2_100` or `median ms`. */
  basis: string;
  limit: string;
  outcome: Outcome;
}

export interface ModelVerdict {
  model: string;
  checks: Check[];
  outcome: 'pass' | 'regression';
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
