/**
 * `eformer predict-latency`: a configuration's latency from a table, without the device. Each
 * block is looked up by its signature; the sum goes through the table's correction; the ratio to
 * the reference model becomes milliseconds through the reference's median (as measured when the
 * table was built, or again now with `--calibrate`).
 */
import { UsageError } from '../core/errors.js';
import type { ModelEntry } from '../models/family.js';
import { outsideSpace } from '../models/space.js';
import { analyse, type Analysed, spaceOf } from './blocks.js';
import { blockSums, type Correction, type Lut, type LutEntry, predictedRatio } from './lut.js';

export interface BlockEstimate {
  block: string;
  kind: string;
  shape: string;
  ratio: number;
  ms: number;
}

export interface LatencyPrediction {
  model: string;
  family: string;
  resolution: number;
  blocks: BlockEstimate[];
  /** Sum of the blocks' ratios to the reference, before the correction. */
  sum_ratio: number;
  /** Millions of elements the blocks read and write (a term of the correction). */
  io_melements?: number;
  /** The corrected prediction, as a ratio to the reference and in ms. */
  ratio: number;
  ms: number;
  reference: { model: string; median_ms: number; calibrated: boolean };
  correction?: Omit<Correction, 'training_rmspe' | 'training_size'>;
  params: number;
  macs: number;
}

/** The table's entries by signature, built once per table. */
const indexes = new WeakMap<Lut, Map<string, LutEntry>>();

function indexOf(lut: Lut): Map<string, LutEntry> {
  let index = indexes.get(lut);
  if (!index) indexes.set(lut, (index = new Map(lut.entries.map((e) => [e.signature, e]))));
  return index;
}

/**
 * The blocks of an analysed configuration with their table entries; a UsageError names the first
 * block the table has no entry for (and, when the configuration lies outside the table's space,
 * says how).
 */
export function lookUp(lut: Lut, lutPath: string, analysed: Analysed, model: string): { analysed: Analysed; entries: LutEntry[] } {
  const index = indexOf(lut);
  const entries = analysed.blocks.map((b) => {
    const e = index.get(b.block.signature);
    if (!e) throw new UsageError(`${model}: block ${b.block.path} (${b.kind}, ${b.shape}) has no entry in ${lutPath}, which covers its search space only (see \`eformer lut build --space\`)`);
    return e;
  });
  return { analysed, entries };
}

export function predictLatency(lut: Lut, lutPath: string, entry: ModelEntry, options: { resolution?: number; referenceMs?: number } = {}): LatencyPrediction {
  const family = entry.family;
  const resolution = options.resolution ?? entry.resolution ?? family.defaultResolution;
  if (family.id !== lut.family) throw new UsageError(`${lutPath} was measured for ${lut.family}; ${entry.name} is ${family.id}`);
  if (resolution !== lut.resolution) throw new UsageError(`${lutPath} was measured at ${lut.resolution}x${lut.resolution}; ${entry.name} is asked for at ${resolution}x${resolution}`);
  const space = spaceOf(family);
  const analysed = analyse(family, entry.config, resolution, entry.name);
  let entries: LutEntry[];
  try {
    entries = lookUp(lut, lutPath, analysed, entry.name).entries;
  } catch (err) {
    // Say first where the configuration leaves the space the table was measured for.
    const outside = outsideSpace(space.pointOf(entry.config), lut.space, space.attentionStages);
    if (outside) throw new UsageError(`${entry.name} is outside the space ${lutPath} covers: ${outside}`);
    throw err;
  }
  const referenceMs = options.referenceMs ?? lut.reference.median_ms;
  const sums = blockSums(entries);
  const ratio = predictedRatio(lut, lutPath, sums, entry.name);
  return {
    model: entry.name,
    family: family.id,
    resolution,
    blocks: analysed.blocks.map((b, i) => ({ block: b.block.path, kind: b.kind, shape: b.shape, ratio: entries[i].ratio, ms: entries[i].ratio * referenceMs })),
    sum_ratio: sums.sum_ratio,
    io_melements: sums.io_melements,
    ratio,
    ms: ratio * referenceMs,
    reference: { model: lut.reference.model, median_ms: referenceMs, calibrated: options.referenceMs !== undefined },
    correction: formulaOf(lut.correction),
    params: analysed.params,
    macs: analysed.macs,
  };
}

/** The correction's coefficients, without its training statistics. */
function formulaOf(c: Correction | undefined): LatencyPrediction['correction'] {
  if (!c) return undefined;
  const { training_rmspe: _rmspe, training_size: _size, ...formula } = c;
  return formula;
}
