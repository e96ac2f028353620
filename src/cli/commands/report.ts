import { existsSync } from 'node:fs';
import { extname } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import { UsageError } from '../../core/errors.js';
import { checkOutputs, readInputText, writeFileAtomic } from '../../core/fs.js';
import { lutPage, searchPage } from '../../latency/html.js';
import { LUT_SCHEMA, readLut } from '../../latency/lut.js';
import { readSearch, SEARCH_SCHEMA } from '../../latency/search.js';
import { findFormat, formats } from '../../report/formats/index.js';
import { mergeResults } from '../../results/merge.js';
import { readResults } from '../../results/results.js';
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

/** The schema a JSON file declares, if it can be read (otherwise the results reader says why). */
function schemaOf(path: string): unknown {
  try {
    return JSON.parse(readInputText(path, 'results file')).schema;
  } catch {
    return undefined;
  }
}

/** A latency table's or a search's HTML page, when that is what the one file given is. */
function latencyPageFor(files: string[], format: string): string | undefined {
  const schema = schemaOf(files[0]);
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
    .action((files: string[], opts: { format?: string; out?: string; wide?: boolean }) => {
      // `eformer report merge A.json B.json --out ALL.json`
      if (files[0] === 'merge' && !existsSync('merge')) return merge(files.slice(1), opts.out);
      if (opts.out) checkOutputs([{ path: opts.out, flag: '--out' }], inputsOf(files));
      const latencyPage = latencyPageFor(files, formatFor(opts.format, opts.out).id);
      if (latencyPage !== undefined) return opts.out ? writeFileAtomic(opts.out, latencyPage) : console.log(latencyPage);
      const results = files.map((path) => readResults(path));
      const text = formatFor(opts.format, opts.out).render(results, { wide: Boolean(opts.wide), sources: files });
      if (opts.out) writeFileAtomic(opts.out, text.endsWith('\n') ? text : `${text}\n`);
      else console.log(text);
    });
}
