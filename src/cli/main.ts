/**
 * The command line: commander wiring only. Each command is one file in commands/ that
 * parses options, calls the library and prints.
 */
import { Command, CommanderError } from 'commander';
import { EformerError, EXIT } from '../core/errors.js';
import { removeTracked } from '../core/fs.js';
import { firstLine, terminalSafe } from '../core/text.js';
import { exitInterrupted } from '../core/interrupt.js';
import { VERSION } from '../core/version.js';
import { clearStatusLine } from './progress.js';

type CommandModule = { register(program: Command): void };

/**
 * Every command, in the order `--help` lists them. A command's module (and what it imports) is
 * loaded only when that command runs, or when the full list is needed for help: `eformer
 * --version` loads none of them.
 */
const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  models: () => import('./commands/models.js'),
  count: () => import('./commands/count.js'),
  export: () => import('./commands/export.js'),
  profile: () => import('./commands/profile.js'),
  report: () => import('./commands/report.js'),
  predict: () => import('./commands/predict.js'),
  gate: () => import('./commands/gate.js'),
  lut: () => import('./commands/lut.js'),
  'predict-latency': () => import('./commands/predict-latency.js'),
  search: () => import('./commands/search.js'),
  setup: () => import('./commands/setup.js'),
  doctor: () => import('./commands/doctor.js'),
  devices: () => import('./commands/devices.js'),
};

/** The commands an invocation needs: the one it names, none for --version, all otherwise (help, a typo). */
function commandsFor(argv: string[]): string[] {
  const args = argv.slice(2);
  const named = args.find((a) => !a.startsWith('-'));
  if (named && named in COMMANDS) return [named];
  if (!named && args.length > 0 && args.every((a) => a === '--version' || a === '-V' || a === '--verbose')) return [];
  return Object.keys(COMMANDS);
}

export async function buildProgram(argv: string[] = []): Promise<Command> {
  const program = new Command('eformer')
    .description('Build, count, export and profile EfficientFormer-family vision transformers for phones.')
    .version(VERSION)
    .option('--verbose', 'print stack traces on errors')
    .exitOverride();
  for (const name of commandsFor(argv)) (await COMMANDS[name]()).register(program);
  // Commander's own usage errors become one `eformer: ...` line, like ours (its suggestion joins the line).
  const output = { writeErr: (s: string) => process.stderr.write(s.replace(/^error: /, 'eformer: ').replace(/\n\(Did you mean (.*)\?\)\n?$/, ' (did you mean $1?)\n')) };
  // Every level: `lut build` and `report merge` are commands of commands.
  const all = (cmd: Command): Command[] => [cmd, ...cmd.commands.flatMap(all)];
  for (const cmd of all(program)) cmd.exitOverride().configureOutput(output);
  return program;
}

/**
 * Ctrl-C and SIGTERM: remove temp files, work folders and the empty output folders this run made,
 * then exit 130 / 143. The message is stderr's next line (a status line, if one shows, is cleared).
 */
function onInterrupt(): void {
  for (const [signal, code] of [['SIGINT', EXIT.interrupted], ['SIGTERM', EXIT.terminated]] as const) {
    process.on(signal, () => {
      removeTracked();
      clearStatusLine();
      process.stderr.write(`eformer: interrupted (${signal}); temporary files removed\n`);
      exitInterrupted(signal, code);
    });
  }
}

export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  // Runtimes read this to decide whether their own warnings reach stderr.
  if (verbose) process.env.EFORMER_VERBOSE = '1';
  onInterrupt();
  try {
    const program = await buildProgram(argv);
    await program.parseAsync(argv);
    return EXIT.ok;
  } catch (err) {
    // A failed run leaves nothing behind either: no temp file, no output folder it made and left empty.
    removeTracked();
    if (err instanceof CommanderError) {
      // Help and version are "errors" to commander; they already printed.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
      return EXIT.usage;
    }
    // Messages quote files and tools (model names, a device's serial): shown, never obeyed by the terminal.
    if (err instanceof EformerError) {
      console.error(`eformer: ${terminalSafe(err.message)}`);
      if (verbose) console.error(terminalSafe(err.stack ?? '', true));
      return err.exitCode;
    }
    console.error(`eformer: internal error: ${terminalSafe(firstLine(err))} (this is a bug in eformer: please report it with the output of the same command run with --verbose)`);
    if (verbose) console.error(terminalSafe(String((err as Error)?.stack ?? err), true));
    return EXIT.internal;
  }
}
