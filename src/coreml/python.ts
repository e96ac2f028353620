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

/** The first candidate that runs; MissingToolError (exit 3) when none does. */
export async function findPython(): Promise<{ path: string; source: string; version: string }> {
  const candidates = pythonCandidates();
  // An explicit EFORMER_PYTHON that does not run is an error, not a reason to look elsewhere.
  const tried = process.env.EFORMER_PYTHON ? candidates.slice(0, 1) : candidates;
  const { execa } = await import('execa');
  for (const c of tried) {
    const r = await execa(c.path, ['-c', 'import sys; print(sys.version.split()[0])'], { reject: false });
    if (r.exitCode === 0) return { ...c, version: r.stdout.trim() };
  }
  const what = process.env.EFORMER_PYTHON ? `$EFORMER_PYTHON (${process.env.EFORMER_PYTHON}) does not run` : 'no python3 found';
  throw new MissingToolError(`${what}: install Python 3 (apt-get install -y python3 python3-venv), then run 'eformer setup coreml'`);
}

export function venvPython(dir = LOCAL_VENV): string {
  return join(resolve(dir), 'bin', 'python');
}

/** What `eformer doctor` lists for the Core ML bridge: the Python it would use and its coremltools. */
export async function probeBridge(): Promise<Probe[]> {
  const { execa } = await import('execa');
  const run = async (cmd: string, args: string[]) => {
    const r = await execa(cmd, args, { reject: false, timeout: 20_000 });
    return r.exitCode === 0 ? `${r.stdout || r.stderr}`.trim().split('\n') : undefined;
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
