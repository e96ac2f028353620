// eformer's load time and peak memory on ort-cpu against independent measurements of the same file.
//
//   npm run bench:memory [-- --models efficientformer_l1,... --repeats 3 --runs 20]
//
// For each of the papers' nine models (random weights, 224), in `repeats` interleaved rounds:
//   - eformer: the ort-cpu backend's cold start (a fresh node process; its peak resident set less
//     its resident set before loading), exactly what `eformer profile` records;
//   - independent: the maximum resident set /usr/bin/time -v reports for a minimal node script that
//     loads the model with onnxruntime-node and runs it `runs` times, minus the same script's
//     without the model (it loads onnxruntime-node and makes the input, nothing else); run with
//     the environment eformer gives its cold process (glibc's mmap threshold fixed), and again with
//     glibc's defaults, which an app on Linux would have;
//   - onnxruntime's own figure for loading: the `session_initialization` event of its profiler,
//     in the independent script's run.
// Reported per model: the medians, eformer/independent - 1 for memory and load, and the A/A spread
// of eformer's own figures over the rounds ((max - min) / median). Goals: within ±10%, spread < 5%.
import { execa } from 'execa';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { COLD_START_ENV, findBackend, median } from '../dist/index.js';
import { source } from './common.js';

const NINE = 'efficientformer_l1,efficientformer_l3,efficientformer_l7,efficientformerv2_s0,efficientformerv2_s1,efficientformerv2_s2,efficientformerv2_l,mobilenetv2_100,mobilenetv2_140';
const { values } = parseArgs({ options: { models: { type: 'string', default: NINE }, repeats: { type: 'string', default: '3' }, runs: { type: 'string', default: '20' } } });
const [repeats, runs] = [Number(values.repeats), Number(values.runs)];
const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');
const dir = mkdtempSync(join(tmpdir(), 'eformer-bench-memory-'));
const backend = findBackend('ort-cpu');
const options = { graphOptimization: 'all', executionProvider: 'cpu', spinning: true };

// The independent script: nothing of eformer's, only onnxruntime-node.
const script = join(dir, 'independent.cjs');
writeFileSync(
  script,
  `const ort = require(${JSON.stringify(ortPath)});
const [path, runs, shape, profileDir] = [process.argv[2], Number(process.argv[3]), JSON.parse(process.argv[4]), process.argv[5]];
const data = new Float32Array(shape.reduce((a, b) => a * b, 1)).map((_, i) => Math.sin(i * 0.37));
(async () => {
  if (path === '-') return;
  const start = performance.now();
  // The profiler keeps every run's events in memory: only the run that reads its figure turns it on.
  const profiling = profileDir !== '-' ? { enableProfiling: true, profileFilePrefix: profileDir + '/ort' } : {};
  const session = await ort.InferenceSession.create(path, { ...profiling, logSeverityLevel: 3 });
  console.log('create-ms ' + (performance.now() - start));
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, shape) };
  for (let i = 0; i < runs; i++) await session.run(feeds);
  if (profileDir !== '-') session.endProfiling();
})();
`,
);

/** One run of the independent script: its maximum resident set, its own create() time, and (profiling) onnxruntime's session_initialization. */
async function independent(path, shape, env = COLD_START_ENV, profiling = false) {
  const profileDir = profiling ? mkdtempSync(join(dir, 'prof-')) : '-';
  const r = await execa('/usr/bin/time', ['-v', process.execPath, script, path, String(runs), JSON.stringify(shape), profileDir], { env: { ORT_DISABLE_TELEMETRY: '1', ...env }, extendEnv: true });
  const maxRss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)[1]) * 1024;
  const createMs = Number(/create-ms (\S+)/.exec(r.stdout)?.[1]);
  let loadMs;
  if (profiling) {
    const trace = readdirSync(profileDir).find((f) => f.endsWith('.json'));
    if (trace) loadMs = JSON.parse(readFileSync(join(profileDir, trace), 'utf8')).find((e) => e.name === 'session_initialization')?.dur / 1000;
    rmSync(profileDir, { recursive: true, force: true });
  }
  return { maxRss, loadMs, createMs };
}

const spread = (xs) => (Math.max(...xs) - Math.min(...xs)) / median(xs);
const pct = (x) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;
const models = values.models.split(',');
const sources = Object.fromEntries(models.map((m) => [m, source(m)]));
const figures = Object.fromEntries(models.map((m) => [m, { peak: [], load: [], indepPeak: [], indepLoad: [], indepCreate: [], glibcPeak: [] }]));
for (let round = 0; round < repeats; round++) {
  for (const m of round % 2 ? [...models].reverse() : models) {
    const s = sources[m];
    const cost = await backend.coldStart(s, options);
    if (!cost.memory_mb) throw new Error(`${m}: ${JSON.stringify(cost.absent)}`);
    const file = join(dir, `${m}.onnx`);
    writeFileSync(file, s.onnx);
    const shape = s.inputs[0].shape;
    const withModel = await independent(file, shape);
    const without = await independent('-', shape);
    const glibcWith = await independent(file, shape, {});
    const glibcWithout = await independent('-', shape, {});
    const f = figures[m];
    f.peak.push(cost.memory_mb.peak * 2 ** 20);
    f.load.push(cost.load_ms);
    f.indepPeak.push(withModel.maxRss - without.maxRss);
    f.indepLoad.push((await independent(file, shape, COLD_START_ENV, true)).loadMs);
    f.indepCreate.push(withModel.createMs);
    f.glibcPeak.push(glibcWith.maxRss - glibcWithout.maxRss);
  }
}

console.log(`ort-cpu, ${repeats} rounds, ${runs} runs in the independent script; MB = 2^20 bytes`);
console.log('load: eformer\'s load_ms; ort init: the profiler\'s session_initialization (parsing the file is not in it); create(): the independent script\'s wall time around InferenceSession.create');
console.log('model                  eformer MB  independent MB   diff  A/A   load ms  ort init ms    diff  create() ms    diff  A/A');
for (const m of models) {
  const f = figures[m];
  const [p, ip, l, il, ic] = [median(f.peak), median(f.indepPeak), median(f.load), median(f.indepLoad), median(f.indepCreate)];
  console.log(
    `${m.padEnd(21)}  ${(p / 2 ** 20).toFixed(1).padStart(10)}  ${(ip / 2 ** 20).toFixed(1).padStart(14)}  ${pct(p / ip - 1).padStart(6)}  ${(spread(f.peak) * 100).toFixed(1).padStart(3)}%  ${l.toFixed(1).padStart(7)}  ${il.toFixed(1).padStart(11)}  ${pct(l / il - 1).padStart(6)}  ${ic.toFixed(1).padStart(11)}  ${pct(l / ic - 1).padStart(6)}  ${(spread(f.load) * 100).toFixed(0).padStart(2)}%`,
  );
}
console.log('\nwith glibc\'s default malloc settings in the independent script (what an app on Linux gets):');
console.log('model                  eformer MB  glibc default MB   diff  A/A of glibc default');
for (const m of models) {
  const f = figures[m];
  const [p, g] = [median(f.peak), median(f.glibcPeak)];
  console.log(`${m.padEnd(21)}  ${(p / 2 ** 20).toFixed(1).padStart(10)}  ${(g / 2 ** 20).toFixed(1).padStart(16)}  ${pct(p / g - 1).padStart(6)}  ${(spread(f.glibcPeak) * 100).toFixed(1).padStart(5)}%`);
}
rmSync(dir, { recursive: true, force: true });
