/**
 * The one way eformer runs another program (python, adb, xcrun, xcodebuild, a harness, chromium
 * --version), and the one place that says what its outcome means.
 *
 * Every program starts in a process group of its own, so that whatever it starts goes with it: a
 * wrapper-script $EFORMER_PYTHON that runs python as a child, xcodebuild's helpers. The whole group is
 * stopped when the program times out, when it exits (anything it left running is orphaned work), and
 * when eformer itself exits (Ctrl-C, SIGTERM, an error: the 'exit' hook below). A program in its own
 * group does not get the terminal's Ctrl-C itself; eformer's exit is what stops it.
 *
 * Outcomes: the program ran and exited 0 (`ok`); exited with a code of its own (`failed`: only the
 * caller knows what its codes mean, e.g. the Core ML bridge's 10/11/12, or an adb error); or did
 * not run to an answer: not found or not executable, killed by a signal (a crash: SIGSEGV, SIGABRT,
 * SIGKILL from the OOM killer), reported killed by the shell that wrapped it (exit 128+N), or timed
 * out. Those last are the tool failing, never the user's input: MissingToolError, exit 3.
 */
import { constants } from 'node:os';
import { MissingToolError } from './errors.js';
import { lastLine } from './text.js';

export interface ProgramOptions {
  /** Seconds before the program's group is stopped (SIGTERM, then SIGKILL after GRACE_MS). */
  timeoutSeconds: number;
  cwd?: string;
  /** Added to eformer's own environment. */
  env?: Record<string, string>;
}

export interface ProgramResult {
  stdout: string;
  stderr: string;
  /** The exit code, when the program exited by itself. */
  exitCode?: number;
  /** The signal that ended it (also a shell wrapper's 128+N report of its child's death). */
  signal?: string;
  timedOut: boolean;
  /** The program could not be started: not found (ENOENT) or not executable (EACCES). */
  notStarted?: 'not found' | 'not executable';
  /** It printed more than MAX_OUTPUT and was stopped. */
  tooMuchOutput?: boolean;
}

/** Bytes of output kept from a stream: more than any listing or log these tools print; beyond it the program is stopped. */
const MAX_OUTPUT = 64 * 1024 * 1024;

/** `seconds` as a timer's delay: Node's timers hold at most 2^31 - 1 ms and fire at once beyond it, so longer waits are cut to that (24.8 days). */
export function timerMs(seconds: number): number {
  return Math.min(seconds * 1000, 2 ** 31 - 1);
}

/** How long a stopped group gets to exit before SIGKILL. */
const GRACE_MS = 1000;

/** Process groups of programs still running (their leaders' pids). */
const running = new Set<number>();
let exitHookInstalled = false;

function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    // ESRCH: the group is gone already.
    return false;
  }
}

const groupAlive = (pgid: number) => signalGroup(pgid, 0 as unknown as NodeJS.Signals);

/** SIGTERM, and SIGKILL for what is still there after the grace period. */
function stopGroup(pgid: number): void {
  if (!signalGroup(pgid, 'SIGTERM')) return;
  setTimeout(() => signalGroup(pgid, 'SIGKILL'), GRACE_MS).unref();
}

/**
 * On the way out (process.exit from the CLI's signal handlers, or any other exit), stop every group
 * still running. 'exit' handlers must be synchronous, so the grace period is waited out here, up to
 * half a second, before SIGKILL: eformer still answers a signal within a second.
 */
function stopAllOnExit(): void {
  const groups = [...running];
  if (groups.length === 0) return;
  for (const pgid of groups) signalGroup(pgid, 'SIGTERM');
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (let waited = 0; waited < 500 && groups.some(groupAlive); waited += 20) Atomics.wait(nap, 0, 0, 20);
  for (const pgid of groups) signalGroup(pgid, 'SIGKILL');
}

/** A shell reports a child killed by signal N as exit code 128+N. */
function signalOfExitCode(code: number | undefined): string | undefined {
  if (code === undefined || code <= 128 || code > 128 + 64) return undefined;
  return Object.entries(constants.signals).find(([, n]) => n === code - 128)?.[0];
}

/** Run `cmd` in a process group of its own; never throws for the program's own failures. */
export async function runProgram(cmd: string, args: readonly string[], options: ProgramOptions): Promise<ProgramResult> {
  const { execa } = await import('execa');
  if (!exitHookInstalled) {
    process.on('exit', stopAllOnExit);
    exitHookInstalled = true;
  }
  const child = execa(cmd, args, {
    reject: false,
    detached: true,
    stdin: 'ignore',
    cwd: options.cwd,
    env: options.env,
    maxBuffer: MAX_OUTPUT,
  });
  const pgid = child.pid;
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  if (pgid !== undefined) {
    running.add(pgid);
    timer = setTimeout(() => {
      timedOut = true;
      stopGroup(pgid);
    }, timerMs(options.timeoutSeconds));
    // Whatever the program leaves running when it exits holds its output pipes open (and would
    // keep eformer waiting): it goes too. A daemon meant to outlive its client leaves the group
    // first (adb's server calls setsid() before `adb devices` returns), so it stays.
    child.once('exit', () => stopGroup(pgid));
  }
  try {
    const r = await child;
    const code = (r as { code?: string }).code;
    const notStarted = code === 'ENOENT' ? 'not found' : code === 'EACCES' ? 'not executable' : undefined;
    const exitCode = r.exitCode ?? undefined;
    return {
      stdout: String(r.stdout ?? ''),
      stderr: String(r.stderr ?? ''),
      exitCode: notStarted ? undefined : exitCode,
      signal: r.signal ?? signalOfExitCode(exitCode),
      timedOut,
      ...(notStarted ? { notStarted } : {}),
      ...(r.isMaxBuffer ? { tooMuchOutput: true } : {}),
    };
  } finally {
    clearTimeout(timer);
    if (pgid !== undefined) running.delete(pgid);
  }
}

/**
 * Why a program gave no answer at all, in words, or undefined when it ran to an exit code of its
 * own (then only its caller can say what the code means).
 */
export function noAnswer(r: ProgramResult, timeoutSeconds: number): string | undefined {
  if (r.notStarted) return r.notStarted;
  if (r.timedOut) return `timed out after ${timeoutSeconds} s`;
  if (r.tooMuchOutput) return `printed more than ${MAX_OUTPUT / 1024 / 1024} MB`;
  if (r.signal) return r.exitCode !== undefined ? `exited with ${r.exitCode} (killed by ${r.signal})` : `was killed by ${r.signal}`;
  return undefined;
}

/**
 * Run a program that must answer: a result that ran to an exit code (0 or not), or
 * MissingToolError (exit 3) naming `what` when it was not found, crashed or hung. `install` says
 * how to get it when it is missing.
 */
export async function runTool(
  cmd: string,
  args: readonly string[],
  options: ProgramOptions & { what: string; install: string },
): Promise<ProgramResult & { exitCode: number }> {
  const r = await runProgram(cmd, args, options);
  const problem = noAnswer(r, options.timeoutSeconds);
  if (r.notStarted) throw new MissingToolError(`${options.what} ${problem}: ${options.install}`);
  if (problem) throw new MissingToolError(`${options.what} ${problem}${saying(r)}`);
  return r as ProgramResult & { exitCode: number };
}

/** `: <its last line of output>` when it printed anything, for the end of a message. */
export function saying(r: Pick<ProgramResult, 'stdout' | 'stderr'>): string {
  const last = lastLine(`${r.stdout}\n${r.stderr}`);
  return last ? `: ${last}` : '';
}
