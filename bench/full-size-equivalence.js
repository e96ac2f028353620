// Full-size equivalence and checkpoint load time: load the reference .pth files that
// scripts/full_size_reference.py wrote, export, run in onnxruntime-node, and compare with the
// PyTorch logits: exit 1 when a model is further than the tests' bound (max |diff| at most 2e-6
// of the largest |logit|). Then time loading efficientformer_l7 from a ~330 MB checkpoint.
//   python scripts/full_size_reference.py --out /tmp/eformer-ref && node bench/full-size-equivalence.js /tmp/eformer-ref
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildWithRandomWeights, buildWithWeights, onnxBytes, readCheckpoint, runOnnx, stateDictBytes } from '../dist/index.js';

/** The same relative bound as test/helpers.ts's EQUIVALENCE_RTOL. */
const RTOL = 2e-6;
let failed = false;

const dir = process.argv[2] ?? '/tmp/eformer-ref';
const input = new Float32Array(3 * 224 * 224).map((_, i) => Math.sin(i * 0.37) * 1.5 + Math.cos(i * 0.011));

for (const model of ['efficientformer_l1', 'efficientformerv2_s0']) {
  const ckpt = join(dir, `${model}.pth`);
  if (!existsSync(ckpt)) {
    console.error(`missing ${ckpt}: run scripts/full_size_reference.py --out ${dir} first`);
    process.exit(3);
  }
  const built = buildWithWeights({ model, ckpt });
  const ours = (await runOnnx(onnxBytes(built).bytes, { image: { data: input, shape: [1, 3, 224, 224] } })).logits;
  const raw = readFileSync(join(dir, `${model}.logits.f32`));
  const reference = new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
  let err = 0;
  let scale = 0;
  for (let i = 0; i < reference.length; i++) {
    err = Math.max(err, Math.abs(ours[i] - reference[i]));
    scale = Math.max(scale, Math.abs(reference[i]));
  }
  const ok = err <= RTOL * scale;
  failed ||= !ok;
  console.log(`${model}: max |eformer ONNX - PyTorch| = ${err.toExponential(2)} (max |logit| ${scale.toFixed(3)}; bound ${(RTOL * scale).toExponential(2)}): ${ok ? 'ok' : 'FAILED'}, weights ${built.weights}`);
}

// Load time of the ~330 MB l7 checkpoint, as a PyTorch zip and as safetensors.
const safetensors = join(dir, 'efficientformer_l7.safetensors');
if (!existsSync(safetensors)) writeFileSync(safetensors, stateDictBytes(buildWithRandomWeights({ model: 'efficientformer_l7' })));
for (const l7 of [join(dir, 'efficientformer_l7.pth'), safetensors]) {
  if (existsSync(l7)) timeLoad(l7);
}

function timeLoad(l7) {
  const times = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const ckpt = readCheckpoint(l7);
    const t1 = performance.now();
    buildWithWeights({ model: 'efficientformer_l7', ckpt: l7 });
    const t2 = performance.now();
    times.push([t1 - t0, t2 - t1, ckpt.stateDict.size]);
  }
  const med = (k) => times.map((t) => t[k]).sort((a, b) => a - b)[2];
  const size = readFileSync(l7).length;
  console.log(`${l7} (${(size / 1e6).toFixed(0)} MB, ${times[0][2]} tensors): read + parse ${med(0).toFixed(0)} ms, read + match into the graph ${med(1).toFixed(0)} ms (median of 5)`);
}

if (failed) {
  console.error('full-size equivalence FAILED: a model is further from PyTorch than the bound');
  process.exit(1);
}
