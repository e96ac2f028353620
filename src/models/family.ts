/**
 * What a model family provides. A family is one folder under models/ that owns everything about
 * itself: how it builds (with the reference checkpoints' parameter names), its zoo entries and
 * the papers' figures, the checkpoint namings it accepts besides its own, its Hugging Face
 * config mapping, how its modules group for count subtotals and for the latency breakdown, and
 * how images are prepared for it. Generic code (graph/, weights/, profile/, predict/) asks the
 * family and never names one.
 */
import type { Graph } from '../graph/ir.js';
import type { Preprocessing } from '../images/preprocess.js';
import type { SearchSpace } from './space.js';

export interface BuildOptions {
  resolution: number;
  batch?: number;
  /** Graph name, normally the zoo name. */
  name?: string;
}

/**
 * A checkpoint naming other than the family's own (timm's, Hugging Face's): how to tell it from
 * the keys and how to rename its keys to the family's.
 */
export interface Naming {
  id: string;
  detect(keys: readonly string[]): boolean;
  /** A renamer for this checkpoint (some renames depend on which keys are present). */
  renamer(keys: readonly string[]): (key: string) => string;
}

/** Names a module path's place in the model for the latency breakdown: `stage 3 · block 4 · attention`. */
export type BlockNamer = (modulePath: string) => { block: string; stage: string } | undefined;

/** A Hugging Face transformers `config.json` this family can build from. */
export interface HfConfigReader<Config> {
  /** `model_type` values this family reads. */
  modelTypes: readonly string[];
  /** The family config; throws UsageError naming the field that cannot be built. */
  read(raw: Record<string, unknown>, path: string): Config;
}

export interface ModelFamily<Config> {
  /** Short id used in listings, e.g. `efficientformer`. */
  readonly id: string;
  /** The input resolution of the published models. */
  readonly defaultResolution: number;
  /**
   * Throws a UsageError that names the allowed sizes when the architecture cannot take
   * this input resolution.
   */
  checkResolution(config: Config, resolution: number, modelName: string): void;
  build(config: Config, options: BuildOptions): Graph;
  /**
   * The family config from its JSON form (a `--config` file, a test fixture): the same field
   * names as `Config`, defaults filled in. Throws a UsageError naming a bad or unknown field.
   */
  config(raw: Record<string, unknown>, where: string): Config;
  /** Checkpoint namings accepted besides the family's own parameter names. */
  readonly namings: readonly Naming[];
  /** The group of a module path for count subtotals (`patch_embed`, `network.3`, `head`). */
  groupOf(modulePath: string): string;
  /** Breakdown names for a built graph's module paths. */
  blockNamer(graph: Graph): BlockNamer;
  /** How images are prepared for the released checkpoints. */
  readonly preprocessing: Preprocessing;
  readonly hfConfig?: HfConfigReader<Config>;
  /** The space latency-driven search explores (families that have one). */
  readonly searchSpace?: SearchSpace<Config>;
}

/** The paper's figures, shown beside measured ones. */
export interface PaperFigures {
  top1: string;
  /** Numeric top-1 for charts (the 300-epoch figure). */
  top1Value: number;
  paramsM: number;
  /** Absent when the paper publishes no MACs (countNote then says so). */
  macsG?: number;
  /** The latency the paper reports, and the device and runtime it was measured on (short: it is a table column). */
  latency?: { ms: number; device: string };
  /** Digits the paper prints after the decimal point, for params and MACs. */
  paramsDigits: number;
  macsDigits: number;
  /**
   * Why the paper's params or MACs differ from eformer's toolbox count, when they do (the tool the
   * paper counted with, FLOPs reported as MACs, modules it left out).
   */
  countNote?: string;
}

export interface ModelEntry<Config = unknown> {
  name: string;
  family: ModelFamily<Config>;
  config: Config;
  paper?: PaperFigures;
  /** The papers' comparison models, marked as such in reports. */
  baseline?: boolean;
  /** Class names, by index, when the entry knows them (a Hugging Face config's id2label). */
  labels?: string[];
  /** The input resolution this entry is built at unless told otherwise (a config file's); else the family's. */
  resolution?: number;
}

/** Type-preserving helper so each zoo file keeps its config type checked. */
export function entry<Config>(e: ModelEntry<Config>): ModelEntry<unknown> {
  return e as ModelEntry<unknown>;
}

/** Where the EfficientFormer papers measured: Core ML on an iPhone 12 (A14). */
export const IPHONE_12 = 'iPhone 12, Core ML';
