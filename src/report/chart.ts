/**
 * What every HTML view shares: the page around it, its style sheet, and a chart's frame (scales,
 * grid, ticks and axis labels). Self-contained pages: inline CSS and SVG only, no scripts, no
 * network. Built with the `html` tag, so text from files is escaped wherever it lands.
 */
import { html, type Html, trustedHtml } from '../core/html.js';

/** Round axis ticks between lo and hi. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  const step = 10 ** Math.floor(Math.log10((hi - lo) / count || 1));
  // A span too small for a float step (denormals) has no ticks between its ends.
  if (!(step > 0) || !Number.isFinite(step)) return [lo, hi];
  const best = [1, 2, 5, 10].map((m) => m * step).find((s) => (hi - lo) / s <= count) ?? 10 * step;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / best) * best; t <= hi + 1e-9 * Math.abs(hi) && ticks.length <= 2 * count + 1; t += best) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

/** The pages' shared look. */
export const STYLE = trustedHtml(`body{font:14px system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:12px 0}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.table-scroll{max-width:100%;overflow-x:auto}
tr.noisy td{background:#fff4e0}.grid{stroke:#eee}.family{fill:none;stroke-width:1.5}.baseline{fill:#888}.int8{fill:#fff;stroke-width:2}.leader{stroke:#aaa;stroke-width:0.7}.legend{font-size:11px}
svg{max-width:100%;height:auto}svg text{font-size:12px;fill:#333}.label{font-size:11px}.bars{display:flex;gap:40px;flex-wrap:wrap}.bar-row{display:flex;align-items:center;gap:8px;margin:2px 0}
.bar-label{width:230px;font-size:12px;overflow-wrap:anywhere}.bar{display:inline-block;height:12px;background:#1f77b4}.bar.op{background:#ff7f0e}.bar-value{font-size:12px;color:#555}.env{color:#555;overflow-wrap:anywhere}`);

/** A whole page: `extraStyle` adds to the shared look. */
export function htmlPage(title: string, body: Html, extraStyle: Html = html``): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title><style>${STYLE}${extraStyle}</style></head>
<body>
<h1>${title}</h1>
${body}
</body></html>
`.text;
}

export interface Frame {
  width: number;
  height: number;
  margin: { left: number; right: number; top: number; bottom: number };
  x: [number, number];
  y: [number, number];
  xLabel: string;
  yLabel: string;
}

/** A chart's scales and its grid, ticks and axis labels. */
export function chartFrame(f: Frame): { px: (x: number) => number; py: (y: number) => number; axes: Html } {
  const { width: W, height: H, margin: M } = f;
  const span = (r: [number, number]) => (r[1] > r[0] ? r[1] - r[0] : 1);
  const round = (v: number) => Math.round(v * 10) / 10;
  const px = (x: number) => round(M.left + ((x - f.x[0]) / span(f.x)) * (W - M.left - M.right));
  const py = (y: number) => round(H - M.bottom - ((y - f.y[0]) / span(f.y)) * (H - M.top - M.bottom));
  const axes = html`${niceTicks(f.x[0], f.x[1]).map((t) => html`<line x1="${px(t)}" x2="${px(t)}" y1="${M.top}" y2="${H - M.bottom}" class="grid"/><text x="${px(t)}" y="${H - M.bottom + 18}" text-anchor="middle">${t}</text>`)}${niceTicks(f.y[0], f.y[1]).map(
    (t) => html`<line x1="${M.left}" x2="${W - M.right}" y1="${py(t)}" y2="${py(t)}" class="grid"/><text x="${M.left - 8}" y="${py(t) + 4}" text-anchor="end">${t}</text>`,
  )}<text x="${(M.left + W - M.right) / 2}" y="${H - 10}" text-anchor="middle" class="axis-label">${f.xLabel}</text><text transform="translate(16 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle" class="axis-label">${f.yLabel}</text>`;
  return { px, py, axes };
}
