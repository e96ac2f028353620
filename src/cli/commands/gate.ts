import type { Command } from 'commander';
import { GateFailure } from '../../core/errors.js';
import { checkGateOutputs, type GateSettings, runGate } from '../../gate/run.js';
import { readResults } from '../../results/results.js';
import { addGateFlags } from '../flags.js';

interface GateOptions extends GateSettings {
  baseline: string;
  current: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('gate')
    .description('fail (exit 1) when current results are slower or bigger than the baseline beyond the budgets')
    .requiredOption('--baseline <file>', 'results JSON of the main branch')
    .requiredOption('--current <file>', 'results JSON of the change')
    .option('--reference <model>', 'compare latency as the per-round ratio to this model (it must be in both files, measured with --reference)');
  addGateFlags(cmd).action((opts: GateOptions) => {
    checkGateOutputs(opts);
    gateAndReport(opts.baseline, readResults(opts.current), opts.current, opts);
  });
}

/** Run the gate, print its verdict, and fail (exit 1) on a regression. Shared with `profile --baseline`. */
export function gateAndReport(...args: Parameters<typeof runGate>): void {
  const run = runGate(...args);
  for (const w of run.warnings) console.error(`eformer: warning: ${w}`);
  for (const line of run.lines) console.log(line);
  if (run.failed.length) throw new GateFailure(`regression in ${run.failed.join(', ')}`);
}
