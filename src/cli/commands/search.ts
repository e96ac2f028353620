import { join } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { checkOutputDir, ensureWritableDir, writeFileAtomic } from '../../core/fs.js';
import { renderTable, wrapText } from '../../core/table.js';
import { searchableFamily } from '../../latency/build.js';
import { calibrate } from '../../latency/calibrate.js';
import { checkLutFor, type Lut, readLut } from '../../latency/lut.js';
import { type Candidate, search, type SearchResult } from '../../latency/search.js';
import { type Verified, verification, verifyCandidates } from '../../latency/verify.js';
import { CONFIG_SCHEMA } from '../../models/index.js';
import { integer } from '../flags.js';
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
    .option('-k, --top <n>', 'configurations to print and write', integer('--top'), 5)
    .option('--beam <n>', 'shrinking paths followed at once', integer('--beam'), 4)
    .option('-o, --out <dir>', 'write each chosen configuration as a --config file, and search.json (eformer.search/1)')
    .option('--verify', "measure the chosen configurations on the table's backend and print predicted against measured (kept in search.json with -o, and in --json)")
    .option('--calibrate', "time the table's reference model now and read the budget at this moment's speed")
    .option('-b, --backend <id>', 'refuse a table measured on another backend')
    .option('--json', 'print search.json to stdout')
    .option('-q, --quiet', 'no progress line')
    .action(async (opts: SearchOptions) => {
      const lut = readLut(opts.lut);
      checkLutFor(lut, opts.lut, { family: opts.family, backend: opts.backend });
      if (opts.out) checkOutputDir(opts.out);
      const family = searchableFamily(lut.family);
      const referenceMs = opts.calibrate ? await calibrate(lut) : undefined;
      const result = search(lut, opts.lut, family, { budgetMs: opts.budgetMs, objective: opts.objective, top: opts.top, beam: opts.beam, referenceMs });
      const files = opts.out ? writeConfigs(result, opts.out) : [];
      if (!opts.json) console.log(searchTable(result, files));
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
    const name = `${result.family}_${Math.round(result.budget_ms * 100) / 100}ms_${i + 1}`;
    const path = join(dir, `${name}.json`);
    const config = { schema: CONFIG_SCHEMA, family: result.family, name, resolution: result.resolution, config: family.searchSpace!.configOf(c.point) };
    writeFileAtomic(path, `${JSON.stringify(config, null, 1)}\n`);
    return path;
  });
  writeSearchJson(result, dir);
  return files;
}

const writeSearchJson = (result: SearchResult, dir: string) => writeFileAtomic(join(dir, 'search.json'), `${JSON.stringify(result, null, 1)}\n`);

/** Widths, depths, attention blocks and the mean expansion ratio: enough to tell the configurations apart. */
const describe = (c: Candidate) => {
  const ratios = c.point.ratios.flat();
  return `w ${c.point.widths.join('/')} d ${c.point.depths.join('/')} a ${c.point.attention} e ${(ratios.reduce((a, b) => a + b, 0) / ratios.length).toFixed(2)}`;
};

function searchTable(r: SearchResult, files: string[]): string {
  const rows = r.chosen.map((c, i) => [i + 1, c.ms.toFixed(3), (c.macs / 1e9).toFixed(3), (c.params / 1e6).toFixed(2), describe(c), files[i] ?? '']);
  const head = ['#', 'predicted ms', 'MACs G', 'params M', 'widths / depths / attention / mean ratio', ...(files.length ? ['config'] : [])];
  const table = renderTable(head, files.length ? rows : rows.map((row) => row.slice(0, -1)));
  return `${table}\n${wrapText(
    `${r.family} at ${r.resolution}x${r.resolution} on ${r.backend}, budget ${r.budget_ms} ms: best ${r.chosen.length} of a Pareto front of ${r.front.length} (of ${r.evaluated} configurations predicted in ${r.seconds.toFixed(1)} s; the supernet is predicted at ${r.supernet.ms.toFixed(3)} ms, the fastest at ${r.fastest.ms.toFixed(3)} ms). ` +
      `Ranked by ${r.objective === 'macs' ? 'MACs' : 'params'}, a stand-in for capacity: accuracy is not measured, the configurations are untrained.`,
  )}`;
}
