/**
 * onnxruntime-web (WASM, SIMD, threads) inside headless Chromium, driven by playwright-core:
 * the closest desktop stand-in for a phone browser. Timing happens inside the page
 * (performance.now() around session.run), so the browser round trip is not counted.
 *
 * Nothing goes over the network: every request the page makes is answered from memory by a
 * route handler, with the cross-origin-isolation headers that WASM threads need.
 *
 * Profiling: the WASM runtime cannot write its trace anywhere we can read (its file system is
 * virtual), so on endProfiling() it prints it to the console instead, one message per line:
 * `[`, one Chrome-trace event per message (each but the last ending in a comma), `]`. close()
 * listens for those messages and rebuilds the trace file onnxruntime-node would have written.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { MissingToolError, UsageError } from '../../core/errors.js';
import { absentUnlessGiven, megabytes, type ModelCost } from '../../core/memory.js';
import { timerMs } from '../../core/process.js';
import { writeFileAtomic } from '../../core/fs.js';
import { firstLine } from '../../core/text.js';
import { toolVersion } from '../../devices/tool.js';
import type { BackendSession, ModelSource, SessionBackend, SessionOptions } from '../backend.js';

// localhost is a secure context (needed for cross-origin isolation); the route answers, nothing listens.
const ORIGIN = 'http://localhost:9';
const require = createRequire(import.meta.url);

/** The package exports no package.json; its main entry lives in dist/. */
function ortWebDist(): string {
  return dirname(require.resolve('onnxruntime-web'));
}

/** The browser ort-web drives (and `eformer doctor` reports): $CHROMIUM_PATH, else Debian's chromium. */
export function chromiumPath(): string {
  return process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
}

/**
 * Before onnxruntime-web loads, the page keeps every WebAssembly.Memory it makes (threaded builds
 * create theirs in JavaScript and share it with their workers), with its size at creation: the
 * runtime's own heap. What it grows beyond that is the model's, and it never shrinks, so its size
 * at any moment is its peak so far.
 */
const MEMORY_WATCH = `globalThis.__eformerMemories=[];WebAssembly.Memory=new Proxy(WebAssembly.Memory,{construct(t,a){const m=Reflect.construct(t,a);__eformerMemories.push({m,initial:m.buffer.byteLength});return m}});`;
const PAGE = `<!doctype html><html><head><script>${MEMORY_WATCH}</script><script src="/ort/ort.wasm.min.js"></script></head><body>eformer ort-web harness</body></html>`;

/** Runs in the page: the WebAssembly memories' growth beyond their initial sizes, bytes (undefined when none was seen). */
function pageMemory(): { grown: number; initial: number } | undefined {
  const seen = (globalThis as any).__eformerMemories as { m: { buffer: ArrayBufferLike }; initial: number }[];
  if (!seen?.length) return undefined;
  return seen.reduce((a, x) => ({ grown: a.grown + x.m.buffer.byteLength - x.initial, initial: a.initial + x.initial }), { grown: 0, initial: 0 });
}

/** Runs in the page: create the session and keep the feeds ready. */
async function pageInit(args: { url: string; parts: number; threads: number; level: string; profiling: boolean; inputs: { name: string; shape: number[]; dtype: 'float32' | 'int64' }[] }) {
  const ort = (globalThis as any).ort;
  ort.env.wasm.wasmPaths = '/ort/';
  ort.env.wasm.numThreads = args.threads;
  const parts = await Promise.all(Array.from({ length: args.parts }, async (_, i) => new Uint8Array(await (await fetch(`${args.url}?part=${i}`)).arrayBuffer())));
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (bytes.set(p, at), at + p.length), 0);
  let session;
  const start = performance.now();
  try {
    session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: args.level, enableProfiling: args.profiling });
  } catch (err) {
    // onnxruntime-web refusing the model is its answer about the input, told apart from the page dying.
    return { loadMs: undefined, refused: String((err as Error)?.message ?? err), isolated: false, version: undefined };
  }
  const feeds: Record<string, unknown> = {};
  for (const input of args.inputs) {
    const n = input.shape.reduce((a, b) => a * b, 1);
    // The same fill as ort-cpu: zeros for integer inputs (indices), a smooth signal for floats.
    if (input.dtype === 'int64') {
      feeds[input.name] = new ort.Tensor('int64', new BigInt64Array(n), input.shape);
      continue;
    }
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = Math.sin(i * 0.37);
    feeds[input.name] = new ort.Tensor('float32', data, input.shape);
  }
  const loadMs = performance.now() - start;
  (globalThis as any).__eformer = { session, feeds };
  return { loadMs, refused: undefined, isolated: (globalThis as any).crossOriginIsolated as boolean, version: ort.env.versions?.web ?? ort.env.versions?.common };
}

/** Runs in the page: the first inference, whose failure inside onnxruntime-web is about the model. */
async function pageFirstRun(): Promise<{ ms?: number; refused?: string }> {
  const { session, feeds } = (globalThis as any).__eformer;
  try {
    const start = performance.now();
    await session.run(feeds);
    return { ms: performance.now() - start };
  } catch (err) {
    return { refused: String((err as Error)?.message ?? err) };
  }
}

/** Runs in the page: one timed inference. */
async function pageRun(): Promise<number> {
  const { session, feeds } = (globalThis as any).__eformer;
  const start = performance.now();
  await session.run(feeds);
  return performance.now() - start;
}

/** Runs in the page: the runtime prints its whole profile to the console before this returns. */
function pageEndProfiling(): void {
  (globalThis as any).__eformer.session.endProfiling();
}

/**
 * The trace JSON rebuilt from console messages: the events between the runtime's `[` and `]`
 * lines, without their trailing commas. Anything else the page printed (warnings, logs, even
 * in the middle of the profile) is not an event line and is left out.
 */
export function traceFromConsole(messages: readonly string[]): string {
  const start = messages.findIndex((m) => m.trim() === '[');
  const end = messages.findIndex((m, i) => i > start && m.trim() === ']');
  if (start < 0 || end < 0) throw new UsageError('onnxruntime-web printed no complete profile to the console');
  const events = messages.slice(start + 1, end).map(traceEventOf).filter((e) => e !== undefined);
  return `[\n${events.join(',\n')}\n]\n`;
}

/** One event line as valid JSON, or undefined for a message that is not one. */
function traceEventOf(message: string): string | undefined {
  const text = message.trim().replace(/,$/, '');
  if (!/^\{\s*"cat"\s*:/.test(text)) return undefined;
  try {
    JSON.parse(text);
    return text;
  } catch {
    throw new UsageError(`onnxruntime-web printed a broken profile event: ${text.slice(0, 120)}`);
  }
}

// The page prints about 0.45 ms an event here (efficientformerv2_s0: ~170 events a run, 18 s for
// 231 runs); two minutes means the profile never came.
const PROFILE_TIMEOUT_MS = 120_000;
let tracesWritten = 0;

type Page = import('playwright-core').Page;
type ConsoleMessage = import('playwright-core').ConsoleMessage;

/** End the runtime's profile, rebuild it from the console and write it as `<prefix>_<time>_<n>.json`. */
async function saveProfile(page: Page, prefix: string): Promise<string> {
  const messages: string[] = [];
  let opened = false;
  const record = (m: ConsoleMessage) => {
    const text = m.text();
    opened ||= text.trim() === '[';
    messages.push(text);
  };
  page.on('console', record);
  try {
    // Registered after `record`, so the closing `]` is already in `messages` when this resolves.
    const printed = page.waitForEvent('console', { predicate: (m) => opened && m.text().trim() === ']', timeout: PROFILE_TIMEOUT_MS });
    await Promise.all([printed, page.evaluate(pageEndProfiling)]);
  } catch (err) {
    throw new UsageError(`onnxruntime-web's profile did not arrive: ${firstLine(err)}`);
  } finally {
    page.off('console', record);
  }
  const path = `${prefix}_${new Date().toISOString().replace(/[:.]/g, '-')}_${++tracesWritten}.json`;
  writeFileAtomic(path, traceFromConsole(messages));
  return path;
}

type Browser = import('playwright-core').Browser;
let browser: Promise<Browser> | undefined;
let openSessions = 0;

/**
 * The model reaches the page in parts of this size: a single response of efficientformer_l3's 124 MB
 * crashed the page ("Target page, context or browser has been closed") as Playwright handed it over.
 */
const MODEL_PART = 16 * 1024 * 1024;

/**
 * Seconds each browser step may take unless --timeout says: a hung Chromium is stopped and named,
 * never waited on. Opening a model (fetching it into the page and creating the session) is the slow
 * step: efficientformer_l7's 330 MB take tens of seconds on a loaded machine.
 */
const STEP_SECONDS = { launch: 60, page: 30, model: 300, run: 120 } as const;

/** A browser step that did not finish in time. */
class StepTimeout extends Error {}

/** `work`, or StepTimeout after `seconds`; a late settlement of `work` is ignored. */
async function step<T>(what: string, work: Promise<T>, seconds: number): Promise<T> {
  work.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StepTimeout(`${what} did not finish in ${seconds} s`)), timerMs(seconds));
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const CRASH = /Target (page, context or browser|crashed)|has been closed|Page crashed|Browser closed/i;
/** A load of eformer's own page failing: every request is answered from memory, so only the browser can fail it. */
const LOAD_FAILED = /net::ERR_\w+/;

/** Whether an error says the page or the browser died, or failed to load (rather than an answer, or a hang). */
export function isCrash(err: unknown): boolean {
  return CRASH.test(firstLine(err)) || LOAD_FAILED.test(firstLine(err));
}

async function launch(seconds: number): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  try {
    return await step(
      'starting Chromium',
      chromium.launch({
        executablePath: chromiumPath(),
        timeout: seconds * 1000,
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      }),
      seconds + 5,
    );
  } catch (err) {
    throw new MissingToolError(`ort-web: Chromium (${chromiumPath()}) did not start: ${firstLine(err)}`);
  }
}

/** The shared browser, launched again when the last one died. */
async function liveBrowser(seconds: number): Promise<Browser> {
  const current = browser && (await browser.catch(() => undefined));
  if (current?.isConnected()) return current;
  browser = launch(seconds);
  browser.catch(() => (browser = undefined));
  return browser;
}

/** Close without waiting on a browser that may be hung: Playwright kills what is left when eformer exits. */
async function closeQuietly(target: { close(): Promise<void> } | undefined): Promise<void> {
  if (target) await step('closing', target.close(), 5).catch(() => undefined);
}

/**
 * Why a model did not open in the page. onnxruntime-web refusing the model (an operator or type it
 * lacks) is about the input: exit 2. The page or browser dying under it, a page that does not load,
 * a step that hangs: the tool failing, not the user's input: exit 3, saying so.
 */
export function openFailure(model: string, err: unknown): UsageError | MissingToolError {
  const line = firstLine(err);
  if (err instanceof StepTimeout) return new MissingToolError(`Chromium hung while opening ${model} on ort-web: ${line} (raise --timeout if the machine is just slow)`);
  if (!CRASH.test(line) && LOAD_FAILED.test(line)) return new MissingToolError(`Chromium failed to load eformer's page for ${model} on ort-web (${line}); nothing went over the network, so the browser itself failed`);
  if (isCrash(err)) return new MissingToolError(`Chromium's page crashed while opening ${model} on ort-web (${line}); the model itself may be fine: try ort-cpu, or --verbose`);
  return new UsageError(`onnxruntime-web cannot run ${model}: ${line}`);
}

/** The model refused by onnxruntime-web inside a page that is otherwise fine. */
class Refused extends Error {}

/**
 * Test-only fault injection ($EFORMER_TEST_ORT_WEB_FAULT), so the tests can make Chromium fail the
 * ways it fails under load: `crash-once` crashes the first page opened, `crash` every page, `abort`
 * fails the page load (net::ERR_ABORTED), `hang` makes every inference after the first one never return.
 */
const fault = () => process.env.EFORMER_TEST_ORT_WEB_FAULT;
let pagesOpened = 0;

async function injectFault(page: Page, when: 'before load' | 'after the first run'): Promise<void> {
  const f = fault();
  const first = pagesOpened === 1;
  if (when === 'before load' && (f === 'crash' || (f === 'crash-once' && first))) {
    const cdp = await page.context().newCDPSession(page);
    cdp.send('Page.crash').catch(() => undefined);
  }
  if (when === 'after the first run' && f === 'hang') await page.evaluate(() => ((globalThis as any).__eformer.session.run = () => new Promise(() => undefined)));
}

export const ortWeb: SessionBackend = {
  kind: 'session',
  id: 'ort-web',
  // Pages pay for switching (see Turn): one discarded run, then three kept, per turn.
  turn: { keep: 3, rewarm: 1 },
  description: 'onnxruntime-web (WASM, SIMD, threads) in headless Chromium',
  // The WASM build runs the CPU provider's QDQ fusions too.
  int8Providers: ['wasm'],

  async ensureAvailable() {
    if (!existsSync(chromiumPath())) throw new MissingToolError(`ort-web needs Chromium at ${chromiumPath()}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
    try {
      ortWebDist();
      await import('playwright-core');
    } catch {
      throw new MissingToolError('ort-web needs the onnxruntime-web and playwright-core packages: npm ci');
    }
  },

  executionProviders() {
    return ['wasm'];
  },

  environment() {
    return { onnxruntime_web: JSON.parse(readFileSync(join(ortWebDist(), '..', 'package.json'), 'utf8')).version, browser: chromiumPath() };
  },

  async probe() {
    const version = await toolVersion(chromiumPath(), ['--version']);
    return [{ name: 'chromium (ort-web)', found: version && `${version} (${chromiumPath()})`, install: '`apt-get install -y chromium` (or set CHROMIUM_PATH)' }];
  },

  async open(model: ModelSource, options: SessionOptions): Promise<BackendSession> {
    if (options.executionProvider !== 'cpu' && options.executionProvider !== 'wasm') {
      throw new UsageError(`ort-web runs the wasm execution provider, not '${options.executionProvider}'`);
    }
    // A page that crashes under load is opened once more (in a new browser if the browser died with it).
    for (let attempt = 1; ; attempt++) {
      try {
        return await openPage(model, options);
      } catch (err) {
        if (err instanceof Refused) throw new UsageError(`onnxruntime-web cannot run ${model.name}: ${err.message}`);
        if (err instanceof MissingToolError) throw err;
        if (attempt === 1 && isCrash(err)) continue;
        const failure = openFailure(model.name, err);
        throw attempt > 1 && failure instanceof MissingToolError ? new MissingToolError(`${failure.message} (twice: the page was opened again after the first failure)`) : failure;
      }
    }
  },
};

/** Seconds step `which` may take: --timeout when given, else the step's own limit. */
const limit = (options: SessionOptions, which: keyof typeof STEP_SECONDS) => options.timeoutSeconds ?? STEP_SECONDS[which];

/** One page with the model loaded in onnxruntime-web and run once; every step bounded in time. */
async function openPage(model: ModelSource, options: SessionOptions): Promise<BackendSession> {
  const chromium = await liveBrowser(limit(options, 'launch'));
  const page = await step('opening a page', chromium.newPage(), limit(options, 'page'));
  pagesOpened++;
  openSessions++;
  let opened: { loadMs?: number; firstRunMs?: number; loaded?: { grown: number; initial: number } } = {};
  const closePage = async () => {
    await closeQuietly(page);
    if (--openSessions === 0 && browser) {
      const b = browser;
      browser = undefined;
      await closeQuietly(await b.catch(() => undefined));
    }
  };
  try {
    const dist = ortWebDist();
    const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
    await page.route(`${ORIGIN}/**`, (route) => {
      const path = new URL(route.request().url()).pathname;
      if (fault() === 'abort' && path === '/index.html') return route.abort('aborted');
      const type = path.endsWith('.wasm') ? 'application/wasm' : path.endsWith('js') ? 'text/javascript' : path.endsWith('.html') ? 'text/html' : 'application/octet-stream';
      let body: Buffer | undefined;
      if (path === '/index.html') body = Buffer.from(PAGE);
      else if (path === '/model.onnx') {
        const part = Number(new URL(route.request().url()).searchParams.get('part'));
        body = Buffer.from(model.onnx.buffer, model.onnx.byteOffset + part * MODEL_PART, Math.min(MODEL_PART, model.onnx.length - part * MODEL_PART));
      } else if (path.startsWith('/ort/') && existsSync(join(dist, path.slice(5)))) body = readFileSync(join(dist, path.slice(5)));
      return body ? route.fulfill({ status: 200, body, headers: { 'Content-Type': type, ...isolation } }) : route.fulfill({ status: 404, body: 'not found' });
    });
    await injectFault(page, 'before load');
    await step('loading the page', page.goto(`${ORIGIN}/index.html`, { timeout: limit(options, 'page') * 1000 }), limit(options, 'page') + 5);
    const threads = options.threads ?? 2;
    const args = { url: '/model.onnx', parts: Math.max(1, Math.ceil(model.onnx.length / MODEL_PART)), threads, level: options.graphOptimization, profiling: Boolean(options.profilePrefix), inputs: model.inputs.map(({ name, shape, dtype }) => ({ name, shape, dtype })) };
    const init = await step('loading the model into onnxruntime-web', page.evaluate(pageInit, args), limit(options, 'model'));
    if (init.refused !== undefined) throw new Refused(init.refused);
    // Without cross-origin isolation WASM silently falls back to one thread: say so instead.
    if (threads > 1 && !init.isolated) throw new MissingToolError('ort-web: the page is not cross-origin isolated, so WASM threads are unavailable');
    const loaded = await page.evaluate(pageMemory);
    const first = await step('the first inference', page.evaluate(pageFirstRun), limit(options, 'run'));
    if (first.refused !== undefined) throw new Refused(first.refused);
    opened = { loadMs: init.loadMs, firstRunMs: first.ms, loaded };
    await injectFault(page, 'after the first run');
  } catch (err) {
    await closePage();
    throw err;
  }
  const prefix = options.profilePrefix;
  return {
    /** Loading and the first run as the page timed them; memory as the WebAssembly heap has grown so far. */
    async cost() {
      const now = await step('reading the page memory', page.evaluate(pageMemory), limit(options, 'run')).catch(() => undefined);
      const cost: ModelCost = { load_ms: opened.loadMs, first_run_ms: opened.firstRunMs, model_bytes: model.onnx.byteLength };
      if (!now) return absentUnlessGiven(cost, 'the page showed no WebAssembly memory to measure');
      if (now.grown <= 0) return { ...cost, absent: { memory_mb: "onnxruntime-web's WebAssembly memory did not grow beyond its initial size" } };
      return {
        ...cost,
        memory_mb: {
          peak: megabytes(now.grown),
          ...(opened.loaded ? { load: megabytes(opened.loaded.grown) } : {}),
          runtime_heap: megabytes(now.initial),
          source: "growth of onnxruntime-web's WebAssembly memory beyond its initial size (runtime_heap); it never shrinks, so its size is its peak. The JS heap and the renderer's own memory are not counted",
        },
      };
    },
    async run() {
      try {
        return await step('an inference', page.evaluate(pageRun), limit(options, 'run'));
      } catch (err) {
        const what = err instanceof StepTimeout ? `hung: ${firstLine(err)} (raise --timeout if the machine is just slow)` : `failed: ${firstLine(err)}`;
        throw new MissingToolError(`Chromium's page for ${model.name} on ort-web ${what}`);
      }
    },
    async close() {
      try {
        return prefix ? await saveProfile(page, prefix) : undefined;
      } finally {
        await closePage();
      }
    },
  };
}
