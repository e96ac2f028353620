import { type Command, InvalidArgumentError, Option } from 'commander';
import { backends, findBackend } from '../../backends/index.js';
import { checkOutputs, writeFileAtomic } from '../../core/fs.js';
import { renderTable, wrapText } from '../../core/table.js';
import { buildLut, LUT_DEFAULTS, mergeLutFiles } from '../../latency/build.js';
import { correctionFormula, type Lut } from '../../latency/lut.js';
import { addBackendFlags, backendOptionValues } from '../backend-flags.js';
import { MAX_RUNS } from '../../backends/timing.js';
import { integer, MAX_SEED } from '../flags.js';

/** Sessions a block is timed in, and whole configurations timed for the correction: more is hours of measuring for nothing. */
const MAX_SESSIONS = 64;
const MAX_TRAINING = 1000;
import { lutBuildProgress } from '../progress.js';
import { checkThreads } from '../warnings.js';

interface LutBuildOptions {
  family: string;
  backend: string;
  out: string;
  resolution?: number;
  space?: string;
  runs: number;
  sessions: number;
  training: number;
  seed: number;
  shard?: { index: number; count: number };
  threads?: number;
  ep?: string;
  graphOpt: 'disabled' | 'basic' | 'extended' | 'all';
  device?: string;
  timeout?: number;
  quiet?: boolean;
  [key: string]: unknown;
}

/** The status line's words for what the measuring is doing. */
const PHASES = { prepare: 'loading', warmup: 'warming up', measure: 'measuring', alone: 'timing alone', cold: 'loading cold', breakdown: 'profiling' } as const;

const shardOption = (value: string) => {
  const m = /^(\d+)\/(\d+)$/.exec(value.trim());
  if (!m || Number(m[1]) < 1 || Number(m[1]) > Number(m[2])) throw new InvalidArgumentError(`--shard must look like 1/4 (1 <= I <= N), got '${value}'`);
  return { index: Number(m[1]), count: Number(m[2]) };
};

export function register(program: Command): void {
  const lut = program.command('lut').description('latency lookup tables: every block of a search space timed on a backend');
  const build = lut
    .command('build')
    .description("time every block a family's search space can use, as ratios to a reference model timed in the same rounds, and fit the whole-model correction")
    .requiredOption('--family <id>', 'efficientformer or efficientformerv2')
    .requiredOption('-o, --out <file>', 'where to write the table (eformer.lut/1)')
    .addOption(new Option('-b, --backend <id>', 'where to measure').choices(backends.map((b) => b.id)).default('ort-cpu'))
    .option('-r, --resolution <n>', "input resolution (default: the space's, 224)", integer('--resolution'))
    .option('--space <file>', "the search space as JSON (default: the family's own; see README)")
    .option('--runs <n>', 'timed rounds per block', integer('--runs', 1, MAX_RUNS), LUT_DEFAULTS.runs)
    .option('--sessions <n>', 'sessions each block and training model is timed in, their ratios combined (geometric mean), against one onnxruntime-web page\'s own speed', integer('--sessions', 1, MAX_SESSIONS), 1)
    .option('--training <n>', 'random whole configurations timed to fit the correction (0: none)', integer('--training', 0, MAX_TRAINING), LUT_DEFAULTS.training)
    .option('--seed <n>', 'seed of the training configurations', integer('--seed', 0, MAX_SEED), LUT_DEFAULTS.seed)
    .option('--shard <i/n>', 'time only slice I of N of the blocks and training models (join them with `eformer lut merge`)', shardOption)
    .option('-t, --threads <n>', 'intra-op threads (default: all cores)', integer('--threads'))
    .option('--ep <provider>', 'execution provider (as for profile)')
    .addOption(new Option('--graph-opt <level>', 'onnxruntime graph optimisation level').choices(['disabled', 'basic', 'extended', 'all']).default('all'))
    .option('-q, --quiet', 'no progress line');
  addBackendFlags(build).action(async (opts: LutBuildOptions) => {
    checkOutputs([{ path: opts.out, flag: '--out' }], opts.space ? [{ path: opts.space, flag: '--space' }] : []);
    checkThreads(opts.threads, findBackend(opts.backend).kind);
    const status = lutBuildProgress(Boolean(opts.quiet));
    const table = await buildLut({
      family: opts.family,
      resolution: opts.resolution,
      spaceFile: opts.space,
      runs: opts.runs,
      sessions: opts.sessions,
      training: opts.training,
      seed: opts.seed,
      shard: opts.shard,
      backend: opts.backend,
      threads: opts.threads,
      executionProvider: opts.ep,
      graphOptimization: opts.graphOpt,
      device: opts.device,
      timeoutSeconds: opts.timeout,
      backendOptions: backendOptionValues(opts),
      progress: status && (({ phase, id }) => status.step(`${PHASES[phase]} ${id}`)),
      onProgress: status && ((p) => status.overall(p)),
    }).finally(() => status?.done());
    writeFileAtomic(opts.out, `${JSON.stringify(table, null, 1)}\n`);
    console.log(summary(table, opts.out));
  });

  lut
    .command('merge')
    .description('join tables built in shards (`lut build --shard`) into one and refit its correction')
    .argument('<files...>', 'shards of one table')
    .requiredOption('-o, --out <file>', 'where to write the merged table')
    .action((files: string[], opts: { out: string }) => {
      checkOutputs(
        [{ path: opts.out, flag: '--out' }],
        files.map((path) => ({ path, flag: 'the shard' })),
      );
      const table = mergeLutFiles(files);
      writeFileAtomic(opts.out, `${JSON.stringify(table, null, 1)}\n`);
      console.log(summary(table, opts.out));
    });
}

/** What a table holds, in a few lines: blocks by kind and the correction's fit. */
function summary(t: Lut, path: string): string {
  const kinds = new Map<string, { n: number; min: number; max: number }>();
  for (const e of t.entries) {
    const k = kinds.get(e.kind) ?? { n: 0, min: Infinity, max: 0 };
    kinds.set(e.kind, { n: k.n + 1, min: Math.min(k.min, e.median_ms), max: Math.max(k.max, e.median_ms) });
  }
  const table = renderTable(
    ['block kind', 'entries', 'fastest ms', 'slowest ms'],
    [...kinds].map(([kind, k]) => [kind, k.n, k.min.toFixed(3), k.max.toFixed(3)]),
  );
  const c = t.correction;
  const fit = c ? `correction from ${c.training_size} whole models: measured = ${correctionFormula(c)} (ratios; ${(c.training_rmspe * 100).toFixed(1)}% RMS error on them)` : 'no correction (no training models): predictions are the plain sum of blocks';
  return `${table}\n${wrapText(`wrote ${path}: ${t.entries.length} blocks of ${t.family} at ${t.resolution}x${t.resolution} on ${t.backend}, as ratios to ${t.reference.model} (${t.reference.median_ms.toFixed(3)} ms here); ${fit}`)}`;
}
