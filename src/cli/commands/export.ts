import type { Command } from 'commander';
import { Option } from 'commander';
import { CheckFailed, UsageError } from '../../core/errors.js';
import { exportModel } from '../../export/index.js';
import { zoo } from '../../models/index.js';
import { DEFAULT_OPSET } from '../../onnx/lower.js';
import { INT8_OPSET } from '../../int8/index.js';
import { countTable } from '../../report/count-tables.js';
import { wrapText } from '../../core/table.js';
import { statusLine } from '../progress.js';
import { addInt8Flags, addModelFlags, checkModelFlags, type Int8Flags, int8Options, integer, MAX_SEED, MAX_WAIT_SECONDS, type ModelFlags } from '../flags.js';
import { int8Lines } from '../../report/int8.js';
import { INT8_SQNR_MARGIN_DB, type TfliteCheck } from '../../tflite/litert.js';

/** One line for a .tflite check: the logits against onnxruntime's, and what XNNPACK took. */
function tfliteCheckLine(c: TfliteCheck): string {
  const d = c.delegation;
  const delegated = `${d.delegated}/${d.ops} ops delegated in ${d.partitions} partition${d.partitions === 1 ? '' : 's'}`;
  const verdict = `${c.pass ? 'ok' : 'FAILED'} (${c.seconds.toFixed(1)} s)`;
  if (c.precision === 'int8') {
    const sqnr = c.sqnrDb === undefined ? 'non-finite' : `SQNR ${c.sqnrDb.toFixed(1)} dB`;
    return `LiteRT (XNNPACK) int8 vs the float model on the calibration inputs: ${sqnr} (the ONNX int8 graph: ${c.onnxSqnrDb?.toFixed(1)} dB; at most ${INT8_SQNR_MARGIN_DB} dB less allowed); ${delegated}: ${verdict}`;
  }
  const figure = c.relativeError === null ? 'non-finite' : `${c.relativeError.toExponential(2)} of the largest logit (max |diff| ${c.absoluteError?.toExponential(2)})`;
  return `LiteRT (XNNPACK) vs onnxruntime: ${figure}, top-5 ${c.top5Agree ? 'agree' : 'DIFFER'}; ${delegated}; tolerance ${c.tolerance?.toExponential(0)}: ${verdict}`;
}

interface ExportOptions extends ModelFlags, Int8Flags {
  model?: string;
  onnx?: boolean;
  outDir: string;
  opset?: number;
  seed: number;
  int8?: boolean;
  fold: boolean;
  coreml?: boolean;
  tflite?: boolean;
  coremlFormat: 'mlprogram' | 'neuralnetwork';
  precision?: 'fp16' | 'fp32';
  minTarget?: string;
  inputType: 'image' | 'tensor';
  quantize?: 'int8' | 'palettize4' | 'palettize6';
  timeout: number;
  verify?: boolean;
}

const entryOf = (name: string) => zoo.find((m) => m.name === name);

export function register(program: Command): void {
  const cmd = program.command('export').description('build a model from its TypeScript spec and write DIR/NAME.onnx, DIR/NAME.tflite and/or a Core ML model (atomically)');
  addModelFlags(cmd, false)
    .option('--onnx', 'write ONNX')
    .option('-o, --out-dir <dir>', 'output folder (created if missing)', '.')
    .option('--opset <n>', `ONNX opset, 17 to 21 (default ${DEFAULT_OPSET}; ${INT8_OPSET} with --int8, for its native Gelu)`, integer('--opset'))
    .option('--seed <n>', 'seed of the random weights used without a checkpoint', integer('--seed', 0, MAX_SEED), 0)
    .option('--no-fold', 'export the graph exactly as PyTorch computes it (no BN / layer-scale / bias folding)')
    .option('--tflite', 'write DIR/NAME.tflite for LiteRT, channels-last (NHWC input), every op one that XNNPACK runs')
    .option('--coreml', 'also write a Core ML model through coremltools (see `eformer setup coreml`)')
    .addOption(new Option('--coreml-format <format>', 'ML Program (.mlpackage) or NeuralNetwork (.mlmodel)').choices(['mlprogram', 'neuralnetwork']).default('mlprogram'))
    .addOption(
      new Option('--precision <p>', 'Core ML: the compute precision (default fp16 for mlprogram, fp32 for neuralnetwork); TFLite: fp16 stores the weights as float16 dequantised at load (default fp32)').choices([
        'fp16',
        'fp32',
      ]),
    )
    .option('--min-target <target>', 'minimum deployment target, iOS16 or later (default iOS16; iOS17 with --int8)')
    .addOption(new Option('--input-type <type>', 'an ImageType input with ImageNet normalisation folded in, or a plain tensor').choices(['image', 'tensor']).default('image'))
    .addOption(new Option('--quantize <mode>', 'coremltools weight compression (ML Program only)').choices(['int8', 'palettize4', 'palettize6']))
    .option('--timeout <s>', 'seconds before the Core ML bridge is stopped', integer('--timeout', 1, MAX_WAIT_SECONDS), 600)
    .option('--verify', "check the numbers against onnxruntime: Core ML in eformer's MIL interpreter (on macOS also Core ML itself), TFLite in LiteRT's interpreter with XNNPACK (`eformer setup litert`); exit 1 beyond the tolerance")
    .option('--int8', 'static int8 quantisation: NAME.int8.onnx in QDQ form (per-channel int8 weights, uint8 activations calibrated), NAME.int8.tflite with --tflite (int8 activations, the same calibration), a Core ML W8A8 model with --coreml; prints its fidelity against the float model');
  addInt8Flags(cmd, { byLayer: true, seed: true })
    .action(async (opts: ExportOptions) => {
      checkModelFlags(opts, false);
      if (!opts.onnx && !opts.coreml && !opts.tflite) throw new UsageError('nothing to export: add --onnx, --tflite and/or --coreml');
      const int8 = int8Options(opts, Boolean(opts.int8), opts.seed, '--int8');
      const status = statusLine();
      const result = await exportModel({
        progress: status && ((step) => status.update(step)),
        onnx: opts.onnx,
        tflite: opts.tflite ? { precision: opts.precision, verify: opts.verify, timeout: opts.timeout } : undefined,
        coreml: opts.coreml
          ? { format: opts.coremlFormat, precision: opts.precision, minTarget: opts.minTarget, inputType: opts.inputType, quantize: opts.quantize, timeout: opts.timeout, verify: opts.verify }
          : undefined,
        int8,
        model: opts.model,
        hfConfig: opts.hfConfig,
        config: opts.config as string | undefined,
        ckpt: opts.ckpt,
        resolution: opts.resolution,
        outDir: opts.outDir,
        opset: opts.opset,
        seed: opts.seed,
        passes: opts.fold ? undefined : [],
      }).finally(() => status?.done());
      const opset = opts.opset ?? (int8 ? INT8_OPSET : DEFAULT_OPSET);
      if (result.onnx) console.log(wrapText(`wrote ${result.onnx.path} (${(result.onnx.bytes / 1e6).toFixed(1)} MB, opset ${opset})`));
      if (result.tflite) {
        const t = result.tflite;
        console.log(wrapText(`wrote ${t.path} (${(t.bytes / 1e6).toFixed(1)} MB, ${t.precision}, ${t.ops} ops, ${t.transposes} TRANSPOSE)`));
        if (result.tfliteCheck) console.log(`  ${tfliteCheckLine(result.tfliteCheck)}`);
      }
      if (result.int8 && !result.onnx && !result.coreml) console.log("  (the int8 figures below are the ONNX int8 graph's from the same calibration; --verify measures the .tflite itself in LiteRT)");
      if (result.int8) console.log(int8Lines(result.int8).join('\n'));
      const c = result.coreml;
      if (c) {
        const ops = Object.entries(c.report.ops).filter(([op]) => op !== 'const').map(([op, n]) => `${op} ${n}`).join(', ');
        console.log(`wrote ${c.path} (${(c.bytes / 1e6).toFixed(1)} MB, ${c.seconds.toFixed(1)} s): inputs ${c.report.inputs.map((i) => i.name).join(', ')}; outputs ${c.report.outputs.map((o) => o.name).join(', ')}`);
        console.log(`  ops: ${ops}${c.report.weights_checked ? `; ${c.report.weights_checked} fp32 weights equal their ONNX initializers` : ''}`);
        const n = result.numerics;
        if (n) {
          const figure = n.relativeError === null ? 'non-finite' : `${n.relativeError.toExponential(2)} of the largest logit (max |diff| ${n.absoluteError?.toExponential(2)})`;
          const verdict = `${n.pass ? 'ok' : 'FAILED'} (${n.seconds.toFixed(1)} s)`;
          const w = n.w8a8;
          if (w) {
            const sqnr = w.sqnrDb === null ? 'identical' : `SQNR ${w.sqnrDb.toFixed(1)} dB`;
            console.log(`  interpreted (W8A8) vs onnxruntime's float logits: ${sqnr} (eformer's int8 ONNX: ${w.onnxInt8SqnrDb.toFixed(1)} dB), ${figure}, top-1 ${w.top1Agree ? 'agrees' : 'differs'}; floor ${w.floorDb.toFixed(1)} dB: ${verdict}`);
          } else console.log(`  interpreted (${n.precision}) vs onnxruntime: ${figure}, top-5 ${n.top5Agree ? 'agree' : 'DIFFER'}; tolerance ${n.tolerance}: ${verdict}`);
        }
        const prediction = c.report.prediction;
        if (prediction) console.log(prediction.ran ? `  Core ML itself vs onnxruntime: max |diff| of ${prediction.compared} ${prediction.max_abs_error?.toExponential(2)}` : `  Core ML itself: not run (${prediction.reason})`);
        const w = c.report.w8a8;
        if (w) {
          console.log(`  W8A8 (coremltools, iOS17): ${w.quantize_ops} activation quantize ops, ${w.dequantize_ops} dequantize, ${w.quantized_weights} quantised weights; calibrated on ${w.inputs} inputs through ${w.calibrated_with}`);
          console.log(`  its calibration ranges against eformer's ONNX ones: ${w.ranges_compared} tensors, largest difference ${w.max_range_difference.toExponential(2)} of a range (tolerance ${w.tolerance})`);
        }
        const before = c.report.bytes_before_quantization;
        if (before) console.log(`  ${opts.quantize}: ${(before / 1e6).toFixed(1)} MB before, ${(c.bytes / 1e6).toFixed(1)} MB after`);
      }
      console.log(countTable([result.counts], entryOf));
      if (result.tfliteCheck && !result.tfliteCheck.pass) throw new CheckFailed(`--verify: the TFLite model is wrong: ${result.tfliteCheck.problem}`);
      if (result.numerics && !result.numerics.pass) throw new CheckFailed(`--verify: the Core ML model is wrong: ${result.numerics.problem}`);
    });
}
