import type { Command } from 'commander';
import { renderTable, wrapText } from '../../core/table.js';
import { calibrate } from '../../latency/calibrate.js';
import { checkLutFor, correctionFormula, readLut } from '../../latency/lut.js';
import { predictLatency } from '../../latency/predict.js';
import { resolveEntry } from '../../pipeline/index.js';
import { checkModelFlags, integer, type ModelFlags } from '../flags.js';

interface PredictLatencyOptions extends ModelFlags {
  lut: string;
  model?: string;
  backend?: string;
  calibrate?: boolean;
  json?: boolean;
  wide?: boolean;
}

export function register(program: Command): void {
  program
    .command('predict-latency')
    .description("a configuration's latency from a latency table (eformer lut build), block by block, without the device")
    .requiredOption('--lut <file>', 'the latency table (eformer.lut/1)')
    .option('-m, --model <name>', 'a zoo model of the table\'s family')
    .option('--config <file>', 'a model config file (eformer.config/1, as `eformer search` writes)')
    .option('-r, --resolution <n>', "input resolution (default: the config's or the family's); must be the table's", integer('--resolution'))
    .option('-b, --backend <id>', 'refuse a table measured on another backend')
    .option('--calibrate', "time the table's reference model now (a few seconds) and give ms at this moment's speed, not the table's")
    .option('--json', 'print JSON')
    .option('--wide', 'every column')
    .action(async (opts: PredictLatencyOptions) => {
      checkModelFlags(opts, false);
      const lut = readLut(opts.lut, '--lut');
      checkLutFor(lut, opts.lut, { backend: opts.backend });
      const entry = resolveEntry({ model: opts.model, config: opts.config as string | undefined });
      const referenceMs = opts.calibrate ? await calibrate(lut) : undefined;
      const p = predictLatency(lut, opts.lut, entry, { resolution: opts.resolution, referenceMs });
      if (opts.json) {
        console.log(JSON.stringify(p, null, 2));
        return;
      }
      const rows = p.blocks.map((b) => [b.block, b.kind, ...(opts.wide ? [b.shape, b.ratio.toFixed(4)] : []), b.ms.toFixed(3), `${((b.ratio / p.sum_ratio) * 100).toFixed(1)}%`]);
      console.log(renderTable(['block', 'kind', ...(opts.wide ? ['input -> output', 'x ref'] : []), 'ms', 'share'], rows, { colAligns: ['left', 'left', ...(opts.wide ? ['left', 'right'] : []), 'right', 'right'] as never }));
      const ref = `${p.reference.model} ${p.reference.median_ms.toFixed(3)} ms ${p.reference.calibrated ? 'now' : `when the table was built (${lut.env.created.slice(0, 10)})`}`;
      const how = p.correction ? `corrected for whole-model effects (${correctionFormula(p.correction)}, fitted to ${lut.correction!.training_size} training models)` : 'the plain sum (the table has no correction)';
      console.log(wrapText(`${p.model} on ${lut.backend}: predicted ${p.ms.toFixed(3)} ms (${p.ratio.toFixed(3)} x ${ref}); blocks sum to ${(p.sum_ratio * p.reference.median_ms).toFixed(3)} ms, ${how}`));
    });
}
