import { markdownText as cell } from '../../core/text.js';
import { absentNotes, columnsFor, costLegend, environmentLines, labelledResults, legend, summaryRow } from '../rows.js';
import type { ReportFormat } from './format.js';

/** Every column, then each model's breakdown by stage and by op type. */
export const markdownFormat: ReportFormat = {
  id: 'markdown',
  extension: 'md',
  render(files, options = {}) {
    const labelled = labelledResults(files);
    const rows = labelled.map(({ result, source }) => summaryRow(result, source));
    const columns = columnsFor(rows, true);
    const lines = [`| ${columns.map((c) => c.title).join(' | ')} |`, `|${columns.map(() => ' --- ').join('|')}|`];
    for (const row of rows) lines.push(`| ${columns.map((c) => cell(row[c.key])).join(' | ')} |`);
    lines.push('', ...environmentLines(files, options.sources).map((l) => cell(`${l[0].toUpperCase()}${l.slice(1)}`, true)), '', ...legend(rows));
    // The cost legend names the file's memory sources, and the absent notes its reasons: text from the file.
    lines.push(...[...costLegend(labelled), ...absentNotes(labelled)].map((l) => cell(l, true)));
    for (const r of files.flatMap((f) => f.results)) {
      const b = r.breakdown;
      if (!b) continue;
      lines.push('', `**${cell(r.model)}**: where the time goes (runtime profiler, ${b.runs} runs; ms scaled to the measured ${b.scaled_to === 'mean' ? 'average' : 'median'} ${b.median_ms.toFixed(3)} ms)`, '');
      lines.push('| stage and part | ms/run | % |', '| --- | --- | --- |');
      for (const row of b.by_stage) lines.push(`| ${cell(row.key)} | ${row.ms.toFixed(3)} | ${row.percent.toFixed(1)} |`);
      lines.push('', '| op type | ms/run | % | kernels/run |', '| --- | --- | --- | --- |');
      for (const row of b.by_op) lines.push(`| ${cell(row.key)} | ${row.ms.toFixed(3)} | ${row.percent.toFixed(1)} | ${row.nodes} |`);
    }
    return lines.join('\n');
  },
};
