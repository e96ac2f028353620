/**
 * Hostile inputs shared by the test/hostile/ files: a scratch folder, a valid results file and
 * variants broken in one way each, and Hugging Face configs.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import sharp from 'sharp';
import { exportOnnx } from '../../src/index.js';
import { root, tempDir } from '../helpers.js';
import { Pickle, torchCheckpoint, torchZip } from './torch-writer.js';

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
    // Until eformer has installed its handler the signal's default action would kill it, which
    // tests node's start-up on a busy machine, not eformer.
    if (handles(child.pid!, signal) && ready()) {
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      child.kill(signal);
      break;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  return { code: await exited, stderr };
}

/** Whether process `pid` catches `signal` (Linux: the SigCgt mask in /proc/PID/status). */
function handles(pid: number, signal: NodeJS.Signals): boolean {
  try {
    const mask = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return mask !== undefined && ((BigInt(`0x${mask}`) >> BigInt(constants.signals[signal] - 1)) & 1n) === 1n;
  } catch {
    return false;
  }
}

/**
 * Hostile PyTorch checkpoints (written by torch-writer.ts, a few hundred bytes to a few kilobytes
 * each), by what they attack. Each is a file in `work`.
 */
export const checkpoints = (() => {
  const write = (name: string, bytes: Uint8Array) => {
    const path = join(work, name);
    writeFileSync(path, bytes);
    return path;
  };
  const weight = { name: 'patch_embed.0.weight', shape: [24, 3, 3, 3] };
  /** `{"model": VALUE}` where VALUE is what `body` leaves on the pickle's stack. */
  const wrapped = (body: (p: Pickle) => void) => {
    const p = new Pickle().emptyDict().mark().str('model');
    body(p);
    return torchZip(p.setItems().stop().bytes());
  };
  return {
    nanOffset: write('nan-offset.pth', torchCheckpoint([{ ...weight, offset: NaN }], [648])),
    infiniteOffset: write('inf-offset.pth', torchCheckpoint([{ ...weight, offset: Infinity }], [648])),
    negativeOffset: write('neg-offset.pth', torchCheckpoint([{ ...weight, offset: -1 }], [648])),
    hugeOffset: write('huge-offset.pth', torchCheckpoint([{ ...weight, offset: 2 ** 60 }], [648])),
    /** 20 tensors of 6000x6000 repeating one stored float: 2.9 GB if expanded, from 3 KB. */
    expanded: write('expanded.pth', torchCheckpoint(Array.from({ length: 20 }, (_, i) => ({ name: `t${i}`, shape: [6000, 6000], stride: [0, 0] })))),
    expandedHuge: write('expanded-huge.pth', torchCheckpoint([{ name: 't', shape: [100000, 100000], stride: [0, 0] }])),
    /** A list that holds itself, through the memo. */
    cycle: write('cycle.pth', wrapped((p) => p.emptyList().put(1).get(1).append())),
    /** Lists nested 100,000 deep. */
    deep: write(
      'deep.pth',
      wrapped((p) => {
        for (let i = 0; i < 100_000; i++) p.emptyList();
        for (let i = 0; i < 100_000 - 1; i++) p.append();
      }),
    ),
    /** One APPENDS of 300,000 items. */
    longAppends: write(
      'appends.pth',
      wrapped((p) => {
        p.emptyList().mark();
        for (let i = 0; i < 300_000; i++) p.int(1);
        p.appends();
      }),
    ),
  };
})();

/**
 * `{"model": [L0, ..., L(levels-1)]}` where each L(i) is [L(i-1), L(i-1)] through the memo: 2^levels
 * lists if copied, `levels` if shared.
 */
export function doublingPickle(levels: number): Uint8Array {
  const p = new Pickle().emptyDict().mark().str('model').mark().emptyList().put(0);
  for (let i = 1; i < levels; i++) p.emptyList().mark().get(i - 1).get(i - 1).appends().put(i);
  return torchZip(p.tuple().setItems().stop().bytes());
}

const FLOAT = 1;
const INT64 = 7;
const BOOL = 9;
const tensorType = (elemType: number, dims: number[]) => ({ tensorType: { elemType, shape: { dim: dims.map((d) => ({ dimValue: d })) } } });

/** An ONNX file of float inputs named and shaped as given, all added into one output. */
export function manyInputsOnnx(name: string, shapes: number[][]): string {
  const names = shapes.map((_, i) => `x${i}`);
  const node = names.slice(1).map((n, i) => ({ opType: 'Add', input: [i === 0 ? names[0] : `s${i - 1}`, n], output: [`s${i}`] }));
  return writeOnnx(name, {
    name: 'many-inputs',
    node,
    input: shapes.map((dims, i) => ({ name: names[i], type: tensorType(FLOAT, dims) })),
    output: [{ name: `s${names.length - 2}`, type: tensorType(FLOAT, shapes[0]) }],
  });
}

/**
 * An ONNX Loop of `iterations` steps, each adding 1 to a float, with a condition that stays true:
 * onnxruntime runs it for as long as it is asked to (9e15 steps: for ever).
 */
export function endlessLoopOnnx(name: string, iterations = 9e15): string {
  const body = {
    name: 'body',
    node: [
      { opType: 'Identity', input: ['cond_in'], output: ['cond_out'] },
      { opType: 'Add', input: ['v_in', 'one'], output: ['v_out'] },
    ],
    initializer: [{ name: 'one', dataType: FLOAT, dims: [1], floatData: [1] }],
    input: [
      { name: 'i', type: tensorType(INT64, []) },
      { name: 'cond_in', type: tensorType(BOOL, []) },
      { name: 'v_in', type: tensorType(FLOAT, [1]) },
    ],
    output: [
      { name: 'cond_out', type: tensorType(BOOL, []) },
      { name: 'v_out', type: tensorType(FLOAT, [1]) },
    ],
  };
  return writeOnnx(name, {
    name: 'endless',
    node: [{ opType: 'Loop', input: ['trip', 'keep_going', 'x'], output: ['y'], attribute: [{ name: 'body', type: 5, g: body }] }],
    initializer: [
      { name: 'trip', dataType: INT64, dims: [], int64Data: [iterations] },
      { name: 'keep_going', dataType: BOOL, dims: [], int32Data: [1] },
    ],
    input: [{ name: 'x', type: tensorType(FLOAT, [1]) }],
    output: [{ name: 'y', type: tensorType(FLOAT, [1]) }],
  });
}

function writeOnnx(name: string, graph: Record<string, unknown>): string {
  const { onnx } = onnxProto;
  const model = onnx.ModelProto.encode(onnx.ModelProto.fromObject({ irVersion: 8, producerName: 'eformer-test', opsetImport: [{ domain: '', version: 17 }], graph })).finish();
  const path = join(work, name);
  writeFileSync(path, model);
  return path;
}

/** A PNG of one colour, `width` x `height` (a 1x1,000,000 one is 4 KB). */
export async function flatPng(name: string, width: number, height: number): Promise<string> {
  const path = join(work, name);
  await sharp({ create: { width, height, channels: 3, background: { r: 200, g: 100, b: 50 } } }).png().toFile(path);
  return path;
}
