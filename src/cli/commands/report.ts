import type { Command } from 'commander';
import { Option } from 'commander';
import { writeFileAtomic } from '../../export/write.js';
import { findFormat, formats } from '../../report/formats/index.js';
import { readResults } from '../../report/results.js';

export function register(program: Command): void {
  program
    .command('report')
    .description('render results files (from `eformer profile --json`) without measuring again')
    .argument('<files...>', 'results JSON files')
    .addOption(new Option('-f, --format <format>', 'output format').choices(formats.map((f) => f.id)).default('table'))
    .option('-o, --out <file>', 'write to FILE instead of stdout')
    .action((files: string[], opts: { format: string; out?: string }) => {
      const results = files.map(readResults);
      const text = findFormat(opts.format).render(results);
      if (opts.out) writeFileAtomic(opts.out, text.endsWith('\n') ? text : `${text}\n`);
      else console.log(text);
    });
}
