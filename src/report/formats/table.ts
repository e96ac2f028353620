import Table from 'cli-table3';
import { plain } from '../format.js';
import { allResults, columnsFor, environmentLine, summaryRow } from '../rows.js';
import type { ResultsFile } from '../results.js';
import type { ReportFormat } from './format.js';

export function breakdownTables(files: ResultsFile[], top = 8): string {
  const out: string[] = [];
  for (const r of allResults(files)) {
    const b = r.breakdown;
    if (!b) continue;
    const table = new Table({ ...plain, head: [`${r.model}: by op type`, 'ms/run', '%', `by stage and part`, 'ms/run', '%'] });
    for (let i = 0; i < Math.min(top, Math.max(b.by_op.length, b.by_stage.length)); i++) {
      const op = b.by_op[i];
      const st = b.by_stage[i];
      table.push([op?.key ?? '', op ? op.ms.toFixed(3) : '', op ? op.percent.toFixed(1) : '', st?.key ?? '', st ? st.ms.toFixed(3) : '', st ? st.percent.toFixed(1) : '']);
    }
    out.push(table.toString());
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
    const table = new Table({ ...plain, head: columns.map(([, title]) => title) });
    for (const r of allResults(files)) {
      const row = summaryRow(r);
      table.push(columns.map(([key]) => row[key]));
    }
    const lines = [table.toString(), ...files.map((f) => `measured on: ${environmentLine(f)}`)];
    const breakdown = breakdownTables(files);
    if (breakdown) lines.push(breakdown);
    if (allResults(files).some((r) => r.noisy)) lines.push('NOISY: coefficient of variation above 10%; the machine was busy or the run too short, so treat the median with care.');
    return lines.join('\n');
  },
};
