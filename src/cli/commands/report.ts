import type { Command } from 'commander';
import { Option } from 'commander';
import { writeFileAtomic } from '../../export/write.js';
import { findFormat, formats } from '../../report/formats/index.js';
import { existsSync } from 'node:fs';
import { UsageError } from '../../errors.js';
import { mergeResults } from '../../report/merge.js';
import { readResults } from '../../report/results.js';

function merge(files: string[], out: string | undefined): void {
  if (!out) throw new UsageError('report merge needs --out FILE');
  if (files.length < 2) throw new UsageError('report merge needs at least two results files');
  const merged = mergeResults(files.map((path) => ({ path, results: readResults(path) })));
  for (const w of merged.warnings) console.error(`eformer: warning: ${w}`);
  writeFileAtomic(out, `${JSON.stringify(merged.file, null, 1)}\n`);
  console.log(`merged ${merged.file.results.length} results from ${files.length} files into ${out}`);
}

export function register(program: Command): void {
  program
    .command('report')
    .description('render results files (from `eformer profile --json`) without measuring again; `report merge A.json B.json --out ALL.json` merges shards')
    .argument('<files...>', 'results JSON files')
    .addOption(new Option('-f, --format <format>', 'output format').choices(formats.map((f) => f.id)).default('table'))
    .option('-o, --out <file>', 'write to FILE instead of stdout')
    .action((files: string[], opts: { format: string; out?: string }) => {
      // `eformer report merge A.json B.json --out ALL.json`
      if (files[0] === 'merge' && !existsSync('merge')) return merge(files.slice(1), opts.out);
      const results = files.map(readResults);
      const text = findFormat(opts.format).render(results);
      if (opts.out) writeFileAtomic(opts.out, text.endsWith('\n') ? text : `${text}\n`);
      else console.log(text);
    });
}
