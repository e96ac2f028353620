/**
 * One self-contained HTML file: the summary table, the paper's headline chart (top-1 against
 * latency) redrawn from the user's own measurements, one panel per backend, and the per-op
 * breakdown as bars. Inline CSS and SVG only: no scripts, no network. Built with the `html` tag:
 * every string from the results files is escaped wherever it lands.
 */
import { html, type Html, trustedHtml } from '../../core/html.js';
import { centralLatency } from '../../core/stats.js';
import type { ModelResult, ResultsFile } from '../../results/results.js';
import { chartFrame, htmlPage } from '../chart.js';
import { absentNotes, absentReason, columnsFor, costLegend, environmentLines, labelledResults, type SummaryRow, summaryRow } from '../rows.js';
import type { RenderOptions, ReportFormat } from './format.js';

const W = 720;
const H = 420;
const M = { left: 60, right: 170, top: 20, bottom: 50 };

/** One colour per family (the paper's CNN baselines stay grey squares). */
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2', '#bcbd22'];

/** The family a result belongs to: recorded since eformer 0.2; older files fall back to the name's prefix. */
const familyOf = (r: ModelResult) => r.family ?? r.model.replace(/:int8$/, '').replace(/_[^_]+$/, '');

/**
 * Place labels to the right of their points without overlapping: each label moves down (or up)
 * in steps of a line until its box is free, and a thin leader joins a moved label to its point.
 */
function placeLabels(points: { x: number; y: number; text: string }[]): { x: number; y: number; moved: boolean }[] {
  const boxes: { x0: number; x1: number; y0: number; y1: number }[] = [];
  const LINE = 13;
  const placed = new Map<number, { x: number; y: number; moved: boolean }>();
  const order = points.map((p, i) => i).sort((a, b) => points[a].y - points[b].y);
  for (const i of order) {
    const p = points[i];
    const width = 6.2 * p.text.length;
    const free = (y: number) => !boxes.some((b) => p.x + 8 < b.x1 && p.x + 8 + width > b.x0 && y - 10 < b.y1 && y + 3 > b.y0);
    let y = p.y + 4;
    for (let k = 1; !free(y) && k < 40; k++) y = p.y + 4 + (k % 2 ? 1 : -1) * Math.ceil(k / 2) * LINE;
    boxes.push({ x0: p.x + 8, x1: p.x + 8 + width, y0: y - 10, y1: y + 3 });
    placed.set(i, { x: p.x + 8, y, moved: Math.abs(y - (p.y + 4)) > 1 });
  }
  return points.map((_, i) => placed.get(i)!);
}

interface Point {
  r: ModelResult;
  /** The results file, when there are several (`#2`). */
  source: string;
}

const isInt8 = (r: ModelResult) => r.precision === 'int8';

/**
 * Top-1 (paper) against measured median latency on one backend, one colour per family, the papers'
 * CNN baselines as grey squares, int8 models as open circles. An int8 model sits at its float
 * model's published top-1: its own accuracy is not measured, and its label says so.
 */
function accuracyPanel(backend: string, points: Point[], families: string[]): Html {
  const latency = (p: Point) => centralLatency(p.r.latency_ms);
  const xs = points.map(latency);
  const ys = points.map((p) => p.r.paper!.top1);
  const { px, py, axes } = chartFrame({
    width: W,
    height: H,
    margin: M,
    x: [0, Math.max(...xs) * 1.1],
    y: [Math.floor(Math.min(...ys) - 1), Math.ceil(Math.max(...ys) + 1)],
    xLabel: `measured ${points.some((p) => p.r.latency_ms.statistic === 'mean') ? 'latency: median, or average where the harness printed no median' : 'median latency'} (ms, ${backend})`,
    yLabel: 'ImageNet-1k top-1 (%, paper)',
  });
  const colour = (r: ModelResult) => (r.baseline ? '#888' : PALETTE[families.indexOf(familyOf(r)) % PALETTE.length]);
  const at = (p: Point) => ({ x: px(latency(p)), y: py(p.r.paper!.top1) });
  // Each family's float models joined in latency order, as the papers' figures do: within one backend and one file.
  const lines = [...new Set(points.filter((p) => !p.r.baseline && !isInt8(p.r)).map((p) => `${familyOf(p.r)}\u0000${p.source}`))].map((key) => {
    const members = points.filter((p) => !p.r.baseline && !isInt8(p.r) && `${familyOf(p.r)}\u0000${p.source}` === key).sort((a, b) => latency(a) - latency(b));
    return members.length > 1 ? html`<polyline class="family" stroke="${colour(members[0].r)}" points="${members.map((p) => `${at(p).x},${at(p).y}`).join(' ')}"/>` : html``;
  });
  const text = (p: Point) => `${p.r.model}${p.r.baseline ? ' (CNN)' : ''}${isInt8(p.r) ? ' (float top-1)' : ''}${p.source ? ` ${p.source}` : ''}`;
  const labels = placeLabels(points.map((p) => ({ ...at(p), text: text(p) })));
  const marks = points.map((p, i) => {
    const { x, y } = at(p);
    const label = labels[i];
    const title = html`<title>${p.r.model} on ${backend}: ${latency(p).toFixed(3)} ms; top-1 ${p.r.paper!.top1}% (paper${isInt8(p.r) ? ", the float model's" : ''})</title>`;
    const mark = p.r.baseline
      ? html`<rect x="${x - 5}" y="${y - 5}" width="10" height="10" class="baseline">${title}</rect>`
      : html`<circle cx="${x}" cy="${y}" r="5" ${isInt8(p.r) ? html`stroke="${colour(p.r)}" class="model int8"` : html`fill="${colour(p.r)}" class="model"`}>${title}</circle>`;
    const leader = label.moved ? html`<line x1="${x + 5}" y1="${y}" x2="${label.x - 1}" y2="${label.y - 4}" class="leader"/>` : html``;
    return html`${mark}<text x="${label.x}" y="${label.y}" class="label">${text(p)}</text>${leader}`;
  });
  const legend = families.map((family, k) => {
    const y = M.top + 6 + k * 16;
    return html`<circle cx="${W - M.right + 20}" cy="${y}" r="5" fill="${PALETTE[k % PALETTE.length]}" class="legend-mark"/><text x="${W - M.right + 30}" y="${y + 4}" class="legend">${family}</text>`;
  });
  if (points.some((p) => isInt8(p.r))) {
    const y = M.top + 6 + families.length * 16;
    legend.push(html`<circle cx="${W - M.right + 20}" cy="${y}" r="5" stroke="#555" class="legend-mark int8"/><text x="${W - M.right + 30}" y="${y + 4}" class="legend">int8 (float top-1)</text>`);
  }
  return html`<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${`top-1 against latency on ${backend}`}" class="panel">${axes}${lines}${marks}${legend}</svg>`;
}

/** One panel per backend: milliseconds on two backends share no axis. */
function accuracyChart(files: ResultsFile[]): Html {
  const points = labelledResults(files).filter((p) => p.result.paper?.top1 !== undefined).map(({ result, source }) => ({ r: result, source }));
  if (points.length === 0) return html`<p>No model with a published top-1 accuracy in these results.</p>`;
  const families = [...new Set(points.filter((p) => !p.r.baseline).map((p) => familyOf(p.r)))];
  const backends = [...new Set(points.map((p) => p.r.backend))];
  const note = points.some((p) => isInt8(p.r))
    ? html`<p>Open circles are int8 models, drawn at their float model's published top-1: the int8 model's own accuracy is not measured.</p>`
    : html``;
  return html`${backends.map((b) => html`<h3>${b}</h3>${accuracyPanel(b, points.filter((p) => p.r.backend === b), families)}`)}${note}`;
}

/**
 * Measured median latency against the peak memory attributable to the model, on one backend: one
 * point per result that has memory_mb, labelled by model, coloured by family as in the accuracy chart.
 */
function memoryPanel(backend: string, points: Point[], families: string[]): Html {
  const latency = (p: Point) => centralLatency(p.r.latency_ms);
  const memory = (p: Point) => p.r.memory_mb!.peak;
  const { px, py, axes } = chartFrame({
    width: W,
    height: H,
    margin: M,
    x: [0, Math.max(...points.map(memory)) * 1.1],
    y: [0, Math.max(...points.map(latency)) * 1.1],
    xLabel: `peak memory attributable to the model (MB, ${backend})`,
    yLabel: `measured ${points.some((p) => p.r.latency_ms.statistic === 'mean') ? 'latency: median, or average' : 'median latency'} (ms)`,
  });
  const colour = (r: ModelResult) => (r.baseline ? '#888' : PALETTE[Math.max(0, families.indexOf(familyOf(r))) % PALETTE.length]);
  const at = (p: Point) => ({ x: px(memory(p)), y: py(latency(p)) });
  const text = (p: Point) => `${p.r.model}${p.source ? ` ${p.source}` : ''}`;
  const labels = placeLabels(points.map((p) => ({ ...at(p), text: text(p) })));
  const marks = points.map((p, i) => {
    const { x, y } = at(p);
    const label = labels[i];
    const title = html`<title>${p.r.model} on ${backend}: ${latency(p).toFixed(3)} ms; peak ${memory(p).toFixed(1)} MB (${p.r.memory_mb!.source})</title>`;
    const mark = p.r.baseline
      ? html`<rect x="${x - 5}" y="${y - 5}" width="10" height="10" class="memory-point baseline">${title}</rect>`
      : html`<circle cx="${x}" cy="${y}" r="5" ${isInt8(p.r) ? html`stroke="${colour(p.r)}" class="memory-point int8"` : html`fill="${colour(p.r)}" class="memory-point"`}>${title}</circle>`;
    const leader = label.moved ? html`<line x1="${x + 5}" y1="${y}" x2="${label.x - 1}" y2="${label.y - 4}" class="leader"/>` : html``;
    return html`${mark}<text x="${label.x}" y="${label.y}" class="memory-label">${text(p)}</text>${leader}`;
  });
  return html`<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${`latency against peak memory on ${backend}`}" class="panel memory">${axes}${marks}</svg>`;
}

/** One panel per backend, beside the accuracy chart; only results with a peak memory figure. */
function memoryChart(files: ResultsFile[]): Html {
  const points = labelledResults(files).filter((p) => p.result.memory_mb !== undefined).map(({ result, source }) => ({ r: result, source }));
  const families = [...new Set(labelledResults(files).filter((p) => p.result.paper?.top1 !== undefined && !p.result.baseline).map((p) => familyOf(p.result)))];
  const backends = [...new Set(points.map((p) => p.r.backend))];
  return html`${backends.map((b) => html`<h3>${b}</h3>${memoryPanel(b, points.filter((p) => p.r.backend === b), families)}`)}`;
}

/** A summary cell; a figure the backend could not give says why on hover, and peak memory says how it was measured. */
function cell(r: ModelResult, row: SummaryRow, key: keyof SummaryRow): Html {
  const why = absentReason(r, key);
  if (why !== undefined) return html`<td title="${`absent: ${why}`}">${row[key]}</td>`;
  if (key === 'memory_mb' && r.memory_mb) {
    const extra = Object.entries(r.memory_mb).filter(([k, v]) => k !== 'peak' && k !== 'source' && typeof v === 'number');
    return html`<td title="${[r.memory_mb.source, ...extra.map(([k, v]) => `${k} ${v} MB`)].join('; ')}">${row[key]}</td>`;
  }
  return html`<td>${row[key]}</td>`;
}

/** The memory chart's own look (kept apart from the accuracy chart's classes). */
const MEMORY_STYLE = trustedHtml('.memory-label{font-size:11px}.memory-point.int8{fill:#fff;stroke-width:2}');

function breakdownBars(r: ModelResult): Html {
  const b = r.breakdown!;
  const bar = (row: { key: string; percent: number }, extra: Html, value: string) =>
    html`<div class="bar-row"><span class="bar-label">${row.key}</span><span class="bar${extra}" style="width:${(row.percent * 4).toFixed(1)}px"></span><span class="bar-value">${value}</span></div>`;
  const rows = b.by_stage.map((row) => bar(row, html``, `${row.percent.toFixed(1)}% · ${row.ms.toFixed(3)} ms`));
  const ops = b.by_op.slice(0, 8).map((row) => bar(row, html` op`, `${row.percent.toFixed(1)}%`));
  return html`<h3>${r.model} on ${r.backend}: where the time goes</h3><p>Shares from ${b.profiler ?? "the runtime's profiler"} (${b.runs} runs; profiled node time ${b.node_ms.toFixed(3)} ms per run), milliseconds scaled to the measured ${b.scaled_to === 'mean' ? 'average' : 'median'} of ${b.median_ms.toFixed(3)} ms.</p><div class="bars"><div><h4>by stage and part</h4>${rows}</div><div><h4>by op type</h4>${ops}</div></div>`;
}

export const htmlFormat: ReportFormat = {
  id: 'html',
  extension: 'html',
  render(files: ResultsFile[], options: RenderOptions = {}) {
    const labelled = labelledResults(files);
    const rows = labelled.map(({ result, source }) => summaryRow(result, source));
    const columns = columnsFor(rows, true);
    const head = columns.map((c) => html`<th>${c.title}</th>`);
    const body = rows.map((row, i) => html`<tr${labelled[i].result.noisy ? html` class="noisy"` : html``}>${columns.map((c) => cell(labelled[i].result, row, c.key))}</tr>\n`);
    const notes = [...costLegend(labelled), ...absentNotes(labelled)];
    const withMemory = labelled.some((l) => l.result.memory_mb !== undefined);
    const withBreakdown = labelled.map((l) => l.result).filter((r) => r.breakdown);
    return htmlPage(
      'eformer latency report',
      html`${environmentLines(files, options.sources).map((l) => html`<p class="env">${l}</p>\n`)}<div class="table-scroll"><table><thead><tr>${head}</tr></thead><tbody>
${body}</tbody></table></div>
${notes.map((l) => html`<p class="note">${l}</p>\n`)}<h2>Accuracy against measured latency</h2>
${accuracyChart(files)}
${withMemory ? html`<h2>Latency against peak memory</h2>\n${memoryChart(files)}\n` : html``}${withBreakdown.length ? html`<h2>Per-op breakdown</h2>${withBreakdown.map(breakdownBars)}` : html``}`,
      MEMORY_STYLE,
    );
  },
};
