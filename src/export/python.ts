/**
 * Finding the Python that runs the Core ML bridge: $EFORMER_PYTHON, then the project-local
 * environment `eformer setup coreml` makes (.eformer/venv), then python3 on PATH.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { MissingToolError } from '../errors.js';

export const LOCAL_VENV = '.eformer/venv';
export const REQUIREMENTS = new URL('../../python/requirements.txt', import.meta.url).pathname;
export const BRIDGE = new URL('../../python/onnx_to_coreml.py', import.meta.url).pathname;

export function pythonCandidates(): { path: string; source: string }[] {
  const out: { path: string; source: string }[] = [];
  if (process.env.EFORMER_PYTHON) out.push({ path: process.env.EFORMER_PYTHON, source: '$EFORMER_PYTHON' });
  const local = resolve(LOCAL_VENV, 'bin', 'python');
  if (existsSync(local)) out.push({ path: local, source: `${LOCAL_VENV} (eformer setup coreml)` });
  out.push({ path: 'python3', source: 'PATH' });
  return out;
}

/** The first candidate that runs; MissingToolError (exit 3) when none does. */
export async function findPython(): Promise<{ path: string; source: string; version: string }> {
  const candidates = pythonCandidates();
  // An explicit EFORMER_PYTHON that does not run is an error, not a reason to look elsewhere.
  const tried = process.env.EFORMER_PYTHON ? candidates.slice(0, 1) : candidates;
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
