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
import { median } from '../core/stats.js';
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
  return {
    runs,
    median_ms: allUs / runs / 1000,
    node_ms: allUs / runs / 1000,
    model_run_ms: median(runDurations) / 1000,
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
