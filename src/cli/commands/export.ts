import type { Command } from 'commander';
import { exportOnnx } from '../../api.js';
import { UsageError } from '../../errors.js';
import { DEFAULT_OPSET } from '../../export/onnx.js';
import { zoo } from '../../models/index.js';

const paperOf = (name: string) => zoo.find((m) => m.name === name)?.paper;
import { countTable } from '../../report/count-table.js';
import { integer } from '../options.js';

interface ExportOptions {
  model?: string;
  hfConfig?: string;
  ckpt?: string;
  resolution?: number;
  onnx?: boolean;
  outDir: string;
  opset: number;
  seed: number;
  fold: boolean;
}

export function register(program: Command): void {
  program
    .command('export')
    .description('build a model from its TypeScript spec and write DIR/NAME.onnx (atomically)')
    .option('-m, --model <name>', 'model name (see `eformer models`)')
    .option('--hf-config <file>', 'build the architecture from a Hugging Face EfficientFormer config.json instead')
    .option('--ckpt <file>', 'weights: .pth/.pt (zip) or .safetensors, original, timm or Hugging Face naming')
    .option('-r, --resolution <n>', 'input resolution (default 224)', integer('--resolution'))
    .option('--onnx', 'write ONNX')
    .option('-o, --out-dir <dir>', 'output folder (created if missing)', '.')
    .option('--opset <n>', `ONNX opset, 17 to 21`, integer('--opset'), DEFAULT_OPSET)
    .option('--seed <n>', 'seed of the random weights used without a checkpoint', integer('--seed', 0), 0)
    .option('--no-fold', 'export the graph exactly as PyTorch computes it (no BN / layer-scale / bias folding)')
    .action((opts: ExportOptions) => {
      if (!opts.onnx) throw new UsageError('nothing to export: add --onnx');
      const result = exportOnnx({
        model: opts.model,
        hfConfig: opts.hfConfig,
        ckpt: opts.ckpt,
        resolution: opts.resolution,
        outDir: opts.outDir,
        opset: opts.opset,
        seed: opts.seed,
        passes: opts.fold ? undefined : [],
      });
      console.log(`wrote ${result.path} (${(result.bytes / 1e6).toFixed(1)} MB, opset ${opts.opset})`);
      console.log(countTable([result.counts], paperOf));
    });
}
