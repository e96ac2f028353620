/**
 * A family config written as JSON (a `--config` file, a test fixture's `config`, a Hugging Face
 * `config.json`): every field checked against the family's own config before anything is built,
 * so a typo, a wrong type or a size beyond any model is one clear line naming the field and what
 * is allowed, rather than a NaN deep inside a graph or memory exhausted while building it.
 */
import { UsageError } from '../core/errors.js';

type Kind = 'number' | 'boolean' | 'string' | 'number[]' | 'number[][]' | 'other';

function kindOf(v: unknown): Kind {
  if (typeof v === 'number') return 'number';
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'string') return 'string';
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return 'number[]';
  if (Array.isArray(v) && v.every((x) => Array.isArray(x) && x.every((y) => typeof y === 'number'))) return 'number[][]';
  return 'other';
}

/**
 * Beyond these a config describes no model anyone trains (the zoo's largest: 4 stages, 18 blocks a
 * stage, 40 in all, 1024 channels, 16 heads), and building it would only exhaust memory or time.
 * What is built is also bounded as a whole (pipeline's checkModelSize: parameters, MACs, activations).
 */
export const CONFIG_LIMITS = { stages: 8, depthPerStage: 64, totalDepth: 256, width: 4096, classes: 100_000, heads: 64, keyDim: 512, ratio: 16, kernel: 31, grid: 64 } as const;

/** A number's allowed range: `min` to `max`, whole numbers only or any; `open`: above `min`, not `min` itself. */
export interface Range {
  min: number;
  max: number;
  whole: boolean;
  open?: boolean;
}

export const whole = (min: number, max: number): Range => ({ min, max, whole: true });
/** A real number above `min` (exclusive) up to `max`: ratios, epsilons. */
export const above = (min: number, max: number): Range => ({ min, max, whole: false, open: true });
/** A real number from `min` to `max`, both included. */
export const between = (min: number, max: number): Range => ({ min, max, whole: false });

/** The ranges every family uses for the same kind of field. */
export const RANGES = {
  width: whole(1, CONFIG_LIMITS.width),
  /** A stage's blocks (0: the stage is empty, where the family allows it). */
  depth: whole(0, CONFIG_LIMITS.depthPerStage),
  blocks: whole(1, CONFIG_LIMITS.depthPerStage),
  classes: whole(1, CONFIG_LIMITS.classes),
  heads: whole(1, CONFIG_LIMITS.heads),
  keyDim: whole(1, CONFIG_LIMITS.keyDim),
  ratio: above(0, CONFIG_LIMITS.ratio),
  kernel: whole(1, CONFIG_LIMITS.kernel),
  grid: whole(1, CONFIG_LIMITS.grid),
  eps: above(0, 1),
  fraction: above(0, 1),
} as const;

/** How a field is bounded: one number, a list (one per stage; `total` bounds their sum), or a list of lists (one per block). */
export type FieldBound = Range | { each: Range; entries: [number, number]; total?: number } | { eachOfEach: Range; entries?: [number, number] } | { rows: Range[]; entries: [number, number] };

/** A list with one entry per stage, each in `each`. */
export const perStage = (each: Range, total?: number): FieldBound => ({ each, entries: [1, CONFIG_LIMITS.stages], total });
/** Stage depths: each 0 (or `min`) to 64 blocks, at most 256 in all. */
export const depths = (min = 0): FieldBound => perStage(whole(min, CONFIG_LIMITS.depthPerStage), CONFIG_LIMITS.totalDepth);
/** One entry per block of each stage (expansion ratios). */
export const perBlock = (each: Range): FieldBound => ({ eachOfEach: each, entries: [1, CONFIG_LIMITS.stages] });

/** Every numeric field of a config, with its bound: a family cannot leave one out (the type says so). */
export type ConfigBounds<Config> = { [K in keyof Config as Config[K] extends number | number[] | number[][] ? K : never]: FieldBound };


/** `value` within `range`, or a UsageError `WHERE: FIELD is VALUE; eformer builds ...`. */
export function checkRange(where: string, field: string, value: unknown, range: Range): void {
  const ok = typeof value === 'number' && Number.isFinite(value) && value <= range.max && (range.open ? value > range.min : value >= range.min) && (!range.whole || Number.isInteger(value));
  if (ok) return;
  const allowed = range.open
    ? `more than ${range.min}, up to ${range.max}`
    : `${range.min} to ${range.max}${range.whole && typeof value === 'number' && !Number.isInteger(value) ? ' (whole numbers)' : ''}`;
  throw new UsageError(`${where}: ${field} is ${JSON.stringify(value)}; eformer builds ${allowed}`);
}

function checkEntries(where: string, field: string, list: unknown[], [min, max]: [number, number]): void {
  if (list.length < min || list.length > max) throw new UsageError(`${where}: ${field} has ${list.length} entries; eformer builds ${min} to ${max}`);
}

function checkBound(where: string, field: string, value: unknown, bound: FieldBound): void {
  if ('whole' in bound) return checkRange(where, field, value, bound);
  const list = value as unknown[];
  if ('each' in bound) {
    checkEntries(where, field, list, bound.entries);
    list.forEach((v, i) => checkRange(where, `${field}[${i}]`, v, bound.each));
    const sum = (list as number[]).reduce((a, b) => a + b, 0);
    if (bound.total !== undefined && sum > bound.total) throw new UsageError(`${where}: ${field} add up to ${sum}; eformer builds at most ${bound.total} in all`);
  } else if ('rows' in bound) {
    checkEntries(where, field, list, bound.entries);
    list.forEach((row, i) => {
      if ((row as unknown[]).length !== bound.rows.length) throw new UsageError(`${where}: ${field}[${i}] has ${(row as unknown[]).length} entries, expected ${bound.rows.length}`);
      bound.rows.forEach((range, j) => checkRange(where, `${field}[${i}][${j}]`, (row as unknown[])[j], range));
    });
  } else {
    if (bound.entries) checkEntries(where, field, list, bound.entries);
    list.forEach((row, i) => (row as unknown[]).forEach((v, j) => checkRange(where, `${field}[${i}][${j}]`, v, bound.eachOfEach)));
  }
}

/**
 * `raw`'s fields, each of the kind the same field has in `example` (a complete config of the
 * family) and within its bound; `required` must be present. Returns the fields as a partial
 * config for the family's own defaults to complete (the family's constructor then checks the
 * fields against each other: per-stage lists of one length, and so on).
 */
export function checkConfigFields<Config extends object>(
  raw: Record<string, unknown>,
  example: Config,
  required: readonly (keyof Config & string)[],
  where: string,
  bounds: ConfigBounds<Config>,
): Partial<Config> {
  const known = Object.keys(example);
  for (const [key, value] of Object.entries(raw)) {
    if (!known.includes(key)) throw new UsageError(`${where}: unknown field '${key}' (fields: ${known.join(', ')})`);
    const want = kindOf((example as Record<string, unknown>)[key]);
    const got = kindOf(value);
    // An empty list fits either list kind.
    const emptyList = Array.isArray(value) && value.length === 0 && want.endsWith('[]');
    if (got !== want && !(emptyList || (want === 'number[][]' && got === 'number[]' && (value as unknown[]).length === 0))) {
      throw new UsageError(`${where}: field '${key}' must be ${want === 'number[]' ? 'a list of numbers' : want === 'number[][]' ? 'a list of lists of numbers' : `a ${want}`}, got ${JSON.stringify(value)}`);
    }
    const bound = (bounds as Record<string, FieldBound | undefined>)[key];
    if (bound) checkBound(where, key, value, bound);
    else if (want.startsWith('number')) throw new Error(`config field '${key}' has no bound`);
  }
  const missing = required.filter((k) => raw[k] === undefined);
  if (missing.length) throw new UsageError(`${where}: missing field${missing.length > 1 ? 's' : ''} ${missing.map((k) => `'${k}'`).join(', ')}`);
  return raw as Partial<Config>;
}

/** Per-stage lists of one config, which must have one entry per stage: each as long as the first. Names every list in the message. */
export function checkStageLists(lists: Record<string, readonly unknown[]>): void {
  const names = Object.keys(lists);
  if (names.every((n) => lists[n].length === lists[names[0]].length)) return;
  throw new UsageError(`${names.join(', ')} need one entry per stage; got ${names.map((n) => `${n} ${lists[n].length}`).join(', ')}`);
}
