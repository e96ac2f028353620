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
import { UsageError } from '../core/errors.js';
import { type CentralStatistic, median } from '../core/stats.js';
import type { OpTime } from '../backends/backend.js';
import type { BlockNamer } from '../models/family.js';
import type { Breakdown, BreakdownRow } from '../results/results.js';

export type { Breakdown, BreakdownRow };

interface TraceEvent {
  cat?: string;
  name?: string;
  dur?: number;
  args?: { op_name?: string };
}

export function parseTrace(path: string): TraceEvent[] {
  try {
    const events = JSON.parse(readFileSync(path, 'utf8'));
    if (!Array.isArray(events)) throw new Error('not a trace array');
    return events;
  } catch (err) {
    throw new UsageError(`cannot read onnxruntime profile ${path}: ${(err as Error).message}`);
  }
}

function rows(totals: Map<string, { ms: number; nodes: number }>, runs: number, allMs: number): BreakdownRow[] {
  return [...totals]
    .map(([key, t]) => ({ key, ms: t.ms / runs, profiler_ms: t.ms / runs, percent: allMs > 0 ? (100 * t.ms) / allMs : 0, nodes: Math.round(t.nodes / runs) }))
    .sort((a, b) => b.ms - a.ms);
}

const UNPLACED = '(not in a model block)';

/** One node's time in one profiled run (or its average over them: then `runs` is 1). */
interface NodeTime {
  op: string;
  /** The node's module path (the part of its name before the first `/`), or a name the namer does not know. */
  module: string;
  ms: number;
  /** The first node of a run: nothing before it to charge an unnamed node to. */
  runStart?: boolean;
}

/**
 * Node times summed by op type, by model block and by stage, per run. A node whose name the family
 * does not know (one the runtime created) is charged to the block of the node that ran just before it.
 */
function aggregateNodes(nodes: NodeTime[], runs: number, modelRunMs: number, nameBlock: BlockNamer): Breakdown {
  const byOp = new Map<string, { ms: number; nodes: number }>();
  const byBlock = new Map<string, { ms: number; nodes: number }>();
  const byStage = new Map<string, { ms: number; nodes: number }>();
  const add = (map: typeof byOp, key: string, ms: number) => {
    const t = map.get(key) ?? { ms: 0, nodes: 0 };
    t.ms += ms;
    t.nodes += 1;
    map.set(key, t);
  };
  let allMs = 0;
  let previous: ReturnType<BlockNamer>;
  for (const n of nodes) {
    if (n.runStart) previous = undefined;
    allMs += n.ms;
    add(byOp, n.op, n.ms);
    const place = nameBlock(n.module) ?? previous;
    previous = place;
    add(byBlock, place?.block ?? UNPLACED, n.ms);
    add(byStage, place?.stage ?? UNPLACED, n.ms);
  }
  return {
    runs,
    median_ms: allMs / runs,
    node_ms: allMs / runs,
    model_run_ms: modelRunMs,
    by_op: rows(byOp, runs, allMs),
    by_block: rows(byBlock, runs, allMs),
    by_stage: rows(byStage, runs, allMs),
  };
}

export function aggregateTrace(events: TraceEvent[], nameBlock: BlockNamer): Breakdown {
  const runDurations = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').map((e) => e.dur ?? 0);
  const runs = runDurations.length;
  if (runs === 0) throw new UsageError('the onnxruntime profile holds no model runs');
  const nodes: NodeTime[] = [];
  let runStart = true;
  for (const e of events) {
    if (e.cat === 'Session' && e.name === 'model_run') runStart = true;
    if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time')) continue;
    nodes.push({ op: e.args?.op_name ?? 'unknown', module: e.name.replace(/_kernel_time$/, '').split('/')[0], ms: (e.dur ?? 0) / 1000, runStart });
    runStart = false;
  }
  return aggregateNodes(nodes, runs, median(runDurations) / 1000, nameBlock);
}

/**
 * A device harness's per-op table (LiteRT's benchmark_model), already averaged per run: each op's
 * average ms, in run order. Ops inside a delegate (XNNPACK's own operators) carry the delegate's
 * names, not the model's, so they fall in no model block.
 */
export function aggregateOpTimes(profile: { profiler: string; runs: number; runMs: number; ops: OpTime[] }, nameBlock: BlockNamer): Breakdown {
  const nodes = profile.ops.map((o, i) => ({ op: o.op, module: o.name.split('/')[0], ms: o.ms, runStart: i === 0 }));
  return { ...aggregateNodes(nodes, 1, profile.runMs, nameBlock), runs: profile.runs, profiler: profile.profiler };
}

/**
 * A profiler slows every node down (onnxruntime's, measured here: +16% on efficientformer_l1, +43% on
 * efficientformerv2_s0, whose nodes are smaller), so its times are good for shares, not for
 * milliseconds. Scale each row's share to the latency measured without it: the median, or the
 * average for a result that stands for its average (`statistic`).
 */
export function scaleToMedian(b: Breakdown, latency: number, statistic: CentralStatistic = 'median'): Breakdown {
  const scale = (rows: BreakdownRow[]) => rows.map((r) => ({ ...r, ms: (r.percent / 100) * latency }));
  return { ...b, median_ms: latency, ...(statistic === 'mean' ? { scaled_to: 'mean' as const } : {}), by_op: scale(b.by_op), by_block: scale(b.by_block), by_stage: scale(b.by_stage) };
}
