/**
 * The HTML pages of a latency table (every block's latency as a bar, grouped by kind; the
 * training models' measured against predicted latency) and of a search (the Pareto front of
 * predicted latency against the objective, with every configuration the search predicted).
 * Self-contained like the results report: inline CSS and SVG only, built with the `html` tag so
 * that every string from the file is escaped.
 */
import { html, type Html, trustedHtml } from '../core/html.js';
import { chartFrame, htmlPage } from '../report/chart.js';
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

function scatter(series: Series[], xLabel: string, yLabel: string, diagonal = false): Html {
  const all = series.flatMap((s) => s.points);
  // An empty or all-zero series still gets a frame.
  const x1 = Math.max(0, ...all.map((p) => p[0])) * 1.08 || 1;
  const y1 = Math.max(0, ...all.map((p) => p[1])) * 1.08 || 1;
  const [hi0, hi1] = diagonal ? [Math.max(x1, y1), Math.max(x1, y1)] : [x1, y1];
  const { px, py, axes } = chartFrame({ width: W, height: H, margin: M, x: [0, hi0], y: [0, hi1], xLabel, yLabel });
  const drawn = series.map((s) => {
    const line = s.line && s.points.length > 1 ? html`<polyline class="${`${s.className}-line`}" points="${[...s.points].sort((a, b) => a[0] - b[0]).map(([x, y]) => `${px(x)},${py(y)}`).join(' ')}"/>` : html``;
    return html`${line}${s.points.map(([x, y]) => html`<circle cx="${px(x)}" cy="${py(y)}" r="${s.radius ?? 4}" class="${s.className}"/>`)}`;
  });
  const diagonalLine = diagonal ? html`<line x1="${px(0)}" y1="${py(0)}" x2="${px(hi0)}" y2="${py(hi1)}" class="diagonal"/>` : html``;
  return html`<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img">${axes}${diagonalLine}${drawn}</svg>`;
}

const PAGE_STYLE = trustedHtml(`
.cloud{fill:#ccc}.front{fill:#d62728}.front-line{fill:none;stroke:#d62728;stroke-width:1.5}.chosen{fill:none;stroke:#222;stroke-width:1.5}.train{fill:#1f77b4}.diagonal{stroke:#999;stroke-dasharray:4 3}`);

export function lutPage(lut: Lut, path: string): string {
  const max = Math.max(...lut.entries.map((e) => e.median_ms));
  const kinds = [...new Set(lut.entries.map((e) => e.kind))];
  const bars = kinds.map((kind) => {
    const rows = lut.entries
      .filter((e) => e.kind === kind)
      .sort((a, b) => a.median_ms - b.median_ms)
      .map((e) => html`<div class="bar-row"><span class="bar-label">${e.shape}</span><span class="bar" style="width:${((e.median_ms / max) * 360).toFixed(1)}px"></span><span class="bar-value">${e.median_ms.toFixed(3)} ms · ${e.ratio.toFixed(4)} x ref</span></div>`);
    return html`<h3>${kind}</h3>${rows}\n`;
  });
  const c = lut.correction;
  const trained = lut.training.filter((t) => t.sum_ratio > 0);
  const chart = trained.length
    ? html`<h2>Training models: measured against predicted</h2><p>${trained.length} random configurations timed whole; the correction (${c ? correctionFormula(c) : 'none'}) was fitted to them${c ? `: ${(c.training_rmspe * 100).toFixed(1)}% RMS error` : ''}. Held-out figures are in bench:predict.</p>${scatter(
        [{ points: trained.map((t) => [t.measured_ratio * lut.reference.median_ms, correctedRatio(c, t) * lut.reference.median_ms]), className: 'train' }],
        'measured ms',
        'predicted ms',
        true,
      )}`
    : html``;
  const env = `${lut.family} at ${lut.resolution}x${lut.resolution} on ${lut.backend}${lut.device ? ` (${lut.device.name})` : ''}; ${lut.entries.length} blocks, each a ratio to ${lut.reference.model} (${lut.reference.median_ms.toFixed(3)} ms when built) timed in the same rounds; ${lut.env.cpu}, ${lut.env.created}`;
  return htmlPage(`eformer latency table: ${path}`, html`<p class="env">${env}</p>\n<h2>Blocks</h2><p>Each block timed alone, as ms at the reference's speed when the table was built.</p>${bars}\n${chart}`, PAGE_STYLE);
}

export function searchPage(r: SearchResult, path: string): string {
  const objective = r.objective === 'macs' ? 'MACs (G)' : 'params (M)';
  const scale = r.objective === 'macs' ? 1e9 : 1e6;
  const value = (c: SearchResult['chosen'][number]) => (r.objective === 'macs' ? c.macs : c.params) / scale;
  const chart = scatter(
    [
      { points: r.cloud.map(([ms, v]) => [ms, v / scale]), className: 'cloud', radius: 2 },
      { points: r.front.map((c) => [c.ms, value(c)]), className: 'front', line: true },
      { points: r.chosen.map((c) => [c.ms, value(c)]), className: 'chosen', radius: 7 },
    ],
    `predicted latency (ms, ${r.backend})`,
    objective,
  );
  const v = verifiedColumns(r);
  const rows = r.chosen.map(
    (c, i) => html`<tr><td>${i + 1}</td><td>${c.ms.toFixed(3)}</td><td>${(c.macs / 1e9).toFixed(3)}</td><td>${(c.params / 1e6).toFixed(2)}</td><td>${c.point.widths.join('/')}</td><td>${c.point.depths.join('/')}</td><td>${c.point.attention}</td>${v.cells(i)}</tr>\n`,
  );
  const text = `${r.family} at ${r.resolution}x${r.resolution} on ${r.backend}, budget ${r.budget_ms} ms; ${r.evaluated} configurations predicted (grey), the Pareto front within the budget (red), the chosen ones circled. Ranked by ${objective}, a stand-in for capacity: accuracy is not measured.`;
  return htmlPage(
    `eformer search: ${path}`,
    html`<p class="env">${text}</p>\n${chart}\n<div class="table-scroll"><table><thead><tr><th>#</th><th>predicted ms</th><th>MACs G</th><th>params M</th><th>widths</th><th>depths</th><th>attention</th>${v.head}</tr></thead><tbody>\n${rows}</tbody></table></div>${v.note}`,
    PAGE_STYLE,
  );
}

/** `search --verify`'s measurements, when the file holds them (checked by readSearch): predicted against measured, both at the speed of that moment. */
function verifiedColumns(r: SearchResult): { head: Html; cells: (i: number) => Html; note: Html } {
  const v = r.verified;
  if (!v) return { head: html``, cells: () => html``, note: html`` };
  const cells = (i: number) => {
    const c = v.candidates[i];
    if (!c) return html`<td>-</td><td>-</td><td>-</td>`;
    return html`<td>${c.predicted_ms.toFixed(3)}</td><td>${c.measured_ms.toFixed(3)}</td><td>${`${((c.predicted_ms / c.measured_ms - 1) * 100).toFixed(1)}%`}</td>`;
  };
  const note = `measured by search --verify on ${v.backend}${v.device ? ` (${v.device})` : ''}, interleaved with ${v.reference.model} (its median then ${v.reference.median_ms.toFixed(3)} ms); predicted now: the prediction at that moment's speed.`;
  return { head: html`<th>predicted now ms</th><th>measured ms</th><th>error</th>`, cells, note: html`<p>${note}</p>` };
}
