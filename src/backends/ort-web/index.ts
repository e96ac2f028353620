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
import { writeFileAtomic } from '../../core/fs.js';
import { firstLine } from '../../core/text.js';
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

const PAGE = `<!doctype html><html><head><script src="/ort/ort.wasm.min.js"></script></head><body>eformer ort-web harness</body></html>`;

/** Runs in the page: create the session and keep the feeds ready. */
async function pageInit(args: { url: string; parts: number; threads: number; level: string; profiling: boolean; inputs: { name: string; shape: number[]; dtype: 'float32' | 'int64' }[] }) {
  const ort = (globalThis as any).ort;
  ort.env.wasm.wasmPaths = '/ort/';
  ort.env.wasm.numThreads = args.threads;
  const parts = await Promise.all(Array.from({ length: args.parts }, async (_, i) => new Uint8Array(await (await fetch(`${args.url}?part=${i}`)).arrayBuffer())));
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (bytes.set(p, at), at + p.length), 0);
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: args.level, enableProfiling: args.profiling });
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
  (globalThis as any).__eformer = { session, feeds };
  return { isolated: (globalThis as any).crossOriginIsolated as boolean, version: ort.env.versions?.web ?? ort.env.versions?.common };
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

async function launch(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: chromiumPath(),
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * Why a model did not open in the page. onnxruntime-web refusing the model (an operator or type it
 * lacks) is about the input: exit 2. The page or browser dying under it is the tool failing, not the
 * user's input: exit 3, saying so.
 */
export function openFailure(model: string, err: unknown): UsageError | MissingToolError {
  const line = firstLine(err);
  if (/Target (page, context or browser|crashed)|has been closed|Page crashed/i.test(line)) {
    return new MissingToolError(`Chromium's page crashed while opening ${model} on ort-web (${line}); the model itself may be fine: try ort-cpu, or --verbose`);
  }
  return new UsageError(`onnxruntime-web cannot run ${model}: ${line}`);
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
    const { execFile } = await import('node:child_process');
    const version = await new Promise<string | undefined>((resolve) =>
      execFile(chromiumPath(), ['--version'], { timeout: 20_000 }, (err, stdout) => resolve(err ? undefined : stdout.trim().split('\n')[0])),
    );
    return [{ name: 'chromium (ort-web)', found: version && `${version} (${chromiumPath()})`, install: '`apt-get install -y chromium` (or set CHROMIUM_PATH)' }];
  },

  async open(model: ModelSource, options: SessionOptions): Promise<BackendSession> {
    if (options.executionProvider !== 'cpu' && options.executionProvider !== 'wasm') {
      throw new UsageError(`ort-web runs the wasm execution provider, not '${options.executionProvider}'`);
    }
    browser ??= launch();
    const page = await (await browser).newPage();
    openSessions++;
    const dist = ortWebDist();
    const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
    await page.route(`${ORIGIN}/**`, (route) => {
      const path = new URL(route.request().url()).pathname;
      const type = path.endsWith('.wasm') ? 'application/wasm' : path.endsWith('js') ? 'text/javascript' : path.endsWith('.html') ? 'text/html' : 'application/octet-stream';
      let body: Buffer | undefined;
      if (path === '/index.html') body = Buffer.from(PAGE);
      else if (path === '/model.onnx') {
        const part = Number(new URL(route.request().url()).searchParams.get('part'));
        body = Buffer.from(model.onnx.buffer, model.onnx.byteOffset + part * MODEL_PART, Math.min(MODEL_PART, model.onnx.length - part * MODEL_PART));
      }
      else if (path.startsWith('/ort/') && existsSync(join(dist, path.slice(5)))) body = readFileSync(join(dist, path.slice(5)));
      return body ? route.fulfill({ status: 200, body, headers: { 'Content-Type': type, ...isolation } }) : route.fulfill({ status: 404, body: 'not found' });
    });
    const closePage = async () => {
      await page.close();
      if (--openSessions === 0 && browser) {
        const b = browser;
        browser = undefined;
        await (await b).close();
      }
    };
    try {
      await page.goto(`${ORIGIN}/index.html`);
      const threads = options.threads ?? 2;
      const init = await page.evaluate(pageInit, { url: '/model.onnx', parts: Math.max(1, Math.ceil(model.onnx.length / MODEL_PART)), threads, level: options.graphOptimization, profiling: Boolean(options.profilePrefix), inputs: model.inputs.map(({ name, shape, dtype }) => ({ name, shape, dtype })) });
      // Without cross-origin isolation WASM silently falls back to one thread: say so instead.
      if (threads > 1 && !init.isolated) throw new Error('the page is not cross-origin isolated, so WASM threads are unavailable');
      await page.evaluate(pageRun);
    } catch (err) {
      await closePage();
      throw openFailure(model.name, err);
    }
    const prefix = options.profilePrefix;
    return {
      run: () => page.evaluate(pageRun),
      async close() {
        try {
          return prefix ? await saveProfile(page, prefix) : undefined;
        } finally {
          await closePage();
        }
      },
    };
  },
};
