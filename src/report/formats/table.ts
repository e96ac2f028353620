import { renderTable, TERMINAL_WIDTH, widthOf, wrapText } from '../../core/table.js';
import type { ResultsFile } from '../../results/results.js';
import { columnsFor, costLegend, environmentLines, labelledResults, legend, NARROW_FIRST_LEFT_OUT, summaryRow, type SummaryRow } from '../rows.js';
import type { ReportFormat } from './format.js';

export function breakdownTables(files: ResultsFile[], top = 8): string {
  const out: string[] = [];
  const results = files.flatMap((f) => f.results);
  // The same model measured on two backends has two breakdowns: say which is which.
  const severalBackends = new Set(results.map((r) => r.backend)).size > 1;
  for (const r of results) {
    const b = r.breakdown;
    if (!b) continue;
    const rows: string[][] = [];
    for (let i = 0; i < Math.min(top, Math.max(b.by_op.length, b.by_stage.length)); i++) {
      const op = b.by_op[i];
      const st = b.by_stage[i];
      rows.push([op?.key ?? '', op ? op.ms.toFixed(3) : '', op ? op.percent.toFixed(1) : '', st?.key ?? '', st ? st.ms.toFixed(3) : '', st ? st.percent.toFixed(1) : '']);
    }
    out.push(renderTable([`${r.model}${severalBackends ? ` on ${r.backend}` : ''}: by op type`, 'ms/run', '%', 'by stage and part', 'ms/run', '%'], rows));
    out.push(
      wrapText(
        `shares from the runtime's profiler (${b.runs} runs; it slows runs down: node time ${b.node_ms.toFixed(3)} ms, model_run ${b.model_run_ms.toFixed(3)} ms), ms scaled to the measured ${b.scaled_to === 'mean' ? 'average' : 'median'} ${b.median_ms.toFixed(3)} ms`,
      ),
    );
  }
  return out.join('\n');
}

/**
 * The summary table: every column in the wide view; in the narrow one, columns give way in a set
 * order until it fits 100 columns (the note wraps first), and the footer names what was left out.
 */
function summaryTable(rows: SummaryRow[], wide: boolean): { table: string; leftOut: string[] } {
  let columns = columnsFor(rows, wide);
  const render = () => {
    const note = columns.findIndex((c) => c.key === 'note');
    return renderTable(columns.map((c) => c.title), rows.map((row) => columns.map((c) => row[c.key])), { wrap: note >= 0 ? [note] : [] });
  };
  let table = render();
  const leftOut: string[] = [];
  for (const key of wide ? [] : NARROW_FIRST_LEFT_OUT) {
    if (widthOf(table) <= TERMINAL_WIDTH) break;
    const column = columns.find((c) => c.key === key);
    if (!column) continue;
    columns = columns.filter((c) => c !== column);
    leftOut.push(column.title);
    table = render();
  }
  return { table, leftOut };
}

export const tableFormat: ReportFormat = {
  id: 'table',
  extension: 'txt',
  render(files, options = {}) {
    const labelled = labelledResults(files);
    const rows = labelled.map(({ result, source }) => summaryRow(result, source));
    const { table, leftOut } = summaryTable(rows, Boolean(options.wide));
    const lines = [table];
    lines.push(...environmentLines(files, options.sources).map((l) => wrapText(l)));
    const breakdown = breakdownTables(files);
    if (breakdown) lines.push(breakdown);
    lines.push(...[...legend(rows), ...costLegend(labelled)].map((l) => wrapText(l)));
    const rules = [...new Set(files.flatMap((f) => f.results).map((r) => r.latency_ms.quantile_rule).filter((q): q is string => q !== undefined && !q.startsWith('linear')))];
    if (rules.length) lines.push(wrapText(`percentiles: eformer interpolates linearly; "P50 from the harness" rows use the harness's rule: ${rules.join('; ')}`));
    if (!options.wide) lines.push(wrapText(`(${leftOut.length ? `left out to fit ${TERMINAL_WIDTH} columns: ${leftOut.join(', ')}; ` : ''}${options.everyColumn ?? '--wide, or -f markdown/csv/html,'} for every column)`));
    return lines.join('\n');
  },
};
