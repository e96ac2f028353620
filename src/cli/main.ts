/**
 * The command line: commander wiring only. Each command is one file in commands/ that
 * parses options, calls the library and prints.
 */
import { Command, CommanderError } from 'commander';
import { EformerError, EXIT } from '../core/errors.js';
import { removeTracked } from '../core/fs.js';
import { exitInterrupted } from '../core/interrupt.js';
import { VERSION } from '../core/version.js';

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
  // Commander's own usage errors become one `eformer: ...` line, like ours.
  const output = { writeErr: (s: string) => process.stderr.write(s.replace(/^error: /, 'eformer: ')) };
  for (const cmd of [program, ...program.commands]) cmd.exitOverride().configureOutput(output);
  return program;
}

/** Ctrl-C and SIGTERM: remove temp files and work folders, then exit 130 / 143. */
function onInterrupt(): void {
  for (const [signal, code] of [['SIGINT', EXIT.interrupted], ['SIGTERM', EXIT.terminated]] as const) {
    process.on(signal, () => {
      removeTracked();
      process.stderr.write(`\neformer: interrupted (${signal}); temporary files removed\n`);
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
    if (err instanceof CommanderError) {
      // Help and version are "errors" to commander; they already printed.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
      return EXIT.usage;
    }
    if (err instanceof EformerError) {
      console.error(`eformer: ${err.message}`);
      if (verbose) console.error(err.stack);
      return err.exitCode;
    }
    console.error(`eformer: internal error: ${firstLineOf(err)} (this is a bug in eformer: please report it with the output of the same command run with --verbose)`);
    if (verbose) console.error((err as Error).stack);
    return EXIT.internal;
  }
}

const firstLineOf = (err: unknown) => String((err as Error)?.message ?? err).split('\n')[0];
