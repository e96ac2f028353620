/** Gate options and the gate run, shared by `eformer gate` and `eformer profile --baseline`. */
import { appendFileSync, copyFileSync } from 'node:fs';
import type { Command } from 'commander';
import { GateFailure, UsageError } from '../errors.js';
import { writeFileAtomic } from '../export/write.js';
import { type Budget, parseAllowance, parseLatencyLimit, readGateConfig } from '../gate/budgets.js';
import { gate } from '../gate/compare.js';
import { verdictJunit, verdictMarkdown, verdictTable } from '../gate/reports.js';
import { readResults, type ResultsFile } from '../report/results.js';

export interface GateFlags {
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

export function addGateOptions(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'budgets file (default: ./eformer.config.json when present)')
    .option('--max-latency-increase <pct>', 'largest tolerated slowdown, also the minimum effect reported (default 5%)')
    .option('--max-params-increase <n|pct>', 'params allowance, absolute or a percentage (default 0)')
    .option('--max-macs-increase <n|pct>', 'MACs allowance, absolute or a percentage (default 0)')
    .option('--max-latency-ms <ms>', 'absolute ceiling on every model\'s current median')
    .option('--junit <file>', 'also write the verdict as JUnit XML')
    .option('--verdict <file>', 'also write the verdict as JSON (schema eformer.gate/1)')
    .option('--markdown <file>', 'also write the Markdown summary (it is appended to $GITHUB_STEP_SUMMARY when set)')
    .option('--update-baseline', 'after reporting, make the current results the new baseline and exit 0');
}

function flagBudgets(f: GateFlags): Partial<Budget> {
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

/** The reference a run should measure: the flag, else the config's. */
export function referenceFor(f: GateFlags): string | undefined {
  return f.reference ?? readGateConfig(f.config).reference;
}

export function runGate(baselinePath: string, current: ResultsFile, currentPath: string | undefined, f: GateFlags): void {
  const config = readGateConfig(f.config);
  const flags = flagBudgets(f);
  const baseline = readResults(baselinePath);
  const verdict = gate(baseline, current, { config, flags, reference: f.reference });
  console.log(verdictTable(verdict));
  const markdown = verdictMarkdown(verdict);
  if (process.env.GITHUB_STEP_SUMMARY) appendFileSync(process.env.GITHUB_STEP_SUMMARY, markdown);
  if (f.markdown) writeFileAtomic(f.markdown, markdown);
  if (f.junit) writeFileAtomic(f.junit, verdictJunit(verdict));
  if (f.verdict) writeFileAtomic(f.verdict, `${JSON.stringify(verdict, null, 1)}\n`);
  if (f.updateBaseline) {
    if (currentPath) copyFileSync(currentPath, baselinePath);
    else writeFileAtomic(baselinePath, `${JSON.stringify(current, null, 1)}\n`);
    console.log(`baseline updated: ${baselinePath}`);
    return;
  }
  if (!verdict.pass) {
    const failed = verdict.models.filter((m) => m.outcome === 'regression').map((m) => m.model);
    throw new GateFailure(`regression in ${failed.join(', ')}`);
  }
}
