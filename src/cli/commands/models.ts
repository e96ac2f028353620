import type { Command } from 'commander';
import { zoo } from '../../models/index.js';
import { modelsTable } from '../../report/count-tables.js';

export function register(program: Command): void {
  program
    .command('models')
    .description("list the model zoo with the papers' figures (ImageNet-1k top-1, params, MACs, iPhone 12 latency)")
    .option('--json', 'print JSON instead of a table')
    .option('--wide', 'every column and the long forms of the figures')
    .action((opts: { json?: boolean; wide?: boolean }) => {
      if (opts.json) {
        const rows = zoo.map((e) => ({ model: e.name, family: e.family.id, baseline: Boolean(e.baseline), paper: e.paper }));
        console.log(JSON.stringify(rows, null, 2));
      } else {
        console.log(modelsTable(zoo, opts.wide));
      }
    });
}
