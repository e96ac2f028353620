/**
 * Flags that several commands share, each defined once with one help text, and the option
 * parsers that turn bad values into usage errors (exit 2) with one clear line.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { UsageError } from '../core/errors.js';
import { CALIBRATION_METHODS, type CalibrationMethod, DEFAULT_RANDOM_INPUTS, type Int8Options } from '../int8/index.js';
import { expandModelName } from '../models/index.js';

export function integer(what: string, min = 1, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${what} must be an integer of at least ${min}, got '${value}'`);
    if (n > max) throw new InvalidArgumentError(`${what} must be an integer of at most ${max}, got '${value}'`);
    return n;
  };
}

/** A week: the longest wait eformer takes. Node's timers hold at most 2^31 - 1 ms (24.8 days); a longer one fired at once, so --timeout 3000000 timed every step out. */
export const MAX_WAIT_SECONDS = 7 * 24 * 3600;

/** Seeds are 32-bit (mulberry32). */
export const MAX_SEED = 2 ** 32 - 1;

export const positiveSeconds = (flag: string, max = MAX_WAIT_SECONDS) => (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a positive number of seconds, got '${value}'`);
  if (n > max) throw new InvalidArgumentError(`${flag} must be at most ${max} seconds, got '${value}'`);
  return n;
};

/** `--model a,b` or repeated `--model`; a family name means its models, `all` every model. */
export function modelList(value: string, previous: string[] = []): string[] {
  const names = value.split(',').map((s) => s.trim()).filter(Boolean);
  return [...new Set([...previous, ...names.flatMap(expandModelName)])];
}

/** What picks the model: a zoo name (or several), a model config file, or a Hugging Face config, with optional weights and size. */
export interface ModelFlags {
  hfConfig?: string;
  /** One file, or several where the command takes several models. */
  config?: string | string[];
  ckpt?: string;
  resolution?: number;
}

/**
 * The model flags, checked together: one source of the architecture (a zoo name or a Hugging Face
 * config, not both), and for commands that take one model, exactly one name.
 */
export function checkModelFlags(opts: ModelFlags & { model?: string | string[] }, several: boolean): void {
  const names = opts.model === undefined ? undefined : ([] as string[]).concat(opts.model);
  if (opts.hfConfig && (names || opts.config)) throw new UsageError(`give --hf-config or ${names ? '--model' : '--config'}, not both`);
  // Commands that take several models measure zoo models and config files side by side.
  if (!several && names && opts.config) throw new UsageError('give --model or --config, not both');
  if (names && names.length === 0) throw new UsageError('--model needs at least one model name (see `eformer models`)');
  if (!several && typeof opts.model === 'string' && opts.model.includes(',')) {
    throw new UsageError(`this command takes one model, got '${opts.model}'; run it once per model (count and profile take several)`);
  }
}

export const CKPT_HELP = 'weights: .pth/.pt (zip) or .safetensors, in any naming the family accepts (original, timm, Hugging Face), loaded strictly';

/**
 * `--model` (one name, or several where the command takes several: `defaults` says what none
 * means), `--hf-config`, `--ckpt` and `--resolution`, with the same help everywhere.
 */
export function addModelFlags(cmd: Command, several: { defaults: string } | false): Command {
  const flag = several
    ? new Option('-m, --model <names>', `model or family name(s), comma-separated or repeated, "all" for every model (default: ${several.defaults})`).argParser(modelList)
    : new Option('-m, --model <name>', 'model name (see `eformer models`)');
  return cmd
    .addOption(flag)
    .addOption(
      several
        ? new Option('--config <file>', 'a model config file (eformer.config/1, as `eformer search` writes), repeatable').argParser((v: string, prev: string[] = []) => [...prev, v])
        : new Option('--config <file>', 'a model config file (eformer.config/1, as `eformer search` writes) instead of a zoo model'),
    )
    .option('--hf-config <file>', 'build the architecture a Hugging Face config.json defines (its model_type names the family) instead of a zoo model')
    .option('--ckpt <file>', CKPT_HELP)
    .option('-r, --resolution <n>', "input resolution (default: the family's, 224 for the zoo)", integer('--resolution'));
}

/** The regression gate's flags: `eformer gate` and `eformer profile --baseline`. */
export function addGateFlags(cmd: Command): Command {
  return cmd
    .option('--budgets <file>', 'budgets file (default: ./eformer.config.json when present)')
    .option('--max-latency-increase <pct>', 'largest tolerated slowdown, also the minimum effect reported (default 5%)')
    .option('--max-params-increase <n|pct>', 'params allowance, absolute or a percentage (default 0)')
    .option('--max-macs-increase <n|pct>', 'MACs allowance, absolute or a percentage (default 0)')
    .option('--max-latency-ms <ms>', "absolute ceiling on every model's current median")
    .option('--max-memory-increase <pct>', 'largest tolerated growth of peak memory (memory_mb.peak) over the baseline\'s (default: not gated)')
    .option('--max-load-increase <pct>', 'largest tolerated growth of load time (load_ms) over the baseline\'s (default: not gated)')
    .option('--max-memory-mb <mb>', "absolute ceiling on every model's current peak memory, MB")
    .option('--max-load-ms <ms>', "absolute ceiling on every model's current load time")
    .option('--junit <file>', 'also write the verdict as JUnit XML')
    .option('--verdict <file>', 'also write the verdict as JSON (schema eformer.gate/1)')
    .option('--markdown <file>', 'also write the Markdown summary (it is appended to $GITHUB_STEP_SUMMARY when set)')
    .option('--update-baseline', 'after reporting, make the current results the new baseline and exit 0')
    .option('--allow-setup-change', 'compare results measured on another backend, provider, resolution, batch or threads (the verdict lists the differences)')
    .option('--raw-medians', 'compare raw medians when the results hold no reference timed in the same rounds (unsafe: medians of separate processes drift ~10-20% on a shared machine; refused without this flag)');
}

/** The calibration flags `export --int8` and `profile --precision ...,int8` share. */
export interface Int8Flags {
  calib?: string;
  calibRandom?: number;
  calibMethod?: CalibrationMethod;
  keepFloat?: string[];
  byLayer?: boolean;
}

/**
 * `byLayer`: the command prints the per-layer table; `seed`: the command has `--seed` (export);
 * without it the random inputs are seeded with 0, and the help says so rather than name a flag
 * the command does not have.
 */
export function addInt8Flags(cmd: Command, options: { byLayer: boolean; seed: boolean }): Command {
  cmd
    .option('--calib <dir>', 'int8: calibrate on the JPEG/PNG images in DIR, through the model family\'s own preprocessing')
    .option('--calib-random <n>', `int8: calibrate on N seeded random inputs (${options.seed ? '--seed' : 'seed 0'}; the default, N = ${DEFAULT_RANDOM_INPUTS})`, integer('--calib-random'))
    .addOption(new Option('--calib-method <method>', 'int8: activation ranges from the extremes, the 0.01%/99.99% points, or least KL divergence (default minmax)').choices([...CALIBRATION_METHODS]))
    .option('--keep-float <pattern>', 'int8: keep the layers of these modules float (module paths, * matches any text, e.g. network.6.*; repeatable)', (v: string, prev: string[] = []) => [...prev, v]);
  if (options.byLayer) cmd.option('--by-layer', "int8: also print each quantised layer's output SQNR against the float graph");
  return cmd;
}

/** The int8 options the flags ask for, or undefined when `int8` is off (then no calibration flag may be given). */
export function int8Options(opts: Int8Flags, int8: boolean, seed: number | undefined, what: string): Omit<Int8Options, 'trainedWeights' | 'progress'> | undefined {
  const given = (['calib', 'calibRandom', 'calibMethod', 'keepFloat', 'byLayer'] as const).filter((k) => opts[k] !== undefined);
  if (!int8) {
    if (given.length) throw new UsageError(`--${given[0].replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is for int8 models: add ${what}`);
    return undefined;
  }
  if (opts.calib !== undefined && opts.calibRandom !== undefined) throw new UsageError('give --calib DIR or --calib-random N, not both');
  return {
    calibration: opts.calib !== undefined ? { dir: opts.calib } : { random: opts.calibRandom ?? DEFAULT_RANDOM_INPUTS, seed },
    method: opts.calibMethod,
    keepFloat: opts.keepFloat,
    byLayer: opts.byLayer,
  };
}
