/**
 * Per-op breakdown from onnxruntime's own profiler trace (Chrome trace JSON): node kernel
 * times aggregated by op type and by model block. eformer names every ONNX node
 * `<module path>/<op>_<n>`, so a node's block follows from its name. Nodes that onnxruntime
 * creates itself (fused GELUs named `Gelu_token_7`, NCHWc layout reorders) carry no module
 * path; they are charged to the block of the node that ran just before them, which with
 * sequential execution is the layer they were fused from or the block whose output they
 * convert.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';

interface TraceEvent {
  cat?: string;
  name?: string;
  dur?: number;
  args?: { op_name?: string };
}

export interface BreakdownRow {
  key: string;
  /** This row's share of the measured (un-profiled) median latency, ms. */
  ms: number;
  /** Mean kernel time per run as onnxruntime's profiler saw it, ms. */
  profiler_ms: number;
  /** Share of all node time. */
  percent: number;
  /** Kernel launches per run. */
  nodes: number;
}

export interface Breakdown {
  runs: number;
  /** The un-profiled median latency the `ms` columns are scaled to. */
  median_ms: number;
  /** Mean sum of node kernel times per run, ms. */
  node_ms: number;
  /** Median of the profiler's own `model_run` durations, ms. */
  model_run_ms: number;
  by_op: BreakdownRow[];
  by_block: BreakdownRow[];
  by_stage: BreakdownRow[];
}

/** Names a node's place in the model: `stage 3 · block 4 · attention`, or undefined. */
export type BlockNamer = (modulePath: string) => { block: string; stage: string } | undefined;

export function parseTrace(path: string): TraceEvent[] {
  try {
    const events = JSON.parse(readFileSync(path, 'utf8'));
    if (!Array.isArray(events)) throw new Error('not a trace array');
    return events;
  } catch (err) {
    throw new UsageError(`cannot read onnxruntime profile ${path}: ${(err as Error).message}`);
  }
}

function rows(totals: Map<string, { us: number; nodes: number }>, runs: number, allUs: number): BreakdownRow[] {
  return [...totals]
    .map(([key, t]) => ({ key, ms: t.us / runs / 1000, profiler_ms: t.us / runs / 1000, percent: (100 * t.us) / allUs, nodes: Math.round(t.nodes / runs) }))
    .sort((a, b) => b.ms - a.ms);
}

const UNPLACED = '(not in a model block)';

export function aggregateTrace(events: TraceEvent[], nameBlock: BlockNamer): Breakdown {
  const runDurations = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').map((e) => e.dur ?? 0);
  const runs = runDurations.length;
  if (runs === 0) throw new UsageError('the onnxruntime profile holds no model runs');
  const byOp = new Map<string, { us: number; nodes: number }>();
  const byBlock = new Map<string, { us: number; nodes: number }>();
  const byStage = new Map<string, { us: number; nodes: number }>();
  const add = (map: typeof byOp, key: string, us: number) => {
    const t = map.get(key) ?? { us: 0, nodes: 0 };
    t.us += us;
    t.nodes += 1;
    map.set(key, t);
  };
  let allUs = 0;
  let previous: ReturnType<BlockNamer>;
  for (const e of events) {
    if (e.cat === 'Session' && e.name === 'model_run') previous = undefined;
    if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time')) continue;
    const us = e.dur ?? 0;
    allUs += us;
    add(byOp, e.args?.op_name ?? 'unknown', us);
    const place = nameBlock(e.name.replace(/_kernel_time$/, '').split('/')[0]) ?? previous;
    previous = place;
    add(byBlock, place?.block ?? UNPLACED, us);
    add(byStage, place?.stage ?? UNPLACED, us);
  }
  const sorted = [...runDurations].sort((a, b) => a - b);
  return {
    runs,
    median_ms: allUs / runs / 1000,
    node_ms: allUs / runs / 1000,
    model_run_ms: sorted[Math.floor(runs / 2)] / 1000,
    by_op: rows(byOp, runs, allUs),
    by_block: rows(byBlock, runs, allUs),
    by_stage: rows(byStage, runs, allUs),
  };
}

/**
 * onnxruntime's profiler slows every node down (measured here: +16% on efficientformer_l1,
 * +43% on efficientformerv2_s0, whose nodes are smaller), so its times are good for shares,
 * not for milliseconds. Scale each row's share to the latency measured without it.
 */
export function scaleToMedian(b: Breakdown, median: number): Breakdown {
  const scale = (rows: BreakdownRow[]) => rows.map((r) => ({ ...r, ms: (r.percent / 100) * median }));
  return { ...b, median_ms: median, by_op: scale(b.by_op), by_block: scale(b.by_block), by_stage: scale(b.by_stage) };
}

/**
 * Block names for the zoo's module paths: `patch_embed` is the stem, `network.<2i>` stage i,
 * `network.<2i+1>` the embedding into stage i+1, `features.<n>` a MobileNetV2 block.
 */
export function zooBlockNamer(attentionModules: ReadonlySet<string>): BlockNamer {
  return (path) => {
    const parts = path.split('.');
    if (parts[0] === 'patch_embed') return { block: 'stem', stage: 'stem' };
    if (['norm', 'head', 'dist_head', 'classifier'].includes(parts[0]) || parts[0].startsWith('head+')) return { block: 'head', stage: 'head' };
    if (parts[0] === 'features' && parts[1] !== undefined) return { block: `features.${parts[1]}`, stage: `features.${parts[1]}` };
    if (parts[0] !== 'network' || parts[1] === undefined) return undefined;
    const index = Number(parts[1]);
    if (index % 2 === 1) {
      const into = (index + 1) / 2;
      const part = parts[2] === 'attn' ? 'attention' : 'conv';
      return { block: `embedding ${into - 1}->${into} · ${part}`, stage: `embedding ${into - 1}->${into}` };
    }
    const stage = `stage ${index / 2}`;
    if (parts[2] === undefined) return { block: stage, stage };
    const blockPath = parts.slice(0, 3).join('.');
    const part = parts[3] === 'token_mixer' ? (attentionModules.has(`${blockPath}.token_mixer`) ? 'attention' : 'pooling') : parts[3] === 'mlp' ? 'mlp' : parts[3] ? 'norm' : 'residual + layout';
    return { block: `${stage} · block ${parts[2]} · ${part}`, stage: `${stage} · ${part}` };
  };
}
