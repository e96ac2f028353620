import { allResults, columnsFor, environmentLine, summaryRow } from '../rows.js';
import type { ReportFormat } from './format.js';

const cell = (s: string) => s.replace(/\|/g, '\\|');

export const markdownFormat: ReportFormat = {
  id: 'markdown',
  extension: 'md',
  render(files) {
    const columns = columnsFor(allResults(files));
    const lines = [`| ${columns.map(([, t]) => t).join(' | ')} |`, `|${columns.map(() => ' --- ').join('|')}|`];
    for (const r of allResults(files)) {
      const row = summaryRow(r);
      lines.push(`| ${columns.map(([k]) => cell(row[k])).join(' | ')} |`);
    }
    lines.push('', ...files.map((f) => `Measured on: ${environmentLine(f)}`));
    for (const r of allResults(files)) {
      if (!r.breakdown) continue;
      lines.push('', `**${r.model}** time by stage and part (onnxruntime profiler):`, '', '| where | ms/run | % |', '| --- | --- | --- |');
      for (const row of r.breakdown.by_stage) lines.push(`| ${cell(row.key)} | ${row.ms.toFixed(3)} | ${row.percent.toFixed(1)} |`);
    }
    return lines.join('\n');
  },
};
