/**
 * --backend litert: eformer's .tflite run for real in LiteRT's Python runtime (ai-edge-litert 2.3.0 in
 * .eformer/venv), one worker timing each invoke() inside itself; and the worker's protocol, its
 * failures and its end, with stand-in workers where a real one cannot be made to fail.
 */
import { execa } from 'execa';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LitertWorker, WorkerRequestError } from '../src/backends/litert/worker.js';
import { buildWithRandomWeights, profile, tfliteBytes } from '../src/index.js';
import { cliWith, expectOneLine } from './fakes.js';
import { cli, root, tempDir } from './helpers.js';

const PYTHON = join(root, '.eformer/venv/bin/python');

/** A stand-in for Python: `-c` (eformer asking for the version) goes to the system Python, anything else runs `worker`, a Python program that plays the worker. */
function fakePython(worker: string): string {
  const dir = tempDir('eformer-fake-python-');
  writeFileSync(join(dir, 'worker.py'), worker);
  const path = join(dir, 'python');
  writeFileSync(path, `#!/bin/sh\nif [ "$1" = "-c" ]; then exec /usr/bin/python3 "$@"; fi\nexec /usr/bin/python3 ${join(dir, 'worker.py')}\n`);
  chmodSync(path, 0o755);
  return path;
}

/** The worker's side of the protocol, with `onRun` (Python) answering a run request. */
const playWorker = (onRun: string, onOpen = "reply({'id': r['id'], 'ok': True, 'handle': 1, 'inputs': []})") => `
import json, os, signal, sys
def reply(m):
    sys.stdout.write(json.dumps(m) + '\\n'); sys.stdout.flush()
reply({'ready': True, 'litert': '2.3.0', 'python': '3'})
for line in sys.stdin:
    r = json.loads(line)
    if r['op'] == 'open':
        ${onOpen}
    elif r['op'] == 'run':
        ${onRun}
    else:
        reply({'id': r['id'], 'ok': True})
`;

describe('litert: real runs in LiteRT', () => {
  it('interleaves two models run by run, records the threads, and writes a file report and gate read', async () => {
    const json = join(tempDir(), 'litert.json');
    const r = await cli('profile', '-b', 'litert', '-m', 'mobilenetv2_100,efficientformerv2_s0', '-r', '96', '--runs', '4', '--warmup', '1', '--threads', '1', '--no-single-session', '--json', json, '--quiet');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const file = JSON.parse(readFileSync(json, 'utf8'));
    expect(file.env).toMatchObject({ ai_edge_litert: '2.3.0', threads: '1' });
    for (const result of file.results) {
      expect(result).toMatchObject({ backend: 'litert', runs: 4, resolution: 96, settings: { threads: 1, execution_provider: 'cpu', interleaved: true } });
      expect(result.latency_ms.samples).toHaveLength(4);
      expect(result.latency_ms.samples.every((ms: number) => ms > 0)).toBe(true);
      // A cold process per model: its load, first run and the memory it held beyond its start (at least the weights).
      expect(result.load_ms).toBeGreaterThan(0);
      expect(result.first_run_ms).toBeGreaterThan(0);
      expect(result.model_bytes).toBeGreaterThan(1e6);
      expect(result.memory_mb.peak * 2 ** 20).toBeGreaterThan(result.model_bytes);
      expect(result.absent).toBeUndefined();
    }
    const report = await cli('report', json, '-f', 'csv');
    expect(report.code, report.stderr).toBe(0);
    expect(report.stdout).toMatch(/,mobilenetv2_100,litert,96,/);
    const gated = await cli('gate', '--baseline', json, '--current', json);
    expect(gated.code, gated.stderr).toBe(0);
  });

  it('takes turns with the loop every session backend shares: each round visits both models, the first rotating', async () => {
    const order: string[] = [];
    await profile({ backend: 'litert', models: ['mobilenetv2_100', 'efficientformerv2_s0'], resolution: 64, threads: 1, plan: { runs: 3, warmup: 1 }, singleSession: false, progress: (e) => e.phase === 'measure' && order.push(e.id) });
    const [a, b] = ['mobilenetv2_100', 'efficientformerv2_s0'];
    expect(order).toEqual([a, b, b, a, a, b]);
  });

  it('what LiteRT has no notion of is refused before anything runs (exit 2)', async () => {
    for (const [args, says] of [
      [['--ep', 'gpu'], "litert runs LiteRT's CPU path (XNNPACK), --ep cpu"],
      [['--graph-opt', 'basic'], '--graph-opt is an onnxruntime setting'],
      [['--breakdown'], '--breakdown is not available on litert'],
    ] as const) {
      const r = await cli('profile', '-b', 'litert', '-m', 'mobilenetv2_100', '-r', '64', '--runs', '2', '--quiet', ...args);
      expect(r.code, r.stderr).toBe(2);
      expectOneLine(r.stderr, says);
    }
  });
});

describe('litert: latency tables, prediction and search run on it unchanged', () => {
  it('lut build times every block as .tflite, then predict-latency and search --verify use the table', async () => {
    const dir = tempDir();
    const space = join(dir, 'space.json');
    writeFileSync(space, JSON.stringify({ family: 'efficientformerv2', resolution: 64, stages: [{ widths: [16], depths: [1], ratios: [4] }, { widths: [16], depths: [1], ratios: [4] }, { widths: [32], depths: [1], ratios: [4] }, { widths: [32], depths: [1], ratios: [4] }], attention: [0] }));
    const lut = join(dir, 'lut.json');
    const built = await cli('lut', 'build', '--family', 'efficientformerv2', '--space', space, '-b', 'litert', '-t', '1', '--runs', '2', '--training', '2', '-o', lut, '-q');
    expect(built.code, built.stderr).toBe(0);
    expect(built.stdout.replace(/\n/g, ' ')).toMatch(/blocks of efficientformerv2 at 64x64 on litert/);
    const table = JSON.parse(readFileSync(lut, 'utf8'));
    expect(table.backend).toBe('litert');
    expect(table.entries.every((e: { ratio: number }) => e.ratio > 0)).toBe(true);
    const config = join(dir, 'point.json');
    writeFileSync(config, JSON.stringify({ family: 'efficientformerv2', resolution: 64, config: { widths: [16, 16, 32, 32], depths: [1, 1, 1, 1], vitNum: 0, expansionRatios: [[4], [4], [4], [4]] } }));
    const predicted = await cli('predict-latency', '--lut', lut, '--config', config);
    expect(predicted.code, predicted.stderr).toBe(0);
    expect(predicted.stdout.replace(/\n/g, ' ')).toMatch(/on litert: predicted \d+\.\d{3} ms/);
    const searched = await cli('search', '--lut', lut, '--budget-ms', '1000', '-k', '1', '--verify', '-o', join(dir, 'search'));
    expect(searched.code, searched.stderr).toBe(0);
    expect(searched.stdout).toMatch(/measured on litert/);
  });
});

describe('litert: the worker protocol', () => {
  it('opens a model eformer wrote, times runs inside the worker, closes it, and names what it cannot do', async () => {
    const dir = tempDir();
    const model = join(dir, 'm.tflite');
    writeFileSync(model, tfliteBytes(buildWithRandomWeights({ model: 'mobilenetv2_100', resolution: 64 })).bytes);
    const worker = new LitertWorker(PYTHON, 'the test venv');
    try {
      expect(await worker.started()).toMatchObject({ litert: '2.3.0' });
      const opened = await worker.request({ op: 'open', path: model, threads: 1 });
      expect(opened.inputs).toEqual([{ name: 'image', shape: [1, 64, 64, 3], dtype: 'float32' }]);
      const run = await worker.request({ op: 'run', handle: opened.handle, count: 3 });
      expect(run.ns).toHaveLength(3);
      expect((run.ns as number[]).every((ns) => Number.isInteger(ns) && ns > 0)).toBe(true);
      await worker.request({ op: 'close', handle: opened.handle });
      await expect(worker.request({ op: 'run', handle: opened.handle })).rejects.toThrow(WorkerRequestError);
      // Not a .tflite: LiteRT's own refusal, as one line, marked as a load failure.
      const bogus = join(dir, 'bogus.tflite');
      writeFileSync(bogus, 'not a flatbuffer at all, just text');
      const refused = await worker.request({ op: 'open', path: bogus, threads: 1 }).catch((e) => e);
      expect(refused).toBeInstanceOf(WorkerRequestError);
      expect(refused.load).toBe(true);
      expect(refused.message).not.toMatch(/\n/);
    } finally {
      await worker.stop();
    }
  });

  it('a worker that prints anything but its protocol is refused in one line', async () => {
    const worker = new LitertWorker(fakePython("print('hello from a sitecustomize')"), 'a stand-in');
    await expect(worker.started()).rejects.toThrow(/printed something that is not its protocol: "hello from a sitecustomize"/);
    await worker.stop();
  });

  it('a Python without ai-edge-litert: exit 3, saying to run eformer setup litert', async () => {
    const r = await cliWith({ EFORMER_PYTHON: '/usr/bin/python3' }, 'profile', '-b', 'litert', '-m', 'mobilenetv2_100', '--runs', '2', '--quiet');
    expect(r.code).toBe(3);
    expectOneLine(r.stderr, "LiteRT's Python runtime (ai-edge-litert) is not installed for the Python from $EFORMER_PYTHON", "run 'eformer setup litert'");
  });

  it('a worker that crashes mid-run: exit 3, one line with what it last said', async () => {
    const crash = playWorker("sys.stderr.write('Fatal Python error: Segmentation fault\\n'); sys.stderr.flush(); os.kill(os.getpid(), signal.SIGSEGV)");
    const r = await cliWith({ EFORMER_PYTHON: fakePython(crash) }, 'profile', '-b', 'litert', '-m', 'mobilenetv2_100', '-r', '64', '--runs', '2', '--quiet');
    expect(r.code).toBe(3);
    expectOneLine(r.stderr, "LiteRT's worker", 'was killed by SIGSEGV: Fatal Python error: Segmentation fault');
  });

  it('LiteRT refusing an op of the model: one line naming the model and the op (exit 3 for a runtime without the op)', async () => {
    const refuse = playWorker("pass", "reply({'id': r['id'], 'ok': False, 'load': True, 'op': 'GELU', 'error': \"Didn't find op for builtin opcode 'GELU' version '2'. An older version of this builtin might be supported.\"})");
    const r = await cliWith({ EFORMER_PYTHON: fakePython(refuse) }, 'profile', '-b', 'litert', '-m', 'mobilenetv2_100', '-r', '64', '--runs', '2', '--quiet');
    expect(r.code).toBe(3);
    expectOneLine(r.stderr, "LiteRT cannot load mobilenetv2_100: op GELU: Didn't find op for builtin opcode 'GELU' version '2'", "install the pinned runtime with 'eformer setup litert'");
  });
});

describe('litert: Ctrl-C', () => {
  it('ends the worker (its whole process group) with eformer', async () => {
    const child = execa('node', [join(root, 'bin/eformer.js'), 'profile', '-b', 'litert', '-m', 'mobilenetv2_100', '--runs', '10000', '--warmup', '1', '--no-single-session', '--quiet'], { reject: false, cwd: root });
    // The worker is the child of eformer's node process that runs litert_worker.py: wait for it to be timing.
    const workerPid = async (): Promise<number | undefined> => {
      const { stdout } = await execa('ps', ['-o', 'pid=,args=', '--ppid', String(child.pid)], { reject: false });
      return stdout.split('\n').map((l) => l.trim().split(/\s+/)).find((f) => f.some((a) => a.endsWith('litert_worker.py')))?.map(Number)[0];
    };
    let pid: number | undefined;
    for (let i = 0; i < 600 && !pid; i++) {
      pid = await workerPid();
      if (!pid) await new Promise((r) => setTimeout(r, 100));
    }
    expect(pid, 'the worker never started').toBeDefined();
    // Let it get into the timing loop, then interrupt eformer as a terminal would.
    await new Promise((r) => setTimeout(r, 1500));
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(130);
    const alive = () => existsSync(`/proc/${pid}`) && !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    for (let i = 0; i < 100 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
    expect(alive(), `worker ${pid} outlived eformer`).toBe(false);
  });
});
