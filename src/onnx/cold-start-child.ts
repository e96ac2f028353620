/**
 * One model, cold, in a process of its own (cold-start.ts starts it with `node`): what an app pays
 * to open the model and what memory it holds. The process loads onnxruntime first (the runtime's
 * own code is not the model's), resets its peak resident set, then opens the session, runs once,
 * runs the rest, and prints one line:
 *   eformer-cold-start {"load_ms":..,"first_run_ms":..,"before":{rss,peak},"loaded":{rss,peak},"end":{rss,peak},"peak_reset":true}
 * Arguments: MODEL.onnx, then a JSON object {inputs, options, runs}.
 */
import { performance } from 'node:perf_hooks';
import type { InferenceSession } from 'onnxruntime-node';
import { residentBytes, resetPeakResident } from '../core/memory.js';
import { fill } from './fill.js';
import type { ModelInput } from './read.js';
import { onnxruntime } from './runtime.js';

interface Request {
  inputs: ModelInput[];
  options: InferenceSession.SessionOptions;
  runs: number;
}

async function main(): Promise<void> {
  const [path, json] = process.argv.slice(2);
  const request = JSON.parse(json) as Request;
  const ort = onnxruntime();
  const peakReset = resetPeakResident();
  const before = residentBytes();
  let start = performance.now();
  const session = await ort.InferenceSession.create(path, request.options);
  const loadMs = performance.now() - start;
  const loaded = residentBytes();
  const feeds = Object.fromEntries(request.inputs.map((i) => [i.name, fill(i.shape, i.dtype)]));
  start = performance.now();
  await session.run(feeds);
  const firstRunMs = performance.now() - start;
  for (let i = 1; i < request.runs; i++) await session.run(feeds);
  const end = residentBytes();
  process.stdout.write(`eformer-cold-start ${JSON.stringify({ load_ms: loadMs, first_run_ms: firstRunMs, before, loaded, end, peak_reset: peakReset })}\n`);
  await session.release();
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${String((err as Error)?.message ?? err).split('\n')[0]}\n`);
    process.exit(1);
  },
);
