/**
 * One gate run, as `eformer gate` and `eformer profile --baseline` do it: read the budgets and
 * the baseline, decide, write every report asked for (Markdown, JUnit, the JSON verdict, the CI
 * step summary), and update the baseline when asked.
 */
import { appendFileSync, copyFileSync } from 'node:fs';
import { UsageError } from '../core/errors.js';
import { realpathSync } from 'node:fs';
import { checkOutputFile, reason, writeFileAtomic } from '../core/fs.js';
import { readResults, type ResultsFile } from '../results/results.js';
import type { Verdict } from '../results/verdict.js';
import { type Budget, parseAllowance, parseLatencyLimit, readGateConfig } from './budgets.js';
import { gate } from './compare.js';
import { verdictJunit, verdictMarkdown, verdictTable } from './reports.js';

/** The gate's settings as the user wrote them (flags or their library equivalents). */
export interface GateSettings {
  /** The budgets file (default ./eformer.config.json when present). */
  budgets?: string;
  reference?: string;
  maxLatencyIncrease?: string;
  maxParamsIncrease?: string;
  maxMacsIncrease?: string;
  maxLatencyMs?: string;
  junit?: string;
  verdict?: string;
  markdown?: string;
  updateBaseline?: boolean;
  /** Compare results measured differently; the verdict lists the differences. */
  allowSetupChange?: boolean;
}

/** The files a gate run may write, checked before anything is measured or read. */
export function checkGateOutputs(f: GateSettings): void {
  for (const [path, what] of [[f.junit, '--junit'], [f.verdict, '--verdict'], [f.markdown, '--markdown'], [process.env.GITHUB_STEP_SUMMARY, '$GITHUB_STEP_SUMMARY']] as const) {
    if (path) checkOutputFile(path, what);
  }
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
  return f.reference ?? readGateConfig(f.budgets).reference;
}

export interface GateRun {
  verdict: Verdict;
  /** Things the user should know that do not change the verdict (e.g. the same file on both sides). */
  warnings: string[];
  /** What to show a person: the verdict table and what was written. */
  lines: string[];
  /** The models that regressed (empty when the gate passed or the baseline was updated). */
  failed: string[];
}

export function runGate(baselinePath: string, current: ResultsFile, currentPath: string | undefined, f: GateSettings): GateRun {
  const config = readGateConfig(f.budgets);
  const flags = flagBudgets(f);
  const baseline = readResults(baselinePath);
  const verdict = gate(baseline, current, { config, flags, reference: f.reference, allowSetupChange: f.allowSetupChange });
  const warnings = currentPath && sameFile(baselinePath, currentPath) ? [`the baseline and the current results are the same file (${currentPath}): the gate compares it with itself`] : [];
  const lines = [verdictTable(verdict)];
  const markdown = verdictMarkdown(verdict);
  if (process.env.GITHUB_STEP_SUMMARY) appendSummary(process.env.GITHUB_STEP_SUMMARY, markdown);
  if (f.markdown) writeFileAtomic(f.markdown, markdown);
  if (f.junit) writeFileAtomic(f.junit, verdictJunit(verdict));
  if (f.verdict) writeFileAtomic(f.verdict, `${JSON.stringify(verdict, null, 1)}\n`);
  if (f.updateBaseline) {
    if (currentPath) copyFileSync(currentPath, baselinePath);
    else writeFileAtomic(baselinePath, `${JSON.stringify(current, null, 1)}\n`);
    lines.push(`baseline updated: ${baselinePath}`);
    return { verdict, warnings, lines, failed: [] };
  }
  return { verdict, warnings, lines, failed: verdict.models.filter((m) => m.outcome === 'regression').map((m) => m.model) };
}

function sameFile(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

/** Append to the CI step summary; a path that cannot take it is the user's input problem, one line. */
function appendSummary(path: string, text: string): void {
  try {
    appendFileSync(path, text);
  } catch (err) {
    throw new UsageError(`cannot append to $GITHUB_STEP_SUMMARY '${path}': ${reason(err)}`);
  }
}
