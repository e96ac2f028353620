/**
 * Finding the Python that runs the Core ML bridge, in this order: $EFORMER_PYTHON; the environment
 * `eformer setup coreml` made in the current folder (./.eformer/venv); the one beside eformer's own
 * installation (<eformer>/.eformer/venv, so a checkout's venv serves wherever eformer is run from);
 * then python3 on PATH. `eformer doctor` shows which one it found.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MissingToolError } from '../core/errors.js';
import type { Probe } from '../core/probe.js';
import { noAnswer, type ProgramResult, runProgram, saying } from '../core/process.js';

export const LOCAL_VENV = '.eformer/venv';
/** eformer's own folder (the package root: dist/coreml/python.js is two levels below it). */
const INSTALL_ROOT = new URL('../../', import.meta.url).pathname;
export const REQUIREMENTS = new URL('../../python/requirements.txt', import.meta.url).pathname;
export const BRIDGE = new URL('../../python/onnx_to_coreml.py', import.meta.url).pathname;
export const INTERPRETER = new URL('../../python/mil_interpreter.py', import.meta.url).pathname;

export function pythonCandidates(): { path: string; source: string }[] {
  const out: { path: string; source: string }[] = [];
  if (process.env.EFORMER_PYTHON) out.push({ path: process.env.EFORMER_PYTHON, source: '$EFORMER_PYTHON' });
  const local = resolve(LOCAL_VENV, 'bin', 'python');
  if (existsSync(local)) out.push({ path: local, source: `./${LOCAL_VENV} (eformer setup coreml)` });
  const installed = join(INSTALL_ROOT, LOCAL_VENV, 'bin', 'python');
  if (installed !== local && existsSync(installed)) out.push({ path: installed, source: `${join(INSTALL_ROOT, LOCAL_VENV)} (beside eformer)` });
  out.push({ path: 'python3', source: 'PATH' });
  return out;
}

export interface Python {
  path: string;
  source: string;
  version: string;
}

/** The first candidate that runs and says it is Python 3; MissingToolError (exit 3) when none does. */
export async function findPython(): Promise<Python> {
  const candidates = pythonCandidates();
  // An explicit EFORMER_PYTHON that does not run is an error, not a reason to look elsewhere.
  const tried = process.env.EFORMER_PYTHON ? candidates.slice(0, 1) : candidates;
  let answer = '';
  for (const c of tried) {
    const r = await runProgram(c.path, ['-c', 'import sys; print(sys.version.split()[0])'], { timeoutSeconds: 20 });
    const version = r.stdout.trim();
    if (r.exitCode === 0 && /^3\.\d+/.test(version)) return { ...c, version };
    // A program that runs but does not answer like Python (exits 0 and prints nothing, say).
    if (r.exitCode === 0) answer = `it ran but printed ${version ? `'${version.split('\n')[0]}'` : 'nothing'} for its version`;
  }
  const given = `$EFORMER_PYTHON (${process.env.EFORMER_PYTHON})`;
  const what = !process.env.EFORMER_PYTHON ? 'no python3 found' : answer ? `${given} is not Python 3: ${answer}` : `${given} does not run`;
  throw new MissingToolError(`${what}: install Python 3 (apt-get install -y python3 python3-venv), then run 'eformer setup coreml'`);
}

/** Whose Python it is, for messages: `/path/python (from $EFORMER_PYTHON)`. */
export const pythonName = (python: Pick<Python, 'path' | 'source'>) => `${python.path} (from ${python.source})`;

/**
 * Run one of eformer's Python scripts. A Python that gives no answer (not found, killed by a
 * signal, SIGSEGV in a native extension, timed out; or a wrapper script whose shell could not
 * run it, exit 126/127) is the tool failing: MissingToolError (exit 3) naming the Python and
 * `what` it was doing. Otherwise the result, with the script's own exit code for the caller.
 */
export async function runPython(python: Python, args: string[], options: { timeoutSeconds: number; what: string }): Promise<ProgramResult & { exitCode: number }> {
  const r = await runProgram(python.path, args, { timeoutSeconds: options.timeoutSeconds, env: { PYTHONWARNINGS: 'ignore' } });
  const problem = noAnswer(r, options.timeoutSeconds) ?? (r.exitCode === 126 || r.exitCode === 127 ? `exited with ${r.exitCode} (its shell could not run a program)` : undefined);
  if (problem) {
    const hint = r.timedOut ? ' (raise --timeout if the machine is just slow)' : '';
    throw new MissingToolError(`${options.what}: Python ${pythonName(python)} ${problem}${hint}${saying(r)}; nothing was written`);
  }
  return r as ProgramResult & { exitCode: number };
}

export function venvPython(dir = LOCAL_VENV): string {
  return join(resolve(dir), 'bin', 'python');
}

/** What `eformer doctor` lists for the Core ML bridge: the Python it would use and its coremltools. */
export async function probeBridge(): Promise<Probe[]> {
  const run = async (cmd: string, args: string[]) => {
    const r = await runProgram(cmd, args, { timeoutSeconds: 20 });
    return r.exitCode === 0 && !noAnswer(r, 20) ? `${r.stdout || r.stderr}`.trim().split('\n') : undefined;
  };
  let python: { path: string; source: string } | undefined;
  let version: string | undefined;
  for (const p of pythonCandidates()) {
    version = (await run(p.path, ['--version']))?.[0];
    if (version) {
      python = p;
      break;
    }
  }
  const coremltools = python ? (await run(python.path, ['-c', 'import coremltools, onnx; print(coremltools.__version__)']))?.at(-1) : undefined;
  return [
    {
      name: 'python (for Core ML)',
      found: python && `${version} (${python.source})`,
      install: 'apt-get install -y python3 python3-venv; looked up: $EFORMER_PYTHON, ./.eformer/venv, the venv beside eformer, python3',
    },
    { name: 'coremltools (+ onnx)', found: coremltools && `${coremltools} via ${python!.path}`, install: 'eformer setup coreml' },
    { name: 'Core ML bridge', found: BRIDGE, install: '(ships with eformer)' },
  ];
}
