import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, root, tempDir } from './helpers.js';
import { richResults } from './hostile/files.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let browser: Browser;
let htmlPath: string;
let resultsPath: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`headless Chromium not found at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  const dir = tempDir();
  const results = join(dir, 'results.json');
  resultsPath = results;
  const p = await cli('profile', '-m', 'efficientformerv2_s0,efficientformerv2_s1,efficientformer_l1,mobilenetv2_100', '--runs', '5', '--warmup', '2', '--breakdown', '--json', results, '--quiet');
  if (p.code !== 0) throw new Error(p.stderr);
  htmlPath = join(dir, 'report.html');
  const r = await cli('report', results, '--format', 'html', '--out', htmlPath);
  if (r.code !== 0) throw new Error(r.stderr);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

afterAll(async () => {
  await browser?.close();
});

describe('HTML report in headless Chromium', () => {
  it('is self-contained and draws the table, the accuracy chart and the breakdown bars', async () => {
    const html = readFileSync(htmlPath, 'utf8');
    expect(html).not.toMatch(/<script|https?:\/\//);
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const requests: string[] = [];
    page.on('request', (req) => {
      if (!req.url().startsWith('file:')) requests.push(req.url());
    });
    await page.goto(`file://${htmlPath}`);
    expect(await page.locator('tbody tr').count()).toBe(4);
    // Three EfficientFormers as circles, the baseline as a square, each labelled.
    // (in the accuracy chart; the latency-against-memory panels below draw the same models again)
    expect(await page.locator('svg:not(.memory) circle.model').count()).toBe(3);
    expect(await page.locator('svg:not(.memory) rect.baseline').count()).toBe(1);
    expect(await page.locator('svg.memory .memory-point').count()).toBe(4);
    // One colour per family, with a legend entry each (V1 and V2 here).
    expect(await page.locator('svg .legend').count()).toBe(2);
    await expect(page.locator('svg text.label', { hasText: 'mobilenetv2_100 (CNN)' }).count()).resolves.toBe(1);
    // The two V2 models are joined as one family line.
    expect(await page.locator('svg polyline').count()).toBe(1);
    // Each point sits where its model's numbers say: x grows with the measured median, y with the paper's top-1.
    const points = await page.evaluate(() =>
      [...document.querySelectorAll('svg:not(.memory) circle.model, svg:not(.memory) rect.baseline')].map((p) => ({
        model: (p.nextElementSibling?.textContent ?? '').replace(/ \(CNN\)$/, ''),
        x: Number(p.getAttribute('cx') ?? Number(p.getAttribute('x')) + 5),
        y: Number(p.getAttribute('cy') ?? Number(p.getAttribute('y')) + 5),
      })),
    );
    const measured = JSON.parse(readFileSync(resultsPath, 'utf8')).results as { model: string; latency_ms: { median: number }; paper: { top1: number } }[];
    expect(points.map((p) => p.model).sort()).toEqual(measured.map((r) => r.model).sort());
    const byLatency = [...measured].sort((a, b) => a.latency_ms.median - b.latency_ms.median).map((r) => r.model);
    expect([...points].sort((a, b) => a.x - b.x).map((p) => p.model)).toEqual(byLatency);
    for (const a of points) {
      for (const b of points) {
        const [ra, rb] = [a, b].map((p) => measured.find((r) => r.model === p.model)!);
        if (ra.paper.top1 > rb.paper.top1) expect(a.y).toBeLessThan(b.y); // SVG y grows downwards
      }
    }
    expect(await page.locator('.bar-row').count()).toBeGreaterThan(10);
    expect(requests).toEqual([]);
    await page.screenshot({ path: join(root, 'tmp', 'report-screenshot.png'), fullPage: true }).catch(() => undefined);
    await page.close();
  });
});

describe('HTML report: what a person sees is true', () => {
  it('one chart panel per backend, int8 points labelled, the table scrolls instead of being cut', async () => {
    const dir = tempDir();
    const input = join(dir, 'results.json');
    writeFileSync(input, JSON.stringify(richResults()));
    const out = join(dir, 'report.html');
    const r = await cli('report', input, '-o', out);
    expect(r.code, r.stderr).toBe(0);
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`file://${out}`);
    const panels = await page.evaluate(() =>
      [...document.querySelectorAll('svg:not(.memory)')].map((svg) => ({
        axis: [...svg.querySelectorAll('text')].map((t) => t.textContent ?? '').find((t) => t.startsWith('measured median latency')) ?? '',
        marks: [...svg.querySelectorAll('circle.model, rect.baseline')].map((m) => ({
          title: m.querySelector('title')?.textContent ?? '',
          int8: m.classList.contains('int8'),
          at: m.tagName === 'rect' ? `${Number(m.getAttribute('x')) + 5},${Number(m.getAttribute('y')) + 5}` : `${m.getAttribute('cx')},${m.getAttribute('cy')}`,
        })),
        lines: [...svg.querySelectorAll('polyline')].map((l) => (l.getAttribute('points') ?? '').split(' ')),
        labels: [...svg.querySelectorAll('text.label')].map((t) => t.textContent ?? ''),
      })),
    );
    // ort-cpu, ort-web and the phone: three panels, each axis naming its backend, each point on it measured there.
    expect(panels.map((p) => p.axis)).toEqual(['ort-cpu', 'ort-web', 'ort-android'].map((b) => `measured median latency (ms, ${b})`));
    for (const p of panels) {
      const backend = /ms, (.*)\)/.exec(p.axis)![1];
      for (const m of p.marks) expect(m.title).toContain(` on ${backend}:`);
      // A family line joins points of its own panel only: never efficientformerv2_s0 on ort-cpu with it on ort-web.
      for (const line of p.lines) for (const vertex of line) expect(p.marks.map((m) => m.at)).toContain(vertex);
    }
    // Latency against peak memory: a panel per backend whose results have memory_mb (not ort-web, whose figures are absent), each point labelled by its model.
    const memory = await page.evaluate(() =>
      [...document.querySelectorAll('svg.memory')].map((svg) => ({
        label: svg.getAttribute('aria-label'),
        points: [...svg.querySelectorAll('.memory-point')].map((m) => m.querySelector('title')?.textContent ?? ''),
        labels: [...svg.querySelectorAll('text.memory-label')].map((t) => t.textContent ?? ''),
      })),
    );
    expect(memory.map((m) => m.label)).toEqual(['latency against peak memory on ort-cpu', 'latency against peak memory on ort-android']);
    expect(memory[0].labels.sort()).toEqual(['efficientformerv2_s0', 'efficientformerv2_s0:int8', 'mobilenetv2_100']);
    expect(memory[1].points).toEqual([expect.stringMatching(/^efficientformerv2_s1 on ort-android: 15\.200 ms; peak 210\.5 MB \(onnxruntime_perf_test's Peak working set size\)$/)]);
    // The int8 model is an open circle whose label says its top-1 is the float model's.
    const cpu = panels[0];
    expect(cpu.marks.filter((m) => m.int8).map((m) => m.title)).toEqual([expect.stringContaining("efficientformerv2_s0:int8 on ort-cpu")]);
    expect(cpu.labels).toContain('efficientformerv2_s0:int8 (float top-1)');
    // Every column of the table can be reached: the page does not run off the screen, the table scrolls.
    const fits = await page.evaluate(() => {
      const box = document.querySelector('.table-scroll')!;
      box.scrollLeft = box.scrollWidth;
      const last = [...document.querySelectorAll('thead th')].at(-1)!.getBoundingClientRect();
      return { page: document.documentElement.scrollWidth <= window.innerWidth, last: last.right <= box.getBoundingClientRect().right + 1 };
    });
    expect(fits).toEqual({ page: true, last: true });
    await page.close();
  });
});
