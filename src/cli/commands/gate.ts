import type { Command } from 'commander';
import { readResults } from '../../report/results.js';
import { addGateOptions, type GateFlags, runGate } from '../gate-run.js';

interface GateOptions extends GateFlags {
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
  addGateOptions(cmd).action((opts: GateOptions) => {
    runGate(opts.baseline, readResults(opts.current), opts.current, opts);
  });
}
