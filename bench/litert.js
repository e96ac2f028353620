// eformer's own .tflite against onnx2tf's conversion of the ONNX eformer writes for the same model
// (same seeded random weights), both run by LiteRT on XNNPACK; and LiteRT against onnxruntime for
// eformer's model, side by side.
//   npm run bench:litert [-- --models efficientformer_l1,mobilenetv2_100 --rounds 200 --threads 2 --converter-python PATH]
//   npm run bench:litert [-- --from-torch]   # also onnx2tf of torch.onnx.export's graph, for V1/V2
//
// --from-torch: for the EfficientFormers (V1 and V2), onnx2tf also converts the graph torch.onnx.export
// makes of the reference PyTorch model with the same weights (scripts/torch_reference.py, as
// bench:ort does; EFORMER_TORCH_PYTHON, a Python with torch, timm and safetensors, and
// EFORMER_REFERENCE_REPO, a snap-research/EfficientFormer checkout). That graph is what a user
// converts without eformer; eformer's ONNX has its deployment passes done already. Opset 16: at 17
// torch writes LayerNormalization as one op, which onnx2tf keeps as a custom op LiteRT cannot run.
//
// The converter lives in a throwaway venv outside the repo (Python >= 3.12; onnx2tf 2.x needs it;
// about 2.7 GB, TensorFlow's CPU wheel included), made once with:
//   python3.12 -m venv /work/venvs/onnx2tf && /work/venvs/onnx2tf/bin/pip install 'onnx2tf[tensorflow]==2.6.9'
// (--converter-python, else $ONNX2TF_PYTHON, else /work/venvs/onnx2tf/bin/python). eformer's own
// LiteRT runtime is .eformer/venv's (scripts/setup-test-env.sh, or `eformer setup litert`).
//
// Per model:
// - export time: eformer's .tflite written from the built graph in this process (deployment passes,
//   lowering, serialisation, file write); onnx2tf's wall time as a child process with its default
//   options, from the ONNX eformer wrote (so it excludes building the graph, and includes Python's
//   start-up and onnx2tf's imports). Each measured once.
// - latency: both .tflite files in the one LiteRT worker process (XNNPACK, --threads), and eformer's
//   ONNX in onnxruntime-node (ort-cpu, same threads, spinning off so its idle threads do not take
//   the cores from LiteRT's runs), the three interleaved run by run for --rounds rounds, the start
//   rotating (bench/common.js sideBySide). Ratios are medians of the per-round ratios.
// - logits: on the deterministic test picture export --verify uses, max |a - b| over the logits
//   divided by max |logit| of onnxruntime's output, for ours against theirs and each against
//   onnxruntime. onnx2tf's model takes NHWC like eformer's; the input follows its declared layout.
import { execa } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildWithRandomWeights, channelsLast, findBackend, median, medianCi, modelSource, onnxBytes, referencePrediction, runLitert, sameRoundRatios, stateDictBytes, tfliteBytes } from '../dist/index.js';
import { sideBySide } from './common.js';

const SMALLEST = ['efficientformer_l1', 'efficientformerv2_s0', 'mobilenetv2_100', 'mobilevig_ti', 'nextvit_small', 'efficientmod_xxs', 'fcaformer_l1', 'vcmamba_s'];
const VENV_HINT = "python3.12 -m venv /work/venvs/onnx2tf && /work/venvs/onnx2tf/bin/pip install 'onnx2tf[tensorflow]==2.6.9'";

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: SMALLEST.join(',') },
    rounds: { type: 'string', default: '200' },
    threads: { type: 'string', default: '2' },
    'converter-python': { type: 'string', default: process.env.ONNX2TF_PYTHON ?? '/work/venvs/onnx2tf/bin/python' },
    'from-torch': { type: 'boolean', default: false },
  },
});
const torchPython = process.env.EFORMER_TORCH_PYTHON ?? '/opt/refvenv/bin/python';
const referenceRepo = process.env.EFORMER_REFERENCE_REPO ?? '/tmp/efref';
const TORCH_SCRIPT = new URL('../scripts/torch_reference.py', import.meta.url).pathname;
const [rounds, threads] = [values.rounds, values.threads].map(Number);
const converter = values['converter-python'];
const root = new URL('..', import.meta.url).pathname;
const litertPython = { path: process.env.EFORMER_PYTHON ?? join(root, '.eformer/venv/bin/python'), source: 'eformer (.eformer/venv)' };

/** onnx2tf's version in the converter's Python, or exit 3 saying how to make that venv. */
async function converterVersion() {
  const probe = [
    'from importlib.metadata import version',
    'import onnx2tf',
    "def v(name):\n  try: return version(name)\n  except Exception: return 'none'",
    "print(v('onnx2tf'), v('tensorflow'), v('ai-edge-litert'))",
  ].join('\n');
  const r = existsSync(converter) ? await execa(converter, ['-c', probe], { reject: false }) : undefined;
  if (r?.exitCode === 0) return r.stdout.trim().split('\n').at(-1).split(' ');
  console.error(`bench:litert: no onnx2tf at ${converter} (--converter-python or ONNX2TF_PYTHON); make the venv with: ${VENV_HINT}`);
  process.exit(3);
}

const f = (x, d) => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(d));
const e = (x) => (x === undefined || Number.isNaN(x) ? '-' : x.toExponential(1));

const ANSI = /\x1b\[[0-9;]*m/g;
/** onnx2tf's own last words: the line naming the error, not its progress bars. */
function reason(r) {
  const lines = `${r.stderr}\n${r.stdout}`.replace(ANSI, '').split(/[\r\n]+/).map((l) => l.trim()).filter(Boolean);
  const err = lines.filter((l) => /error|exception|not supported|unsupported/i.test(l) && !/%\|/.test(l)).at(-1);
  return (err ?? lines.at(-1) ?? `exit ${r.exitCode}`).slice(0, 160);
}

/** onnx2tf on `onnxFile`, default options; its wall time and its float32 .tflite, or why not. */
async function convert(model, onnxFile, dir) {
  const out = join(dir, `onnx2tf-${model}`);
  const t0 = performance.now();
  const r = await execa(converter, ['-m', 'onnx2tf', '-i', onnxFile, '-o', out], { reject: false, env: { TF_CPP_MIN_LOG_LEVEL: '2' } });
  const seconds = (performance.now() - t0) / 1000;
  const file = join(out, `${model}_float32.tflite`);
  if (r.exitCode !== 0 || !existsSync(file)) return { seconds, failed: reason(r) };
  return { seconds, file };
}

/** The median of per-round ratios and its 95% interval. */
function withCi(ratios) {
  const sorted = [...ratios].sort((a, b) => a - b);
  return { median: median(sorted), ci: medianCi(sorted) };
}

/** max |a - b| / max |ref|. */
function relDiff(a, b, ref) {
  let diff = 0;
  let largest = 0;
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    largest = Math.max(largest, Math.abs(ref[i]));
  }
  return a.length === ref.length && b.length === ref.length ? diff / largest : NaN;
}

/** The reference picture in the layout `file` declares (NHWC from both writers; NCHW if it says so). */
async function logitsOf(file, model, reference) {
  const nhwc = channelsLast(reference.tensor, reference.shape);
  try {
    return { logits: (await runLitert(file, nhwc, litertPython, { model, threads })).output, layout: 'NHWC' };
  } catch (err) {
    if (!/the model takes float32 \[1, 3,/.test(err.message)) throw err;
    return { logits: (await runLitert(file, { data: reference.tensor, shape: reference.shape }, litertPython, { model, threads })).output, layout: 'NCHW' };
  }
}

const litert = findBackend('litert');
const ort = findBackend('ort-cpu');
const [onnx2tfVersion, tfVersion, converterLitert] = await converterVersion();
await litert.ensureAvailable();
const dir = mkdtempSync(join(tmpdir(), 'eformer-bench-litert-'));
const rows = [];
const notes = [];
const layouts = new Set();
const options = { threads, graphOptimization: 'all', executionProvider: 'cpu', spinning: false };
try {
  console.log(`eformer's .tflite vs onnx2tf ${onnx2tfVersion}'s (default options) from the ONNX eformer wrote,`);
  console.log(`same random weights (seed 0); LiteRT XNNPACK and onnxruntime-node, ${threads} threads,`);
  console.log(`${rounds} interleaved rounds (30 warm-up runs each)`);
  for (const model of values.models.split(',')) {
    const built = buildWithRandomWeights({ model });
    const onnx = onnxBytes(built).bytes;
    const onnxFile = join(dir, `${model}.onnx`);
    writeFileSync(onnxFile, onnx);

    const t0 = performance.now();
    const ours = tfliteBytes(built).bytes;
    const oursFile = join(dir, `${model}.tflite`);
    writeFileSync(oursFile, ours);
    const oursExport = (performance.now() - t0) / 1000;
    const theirs = await convert(model, onnxFile, dir);
    const row = { model, oursExport, theirsExport: theirs.seconds };
    if (theirs.failed) notes.push(`${model}: onnx2tf failed: ${theirs.failed}`);

    const reference = await referencePrediction(built, onnx);
    const { logits: oursLogits } = await logitsOf(oursFile, model, reference);
    row.oursOrt = relDiff(oursLogits, reference.logits, reference.logits);
    let theirsBytes;
    if (theirs.file) {
      try {
        const { logits: theirsLogits, layout } = await logitsOf(theirs.file, model, reference);
        layouts.add(layout);
        row.oursTheirs = relDiff(oursLogits, theirsLogits, reference.logits);
        row.theirsOrt = relDiff(theirsLogits, reference.logits, reference.logits);
        theirsBytes = readFileSync(theirs.file);
      } catch (err) {
        notes.push(`${model}: onnx2tf's .tflite does not run in LiteRT: ${err.message.split('\n')[0]}`);
      }
    }

    // onnx2tf of the graph torch.onnx.export makes of the reference model, same weights.
    let viaTorchBytes;
    if (values['from-torch'] && /^efficientformer(v2)?_/.test(model)) {
      const torchDir = join(dir, 'torch');
      mkdirSync(torchDir, { recursive: true });
      const weights = join(torchDir, `${model}.safetensors`);
      writeFileSync(weights, stateDictBytes(built));
      const torchOnnx = join(torchDir, `${model}.onnx`);
      const t = await execa(torchPython, [TORCH_SCRIPT, '--reference-repo', referenceRepo, '--model', model, '--weights', weights, '--onnx-out', torchOnnx, '--opset', '16'], { reject: false });
      if (t.exitCode !== 0) notes.push(`${model}: torch.onnx.export failed: ${reason(t)}`);
      else {
        const viaTorch = await convert(model, torchOnnx, torchDir);
        row.viaTorchExport = viaTorch.seconds;
        if (viaTorch.failed) notes.push(`${model}: onnx2tf of torch's ONNX failed: ${viaTorch.failed}`);
        else {
          try {
            const { logits } = await logitsOf(viaTorch.file, model, reference);
            row.oursViaTorch = relDiff(oursLogits, logits, reference.logits);
            viaTorchBytes = readFileSync(viaTorch.file);
          } catch (err) {
            // runLitert calls a file that does not run a bug in eformer, as eformer's own must run; this one is onnx2tf's.
            notes.push(`${model}: onnx2tf's .tflite of torch's ONNX does not run in LiteRT: ${err.message.split('\n')[0].replace(/ \(this is a bug in eformer.*$/, '')}`);
          }
        }
      }
    }

    // One LiteRT worker holds both models; onnxruntime runs eformer's ONNX in this process.
    const sessions = [];
    try {
      const source = modelSource(built, onnx);
      sessions.push(await litert.open({ ...source, tflite: () => ours }, options));
      sessions.push(await ort.open(source, options));
      if (theirsBytes) sessions.push(await litert.open({ ...source, name: `${model}-onnx2tf`, tflite: () => theirsBytes }, options));
      if (viaTorchBytes) sessions.push(await litert.open({ ...source, name: `${model}-torch-onnx2tf`, tflite: () => viaTorchBytes }, options));
      const [oursMs, ortMs, theirsMs, viaTorchMs] = await sideBySide(sessions, { runs: rounds });
      if (viaTorchMs) {
        row.viaTorchMs = median(viaTorchMs);
        row.viaTorchCi = withCi(sameRoundRatios(oursMs, viaTorchMs));
      }
      row.oursMs = median(oursMs);
      row.ortMs = median(ortMs);
      row.litertOrtCi = withCi(sameRoundRatios(oursMs, ortMs));
      row.litertOrt = row.litertOrtCi.median;
      if (theirsMs) {
        row.theirsMs = median(theirsMs);
        row.ratioCi = withCi(sameRoundRatios(oursMs, theirsMs));
        row.ratio = row.ratioCi.median;
      }
    } finally {
      for (const s of sessions.reverse()) await s.close();
    }
    rows.push(row);
    const ci = (x) => (x ? `${f(x.median, 3)} (95% CI ${f(x.ci[0], 3)}-${f(x.ci[1], 3)})` : '-');
    console.error(`  ${model}: ours/onnx2tf ${ci(row.ratioCi)}, LiteRT/ORT ${ci(row.litertOrtCi)}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// One table, at most 100 columns.
const W = [20, 6, 8, 8, 8, 7, 9, 9, 9, 8, 8];
const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(W[i]) : String(c).padStart(W[i]))).join('');
const wrap = (text, width = 100) => text.split(' ').reduce((out, word) => {
  if (out.length && (out.at(-1) + ' ' + word).length <= width) out[out.length - 1] += ` ${word}`;
  else out.push(word);
  return out;
}, []).join('\n');
console.log();
console.log(`${''.padEnd(20)}${'export s'.padStart(14)}${'LiteRT ms'.padStart(16)}${'ours/'.padStart(7)}${'max |diff| / max |logit|'.padStart(27)}${'ORT ms'.padStart(8)}${'LiteRT/'.padStart(8)}`);
console.log(line(['model', 'ours', 'onnx2tf', 'ours', 'onnx2tf', 'o2t', 'ours-o2t', 'ours-ORT', 'o2t-ORT', 'ours', 'ORT']));
for (const r of rows) {
  console.log(line([r.model, f(r.oursExport, 2), f(r.theirsExport, 2), f(r.oursMs, 2), f(r.theirsMs, 2), f(r.ratio, 3), e(r.oursTheirs), e(r.oursOrt), e(r.theirsOrt), f(r.ortMs, 2), f(r.litertOrt, 3)]));
}
const fromTorch = rows.filter((r) => r.viaTorchCi);
if (fromTorch.length) {
  console.log();
  console.log("eformer's .tflite against onnx2tf of torch.onnx.export's graph of the reference model (same weights):");
  console.log(`${'model'.padEnd(22)}${'export s o2t'.padStart(14)}${'LiteRT ms'.padStart(11)}${'ours/o2t(torch) (95% CI)'.padStart(28)}${'ours-o2t'.padStart(10)}`);
  for (const r of fromTorch) {
    console.log(`${r.model.padEnd(22)}${f(r.viaTorchExport, 2).padStart(14)}${f(r.viaTorchMs, 2).padStart(11)}${`${f(r.viaTorchCi.median, 3)} (${f(r.viaTorchCi.ci[0], 3)}-${f(r.viaTorchCi.ci[1], 3)})`.padStart(28)}${e(r.oursViaTorch).padStart(10)}`);
  }
}
for (const n of notes) console.log(wrap(n));
console.log(
  wrap(
    'ours: eformer\'s .tflite; o2t: onnx2tf\'s; ORT: eformer\'s ONNX on onnxruntime. ms: medians of the interleaved runs; ratios: medians of per-round ratios. ' +
      "onnx2tf's export time is its process wall time from eformer's ONNX (graph building excluded, Python start-up included; " +
      `its defaults write float32 and float16 files; its models took ${[...layouts].join(' and ') || 'no'} input); eformer's is the fp32 .tflite from the built graph, in process.`,
  ),
);
const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
console.log(
  wrap(
    `machine: ${cpu}, ${cpus().length} cores; node ${process.version}; onnxruntime-node ${ort.environment().onnxruntime}; ai-edge-litert ${litert.environment().ai_edge_litert} (timing, logits); ` +
      `onnx2tf ${onnx2tfVersion} (tensorflow ${tfVersion}, ai-edge-litert ${converterLitert} in its venv)`,
  ),
);
