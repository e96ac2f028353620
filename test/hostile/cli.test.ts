/**
 * Bad input, interruption and tired eyes: every case gets one line on stderr (no stack trace),
 * the exit code that means what happened (2 bad input, 3 missing tool, 1 a failed check, 70 a bug,
 * 130/143 interrupted), and leaves nothing behind. Table-driven: command, environment, expected
 * code and first line, and the folder that must stay as it was.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { cliWith } from '../fakes.js';
import { root, tempDir } from '../helpers.js';
import { again, aFile, file, good, hf, interrupt, mobilenet, results, work } from './inputs.js';

interface Case {
  name: string;
  args: string[];
  env?: Record<string, string>;
  code: number;
  /** The first (and only) line of stderr. */
  line: RegExp;
  /** A folder that must hold exactly these entries afterwards (nothing half-written, nothing made). */
  folder?: [string, string[]];
  /** Lines on stdout that must appear. */
  stdout?: RegExp;
}

const out = () => join(tempDir(), 'out');

const CASES: Case[] = [
  // Output paths: checked before any work, one line, exit 2; nothing made.
  { name: 'export into a folder under a regular file', args: ['export', '-m', 'mobilenetv2_100', '--onnx', '-o', join(aFile, 'x')], code: 2, line: /cannot write to output folder .*a path component is a file/ },
  { name: 'export -o onto a regular file', args: ['export', '-m', 'mobilenetv2_100', '--onnx', '-o', aFile], code: 2, line: /a path component is a file, not a folder/ },
  { name: 'export -o /proc/anything (no endless mkdir)', args: ['export', '-m', 'mobilenetv2_100', '--onnx', '-o', '/proc/eformer-anything'], code: 2, line: /cannot write to output folder '\/proc\/eformer-anything'/ },
  { name: 'report -o under a regular file', args: ['report', good, '-o', join(aFile, 'x.html')], code: 2, line: /cannot write --out .*a path component is a file/ },
  { name: 'gate --junit under a regular file', args: ['gate', '--baseline', good, '--current', again, '--junit', join(aFile, 'j.xml')], code: 2, line: /cannot write --junit/ },
  { name: 'profile --json under a regular file fails before measuring', args: ['profile', '-m', 'mobilenetv2_100', '--json', join(aFile, 'p.json')], code: 2, line: /cannot write --json/ },
  { name: 'GITHUB_STEP_SUMMARY under a regular file', args: ['gate', '--baseline', good, '--current', again], env: { GITHUB_STEP_SUMMARY: join(aFile, 's.md') }, code: 2, line: /\$GITHUB_STEP_SUMMARY/ },
  { name: 'profile --baseline that does not exist fails before measuring', args: ['profile', '-m', 'mobilenetv2_100', '--baseline', join(work, 'missing.json')], code: 2, line: /cannot read --baseline results file '.*missing\.json': no such file/ },
  // A failed checkpoint load makes no output folder.
  {
    name: 'a hostile checkpoint leaves no output folder',
    args: ['export', '-m', 'efficientformer_l1', '--onnx', '--ckpt', join(root, 'fixtures/checkpoints/evil.pth'), '-o', join(work, 'new/sub')],
    code: 2,
    line: /evil\.pth/,
    folder: [work, readdirSync(work)],
  },
  // Sizes beyond what fits in memory or any sane model: refused before allocating, the limit named.
  { name: 'resolution 8192', args: ['count', '-m', 'mobilenetv2_100', '-r', '8192'], code: 2, line: /resolution 8192 is out of range: eformer builds 1 to 2048/ },
  { name: 'batch 100000', args: ['profile', '-m', 'mobilenetv2_100', '--batch', '100000', '--runs', '1'], code: 2, line: /batch 100000 is out of range: eformer builds batches of 1 to 256/ },
  { name: 'a Hugging Face config a million blocks deep (no hang)', args: ['count', '--hf-config', hf({ depths: [1000000, 1, 1, 2] })], code: 2, line: /depths\[0\] is 1000000; eformer builds 1 to 64/ },
  { name: 'a Hugging Face config with absurd widths', args: ['count', '--hf-config', hf({ hidden_sizes: [16, 16, 32, 1e9] })], code: 2, line: /hidden_sizes\[3\] is 1000000000; eformer builds 1 to 4096/ },
  { name: 'num_labels 0', args: ['count', '--hf-config', hf({ num_labels: 0 })], code: 2, line: /num_labels is 0; eformer builds 1 to 100000/ },
  // Results files that hold nonsense: refused on read, by every reader.
  { name: 'gate: both files without results', args: ['gate', '--baseline', file('empty1.json', '{"schema":"eformer.results/1","env":{},"results":[]}'), '--current', file('empty2.json', '{"schema":"eformer.results/1","env":{},"results":[]}')], code: 2, line: /holds no results/ },
  { name: 'gate: a negative latency', args: ['gate', '--baseline', good, '--current', file('neg.json', results((r) => (r.latency_ms.median = -3)))], code: 2, line: /results\[0\]\.latency_ms\.median is -3, expected a positive number/ },
  { name: 'gate: params -1', args: ['gate', '--baseline', good, '--current', file('p.json', results((r) => (r.params.toolbox = -1)))], code: 2, line: /params\.toolbox is -1, expected a whole number/ },
  { name: 'gate: MACs "lots"', args: ['gate', '--baseline', good, '--current', file('m.json', results((r) => (r.macs.toolbox = 'lots')))], code: 2, line: /macs\.toolbox is "lots"/ },
  { name: 'gate: null samples', args: ['gate', '--baseline', good, '--current', file('n.json', results((r) => (r.latency_ms.samples[3] = null)))], code: 2, line: /samples\[3\] is null/ },
  { name: 'gate: ort-web against ort-cpu', args: ['gate', '--baseline', good, '--current', file('web.json', results((r) => (r.backend = 'ort-web')))], code: 2, line: /measured differently \(efficientformer_l1: backend ort-cpu -> ort-web\).*--allow-setup-change/ },
  { name: 'gate: another resolution', args: ['gate', '--baseline', good, '--current', file('res.json', results((r) => (r.resolution = 256)))], code: 2, line: /resolution 224 -> 256/ },
  { name: 'gate: other threads', args: ['gate', '--baseline', good, '--current', file('thr.json', results((r) => (r.settings.threads = 8)))], code: 2, line: /threads 2 -> 8/ },
  { name: 'gate: two files without a reference, at the defaults (no raw-median verdict)', args: ['gate', '--baseline', good, '--current', again], code: 2, line: /both sides have no reference \(raw medians of separate processes drift ~10-20% on a shared machine\): .*--raw-medians/ },
  { name: 'report: a negative latency', args: ['report', file('neg2.json', results((r) => (r.latency_ms.p90 = -1)))], code: 2, line: /latency_ms\.p90 is -1/ },
  { name: 'report: no results', args: ['report', file('empty3.json', '{"schema":"eformer.results/1","env":{},"results":[]}')], code: 2, line: /holds no results/ },
  // Messages that name the problem.
  { name: '--shape for an input the model lacks', args: ['profile', '--onnx', mobilenet, '--shape', 'bogus=1x3x224x224'], code: 2, line: /--shape names 'bogus', but mobilenetv2_100\.onnx has no such input; its inputs: image/ },
  { name: 'export -m with two models', args: ['export', '-m', 'a,b', '--onnx'], code: 2, line: /takes one model, got 'a,b'/ },
  { name: "count -m ''", args: ['count', '-m', ''], code: 2, line: /--model needs at least one model name/ },
  { name: 'count with --hf-config and -m', args: ['count', '--hf-config', hf({}), '-m', 'efficientformer_l1'], code: 2, line: /give --hf-config or --model, not both/ },
  // Every number a flag takes is bounded before any work. --timeout 3000000 overflowed Node's timers (at most
  // 2^31 - 1 ms), which then fired at once: every ort-web step "did not finish", exit 3.
  { name: '--timeout beyond what a timer holds', args: ['profile', '-b', 'ort-web', '-m', 'mobilenetv2_100', '--timeout', '3000000'], code: 2, line: /--timeout must be at most 604800 seconds, got '3000000'/ },
  { name: 'devices --timeout beyond what a timer holds', args: ['devices', '--timeout', '1e10'], code: 2, line: /--timeout must be at most 604800 seconds/ },
  { name: 'export --timeout beyond what a timer holds', args: ['export', '-m', 'mobilenetv2_100', '--coreml', '--timeout', '99999999'], code: 2, line: /--timeout must be an integer of at most 604800/ },
  { name: '--warmup 10^8', args: ['profile', '-m', 'mobilenetv2_100', '--warmup', '100000000'], code: 2, line: /--warmup must be an integer of at most 10000/ },
  { name: '--min-time 10^12 s', args: ['profile', '-m', 'mobilenetv2_100', '--min-time', '1e12'], code: 2, line: /--min-time must be at most 3600 seconds/ },
  { name: 'lut build --runs 10^8', args: ['lut', 'build', '--family', 'efficientformerv2', '--runs', '100000000'], code: 2, line: /--runs must be an integer of at most 10000/ },
  { name: 'lut build --training 10^8', args: ['lut', 'build', '--family', 'efficientformerv2', '--training', '100000000'], code: 2, line: /--training must be an integer of at most 1000/ },
  { name: 'search --beam 10^8', args: ['search', '--lut', good, '--budget-ms', '10', '--beam', '100000000'], code: 2, line: /--beam must be an integer of at most 256/ },
  { name: 'a seed beyond 32 bits', args: ['export', '-m', 'mobilenetv2_100', '--onnx', '--seed', '99999999999'], code: 2, line: /--seed must be an integer of at most 4294967295/ },
  // Commander's own usage errors, at every level of commands (the nested ones printed "error: ..." as commander does).
  { name: 'lut build without --family', args: ['lut', 'build', '--space', join(work, 'missing.json')], code: 2, line: /^eformer: required option '--family <id>' not specified$/ },
  { name: 'report merge with an unknown option', args: ['report', 'merge', '--bogus'], code: 2, line: /^eformer: unknown option '--bogus'$/ },
  { name: 'lut with a misspelt command: the suggestion on the same line', args: ['lut', 'biuld'], code: 2, line: /^eformer: unknown command 'biuld' \(did you mean build\?\)$/ },
  { name: 'a misspelt option: the suggestion on the same line', args: ['count', '--modle', 'x'], code: 2, line: /^eformer: unknown option '--modle' \(did you mean --model\?\)$/ },
  { name: 'V2 at 240 names the sizes that work', args: ['count', '-m', 'efficientformerv2_s0', '-r', '240'], code: 2, line: /use 209 to 224 or 241 to 256/ },
];

describe('hostile input: one line, the right exit code, nothing left behind', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const before = c.folder ? readdirSync(c.folder[0]).sort() : undefined;
    const r = await cliWith({ ...process.env, ...(c.env ?? {}) } as Record<string, string>, ...c.args);
    expect(r.code, r.stderr).toBe(c.code);
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toMatch(/^eformer: /);
    expect(lines[0]).toMatch(c.line);
    expect(lines, 'one line on stderr').toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    if (c.folder) expect(readdirSync(c.folder[0]).sort()).toEqual(before);
    if (c.stdout) expect(r.stdout).toMatch(c.stdout);
  });

  it('V2 at 250 is built, as the README says (ceil(250/16) = 16 is even)', async () => {
    const r = await cliWith(process.env as Record<string, string>, 'count', '-m', 'efficientformerv2_s0', '-r', '250', '--json');
    expect(r.code, r.stderr).toBe(0);
  });

  it('a Hugging Face config.json in the current folder names the model after the folder, not "."', async () => {
    const dir = tempDir('eformer-hfname-');
    writeFileSync(join(dir, 'config.json'), readFileSync(hf({}), 'utf8'));
    const r = await cliWith(process.env as Record<string, string>, 'count', '--hf-config', join(dir, 'config.json'), '--json');
    const name = JSON.parse(r.stdout)[0].model;
    expect(name).not.toMatch(/^\.+$/);
    expect(name).toMatch(/^eformer-hfname-/);
  });

  it('the same file as baseline and current: the gate says so', async () => {
    // `good` has no reference: raw medians are compared only when asked.
    const r = await cliWith(process.env as Record<string, string>, 'gate', '--baseline', good, '--current', good, '--raw-medians');
    expect(r.code).toBe(0);
    expect(r.stderr.trim()).toMatch(/^eformer: warning: the baseline and the current results are the same file/);
  });

  it('--allow-setup-change compares across backends and the verdict says so', async () => {
    const verdict = join(tempDir(), 'verdict.json');
    const r = await cliWith(process.env as Record<string, string>, 'gate', '--baseline', good, '--current', file('web2.json', results((r) => (r.backend = 'ort-web'))), '--allow-setup-change', '--raw-medians', '--verdict', verdict);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/compared across setups \(--allow-setup-change\): efficientformer_l1: backend ort-cpu -> ort-web/);
    expect(JSON.parse(readFileSync(verdict, 'utf8')).setup_changes).toEqual(['efficientformer_l1: backend ort-cpu -> ort-web']);
  });

  it('--threads above the core count warns, and the run goes on', async () => {
    const threads = availableParallelism() + 1;
    const r = await cliWith(process.env as Record<string, string>, 'profile', '-m', 'mobilenetv2_100', '--threads', String(threads), '--runs', '3', '--warmup', '1', '--no-single-session', '--quiet');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.trim()).toMatch(new RegExp(`^eformer: warning: --threads ${threads} is more than this machine's ${threads - 1} cores`));
  });

  it('--runs 1: no confidence interval of zero width, and the row says why', async () => {
    const json = join(tempDir(), 'r.json');
    const r = await cliWith(process.env as Record<string, string>, 'profile', '-m', 'mobilenetv2_100', '--runs', '1', '--warmup', '1', '--no-single-session', '--quiet', '--json', json);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(readFileSync(json, 'utf8')).results[0].latency_ms;
    expect(s.median_ci95).toBeUndefined();
    expect(s.cov).toBeUndefined();
    expect(r.stdout).toMatch(/few runs/);
  });
});

describe('no noise that is not about the request', () => {
  it('npm prints no warning about the project\'s own configuration (npx eformer, npm run)', async () => {
    // The machine's own user config may warn; the project's must not: use an empty user config.
    // (npm passes its settings on to the processes it starts as npm_config_*: start from none of them.)
    const inherited = Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k));
    const env = { ...(Object.fromEntries(inherited) as Record<string, string>), NPM_CONFIG_USERCONFIG: '/dev/null' };
    for (const command of [['npx', 'eformer', '--version'], ['npm', 'run', '--silent', 'lint:deps']]) {
      const r = await execa(command[0], command.slice(1), { cwd: root, env, extendEnv: false, reject: false });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/npm warn/i);
    }
  });
});

describe('interruption leaves nothing behind', () => {
  it('Ctrl-C while a large ONNX file is being written: exit 130, no temp file, no half file', async () => {
    const dir = out();
    mkdirSync(dir, { recursive: true });
    const writing = () => readdirSync(dir).some((f) => f.endsWith('.tmp'));
    const { code } = await interrupt(['export', '-m', 'efficientformer_l7', '--onnx', '-o', dir], process.env as Record<string, string>, writing, 'SIGINT');
    expect(code).toBe(130);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('SIGTERM during the Core ML conversion: exit 143, its work folder and temp package removed', async () => {
    const dir = out();
    mkdirSync(dir, { recursive: true });
    const tmp = tempDir('eformer-tmpdir-');
    const converting = () => readdirSync(tmp).some((f) => f.startsWith('eformer-coreml-')) && existsSync(join(dir, 'efficientformerv2_s0.onnx'));
    const { code } = await interrupt(['export', '-m', 'efficientformerv2_s0', '--onnx', '--coreml', '-o', dir], { ...(process.env as Record<string, string>), TMPDIR: tmp }, converting, 'SIGTERM');
    expect(code).toBe(143);
    expect(readdirSync(tmp)).toEqual([]);
    // The ONNX file was complete before the conversion began; no half package is left beside it.
    expect(readdirSync(dir)).toEqual(['efficientformerv2_s0.onnx']);
  });
});
