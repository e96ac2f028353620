/** What a model family provides, and what the zoo records about each named model. */
import type { Graph } from '../graph/ir.js';

export interface BuildOptions {
  resolution: number;
  batch?: number;
  /** Graph name, normally the zoo name. */
  name?: string;
}

export interface ModelFamily<Config> {
  /** Short id used in listings, e.g. `efficientformer`. */
  readonly id: string;
  /**
   * Throws a UsageError that names the allowed sizes when the architecture cannot take
   * this input resolution.
   */
  checkResolution(config: Config, resolution: number, modelName: string): void;
  build(config: Config, options: BuildOptions): Graph;
}

/** The paper's figures, shown beside measured ones. */
export interface PaperFigures {
  top1: string;
  /** Numeric top-1 for charts (the 300-epoch figure). */
  top1Value: number;
  paramsM: number;
  macsG: number;
  iphone12Ms: number;
  /** Digits the paper prints after the decimal point, for params and MACs. */
  paramsDigits: number;
  macsDigits: number;
}

export interface ModelEntry<Config = unknown> {
  name: string;
  family: ModelFamily<Config>;
  config: Config;
  paper?: PaperFigures;
  /** The papers' comparison models, marked as such in reports. */
  baseline?: boolean;
}

/** Type-preserving helper so each zoo file keeps its config type checked. */
export function entry<Config>(e: ModelEntry<Config>): ModelEntry<unknown> {
  return e as ModelEntry<unknown>;
}
