/**
 * Hostile inputs shared by the test/hostile/ files: a scratch folder, a valid results file and
 * variants broken in one way each, and Hugging Face configs.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportOnnx } from '../../src/index.js';
import { root, tempDir } from '../helpers.js';

export const work = tempDir('eformer-hostile-');
export const file = (name: string, text: string) => {
  const path = join(work, name);
  writeFileSync(path, text);
  return path;
};
export const aFile = file('afile', 'not a folder');

/** A valid results file, then variants broken in one way each. */
export function results(edit: (r: any) => void = () => {}, env: Record<string, unknown> = {}) {
  const samples = Array.from({ length: 20 }, (_, i) => 10 + (i % 5) * 0.1);
  const r = {
    model: 'efficientformer_l1',
    family: 'efficientformer',
    backend: 'ort-cpu',
    resolution: 224,
    batch: 1,
    params: { toolbox: 12286896, total: 12289928, deployed: 12120368 },
    macs: { toolbox: 1300053440, standard: 1238228160 },
    settings: { threads: 2, graph_optimization: 'all', execution_provider: 'cpu', spinning: false, interleaved: false },
    runs: 20,
    warmup_runs: 5,
    latency_ms: { median: 10.2, mean: 10.2, p90: 10.4, p99: 10.4, min: 10, max: 10.4, std: 0.14, cov: 0.014, median_ci95: [10.1, 10.3], samples },
    noisy: false,
  };
  edit(r);
  return JSON.stringify({ schema: 'eformer.results/1', env: { cpu: 'test', cores: 2, os: 'Linux', node: 'v20', eformer: '0.1.0', created: '2026-11-22', ...env }, results: [r] });
}
export const good = file('good.json', results());
export const mobilenet = exportOnnx({ model: 'mobilenetv2_100', outDir: join(work, 'onnx') }).path;
export const again = file('again.json', results((r) => (r.latency_ms.samples = r.latency_ms.samples.map((v: number) => v + 0.01))));
export const hf = (config: Record<string, unknown>) => {
  const dir = join(work, `hf-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'efficientformer', hidden_sizes: [16, 16, 32, 32], depths: [1, 1, 1, 2], num_meta3d_blocks: 1, ...config }));
  return join(dir, 'config.json');
};


/**
 * Start the CLI, wait until `ready()` says the work is under way (then `delayMs` more), send
 * `signal`, and return the exit code and stderr. `node` holds extra options for node itself.
 */
export async function interrupt(
  args: string[],
  env: Record<string, string>,
  ready: () => boolean,
  signal: NodeJS.Signals,
  { delayMs = 0, node = [] as string[] } = {},
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [...node, join(root, 'bin/eformer.js'), ...args], { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  for (let i = 0; i < 6000 && child.exitCode === null; i++) {
    if (ready()) {
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      child.kill(signal);
      break;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  return { code: await exited, stderr };
}
