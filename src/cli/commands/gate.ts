import { type Command, Option } from 'commander';
import { GateFailure, UsageError } from '../../core/errors.js';
import { checkGateOutputs, type GateSettings, runGate } from '../../gate/run.js';
import { readResults } from '../../results/results.js';
import { addGateFlags } from '../flags.js';
import { warn } from '../warnings.js';

interface GateOptions extends GateSettings {
  baseline: string;
  current: string;
  /** eformer 0.1's name for --budgets, still read here: `gate` takes no model, so it cannot mean a model config. */
  config?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('gate')
    .description('fail (exit 1) when current results are slower or bigger than the baseline beyond the budgets')
    .requiredOption('--baseline <file>', 'results JSON of the main branch')
    .requiredOption('--current <file>', 'results JSON of the change')
    .option('--reference <model>', 'compare latency as the per-round ratio to this model (it must be in both files, measured with --reference)');
  addGateFlags(cmd).addOption(new Option('--config <file>').hideHelp()).action(async (opts: GateOptions) => {
    if (opts.config && opts.budgets) throw new UsageError('give --budgets (or its old name --config), not both');
    opts.budgets ??= opts.config;
    checkGateOutputs(opts, [
      { path: opts.baseline, flag: '--baseline' },
      { path: opts.current, flag: '--current' },
    ]);
    await gateAndReport(opts.baseline, readResults(opts.current, '--current'), opts.current, opts);
  });
}

/** Run the gate, print its verdict, and fail (exit 1) on a regression. Shared with `profile --baseline`. */
export async function gateAndReport(...args: Parameters<typeof runGate>): Promise<void> {
  const run = await runGate(...args);
  for (const w of run.warnings) warn(w);
  for (const line of run.lines) console.log(line);
  const failures = [run.failed.length ? `regression in ${run.failed.join(', ')}` : '', run.unevaluated.length ? `a budget cannot be evaluated for ${run.unevaluated.join(', ')} (a figure is absent from the current results)` : ''];
  if (failures.some(Boolean)) throw new GateFailure(failures.filter(Boolean).join('; '));
}
