// Latency of eformer's ONNX export against torch.onnx.export of the reference PyTorch
// model with the same weights, both run by onnxruntime-node on the CPU, interleaved.
//
//   npm run bench:ort [-- --rounds N] [--models a,b | --successors]
//
// --successors: the smallest variant of every family after EfficientFormer (the goal:
// ours/torch <= 1.00, and <= 0.90 where an exact rewrite exists). The reference export is made by
// scripts/torch_reference.py (EfficientFormer V1/V2) or scripts/families/<family>.py torch-onnx.
// Needs a Python with torch, timm, einops and safetensors (EFORMER_TORCH_PYTHON, default
// /opt/refvenv/bin/python) and the reference checkouts (EFORMER_REFERENCE_REPO for
// snap-research/EfficientFormer, default /tmp/efref; EFORMER_REFS, a folder holding MobileViG,
// Next-ViT, EfficientMod, FcaFormer and VCMamba checkouts, default /tmp/refs). eformer itself never
// needs any of them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { buildWithRandomWeights, findModel, mulberry32, onnxBytes, papersZooNames, stateDictBytes, zoo } from '../dist/index.js';

const { onnx } = onnxProto;
const MODELS = ['efficientformer_l1', 'efficientformerv2_s0'];
/** Each successor family's reference checkout, under EFORMER_REFS. */
const FAMILY_REPOS = { mobilevig: 'MobileViG', nextvit: 'Next-ViT', efficientmod: 'EfficientMod', fcaformer: 'FcaFormer', vcmamba: 'VCMamba' };
const INPUT_SHAPE = [1, 3, 224, 224];
const WARMUP = 30;
const BOOTSTRAP = 2000;
const TORCH_SCRIPT = fileURLToPath(new URL('../scripts/torch_reference.py', import.meta.url));
const SESSION_OPTIONS = {
  executionProviders: ['cpu'],
  intraOpNumThreads: 2,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  executionMode: 'sequential',
  logSeverityLevel: 3,
  // With spinning on, the idle session's workers spin and steal the cores of the other.
  extra: { session: { intra_op: { allow_spinning: '0' } } },
};

/** The Python and reference checkout to use, or exit 3 saying what is missing. */
function torchEnvironment() {
  const python = process.env.EFORMER_TORCH_PYTHON ?? '/opt/refvenv/bin/python';
  const repo = process.env.EFORMER_REFERENCE_REPO ?? '/tmp/efref';
  if (!fs.existsSync(python)) {
    console.error(`bench:ort needs a Python with torch, timm and safetensors: set EFORMER_TORCH_PYTHON (${python} does not exist)`);
    process.exit(3);
  }
  if (!fs.existsSync(path.join(repo, 'models', 'efficientformer_v2.py'))) {
    console.error(`bench:ort needs a snap-research/EfficientFormer checkout: set EFORMER_REFERENCE_REPO (${repo} has no models/efficientformer_v2.py)`);
    process.exit(3);
  }
  return { python, repo, refs: process.env.EFORMER_REFS ?? '/tmp/refs' };
}

/** A deterministic image-like input, roughly what ImageNet normalisation yields. */
function deterministicInput() {
  const rand = mulberry32(1234);
  return Float32Array.from({ length: INPUT_SHAPE.reduce((a, b) => a * b) }, () => (rand() * 2 - 1) * 2);
}

/** Writes our ONNX, the weights and the input into dir; has Python export torch's ONNX and logits. */
async function exportBoth(env, model, dir, input) {
  const built = buildWithRandomWeights({ model });
  const files = {
    ours: path.join(dir, `${model}.ours.onnx`),
    torch: path.join(dir, `${model}.torch.onnx`),
    weights: path.join(dir, `${model}.safetensors`),
    input: path.join(dir, 'input.bin'),
    eagerLogits: path.join(dir, `${model}.eager-logits.bin`),
  };
  fs.writeFileSync(files.ours, onnxBytes(built).bytes);
  fs.writeFileSync(files.weights, stateDictBytes(built));
  fs.writeFileSync(files.input, new Uint8Array(input.buffer)); // little-endian hosts only
  const family = findModel(model).family.id;
  const io = ['--model', model, '--weights', files.weights, '--onnx-out', files.torch, '--input', files.input, '--logits-out', files.eagerLogits];
  const args = FAMILY_REPOS[family]
    ? [fileURLToPath(new URL(`../scripts/families/${family}.py`, import.meta.url)), '--reference-repo', path.join(env.refs, FAMILY_REPOS[family]), 'torch-onnx', ...io]
    : [TORCH_SCRIPT, '--reference-repo', env.repo, ...io];
  await execa(env.python, args);
  return files;
}

function openSession(modelPath, optimizedPath) {
  return ort.InferenceSession.create(modelPath, { ...SESSION_OPTIONS, optimizedModelFilePath: optimizedPath });
}

function maxAbsDiff(a, b) {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

function readFloat32(file) {
  const buf = fs.readFileSync(file);
  return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4); // little-endian hosts only
}

async function logits(session, feeds) {
  return (await session.run(feeds)).logits.data;
}

/** Warms both sessions up, then times them interleaved, alternating which goes first. */
async function timeInterleaved(sessions, feeds, rounds) {
  for (const s of sessions) for (let i = 0; i < WARMUP; i++) await s.run(feeds);
  const times = sessions.map(() => []);
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? [0, 1] : [1, 0];
    for (const k of order) {
      const t0 = performance.now();
      await sessions[k].run(feeds);
      times[k].push(performance.now() - t0);
    }
  }
  return times;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** 95% percentile-bootstrap CI of median(torch)/median(ours), resampling rounds as pairs. */
function ratioCI(ours, torch) {
  const rand = mulberry32(42);
  const n = ours.length;
  const ratios = [];
  for (let b = 0; b < BOOTSTRAP; b++) {
    const idx = Array.from({ length: n }, () => Math.floor(rand() * n));
    ratios.push(median(idx.map((i) => torch[i])) / median(idx.map((i) => ours[i])));
  }
  ratios.sort((a, b) => a - b);
  return [ratios[Math.floor(0.025 * BOOTSTRAP)], ratios[Math.ceil(0.975 * BOOTSTRAP) - 1]];
}

/** Node count per op type (domain-qualified when not the default domain). */
function opHistogram(file) {
  const model = onnx.ModelProto.decode(fs.readFileSync(file));
  const counts = new Map();
  for (const node of model.graph.node) {
    const op = node.domain && node.domain !== 'ai.onnx' ? `${node.domain}:${node.opType}` : node.opType;
    counts.set(op, (counts.get(op) ?? 0) + 1);
  }
  return counts;
}

function printHistograms(title, ours, torch) {
  const sum = (m) => [...m.values()].reduce((a, b) => a + b, 0);
  const ops = [...new Set([...ours.keys(), ...torch.keys()])].sort();
  const width = Math.max(...ops.map((o) => o.length), 'total'.length);
  console.log(`  ${title}`);
  console.log(`    ${'op'.padEnd(width)}   ours  torch   diff`);
  for (const op of [...ops, 'total']) {
    const a = op === 'total' ? sum(ours) : ours.get(op) ?? 0;
    const b = op === 'total' ? sum(torch) : torch.get(op) ?? 0;
    const diff = a === b ? '' : String(a - b).padStart(6);
    console.log(`    ${op.padEnd(width)} ${String(a).padStart(6)} ${String(b).padStart(6)} ${diff}`);
  }
}

/** Max |difference| of the logits: our ONNX against torch's ONNX and against PyTorch eager. */
async function agreement(ours, torch, feeds, eagerLogitsFile) {
  const [yOurs, yTorch] = [await logits(ours, feeds), await logits(torch, feeds)];
  return {
    onnx: maxAbsDiff(yOurs, yTorch),
    eager: maxAbsDiff(yOurs, readFloat32(eagerLogitsFile)),
    scale: Math.max(...yTorch.map(Math.abs)),
  };
}

function printResult(model, rounds, err, tOurs, tTorch) {
  const [mOurs, mTorch] = [median(tOurs), median(tTorch)];
  const ratio = mTorch / mOurs;
  const [lo, hi] = ratioCI(tOurs, tTorch);
  const paired = median(tOurs.map((t, k) => t / tTorch[k]));
  console.log(`\n${model} @224, batch 1 — ${rounds} interleaved rounds after ${WARMUP} warm-up runs each`);
  console.log(`  max |ours - torch| logits: ${err.onnx.toExponential(2)} (ONNX vs ONNX), `
    + `${err.eager.toExponential(2)} (vs PyTorch eager); max |logit| ${err.scale.toFixed(3)}`);
  console.log(`  median ours  ${mOurs.toFixed(2)} ms`);
  console.log(`  median torch ${mTorch.toFixed(2)} ms`);
  console.log(`  ratio torch/ours ${ratio.toFixed(3)} (95% bootstrap CI ${lo.toFixed(3)}–${hi.toFixed(3)}); `
    + `ours is ${((ratio - 1) * 100).toFixed(1)}% faster (${((1 - 1 / ratio) * 100).toFixed(1)}% less latency)`);
  console.log(`  ours/torch ${(1 / ratio).toFixed(3)} (95% CI ${(1 / hi).toFixed(3)}–${(1 / lo).toFixed(3)}); median of per-round ratios ${paired.toFixed(3)}`);
}

async function benchModel(env, model, dir, rounds) {
  const input = deterministicInput();
  const files = await exportBoth(env, model, dir, input);
  const optimized = { ours: `${files.ours}.ort.onnx`, torch: `${files.torch}.ort.onnx` };
  const ours = await openSession(files.ours, optimized.ours);
  const torch = await openSession(files.torch, optimized.torch);
  try {
    const feeds = { image: new ort.Tensor('float32', input, INPUT_SHAPE) };
    const err = await agreement(ours, torch, feeds, files.eagerLogits);
    const [tOurs, tTorch] = await timeInterleaved([ours, torch], feeds, rounds);
    printResult(model, rounds, err, tOurs, tTorch);
    printHistograms('exported graphs, nodes by op type', opHistogram(files.ours), opHistogram(files.torch));
    printHistograms('after ORT optimisation (level all)', opHistogram(optimized.ours), opHistogram(optimized.torch));
  } finally {
    await ours.release();
    await torch.release();
  }
}

async function main() {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '200' }, models: { type: 'string' }, successors: { type: 'boolean', default: false } } });
  const papers = new Set(papersZooNames());
  // The zoo lists each family smallest first.
  const smallest = [...new Set(zoo.filter((m) => !papers.has(m.name)).map((m) => m.family.id))].map((f) => zoo.find((m) => m.family.id === f).name);
  const models = values.models ? values.models.split(',') : values.successors ? smallest : MODELS;
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) {
    console.error(`--rounds must be a positive integer, got ${values.rounds}`);
    process.exit(2);
  }
  const env = torchEnvironment();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eformer-bench-'));
  console.log(`onnxruntime-node ${ort.env.versions.common}, CPU, ${SESSION_OPTIONS.intraOpNumThreads} intra-op threads, `
    + `spinning off, graphOptimizationLevel ${SESSION_OPTIONS.graphOptimizationLevel}; torch ONNX: opset 17, constant folding`);
  try {
    for (const model of models) await benchModel(env, model, dir, rounds);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err.stderr ? `${err.shortMessage}\n${err.stderr}` : err);
  process.exit(1);
});
