/**
 * The validators and the readers agree: a file a validator accepts renders, gates, predicts and
 * searches without a crash (exit 70), a NaN or a latency that is not positive; a file it refuses
 * is one line (exit 2). Seeded mutations of valid files of each kind (delete a field, null, a
 * wrong type, a number as a string and back, NaN-like strings, negative, huge, nested garbage):
 * a few hundred through the library, a sample through the CLI.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { verdictJunit, verdictMarkdown, verdictTable } from '../../src/gate/reports.js';
import { lutPage, searchPage } from '../../src/latency/html.js';
import {
  checkResults,
  DEFAULT_BUDGET,
  families,
  findFormat,
  formats,
  gate,
  mulberry32,
  pointEntry,
  predictLatency,
  readLut,
  readSearch,
  type ResultsFile,
  search,
  supernet,
} from '../../src/index.js';
import { CONFIG_SCHEMA } from '../../src/models/index.js';
import { cli, tempDir } from '../helpers.js';
import { richResults, smallLut, smallSearch } from './files.js';

const dir = tempDir('eformer-fuzz-');
const v2 = families.find((f) => f.id === 'efficientformerv2')!;

type Json = unknown;

/** Every place in a JSON value, as a list of keys, grouped by the place with array indices left out. */
function places(value: Json, path: (string | number)[] = [], into = new Map<string, (string | number)[][]>()): Map<string, (string | number)[][]> {
  const pattern = path.map((k) => (typeof k === 'number' ? '[]' : k)).join('.');
  if (path.length) into.set(pattern, [...(into.get(pattern) ?? []), path]);
  if (Array.isArray(value)) value.forEach((v, i) => places(v, [...path, i], into));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) places(v, [...path, k], into);
  return into;
}

const MUTATIONS: [string, (v: Json, rand: () => number) => Json | typeof DELETE][] = [];
const DELETE = Symbol('delete');
MUTATIONS.push(
  ['delete', () => DELETE],
  ['null', () => null],
  ['a string', (v) => (typeof v === 'number' ? String(v) : 'phone')],
  ['a number', (v) => (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v)) ? Number(v) : 5)],
  ['NaN-like', (_, r) => ['NaN', 'Infinity', '-Infinity', '1e400', '', ' ', 'lots'][Math.floor(r() * 7)]],
  ['negative', (v) => (typeof v === 'number' ? -Math.abs(v) - 1 : -103)],
  ['zero', () => 0],
  ['huge', (_, r) => [1e308, 1e20, 2 ** 60, 100000][Math.floor(r() * 4)]],
  ['tiny', () => 5e-324],
  ['true', () => true],
  ['an object', () => ({ a: [{ b: null }] })],
  ['an empty list', () => []],
  ['a list of garbage', () => [null, 'x', -1, {}]],
);

/** `valid` with one mutation at a place chosen uniformly among its places; returns the description too. */
function mutate(valid: Json, rand: () => number): { file: Json; what: string } {
  const file = JSON.parse(JSON.stringify(valid));
  const groups = [...places(file).values()];
  const group = groups[Math.floor(rand() * groups.length)];
  const path = group[Math.floor(rand() * group.length)];
  const [name, mutation] = MUTATIONS[Math.floor(rand() * MUTATIONS.length)];
  let parent = file as Record<string | number, Json>;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, Json>;
  const key = path.at(-1)!;
  const next = mutation(parent[key], rand);
  if (next === DELETE) {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key];
  } else parent[key] = next;
  return { file, what: `${path.join('.')}: ${name}` };
}

/** What no output may show: a number that is not one, or an object printed as text. */
const BROKEN = /\bNaN\b|Infinity|undefined|\[object Object\]/;

/** Mutated files every reader took (the rest were refused in one line). */
let accepted = 0;

/** Run `use`; a UsageError must be one line, anything else thrown is a disagreement (exit 70). */
function agrees(what: string, use: () => string[], failures: string[]): void {
  try {
    for (const out of use()) if (BROKEN.test(out)) failures.push(`${what}: output shows ${BROKEN.exec(out)![0]}: ${out.slice(Math.max(0, BROKEN.exec(out)!.index - 80), BROKEN.exec(out)!.index + 20)}`);
    accepted++;
  } catch (err) {
    if (!(err instanceof UsageError)) failures.push(`${what}: ${(err as Error).stack?.split('\n').slice(0, 3).join(' | ')}`);
    else if (err.message.includes('\n')) failures.push(`${what}: more than one line: ${err.message}`);
  }
}

const N = 150;
/** The results file without its second backend's copy of a model: the gate takes one result a model. */
const gateable = () => {
  const f = richResults();
  f.results = f.results.filter((r: { backend: string }) => r.backend !== 'ort-web');
  return f;
};
const valid = { results: gateable(), lut: JSON.parse(JSON.stringify(smallLut())), search: smallSearch(smallLut()) };
const budgetMs = (valid.search as { budget_ms: number }).budget_ms;
const supernetEntry = pointEntry(v2, supernet(valid.lut.space), 'supernet');

/** Everything that reads a results file: each report format, and the gate on either side. */
function resultsReaders(data: Json): string[] {
  const file = checkResults(data, 'r.json');
  const outputs = formats.map((f) => findFormat(f.id).render([file], { wide: true }));
  const original = checkResults(valid.results, 'base.json') as ResultsFile;
  for (const [base, cur] of [[original, file], [file, original]]) {
    const verdict = gate(base, cur, { config: { defaults: DEFAULT_BUDGET, models: {} }, flags: {}, allowSetupChange: true, bootstrap: 200 });
    outputs.push(verdictTable(verdict), verdictMarkdown(verdict), verdictJunit(verdict), JSON.stringify(verdict).replace(/null/g, 'NaN'));
  }
  return outputs;
}

/** Everything that reads a latency table: its page, a prediction and a search. */
function lutReaders(path: string): string[] {
  const lut = readLut(path);
  const p = predictLatency(lut, path, supernetEntry, { resolution: lut.resolution });
  if (!(p.ms > 0)) throw new Error(`predicted ${p.ms} ms`);
  const found = search(lut, path, v2, { budgetMs: Math.max(budgetMs, p.ms), top: 3 });
  for (const c of [...found.chosen, ...found.front]) if (!(c.ms > 0)) throw new Error(`search chose a configuration predicted at ${c.ms} ms`);
  return [lutPage(lut, path), JSON.stringify(p), searchPage(found, 'search.json')];
}

describe('validators and readers agree on mutated files', () => {
  it.each([
    ['results', (data: Json) => resultsReaders(data)],
    ['latency table', (data: Json) => lutReaders(writeJson('lut.json', data))],
    ['search result', (data: Json) => [searchPage(readSearch(writeJson('search.json', data)), 'search.json')]],
  ] as const)('%s: %i seeded mutations'.replace('%i', String(N)), (kind, readers) => {
    const source = kind === 'results' ? valid.results : kind === 'latency table' ? valid.lut : valid.search;
    // The valid file itself goes through every reader.
    expect(() => readers(source)).not.toThrow();
    const rand = mulberry32(kind.length * 7919);
    const failures: string[] = [];
    for (let i = 0; i < N; i++) {
      const { file, what } = mutate(source, rand);
      agrees(`#${i} ${what}`, () => readers(file), failures);
    }
    expect(failures).toEqual([]);
    // Some mutations keep the file valid (an optional field removed, another number): those went through every reader.
    expect(accepted).toBeGreaterThan(5);
    accepted = 0;
  });
});

function writeJson(name: string, data: Json): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(data));
  return path;
}

describe('the CLI on a sample of mutated files: exit 0 or one line and exit 2, never NaN or a negative latency', () => {
  const config = writeJson('supernet.config.json', { schema: CONFIG_SCHEMA, family: 'efficientformerv2', name: 'supernet', resolution: 64, config: v2.searchSpace!.configOf(supernet(valid.lut.space)) });
  const base = writeJson('base.json', valid.results);
  const commands: Record<string, (path: string) => string[][]> = {
    results: (path) => [...['table', 'markdown', 'csv', 'html'].map((f) => ['report', path, '-f', f, ...(f === 'html' ? ['-o', join(dir, 'r.html')] : [])]), ['gate', '--baseline', base, '--current', path, '--allow-setup-change']],
    'latency table': (path) => [['report', path, '-o', join(dir, 'l.html')], ['predict-latency', '--lut', path, '--config', config], ['search', '--lut', path, '--budget-ms', String(budgetMs)]],
    'search result': (path) => [['report', path, '-o', join(dir, 's.html')]],
  };
  it.each(Object.keys(commands))('%s', async (kind) => {
    const source = kind === 'results' ? valid.results : kind === 'latency table' ? valid.lut : valid.search;
    const rand = mulberry32(kind.length * 104729);
    const failures: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { file, what } = mutate(source, rand);
      const path = writeJson(`cli-${i}.json`, file);
      for (const args of commands[kind](path)) {
        const r = await cli(...args);
        const lines = r.stderr.trim().split('\n').filter(Boolean);
        const ok = r.code === 0 || ((r.code === 2 || (r.code === 1 && args[0] === 'gate')) && lines.length === 1);
        if (!ok) failures.push(`${what}: ${args[0]} ${args.at(-1)}: exit ${r.code}: ${r.stderr}`);
        if (BROKEN.test(r.stdout)) failures.push(`${what}: ${args[0]}: stdout shows ${BROKEN.exec(r.stdout)![0]}`);
        if (/predicted -|^\s*\d+\s+-\d/m.test(r.stdout)) failures.push(`${what}: ${args[0]}: a negative latency`);
      }
    }
    expect(failures).toEqual([]);
  });
});

describe('the cases found by hand: one line naming the field, exit 2', () => {
  const edited = (name: string, source: Json, edit: (f: any) => void) => {
    const f = JSON.parse(JSON.stringify(source));
    edit(f);
    return writeJson(name, f);
  };
  const config = writeJson('case.config.json', { schema: CONFIG_SCHEMA, family: 'efficientformerv2', name: 'supernet', resolution: 64, config: v2.searchSpace!.configOf(supernet(valid.lut.space)) });
  const html = join(dir, 'case.html');
  it.each([
    ['a breakdown row without key (HTML)', () => ['report', edited('c1.json', valid.results, (f) => delete f.results[0].breakdown.by_op[0].key), '-o', html], /by_op\[0\]\.key is missing/],
    ['device "phone" (HTML)', () => ['report', edited('c2.json', valid.results, (f) => (f.results[0].device = 'phone')), '-o', html], /results\[0\]\.device is "phone", expected an object/],
    ['a table entry whose shape is 5 (HTML)', () => ['report', edited('c3.json', valid.lut, (f) => (f.entries[0].shape = 5)), '-o', html], /entries\[0\]\.shape is 5, expected a string/],
    ['a search.json without chosen (HTML)', () => ['report', edited('c4.json', valid.search, (f) => delete f.chosen), '-o', html], /chosen is missing/],
    ['a null table entry', () => ['predict-latency', '--lut', edited('c5.json', valid.lut, (f) => (f.entries[1] = null)), '--config', config], /entries\[1\] is null/],
    ['a table without its space', () => ['predict-latency', '--lut', edited('c6.json', valid.lut, (f) => delete f.space), '--config', config], /space is missing/],
    ['a table at resolution 100000', () => ['predict-latency', '--lut', edited('c7.json', valid.lut, (f) => (f.resolution = 100000)), '--config', config], /resolution is 100000, expected a whole number from 1 to 2048/],
    ['a negative correction.a', () => ['predict-latency', '--lut', edited('c8.json', valid.lut, (f) => (f.correction.a = -1)), '--config', config], /correction\.a is -1, expected a positive factor/],
    ['a correction that makes a latency negative', () => ['predict-latency', '--lut', edited('c9.json', valid.lut, (f) => (f.correction.c = -1000)), '--config', config], /predicts -\d.* which is no latency/],
    ['macs "lots" in a table entry', () => ['search', '--lut', edited('c10.json', valid.lut, (f) => (f.entries[0].macs = 'lots')), '--budget-ms', String(budgetMs)], /entries\[0\]\.macs is "lots"/],
  ] as const)('%s', async (_, args, line) => {
    const r = await cli(...args());
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(line);
  });
});
