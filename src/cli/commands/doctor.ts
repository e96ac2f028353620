import type { Command } from 'commander';
import { renderTable } from '../../core/table.js';
import { doctor } from '../../setup/index.js';

export function register(program: Command): void {
  program
    .command('doctor')
    .description('list every external piece eformer can use: found or missing, and how to install it')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const pieces = await doctor();
      if (opts.json) return console.log(JSON.stringify(pieces, null, 2));
      console.log(renderTable(['piece', 'status', 'to install'], pieces.map((p) => [p.name, p.found ? `found: ${p.found}` : 'MISSING', p.found ? '' : p.install])));
    });
}
