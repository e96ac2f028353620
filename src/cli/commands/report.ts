import { existsSync } from 'node:fs';
import { extname } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import { UsageError } from '../../core/errors.js';
import { checkOutputFile, writeFileAtomic } from '../../core/fs.js';
import { findFormat, formats } from '../../report/formats/index.js';
import { mergeResults } from '../../results/merge.js';
import { readResults } from '../../results/results.js';

function merge(files: string[], out: string | undefined): void {
  if (!out) throw new UsageError('report merge needs --out FILE');
  if (files.length < 2) throw new UsageError('report merge needs at least two results files');
  checkOutputFile(out, '--out');
  const merged = mergeResults(files.map((path) => ({ path, results: readResults(path) })));
  for (const w of merged.warnings) console.error(`eformer: warning: ${w}`);
  writeFileAtomic(out, `${JSON.stringify(merged.file, null, 1)}\n`);
  console.log(`merged ${merged.file.results.length} results from ${files.length} files into ${out}`);
}

/** -f, else the format whose extension --out has, else a table. */
function formatFor(format: string | undefined, out: string | undefined) {
  if (format) return findFormat(format);
  const ext = out ? extname(out).slice(1) : '';
  return formats.find((f) => f.extension === ext) ?? findFormat('table');
}

export function register(program: Command): void {
  program
    .command('report')
    .description('render results files (from `eformer profile --json`) without measuring again; `report merge A.json B.json --out ALL.json` merges shards')
    .argument('<files...>', 'results JSON files')
    .addOption(new Option('-f, --format <format>', `output format (default: from the --out extension, else table)`).choices(formats.map((f) => f.id)))
    .option('-o, --out <file>', 'write to FILE instead of stdout')
    .option('--wide', 'the table format with every column, not just what fits 100 columns')
    .action((files: string[], opts: { format?: string; out?: string; wide?: boolean }) => {
      // `eformer report merge A.json B.json --out ALL.json`
      if (files[0] === 'merge' && !existsSync('merge')) return merge(files.slice(1), opts.out);
      const results = files.map(readResults);
      if (opts.out) checkOutputFile(opts.out, '--out');
      const text = formatFor(opts.format, opts.out).render(results, { wide: Boolean(opts.wide), sources: files });
      if (opts.out) writeFileAtomic(opts.out, text.endsWith('\n') ? text : `${text}\n`);
      else console.log(text);
    });
}
