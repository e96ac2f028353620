import { LINEAR_QUANTILES } from '../../core/stats.js';
import { renderTable } from '../../core/table.js';
import type { ResultsFile } from '../../results/results.js';
import { allResults, columnsFor, environmentLine, summaryRow } from '../rows.js';
import type { ReportFormat } from './format.js';

export function breakdownTables(files: ResultsFile[], top = 8): string {
  const out: string[] = [];
  for (const r of allResults(files)) {
    const b = r.breakdown;
    if (!b) continue;
    const rows: string[][] = [];
    for (let i = 0; i < Math.min(top, Math.max(b.by_op.length, b.by_stage.length)); i++) {
      const op = b.by_op[i];
      const st = b.by_stage[i];
      rows.push([op?.key ?? '', op ? op.ms.toFixed(3) : '', op ? op.percent.toFixed(1) : '', st?.key ?? '', st ? st.ms.toFixed(3) : '', st ? st.percent.toFixed(1) : '']);
    }
    out.push(renderTable([`${r.model}: by op type`, 'ms/run', '%', `by stage and part`, 'ms/run', '%'], rows));
    out.push(
      `shares from onnxruntime's profiler (${b.runs} runs; it slows runs down: node time ${b.node_ms.toFixed(3)} ms, model_run ${b.model_run_ms.toFixed(3)} ms), ms scaled to the measured median ${b.median_ms.toFixed(3)} ms`,
    );
  }
  return out.join('\n');
}

export const tableFormat: ReportFormat = {
  id: 'table',
  extension: 'txt',
  render(files) {
    const columns = columnsFor(allResults(files));
    const rows = allResults(files).map((r) => {
      const row = summaryRow(r);
      return columns.map(([key]) => row[key]);
    });
    const lines = [renderTable(columns.map(([, title]) => title), rows), ...files.map((f) => `measured on: ${environmentLine(f)}`)];
    const breakdown = breakdownTables(files);
    if (breakdown) lines.push(breakdown);
    if (allResults(files).some((r) => r.noisy)) lines.push('NOISY: coefficient of variation above 10%; the machine was busy or the run too short, so treat the median with care.');
    const rules = [...new Set(allResults(files).map((r) => r.latency_ms.quantile_rule).filter((q): q is string => Boolean(q) && q !== LINEAR_QUANTILES))];
    if (rules.length) lines.push(`percentiles: eformer interpolates (${LINEAR_QUANTILES}); rows marked "harness summary" use the harness's rule: ${rules.join('; ')}`);
    return lines.join('\n');
  },
};
