// What eformer's litert backend adds to a LiteRT run, against LiteRT's own benchmark script
// (ai_edge_litert/tools/benchmark_litert_model.py, shipped in the ai-edge-litert wheel) on the same
// .tflite file, threads and run counts. Goal: eformer's median within 2% of the script's.
//
//   npm run bench:litert-overhead [-- --models efficientformerv2_s0,mobilenetv2_100 --rounds 5 --runs 200 --warmup 30 --threads 2]
//
// Each round times every model both ways, one after the other, in an order that alternates from
// round to round so the machine's drift falls on both alike: eformer's session (one invoke() timed
// inside the Python worker, the request per run coming from eformer's loop) and the script (its
// CompiledModel run_by_name() timed with time.perf_counter() in its own loop, in a process of its
// own). Reported: each round's median ratio (eformer / LiteRT) and the median over rounds; the
// averages too, since the script's headline figure is its average.
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildWithWeights, findBackend, median, modelSource, onnxBytes } from '../dist/index.js';
import { pct } from './common.js';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'efficientformerv2_s0,mobilenetv2_100' },
    rounds: { type: 'string', default: '5' },
    runs: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '30' },
    threads: { type: 'string', default: '2' },
  },
});
const [rounds, runs, warmup, threads] = [values.rounds, values.runs, values.warmup, values.threads].map(Number);
const root = new URL('..', import.meta.url).pathname;
const python = process.env.EFORMER_PYTHON ?? join(root, '.eformer/venv/bin/python');
const litert = findBackend('litert');
const dir = mkdtempSync(join(tmpdir(), 'eformer-bench-litert-'));

/** eformer's figure: the litert session's in-worker time of each run, warm-up runs discarded. */
async function ours(source) {
  const session = await litert.open(source, { threads, graphOptimization: 'all', executionProvider: 'cpu', spinning: false });
  try {
    for (let i = 0; i < warmup; i++) await session.run();
    const times = [];
    for (let i = 0; i < runs; i++) times.push(await session.run());
    return { median: median(times), mean: times.reduce((a, b) => a + b, 0) / times.length };
  } finally {
    await session.close();
  }
}

/** LiteRT's own script on the same file, read from its --result_json. */
async function theirs(file) {
  const out = join(dir, 'theirs.json');
  const args = ['-m', 'ai_edge_litert.tools.benchmark_litert_model', `--model=${file}`, `--num_runs=${runs}`, `--warmup_runs=${warmup}`, `--num_threads=${threads}`, `--result_json=${out}`];
  const r = await execa(python, args, { reject: false, env: { TF_CPP_MIN_LOG_LEVEL: '2' } });
  if (r.exitCode !== 0) throw new Error(`benchmark_litert_model.py failed: ${(r.stderr || r.stdout).trim().split('\n').at(-1)}`);
  const latency = JSON.parse(readFileSync(out, 'utf8')).latency;
  return { median: latency.median_ms, mean: latency.avg_ms };
}

try {
  console.log(`eformer litert vs LiteRT's benchmark_litert_model.py: ${rounds} rounds of ${runs} runs (${warmup} warm-up), ${threads} threads, ${python}`);
  for (const model of values.models.split(',')) {
    const built = buildWithWeights({ model });
    const source = modelSource(built, onnxBytes(built).bytes);
    const file = join(dir, `${model}.tflite`);
    // The very bytes eformer's session loads.
    writeFileSync(file, await source.tflite());
    const ratios = [];
    const meanRatios = [];
    for (let round = 0; round < rounds; round++) {
      const a = round % 2 === 0 ? await ours(source) : undefined;
      const b = await theirs(file);
      const o = a ?? (await ours(source));
      ratios.push(o.median / b.median);
      meanRatios.push(o.mean / b.mean);
      console.log(`  ${model} round ${round + 1}: eformer median ${o.median.toFixed(3)} ms, LiteRT's script ${b.median.toFixed(3)} ms (${pct(o.median, b.median)}); averages ${o.mean.toFixed(3)} / ${b.mean.toFixed(3)} ms`);
    }
    const r = median(ratios);
    console.log(`${model}: eformer / LiteRT median ratio ${r.toFixed(4)} (median of ${rounds} rounds; ${(Math.min(...ratios)).toFixed(4)}-${Math.max(...ratios).toFixed(4)}), averages ${median(meanRatios).toFixed(4)}; goal <= 1.02: ${r <= 1.02 ? 'met' : 'NOT met'}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
