/**
 * The command line: commander wiring only. Each command is one file in commands/ that
 * parses options, calls the library and prints.
 */
import { Command, CommanderError } from 'commander';
import { EformerError } from '../errors.js';
import { VERSION } from '../version.js';
import * as count from './commands/count.js';
import * as devicesCommand from './commands/devices.js';
import * as doctorCommand from './commands/doctor.js';
import * as setupCommand from './commands/setup.js';
import * as exportCommand from './commands/export.js';
import * as gateCommand from './commands/gate.js';
import * as models from './commands/models.js';
import * as predictCommand from './commands/predict.js';
import * as profileCommand from './commands/profile.js';
import * as report from './commands/report.js';

const COMMANDS = [models, count, exportCommand, profileCommand, report, predictCommand, gateCommand, setupCommand, doctorCommand, devicesCommand];

export function buildProgram(): Command {
  const program = new Command('eformer')
    .description('Build, count, export and profile EfficientFormer-family vision transformers for phones.')
    .version(VERSION)
    .option('--verbose', 'print stack traces on errors')
    .exitOverride();
  for (const command of COMMANDS) command.register(program);
  // Commander's own usage errors become one `eformer: ...` line, like ours.
  const output = { writeErr: (s: string) => process.stderr.write(s.replace(/^error: /, 'eformer: ')) };
  for (const cmd of [program, ...program.commands]) cmd.exitOverride().configureOutput(output);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  const verbose = argv.includes('--verbose');
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are "errors" to commander; they already printed.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return 2;
    }
    if (err instanceof EformerError) {
      console.error(`eformer: ${err.message}`);
      if (verbose) console.error(err.stack);
      return err.exitCode;
    }
    console.error(`eformer: internal error: ${(err as Error).message ?? err}`);
    if (verbose) console.error((err as Error).stack);
    else console.error('(run with --verbose for the stack trace)');
    return 1;
  }
}
