/**
 * One gate run, as `eformer gate` and `eformer profile --baseline` do it: read the budgets and
 * the baseline, decide, write every report asked for (Markdown, JUnit, the JSON verdict, the CI
 * step summary), and update the baseline when asked.
 */
import { appendFileSync, copyFileSync } from 'node:fs';
import { UsageError } from '../core/errors.js';
import { writeFileAtomic } from '../core/fs.js';
import { readResults, type ResultsFile } from '../results/results.js';
import type { Verdict } from '../results/verdict.js';
import { type Budget, parseAllowance, parseLatencyLimit, readGateConfig } from './budgets.js';
import { gate } from './compare.js';
import { verdictJunit, verdictMarkdown, verdictTable } from './reports.js';

/** The gate's settings as the user wrote them (flags or their library equivalents). */
export interface GateSettings {
  config?: string;
  reference?: string;
  maxLatencyIncrease?: string;
  maxParamsIncrease?: string;
  maxMacsIncrease?: string;
  maxLatencyMs?: string;
  junit?: string;
  verdict?: string;
  markdown?: string;
  updateBaseline?: boolean;
}

function flagBudgets(f: GateSettings): Partial<Budget> {
  const b: Partial<Budget> = {};
  if (f.maxLatencyIncrease !== undefined) b.latency = parseLatencyLimit(f.maxLatencyIncrease, '--max-latency-increase');
  if (f.maxParamsIncrease !== undefined) b.params = parseAllowance(f.maxParamsIncrease, '--max-params-increase');
  if (f.maxMacsIncrease !== undefined) b.macs = parseAllowance(f.maxMacsIncrease, '--max-macs-increase');
  if (f.maxLatencyMs !== undefined) {
    const a = parseAllowance(f.maxLatencyMs, '--max-latency-ms');
    if (!('absolute' in a)) throw new UsageError(`--max-latency-ms takes milliseconds, got '${f.maxLatencyMs}'`);
    b.maxLatencyMs = a.absolute;
  }
  return b;
}

/** The reference a run should measure: the setting, else the budgets file's. */
export function referenceFor(f: GateSettings): string | undefined {
  return f.reference ?? readGateConfig(f.config).reference;
}

export interface GateRun {
  verdict: Verdict;
  /** What to show a person: the verdict table and what was written. */
  lines: string[];
  /** The models that regressed (empty when the gate passed or the baseline was updated). */
  failed: string[];
}

export function runGate(baselinePath: string, current: ResultsFile, currentPath: string | undefined, f: GateSettings): GateRun {
  const config = readGateConfig(f.config);
  const flags = flagBudgets(f);
  const baseline = readResults(baselinePath);
  const verdict = gate(baseline, current, { config, flags, reference: f.reference });
  const lines = [verdictTable(verdict)];
  const markdown = verdictMarkdown(verdict);
  if (process.env.GITHUB_STEP_SUMMARY) appendFileSync(process.env.GITHUB_STEP_SUMMARY, markdown);
  if (f.markdown) writeFileAtomic(f.markdown, markdown);
  if (f.junit) writeFileAtomic(f.junit, verdictJunit(verdict));
  if (f.verdict) writeFileAtomic(f.verdict, `${JSON.stringify(verdict, null, 1)}\n`);
  if (f.updateBaseline) {
    if (currentPath) copyFileSync(currentPath, baselinePath);
    else writeFileAtomic(baselinePath, `${JSON.stringify(current, null, 1)}\n`);
    lines.push(`baseline updated: ${baselinePath}`);
    return { verdict, lines, failed: [] };
  }
  return { verdict, lines, failed: verdict.models.filter((m) => m.outcome === 'regression').map((m) => m.model) };
}
