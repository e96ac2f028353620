import type { Command } from 'commander';
import Table from 'cli-table3';
import { plain } from '../../report/format.js';
import { predict } from '../../predict/classify.js';
import { integer } from '../options.js';

interface PredictOptions {
  model?: string;
  hfConfig?: string;
  ckpt?: string;
  top: number;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('predict')
    .description('classify JPEG/PNG images: Hugging Face EfficientFormer preprocessing, the exported ONNX graph, top-k ImageNet labels')
    .argument('<images...>', 'JPEG or PNG files')
    .option('-m, --model <name>', 'model name (see `eformer models`)')
    .option('--hf-config <file>', 'the architecture from a Hugging Face EfficientFormer config.json')
    .option('--ckpt <file>', 'trained weights (.pth/.pt zip or .safetensors; original, timm or HF naming)')
    .option('-k, --top <n>', 'how many classes to show', integer('--top'), 5)
    .option('--json', 'print JSON')
    .action(async (images: string[], opts: PredictOptions) => {
      const results = await predict({ model: opts.model, hfConfig: opts.hfConfig, ckpt: opts.ckpt, images, top: opts.top });
      if (opts.json) {
        console.log(JSON.stringify(results, null, 2));
        return;
      }
      for (const r of results) {
        const table = new Table({ ...plain, head: [r.image, 'class', 'probability'], colAligns: ['left', 'right', 'right'] });
        for (const c of r.top) table.push([c.label, c.index, c.probability.toFixed(4)]);
        console.log(table.toString());
      }
    });
}
