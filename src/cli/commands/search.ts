import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { checkOutputs, ensureWritableDir, type OutputPath, writeFileAtomic } from '../../core/fs.js';
import { renderTable, wrapText } from '../../core/table.js';
import { searchableFamily } from '../../latency/build.js';
import { calibrate } from '../../latency/calibrate.js';
import { checkLutFor, type Lut, readLut } from '../../latency/lut.js';
import { search, type SearchResult } from '../../latency/search.js';
import { type Verified, verification, verifyCandidates } from '../../latency/verify.js';
import { CONFIG_SCHEMA } from '../../models/index.js';
import { integer } from '../flags.js';

/** Configurations written, and paths followed at once: each path holds a configuration and its neighbours. */
const MAX_TOP = 1000;
const MAX_BEAM = 256;
import { statusLine } from '../progress.js';

interface SearchOptions {
  lut: string;
  budgetMs: number;
  family?: string;
  objective: 'macs' | 'params';
  top: number;
  beam: number;
  out?: string;
  verify?: boolean;
  calibrate?: boolean;
  backend?: string;
  json?: boolean;
  quiet?: boolean;
}

const milliseconds = (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`--budget-ms must be a positive number of milliseconds, got '${value}'`);
  return n;
};

export function register(program: Command): void {
  program
    .command('search')
    .description("latency-driven slimming: shrink the family's supernet to a latency budget, keeping the most MACs (or params); accuracy is not measured")
    .requiredOption('--lut <file>', 'the latency table (eformer.lut/1) of the device and family to search for')
    .requiredOption('--budget-ms <ms>', 'predicted latency the configurations must fit', milliseconds)
    .option('--family <id>', "refuse a table of another family (default: the table's)")
    .addOption(new Option('--objective <what>', 'what to keep as much of, the stand-in for capacity').choices(['macs', 'params']).default('macs'))
    .option('-k, --top <n>', 'configurations to print and write', integer('--top', 1, MAX_TOP), 5)
    .option('--beam <n>', 'shrinking paths followed at once', integer('--beam', 1, MAX_BEAM), 4)
    .option('-o, --out <dir>', 'write each chosen configuration as a model config file (eformer.config/1, what `eformer profile --config` takes), and search.json (eformer.search/1)')
    .option('--verify', "measure the chosen configurations on the table's backend and print predicted against measured (kept in search.json with -o, and in --json)")
    .option('--calibrate', "time the table's reference model now and read the budget at this moment's speed")
    .option('-b, --backend <id>', 'refuse a table measured on another backend')
    .option('--json', 'print search.json to stdout')
    .option('-q, --quiet', 'no progress line')
    .action(async (opts: SearchOptions) => {
      const lut = readLut(opts.lut, '--lut');
      checkLutFor(lut, opts.lut, { family: opts.family, backend: opts.backend });
      if (opts.out) checkOutputs([{ path: opts.out, flag: '--out', kind: 'folder' }, ...filesIn(opts.out, lut.family, opts.budgetMs, opts.top)], [{ path: opts.lut, flag: '--lut' }]);
      const family = searchableFamily(lut.family);
      const referenceMs = opts.calibrate ? await calibrate(lut) : undefined;
      const result = search(lut, opts.lut, family, { budgetMs: opts.budgetMs, objective: opts.objective, top: opts.top, beam: opts.beam, referenceMs });
      const files = opts.out ? writeConfigs(result, opts.out) : [];
      if (!opts.json) console.log(searchTable(result, files, opts.out));
      if (opts.verify) {
        const status = statusLine(Boolean(opts.quiet));
        const rows = await verifyCandidates(lut, family, result.chosen, { progress: status && ((e) => status.update(`measuring ${e.id}`)) }).finally(() => status?.done());
        // Kept with the search (search.json was written before measuring, so a failed measurement loses nothing).
        result.verified = verification(lut, rows);
        if (opts.out) writeSearchJson(result, opts.out);
        if (!opts.json) console.log(verifiedTable(lut, rows));
      }
      if (opts.json) console.log(JSON.stringify(result, null, 1));
    });
}

const configPrefix = (family: string, budgetMs: number) => `${family}_${Math.round(budgetMs * 100) / 100}ms_`;
const configName = (family: string, budgetMs: number, i: number) => `${configPrefix(family, budgetMs)}${i + 1}`;
const configFile = (dir: string, family: string, budgetMs: number, i: number) => join(dir, `${configName(family, budgetMs, i)}.json`);

/**
 * The files already in `dir` that the search may replace (search.json and up to `top` configs):
 * checked before the search like every output, so none is a folder or the table it reads. Files
 * not there yet cannot be either.
 */
function filesIn(dir: string, family: string, budgetMs: number, top: number): OutputPath[] {
  const names = existsSync(dir) && statSync(dir).isDirectory() ? readdirSync(dir) : [];
  const prefix = configPrefix(family, budgetMs);
  const isConfig = (n: string) => n.startsWith(prefix) && n.endsWith('.json') && Number(n.slice(prefix.length, -'.json'.length)) <= top;
  const replaced = names.filter((n) => n === 'search.json' || isConfig(n));
  return replaced.map((n) => ({ path: join(dir, n), flag: '--out' }));
}

/** Predicted against measured, both at this moment's speed. */
function verifiedTable(lut: Lut, rows: Verified[]): string {
  const table = renderTable(
    ['#', 'predicted ms', 'measured ms', 'error'],
    rows.map((r, i) => [i + 1, r.predictedMs.toFixed(3), r.measuredMs.toFixed(3), `${((r.predictedMs / r.measuredMs - 1) * 100).toFixed(1)}%`]),
  );
  const c = lut.correction;
  return `${table}\n${wrapText(`measured on ${lut.backend} interleaved with ${lut.reference.model}; both columns at this moment's speed (the reference's median now, ${rows[0]?.referenceMs.toFixed(3)} ms)${c ? `; the table's own error on its training models: ${(c.training_rmspe * 100).toFixed(1)}% RMS` : ''}`)}`;
}

/** Each chosen configuration as a `--config` file, and the whole result as search.json. */
function writeConfigs(result: SearchResult, dir: string): string[] {
  ensureWritableDir(dir);
  const family = searchableFamily(result.family);
  const files = result.chosen.map((c, i) => {
    const name = configName(result.family, result.budget_ms, i);
    const path = configFile(dir, result.family, result.budget_ms, i);
    const config = { schema: CONFIG_SCHEMA, family: result.family, name, resolution: result.resolution, config: family.searchSpace!.configOf(c.point) };
    writeFileAtomic(path, `${JSON.stringify(config, null, 1)}\n`);
    return path;
  });
  writeSearchJson(result, dir);
  return files;
}

const writeSearchJson = (result: SearchResult, dir: string) => writeFileAtomic(join(dir, 'search.json'), `${JSON.stringify(result, null, 1)}\n`);

/** The chosen configurations, one column a dimension of the space; written configs by file name, their folder in the note. */
function searchTable(r: SearchResult, files: string[], dir?: string): string {
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const rows = r.chosen.map((c, i) => [
    i + 1,
    c.ms.toFixed(3),
    (c.macs / 1e9).toFixed(3),
    (c.params / 1e6).toFixed(2),
    c.point.widths.join('/'),
    c.point.depths.join('/'),
    c.point.attention,
    mean(c.point.ratios.flat()).toFixed(2),
    ...(files.length ? [basename(files[i])] : []),
  ]);
  const head = ['#', 'pred. ms', 'MACs G', 'params M', 'widths', 'depths', 'attn', 'ratio', ...(files.length ? ['config'] : [])];
  const table = renderTable(head, rows, { wrap: files.length ? [head.length - 1] : [] });
  return `${table}\n${wrapText(
    `${r.family} at ${r.resolution}x${r.resolution} on ${r.backend}, budget ${r.budget_ms} ms: best ${r.chosen.length} of a Pareto front of ${r.front.length} (of ${r.evaluated} configurations predicted in ${r.seconds.toFixed(1)} s; the supernet is predicted at ${r.supernet.ms.toFixed(3)} ms, the fastest at ${r.fastest.ms.toFixed(3)} ms). ` +
      `Ranked by ${r.objective === 'macs' ? 'MACs' : 'params'}, a stand-in for capacity: accuracy is not measured, the configurations are untrained. ` +
      `attn: attention blocks; ratio: the mean expansion ratio.${dir ? ` Configs and search.json written to ${dir}.` : ''}`,
  )}`;
}
