/**
 * The latency lookup table (`eformer.lut/1`): every block a family's search space can use, timed
 * on one backend, each stored as a ratio to a reference model timed in the same interleaved
 * rounds (the gate's method). Machines drift 10-20% between runs; a ratio measured within one
 * round does not, so a table stays valid while the machine's speed wanders, and its
 * milliseconds are recovered by timing the reference again (`--calibrate`).
 *
 * The sum of block latencies is biased: each block timed alone pays the runtime's per-run cost,
 * and the runtime fuses across block boundaries in the whole model. The table therefore carries
 * whole models measured on a training set of random configurations, and a correction fitted to
 * them: measured = a * sum + b * blocks + d * io + c (least squares, ratios to the reference), where
 * io is the millions of elements the blocks read and write. A block timed alone passes its input
 * and output across the runtime's boundary every run (onnxruntime-web copies them into and out of
 * WebAssembly memory), which inside the whole model it does not, and that cost follows the tensors'
 * size, not the number of blocks: a block of the first stage moves eight times the elements of one
 * of the last.
 */
import { UsageError } from '../core/errors.js';
import type { ModelFamily } from '../models/family.js';
import { families } from '../models/index.js';
import { type Point, readSpace, type SpaceSpec, supernet } from '../models/space.js';
import { MAX_RESOLUTION } from '../pipeline/index.js';
import { checkFields, readJsonFile, count, integer, interval, list, milliseconds, name, nonNegative, number, optional, ratio, record, scalar, text } from '../results/fields.js';
import { deviceRule, type Environment } from '../results/results.js';
import { spaceOf } from './blocks.js';

export const LUT_SCHEMA = 'eformer.lut/1';

export interface LutEntry {
  /** The block's structural signature (graph/blocks.ts): what a prediction looks up. */
  signature: string;
  /** Where the block was first met, and what it is, for people reading the table. */
  block: string;
  kind: string;
  shape: string;
  /** Median of the per-round ratios to the reference. */
  ratio: number;
  /** Its 95% confidence interval. */
  ratio_ci95?: [number, number];
  /** Median latency in ms when measured (ratio x the reference's median at build time). */
  median_ms: number;
  runs: number;
  /** Toolbox params and MACs of the block, so a search can sum them without rebuilding. */
  params: number;
  macs: number;
  /** Elements of the block's inputs and outputs (absent in tables built before it was recorded). */
  io_elements?: number;
}

/** A whole model measured for the correction: its point, the sum the table predicts, what was measured. */
export interface TrainingRecord extends BlockSums {
  point: Point;
  measured_ratio: number;
}

/** What a prediction is made from: the table's entries for a configuration's blocks, summed. */
export interface BlockSums {
  sum_ratio: number;
  blocks: number;
  /** Millions of elements the blocks read and write, when every entry records it. */
  io_melements?: number;
}

export function blockSums(entries: LutEntry[]): BlockSums {
  const sums: BlockSums = { sum_ratio: entries.reduce((s, e) => s + e.ratio, 0), blocks: entries.length };
  if (entries.every((e) => e.io_elements !== undefined)) sums.io_melements = entries.reduce((s, e) => s + e.io_elements!, 0) / 1e6;
  return sums;
}

export interface Correction {
  /** measured = a * sum + b * blocks + d * io + c, in ratios to the reference (d absent: not fitted). */
  a: number;
  b: number;
  c: number;
  d?: number;
  /** Root-mean-square percentage error on the training set itself. */
  training_rmspe: number;
  training_size: number;
}

export interface Lut {
  schema: typeof LUT_SCHEMA;
  family: string;
  resolution: number;
  backend: string;
  settings: Record<string, string | number | boolean>;
  device?: { platform: string; id: string; name: string; model?: string; os?: string };
  env: Environment;
  space: SpaceSpec;
  reference: { model: string; median_ms: number; runs: number };
  /** Sessions every block and training model was timed in, their ratios combined (absent in older tables: 1). */
  sessions?: number;
  entries: LutEntry[];
  training: TrainingRecord[];
  correction?: Correction;
}

/** A point of a space: a network's widths, depths, per-block ratios and attention blocks. */
export const pointRule = record({ widths: list(integer(1), 1), depths: list(integer(1), 1), ratios: list(list(number('a positive ratio', (n) => n > 0))), attention: count });

const entryRule = record({
  signature: name,
  block: text,
  kind: text,
  shape: text,
  ratio,
  ratio_ci95: optional(interval(ratio)),
  median_ms: milliseconds,
  runs: integer(1),
  params: count,
  macs: count,
  io_elements: optional(count),
});

const lutRule = record({
  family: name,
  resolution: integer(1, MAX_RESOLUTION),
  backend: name,
  settings: optional(record({ threads: optional(count) }, scalar)),
  device: optional(deviceRule),
  env: record({ cpu: text, created: text }),
  space: record({}),
  reference: record({ model: name, median_ms: milliseconds, runs: optional(count) }),
  sessions: optional(integer(1, 100)),
  entries: list(entryRule, 1),
  training: list(record({ point: pointRule, sum_ratio: number('a ratio of at least 0', (n) => n >= 0 && n <= 1e9), blocks: count, io_melements: optional(nonNegative), measured_ratio: ratio })),
  correction: optional(
    record({
      // A sum of block latencies scaled by a negative factor predicts negative latencies.
      a: number('a positive factor', (n) => n > 0),
      b: number('a number'),
      c: number('a number'),
      d: optional(number('a number')),
      training_rmspe: nonNegative,
      training_size: count,
    }),
  ),
});

/**
 * Read and check a LUT file: every field a page, a prediction or a search reads, the family (one
 * with a search space) and its space (as `--space` files are checked, at the table's resolution).
 * The request it must serve is checked by `checkLutFor`.
 */
/** Read and check a LUT file (named by `flag`, e.g. --lut, in messages). */
export function readLut(path: string, flag?: string): Lut {
  const raw = readJsonFile(path, flag ? `${flag} latency table` : 'latency table');
  const lut = raw as Lut;
  if (!lut || typeof lut !== 'object' || lut.schema !== LUT_SCHEMA) {
    throw new UsageError(`${path}: not a latency table (schema ${JSON.stringify((raw as { schema?: unknown })?.schema)}; eformer reads ${LUT_SCHEMA}, made by \`eformer lut build\`)`);
  }
  checkFields(lut, lutRule, path);
  const family = searchableFamily(lut.family);
  const space = lut.space as unknown as Record<string, unknown>;
  if (space.family !== undefined && space.family !== lut.family) throw new UsageError(`${path}: its space is of ${JSON.stringify(space.family)}, the table of ${lut.family}`);
  if (space.resolution !== undefined && space.resolution !== lut.resolution) throw new UsageError(`${path}: its space is at resolution ${JSON.stringify(space.resolution)}, the table at ${lut.resolution}`);
  lut.space = readSpace({ ...space, resolution: lut.resolution }, family, `${path}: space`);
  // Every configuration of the space must build at the table's resolution (V1's attention grid, V2's even grid).
  family.checkResolution(spaceOf(family).configOf(supernet(lut.space)), lut.resolution, `${path}'s space`);
  return lut;
}

/** The family of a table or a search: one with a search space. */
export function searchableFamily(id: string): ModelFamily<unknown> {
  const family = families.find((f) => f.id === id);
  const searchable = families.filter((f) => f.searchSpace).map((f) => f.id);
  if (!family?.searchSpace) throw new UsageError(`family '${id}' has no search space; latency tables are built for ${searchable.join(', ')}`);
  return family;
}

/** What a prediction or search asks of a table; anything that differs is one clear line. */
export function checkLutFor(lut: Lut, path: string, want: { family?: string; resolution?: number; backend?: string }): void {
  const differ = (what: string, have: string | number, asked: string | number) =>
    new UsageError(`${path} was measured for ${lut.family} at ${lut.resolution}x${lut.resolution} on ${lut.backend}; this asks for ${what} ${asked}, not ${have} (build a table for it with \`eformer lut build\`)`);
  if (want.family !== undefined && want.family !== lut.family) throw differ('family', lut.family, want.family);
  if (want.resolution !== undefined && want.resolution !== lut.resolution) throw differ('resolution', lut.resolution, want.resolution);
  if (want.backend !== undefined && want.backend !== lut.backend) throw differ('backend', lut.backend, want.backend);
}

/** The corrected ratio to the reference for a configuration's block sums (no correction: the plain sum). */
export function correctedRatio(correction: Pick<Correction, 'a' | 'b' | 'c' | 'd'> | undefined, x: BlockSums): number {
  if (!correction) return x.sum_ratio;
  const { a, b, c, d } = correction;
  return a * x.sum_ratio + b * x.blocks + (d ? d * (x.io_melements ?? 0) : 0) + c;
}

/**
 * The table's prediction for a configuration (`what`), as a ratio to the reference. A correction
 * that passed every field check can still make a latency negative for some configuration (a large
 * negative constant): that is a damaged table, said in one line, never a negative latency printed.
 */
export function predictedRatio(lut: Lut, path: string, sums: BlockSums, what: string): number {
  const predicted = correctedRatio(lut.correction, sums);
  if (!(predicted > 0 && Number.isFinite(predicted))) {
    const formula = lut.correction ? correctionFormula(lut.correction) : 'the plain sum';
    throw new UsageError(`${path}: its correction (${formula}) predicts ${predicted.toFixed(3)} x the reference for ${what}, which is no latency: rebuild the table with \`eformer lut build\``);
  }
  return predicted;
}

/**
 * Least squares for measured = a * sum + b * blocks + d * io + c, weighted so that it minimises
 * relative error (what the goals are stated in). Fewer terms when the models are too few for them
 * (two per term) or the terms are collinear; with fewer than six models, a plain scale.
 */
export function fitCorrection(training: TrainingRecord[]): Correction | undefined {
  const n = training.length;
  if (n === 0) return undefined;
  const y = training.map((t) => t.measured_ratio);
  const withIo = training.every((t) => t.io_melements !== undefined) && n >= 8;
  const solve = (terms: (t: TrainingRecord) => number[]) =>
    // Each row divided by its measured ratio: residuals become relative errors.
    leastSquares(training.map((t, i) => terms(t).map((v) => v / y[i])), y.map(() => 1));
  // A fit whose factor on the sum of blocks is not positive says slower blocks make faster
  // models: no table may hold it (readLut refuses it), so fewer terms are fitted instead.
  const sane = (x: number[] | undefined) => (x && x[0] > 0 ? x : undefined);
  const four = withIo ? sane(solve((t) => [t.sum_ratio, t.blocks, 1, t.io_melements!])) : undefined;
  const three = four ? undefined : n >= 6 ? sane(solve((t) => [t.sum_ratio, t.blocks, 1])) : undefined;
  const scale = training.reduce((s, t) => s + t.measured_ratio * t.sum_ratio, 0) / training.reduce((s, t) => s + t.sum_ratio ** 2, 0);
  const [a, b, c, d] = four ?? three ?? [scale, 0, 0];
  const correction: Correction = { a, b, c, ...(four ? { d } : {}), training_rmspe: 0, training_size: n };
  const errors = training.map((t) => correctedRatio(correction, t) / t.measured_ratio - 1);
  correction.training_rmspe = Math.sqrt(errors.reduce((s, e) => s + e * e, 0) / n);
  return correction;
}

/** The normal equations solved by Gauss-Jordan elimination with partial pivoting; undefined when singular. */
function leastSquares(rows: number[][], y: number[]): number[] | undefined {
  const k = rows[0].length;
  const m = Array.from({ length: k }, (_, i) => [...Array.from({ length: k }, (_, j) => rows.reduce((s, r) => s + r[i] * r[j], 0)), rows.reduce((s, r, t) => s + r[i] * y[t], 0)]);
  for (let col = 0; col < k; col++) {
    let pivot = col;
    for (let r = col + 1; r < k; r++) if (Math.abs(m[r][col]) > Math.abs(m[pivot][col])) pivot = r;
    [m[col], m[pivot]] = [m[pivot], m[col]];
    if (Math.abs(m[col][col]) < 1e-9 * Math.max(1, Math.abs(m[0][0]))) return undefined;
    for (let r = 0; r < k; r++) {
      if (r === col) continue;
      const f = m[r][col] / m[col][col];
      for (let c = col; c <= k; c++) m[r][c] -= f * m[col][c];
    }
  }
  return m.map((row, i) => row[k] / row[i]);
}

/**
 * Tables measured in shards (`lut build --shard i/n`, perhaps on several machines of one kind)
 * as one: the same family, resolution, backend, space and reference model; entries and training
 * models pooled (the first measurement of a block kept). The caller recomputes the training sums
 * over the pooled entries and refits the correction.
 */
export function mergeLuts(luts: { lut: Lut; path: string }[]): Lut {
  const [first] = luts;
  for (const { lut, path } of luts.slice(1)) {
    for (const key of ['family', 'resolution', 'backend'] as const) {
      if (lut[key] !== first.lut[key]) throw new UsageError(`${path}: ${key} ${lut[key]} differs from ${first.path}'s ${first.lut[key]}; only shards of one table merge`);
    }
    if (JSON.stringify(lut.space) !== JSON.stringify(first.lut.space)) throw new UsageError(`${path}: its search space differs from ${first.path}'s`);
    if (lut.reference.model !== first.lut.reference.model) throw new UsageError(`${path}: reference ${lut.reference.model} differs from ${first.path}'s ${first.lut.reference.model}`);
  }
  const entries = new Map<string, LutEntry>();
  for (const { lut } of luts) for (const e of lut.entries) if (!entries.has(e.signature)) entries.set(e.signature, e);
  const training = new Map<string, TrainingRecord>();
  for (const { lut } of luts) for (const t of lut.training) training.set(JSON.stringify(t.point), t);
  return { ...first.lut, entries: [...entries.values()], training: [...training.values()], correction: undefined };
}

/** The correction as people read it: `0.912 x sum + 0.0031 x blocks - 0.180 x Melements + 0.021`. */
export function correctionFormula(c: Pick<Correction, 'a' | 'b' | 'c' | 'd'>): string {
  const term = (v: number, digits: number, what: string) => ` ${v >= 0 ? '+' : '-'} ${Math.abs(v).toFixed(digits)}${what}`;
  return `${c.a.toFixed(3)} x sum${term(c.b, 4, ' x blocks')}${c.d !== undefined ? term(c.d, 4, ' x Melements moved') : ''}${term(c.c, 3, '')}`;
}
