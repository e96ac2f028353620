/**
 * One self-contained HTML file: the summary table, the paper's headline chart (top-1
 * against latency) redrawn from the user's own measurements, and the per-op breakdown as
 * bars. Inline CSS and SVG only: no scripts, no network.
 */
import { allResults, columnsFor, environmentLines, labelledResults, summaryRow } from '../rows.js';
import { escapeMarkup as esc } from '../../core/text.js';
import { centralLatency } from '../../core/stats.js';
import type { ModelResult, ResultsFile } from '../../results/results.js';
import type { RenderOptions, ReportFormat } from './format.js';

const W = 720;
const H = 420;
const M = { left: 60, right: 170, top: 20, bottom: 50 };

/** Round axis ticks between lo and hi. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  const step = 10 ** Math.floor(Math.log10((hi - lo) / count || 1));
  const best = [1, 2, 5, 10].map((m) => m * step).find((s) => (hi - lo) / s <= count) ?? 10 * step;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / best) * best; t <= hi + 1e-9; t += best) ticks.push(Number(t.toFixed(6)));
  return ticks;
}

/** One colour per family (the paper's CNN baselines stay grey squares). */
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2', '#bcbd22'];

/** The family a result belongs to: recorded since eformer 0.2; older files fall back to the name's prefix. */
const familyOf = (r: ModelResult) => r.family ?? r.model.replace(/_[^_]+$/, '');

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

/** Top-1 (paper) against measured median latency, one colour per family; the papers' CNN baselines as grey squares. */
function accuracyChart(results: ModelResult[]): string {
  const points = results.filter((r) => r.paper?.top1 !== undefined);
  if (points.length === 0) return '<p>No model with a published top-1 accuracy in these results.</p>';
  const latency = (r: ModelResult) => centralLatency(r.latency_ms);
  const xs = points.map(latency);
  const ys = points.map((r) => r.paper!.top1);
  const [x0, x1] = [0, Math.max(...xs) * 1.1];
  const [y0, y1] = [Math.floor(Math.min(...ys) - 1), Math.ceil(Math.max(...ys) + 1)];
  const px = (x: number) => M.left + ((x - x0) / (x1 - x0)) * (W - M.left - M.right);
  const py = (y: number) => H - M.bottom - ((y - y0) / (y1 - y0)) * (H - M.top - M.bottom);
  const parts: string[] = [];
  for (const t of niceTicks(x0, x1)) {
    parts.push(`<line x1="${px(t)}" x2="${px(t)}" y1="${M.top}" y2="${H - M.bottom}" class="grid"/><text x="${px(t)}" y="${H - M.bottom + 18}" text-anchor="middle">${t}</text>`);
  }
  for (const t of niceTicks(y0, y1)) {
    parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${py(t)}" y2="${py(t)}" class="grid"/><text x="${M.left - 8}" y="${py(t) + 4}" text-anchor="end">${t}</text>`);
  }
  // Connect each family's models in latency order, as the papers' figures do.
  const families = [...new Set(points.filter((r) => !r.baseline).map(familyOf))];
  const colour = (r: ModelResult) => (r.baseline ? '#888' : PALETTE[families.indexOf(familyOf(r)) % PALETTE.length]);
  for (const family of families) {
    const members = points.filter((r) => !r.baseline && familyOf(r) === family).sort((a, b) => latency(a) - latency(b));
    if (members.length > 1) parts.push(`<polyline class="family" stroke="${colour(members[0])}" points="${members.map((r) => `${px(latency(r))},${py(r.paper!.top1)}`).join(' ')}"/>`);
  }
  const labels = placeLabels(points.map((r) => ({ x: px(latency(r)), y: py(r.paper!.top1), text: `${r.model}${r.baseline ? ' (CNN)' : ''}` })));
  points.forEach((r, i) => {
    const [x, y] = [px(latency(r)), py(r.paper!.top1)];
    const label = labels[i];
    parts.push(r.baseline ? `<rect x="${x - 5}" y="${y - 5}" width="10" height="10" class="baseline"/>` : `<circle cx="${x}" cy="${y}" r="5" fill="${colour(r)}" class="model"/>`);
    parts.push(`<text x="${label.x}" y="${label.y}" class="label">${esc(r.model)}${r.baseline ? ' (CNN)' : ''}</text>`);
    if (label.moved) parts.push(`<line x1="${x + 5}" y1="${y}" x2="${label.x - 1}" y2="${label.y - 4}" class="leader"/>`);
  });
  families.forEach((family, k) => {
    const y = M.top + 6 + k * 16;
    parts.push(`<circle cx="${W - M.right + 20}" cy="${y}" r="5" fill="${PALETTE[k % PALETTE.length]}" class="legend-mark"/><text x="${W - M.right + 30}" y="${y + 4}" class="legend">${esc(family)}</text>`);
  });
  parts.push(`<text x="${(M.left + W - M.right) / 2}" y="${H - 10}" text-anchor="middle">measured ${points.some((r) => r.latency_ms.statistic === 'mean') ? 'latency: median, or average where the harness printed no median' : 'median latency'} (ms, ${esc(points[0].backend)})</text>`);
  parts.push(`<text transform="translate(16 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">ImageNet-1k top-1 (%, paper)</text>`);
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="top-1 against latency">${parts.join('')}</svg>`;
}

function breakdownBars(r: ModelResult): string {
  const b = r.breakdown!;
  const rows = b.by_stage.map(
    (row) =>
      `<div class="bar-row"><span class="bar-label">${esc(row.key)}</span><span class="bar" style="width:${(row.percent * 4).toFixed(1)}px"></span><span class="bar-value">${row.percent.toFixed(1)}% · ${row.ms.toFixed(3)} ms</span></div>`,
  );
  const ops = b.by_op
    .slice(0, 8)
    .map((row) => `<div class="bar-row"><span class="bar-label">${esc(row.key)}</span><span class="bar op" style="width:${(row.percent * 4).toFixed(1)}px"></span><span class="bar-value">${row.percent.toFixed(1)}%</span></div>`);
  return `<h3>${esc(r.model)}: where the time goes</h3><p>Shares from ${esc(b.profiler ?? "onnxruntime's profiler")} (${b.runs} runs; profiled node time ${b.node_ms.toFixed(3)} ms per run), milliseconds scaled to the measured ${b.scaled_to === 'mean' ? 'average' : 'median'} of ${b.median_ms.toFixed(3)} ms.</p><div class="bars"><div><h4>by stage and part</h4>${rows.join('')}</div><div><h4>by op type</h4>${ops.join('')}</div></div>`;
}

/** The report pages' shared look (the latency-table pages use it too). */
export const STYLE = `body{font:14px system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:12px 0}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
tr.noisy td{background:#fff4e0}.grid{stroke:#eee}.family{fill:none;stroke-width:1.5}.baseline{fill:#888}.leader{stroke:#aaa;stroke-width:0.7}.legend{font-size:11px}
svg text{font-size:12px;fill:#333}.label{font-size:11px}.bars{display:flex;gap:40px;flex-wrap:wrap}.bar-row{display:flex;align-items:center;gap:8px;margin:2px 0}
.bar-label{width:230px;font-size:12px}.bar{display:inline-block;height:12px;background:#1f77b4}.bar.op{background:#ff7f0e}.bar-value{font-size:12px;color:#555}.env{color:#555}`;

export const htmlFormat: ReportFormat = {
  id: 'html',
  extension: 'html',
  render(files: ResultsFile[], options: RenderOptions = {}) {
    const results = allResults(files);
    const labelled = labelledResults(files);
    const rows = labelled.map(({ result, source }) => summaryRow(result, source));
    const columns = columnsFor(rows, true);
    const head = columns.map((c) => `<th>${esc(c.title)}</th>`).join('');
    const body = rows.map((row, i) => `<tr${labelled[i].result.noisy ? ' class="noisy"' : ''}>${columns.map((c) => `<td>${esc(row[c.key])}</td>`).join('')}</tr>`).join('\n');
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>eformer latency report</title><style>${STYLE}</style></head>
<body>
<h1>eformer latency report</h1>
${environmentLines(files, options.sources).map((l) => `<p class="env">${esc(l)}</p>`).join('\n')}
<table><thead><tr>${head}</tr></thead><tbody>
${body}
</tbody></table>
<h2>Accuracy against measured latency</h2>
${accuracyChart(results)}
${results.some((r) => r.breakdown) ? `<h2>Per-op breakdown</h2>${results.filter((r) => r.breakdown).map(breakdownBars).join('\n')}` : ''}
</body></html>
`;
  },
};
