/**
 * What a person reads is true and fits: every table of every command printed at its defaults
 * fits 100 columns (wide detail goes to --wide, JSON and the reports), every option a help text,
 * a footer or a hint names exists on the command it is named for, the int8 hint asks only for
 * what was not given, and profile --onnx on eformer's own export shows its params and MACs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import onnxProto from 'onnx-proto';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../src/cli/main.js';
import { TERMINAL_WIDTH, widthOf } from '../src/core/table.js';
import { families, supernet } from '../src/index.js';
import { CONFIG_SCHEMA } from '../src/models/index.js';
import { cliWith, fakeTools } from './fakes.js';
import { cli, root, tempDir } from './helpers.js';
import { richResults, smallLut, smallSearch } from './hostile/files.js';

const dir = tempDir('eformer-tables-');
const write = (name: string, data: unknown) => {
  const path = join(dir, name);
  writeFileSync(path, typeof data === 'string' ? data : JSON.stringify(data));
  return path;
};

const v2 = families.find((f) => f.id === 'efficientformerv2')!;
const lut = smallLut();
const lutPath = write('lut.json', lut);
const searchPath = write('search.json', smallSearch(lut));
const configPath = write('supernet.json', { schema: CONFIG_SCHEMA, family: 'efficientformerv2', name: 'supernet', resolution: 64, config: v2.searchSpace!.configOf(supernet(lut.space)) });
const results = write('results.json', richResults());
/** One result a model (the gate's files), and a copy 20% slower, a million params bigger, 20% more memory and load time. */
const [gateBase, gateSlower] = (() => {
  const f = richResults();
  f.results = f.results.filter((r: { backend: string }) => r.backend !== 'ort-web');
  const base = write('gate-base.json', f);
  for (const r of f.results) {
    r.latency_ms.samples = r.latency_ms.samples.map((v: number) => v * 1.2);
    r.vs_reference.ratios = r.vs_reference.ratios.map((v: number) => v * 1.2);
    r.params.toolbox += 1_000_000;
    if (r.memory_mb) r.memory_mb.peak *= 1.2;
    if (r.load_ms !== undefined) r.load_ms *= 1.2;
  }
  return [base, write('gate-slower.json', f)];
})();
const budgets = write('budgets.json', { reference: 'mobilenetv2_100', budgets: { default: { latency: '5%', params: '1%', macs: 0, memory: '5%', load: '10%' }, 'efficientformerv2_s0:int8': { latency: '8%', max_latency_ms: 30, max_memory_mb: 100, max_load_ms: 200 } } });

interface Run {
  /** The command whose help and options the printed hints must agree with. */
  command: string;
  args: string[];
  env?: Record<string, string>;
}

/** Every command that prints a table or notes, at its defaults (fixtures and fast settings where measuring is involved). */
const RUNS: Record<string, Run> = {
  models: { command: 'models', args: ['models'] },
  count: { command: 'count', args: ['count'] },
  'count --by-layer': { command: 'count', args: ['count', '--by-layer', '-m', 'efficientmod_s_conv,efficientformerv2_s0'] },
  profile: { command: 'profile', args: ['profile', '--runs', '2', '--warmup', '1', '--no-single-session', '-m', 'mobilenetv2_100,efficientformerv2_s0', '--quiet'] },
  'profile --precision fp32,int8': { command: 'profile', args: ['profile', '--runs', '2', '--warmup', '1', '--no-single-session', '-m', 'mobilenetv2_100,efficientformerv2_s0', '--precision', 'fp32,int8', '--calib-random', '2', '--quiet'] },
  'report (every column a result can have)': { command: 'report', args: ['report', results] },
  'report of two files': { command: 'report', args: ['report', results, gateBase] },
  'gate with budgets': { command: 'gate', args: ['gate', '--baseline', gateBase, '--current', gateSlower, '--budgets', budgets, '--max-latency-ms', '12.5'] },
  'predict-latency': { command: 'predict-latency', args: ['predict-latency', '--lut', lutPath, '--config', configPath] },
  search: { command: 'search', args: ['search', '--lut', lutPath, '--budget-ms', String(JSON.parse(readFileSync(searchPath, 'utf8')).budget_ms), '-o', join(dir, 'a-folder-with-a-long-name-for-the-configs')] },
  'lut merge (the table lut build prints)': { command: 'lut merge', args: ['lut', 'merge', lutPath, lutPath, '-o', join(dir, 'merged.json')] },
  export: { command: 'export', args: ['export', '-m', 'mobilenetv2_100', '--onnx', '-o', join(dir, 'a-folder-with-a-long-name-for-the-export')] },
  predict: { command: 'predict', args: ['predict', '--hf-config', join(root, 'fixtures/checkpoints/v1_tiny_hf/config.json'), '--ckpt', join(root, 'fixtures/checkpoints/v1_tiny_hf/model.safetensors'), join(root, 'fixtures/images/gradient.png')] },
  doctor: { command: 'doctor', args: ['doctor'] },
};

const printed = new Map<string, { code: number; stdout: string; stderr: string }>();

beforeAll(async () => {
  const devices = fakeTools('devices', ['xcrun', 'adb']);
  RUNS['devices (fake xcrun and adb)'] = { command: 'devices', args: ['devices'], env: devices.env };
  for (const [name, run] of Object.entries(RUNS)) printed.set(name, await cliWith({ ...process.env, ...(run.env ?? {}) } as Record<string, string>, ...run.args));
}, 300_000);

describe(`every table fits ${TERMINAL_WIDTH} columns at its defaults`, () => {
  it.each(Object.keys(RUNS).concat('devices (fake xcrun and adb)'))('%s', (name) => {
    const r = printed.get(name)!;
    expect(r.code === 0 || (name.startsWith('gate') && r.code === 1), r.stderr).toBe(true);
    const widest = r.stdout.split('\n').reduce((a, l) => ([...l].length > [...a].length ? l : a), '');
    expect(widthOf(r.stdout), widest).toBeLessThanOrEqual(TERMINAL_WIDTH);
  });
});

/**
 * The options a text names (`--wide`, `-f`), with the command each is meant for: the command that
 * printed the text, or the one a span in backticks starts with (`eformer lut build --space`). A
 * span that starts with another program (`apt-get install -y adb`) names that program's options.
 */
function namedOptions(text: string, command: string, commands: Map<string, Command>): { option: string; command: string }[] {
  const found: { option: string; command: string }[] = [];
  const spans = [...text.matchAll(/`([^`]*)`/g)].map((m) => ({ start: m.index!, end: m.index! + m[0].length, words: m[1].split(/\s+/) }));
  for (const m of text.matchAll(/(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z])(?![\w-])/g)) {
    const span = spans.find((s) => m.index! >= s.start && m.index! < s.end);
    if (!span || span.words[0].startsWith('-')) found.push({ option: m[1], command });
    else if (span.words[0] === 'eformer') {
      const named = [`${span.words[1]} ${span.words[2]}`, span.words[1]].find((c) => commands.has(c));
      found.push({ option: m[1], command: named ?? 'eformer' });
    }
  }
  return found;
}

describe('hints name only options that exist', () => {
  let commands: Map<string, Command>;
  const optionsOf = (c: Command | undefined) => new Set([...(c?.options ?? []).flatMap((o) => [o.long, o.short]), '--help', '-h'].filter(Boolean) as string[]);

  beforeAll(async () => {
    const program = await buildProgram([]);
    commands = new Map([['eformer', program], ...program.commands.flatMap((c) => [[c.name(), c] as [string, Command], ...c.commands.map((s) => [`${c.name()} ${s.name()}`, s] as [string, Command])])]);
  });

  it('every --help', async () => {
    const wrong: string[] = [];
    for (const [name, command] of [...commands].filter(([n]) => n !== 'eformer')) {
      const help = command.helpInformation();
      for (const { option, command: meant } of namedOptions(help, name, commands)) if (!optionsOf(commands.get(meant)!).has(option)) wrong.push(`${name} --help names ${option}, which ${meant} does not have`);
    }
    expect(wrong).toEqual([]);
  });

  it('every footer, note and hint printed above', () => {
    const wrong: string[] = [];
    for (const [name, run] of Object.entries(RUNS)) {
      const r = printed.get(name)!;
      for (const { option, command: meant } of namedOptions(`${r.stdout}\n${r.stderr}`, run.command, commands)) if (!optionsOf(commands.get(meant)!).has(option)) wrong.push(`${name} prints ${option}, which ${meant} does not have`);
    }
    expect(wrong).toEqual([]);
  });
});

describe('the int8 hint asks only for what is missing', () => {
  it('random weights calibrated on images: give --ckpt (not --calib)', async () => {
    const images = join(dir, 'images');
    await import('node:fs').then((fs) => {
      fs.mkdirSync(images);
      for (const f of ['gradient.png', 'gradient.jpg']) fs.copyFileSync(join(root, 'fixtures/images', f), join(images, f));
    });
    const r = await cli('export', '-m', 'mobilenetv2_100', '--onnx', '--int8', '--calib', images, '-o', join(dir, 'int8'));
    expect(r.code, r.stderr).toBe(0);
    const text = r.stdout.replace(/\s+/g, ' ');
    expect(text).toMatch(/top-1 agreement means little; give --ckpt\)/);
    expect(text).not.toMatch(/--calib DIR/);
  });
});

describe('profile --onnx on eformer\'s own export shows its counts; hostile metadata shows none', () => {
  const { onnx } = onnxProto;
  it('counts from the metadata, validated', async () => {
    const out = join(dir, 'own');
    expect((await cli('export', '-m', 'mobilenetv2_100', '--onnx', '-o', out)).code).toBe(0);
    const own = join(out, 'mobilenetv2_100.onnx');
    const model = onnx.ModelProto.decode(readFileSync(own));
    const hostile = join(out, 'hostile.onnx');
    const props = model.metadataProps.map((p) => (p.key === 'params_toolbox' ? { key: p.key, value: '1e400' } : p.key === 'macs_toolbox' ? { key: p.key, value: '-5' } : p));
    writeFileSync(hostile, onnx.ModelProto.encode({ ...model, metadataProps: props } as never).finish());
    const json = join(out, 'r.json');
    const r = await cli('profile', '--onnx', own, hostile, '--runs', '2', '--warmup', '1', '--no-single-session', '--no-reference', '--quiet', '--json', json);
    expect(r.code, r.stderr).toBe(0);
    const [ours, theirs] = JSON.parse(readFileSync(json, 'utf8')).results;
    const counted = JSON.parse((await cli('count', '-m', 'mobilenetv2_100', '--json')).stdout)[0];
    expect(ours.params).toEqual(counted.params);
    expect(ours.macs).toEqual(counted.macs);
    expect(r.stdout).toMatch(/^mobilenetv2_100 +3\.48 +0\.301 /m);
    expect(theirs.params).toBeUndefined();
    expect(theirs.macs).toBeUndefined();
    expect(r.stdout).toMatch(/^hostile +- +- /m);
  });
});
