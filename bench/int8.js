// int8 against fp32, interleaved, for the nine zoo models. Run: npm run bench:int8 [-- --backend ort-cpu,ort-web] [--models a,b]
//  1. The CPU's integer instruction sets (from /proc/cpuinfo), and a linear-layer probe on each
//     backend: float, QGemm and QLinearMatMul timed side by side, whose throughput ratios say which
//     integer kernel runs and which form the runtime runs faster (eformer writes token linears in the
//     QLinearMatMul form since this probe showed it faster in onnxruntime-web; 2-D heads stay QGemm).
//  2. Per backend and model: eformer's `profile --precision fp32,int8` (both in the same rounds,
//     the speed-up is the median of per-round ratios), and with $EFORMER_ORT_PYTHON (a Python with
//     onnxruntime, e.g. /work/venv-ortq/bin/python) onnxruntime's own quantiser on the same float
//     graph and calibration inputs, timed in the same rounds, with its fidelity computed here.
//  3. --breakdown: onnxruntime's kernel-level profile of each graph, by op type. --no-probe skips 1.
//  4. --ablation: instead of 1-2, the quantisation policy's two choices measured, each variant of a
//     model's int8 graph interleaved with its float graph (what quantising every layer, or keeping the
//     residual adds float, costs in latency and in SQNR).
// Timings on a shared machine drift; only the ratios measured side by side mean much.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildWithRandomWeights, calibrationSet, cpuInt8Instructions, DEFAULT_POLICY, encodeOnnx, graphBytes, INT8_OPSET, lowerToOnnx, meanCosine, median,
  onnxBytes, outputSession, papersZooNames, profile, quantizeInt8, sameRoundRatios, sqnrDb,
} from '../dist/index.js';

const args = process.argv.slice(2);
const flag = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const BACKENDS = flag('--backend', 'ort-cpu,ort-web').split(',');
const MODELS = flag('--models', papersZooNames().join(',')).split(',');
const CALIB = Number(flag('--calib', '64'));
const MIN_TIME = Number(flag('--min-time', '3'));
const BREAKDOWN = args.includes('--breakdown');
const PYTHON = process.env.EFORMER_ORT_PYTHON;
const dir = mkdtempSync(join(tmpdir(), 'eformer-bench-int8-'));


/**
 * One linear layer [M,K]x[K,N] in three forms: float; QDQ around a Gemm (fused to QGemm); QDQ around
 * a MatMul with the weight stored [K,N] (fused to QLinearMatMul, the form onnxruntime's quantiser
 * produces and eformer writes for token linears). uint8 activations, int8 per-channel weights.
 */
function linearProbe(m, k, n, form) {
  const values = new Map();
  const params = new Map();
  const value = (name, shape, dtype = 'float32') => values.set(name, { name, shape, dtype });
  const param = (name, shape, data) => {
    const dtype = data instanceof Float32Array ? 'float32' : data instanceof Int8Array ? 'int8' : data instanceof Uint8Array ? 'uint8' : 'int32';
    params.set(name, { name, shape, viewShape: shape, dtype, role: 'quantized', trainable: false, data });
    value(name, shape, dtype);
  };
  value('image', [m, k]);
  value('y', [m, n]);
  const nodes = [];
  const wShape = form === 'QLinearMatMul' ? [k, n] : [n, k];
  if (form === 'fp32') {
    param('w', [n, k], Float32Array.from({ length: n * k }, (_, i) => (((i * 37) % 255) - 127) / 100));
    params.get('w').role = 'linear_weight';
    nodes.push({ op: 'Linear', name: 'gemm', module: '', inputs: ['image', 'w'], outputs: ['y'] });
  } else {
    param('w:q', wShape, Int8Array.from({ length: n * k }, (_, i) => ((i * 37) % 255) - 127));
    param('w:scale', [n], new Float32Array(n).fill(0.01));
    param('w:zp', [n], new Int8Array(n));
    param('x:scale', [], Float32Array.of(0.05));
    param('x:zp', [], Uint8Array.of(128));
    param('y:scale', [], Float32Array.of(0.5));
    param('y:zp', [], Uint8Array.of(128));
    for (const [name, dtype, shape] of [['x:q', 'uint8', [m, k]], ['x:dq', 'float32', [m, k]], ['w:dq', 'float32', wShape], ['g', 'float32', [m, n]], ['y:q', 'uint8', [m, n]]]) value(name, shape, dtype);
    nodes.push(
      { op: 'QuantizeLinear', name: 'xq', module: '', inputs: ['image', 'x:scale', 'x:zp'], outputs: ['x:q'] },
      { op: 'DequantizeLinear', name: 'xdq', module: '', inputs: ['x:q', 'x:scale', 'x:zp'], outputs: ['x:dq'] },
      // Per output channel: axis 0 of [N,K] for the Gemm, axis 1 of [K,N] for the MatMul.
      { op: 'DequantizeLinear', axis: form === 'QLinearMatMul' ? 1 : 0, name: 'wdq', module: '', inputs: ['w:q', 'w:scale', 'w:zp'], outputs: ['w:dq'] },
      form === 'QLinearMatMul'
        ? { op: 'MatMul', name: 'matmul', module: '', inputs: ['x:dq', 'w:dq'], outputs: ['g'] }
        : { op: 'Linear', name: 'gemm', module: '', inputs: ['x:dq', 'w:dq'], outputs: ['g'] },
      { op: 'QuantizeLinear', name: 'yq', module: '', inputs: ['g', 'y:scale', 'y:zp'], outputs: ['y:q'] },
      { op: 'DequantizeLinear', name: 'ydq', module: '', inputs: ['y:q', 'y:scale', 'y:zp'], outputs: ['y'] },
    );
  }
  const graph = { name: form, inputs: [{ name: 'image', shape: [m, k], dtype: 'float32' }], outputs: ['y'], outputNames: ['y'], values, params, nodes, modules: [] };
  const onnx = encodeOnnx(lowerToOnnx(graph, 20), { producerVersion: 'bench' });
  return { source: { name: form, onnx, inputs: [{ name: 'image', shape: [m, k], dtype: 'float32' }] }, facts: { model: form, batch: 1 } };
}

/**
 * The three forms of one linear layer timed in the same rounds on each backend: which integer kernel
 * runs (on ort-cpu, the QGemm/fp32 throughput ratio: AVX-512 VNNI peaks at 4x AVX-512 FP32 FMA per
 * cycle, AMX far higher) and whether the runtime's integer GEMM kernels differ (QGemm against
 * QLinearMatMul). Shapes: a large square GEMM, and efficientformer_l7's MLP (49 tokens, 768 -> 3072).
 */
async function probe(backends) {
  const forms = ['fp32', 'QGemm', 'QLinearMatMul'];
  for (const backendId of backends) {
    for (const [m, k, n] of [[256, 1024, 1024], [49, 768, 3072]]) {
      const file = await profile({ backend: backendId, models: [], prepared: forms.map((f) => linearProbe(m, k, n, f)), threads: 1, singleSession: false, plan: { minTime: 2 } });
      const samples = Object.fromEntries(file.results.map((r) => [r.model, r.latency_ms.samples]));
      const cells = forms.map((f) => {
        const ms = median(samples[f]);
        const vsFloat = f === 'fp32' ? '' : `, ${median(sameRoundRatios(samples[f], samples.fp32)).toFixed(2)}x fp32 time`;
        return `${f} ${ms.toFixed(3)} ms (${((m * k * n) / ms / 1e6).toFixed(1)} GMAC/s${vsFloat})`;
      });
      console.log(`linear probe ${m}x${k} by ${k}x${n}, one thread, ${backendId}: ${cells.join('; ')}`);
    }
  }
  console.log('  (on ort-cpu AVX-512 VNNI peaks at 4x the fp32 throughput, AMX at 16x and more: a QGemm ratio well above 4 means AMX tiles ran)');
}

/** onnxruntime's quantiser on the same float graph and calibration tensors. */
function ortQuantized(name, floatOnnx, tensors) {
  const src = join(dir, `${name}.onnx`);
  const calib = join(dir, `${name}.f32`);
  const out = join(dir, `${name}.ortq.onnx`);
  writeFileSync(src, floatOnnx);
  writeFileSync(calib, Buffer.concat(tensors.map((t) => Buffer.from(t.buffer, t.byteOffset, t.byteLength))));
  const start = performance.now();
  execFileSync(PYTHON, [new URL('./ort_quantize.py', import.meta.url).pathname, src, calib, String(tensors.length), out], { stdio: ['ignore', 'ignore', 'pipe'] });
  return { bytes: readFileSync(out), seconds: (performance.now() - start) / 1000 };
}

async function logitsOf(bytes, tensors, shape) {
  const session = await outputSession(bytes, { threads: 2 });
  const out = [];
  for (const t of tensors) out.push(Object.values(await session.run({ image: { data: t, shape } }))[0]);
  await session.release();
  return out;
}

/** Each policy variant of a model's int8 graph, interleaved with the float graph on ort-cpu. */
async function ablation(models) {
  const variants = {
    default: DEFAULT_POLICY,
    'every layer (no work threshold)': { ...DEFAULT_POLICY, minIntensity: 0 },
    'residual adds float': { ...DEFAULT_POLICY, int8Adds: false },
    'depthwise 3x3 float (threshold 5)': { ...DEFAULT_POLICY, minIntensity: 5 },
  };
  for (const model of models) {
    const built = buildWithRandomWeights({ model });
    const { bytes, deployed } = onnxBytes(built);
    const input = built.graph.inputs[0];
    const prepared = [];
    const fidelity = {};
    for (const [name, policy] of Object.entries(variants)) {
      const q = await quantizeInt8(deployed, built.entry.family.preprocessing, { calibration: { random: CALIB, seed: 0 }, policy });
      fidelity[name] = q.report;
      const id = `${model}:${name}`;
      prepared.push({ source: { name: id, onnx: graphBytes(built, q.graph, INT8_OPSET).bytes, inputs: [{ name: input.name, shape: input.shape, dtype: 'float32' }] }, facts: { model: id, batch: 1 } });
    }
    prepared.push({ source: { name: `${model}:fp32`, onnx: bytes, inputs: [{ name: input.name, shape: input.shape, dtype: 'float32' }] }, facts: { model: `${model}:fp32`, batch: 1 } });
    const file = await profile({ backend: 'ort-cpu', models: [], prepared, threads: 2, singleSession: false, plan: { minTime: MIN_TIME } });
    const fp32 = file.results.find((r) => r.model === `${model}:fp32`).latency_ms.samples;
    for (const name of Object.keys(variants)) {
      const samples = file.results.find((r) => r.model === `${model}:${name}`).latency_ms.samples;
      const f = fidelity[name];
      console.log(`${model}, ${name}: int8/fp32 ${median(sameRoundRatios(samples, fp32)).toFixed(3)}, ${f.quantized_layers} layers quantised, SQNR ${f.sqnr_db.toFixed(1)} dB`);
    }
  }
}

function byOp(result, top = 6) {
  const b = result.breakdown;
  return b ? b.by_op.slice(0, top).map((r) => `${r.key} ${r.percent.toFixed(0)}%`).join(', ') : '';
}

console.log(`integer instruction sets (/proc/cpuinfo): ${cpuInt8Instructions()?.join(', ') || 'none'}`);
if (args.includes('--ablation')) {
  await ablation(flag('--models', 'efficientformer_l1,efficientformerv2_s0,mobilenetv2_100').split(','));
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}
if (!args.includes('--no-probe')) await probe(BACKENDS);
const rows = [];
for (const backendId of BACKENDS) {
  for (const model of MODELS) {
    const built = buildWithRandomWeights({ model });
    const floatOnnx = onnxBytes(built).bytes;
    const input = built.graph.inputs[0];
    const prepared = [];
    let ortq;
    if (PYTHON) {
      const set = await calibrationSet({ random: CALIB, seed: 0 }, built.entry.family.preprocessing, input.shape);
      const q = ortQuantized(model, floatOnnx, set.tensors);
      const [ref, theirs] = [await logitsOf(floatOnnx, set.tensors, input.shape), await logitsOf(q.bytes, set.tensors, input.shape)];
      ortq = { sqnr: sqnrDb(ref, theirs), cosine: meanCosine(ref, theirs), seconds: q.seconds };
      prepared.push({ source: { name: `${model}:ortq`, onnx: q.bytes, inputs: [{ name: input.name, shape: input.shape, dtype: 'float32' }] }, facts: { model: `${model}:ortq`, batch: 1 } });
    }
    const start = performance.now();
    const file = await profile({
      backend: backendId,
      models: [model],
      precisions: ['fp32', 'int8'],
      int8: { calibration: { random: CALIB, seed: 0 } },
      prepared,
      threads: 2,
      singleSession: false,
      breakdown: BREAKDOWN,
      plan: { minTime: MIN_TIME },
    });
    const [fp32, int8, theirs] = [file.results.find((r) => r.model === model), file.results.find((r) => r.model === `${model}:int8`), file.results.find((r) => r.model === `${model}:ortq`)];
    const row = {
      backend: backendId,
      model,
      fp32_ms: fp32.latency_ms.median,
      int8_ms: int8.latency_ms.median,
      int8_over_fp32: 1 / int8.int8.speedup,
      sqnr_db: int8.int8.sqnr_db,
      cosine: int8.int8.cosine,
      seconds: (performance.now() - start) / 1000,
    };
    if (theirs) {
      const ratios = sameRoundRatios(theirs.latency_ms.samples, fp32.latency_ms.samples);
      Object.assign(row, { ortq_over_fp32: median(ratios), ortq_sqnr_db: ortq.sqnr, ortq_cosine: ortq.cosine, ortq_seconds: ortq.seconds });
    }
    rows.push(row);
    const f = (v, d = 3) => (v === undefined ? '-' : v.toFixed(d));
    console.log(
      `${backendId} ${model}: fp32 ${f(row.fp32_ms, 2)} ms, int8 ${f(row.int8_ms, 2)} ms, int8/fp32 ${f(row.int8_over_fp32)} (SQNR ${f(row.sqnr_db, 1)} dB, cosine ${f(row.cosine, 5)})` +
        (theirs ? `; onnxruntime's quantiser: /fp32 ${f(row.ortq_over_fp32)} (SQNR ${f(row.ortq_sqnr_db, 1)} dB, cosine ${f(row.ortq_cosine, 5)}, ${f(row.ortq_seconds, 1)} s)` : ''),
    );
    if (BREAKDOWN) for (const r of [fp32, int8, theirs].filter(Boolean)) console.log(`    kernels ${r.model}: ${byOp(r)}`);
  }
}
writeFileSync(flag('--json', join(dir, 'int8.json')), JSON.stringify({ cpu_int8: cpuInt8Instructions(), rows }, null, 1));
console.log(`\n| backend | model | int8 / fp32 | SQNR dB | cosine |${PYTHON ? " onnxruntime quantiser / fp32 | its SQNR dB |" : ''}`);
console.log(`|---|---|---|---|---|${PYTHON ? '---|---|' : ''}`);
for (const r of rows) {
  console.log(`| ${r.backend} | ${r.model} | ${r.int8_over_fp32.toFixed(3)} | ${r.sqnr_db.toFixed(1)} | ${r.cosine.toFixed(5)} |${PYTHON ? ` ${r.ortq_over_fp32?.toFixed(3)} | ${r.ortq_sqnr_db?.toFixed(1)} |` : ''}`);
}
rmSync(dir, { recursive: true, force: true });
