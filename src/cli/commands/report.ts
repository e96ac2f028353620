import { existsSync } from 'node:fs';
import { extname } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import { UsageError } from '../../core/errors.js';
import { giveWay } from '../../core/interrupt.js';
import { checkOutputs, readInputText, writeFileAtomic } from '../../core/fs.js';
import { lutPage, searchPage } from '../../latency/html.js';
import { LUT_SCHEMA, readLut } from '../../latency/lut.js';
import { readSearch, SEARCH_SCHEMA } from '../../latency/search.js';
import { findFormat, formats } from '../../report/formats/index.js';
import { mergeResults } from '../../results/merge.js';
import { checkResults, parseResultsJson, readResults, type ResultsFile } from '../../results/results.js';
import { warn } from '../warnings.js';

function merge(files: string[], out: string | undefined): void {
  if (!out) throw new UsageError('report merge needs --out FILE');
  if (files.length < 2) throw new UsageError('report merge needs at least two results files');
  checkOutputs([{ path: out, flag: '--out' }], inputsOf(files));
  const merged = mergeResults(files.map((path) => ({ path, results: readResults(path) })));
  for (const w of merged.warnings) warn(w);
  writeFileAtomic(out, `${JSON.stringify(merged.file, null, 1)}\n`);
  console.log(`merged ${merged.file.results.length} results from ${files.length} files into ${out}`);
}

const inputsOf = (files: string[]) => files.map((path) => ({ path, flag: 'the results file' }));

/** -f, else the format whose extension --out has (R.HTML as r.html), else a table. */
function formatFor(format: string | undefined, out: string | undefined) {
  if (format) return findFormat(format);
  const ext = out ? extname(out).slice(1).toLowerCase() : '';
  return formats.find((f) => f.extension === ext) ?? findFormat('table');
}

/** A file's JSON, if it can be read (otherwise the reader of its kind says why). */
function jsonOf(path: string): unknown {
  try {
    return JSON.parse(readInputText(path, 'results file'));
  } catch {
    return undefined;
  }
}

/** The schema parsed JSON declares. */
const schemaOf = (data: unknown): unknown => (data !== null && typeof data === 'object' ? (data as { schema?: unknown }).schema : undefined);

/**
 * The results files, each read and parsed once, with a turn of the event loop after each: a 60 MB
 * file takes half a second to parse and as long to check, and Ctrl-C waits for neither.
 */
async function resultsOf(files: string[], first: unknown): Promise<ResultsFile[]> {
  const out: ResultsFile[] = [];
  for (const [i, path] of files.entries()) {
    const data = i === 0 && first !== undefined ? first : parseResultsJson(readInputText(path, 'results file'), path);
    await giveWay();
    out.push(checkResults(data, path));
    await giveWay();
  }
  return out;
}

/** A latency table's or a search's HTML page, when that is what the one file given (`first`, parsed) is. */
function latencyPageFor(files: string[], first: unknown, format: string): string | undefined {
  const schema = schemaOf(first);
  if (schema !== LUT_SCHEMA && schema !== SEARCH_SCHEMA) return undefined;
  if (files.length !== 1) throw new UsageError(`${files[0]} is a ${schema === LUT_SCHEMA ? 'latency table' : 'search result'}: report it alone`);
  if (format !== 'html') throw new UsageError(`${files[0]} is a ${schema === LUT_SCHEMA ? 'latency table' : 'search result'}; it renders as HTML (-f html or -o FILE.html)`);
  return schema === LUT_SCHEMA ? lutPage(readLut(files[0]), files[0]) : searchPage(readSearch(files[0]), files[0]);
}

export function register(program: Command): void {
  program
    .command('report')
    .description('render results files (from `eformer profile --json`) without measuring again, or a latency table or search result as an HTML page; `report merge A.json B.json --out ALL.json` merges shards')
    .argument('<files...>', 'results JSON files, or one latency table (lut.json) or search.json')
    .addOption(new Option('-f, --format <format>', `output format (default: from the --out extension, else table)`).choices(formats.map((f) => f.id)))
    .option('-o, --out <file>', 'write to FILE instead of stdout')
    .option('--wide', 'the table format with every column, not just what fits 100 columns')
    .action(async (files: string[], opts: { format?: string; out?: string; wide?: boolean }) => {
      // `eformer report merge A.json B.json --out ALL.json`
      if (files[0] === 'merge' && !existsSync('merge')) return merge(files.slice(1), opts.out);
      if (opts.out) checkOutputs([{ path: opts.out, flag: '--out' }], inputsOf(files));
      const first = jsonOf(files[0]);
      const latencyPage = latencyPageFor(files, first, formatFor(opts.format, opts.out).id);
      if (latencyPage !== undefined) return opts.out ? writeFileAtomic(opts.out, latencyPage) : console.log(latencyPage);
      const results = await resultsOf(files, first);
      const text = formatFor(opts.format, opts.out).render(results, { wide: Boolean(opts.wide), sources: files });
      if (opts.out) writeFileAtomic(opts.out, text.endsWith('\n') ? text : `${text}\n`);
      else console.log(text);
    });
}
