/**
 * Load time, memory and model size in every report, and memory and load budgets in the gate:
 * results files written by hand (nothing is measured), each cost figure present or absent with
 * the reason a backend gives.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BUDGET, readGateConfig } from '../src/gate/budgets.js';
import { gate } from '../src/gate/compare.js';
import { verdictJunit, verdictMarkdown, verdictTable } from '../src/gate/reports.js';
import { latencyStats } from '../src/core/stats.js';
import type { ModelResult, ResultsFile } from '../src/results/results.js';
import { cli, tempDir } from './helpers.js';

const dir = tempDir('eformer-cost-');
const write = (name: string, data: unknown) => {
  const path = join(dir, name);
  writeFileSync(path, typeof data === 'string' ? data : JSON.stringify(data));
  return path;
};

interface Cost {
  load_ms?: number;
  first_run_ms?: number;
  memory_mb?: ModelResult['memory_mb'];
  model_bytes?: number;
  absent?: ModelResult['absent'];
}

/** One model's raw samples (no reference: a device harness), with the cost figures given. */
function result(model: string, cost: Cost, ms = 20): ModelResult {
  const samples = Array.from({ length: 30 }, (_, i) => ms * (1 + 0.01 * ((i % 5) - 2)));
  return {
    model,
    backend: 'ort-android',
    resolution: 224,
    batch: 1,
    settings: { threads: 4, graph_optimization: 'all', execution_provider: 'cpu', spinning: false, interleaved: false },
    device: { platform: 'android', id: 'R5CT', name: 'Pixel 8' },
    runs: 30,
    warmup_runs: 5,
    latency_ms: latencyStats(samples),
    noisy: false,
    ...cost,
  } as ModelResult;
}

function file(...results: ModelResult[]): ResultsFile {
  return { schema: 'eformer.results/1', env: { cpu: 'test cpu', cores: 8, os: 'android', node: 'v20', eformer: '0', created: '' }, results };
}

const given = (peak: number, load: number): Cost => ({ load_ms: load, first_run_ms: 31.5, memory_mb: { peak, load: peak * 0.8, source: 'perf_test Peak working set size' }, model_bytes: 14_200_000 });
const NO_MEMORY = 'the harness printed no working set';
const NO_LOAD = 'the harness times no session creation';
const absentCost: Cost = { model_bytes: 14_200_000, absent: { memory_mb: NO_MEMORY, load_ms: NO_LOAD, first_run_ms: NO_LOAD } };

const options = { config: { defaults: DEFAULT_BUDGET, models: {} }, flags: {}, rawMedians: true };
const check = (v: ReturnType<typeof gate>, metric: string) => v.models[0].checks.find((c) => c.metric === metric)!;

describe('gate: memory and load budgets', () => {
  const base = file(result('efficientformerv2_s0', given(100, 200)));
  const grown = (peak: number, load: number) => file(result('efficientformerv2_s0', given(peak, load)));

  it('are not gated unless a budget names them', () => {
    const v = gate(base, grown(300, 900), options);
    expect(v.pass).toBe(true);
    expect(v.models[0].checks.map((c) => c.metric)).toEqual(['latency']);
  });

  it('relative: growth of memory_mb.peak and load_ms over the baseline, by a single threshold', () => {
    const flags = { memory: 0.05, load: 0.1 };
    const ok = gate(base, grown(104, 218), { ...options, flags });
    expect(ok.pass).toBe(true);
    expect(check(ok, 'memory')).toMatchObject({ baseline: 100, current: 104, outcome: 'pass', limit: '+5.0%' });
    expect(check(ok, 'memory').change).toBeCloseTo(0.04);
    expect(check(ok, 'memory').ci95).toBeUndefined();
    expect(check(ok, 'load')).toMatchObject({ baseline: 200, current: 218, outcome: 'pass', limit: '+10.0%' });
    const more = gate(base, grown(106, 218), { ...options, flags });
    expect(more.pass).toBe(false);
    expect(check(more, 'memory').outcome).toBe('regression');
    expect(check(more, 'load').outcome).toBe('pass');
    const slower = gate(base, grown(104, 230), { ...options, flags });
    expect(slower.pass).toBe(false);
    expect(check(slower, 'load').outcome).toBe('regression');
    expect(check(gate(base, grown(80, 150), { ...options, flags }), 'memory').outcome).toBe('improvement');
  });

  it('absolute: max_memory_mb and max_load_ms on the current figures', () => {
    expect(gate(base, base, { ...options, flags: { maxMemoryMb: 120, maxLoadMs: 250 } }).pass).toBe(true);
    const v = gate(base, base, { ...options, flags: { maxMemoryMb: 90, maxLoadMs: 250 } });
    expect(v.pass).toBe(false);
    expect(check(v, 'memory_ceiling')).toMatchObject({ current: 100, limit: '<= 90 MB', outcome: 'regression' });
    expect(check(gate(base, base, { ...options, flags: { maxLoadMs: 150 } }), 'load_ceiling')).toMatchObject({ current: 200, limit: '<= 150 ms', outcome: 'regression' });
  });

  it('a budget on a figure absent from the current results fails, naming the reason the results give', () => {
    const current = file(result('efficientformerv2_s0', absentCost));
    for (const flags of [{ memory: 0.05 }, { maxMemoryMb: 1000 }]) {
      const v = gate(base, current, { ...options, flags });
      expect(v.pass).toBe(false);
      expect(v.models[0].outcome).toBe('missing');
      const c = v.models[0].checks.find((x) => x.metric.startsWith('memory'))!;
      expect(c).toMatchObject({ outcome: 'missing', current: null, change: null });
      expect(c.note).toBe(`the budget cannot be evaluated: the current results have no memory_mb (${NO_MEMORY})`);
    }
    const load = gate(base, current, { ...options, flags: { load: 0.1 } });
    expect(check(load, 'load').note).toContain(NO_LOAD);
    // Both sides without it: still a guard that cannot be evaluated.
    expect(gate(current, current, { ...options, flags: { memory: 0.05 } }).pass).toBe(false);
  });

  it('absent from the baseline only: the relative budget is skipped with a note; a ceiling still applies', () => {
    const old = file(result('efficientformerv2_s0', absentCost));
    const v = gate(old, base, { ...options, flags: { memory: 0.05, maxMemoryMb: 120 } });
    expect(v.pass).toBe(true);
    expect(check(v, 'memory')).toMatchObject({ outcome: 'skipped', baseline: null, current: 100, change: null });
    expect(check(v, 'memory').note).toBe(`skipped: the baseline has no memory_mb (${NO_MEMORY})`);
    expect(check(v, 'memory_ceiling')).toMatchObject({ outcome: 'pass', baseline: null, change: null });
    expect(gate(old, base, { ...options, flags: { maxMemoryMb: 90 } }).pass).toBe(false);
  });

  it('the table, Markdown and JUnit name the figure, and the notes say why a check was skipped or not evaluated', () => {
    const v = gate(base, file(result('efficientformerv2_s0', { ...given(130, 400), memory_mb: undefined, absent: { memory_mb: NO_MEMORY } })), { ...options, flags: { memory: 0.05, load: 0.1 } });
    const table = verdictTable(v);
    expect(table).toMatch(/^ {2}load +200\.0 +400\.0 +\+100\.0% +\+10\.0% +REGRESSION$/m);
    expect(table).toMatch(/^ {2}memory +100\.0 +- +- +\+5\.0% +NOT EVALUATED$/m);
    expect(table.replace(/\n/g, ' ')).toContain(`efficientformerv2_s0 memory: the budget cannot be evaluated: the current results have no memory_mb (${NO_MEMORY})`);
    expect(table).toMatch(/compared: .*memory: peak MB \(memory_mb\.peak\)/s);
    const md = verdictMarkdown(v);
    expect(md).toMatch(/\| efficientformerv2_s0 \| load \| load ms \| 200\.0 \| 400\.0 \| \+100\.0% \|  \| \+10\.0% \| REGRESSION \|/);
    expect(md).toMatch(/\| efficientformerv2_s0 \| memory \| peak MB \(memory\\_mb\.peak\)|\| efficientformerv2_s0 \| memory \| peak MB \(memory_mb\.peak\)/);
    expect(md).toContain(`\n\nefficientformerv2_s0 memory: the budget cannot be evaluated`);
    const junit = verdictJunit(v);
    expect(junit).toContain('failures="2"');
    expect(junit).toMatch(/name="load"><failure message="efficientformerv2_s0 load regressed: \+100\.0%">load ms: baseline 200\.0, current 400\.0/);
    expect(junit).toMatch(/name="memory"><failure message="efficientformerv2_s0 memory: the budget cannot be evaluated: the current results have no memory_mb \(the harness printed no working set\)">/);
    const skipped = verdictJunit(gate(file(result('efficientformerv2_s0', absentCost)), base, { ...options, flags: { memory: 0.05 } }));
    expect(skipped).toMatch(/skipped="1"/);
    expect(skipped).toMatch(/name="memory"><skipped message="efficientformerv2_s0 memory: skipped: the baseline has no memory_mb/);
  });

  it('budgets files take memory, load, max_memory_mb and max_load_ms, and refuse what does not parse', () => {
    const config = readGateConfig(write('cost.config.json', { budgets: { default: { memory: '5%', load: '10%' }, efficientformerv2_s0: { max_memory_mb: 120, max_load_ms: '300' } } }));
    expect(config.defaults).toMatchObject({ memory: 0.05, load: 0.1 });
    expect(config.models.efficientformerv2_s0).toEqual({ maxMemoryMb: 120, maxLoadMs: 300 });
    expect(() => readGateConfig(write('bad1.json', { budgets: { default: { memory: 5 } } }))).toThrow(/budgets.default.memory must be a percentage like 5%/);
    expect(() => readGateConfig(write('bad2.json', { budgets: { default: { max_memory_mb: '5%' } } }))).toThrow(/budgets.default.max_memory_mb must be a positive number of megabytes/);
    expect(() => readGateConfig(write('bad3.json', { budgets: { default: { max_load_ms: -1 } } }))).toThrow(/max_load_ms must be a positive number of milliseconds/);
  });
});

describe('eformer gate with memory and load budgets', () => {
  const base = write('base.json', file(result('efficientformerv2_s0', given(100, 200))));
  const bigger = write('bigger.json', file(result('efficientformerv2_s0', given(110, 205))));
  const absent = write('absent.json', file(result('efficientformerv2_s0', absentCost)));

  it('exit 0 within budget, 1 beyond it, with the figure in the Markdown and JUnit', async () => {
    expect((await cli('gate', '--baseline', base, '--current', bigger, '--raw-medians', '--max-memory-increase', '15%', '--max-load-increase', '5%')).code).toBe(0);
    const [junit, markdown, verdict] = ['g.xml', 'g.md', 'g.json'].map((f) => join(dir, f));
    const r = await cli('gate', '--baseline', base, '--current', bigger, '--raw-medians', '--max-memory-increase', '5%', '--max-load-ms', '250', '--junit', junit, '--markdown', markdown, '--verdict', verdict);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toBe('eformer: regression in efficientformerv2_s0');
    expect(r.stdout).toMatch(/^ {2}memory +100\.0 +110\.0 +\+10\.0% +\+5\.0% +REGRESSION$/m);
    expect(r.stdout).toMatch(/^ {2}load ceiling +200\.0 +205\.0 +\+2\.5% +<= 250 ms +ok$/m);
    expect(readFileSync(markdown, 'utf8')).toMatch(/\| efficientformerv2_s0 \| memory \| peak MB .* \| REGRESSION \|/);
    expect(readFileSync(junit, 'utf8')).toMatch(/name="memory"><failure message="efficientformerv2_s0 memory regressed: \+10\.0%">/);
    expect(readFileSync(junit, 'utf8')).toMatch(/name="load_ceiling"><system-out>/);
    expect(JSON.parse(readFileSync(verdict, 'utf8')).models[0].checks.find((c: { metric: string }) => c.metric === 'memory')).toMatchObject({ baseline: 100, current: 110, outcome: 'regression' });
    expect((await cli('gate', '--baseline', base, '--current', bigger, '--raw-medians', '--max-memory-mb', '105')).code).toBe(1);
  });

  it('a figure absent from the current results: exit 1, naming the reason', async () => {
    const r = await cli('gate', '--baseline', base, '--current', absent, '--raw-medians', '--max-memory-mb', '1000');
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toBe('eformer: a budget cannot be evaluated for efficientformerv2_s0 (a figure is absent from the current results)');
    expect(r.stdout.replace(/\n/g, ' ')).toContain(`the current results have no memory_mb (${NO_MEMORY})`);
    // Absent from the baseline only: skipped, and the gate passes.
    const skipped = await cli('gate', '--baseline', absent, '--current', base, '--raw-medians', '--max-memory-increase', '5%');
    expect(skipped.code, skipped.stderr).toBe(0);
    expect(skipped.stdout).toMatch(/^ {2}memory +- +100\.0 +- +\+5\.0% +skipped$/m);
  });

  it.each([
    ['--max-memory-increase', '100', /--max-memory-increase must be a percentage like 5%/],
    ['--max-load-ms', '5%', /--max-load-ms must be a positive number of milliseconds, got '5%'/],
    ['--max-memory-mb', '0', /--max-memory-mb must be a positive number of megabytes/],
  ])('%s %s: exit 2, one line', async (flag, value, pattern) => {
    const r = await cli('gate', '--baseline', base, '--current', bigger, '--raw-medians', flag, value);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(pattern);
  });
});

describe('reports: load, memory and model size', () => {
  const path = write('report.json', file(result('efficientformerv2_s0', given(96.5, 150.25)), result('efficientformerv2_s1', absentCost, 30)));

  it('the default table shows load ms and peak MB; --wide adds first run ms, load MB and model MB; an absent figure is -, never 0', async () => {
    const r = await cli('report', path);
    expect(r.code, r.stderr).toBe(0);
    const [head, , s0, s1] = r.stdout.split('\n');
    expect(head).toMatch(/load ms +peak MB/);
    expect(head).not.toMatch(/first run ms|model MB|load MB/);
    expect(s0).toMatch(/150\.3 +96\.5/);
    expect(s1).toMatch(/ - +- *$|- +- +/);
    expect(s1).not.toMatch(/ 0(\.0+)? /);
    expect(r.stdout).toContain('Measured as: perf_test Peak working set size.');
    const wide = await cli('report', path, '--wide');
    expect(wide.stdout.split('\n')[0]).toMatch(/load ms +peak MB +first run ms +load MB +model MB/);
    expect(wide.stdout.split('\n')[2]).toMatch(/150\.3 +96\.5 +31\.500 +77\.2 +13\.54/);
  });

  it('a file without any cost figure shows none of their columns', async () => {
    const bare = write('bare.json', file(result('efficientformerv2_s0', {})));
    const r = await cli('report', bare, '--wide');
    expect(r.stdout.split('\n')[0]).not.toMatch(/load ms|peak MB|model MB/);
  });

  it('CSV has the figures as numbers and empty cells where they are absent; Markdown names the reasons', async () => {
    const csv = (await cli('report', path, '-f', 'csv')).stdout.split('\n').map((l) => l.split(','));
    const col = (name: string) => csv[0].indexOf(name);
    for (const name of ['load_ms', 'first_run_ms', 'peak_memory_mb', 'load_memory_mb', 'model_bytes', 'memory_source']) expect(col(name), name).toBeGreaterThan(0);
    expect([csv[1][col('load_ms')], csv[1][col('peak_memory_mb')], csv[1][col('load_memory_mb')], csv[1][col('model_bytes')], csv[1][col('memory_source')]]).toEqual(['150.25', '96.5', '77.2', '14200000', 'perf_test Peak working set size']);
    expect([csv[2][col('load_ms')], csv[2][col('first_run_ms')], csv[2][col('peak_memory_mb')], csv[2][col('memory_source')]]).toEqual(['', '', '', '']);
    const md = (await cli('report', path, '-f', 'markdown')).stdout;
    expect(md).toMatch(/\| load ms \| peak MB \| first run ms \| load MB \| model MB \|/);
    expect(md).toContain(`load ms, first run ms absent for efficientformerv2_s1 on ort-android: ${NO_LOAD}`);
    expect(md).toContain(`peak MB absent for efficientformerv2_s1 on ort-android: ${NO_MEMORY}`);
  });

  it('HTML: latency against peak memory, one panel per backend, and the reason for an absent figure on its cell', async () => {
    const out = join(dir, 'report.html');
    expect((await cli('report', path, '-o', out)).code).toBe(0);
    const html = readFileSync(out, 'utf8');
    expect(html).toContain('<h2>Latency against peak memory</h2>');
    expect(html.match(/class="memory-point"/g)).toHaveLength(1);
    expect(html).toContain('aria-label="latency against peak memory on ort-android"');
    expect(html).toContain(`<td title="absent: ${NO_MEMORY}">-</td>`);
    const none = join(dir, 'none.html');
    expect((await cli('report', write('none.json', file(result('efficientformerv2_s0', absentCost))), '-o', none)).code).toBe(0);
    expect(readFileSync(none, 'utf8')).not.toContain('Latency against peak memory');
  });

  it('report merge keeps every cost figure and absent reason', async () => {
    const other = write('other.json', file(result('efficientformerv2_l', { ...given(300, 500), absent: { model_bytes: 'served from memory' }, model_bytes: undefined })));
    const out = join(dir, 'merged.json');
    const r = await cli('report', 'merge', path, other, '--out', out);
    expect(r.code, r.stderr).toBe(0);
    const merged = JSON.parse(readFileSync(out, 'utf8')).results as ModelResult[];
    const pick = ({ load_ms, first_run_ms, memory_mb, model_bytes, absent }: ModelResult) => ({ load_ms, first_run_ms, memory_mb, model_bytes, absent });
    const inputs = [...JSON.parse(readFileSync(path, 'utf8')).results, ...JSON.parse(readFileSync(other, 'utf8')).results] as ModelResult[];
    expect(merged.map(pick)).toEqual(inputs.map(pick));
    expect(merged[2].absent).toEqual({ model_bytes: 'served from memory' });
  });
});
