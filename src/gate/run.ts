/**
 * One gate run, as `eformer gate` and `eformer profile --baseline` do it: read the budgets and
 * the baseline, decide, write every report asked for (Markdown, JUnit, the JSON verdict, the CI
 * step summary), and update the baseline when asked.
 */
import { existsSync } from 'node:fs';
import { UsageError } from '../core/errors.js';
import { appendToFile, checkOutputs, INPUT_LIMITS, type InputPath, type OutputPath, readInputFile, sameFile, writeFileAtomic } from '../core/fs.js';
import { readResults, type ResultsFile } from '../results/results.js';
import type { Verdict } from '../results/verdict.js';
import { type Budget, DEFAULT_BUDGETS_FILE, DEFAULT_REFERENCE, parseAllowance, parseCeiling, parseLatencyLimit, readGateConfig } from './budgets.js';
import { commonReference, gateAsync, gateReference } from './compare.js';
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
  maxMemoryIncrease?: string;
  maxLoadIncrease?: string;
  maxMemoryMb?: string;
  maxLoadMs?: string;
  junit?: string;
  verdict?: string;
  markdown?: string;
  updateBaseline?: boolean;
  /** Compare results measured differently; the verdict lists the differences. */
  allowSetupChange?: boolean;
  /** Compare raw medians when the files hold no common reference (refused otherwise: they drift between processes). */
  rawMedians?: boolean;
}

/** The files a gate run may write (the baseline itself, with --update-baseline, is meant to be rewritten). */
export function gateOutputs(f: GateSettings): OutputPath[] {
  const named = [[f.junit, '--junit'], [f.verdict, '--verdict'], [f.markdown, '--markdown']] as const;
  const outputs: OutputPath[] = named.filter(([path]) => path).map(([path, flag]) => ({ path: path!, flag }));
  const summary = process.env.GITHUB_STEP_SUMMARY;
  if (summary) outputs.push({ path: summary, flag: '$GITHUB_STEP_SUMMARY', kind: 'append' });
  return outputs;
}

/** The files a gate run reads: the budgets file (named, or ./eformer.config.json when present). */
export function gateInputs(f: GateSettings): InputPath[] {
  if (f.budgets) return [{ path: f.budgets, flag: '--budgets' }];
  return existsSync(DEFAULT_BUDGETS_FILE) ? [{ path: DEFAULT_BUDGETS_FILE, flag: 'the budgets file' }] : [];
}

/**
 * Check, before anything is measured or read, every file a gate run writes (and the caller's
 * `outputs`, such as profile's --json) against each other and every file the run reads.
 */
export function checkGateOutputs(f: GateSettings, inputs: InputPath[], outputs: (OutputPath | undefined)[] = []): void {
  checkOutputs([...outputs, ...gateOutputs(f)], [...inputs, ...gateInputs(f)]);
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
  if (f.maxMemoryIncrease !== undefined) b.memory = parseLatencyLimit(f.maxMemoryIncrease, '--max-memory-increase');
  if (f.maxLoadIncrease !== undefined) b.load = parseLatencyLimit(f.maxLoadIncrease, '--max-load-increase');
  if (f.maxMemoryMb !== undefined) b.maxMemoryMb = parseCeiling(f.maxMemoryMb, '--max-memory-mb', 'megabytes');
  if (f.maxLoadMs !== undefined) b.maxLoadMs = parseCeiling(f.maxLoadMs, '--max-load-ms', 'milliseconds');
  return b;
}

/**
 * The reference a `profile` run times in every round, so the gate can compare per-round ratios
 * instead of raw medians (which drift between processes): `--reference`; none with
 * `--no-reference` (`false`); else, for results that may be gated (`gated`: --json or
 * --baseline), the baseline's own reference, else the budgets file's, else DEFAULT_REFERENCE. A
 * budgets file's reference is timed even when nothing is gated, as before. Device harnesses time
 * one model at a time and cannot interleave a reference: they get none unless it is asked for by
 * flag (which they refuse).
 */
export function referenceToTime(f: Omit<GateSettings, 'reference'> & { reference?: string | false }, run: { gated: boolean; interleaves: boolean; baseline?: ResultsFile }): string | undefined {
  if (f.reference === false) return undefined;
  if (f.reference) return f.reference;
  if (!run.interleaves) return undefined;
  const fromBaseline = run.baseline ? commonReference(run.baseline) : undefined;
  return fromBaseline ?? readGateConfig(f.budgets).reference ?? (run.gated ? DEFAULT_REFERENCE : undefined);
}

/**
 * Before measuring: will the gate be able to compare these results with the baseline, once
 * `reference` (or none) is timed? Fails as the gate would, so minutes of measuring are not spent
 * on a comparison it will refuse.
 */
export function checkBaselineComparable(baseline: ResultsFile, reference: string | undefined, f: GateSettings): void {
  const planned = { results: baseline.results.map((r) => ({ ...r, vs_reference: reference ? { model: reference, median: 1, ratios: [] } : undefined })) };
  const gated = gateReference(baseline, planned, { reference: f.reference, config: readGateConfig(f.budgets), rawMedians: f.rawMedians });
  if (gated && commonReference(baseline) !== gated) {
    throw new UsageError(`the baseline has no measurements against ${gated} (it has ${commonReference(baseline) ?? 'none, or several'}): profile with the baseline's reference, or make the baseline again with --reference ${gated}`);
  }
}

export interface GateRun {
  verdict: Verdict;
  /** Things the user should know that do not change the verdict (e.g. the same file on both sides). */
  warnings: string[];
  /** What to show a person: the verdict table and what was written. */
  lines: string[];
  /** The models that regressed (empty when the gate passed or the baseline was updated). */
  failed: string[];
  /** The models whose only failure is a budget that cannot be evaluated (a figure absent from the current results). */
  unevaluated: string[];
}

export async function runGate(baselinePath: string, current: ResultsFile, currentPath: string | undefined, f: GateSettings): Promise<GateRun> {
  const config = readGateConfig(f.budgets);
  const flags = flagBudgets(f);
  const baseline = readResults(baselinePath, '--baseline');
  const verdict = await gateAsync(baseline, current, { config, flags, reference: f.reference, allowSetupChange: f.allowSetupChange, rawMedians: f.rawMedians });
  const warnings = currentPath && sameFile(baselinePath, currentPath) ? [`the baseline and the current results are the same file (${currentPath}): the gate compares it with itself`] : [];
  if (verdict.raw_medians) warnings.push(`latency compared as ${verdict.latency_compared}`);
  // A budget for a model neither file holds is applied to nothing: most often a misspelt name. Not an
  // error, as one budgets file may serve several CI jobs that each measure some of the models.
  const measured = new Set([...baseline.results, ...current.results].map((r) => r.model));
  for (const name of Object.keys(config.models).filter((m) => !measured.has(m))) {
    warnings.push(`the budgets file sets a budget for '${name}', which neither results file holds: it is applied to nothing (misspelt?)`);
  }
  const lines = [verdictTable(verdict)];
  const markdown = verdictMarkdown(verdict);
  if (process.env.GITHUB_STEP_SUMMARY) appendToFile(process.env.GITHUB_STEP_SUMMARY, markdown, '$GITHUB_STEP_SUMMARY');
  if (f.markdown) writeFileAtomic(f.markdown, markdown);
  if (f.junit) writeFileAtomic(f.junit, verdictJunit(verdict));
  if (f.verdict) writeFileAtomic(f.verdict, `${JSON.stringify(verdict, null, 1)}\n`);
  if (f.updateBaseline) {
    // The current file's own bytes, written like every output (a link at the baseline is replaced, not written through).
    if (currentPath) writeFileAtomic(baselinePath, readInputFile(currentPath, 'current results file', INPUT_LIMITS.json));
    else writeFileAtomic(baselinePath, `${JSON.stringify(current, null, 1)}\n`);
    lines.push(`baseline updated: ${baselinePath}`);
    return { verdict, warnings, lines, failed: [], unevaluated: [] };
  }
  const named = (outcome: string) => verdict.models.filter((m) => m.outcome === outcome).map((m) => m.model);
  return { verdict, warnings, lines, failed: named('regression'), unevaluated: named('missing') };
}
