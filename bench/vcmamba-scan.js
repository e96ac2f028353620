// VCMamba's selective scan, lowered three ways (the `scan` config field: same parameters, same
// numbers), for vcmamba_s at 224: ONNX nodes (as exported and after onnxruntime's optimisation),
// file size, the largest intermediate tensor, export time (build + passes + lowering + encoding,
// in process), and onnxruntime-node latency: 2 intra-op threads, spinning off, the lowerings
// interleaved run by run (the start rotating), median with a 95% bootstrap CI, and each
// lowering's per-round ratio to `unrolled`.
//
//   npm run bench:vcmamba-scan [-- --rounds 200 --warmup 30 --repeats 5 --lowerings unrolled,chunked,parallel]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import {
  buildWithRandomWeights,
  deployGraph,
  entry,
  findBackend,
  findModel,
  median,
  modelSource,
  mulberry32,
  numel,
  onnxBytes,
  vcmamba,
  vcmambaConfig,
} from '../dist/index.js';
import { sideBySide } from './common.js';

const { onnx } = onnxProto;
const MODEL = 'vcmamba_s';
const BOOTSTRAP = 2000;
const SESSION = { threads: 2, graphOptimization: 'all', executionProvider: 'cpu', spinning: false };

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '30' },
    repeats: { type: 'string', default: '5' },
    lowerings: { type: 'string', default: 'unrolled,chunked,parallel' },
  },
});
const rounds = Number(args.rounds);
const warmup = Number(args.warmup);
const repeats = Number(args.repeats);
const lowerings = args.lowerings.split(',');
for (const [name, n] of [['rounds', rounds], ['warmup', warmup], ['repeats', repeats]]) {
  if (!Number.isInteger(n) || n < (name === 'warmup' ? 0 : 1)) {
    console.error(`--${name} must be a whole number${name === 'warmup' ? '' : ' above 0'}, got ${args[name]}`);
    process.exit(2);
  }
}

/** vcmamba_s with the scan lowered as `scan`: a custom entry of the same architecture. */
function spec(scan) {
  const zooEntry = findModel(MODEL);
  return entry({ name: `${MODEL}_${scan}`, family: vcmamba, config: vcmambaConfig({ ...zooEntry.config, scan }) });
}

/** One in-process export: random weights (seeded by name, so the same in every lowering), passes, lowering, bytes. */
function exportOnce(scan) {
  const start = performance.now();
  const built = buildWithRandomWeights({ spec: spec(scan) });
  const { bytes, onnx: lowered } = onnxBytes(built);
  return { seconds: (performance.now() - start) / 1000, built, bytes, lowered };
}

/** Elements of the largest tensor the deployed graph computes (not a weight). */
function largestIntermediate(built) {
  const graph = deployGraph(built.graph);
  let largest = 0;
  for (const node of graph.nodes) for (const out of node.outputs) largest = Math.max(largest, numel(graph.values.get(out).shape));
  return largest;
}

/** Node count of the graph onnxruntime runs after its own optimisation (level all). */
async function optimisedNodes(bytes, dir, scan) {
  const file = path.join(dir, `${scan}.ort.onnx`);
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    optimizedModelFilePath: file,
    logSeverityLevel: 3,
  });
  await session.release();
  return onnx.ModelProto.decode(fs.readFileSync(file)).graph.node.length;
}

function opHistogram(lowered) {
  const counts = new Map();
  for (const node of lowered.nodes) counts.set(node.opType, (counts.get(node.opType) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]).map(([op, n]) => `${op} ${n}`).join(', ');
}

/** 95% percentile bootstrap CI of a statistic of resampled rounds (indices into the paired samples). */
function bootstrap(n, statistic, seed) {
  const rand = mulberry32(seed);
  const values = [];
  for (let b = 0; b < BOOTSTRAP; b++) values.push(statistic(Array.from({ length: n }, () => Math.floor(rand() * n))));
  values.sort((a, b) => a - b);
  return [values[Math.floor(0.025 * BOOTSTRAP)], values[Math.ceil(0.975 * BOOTSTRAP) - 1]];
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eformer-bench-'));
  const exports = new Map(lowerings.map((scan) => [scan, []]));
  const last = new Map();
  try {
    // Export times, interleaved so drift hits every lowering alike.
    for (let r = 0; r < repeats; r++) {
      for (const scan of lowerings) {
        const result = exportOnce(scan);
        exports.get(scan).push(result.seconds);
        last.set(scan, result);
      }
    }
    const rows = [];
    for (const scan of lowerings) {
      const { built, bytes, lowered } = last.get(scan);
      rows.push({ scan, nodes: lowered.nodes.length, ortNodes: await optimisedNodes(bytes, dir, scan), mb: bytes.length / 1e6, largest: largestIntermediate(built), exportS: median(exports.get(scan)), ops: opHistogram(lowered) });
    }

    const backend = findBackend('ort-cpu');
    const sessions = [];
    for (const scan of lowerings) {
      const { built, bytes } = last.get(scan);
      sessions.push(await backend.open(modelSource(built, bytes), SESSION));
    }
    let samples;
    try {
      samples = await sideBySide(sessions, { runs: rounds, warmup });
    } finally {
      for (const s of sessions) await s.close();
    }

    console.log(`${MODEL} @224, batch 1; onnxruntime-node ${ort.env.versions.common}, CPU, ${SESSION.threads} intra-op threads, spinning off, graph optimisation ${SESSION.graphOptimization}`);
    console.log(`${rounds} interleaved rounds after ${warmup} warm-up runs each; export time: median of ${repeats} in-process exports\n`);
    console.log('lowering    nodes  after ORT   ONNX MB  largest tensor  export s  median ms (95% CI)      vs unrolled (95% CI)');
    const base = lowerings.indexOf('unrolled');
    rows.forEach((row, k) => {
      const mine = samples[k];
      const ci = bootstrap(mine.length, (idx) => median(idx.map((i) => mine[i])), 1 + k);
      let ratio = '';
      if (base >= 0 && k !== base) {
        const ref = samples[base];
        const [lo, hi] = bootstrap(mine.length, (idx) => median(idx.map((i) => mine[i] / ref[i])), 100 + k);
        ratio = `${median(mine.map((v, i) => v / ref[i])).toFixed(3)} (${lo.toFixed(3)}-${hi.toFixed(3)})`;
      }
      console.log(
        `${row.scan.padEnd(10)} ${String(row.nodes).padStart(6)} ${String(row.ortNodes).padStart(10)} ${row.mb.toFixed(2).padStart(9)} ` +
          `${`${(row.largest / 1e6).toFixed(2)} M`.padStart(15)} ${row.exportS.toFixed(2).padStart(9)}  ` +
          `${`${median(mine).toFixed(2)} (${ci[0].toFixed(2)}-${ci[1].toFixed(2)})`.padEnd(22)}  ${ratio}`,
      );
    });
    console.log('\nexported ops:');
    for (const row of rows) console.log(`  ${row.scan}: ${row.ops}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
