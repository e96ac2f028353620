/**
 * The HTML pages of a latency table (every block's latency as a bar, grouped by kind; the
 * training models' measured against predicted latency) and of a search (the Pareto front of
 * predicted latency against the objective, with every configuration the search predicted).
 * Self-contained like the results report: inline CSS and SVG only.
 */
import { escapeMarkup as esc } from '../core/text.js';
import { niceTicks, STYLE } from '../report/formats/html.js';
import { correctedRatio, correctionFormula, type Lut } from './lut.js';
import type { SearchResult } from './search.js';

const W = 720;
const H = 400;
const M = { left: 70, right: 30, top: 20, bottom: 50 };

interface Series {
  points: [number, number][];
  className: string;
  /** Join the points with a line (in x order). */
  line?: boolean;
  radius?: number;
}

function scatter(series: Series[], xLabel: string, yLabel: string, diagonal = false): string {
  const all = series.flatMap((s) => s.points);
  const x1 = Math.max(...all.map((p) => p[0])) * 1.08;
  const y1 = Math.max(...all.map((p) => p[1])) * 1.08;
  const [hi0, hi1] = diagonal ? [Math.max(x1, y1), Math.max(x1, y1)] : [x1, y1];
  const px = (x: number) => M.left + (x / hi0) * (W - M.left - M.right);
  const py = (y: number) => H - M.bottom - (y / hi1) * (H - M.top - M.bottom);
  const parts: string[] = [];
  for (const t of niceTicks(0, hi0)) parts.push(`<line x1="${px(t)}" x2="${px(t)}" y1="${M.top}" y2="${H - M.bottom}" class="grid"/><text x="${px(t)}" y="${H - M.bottom + 18}" text-anchor="middle">${t}</text>`);
  for (const t of niceTicks(0, hi1)) parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${py(t)}" y2="${py(t)}" class="grid"/><text x="${M.left - 8}" y="${py(t) + 4}" text-anchor="end">${t}</text>`);
  if (diagonal) parts.push(`<line x1="${px(0)}" y1="${py(0)}" x2="${px(hi0)}" y2="${py(hi1)}" class="diagonal"/>`);
  for (const s of series) {
    if (s.line && s.points.length > 1) parts.push(`<polyline class="${s.className}-line" points="${[...s.points].sort((a, b) => a[0] - b[0]).map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`);
    for (const [x, y] of s.points) parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="${s.radius ?? 4}" class="${s.className}"/>`);
  }
  parts.push(`<text x="${(M.left + W - M.right) / 2}" y="${H - 10}" text-anchor="middle">${esc(xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img">${parts.join('')}</svg>`;
}

const PAGE_STYLE = `${STYLE}
.cloud{fill:#ccc}.front{fill:#d62728}.front-line{fill:none;stroke:#d62728;stroke-width:1.5}.chosen{fill:none;stroke:#222;stroke-width:1.5}.train{fill:#1f77b4}.diagonal{stroke:#999;stroke-dasharray:4 3}`;

function page(title: string, body: string): string {
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>${PAGE_STYLE}</style></head>\n<body>\n<h1>${esc(title)}</h1>\n${body}\n</body></html>\n`;
}

export function lutPage(lut: Lut, path: string): string {
  const max = Math.max(...lut.entries.map((e) => e.median_ms));
  const kinds = [...new Set(lut.entries.map((e) => e.kind))];
  const bars = kinds.map((kind) => {
    const rows = lut.entries
      .filter((e) => e.kind === kind)
      .sort((a, b) => a.median_ms - b.median_ms)
      .map((e) => `<div class="bar-row"><span class="bar-label">${esc(e.shape)}</span><span class="bar" style="width:${((e.median_ms / max) * 360).toFixed(1)}px"></span><span class="bar-value">${e.median_ms.toFixed(3)} ms · ${e.ratio.toFixed(4)} x ref</span></div>`);
    return `<h3>${esc(kind)}</h3>${rows.join('')}`;
  });
  const c = lut.correction;
  const trained = lut.training.filter((t) => t.sum_ratio > 0);
  const predicted = (t: (typeof trained)[number]) => correctedRatio(c, t);
  const chart = trained.length
    ? `<h2>Training models: measured against predicted</h2><p>${trained.length} random configurations timed whole; the correction (${c ? correctionFormula(c) : 'none'}) was fitted to them: ${c ? `${(c.training_rmspe * 100).toFixed(1)}% RMS error` : ''}. Held-out figures are in bench:predict.</p>` +
      scatter([{ points: trained.map((t) => [t.measured_ratio * lut.reference.median_ms, predicted(t) * lut.reference.median_ms]), className: 'train' }], 'measured ms', 'predicted ms', true)
    : '';
  const env = `${lut.family} at ${lut.resolution}x${lut.resolution} on ${lut.backend}${lut.device ? ` (${lut.device.name})` : ''}; ${lut.entries.length} blocks, each a ratio to ${lut.reference.model} (${lut.reference.median_ms.toFixed(3)} ms when built) timed in the same rounds; ${lut.env.cpu}, ${lut.env.created}`;
  return page(`eformer latency table: ${path}`, `<p class="env">${esc(env)}</p>\n<h2>Blocks</h2><p>Each block timed alone, as ms at the reference's speed when the table was built.</p>${bars.join('\n')}\n${chart}`);
}

export function searchPage(r: SearchResult, path: string): string {
  const objective = r.objective === 'macs' ? 'MACs (G)' : 'params (M)';
  const scale = r.objective === 'macs' ? 1e9 : 1e6;
  const chart = scatter(
    [
      { points: r.cloud.map(([ms, v]) => [ms, v / scale]), className: 'cloud', radius: 2 },
      { points: r.front.map((c) => [c.ms, (r.objective === 'macs' ? c.macs : c.params) / scale]), className: 'front', line: true },
      { points: r.chosen.map((c) => [c.ms, (r.objective === 'macs' ? c.macs : c.params) / scale]), className: 'chosen', radius: 7 },
    ],
    `predicted latency (ms, ${r.backend})`,
    objective,
  );
  const v = verifiedColumns(r);
  const rows = r.chosen
    .map((c, i) => `<tr><td>${i + 1}</td><td>${c.ms.toFixed(3)}</td><td>${(c.macs / 1e9).toFixed(3)}</td><td>${(c.params / 1e6).toFixed(2)}</td><td>${esc(c.point.widths.join('/'))}</td><td>${esc(c.point.depths.join('/'))}</td><td>${c.point.attention}</td>${v.cells(i)}</tr>`)
    .join('\n');
  const text = `${r.family} at ${r.resolution}x${r.resolution} on ${r.backend}, budget ${r.budget_ms} ms; ${r.evaluated} configurations predicted (grey), the Pareto front within the budget (red), the chosen ones circled. Ranked by ${objective}, a stand-in for capacity: accuracy is not measured.`;
  return page(`eformer search: ${path}`, `<p class="env">${esc(text)}</p>\n${chart}\n<table><thead><tr><th>#</th><th>predicted ms</th><th>MACs G</th><th>params M</th><th>widths</th><th>depths</th><th>attention</th>${v.head}</tr></thead><tbody>\n${rows}\n</tbody></table>${v.note}`);
}

/** `search --verify`'s measurements, when the file holds them: predicted against measured, both at the speed of that moment. */
function verifiedColumns(r: SearchResult): { head: string; cells: (i: number) => string; note: string } {
  const v = r.verified;
  const ms = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(3) : '-');
  if (!v || !Array.isArray(v.candidates)) return { head: '', cells: () => '', note: '' };
  const cells = (i: number) => {
    const c = v.candidates[i];
    const error = c && c.predicted_ms > 0 && c.measured_ms > 0 ? `${((c.predicted_ms / c.measured_ms - 1) * 100).toFixed(1)}%` : '-';
    return `<td>${ms(c?.predicted_ms)}</td><td>${ms(c?.measured_ms)}</td><td>${error}</td>`;
  };
  const note = `measured by search --verify on ${v.backend}${v.device ? ` (${v.device})` : ''}, interleaved with ${v.reference?.model} (its median then ${ms(v.reference?.median_ms)} ms); predicted now: the prediction at that moment's speed.`;
  return { head: '<th>predicted now ms</th><th>measured ms</th><th>error</th>', cells, note: `<p>${esc(note)}</p>` };
}
