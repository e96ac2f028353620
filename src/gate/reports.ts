/** The gate's verdict for people (table, Markdown for CI summaries) and for CI tools (JUnit XML). */
import { renderTable, wrapText } from '../core/table.js';
import { markdownText, escapeXml as xml } from '../core/text.js';
import type { Check, Verdict } from '../results/verdict.js';

const pct = (x: number | null) => (x === null ? '-' : `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`);
/** A side's figure; '-' where it has none (memory and load: the check's note says why). */
function value(c: Check, v: number | null): string {
  if (v === null) return '-';
  if (c.metric === 'params' || c.metric === 'macs') return v.toLocaleString('en-US');
  if (c.metric.startsWith('memory') || c.metric.startsWith('load')) return v.toFixed(1);
  return v.toFixed(c.basis.startsWith('median ratio') ? 4 : 3);
}
const ci = (c: Check) => (c.ci95 ? `${pct(c.ci95[0]).slice(0, -1)}..${pct(c.ci95[1])}` : '');
const MARKS: Record<Check['outcome'], string> = { regression: 'REGRESSION', improvement: 'improved', pass: 'ok', skipped: 'skipped', missing: 'NOT EVALUATED' };
const mark = (c: Check) => MARKS[c.outcome];
/** A check that fails the gate: a regression, or a budget that cannot be evaluated. */
const fails = (c: Check) => c.outcome === 'regression' || c.outcome === 'missing';

const metric = (c: Check) => (c.metric === 'latency_ceiling' ? 'ceiling' : c.metric.replace('_ceiling', ' ceiling'));
/** Each skipped or unevaluated check, and why: `model memory: the budget cannot be evaluated: ...`. */
const notes = (verdict: Verdict) => verdict.models.flatMap((m) => m.checks.filter((c) => c.note).map((c) => `${m.model} ${metric(c)}: ${c.note}`));
const figures = (c: Check) => [value(c, c.baseline), value(c, c.current), pct(c.change), ci(c), c.limit, mark(c)];

function rows(verdict: Verdict, withBasis: boolean): string[][] {
  return verdict.models.flatMap((m) => m.checks.map((c) => [m.model, metric(c), ...(withBasis ? [c.basis] : []), ...figures(c)]));
}

const HEAD = ['metric', 'baseline', 'current', 'change', '95% CI', 'limit', 'verdict'];
const HEAD_WITH_BASIS = ['model', 'metric', 'compared', 'baseline', 'current', 'change', '95% CI', 'limit', 'verdict'];

/** What each metric compared, once for the whole table (the same for every model of a run), and what that means. */
function basisLines(verdict: Verdict): string[] {
  const bases = [...new Set(verdict.models.flatMap((m) => m.checks.map((c) => `${metric(c)}: ${c.basis}`)))];
  return [`compared: ${bases.join('; ')}`, ...(verdict.latency_compared ? [`latency: ${verdict.latency_compared}`] : [])];
}
/** What raw latencies were compared: medians, or (harnesses that print no median) averages. */
function rawStatistics(verdict: Verdict): string {
  const averages = verdict.models.some((m) => m.checks.some((c) => c.metric === 'latency' && c.basis.startsWith('average')));
  const medians = verdict.models.some((m) => m.checks.some((c) => c.metric === 'latency' && c.basis.startsWith('median')));
  return averages && medians ? 'medians, or averages where the harness printed no median' : averages ? 'averages (the harness printed no median)' : 'medians';
}

export function verdictTable(verdict: Verdict): string {
  const failed = verdict.models.filter((m) => m.outcome !== 'pass').map((m) => m.model);
  const across = verdict.setup_changes?.length ? [`compared across setups (--allow-setup-change): ${verdict.setup_changes.join('; ')}`] : [];
  // Each model's name on a line of its own above its checks: exact counts, the interval and the
  // limit leave no room for a model column within 100 columns.
  const table = renderTable(HEAD, verdict.models.flatMap((m) => m.checks.map((c) => [metric(c), ...figures(c)])), { colAligns: ['left', 'right', 'right', 'right', 'right', 'left', 'left'] })
    .split('\n')
    .map((l) => `  ${l}`);
  const lines = table.slice(0, 2);
  let next = 2;
  for (const m of verdict.models) {
    lines.push(wrapText(m.model));
    for (const _ of m.checks) lines.push(table[next++]);
  }
  return [...lines, ...[...notes(verdict), ...basisLines(verdict), ...across].map((l) => wrapText(l)), verdict.pass ? 'gate passed' : wrapText(`gate FAILED: ${failed.join(', ')}`)].join('\n');
}

export function verdictMarkdown(verdict: Verdict): string {
  const lines = [
    `### eformer latency gate: ${verdict.pass ? 'passed' : 'FAILED'}`,
    '',
    verdict.reference
      ? `Latency compared as the ratio to ${markdownText(verdict.reference)} measured in the same rounds (its own latency is not gated).`
      : `Latency compared as ${markdownText(verdict.latency_compared ?? 'raw medians')}${rawStatistics(verdict) === 'medians' ? '' : `; the statistics: ${rawStatistics(verdict)}`}.`,
    ...(verdict.setup_changes?.length ? ['', `Compared across setups (--allow-setup-change): ${markdownText(verdict.setup_changes.join('; '))}.`] : []),
    '',
    `| ${HEAD_WITH_BASIS.join(' | ')} |`,
    `|${HEAD_WITH_BASIS.map(() => ' --- ').join('|')}|`,
    ...rows(verdict, true).map((r) => `| ${r.map((x) => markdownText(x)).join(' | ')} |`),
    // A blank line ends the table; each note is text from the files (model names, absent reasons), escaped.
    ...notes(verdict).flatMap((n) => ['', markdownText(n, true)]),
  ];
  return `${lines.join('\n')}\n`;
}

export function verdictJunit(verdict: Verdict): string {
  const cases = verdict.models.flatMap((m) =>
    m.checks.map((c) => {
      const text = `${c.basis}: baseline ${value(c, c.baseline)}, current ${value(c, c.current)}, change ${pct(c.change)}${c.ci95 ? ` (95% CI ${ci(c)})` : ''}, limit ${c.limit}`;
      const body =
        c.outcome === 'regression'
          ? `<failure message="${xml(`${m.model} ${c.metric} regressed: ${pct(c.change)}`)}">${xml(text)}</failure>`
          : c.outcome === 'missing'
            ? `<failure message="${xml(`${m.model} ${c.metric}: ${c.note}`)}">${xml(text)}</failure>`
            : c.outcome === 'skipped'
              ? `<skipped message="${xml(`${m.model} ${c.metric}: ${c.note}`)}"/><system-out>${xml(text)}</system-out>`
              : `<system-out>${xml(text)}</system-out>`;
      return `    <testcase classname="eformer.gate.${xml(m.model)}" name="${c.metric}">${body}</testcase>`;
    }),
  );
  const failures = verdict.models.reduce((n, m) => n + m.checks.filter(fails).length, 0);
  const skipped = verdict.models.reduce((n, m) => n + m.checks.filter((c) => c.outcome === 'skipped').length, 0);
  const properties = verdict.latency_compared ? `    <properties><property name="latency_compared" value="${xml(verdict.latency_compared)}"/></properties>\n` : '';
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n  <testsuite name="eformer gate" tests="${cases.length}" failures="${failures}"${skipped ? ` skipped="${skipped}"` : ''}>\n${properties}${cases.join('\n')}\n  </testsuite>\n</testsuites>\n`;
}
