/**
 * `eformer search`: latency-driven slimming, as the EfficientFormer paper ran it over its
 * supernet. Start from the widest and deepest configuration of the table's space and shrink it
 * one step at a time (a stage narrower, a block fewer, a ratio lower, an attention block fewer),
 * always taking the steps that give up the least of the objective (MACs or params) per
 * millisecond saved, a few paths at once (a beam), until every path fits the budget. Every
 * configuration met along the way is a candidate; the Pareto front of those within the budget
 * (predicted latency against the objective) is the answer.
 *
 * The objective is a proxy: no network is trained here, so accuracy is not measured; MACs are
 * the usual stand-in for capacity.
 */
import { UsageError } from '../core/errors.js';
import type { ModelFamily } from '../models/family.js';
import { type Point, pointKey, shrinks, supernet } from '../models/space.js';
import { analyse, spaceOf } from './blocks.js';
import { MAX_RESOLUTION } from '../pipeline/index.js';
import { checkFields, readJsonFile, count, integer, list, milliseconds, name, nonNegative, nonNegativeMs, oneOf, optional, ratio, record, tuple, text } from '../results/fields.js';
import { blockSums, type Lut, pointRule, predictedRatio } from './lut.js';
import { lookUp } from './predict.js';

export const SEARCH_SCHEMA = 'eformer.search/1';

export type Objective = 'macs' | 'params';

export interface Candidate {
  point: Point;
  /** Predicted latency as a ratio to the table's reference, and in ms. */
  ratio: number;
  ms: number;
  macs: number;
  params: number;
}

export interface SearchOptions {
  budgetMs: number;
  objective?: Objective;
  /** Configurations to return from the front, best objective first. */
  top?: number;
  /** Paths followed at once. */
  beam?: number;
  /** The reference's latency now (`--calibrate`); the table's otherwise. */
  referenceMs?: number;
}

export interface SearchResult {
  schema: typeof SEARCH_SCHEMA;
  family: string;
  resolution: number;
  backend: string;
  budget_ms: number;
  objective: Objective;
  reference: { model: string; median_ms: number };
  /** Configurations whose latency was predicted. */
  evaluated: number;
  /** Each of them as [predicted ms, objective], for the chart. */
  cloud: [number, number][];
  seconds: number;
  supernet: Candidate;
  fastest: Candidate;
  /** Within the budget and not beaten on both latency and objective by another, fastest first. */
  front: Candidate[];
  /** The best `top` of the front by the objective. */
  chosen: Candidate[];
  /** `search --verify`: the chosen configurations measured on the table's backend. */
  verified?: Verification;
}

/** The chosen configurations measured interleaved with the table's reference, in `chosen`'s order. */
export interface Verification {
  backend: string;
  /** The device a device backend measured on. */
  device?: string;
  /** The reference and its median while they were measured: predictions are read at that speed. */
  reference: { model: string; median_ms: number };
  /** Per chosen configuration: its predicted ratio at that moment's speed, and what it measured. */
  candidates: { predicted_ms: number; measured_ms: number }[];
}

export function search(lut: Lut, lutPath: string, family: ModelFamily<unknown>, options: SearchOptions): SearchResult {
  const started = performance.now();
  const space = spaceOf(family);
  const objective = options.objective ?? 'macs';
  const referenceMs = options.referenceMs ?? lut.reference.median_ms;
  const beamWidth = options.beam ?? 4;
  const seen = new Map<string, Candidate>();
  const evaluate = (point: Point): Candidate => {
    const key = pointKey(point);
    let c = seen.get(key);
    if (!c) {
      const analysed = analyse(family, space.configOf(point), lut.resolution, family.id, false);
      const { entries } = lookUp(lut, lutPath, analysed, 'a configuration of the space');
      const ratio = predictedRatio(lut, lutPath, blockSums(entries), `the configuration ${describePoint(point)}`);
      // Each entry carries its block's toolbox counts: their sums are the configuration's.
      const sum = (key: 'macs' | 'params') => entries.reduce((s, e) => s + e[key], 0);
      c = { point, ratio, ms: ratio * referenceMs, macs: sum('macs'), params: sum('params') };
      seen.set(key, c);
    }
    return c;
  };
  const value = (c: Candidate) => (objective === 'macs' ? c.macs : c.params);

  const top = evaluate(supernet(lut.space));
  const fastest = evaluate(smallest(lut.space.stages, lut.space.attention));
  if (fastest.ms > options.budgetMs) {
    throw new UsageError(`no configuration fits ${options.budgetMs} ms: the fastest in ${lutPath}'s space is predicted at ${fastest.ms.toFixed(3)} ms`);
  }

  let beam = [top];
  while (beam.some((c) => c.ms > options.budgetMs)) {
    const next = new Map<string, { c: Candidate; cost: number }>();
    for (const parent of beam.filter((c) => c.ms > options.budgetMs)) {
      for (const point of shrinks(parent.point, lut.space, space)) {
        const child = evaluate(point);
        const saved = parent.ms - child.ms;
        if (saved <= 0) continue;
        // Objective given up per ms saved: the cheapest way down comes first.
        const cost = (value(parent) - value(child)) / saved;
        const key = pointKey(point);
        if (!next.has(key) || next.get(key)!.cost > cost) next.set(key, { c: child, cost });
      }
    }
    if (next.size === 0) break;
    beam = [...next.values()].sort((a, b) => a.cost - b.cost || a.c.ms - b.c.ms).slice(0, beamWidth).map((x) => x.c);
  }

  const within = [...seen.values()].filter((c) => c.ms <= options.budgetMs).sort((a, b) => a.ms - b.ms || value(b) - value(a));
  const front: Candidate[] = [];
  for (const c of within) if (!front.length || value(c) > value(front.at(-1)!)) front.push(c);
  const chosen = [...front].sort((a, b) => value(b) - value(a) || a.ms - b.ms).slice(0, options.top ?? 5);
  return {
    schema: SEARCH_SCHEMA,
    family: family.id,
    resolution: lut.resolution,
    backend: lut.backend,
    budget_ms: options.budgetMs,
    objective,
    reference: { model: lut.reference.model, median_ms: referenceMs },
    evaluated: seen.size,
    cloud: [...seen.values()].map((c) => [Number(c.ms.toFixed(4)), value(c)]),
    seconds: (performance.now() - started) / 1000,
    supernet: top,
    fastest,
    front,
    chosen,
  };
}

/** Widths, depths, attention blocks and the mean expansion ratio: enough to tell configurations apart. */
export function describePoint(p: Point): string {
  const ratios = p.ratios.flat();
  return `w ${p.widths.join('/')} d ${p.depths.join('/')} a ${p.attention} e ${(ratios.reduce((a, b) => a + b, 0) / ratios.length).toFixed(2)}`;
}

const candidateRule = record({ point: pointRule, ratio, ms: milliseconds, macs: count, params: count });

const searchRule = record({
  family: name,
  resolution: integer(1, MAX_RESOLUTION),
  backend: name,
  budget_ms: milliseconds,
  objective: oneOf('macs', 'params'),
  reference: record({ model: name, median_ms: milliseconds }),
  evaluated: count,
  cloud: list(tuple(nonNegativeMs, nonNegative)),
  seconds: optional(nonNegative),
  supernet: optional(candidateRule),
  fastest: optional(candidateRule),
  front: list(candidateRule, 1),
  chosen: list(candidateRule, 1),
  verified: optional(
    record({
      backend: name,
      device: optional(text),
      reference: record({ model: name, median_ms: milliseconds }),
      candidates: list(record({ predicted_ms: milliseconds, measured_ms: milliseconds })),
    }),
  ),
});

/** Read and check a search.json (`eformer search -o`): every field its page shows. */
export function readSearch(path: string): SearchResult {
  const raw = readJsonFile(path, 'search result');
  const schema = (raw as { schema?: unknown } | null)?.schema;
  if (!raw || typeof raw !== 'object' || schema !== SEARCH_SCHEMA) throw new UsageError(`${path}: not a search result (schema ${JSON.stringify(schema)}; eformer reads ${SEARCH_SCHEMA}, made by \`eformer search -o\`)`);
  checkFields(raw, searchRule, path);
  return raw as SearchResult;
}

/** The narrowest, shallowest point of the space: the lower bound on latency. */
function smallest(stages: Lut['space']['stages'], attention: number[]): Point {
  const depths = stages.map((s) => Math.min(...s.depths));
  return {
    widths: stages.map((s) => Math.min(...s.widths)),
    depths,
    ratios: stages.map((s, i) => Array(depths[i]).fill(Math.min(...s.ratios))),
    attention: Math.min(...attention),
  };
}
