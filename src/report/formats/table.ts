import { renderTable, wrapText } from '../../core/table.js';
import type { ResultsFile } from '../../results/results.js';
import { environmentLines, labelledResults, legend, summaryRow, columnsFor } from '../rows.js';
import type { ReportFormat } from './format.js';

export function breakdownTables(files: ResultsFile[], top = 8): string {
  const out: string[] = [];
  for (const r of files.flatMap((f) => f.results)) {
    const b = r.breakdown;
    if (!b) continue;
    const rows: string[][] = [];
    for (let i = 0; i < Math.min(top, Math.max(b.by_op.length, b.by_stage.length)); i++) {
      const op = b.by_op[i];
      const st = b.by_stage[i];
      rows.push([op?.key ?? '', op ? op.ms.toFixed(3) : '', op ? op.percent.toFixed(1) : '', st?.key ?? '', st ? st.ms.toFixed(3) : '', st ? st.percent.toFixed(1) : '']);
    }
    out.push(renderTable([`${r.model}: by op type`, 'ms/run', '%', 'by stage and part', 'ms/run', '%'], rows));
    out.push(
      wrapText(
        `shares from the runtime's profiler (${b.runs} runs; it slows runs down: node time ${b.node_ms.toFixed(3)} ms, model_run ${b.model_run_ms.toFixed(3)} ms), ms scaled to the measured ${b.scaled_to === 'mean' ? 'average' : 'median'} ${b.median_ms.toFixed(3)} ms`,
      ),
    );
  }
  return out.join('\n');
}

export const tableFormat: ReportFormat = {
  id: 'table',
  extension: 'txt',
  render(files, options = {}) {
    const rows = labelledResults(files).map(({ result, source }) => summaryRow(result, source));
    const columns = columnsFor(rows, Boolean(options.wide));
    const lines = [renderTable(columns.map((c) => c.title), rows.map((row) => columns.map((c) => row[c.key])))];
    lines.push(...environmentLines(files, options.sources).map((l) => wrapText(l)));
    const breakdown = breakdownTables(files);
    if (breakdown) lines.push(breakdown);
    lines.push(...legend(rows).map((l) => wrapText(l)));
    const rules = [...new Set(files.flatMap((f) => f.results).map((r) => r.latency_ms.quantile_rule).filter((q): q is string => q !== undefined && !q.startsWith('linear')))];
    if (rules.length) lines.push(wrapText(`percentiles: eformer interpolates linearly; "P50 from the harness" rows use the harness's rule: ${rules.join('; ')}`));
    if (!options.wide) lines.push('(--wide, or -f markdown/csv/html, for every column)');
    return lines.join('\n');
  },
};
