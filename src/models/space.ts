/**
 * A family's search space, as the EfficientFormer papers' latency-driven slimming searched it:
 * for each stage the widths it may take, the depths, the MLP expansion ratios of its blocks, and
 * how many attention blocks end the attention stages. A point of the space is one network; the
 * family turns it into its own config. Everything here is generic: sampling, the supernet,
 * single-step shrinking and the covering set of points whose blocks a latency table must hold.
 */
import { UsageError } from '../core/errors.js';

export interface StageSpace {
  widths: number[];
  depths: number[];
  /** Expansion ratios a block may take (one value for families with a single global ratio). */
  ratios: number[];
}

/** The JSON of `--space FILE` (`eformer.space/1`); a family's default lives in its folder. */
export interface SpaceSpec {
  family: string;
  resolution: number;
  stages: StageSpace[];
  /** Attention blocks at the end of each attention stage. */
  attention: number[];
}

/** One network of the space. */
export interface Point {
  widths: number[];
  depths: number[];
  /** Per stage, per block (a family with one global ratio uses ratios[0][0]). */
  ratios: number[][];
  attention: number;
}

/** What a family says about its space. */
export interface SearchSpace<Config> {
  /** The space the family's published models come from (widest to narrowest), at its resolution. */
  readonly defaultSpace: Omit<SpaceSpec, 'family'>;
  /** Stages whose last `attention` blocks are attention blocks. */
  readonly attentionStages: readonly number[];
  /** Whether each block picks its own ratio (EfficientFormerV2) or one ratio serves all (V1). */
  readonly perBlockRatios: boolean;
  configOf(point: Point): Config;
  /** The block a module path belongs to (`stem`, `network.4.2`, `head`): what a latency table times alone. */
  blockOf(modulePath: string): string;
  /** The point a config is, when it lies in the family's kind of space (for `predict-latency --model`). */
  pointOf(config: Config): Point;
}

const max = (xs: number[]) => Math.max(...xs);
const min = (xs: number[]) => Math.min(...xs);

/** The largest choices a space may offer: beyond any published model, and bounded so that building the supernet stays cheap. */
export const SPACE_LIMITS = { width: 4096, depth: 64, ratio: 16 };

/** A `--space` file's content, checked: every stage has choices, attention counts fit the depths. */
export function readSpace(raw: Record<string, unknown>, family: { id: string; searchSpace?: SearchSpace<unknown> }, where: string): SpaceSpec {
  const fail = (why: string): never => {
    throw new UsageError(`${where}: ${why}`);
  };
  if (!family.searchSpace) fail(`family ${family.id} has no search space`);
  const ints = (v: unknown, what: string, most = Number.MAX_SAFE_INTEGER) => {
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => Number.isInteger(x) && x > 0 && x <= most)) fail(`${what} must be a non-empty list of positive integers${most < Number.MAX_SAFE_INTEGER ? ` up to ${most}` : ''}`);
    return [...new Set(v as number[])].sort((a, b) => a - b);
  };
  const base = family.searchSpace!.defaultSpace;
  const stages = raw.stages ?? base.stages;
  if (!Array.isArray(stages) || stages.length !== base.stages.length) fail(`stages must list ${base.stages.length} stages`);
  const spec: SpaceSpec = {
    family: family.id,
    resolution: raw.resolution === undefined ? base.resolution : (ints([raw.resolution], 'resolution')[0] as number),
    stages: (stages as Record<string, unknown>[]).map((s, i) => ({
      widths: ints(s?.widths, `stages[${i}].widths`, SPACE_LIMITS.width),
      depths: ints(s?.depths, `stages[${i}].depths`, SPACE_LIMITS.depth),
      ratios: (() => {
        const r = s?.ratios;
        if (!Array.isArray(r) || r.length === 0 || !r.every((x) => typeof x === 'number' && x > 0 && x <= SPACE_LIMITS.ratio)) fail(`stages[${i}].ratios must be a non-empty list of positive numbers up to ${SPACE_LIMITS.ratio}`);
        return [...new Set(r as number[])].sort((a, b) => a - b);
      })(),
    })),
    attention: (() => {
      const a = raw.attention ?? base.attention;
      if (!Array.isArray(a) || a.length === 0 || !a.every((x) => Number.isInteger(x) && x >= 0 && x <= SPACE_LIMITS.depth)) fail(`attention must be a non-empty list of integers from 0 to ${SPACE_LIMITS.depth}`);
      return [...new Set(a as number[])].sort((x, y) => x - y);
    })(),
  };
  const unknown = Object.keys(raw).filter((k) => !['schema', 'family', 'resolution', 'stages', 'attention'].includes(k));
  if (unknown.length) fail(`unknown field '${unknown[0]}' (fields: family, resolution, stages, attention)`);
  if (!family.searchSpace!.perBlockRatios && spec.stages.some((s) => s.ratios.length !== 1 || s.ratios[0] !== spec.stages[0].ratios[0])) {
    fail(`${family.id} has one expansion ratio for the whole network: give every stage the same single ratio`);
  }
  for (const s of family.searchSpace!.attentionStages) {
    if (min(spec.attention) > min(spec.stages[s].depths)) fail(`stage ${s} may be ${min(spec.stages[s].depths)} blocks deep, fewer than the fewest attention blocks (${min(spec.attention)})`);
  }
  return spec;
}

/** The widest, deepest network of the space: where slimming starts. */
export function supernet(space: SpaceSpec): Point {
  const depths = space.stages.map((s) => max(s.depths));
  return { widths: space.stages.map((s) => max(s.widths)), depths, ratios: space.stages.map((s, i) => Array(depths[i]).fill(max(s.ratios))), attention: max(space.attention) };
}

/** Whether the point lies in the space; otherwise what is outside it. */
export function outsideSpace(point: Point, space: SpaceSpec, attentionStages: readonly number[]): string | undefined {
  for (let i = 0; i < space.stages.length; i++) {
    const s = space.stages[i];
    if (!s.widths.includes(point.widths[i])) return `stage ${i} width ${point.widths[i]} (the space has ${s.widths.join(', ')})`;
    if (!s.depths.includes(point.depths[i])) return `stage ${i} depth ${point.depths[i]} (the space has ${s.depths.join(', ')})`;
    const bad = point.ratios[i].find((r) => !s.ratios.includes(r));
    if (bad !== undefined) return `stage ${i} expansion ratio ${bad} (the space has ${s.ratios.join(', ')})`;
  }
  if (!space.attention.includes(point.attention)) return `${point.attention} attention blocks (the space has ${space.attention.join(', ')})`;
  const shallow = attentionStages.find((s) => point.depths[s] < point.attention);
  if (shallow !== undefined) return `${point.attention} attention blocks in stage ${shallow}, which is ${point.depths[shallow]} deep`;
  return undefined;
}

/** A stable text form of a point, for de-duplication. */
export function pointKey(p: Point): string {
  return JSON.stringify([p.widths, p.depths, p.ratios, p.attention]);
}

const clone = (p: Point): Point => ({ widths: [...p.widths], depths: [...p.depths], ratios: p.ratios.map((r) => [...r]), attention: p.attention });

/**
 * Every point one step smaller: a stage one width narrower, one block shallower (its last
 * convolutional block goes; attention blocks are their own step), one block's ratio one step
 * lower, or one attention block fewer. All inside the space.
 */
export function shrinks(p: Point, space: SpaceSpec, search: Pick<SearchSpace<unknown>, 'attentionStages' | 'perBlockRatios'>): Point[] {
  const out: Point[] = [];
  const lower = (choices: number[], v: number) => [...choices].reverse().find((c) => c < v);
  space.stages.forEach((s, i) => {
    const w = lower(s.widths, p.widths[i]);
    if (w !== undefined) out.push({ ...clone(p), widths: p.widths.map((x, k) => (k === i ? w : x)) });
    const d = lower(s.depths, p.depths[i]);
    const attentionHere = search.attentionStages.includes(i) ? p.attention : 0;
    if (d !== undefined && d >= attentionHere) {
      const q = clone(p);
      const drop = p.depths[i] - d;
      q.depths[i] = d;
      // The convolutional blocks before the attention ones go; the attention blocks keep their ratios.
      const convBlocks = p.depths[i] - attentionHere;
      if (convBlocks >= drop) {
        q.ratios[i].splice(convBlocks - drop, drop);
        out.push(q);
      }
    }
  });
  if (search.perBlockRatios) {
    space.stages.forEach((s, i) => {
      p.ratios[i].forEach((r, j) => {
        const lowerRatio = [...s.ratios].reverse().find((c) => c < r);
        // Only the first block of a run of equal ratios steps down, so equal moves are not tried twice.
        if (lowerRatio !== undefined && (j === 0 || p.ratios[i][j - 1] !== r)) {
          const q = clone(p);
          q.ratios[i][j] = lowerRatio;
          out.push(q);
        }
      });
    });
  } else {
    const r = lower(space.stages[0].ratios, p.ratios[0][0]);
    if (r !== undefined) out.push({ ...clone(p), ratios: p.ratios.map((rs) => rs.map(() => r)) });
  }
  const a = lower(space.attention, p.attention);
  if (a !== undefined) out.push({ ...clone(p), attention: a });
  return out;
}

/** A random point (seeded by `rand`, uniform in [0, 1)). */
export function samplePoint(space: SpaceSpec, rand: () => number, search: Pick<SearchSpace<unknown>, 'attentionStages' | 'perBlockRatios'>): Point {
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  for (;;) {
    const depths = space.stages.map((s) => pick(s.depths));
    const global = pick(space.stages[0].ratios);
    const p: Point = {
      widths: space.stages.map((s) => pick(s.widths)),
      depths,
      ratios: space.stages.map((s, i) => Array.from({ length: depths[i] }, () => (search.perBlockRatios ? pick(s.ratios) : global))),
      attention: pick(space.attention),
    };
    if (search.attentionStages.every((s) => p.depths[s] >= p.attention)) return p;
  }
}

/**
 * Points that together use every block any point of the space can use, on the assumption
 * (true of both EfficientFormers) that a block's computation depends on its stage's width, its
 * ratio and kind, and a downsampling layer's on the two widths it joins: every combination of
 * widths, each ratio, with the fewest and the most attention blocks, at full depth.
 */
export function coveringPoints(space: SpaceSpec, search: Pick<SearchSpace<unknown>, 'attentionStages'>): Point[] {
  let combos: number[][] = [[]];
  for (const s of space.stages) combos = combos.flatMap((c) => s.widths.map((w) => [...c, w]));
  const depths = space.stages.map((s) => max(s.depths));
  const ratioSets = [...new Set(space.stages.flatMap((s) => s.ratios))];
  const attention = [...new Set([min(space.attention), max(space.attention)])];
  const points: Point[] = [];
  for (const widths of combos) {
    for (const r of ratioSets) {
      for (const a of attention) {
        // A stage without ratio r uses its nearest own ratio; no block is missed, some repeat.
        const ratios = space.stages.map((s, i) => Array(depths[i]).fill(s.ratios.includes(r) ? r : s.ratios[0]));
        if (search.attentionStages.every((st) => depths[st] >= a)) points.push({ widths, depths, ratios, attention: a });
      }
    }
  }
  return points;
}
