/**
 * What eformer reads from and writes to disk, and what an interruption leaves behind:
 * - every output of every command is checked before any work, and what the check accepts the
 *   write creates (missing folders are made); no output may be an input or another output;
 * - temp files are created exclusively under names no one can guess, and a symlink planted at
 *   any name (the old scheme's, or the output's own) is never written through;
 * - inputs are regular files of bounded size, refused in one line naming the flag and the file;
 * - an interruption at any moment leaves no temp file and no folder the run made, and says so
 *   on the first line of stderr; onnxruntime leaves no log of its own behind.
 */
import { execSync } from 'node:child_process';
import { existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { ortCpu } from '../../src/backends/ort-cpu/index.js';
import { main } from '../../src/cli/main.js';
import { MissingToolError } from '../../src/core/errors.js';
import { removeTracked, writeFileAtomicAsync } from '../../src/core/fs.js';
import { cliWith } from '../fakes.js';
import { root, SMALL_SPACE, tempDir } from '../helpers.js';
import { again, file, good, hf, interrupt, mobilenet, results } from './inputs.js';

const env = process.env as Record<string, string>;
const run = (args: string[], extra: Record<string, string> = {}) => cliWith({ ...env, ...extra }, ...args);
/** The quickest real measurement. */
const QUICK = ['-m', 'mobilenetv2_100', '--runs', '2', '--warmup', '1', '--no-single-session', '--quiet'];
/** The smallest trained model predict can run (a Hugging Face EfficientFormer folder). */
const TINY = ['--hf-config', join(root, 'fixtures/checkpoints/v1_tiny_hf/config.json'), '--ckpt', join(root, 'fixtures/checkpoints/v1_tiny_hf/model.safetensors')];
/** A checkpoint that is refused while the work runs: an error about it means the work started before the output was checked. */
const EVIL = join(root, 'fixtures/checkpoints/evil.pth');
const fifo = (path: string) => {
  execSync(`mkfifo '${path}'`);
  return path;
};

/** Exit 2 and exactly one line on stderr, matching `line`. */
function refused(r: { code: number; stderr: string }, line: RegExp) {
  expect(r.code, r.stderr).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines, 'one line on stderr').toHaveLength(1);
  expect(lines[0]).toMatch(/^eformer: /);
  expect(lines[0]).toMatch(line);
}

let dir: string;
/** A small latency table (efficientformerv2 at 64x64), for search. */
let lut: string;
const space = () => file(`space-${Math.random().toString(36).slice(2)}.json`, JSON.stringify(SMALL_SPACE));

beforeAll(async () => {
  dir = tempDir('eformer-files-');
  lut = join(dir, 'lut.json');
  const r = await run(['lut', 'build', '--family', 'efficientformerv2', '--space', space(), '--runs', '1', '--training', '0', '-o', lut, '-q']);
  expect(r.code, r.stderr).toBe(0);
}, 120_000);

describe('results are never lost: what the up-front check accepts, the write creates', () => {
  // Each output in a folder that does not exist yet: made at write time, after the measuring.
  const CASES: [string, (d: string) => string[], (d: string) => string[], Record<string, (d: string) => string>?][] = [
    ['profile --json res/bd.json', (d) => ['profile', ...QUICK, '--json', join(d, 'res/bd.json')], (d) => [join(d, 'res/bd.json')]],
    ['lut build -o nodir/v2.json', (d) => ['lut', 'build', '--family', 'efficientformerv2', '--space', space(), '--runs', '1', '--training', '0', '-q', '-o', join(d, 'nodir/v2.json')], (d) => [join(d, 'nodir/v2.json')]],
    ['report -o new/r.html', (d) => ['report', good, '-o', join(d, 'new/r.html')], (d) => [join(d, 'new/r.html')]],
    ['report merge --out new/all.json', (d) => ['report', 'merge', good, file('other.json', results((r) => (r.model = 'efficientformer_l3'))), '--out', join(d, 'new/all.json')], (d) => [join(d, 'new/all.json')]],
    [
      'gate --junit, --verdict, --markdown and $GITHUB_STEP_SUMMARY in new folders',
      (d) => ['gate', '--baseline', good, '--current', again, '--raw-medians', '--junit', join(d, 'a/j.xml'), '--verdict', join(d, 'b/c/v.json'), '--markdown', join(d, 'm/m.md')],
      (d) => [join(d, 'a/j.xml'), join(d, 'b/c/v.json'), join(d, 'm/m.md'), join(d, 's/summary.md')],
      { GITHUB_STEP_SUMMARY: (d) => join(d, 's/summary.md') },
    ],
    ['search -o new/dir', (d) => ['search', '--lut', lut, '--budget-ms', '100', '-o', join(d, 'new/dir')], (d) => [join(d, 'new/dir/search.json')]],
    ['export -o new/sub', (d) => ['export', '-m', 'mobilenetv2_100', '--onnx', '-o', join(d, 'new/sub')], (d) => [join(d, 'new/sub/mobilenetv2_100.onnx')]],
  ];
  it.each(CASES.map((c) => [c[0], c] as const))('%s', async (_, [, args, written, extra]) => {
    const d = tempDir();
    const r = await run(args(d), Object.fromEntries(Object.entries(extra ?? {}).map(([k, f]) => [k, f(d)])));
    expect(r.code, r.stderr).toBe(0);
    for (const path of written(d)) expect(existsSync(path), path).toBe(true);
  }, 60_000);

  // What the final write would trip over is refused before the work: the line is about the output, not about the checkpoint (or space) the work would read.
  const long = `${'x'.repeat(300)}.json`;
  const BAD: [string, (d: string) => string[], RegExp][] = [
    ['profile --json with a name longer than the file system takes', (d) => ['profile', ...QUICK, '--ckpt', EVIL, '--json', join(d, long)], /cannot write --json .*longer than 255 bytes/],
    ['profile --json at a FIFO', (d) => ['profile', ...QUICK, '--ckpt', EVIL, '--json', fifo(join(d, 'p.json'))], /--json '.*p\.json' is a FIFO/],
    [
      'profile --json under a broken symlink',
      (d) => {
        symlinkSync(join(d, 'nowhere'), join(d, 'dangling'));
        return ['profile', ...QUICK, '--ckpt', EVIL, '--json', join(d, 'dangling/p.json')];
      },
      /cannot write --json .*dangling' is a broken symbolic link/,
    ],
    ['lut build -o with a name too long', (d) => ['lut', 'build', '--family', 'efficientformerv2', '--space', join(d, 'missing-space.json'), '-o', join(d, long)], /cannot write --out .*longer than 255 bytes/],
    ['report -o at a FIFO', (d) => ['report', good, '-o', fifo(join(d, 'r.html'))], /--out '.*r\.html' is a FIFO/],
    ['gate --junit at a FIFO', (d) => ['gate', '--baseline', good, '--current', again, '--junit', fifo(join(d, 'j.xml'))], /--junit '.*j\.xml' is a FIFO/],
  ];
  it.each(BAD.map((c) => [c[0], c] as const))('refused before any work: %s', async (_, [, args, line]) => {
    refused(await run(args(tempDir())), line);
  });

  it('search -o DIR whose search.json is a folder: refused before a configuration is written', async () => {
    const d = tempDir();
    mkdirSync(join(d, 'search.json'));
    refused(await run(['search', '--lut', lut, '--budget-ms', '100', '-o', d]), /--out '.*search\.json' is a folder/);
    expect(readdirSync(d)).toEqual(['search.json']);
  });
});

/**
 * `eformer ARGS` in this process, with ort-cpu's open() replaced by `open` (which may wrap the real
 * one, passed in): the exit code and the lines on stderr.
 */
async function withOpen(open: (real: typeof ortCpu.open, ...args: Parameters<typeof ortCpu.open>) => ReturnType<typeof ortCpu.open>, args: string[]): Promise<{ code: number; stderr: string[] }> {
  const real = ortCpu.open.bind(ortCpu);
  const spy = vi.spyOn(ortCpu, 'open').mockImplementation((model, options) => open(real, model, options));
  const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
  const logs = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    const code = await main(['node', 'eformer', ...args]);
    return { code, stderr: errors.mock.calls.map((c) => c.join(' ')) };
  } finally {
    spy.mockRestore();
    errors.mockRestore();
    logs.mockRestore();
  }
}

describe('results are never lost: a failure after the timing keeps every latency measured', () => {
  it('the profiler failing on the second model (after minutes of interleaved timing on ort-web): the results are written, the failure reported', async () => {
    // The breakdown, the single session and the cold process come after the interleaved timing. A failure
    // there (a page that crashes, a profiler that writes nothing) dropped every model's latency: now the
    // results file holds all of them, with the figures that failed left out, and the run still fails.
    const d = tempDir();
    const out = join(d, 'r.json');
    const r = await withOpen(
      async (real, model, options) => {
        if (options.profilePrefix && model.name === 'mobilenetv2_100') throw new MissingToolError('onnxruntime: the profiler crashed (injected by the test)');
        return real(model, options);
      },
      ['profile', '-m', 'efficientformerv2_s0,mobilenetv2_100', '--runs', '3', '--warmup', '1', '--no-reference', '--no-cold-start', '--breakdown', '--quiet', '--json', out],
    );
    expect(r.code).toBe(3);
    expect(r.stderr).toEqual(['eformer: onnxruntime: the profiler crashed (injected by the test)']);
    const written = JSON.parse(readFileSync(out, 'utf8')).results;
    expect(written.map((r: { model: string }) => r.model)).toEqual(['efficientformerv2_s0', 'mobilenetv2_100']);
    for (const r of written) expect(r.latency_ms.median).toBeGreaterThan(0);
    expect(written[0].breakdown).toBeDefined();
    expect(written[0].single_session).toBeDefined();
    expect(written[1].breakdown).toBeUndefined();
  }, 60_000);
});

describe('results are never lost: a run that fails during the interleaved timing keeps the rounds it completed', () => {
  it("one model's runtime failing at its fourth timed run: the three rounds every model finished are written, then the failure", async () => {
    const d = tempDir();
    const out = join(d, 'r.json');
    const r = await withOpen(
      async (real, model, options) => {
        const session = await real(model, options);
        if (model.name !== 'mobilenetv2_100') return session;
        const run = session.run.bind(session);
        let calls = 0;
        // One warm-up run, then three timed ones, then the page (say) crashes.
        session.run = async () => {
          if (++calls > 4) throw new MissingToolError('onnxruntime: the runtime crashed (injected by the test)');
          return run();
        };
        return session;
      },
      ['profile', '-m', 'efficientformerv2_s0,mobilenetv2_100', '--runs', '10', '--warmup', '1', '--no-reference', '--no-cold-start', '--quiet', '--json', out],
    );
    expect(r.code).toBe(3);
    expect(r.stderr).toEqual(['eformer: onnxruntime: the runtime crashed (injected by the test)']);
    const written = JSON.parse(readFileSync(out, 'utf8')).results;
    expect(written.map((r: { model: string; runs: number }) => [r.model, r.runs])).toEqual([['efficientformerv2_s0', 3], ['mobilenetv2_100', 3]]);
    for (const r of written) expect(r.latency_ms.samples).toHaveLength(3);
    expect(written[0].single_session).toBeUndefined();
  }, 60_000);
});

describe('an output is never an input, nor another output', () => {
  const d = () => tempDir('eformer-same-');
  const copy = (folder: string, name: string, from = good) => {
    const path = join(folder, name);
    writeFileSync(path, readFileSync(from));
    return path;
  };
  const CASES: [string, (d: string) => { args: string[]; env?: Record<string, string>; inputs: string[] }, RegExp][] = [
    ['report R.json -o R.json', (f) => ({ args: ['report', copy(f, 'R.json'), '-o', join(f, 'R.json')], inputs: [join(f, 'R.json')] }), /--out '.*R\.json' is the same file as the results file '.*R\.json'/],
    [
      'report R.json -o a hard link to it',
      (f) => {
        const r = copy(f, 'R.json');
        linkSync(r, join(f, 'hard.json'));
        return { args: ['report', r, '-o', join(f, 'hard.json')], inputs: [r] };
      },
      /--out '.*hard\.json' is the same file as the results file '.*R\.json'/,
    ],
    [
      'report R.json -o a symlink to it',
      (f) => {
        const r = copy(f, 'R.json');
        symlinkSync(r, join(f, 'link.json'));
        return { args: ['report', r, '-o', join(f, 'link.json')], inputs: [r] };
      },
      /--out '.*link\.json' is the same file as the results file/,
    ],
    ['report merge A B --out A', (f) => ({ args: ['report', 'merge', copy(f, 'A.json'), copy(f, 'B.json', again), '--out', join(f, 'A.json')], inputs: [join(f, 'A.json'), join(f, 'B.json')] }), /--out '.*A\.json' is the same file as the results file/],
    ['gate --junit onto --baseline', (f) => ({ args: ['gate', '--baseline', copy(f, 'B.json'), '--current', copy(f, 'C.json', again), '--junit', join(f, 'B.json')], inputs: [join(f, 'B.json')] }), /--junit '.*B\.json' is the same file as --baseline/],
    ['gate --verdict onto --current', (f) => ({ args: ['gate', '--baseline', copy(f, 'B.json'), '--current', copy(f, 'C.json', again), '--verdict', `${f}/./C.json`], inputs: [join(f, 'C.json')] }), /--verdict '.*C\.json' is the same file as --current/],
    ['gate --markdown onto --budgets', (f) => ({ args: ['gate', '--baseline', good, '--current', again, '--budgets', copy(f, 'budgets.json', file('bud.json', '{"budgets":{}}')), '--markdown', join(f, 'budgets.json')], inputs: [join(f, 'budgets.json')] }), /--markdown '.*budgets\.json' is the same file as --budgets/],
    ['$GITHUB_STEP_SUMMARY onto --baseline', (f) => ({ args: ['gate', '--baseline', copy(f, 'B.json'), '--current', again], env: { GITHUB_STEP_SUMMARY: join(f, 'B.json') }, inputs: [join(f, 'B.json')] }), /\$GITHUB_STEP_SUMMARY '.*B\.json' is the same file as --baseline/],
    ['gate --junit and --verdict to one new file', (f) => ({ args: ['gate', '--baseline', good, '--current', again, '--junit', join(f, 'out/x'), '--verdict', join(f, 'out/../out/x')], inputs: [] }), /--junit '.*x' and --verdict '.*x' are the same file/],
    ['profile --json onto --baseline, before measuring', (f) => ({ args: ['profile', ...QUICK, '--ckpt', EVIL, '--baseline', copy(f, 'B.json'), '--json', join(f, 'B.json')], inputs: [join(f, 'B.json')] }), /--json '.*B\.json' is the same file as --baseline/],
    [
      'lut build -o onto --space, before measuring',
      (f) => {
        const s = join(f, 'space.json');
        writeFileSync(s, JSON.stringify(SMALL_SPACE));
        return { args: ['lut', 'build', '--family', 'efficientformerv2', '--space', s, '-o', s], inputs: [s] };
      },
      /--out '.*space\.json' is the same file as --space/,
    ],
    [
      'lut merge A B -o B',
      (f) => ({ args: ['lut', 'merge', copy(f, 'A.json', lut), copy(f, 'B.json', lut), '-o', join(f, 'B.json')], inputs: [join(f, 'A.json'), join(f, 'B.json')] }),
      /--out '.*B\.json' is the same file as the shard/,
    ],
    ['search -o DIR onto --lut DIR/search.json', (f) => ({ args: ['search', '--lut', copy(f, 'search.json', lut), '--budget-ms', '100', '-o', f], inputs: [join(f, 'search.json')] }), /--out '.*search\.json' is the same file as --lut/],
    [
      'search -o DIR onto --lut named like the configuration it would write',
      (f) => ({ args: ['search', '--lut', copy(f, 'efficientformerv2_100ms_2.json', lut), '--budget-ms', '100', '-o', f], inputs: [join(f, 'efficientformerv2_100ms_2.json')] }),
      /--out '.*efficientformerv2_100ms_2\.json' is the same file as --lut/,
    ],
  ];
  it.each(CASES.map((c) => [c[0], c] as const))('%s', async (_, [, setup, line]) => {
    const { args, env: extra, inputs } = setup(d());
    const before = inputs.map((p) => readFileSync(p));
    refused(await run(args, extra), line);
    inputs.forEach((p, i) => expect(readFileSync(p).equals(before[i]), p).toBe(true));
  });

  it('gate --update-baseline still writes the baseline it reads', async () => {
    const f = d();
    const baseline = copy(f, 'B.json');
    const current = copy(f, 'C.json', again);
    const r = await run(['gate', '--baseline', baseline, '--current', current, '--update-baseline', '--raw-medians']);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(baseline, 'utf8')).toBe(readFileSync(current, 'utf8'));
  });

  it('report -o R.HTML writes HTML: the extension is matched in any case', async () => {
    const out = join(d(), 'R.HTML');
    expect((await run(['report', good, '-o', out])).code).toBe(0);
    expect(readFileSync(out, 'utf8')).toMatch(/^<!doctype html>/i);
  });
});

describe('temp files cannot be hijacked', () => {
  it('writes under unguessable names, created (and tracked) before the first await', async () => {
    const d = tempDir();
    const names: string[] = [];
    for (let i = 0; i < 2; i++) {
      const writing = writeFileAtomicAsync(join(d, 'out.bin'), new Uint8Array(1024));
      // Synchronously after the call: the temp file exists already.
      names.push(...readdirSync(d).filter((n) => n.endsWith('.tmp')));
      await writing;
    }
    expect(names).toHaveLength(2);
    expect(names[0]).not.toBe(names[1]);
    for (const n of names) {
      expect(n).not.toContain(String(process.pid));
      expect(n).toMatch(/^\.out\.bin\.[0-9a-f]{24}\.tmp$/);
    }
  });

  // Links at every name the old scheme (.NAME.<pid>.tmp, .eformer-probe-<pid>) would use, planted
  // inside the CLI's own process before eformer starts: none is written through.
  const plant = join(root, 'test/fakes/plant-links.mjs');
  const PLANTED: [string, (d: string) => string[], string[], string[]][] = [
    ['report -o r.html', (d) => ['report', good, '-o', join(d, 'r.html')], ['r.html'], ['r.html']],
    ['profile --json p.json', (d) => ['profile', ...QUICK, '--json', join(d, 'p.json')], ['p.json'], ['p.json']],
    ['gate --junit, --verdict, --markdown', (d) => ['gate', '--baseline', good, '--current', again, '--raw-medians', '--junit', join(d, 'j.xml'), '--verdict', join(d, 'v.json'), '--markdown', join(d, 'm.md')], ['j.xml', 'v.json', 'm.md'], ['j.xml', 'v.json', 'm.md']],
    ['export --onnx -o DIR', (d) => ['export', '-m', 'mobilenetv2_100', '--onnx', '-o', d], ['mobilenetv2_100.onnx'], ['mobilenetv2_100.onnx']],
    [
      'search -o DIR',
      (d) => ['search', '--lut', lut, '--budget-ms', '100', '-k', '1', '-o', d],
      ['search.json', 'efficientformerv2_100ms_1.json'],
      ['search.json', 'efficientformerv2_100ms_1.json'],
    ],
    ['export --coreml -o DIR', (d) => ['export', '-m', 'mobilenetv2_100', '--coreml', '-o', d], ['mobilenetv2_100.mlpackage'], ['mobilenetv2_100.mlpackage']],
  ];
  it.each(PLANTED.map((c) => [c[0], c] as const))('%s', async (_, [, args, names, outputs]) => {
    const d = tempDir();
    const victim = join(tempDir(), 'victim.txt');
    writeFileSync(victim, 'do not touch');
    const planted = { victim, dirs: [d], names };
    const r = await execa(process.execPath, ['--import', plant, join(root, 'bin/eformer.js'), ...args(d)], { reject: false, cwd: root, env: { EFORMER_TEST_PLANT: JSON.stringify(planted) } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readFileSync(victim, 'utf8')).toBe('do not touch');
    for (const o of outputs) expect(lstatSync(join(d, o)).isSymbolicLink(), o).toBe(false);
    // The planted links are left alone, and nothing else is left behind.
    const links = readdirSync(d).filter((n) => lstatSync(join(d, n)).isSymbolicLink());
    expect(readdirSync(d).filter((n) => !links.includes(n)).sort()).toEqual([...outputs].sort());
  }, 120_000);

  it('a symlink at the output itself is replaced, its target untouched', async () => {
    const d = tempDir();
    const victim = join(d, 'victim.txt');
    writeFileSync(victim, 'do not touch');
    symlinkSync(victim, join(d, 'r.html'));
    expect((await run(['report', good, '-o', join(d, 'r.html')])).code).toBe(0);
    expect(readFileSync(victim, 'utf8')).toBe('do not touch');
    expect(lstatSync(join(d, 'r.html')).isFile()).toBe(true);
    expect(readFileSync(join(d, 'r.html'), 'utf8')).toMatch(/^<!doctype html>/i);
  });
});

describe('inputs are regular files of bounded size', () => {
  const d = tempDir('eformer-inputs-');
  const lutCopy = () => {
    const path = join(d, `lut-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(path, readFileSync(lut));
    return path;
  };
  const config = file('cfg.json', JSON.stringify({ family: 'efficientformerv2', resolution: 64, config: { widths: [16, 24, 32, 32], depths: [1, 1, 2, 2], vitNum: 1, expansionRatios: [[4], [4], [3, 4], [4, 4]] } }));
  // Every file input of every command, with X in place of the file; the line names the flag (or what the file is).
  const INPUTS: [string, (x: string) => string[], string][] = [
    ['report FILE', (x) => ['report', x], 'results file'],
    ['report merge', (x) => ['report', 'merge', good, x, '--out', join(d, 'm.json')], 'results file'],
    ['gate --baseline', (x) => ['gate', '--baseline', x, '--current', again], '--baseline results file'],
    ['gate --current', (x) => ['gate', '--baseline', good, '--current', x], '--current results file'],
    ['gate --budgets', (x) => ['gate', '--baseline', good, '--current', again, '--budgets', x], '--budgets file'],
    ['profile --baseline', (x) => ['profile', ...QUICK, '--baseline', x], '--baseline results file'],
    ['profile --config', (x) => ['profile', '--config', x, '--quiet'], '--config model config'],
    ['profile --hf-config', (x) => ['profile', '--hf-config', x, '--quiet'], '--hf-config Hugging Face config'],
    ['profile --ckpt', (x) => ['profile', ...QUICK, '--ckpt', x], '--ckpt checkpoint'],
    ['profile --onnx', (x) => ['profile', '--onnx', x, '--quiet'], '--onnx model'],
    ['count --config', (x) => ['count', '--config', x], '--config model config'],
    ['count --hf-config', (x) => ['count', '--hf-config', x], '--hf-config Hugging Face config'],
    ['export --ckpt', (x) => ['export', '-m', 'mobilenetv2_100', '--onnx', '--ckpt', x, '-o', join(d, 'e')], '--ckpt checkpoint'],
    ['lut build --space', (x) => ['lut', 'build', '--family', 'efficientformerv2', '--space', x, '-o', join(d, 'l.json')], '--space search space'],
    ['lut merge', (x) => ['lut', 'merge', lutCopy(), x, '-o', join(d, 'l.json')], 'latency table'],
    ['search --lut', (x) => ['search', '--lut', x, '--budget-ms', '5'], '--lut latency table'],
    ['predict-latency --lut', (x) => ['predict-latency', '--lut', x, '-m', 'efficientformerv2_s0'], '--lut latency table'],
    ['predict-latency --config', (x) => ['predict-latency', '--lut', lutCopy(), '--config', x], '--config model config'],
    ['predict IMAGE', (x) => ['predict', ...TINY, x], 'image'],
  ];
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  let n = 0;
  // A FIFO would block a plain read for ever (execa's timeout ends it: the case fails, not the run).
  const KINDS: [string, () => string, string][] = [
    ['a FIFO', () => fifo(join(d, `fifo-${n++}`)), 'is a FIFO, not a regular file'],
    ['a missing file', () => join(d, `missing-${n++}.json`), 'no such file'],
    ['a folder', () => d, 'is a folder, not a regular file'],
    ['a device', () => '/dev/null', 'is a device, not a regular file'],
  ];
  const cases = INPUTS.flatMap(([name, args, what]) => KINDS.map(([kind, make, says]) => [`${name}: ${kind}`, args, what, make, says] as const));
  it.each(cases)('%s', async (_, args, what, make, says) => {
    const x = make();
    const r = await execa(process.execPath, [join(root, 'bin/eformer.js'), ...args(x)], { reject: false, cwd: root, timeout: 30_000 });
    refused({ code: r.exitCode ?? -1, stderr: r.stderr }, new RegExp(says === 'no such file' ? `cannot read ${esc(what)} '${esc(x)}': no such file` : `${esc(what)} '${esc(x)}' ${says}`));
  }, 40_000);

  // Sparse files one byte above each bound (no disk used): refused from their size alone, the bound named.
  const big = (name: string, bytes: number) => {
    const path = join(d, name);
    writeFileSync(path, '');
    truncateSync(path, bytes + 1);
    return path;
  };
  const MiB = 1024 * 1024;
  const SIZES: [string, () => string[], RegExp][] = [
    ['a results file above 64 MiB', () => ['report', big('big.json', 64 * MiB)], /results file '.*big\.json' is 67 MB, more than eformer reads for a JSON input \(67 MB\)/],
    ['a Hugging Face config above 64 MiB', () => ['count', '--hf-config', big('config.json', 64 * MiB)], /--hf-config Hugging Face config '.*config\.json' is 67 MB, more than eformer reads for a JSON input/],
    ['a checkpoint above 2 GiB', () => ['export', '-m', 'mobilenetv2_100', '--onnx', '--ckpt', big('big.pth', 2048 * MiB), '-o', join(d, 'e2')], /--ckpt checkpoint '.*big\.pth' is 2147 MB, more than eformer reads for a checkpoint \(2147 MB\)/],
    ['an ONNX file above 2 GiB', () => ['profile', '--onnx', big('big.onnx', 2048 * MiB)], /--onnx model '.*big\.onnx' is 2147 MB, more than eformer reads for an ONNX file/],
    ['an image above 256 MiB', () => ['predict', ...TINY, big('big.png', 256 * MiB)], /image '.*big\.png' is 268 MB, more than eformer reads for an image \(268 MB\)/],
  ];
  it.each(SIZES.map((c) => [c[0], c] as const))('%s', async (_, [, args, line]) => {
    const r = await execa(process.execPath, [join(root, 'bin/eformer.js'), ...args()], { reject: false, cwd: root, timeout: 60_000 });
    refused({ code: r.exitCode ?? -1, stderr: r.stderr }, line);
  }, 70_000);

  it('a Hugging Face config of ordinary size is still read', async () => {
    expect((await run(['count', '--hf-config', hf({})])).code).toBe(0);
  });
});

describe('interruption', () => {
  it('SIGTERM at many moments of an export into a new folder: no temp file, no folder, and the message is the first line', async () => {
    const parent = tempDir('eformer-interrupt-');
    const out = join(parent, 'new', 'sub');
    // Before the folder exists (building), then from the moment it is made (the write starting) on.
    const moments: [() => boolean, number][] = [
      [() => true, 600],
      [() => true, 1200],
      ...[0, 0, 1, 2, 3, 5, 8, 12, 20, 40, 80, 160].map((ms) => [() => existsSync(out), ms] as [() => boolean, number]),
    ];
    const seen: string[] = [];
    for (const [ready, delayMs] of moments) {
      const { code, stderr } = await interrupt(['export', '-m', 'efficientformer_l7', '--onnx', '-o', out], env, ready, 'SIGTERM', { delayMs });
      if (code === 0) {
        // It finished first: a complete file, nothing else.
        expect(readdirSync(out)).toEqual(['efficientformer_l7.onnx']);
        execSync(`rm -rf '${join(parent, 'new')}'`);
        continue;
      }
      expect(code, stderr).toBe(143);
      expect(stderr.split('\n')[0]).toBe('eformer: interrupted (SIGTERM); temporary files removed');
      seen.push(...readdirSync(parent));
    }
    expect(seen, 'left behind after an interruption').toEqual([]);
  }, 120_000);

  it('an interruption handled the moment a chunked write starts leaves neither the temp file nor the output', async () => {
    for (let i = 0; i < 5; i++) {
      const d = tempDir();
      const writing = writeFileAtomicAsync(join(d, 'big.onnx'), new Uint8Array(64 * 1024 * 1024)).catch(() => undefined);
      // What the CLI's signal handler does, at the first moment it could run.
      removeTracked();
      await writing;
      expect(readdirSync(d)).toEqual([]);
    }
  });

  it('profile leaves no onnxruntime log, session file or telemetry database behind', async () => {
    const tmp = tempDir('eformer-tmpdir-');
    const home = tempDir('eformer-home-');
    // Without CI (whose presence alone turns onnxruntime's telemetry off) or a setting of the user's.
    const clean = Object.fromEntries(Object.entries(env).filter(([k]) => k !== 'CI' && k !== 'ORT_DISABLE_TELEMETRY'));
    const r = await execa(process.execPath, [join(root, 'bin/eformer.js'), 'profile', ...QUICK], { reject: false, cwd: root, env: { ...clean, TMPDIR: tmp, HOME: home }, extendEnv: false });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readdirSync(tmp)).toEqual([]);
    expect(readdirSync(home)).toEqual([]);
  }, 60_000);
});
