/**
 * The programs eformer runs (python, adb, xcrun, chromium) misbehaving: missing, crashing, hanging,
 * printing nothing or garbage, leaving children behind. Each outcome has one meaning: the tool
 * failing is exit 3 with one line naming it and what happened; only the tool saying the input is
 * bad is exit 2; a failed check exit 1. Fakes are shell scripts put first on PATH (or named by
 * $EFORMER_PYTHON / $CHROMIUM_PATH), written by hand here: they stand for a broken installation,
 * not for a real tool's output (that is fixtures/real/).
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliWith } from '../fakes.js';
import { root, tempDir } from '../helpers.js';

/** A folder of executable shell scripts, by name; PATH with it first. */
function fakeBin(scripts: Record<string, string>): { bin: string; env: Record<string, string> } {
  const bin = join(tempDir('eformer-bin-'), 'bin');
  mkdirSync(bin);
  for (const [name, body] of Object.entries(scripts)) {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  }
  return { bin, env: { PATH: `${bin}:/usr/bin:/bin` } };
}

/** One line on stderr, `eformer: ...`, matching every pattern. */
function oneLine(stderr: string, ...patterns: RegExp[]) {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^eformer: /);
  for (const p of patterns) expect(lines[0]).toMatch(p);
}

/** Whether a process is alive (signal 0 probes without signalling). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Wait (bounded) until `check` holds; the tests assert on the outcome, never on the time taken. */
async function eventually(check: () => boolean, seconds = 10): Promise<boolean> {
  for (let i = 0; i < seconds * 20; i++) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

const realListing = (file: string) => readFileSync(join(root, 'fixtures/real/adb', file), 'utf8').split('\n').slice(1).join('\n');

describe('eformer devices: adb that is there but misbehaves is exit 3, saying so', () => {
  it('adb killed by SIGSEGV: exit 3 naming the crash (was "neither xcrun nor adb is available")', async () => {
    const { env } = fakeBin({ adb: 'kill -SEGV $$' });
    const r = await cliWith(env, 'devices');
    expect(r.code).toBe(3);
    oneLine(r.stderr, /cannot list android devices/, /adb was killed by SIGSEGV/);
  });

  it('a hanging adb is stopped after --timeout, its children with it: exit 3', async () => {
    const pidFile = join(tempDir(), 'sleeper.pid');
    // The listing hangs in a child of adb (as adb's own server start can), not in adb itself.
    const { env } = fakeBin({ adb: `sleep 300 & echo $! > ${pidFile}; wait` });
    const r = await cliWith(env, 'devices', '--timeout', '1');
    expect(r.code).toBe(3);
    oneLine(r.stderr, /adb: list devices: timed out after 1 s/);
    const sleeper = Number(readFileSync(pidFile, 'utf8'));
    expect(await eventually(() => !alive(sleeper))).toBe(true);
  });

  it('garbage after the header: exit 3 naming the line (was "no devices connected", exit 0)', async () => {
    const { env } = fakeBin({ adb: `printf 'List of devices attached\\n%%%% not a device %%%%\\n'` });
    const r = await cliWith(env, 'devices');
    expect(r.code).toBe(3);
    oneLine(r.stderr, /cannot read this line of adb's device list: '%% not a device %%'/);
  });

  it('output without adb\'s header: exit 3', async () => {
    const { env } = fakeBin({ adb: 'echo hello' });
    const r = await cliWith(env, 'devices');
    expect(r.code).toBe(3);
    oneLine(r.stderr, /adb printed no device list: 'hello'/);
  });

  it('xcrun printing garbage: exit 3 naming it (was "no devices connected", exit 0)', async () => {
    const { env } = fakeBin({ xcrun: 'echo "xcrun: error: unable to find utility xctrace, not a developer tool or in PATH?"; exit 0' });
    const r = await cliWith(env, 'devices');
    expect(r.code).toBe(3);
    oneLine(r.stderr, /cannot list apple devices: Xcode: list devices: xctrace printed no device list: 'xcrun: error: unable to find utility xctrace/);
  });

  it('a Mac\'s adb listing with a bare device path shows the phone (was dropped)', async () => {
    const listing = realListing('devices-l-macos-libusb-bare-devpath.txt');
    const { env } = fakeBin({
      adb: `case "$1" in devices) printf 'List of devices attached\\n%s\\n' '${listing.trim()}';; -s) echo '[ro.product.model]: [Pixel 2 XL]'; echo '[ro.build.version.release]: [11]';; esac`,
    });
    const r = await cliWith(env, 'devices', '--json');
    expect(r.code, r.stderr).toBe(0); // xcrun is missing here: only adb's listing counts
    const android = JSON.parse(r.stdout).find((l: { platform: string }) => l.platform === 'android');
    expect(android.devices).toMatchObject([{ id: '802KPAE1577008', name: 'Pixel 2 XL', state: 'device', os: 'Android 11' }]);
  });
});

/** An $EFORMER_PYTHON: a shell script answering the version check like Python 3, then `body` for the scripts. */
function fakePython(body: string): string {
  const path = join(tempDir('eformer-python-'), 'python');
  writeFileSync(path, `#!/bin/sh\ncase "$1" in -c) echo 3.11.7; exit 0;; esac\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}
const venvPython = join(root, '.eformer/venv/bin/python');
const exportCoreml = (python: string, dir: string, ...more: string[]) =>
  cliWith({ PATH: process.env.PATH!, EFORMER_PYTHON: python }, 'export', '-m', 'mobilenetv2_100', '--coreml', '-o', dir, ...more);

describe('the Core ML bridge: a Python that gives no answer is the tool failing (exit 3)', () => {
  it('exits 0 without writing the package or its report: exit 3 naming the Python (was 70)', async () => {
    const python = fakePython('exit 0');
    const r = await exportCoreml(python, tempDir());
    expect(r.code).toBe(3);
    oneLine(r.stderr, /the Core ML bridge exited 0 but wrote neither the package nor its report/, new RegExp(python.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));
  });

  it('a program that is not Python at all (/bin/true): exit 3 before any work', async () => {
    const r = await exportCoreml('/bin/true', tempDir());
    expect(r.code).toBe(3);
    oneLine(r.stderr, /\$EFORMER_PYTHON \(\/bin\/true\) is not Python 3: it ran but printed nothing for its version/);
  });

  it('killed by SIGSEGV: exit 3 (was 2)', async () => {
    const r = await exportCoreml(fakePython('kill -SEGV $$'), tempDir());
    expect(r.code).toBe(3);
    oneLine(r.stderr, /the Core ML bridge: Python .* was killed by SIGSEGV; nothing was written/);
  });

  it('a wrapper script whose Python child segfaults (the shell reports 139): exit 3 (was 70)', async () => {
    const r = await exportCoreml(fakePython('sh -c \'kill -SEGV $$\'; exit $?'), tempDir());
    expect(r.code).toBe(3);
    oneLine(r.stderr, /exited with 139 \(killed by SIGSEGV\)/);
  });

  it('a wrapper whose shell cannot find python (127): exit 3', async () => {
    const r = await exportCoreml(fakePython('/nonexistent/python3 "$@"'), tempDir());
    expect(r.code).toBe(3);
    oneLine(r.stderr, /exited with 127 \(its shell could not run a program\)/);
  });

  it('the interpreter printing something other than its report: exit 3 (was 70)', async () => {
    // The conversion is real; only the MIL interpreter's run answers with noise.
    const python = fakePython(`case "$1" in *mil_interpreter.py) echo 'Segmentation fault (core dumped)?'; exit 0;; esac\nexec ${venvPython} "$@"`);
    const r = await exportCoreml(python, tempDir(), '--verify');
    expect(r.code).toBe(3);
    oneLine(r.stderr, /the Core ML check \(MIL interpreter\) exited 0 without its report \(it printed 'Segmentation fault \(core dumped\)\?'\)/);
  });
});

describe('a wrapper-script Python does not outlive eformer', () => {
  /** A wrapper that starts a long-running Python stand-in as its child and waits for it. */
  function wrapper() {
    const pidFile = join(tempDir(), 'grandchild.pid');
    return { pidFile, python: fakePython(`sleep 300 & echo $! > ${pidFile}\nwait`) };
  }
  const grandchild = (pidFile: string) => Number(readFileSync(pidFile, 'utf8'));

  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`${signal} to eformer during the conversion: exit ${code}, and the wrapper's child is gone`, async () => {
      const { pidFile, python } = wrapper();
      const child = spawn(process.execPath, [join(root, 'bin/eformer.js'), 'export', '-m', 'mobilenetv2_100', '--coreml', '-o', tempDir()], {
        cwd: root,
        env: { PATH: process.env.PATH, EFORMER_PYTHON: python },
        stdio: 'ignore',
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      expect(await eventually(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', 60)).toBe(true);
      const sleeper = grandchild(pidFile);
      expect(alive(sleeper)).toBe(true);
      child.kill(signal);
      expect(await exited).toBe(code);
      expect(await eventually(() => !alive(sleeper))).toBe(true);
    });
  }

  it('--timeout: the whole group is stopped, exit 3', async () => {
    const { pidFile, python } = wrapper();
    const r = await exportCoreml(python, tempDir(), '--timeout', '2');
    expect(r.code).toBe(3);
    oneLine(r.stderr, /the Core ML bridge: Python .* timed out after 2 s/);
    expect(await eventually(() => !alive(grandchild(pidFile)))).toBe(true);
  });
});

describe('reading folders: every entry of a calibration folder is read or refused, never a crash', () => {
  const image = join(root, 'fixtures/images/gradient.png');
  /** A calibration folder with one real image and whatever `add` puts beside it. */
  function calibFolder(add: (dir: string) => void): string {
    const dir = join(tempDir(), 'calib');
    mkdirSync(dir);
    symlinkSync(image, join(dir, 'a.png'));
    add(dir);
    return dir;
  }
  const exportInt8 = (calib: string) => cliWith({ PATH: process.env.PATH! }, 'export', '-m', 'mobilenetv2_100', '--onnx', '--int8', '--calib', calib, '-o', tempDir());

  it('a dangling symbolic link: exit 2 naming it (was 70)', async () => {
    const r = await exportInt8(calibFolder((dir) => symlinkSync(join(dir, 'gone.png'), join(dir, 'b.png'))));
    expect(r.code).toBe(2);
    oneLine(r.stderr, /calibration folder '.*calib': 'b\.png' is a symbolic link to '.*gone\.png', which does not exist/);
  });

  it('a symbolic link loop: exit 2 naming it (was 70)', async () => {
    const r = await exportInt8(calibFolder((dir) => symlinkSync('b.png', join(dir, 'b.png'))));
    expect(r.code).toBe(2);
    oneLine(r.stderr, /'b\.png' is a symbolic link loop/);
  });

  it('a FIFO among the images: exit 2 (was skipped without a word)', async () => {
    const r = await exportInt8(calibFolder((dir) => execFileSync('mkfifo', [join(dir, 'b.png')])));
    expect(r.code).toBe(2);
    oneLine(r.stderr, /'b\.png' is a FIFO, not a file/);
  });

  it('a link to an image outside the folder is followed (a folder of links into a dataset is ordinary)', async () => {
    // a.png itself links out of the folder; a subfolder is not searched.
    const r = await exportInt8(calibFolder((dir) => mkdirSync(join(dir, 'sub'))));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/calibrated on 1 image/);
  });

  it('a package holding a link loop is measured without following it (was 70)', async () => {
    const report = JSON.stringify({ format: 'mlprogram', precision: 'fp16', input_type: 'image', coremltools: '9.0', ops: {}, inputs: [{ name: 'image', type: 'image' }], outputs: [{ name: 'logits', type: 'tensor' }], verified: true });
    // A bridge that writes its package (with a link to itself inside) and its report, and exits 0.
    const python = fakePython(
      `while [ $# -gt 0 ]; do case "$1" in --out) out="$2";; --report) rep="$2";; esac; shift; done\nmkdir -p "$out" && ln -s . "$out/loop" && echo x > "$out/Manifest.json" && printf '%s' '${report}' > "$rep"`,
    );
    const dir = tempDir();
    const r = await exportCoreml(python, dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/wrote .*mobilenetv2_100\.mlpackage/);
  });
});

describe('ort-web under load: Chromium failing is exit 3 with one line, and no step waits forever', () => {
  const web = (env: Record<string, string>, ...more: string[]) =>
    cliWith({ ...(process.env as Record<string, string>), ...env }, 'profile', '-b', 'ort-web', '-m', 'mobilenetv2_100', '--runs', '5', '--warmup', '2', ...more);

  it('a Chromium that exits at once: exit 3 naming it (a fake browser)', async () => {
    const { bin } = fakeBin({ chromium: 'echo "cannot open display" >&2; exit 1' });
    const r = await web({ CHROMIUM_PATH: join(bin, 'chromium') });
    expect(r.code).toBe(3);
    oneLine(r.stderr, /ort-web: Chromium \(.*chromium\) did not start/);
  });

  it('a Chromium that never starts: stopped after --timeout, exit 3', async () => {
    const { bin } = fakeBin({ chromium: 'sleep 300' });
    const r = await web({ CHROMIUM_PATH: join(bin, 'chromium') }, '--timeout', '3');
    expect(r.code).toBe(3);
    oneLine(r.stderr, /did not start: .*Timeout 3000ms exceeded/);
  });

  // The faults below are injected through $EFORMER_TEST_ORT_WEB_FAULT, a test-only hook in the backend.
  it('a page that crashes once is opened again, and the run completes', async () => {
    const r = await web({ EFORMER_TEST_ORT_WEB_FAULT: 'crash-once' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/mobilenetv2_100/);
  });

  it('a page that crashes every time: exit 3 after one retry, one line (was a 300 s hang)', async () => {
    const r = await web({ EFORMER_TEST_ORT_WEB_FAULT: 'crash' });
    expect(r.code).toBe(3);
    oneLine(r.stderr, /Chromium's page crashed while opening mobilenetv2_100 on ort-web .*Page crashed.*\(twice/);
  });

  it('a failed page load (net::ERR_ABORTED) is the tool failing: exit 3 (was 2, "cannot run")', async () => {
    const r = await web({ EFORMER_TEST_ORT_WEB_FAULT: 'abort' });
    expect(r.code).toBe(3);
    oneLine(r.stderr, /Chromium failed to load eformer's page for mobilenetv2_100 on ort-web \(.*net::ERR_ABORTED/);
  });

  it('an inference that never returns: stopped after --timeout, exit 3', async () => {
    const r = await web({ EFORMER_TEST_ORT_WEB_FAULT: 'hang' }, '--timeout', '5');
    expect(r.code).toBe(3);
    oneLine(r.stderr, /Chromium's page for mobilenetv2_100 on ort-web hung: an inference did not finish in 5 s/);
  });
});

describe('ONNX files with external data, and onnxruntime\'s own log lines', () => {
  /**
   * Small models written by onnx's Python in .eformer/venv: `y = x @ w` with w (3x4, 0..11) in
   * `model.onnx.data` beside the model, variants whose reference to it is broken, and a Reshape that
   * fails at run time.
   */
  async function models(): Promise<string> {
    const dir = tempDir('eformer-external-');
    const script = `
import sys, numpy as np, onnx
from onnx import helper, TensorProto, numpy_helper
d = sys.argv[1]
def matmul(name, data, **edit):
    w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(3, 4), 'w')
    g = helper.make_graph([helper.make_node('MatMul', ['x', 'w'], ['y'])], 'g', [helper.make_tensor_value_info('x', TensorProto.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info('y', TensorProto.FLOAT, [2, 4])], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 17)])
    m.ir_version = 8
    onnx.save_model(m, f'{d}/{name}.onnx', save_as_external_data=True, all_tensors_to_one_file=True, location=data, size_threshold=0)
    m = onnx.load(f'{d}/{name}.onnx', load_external_data=False)
    for e in m.graph.initializer[0].external_data:
        if e.key in edit: e.value = edit[e.key]
    onnx.save_model(m, f'{d}/{name}.onnx')
matmul('model', 'model.onnx.data')
matmul('short', 'short.data', length='44')
matmul('beyond', 'beyond.data', offset='40')
matmul('missing', 'missing.data')
import os; os.remove(f'{d}/missing.data')
matmul('escape', 'escape.data', location='../escape.data')
s = numpy_helper.from_array(np.array([5], dtype=np.int64), 's')
g = helper.make_graph([helper.make_node('Reshape', ['x', 's'], ['y'])], 'g', [helper.make_tensor_value_info('x', TensorProto.FLOAT, [2, 3])],
                      [helper.make_tensor_value_info('y', TensorProto.FLOAT, None)], [s])
m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 17)])
m.ir_version = 8
onnx.save_model(m, f'{d}/fails-at-run.onnx')
`;
    execFileSync(venvPython, ['-c', script, dir], { stdio: 'ignore' });
    return dir;
  }
  const profileOnnx = (file: string) => cliWith({ PATH: process.env.PATH! }, 'profile', '--onnx', file, '--runs', '5', '--warmup', '2');

  it('the data is read from the model\'s folder, not the current one (was: "escapes working directory", exit 2)', async () => {
    const dir = await models();
    const r = await profileOnnx(join(dir, 'model.onnx'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^model\s/m);
    // The values are the file's: x @ w for x = ones.
    const { loadOnnxFile, runOnnx } = await import('../../src/index.js');
    const source = loadOnnxFile(join(dir, 'model.onnx'));
    const { y } = await runOnnx(source.onnx, { x: { data: new Float32Array(6).fill(1), shape: [2, 3] } });
    expect([...y]).toEqual([12, 15, 18, 21, 12, 15, 18, 21]);
  });

  it.each([
    ['escape', /initializer 'w': its data file '\.\.\/escape\.data' is outside the model's folder/],
    ['missing', /initializer 'w': cannot read its data file 'missing\.data' beside the model: ENOENT/],
    ['short', /initializer 'w': 44 bytes in 'short\.data' for a tensor of shape \[3, 4\] that needs 48/],
    ['beyond', /initializer 'w': bytes 40 to 88 of 'beyond\.data' are asked for, but it holds 48/],
  ])('a broken reference (%s) is bad input: exit 2, one line naming it', async (name, line) => {
    const dir = await models();
    const r = await profileOnnx(join(dir, `${name}.onnx`));
    expect(r.code).toBe(2);
    oneLine(r.stderr, line);
  });

  it("onnxruntime's coloured error log does not come before eformer's line (only --verbose shows it)", async () => {
    const dir = await models();
    const r = await profileOnnx(join(dir, 'fails-at-run.onnx'));
    expect(r.code).toBe(2);
    oneLine(r.stderr, /fails-at-run rejects input x=2x3: Non-zero status code returned while running Reshape node/);
    expect(r.stderr).not.toContain('\x1b[');
  });
});

describe('git, asked for the commit the results were measured at', () => {
  it('a git that prints something other than a commit id is not recorded as one', async () => {
    const { env } = fakeBin({ git: 'echo "\\033]0;pwned\\007 not a commit"' });
    const json = join(tempDir(), 'r.json');
    const r = await cliWith({ ...env, PATH: `${env.PATH}:${process.env.PATH}` }, 'profile', '-m', 'mobilenetv2_100', '--runs', '5', '--warmup', '2', '--json', json);
    expect(r.code, r.stderr).toBe(0);
    const recorded = JSON.parse(readFileSync(json, 'utf8')).env;
    expect(recorded).not.toHaveProperty('git_commit');
  });
});
