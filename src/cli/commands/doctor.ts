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
      // Paths and install commands are long: they wrap within their column, so the table fits 100 columns.
      console.log(renderTable(['piece', 'status', 'found, or how to install it'], pieces.map((p) => [p.name, p.found ? 'found' : 'MISSING', p.found ?? p.install]), { colWidths: [30, 7, 59] }));
    });
}
