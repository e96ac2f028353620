/**
 * The summary row every report format shows per result, computed from the results file only, and
 * which columns a view shows: the default view fits a 100-column terminal, `--wide` (and the
 * Markdown, CSV and HTML reports) show everything.
 */
import { paperMs } from './format.js';
import { MIB, type CostFigure } from '../core/memory.js';
import { centralLatency, MIN_RUNS_FOR_CI } from '../core/stats.js';
import { type ModelResult, paperLatency, type ResultsFile } from '../results/results.js';

export interface SummaryRow {
  source: string;
  model: string;
  backend: string;
  resolution: string;
  params_m: string;
  macs_g: string;
  median_ms: string;
  /** Only for results that stand for their average (a harness that printed no median). */
  avg_ms: string;
  ci95_pct: string;
  p90_ms: string;
  ci95_ms: string;
  cov_pct: string;
  runs: string;
  vs_reference: string;
  int8_speedup: string;
  int8_sqnr: string;
  int8_cosine: string;
  single_ms: string;
  device: string;
  load_ms: string;
  first_ms: string;
  /** memory_mb.peak: the figure the gate guards. */
  memory_mb: string;
  /** memory_mb.load, where the backend can tell. */
  memory_load_mb: string;
  model_mb: string;
  note: string;
  paper_top1: string;
  paper_ms: string;
  paper_device: string;
}

interface Column {
  key: keyof SummaryRow;
  title: string;
  /** Only in the wide view. */
  wide?: boolean;
  /** Only when some row has a value (device columns, the reference ratio, the source file). */
  sparse?: boolean;
  /** Also in the narrow view when the rows differ in it (results of two backends side by side). */
  whenVarying?: boolean;
}

export const COLUMNS: Column[] = [
  { key: 'source', title: 'file', sparse: true },
  { key: 'model', title: 'model' },
  { key: 'backend', title: 'backend', wide: true, whenVarying: true },
  { key: 'resolution', title: 'res', wide: true },
  { key: 'params_m', title: 'params M' },
  { key: 'macs_g', title: 'MACs G' },
  { key: 'median_ms', title: 'median' },
  { key: 'avg_ms', title: 'average', sparse: true },
  { key: 'ci95_pct', title: 'CI95' },
  { key: 'p90_ms', title: 'p90 ms', wide: true },
  { key: 'ci95_ms', title: '95% CI of median ms', wide: true },
  { key: 'cov_pct', title: 'CoV %', wide: true },
  { key: 'runs', title: 'runs', wide: true },
  { key: 'vs_reference', title: 'x ref', sparse: true },
  { key: 'int8_speedup', title: 'int8 speed-up', sparse: true },
  { key: 'int8_sqnr', title: 'SQNR dB', sparse: true },
  { key: 'int8_cosine', title: 'cosine', sparse: true, wide: true },
  { key: 'single_ms', title: 'alone', sparse: true },
  { key: 'device', title: 'device', sparse: true },
  { key: 'load_ms', title: 'load ms', sparse: true },
  { key: 'memory_mb', title: 'peak MB', sparse: true },
  { key: 'first_ms', title: 'first run ms', sparse: true, wide: true },
  { key: 'memory_load_mb', title: 'load MB', sparse: true, wide: true },
  { key: 'model_mb', title: 'model MB', sparse: true, wide: true },
  { key: 'paper_top1', title: 'top-1', sparse: true },
  { key: 'paper_ms', title: 'paper ms', sparse: true },
  { key: 'paper_device', title: 'paper device', sparse: true, wide: true },
  { key: 'note', title: 'note', sparse: true },
];

/** The columns to show for these rows: everything with a value in the wide view, the narrow set otherwise. */
export function columnsFor(rows: SummaryRow[], wide: boolean): Column[] {
  const shown = (c: Column) => rows.some((row) => row[c.key] !== '-' && row[c.key] !== '');
  // Rows from several files need the file column; the papers' figures (the same in every file) make room for it.
  const severalFiles = rows.some((row) => row.source);
  const papers = (c: Column) => c.key === 'paper_top1' || c.key === 'paper_ms';
  const varies = (c: Column) => new Set(rows.map((row) => row[c.key])).size > 1;
  return COLUMNS.filter((c) => (wide || (!c.wide && !(severalFiles && papers(c))) || (c.whenVarying && varies(c))) && (!c.sparse || shown(c)));
}

/** The narrow view's columns in the order they give way when a table would not fit 100 columns. */
export const NARROW_FIRST_LEFT_OUT: readonly (keyof SummaryRow)[] = ['paper_ms', 'paper_top1', 'int8_sqnr', 'single_ms', 'device', 'macs_g', 'params_m', 'ci95_pct', 'int8_speedup'];

const f = (n: number | undefined, digits: number) => (n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(digits));

/**
 * When the single-session median (alone, spinning) and the interleaved one disagree by more than
 * their confidence intervals allow, say by how much: it was seen at 2x and at 0.5x on a busy machine.
 */
function aloneDiffers(r: ModelResult): string | undefined {
  const alone = r.single_session?.latency_ms;
  const ci = r.latency_ms.median_ci95;
  if (!alone || !ci) return undefined;
  const aloneCi = alone.median_ci95 ?? [centralLatency(alone), centralLatency(alone)];
  if (aloneCi[1] >= ci[0] && aloneCi[0] <= ci[1]) return undefined;
  return `alone ${(centralLatency(alone) / centralLatency(r.latency_ms)).toFixed(2)}x`;
}

/** Each result's row; `source` names the results file it came from when there are several. */
export function summaryRow(r: ModelResult, source = ''): SummaryRow {
  const s = r.latency_ms;
  const ci = s.median_ci95;
  const fewRuns = !s.from_summary && s.samples.length < MIN_RUNS_FOR_CI;
  const average = s.statistic === 'mean';
  const harness = !s.from_summary ? '' : average ? 'average from the harness (no median printed)' : `P50 from the harness${s.quantile_rule?.startsWith('nearest-rank') ? ' (nearest-rank)' : ''}`;
  return {
    source,
    model: r.model,
    backend: r.backend,
    resolution: r.resolution ? String(r.resolution) : '-',
    params_m: f(r.params && r.params.toolbox / 1e6, 2),
    macs_g: f(r.macs && r.macs.toolbox / 1e9, 3),
    median_ms: f(s.median, 3),
    avg_ms: average ? f(s.mean, 3) : '-',
    ci95_pct: ci ? `±${(((ci[1] - ci[0]) / 2 / centralLatency(s)) * 100).toFixed(1)}%` : '-',
    p90_ms: f(s.p90, 3),
    ci95_ms: ci ? `${f(ci[0], 3)}-${f(ci[1], 3)}` : '-',
    cov_pct: f(s.cov === undefined ? undefined : s.cov * 100, 1),
    runs: String(r.runs),
    vs_reference: r.vs_reference && r.vs_reference.model !== r.model ? f(r.vs_reference.median, 3) : r.vs_reference ? 'ref' : '-',
    int8_speedup: r.int8?.speedup === undefined ? '-' : `${r.int8.speedup.toFixed(2)}x`,
    int8_sqnr: r.int8 ? (r.int8.sqnr_db === null ? 'exact' : r.int8.sqnr_db.toFixed(1)) : '-',
    int8_cosine: r.int8 ? r.int8.cosine.toFixed(5) : '-',
    single_ms: f(r.single_session && centralLatency(r.single_session.latency_ms), 3),
    device: r.device ? r.device.name : '-',
    load_ms: f(r.load_ms, 1),
    first_ms: f(r.first_run_ms, 3),
    memory_mb: f(r.memory_mb?.peak, 1),
    memory_load_mb: f(r.memory_mb?.load, 1),
    model_mb: f(r.model_bytes === undefined ? undefined : r.model_bytes / MIB, 2),
    note: [r.baseline ? 'CNN' : '', r.noisy ? 'NOISY' : '', fewRuns ? 'few runs' : '', aloneDiffers(r) ?? '', harness].filter(Boolean).join(' '),
    paper_top1: f(r.paper?.top1, 1),
    // As the paper prints it (0.78, 1.6).
    paper_ms: paperLatency(r) ? paperMs(paperLatency(r)!.ms) : '-',
    paper_device: paperLatency(r)?.device ?? '-',
  };
}

/** Every result with the label of the file it came from (`#1`, `#2`, ... when there are several files). */
export function labelledResults(files: ResultsFile[]): { result: ModelResult; source: string }[] {
  return files.flatMap((file, i) => file.results.map((result) => ({ result, source: files.length > 1 ? `#${i + 1}` : '' })));
}

export function allResults(files: ResultsFile[]): ModelResult[] {
  return files.flatMap((f) => f.results);
}

/** One line describing where the numbers were measured. */
export function environmentLine(file: ResultsFile): string {
  const e = file.env;
  const runtime = e.onnxruntime ? `onnxruntime ${e.onnxruntime}` : e.onnxruntime_web ? `onnxruntime-web ${e.onnxruntime_web}` : undefined;
  // int8's speed on this CPU depends on its integer instructions; on a device they are the device's, not these.
  const int8 = !e.device && e.cpu_int8 && file.results.some((r) => r.precision === 'int8') ? `int8 instructions: ${e.cpu_int8.join(', ') || 'none'}` : undefined;
  // Files written by hand or by older versions may lack a field: say what is known.
  const parts = [e.cpu, e.cores !== undefined ? `${e.cores} cores` : undefined, e.os, e.node && `node ${e.node}`, int8, runtime, e.device ? `device ${e.device}` : undefined, e.eformer && `eformer ${e.eformer}`];
  return `${parts.filter(Boolean).join(', ')}${e.git_commit ? `, commit ${String(e.git_commit).slice(0, 10)}` : ''}`;
}

/** "Measured on" once per distinct environment, naming the files (#1, #2) when there are several. */
export function environmentLines(files: ResultsFile[], sources: readonly string[] = []): string[] {
  const byLine = new Map<string, string[]>();
  files.forEach((file, i) => {
    const line = environmentLine(file);
    byLine.set(line, [...(byLine.get(line) ?? []), files.length > 1 ? `#${i + 1}${sources[i] ? ` ${sources[i]}` : ''}` : '']);
  });
  return [...byLine].map(([line, which]) => `measured on${which[0] ? ` (${which.join(', ')})` : ''}: ${line}`);
}

/** What the row notes and the ± column mean, for the lines under a table. */
export function legend(rows: SummaryRow[]): string[] {
  const notes = rows.map((r) => r.note).join(', ');
  const lines: string[] = ['median: ms; CI95: half the width of its 95% confidence interval, as a share of it.'];
  if (/average from the harness/.test(notes)) {
    lines.push('average: ms, the harness\'s own average, for rows whose harness printed no median (older benchmark_model builds): such a row stands for its average, and the gate compares it only with averages.');
  }
  if (/CNN/.test(notes)) lines.push("CNN: the papers' MobileNetV2 comparison models (not the gate's baseline).");
  if (/NOISY/.test(notes)) lines.push('NOISY: coefficient of variation above 10%; the machine was busy or the run too short, so treat the median with care.');
  if (/few runs/.test(notes)) lines.push(`few runs: under ${MIN_RUNS_FOR_CI} runs, so no confidence interval of the median.`);
  if (rows.some((r) => r.single_ms !== '-')) lines.push('alone: ms, the model timed alone with thread spinning on, as an app deploys it.');
  if (/alone /.test(notes)) lines.push('alone Nx: timed alone with spinning on, the median was N times the interleaved one, beyond both CIs: the machine changed speed between the two, or thread spinning matters for this model.');
  if (rows.some((r) => r.vs_reference !== '-')) lines.push("x ref: median of the per-round ratios to the reference model (what the gate compares).");
  if (rows.some((r) => r.int8_sqnr !== '-')) {
    lines.push(
      'int8 speed-up: the float model\'s latency over the int8 one (NAME:int8), the median of per-round ratios when both ran interleaved; SQNR dB and cosine: ' +
        "the int8 model's logits against the float model's on its calibration inputs.",
    );
  }
  return lines;
}

/** The results file's figure behind each cost column: where to find why a cell is '-'. */
const COST_COLUMNS: Partial<Record<keyof SummaryRow, CostFigure>> = { load_ms: 'load_ms', first_ms: 'first_run_ms', memory_mb: 'memory_mb', memory_load_mb: 'memory_mb', model_mb: 'model_bytes' };

/** The cost figures as the tables title them. */
const FIGURE_TITLES: Record<CostFigure, string> = { load_ms: 'load ms', first_run_ms: 'first run ms', memory_mb: 'peak MB', model_bytes: 'model MB' };

/** Why a result's cell in `column` is '-', when its results file says (a figure the backend could not give). */
export function absentReason(r: ModelResult, column: keyof SummaryRow): string | undefined {
  const figure = COST_COLUMNS[column];
  return figure && r[figure] === undefined ? r.absent?.[figure] : undefined;
}

/**
 * Why figures are missing, one line per reason and set of figures, naming the results it applies
 * to: `load ms, peak MB absent for a on ort-web, b on ort-web: <reason>`. Text from the file: each
 * format escapes it.
 */
export function absentNotes(labelled: { result: ModelResult; source: string }[]): string[] {
  const groups = new Map<string, { figures: string; reason: string; results: string[] }>();
  for (const { result: r, source } of labelled) {
    const byReason = new Map<string, string[]>();
    for (const figure of Object.keys(FIGURE_TITLES) as CostFigure[]) {
      const reason = r[figure] === undefined ? r.absent?.[figure] : undefined;
      if (reason !== undefined) byReason.set(reason, [...(byReason.get(reason) ?? []), FIGURE_TITLES[figure]]);
    }
    for (const [reason, figures] of byReason) {
      const key = `${figures.join(', ')}\u0000${reason}`;
      const group = groups.get(key) ?? { figures: figures.join(', '), reason, results: [] };
      group.results.push(`${r.model} on ${r.backend}${source ? ` ${source}` : ''}`);
      groups.set(key, group);
    }
  }
  return [...groups.values()].map((g) => `${g.figures} absent for ${g.results.join(', ')}: ${g.reason}`);
}

/** What the cost columns mean, and how the memory was measured (text from the file: each format escapes it). */
export function costLegend(labelled: { result: ModelResult }[]): string[] {
  const results = labelled.map((l) => l.result);
  const lines: string[] = [];
  if (results.some((r) => r.load_ms !== undefined || r.first_run_ms !== undefined)) lines.push('load ms: loading the model (session creation, or compiling and loading), timed apart from the runs; first run ms: its first inference.');
  const sources = [...new Set(results.flatMap((r) => (r.memory_mb ? [r.memory_mb.source] : [])))];
  if (sources.length) lines.push(`peak MB: the peak memory attributable to the model, MB (2^20 bytes); load MB: once loaded, before the first run. Measured as: ${sources.join('; ')}.`);
  if (results.some((r) => r.model_bytes !== undefined)) lines.push('model MB: the size of the model file the backend loaded.');
  if (results.some((r) => r.absent)) lines.push('load ms, peak MB, first run ms, load MB, model MB: - is a figure the backend could not give; the results file says why ("absent"), as do the Markdown and HTML reports.');
  return lines;
}
