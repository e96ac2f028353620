import type { Command } from 'commander';
import { countModel } from '../../api.js';
import { findModel, modelNames } from '../../models/index.js';
import { countTable, layerTable } from '../../report/count-table.js';
import { integer, modelList } from '../options.js';

interface CountOptions {
  model?: string[];
  resolution?: number;
  json?: boolean;
  byLayer?: boolean;
}

export function register(program: Command): void {
  program
    .command('count')
    .description("count params and MACs: the paper's toolbox convention, exact totals, and what the deployed ONNX holds")
    .option('-m, --model <names>', 'model name(s), comma-separated or repeated; "all" for the zoo (default: all)', modelList)
    .option('-r, --resolution <n>', 'input resolution (default 224)', integer('--resolution'))
    .option('--json', 'print an array of JSON records')
    .option('--by-layer', 'per-layer table with per-stage subtotals')
    .action((opts: CountOptions) => {
      const names = opts.model?.length ? opts.model : modelNames();
      names.forEach(findModel); // unknown names fail before any work
      const records = names.map((model) => countModel({ model, resolution: opts.resolution }));
      if (opts.json) {
        const shape = (r: (typeof records)[number]) => (opts.byLayer ? r : { ...r, layers: undefined });
        console.log(JSON.stringify(records.map(shape), null, 2));
        return;
      }
      if (opts.byLayer) for (const r of records) console.log(layerTable(r));
      console.log(countTable(records, (name) => findModel(name).paper));
    });
}
