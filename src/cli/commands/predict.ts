import type { Command } from 'commander';
import { renderTable } from '../../core/table.js';
import { predict } from '../../predict/index.js';
import { addModelFlags, checkModelFlags, integer, type ModelFlags } from '../flags.js';

interface PredictOptions extends ModelFlags {
  model?: string;
  top: number;
  json?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('predict')
    .description("classify JPEG/PNG images: the family's preprocessing (Hugging Face's for EfficientFormer), the exported ONNX graph, top-k ImageNet labels")
    .argument('<images...>', 'JPEG or PNG files');
  addModelFlags(cmd, false)
    .option('-k, --top <n>', 'how many classes to show', integer('--top'), 5)
    .option('--json', 'print JSON')
    .action(async (images: string[], opts: PredictOptions) => {
      checkModelFlags(opts, false);
      const results = await predict({ model: opts.model, hfConfig: opts.hfConfig, config: opts.config as string | undefined, ckpt: opts.ckpt, resolution: opts.resolution, images, top: opts.top });
      if (opts.json) {
        console.log(JSON.stringify(results, null, 2));
        return;
      }
      for (const r of results) {
        console.log(renderTable([r.image, 'class', 'probability'], r.top.map((c) => [c.label, c.index, c.probability.toFixed(4)]), { colAligns: ['left', 'right', 'right'] }));
      }
    });
}
