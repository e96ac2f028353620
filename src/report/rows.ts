/** The summary row every report format shows per result, computed from the results file only. */
import type { ModelResult, ResultsFile } from '../results/results.js';

export interface SummaryRow {
  model: string;
  backend: string;
  resolution: string;
  params_m: string;
  macs_g: string;
  median_ms: string;
  p90_ms: string;
  ci95_ms: string;
  cov_pct: string;
  runs: string;
  single_ms: string;
  device: string;
  load_ms: string;
  first_ms: string;
  flag: string;
  paper_top1: string;
  paper_iphone12_ms: string;
}

export const COLUMNS: [keyof SummaryRow, string][] = [
  ['model', 'model'],
  ['backend', 'backend'],
  ['resolution', 'res'],
  ['params_m', 'params M'],
  ['macs_g', 'MACs G'],
  ['median_ms', 'median ms'],
  ['p90_ms', 'p90 ms'],
  ['ci95_ms', '95% CI of median'],
  ['cov_pct', 'CoV %'],
  ['runs', 'runs'],
  ['single_ms', 'alone, spinning ms'],
  ['device', 'device'],
  ['load_ms', 'load ms'],
  ['first_ms', 'first run ms'],
  ['flag', 'note'],
  ['paper_top1', 'top-1 (paper)'],
  ['paper_iphone12_ms', 'iPhone 12 ms (paper)'],
];

/** Columns only device backends fill: shown when some result has them. */
const DEVICE_COLUMNS = new Set<keyof SummaryRow>(['device', 'load_ms', 'first_ms']);

/** The columns to show for these results. */
export function columnsFor(results: ModelResult[]): [keyof SummaryRow, string][] {
  const rows = results.map(summaryRow);
  return COLUMNS.filter(([key]) => !DEVICE_COLUMNS.has(key) || rows.some((row) => row[key] !== '-'));
}

const f = (n: number | undefined, digits: number) => (n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(digits));

export function summaryRow(r: ModelResult): SummaryRow {
  const s = r.latency_ms;
  return {
    model: r.baseline ? `${r.model} (baseline)` : r.model,
    backend: r.backend,
    resolution: r.resolution ? String(r.resolution) : '-',
    params_m: f(r.params && r.params.toolbox / 1e6, 2),
    macs_g: f(r.macs && r.macs.toolbox / 1e9, 3),
    median_ms: f(s.median, 3),
    p90_ms: f(s.p90, 3),
    ci95_ms: s.median_ci95 ? `${f(s.median_ci95[0], 3)}-${f(s.median_ci95[1], 3)}` : '-',
    cov_pct: f(s.cov === undefined ? undefined : s.cov * 100, 1),
    runs: String(r.runs),
    single_ms: f(r.single_session?.latency_ms.median, 3),
    device: r.device ? r.device.name : '-',
    load_ms: f(r.load_ms, 1),
    first_ms: f(r.first_run_ms, 3),
    flag: [r.noisy ? 'NOISY' : '', s.from_summary ? `P50 from harness summary${s.quantile_rule?.startsWith('nearest-rank') ? ', nearest-rank' : ''}` : ''].filter(Boolean).join('; '),
    paper_top1: f(r.paper?.top1, 1),
    paper_iphone12_ms: f(r.paper?.iphone12_ms, 1),
  };
}

export function allResults(files: ResultsFile[]): ModelResult[] {
  return files.flatMap((f) => f.results);
}

/** One line describing where the numbers were measured. */
export function environmentLine(file: ResultsFile): string {
  const e = file.env;
  const runtime = e.onnxruntime ? `onnxruntime ${e.onnxruntime}` : e.onnxruntime_web ? `onnxruntime-web ${e.onnxruntime_web}` : undefined;
  const parts = [`${e.cpu}, ${e.cores} cores, ${e.os}, node ${e.node}`, runtime, e.device ? `device ${e.device}` : undefined, `eformer ${e.eformer}`];
  return `${parts.filter(Boolean).join(', ')}${e.git_commit ? `, commit ${String(e.git_commit).slice(0, 10)}` : ''}`;
}
