import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { findModel, papersZooNames, zoo } from '../../models/index.js';
import { countModel } from '../../pipeline/index.js';
import { countTable, layerTable } from '../../report/count-tables.js';
import { addModelFlags, checkModelFlags, type ModelFlags } from '../flags.js';

interface CountOptions extends ModelFlags {
  model?: string[];
  json?: boolean;
  byLayer?: boolean;
  wide?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('count')
    .description("count params and MACs: the paper's toolbox convention, exact totals, and what the deployed ONNX holds");
  addModelFlags(cmd, { defaults: "the EfficientFormer papers' nine models unless --config or --hf-config" })
    .option('--json', 'print an array of JSON records')
    .option('--by-layer', 'per-layer table with per-stage subtotals')
    .option('--wide', 'every column, not just what fits 100 columns')
    .action((opts: CountOptions) => {
      checkModelFlags(opts, true);
      const configs = ([] as string[]).concat(opts.config ?? []).map((config) => ({ config }));
      const requests = opts.hfConfig
        ? [{ hfConfig: opts.hfConfig }]
        : [...(opts.model?.length || configs.length ? opts.model ?? [] : papersZooNames()).map((model) => (findModel(model), { model })), ...configs]; // unknown names fail first
      if (opts.ckpt && requests.length !== 1) throw new UsageError('--ckpt needs exactly one --model (or --config or --hf-config)');
      const records = requests.map((r) => countModel({ ...r, ckpt: opts.ckpt, resolution: opts.resolution }));
      if (opts.json) {
        const shape = (r: (typeof records)[number]) => (opts.byLayer ? r : { ...r, layers: undefined });
        console.log(JSON.stringify(records.map(shape), null, 2));
        return;
      }
      if (opts.byLayer) for (const r of records) console.log(layerTable(r));
      console.log(countTable(records, (name) => zoo.find((m) => m.name === name), opts.wide));
    });
}
