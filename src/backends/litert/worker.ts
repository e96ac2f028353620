/**
 * The TypeScript side of python/litert_worker.py: one long-lived Python process holding one
 * LiteRT Interpreter per open model, spoken to in JSON lines (see the worker's docstring). The
 * worker times each invoke() itself, so a run's figure excludes the pipe, JSON and Python call.
 *
 * The worker runs in a process group of its own (so a terminal's Ctrl-C reaches eformer, which then
 * ends it, rather than interrupting Python mid-reply), and eformer kills that group when it exits
 * for any reason, Ctrl-C and SIGTERM included; on Linux the worker also dies with its parent. A
 * worker that dies or prints anything but its protocol fails every pending and later request with
 * one line (exit 3) naming what it last said.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { EformerError, MissingToolError } from '../../core/errors.js';
import { LITERT_SETUP } from '../../tflite/litert.js';

export const WORKER = new URL('../../../python/litert_worker.py', import.meta.url).pathname;

/** A reply to one request. */
interface Reply {
  id?: number;
  ok: boolean;
  error?: string;
  /** The operator LiteRT named in its error, if any. */
  op?: string;
  /** Set when the error came from loading the model. */
  load?: boolean;
  [key: string]: unknown;
}

/** The worker could not do what was asked; `op` is the operator LiteRT named, `load` whether loading failed. */
export class WorkerRequestError extends Error {
  constructor(message: string, readonly op?: string, readonly load?: boolean) {
    super(message);
  }
}

/** How many of the worker's last stderr lines are kept for messages, and how much of each. */
const STDERR_LINES = 20;
const LINE_CHARS = 300;

const live = new Set<LitertWorker>();
let exitHookInstalled = false;

/** On any exit of eformer (Ctrl-C and SIGTERM end in process.exit too), kill every live worker's process group at once. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const w of live) w.kill();
  });
}

export class LitertWorker {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private readonly stderr: string[] = [];
  private nextId = 1;
  /** Why the worker can no longer answer (set once it died or broke its protocol). */
  private broken?: EformerError;
  private readonly ready: Promise<{ litert?: string; python?: string }>;

  /** `python` runs the worker; `where` says where that Python came from, for messages. */
  constructor(readonly python: string, private readonly where: string) {
    installExitHook();
    this.child = spawn(python, [WORKER], {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, PYTHONWARNINGS: 'ignore', TF_CPP_MIN_LOG_LEVEL: '2', PYTHONDONTWRITEBYTECODE: '1' },
    });
    live.add(this);
    let announce!: (v: { litert?: string; python?: string }) => void;
    this.ready = new Promise((resolve, reject) => {
      announce = resolve;
      this.rejectReady = reject;
    });
    // An unobserved failure is reported by whoever awaits next, never as an unhandled rejection.
    this.ready.catch(() => undefined);
    let announced = false;
    createInterface({ input: this.child.stderr! }).on('line', (line) => {
      this.stderr.push(line.slice(0, LINE_CHARS));
      if (this.stderr.length > STDERR_LINES) this.stderr.shift();
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      let reply: Reply & { ready?: boolean; missing?: string; litert?: string; python?: string };
      try {
        reply = JSON.parse(line);
        if (!reply || typeof reply !== 'object') throw new Error('not an object');
      } catch {
        this.fail(new MissingToolError(`LiteRT's worker (${this.python}) printed something that is not its protocol: "${line.slice(0, 120)}"`));
        return;
      }
      if (!announced) {
        announced = true;
        if (reply.ready) announce({ litert: reply.litert, python: reply.python });
        else this.fail(new MissingToolError(`LiteRT's Python runtime (ai-edge-litert) is not installed for ${this.where} (${reply.missing ?? 'it does not import'}): run '${LITERT_SETUP}'`));
        return;
      }
      const waiting = reply.id !== undefined ? this.pending.get(reply.id) : undefined;
      if (!waiting) return;
      this.pending.delete(reply.id!);
      waiting.resolve(reply);
    });
    this.child.on('error', (err: NodeJS.ErrnoException) => {
      this.fail(new MissingToolError(err.code === 'ENOENT' ? `${this.where} (${python}) not found: install Python 3, then run '${LITERT_SETUP}'` : `cannot start LiteRT's worker with ${python}: ${err.message}`));
    });
    this.child.on('exit', (code, signal) => {
      live.delete(this);
      const said = this.lastWords();
      const how = signal ? `was killed by ${signal}` : `exited with ${code}`;
      this.fail(new MissingToolError(`LiteRT's worker (${python}) ${how}${said ? `: ${said}` : ''}`));
    });
  }

  private rejectReady!: (e: Error) => void;

  /** The worker's last meaningful stderr line (LiteRT's INFO lines are not the reason). */
  private lastWords(): string {
    return [...this.stderr].reverse().find((l) => l.trim() && !/^INFO: /.test(l))?.trim() ?? '';
  }

  private fail(err: EformerError): void {
    if (this.broken) return;
    this.broken = err;
    this.rejectReady(err);
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.kill();
  }

  /** LiteRT's version and the worker's Python, once the worker has started; rejects (exit 3) when it cannot. */
  started(): Promise<{ litert?: string; python?: string }> {
    return this.ready;
  }

  async request(message: Record<string, unknown>): Promise<Reply> {
    await this.ready;
    if (this.broken) throw this.broken;
    const id = this.nextId++;
    const reply = new Promise<Reply>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.child.stdin!.write(`${JSON.stringify({ ...message, id })}\n`);
    const r = await reply;
    if (!r.ok) throw new WorkerRequestError(r.error ?? 'the worker gave no reason', r.op, r.load);
    return r;
  }

  /** Close stdin (the worker then exits by itself) and make sure the whole group is gone. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin!.end();
    const timer = setTimeout(() => this.kill(), 2000);
    await exited;
    clearTimeout(timer);
  }

  /** Kill the worker's process group (the worker and anything it started), synchronously. */
  kill(): void {
    live.delete(this);
    if (this.child.pid === undefined || this.child.exitCode !== null || this.child.signalCode !== null) return;
    try {
      process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}
