import { existsSync } from 'node:fs';
import { MissingToolError } from '../core/errors.js';
import { noAnswer, runProgram, saying } from '../core/process.js';
import { findPython, LOCAL_VENV, REQUIREMENTS, venvPython } from './python.js';

/** Shows a long wait (the pip install takes about a minute); by default nothing is shown. */
export type Wait = <T>(label: string, work: Promise<T>) => Promise<T>;

// A venv takes seconds; pip downloads about 100 MB, which a slow network may take many minutes for.
const VENV_SECONDS = 300;
const PIP_SECONDS = 3600;

/** A pinned set of Python packages one feature needs. */
export interface Requirements {
  /** The requirements file (exact pins). */
  file: string;
  /** What it holds and how long installing takes, for the log line. */
  what: string;
  /** Who needs it, for the wait label and errors: "the Core ML bridge". */
  forWhom: string;
}

export const COREML_REQUIREMENTS: Requirements = { file: REQUIREMENTS, what: 'coremltools, onnx, numpy, scikit-learn: about a minute', forWhom: 'the Core ML bridge' };

/**
 * Install `requirements` into the project-local virtual environment, making it first when it is
 * not there. An existing one is added to, never remade: the Core ML bridge and LiteRT share it.
 */
export async function installRequirements(requirements: Requirements, dir = LOCAL_VENV, log: (line: string) => void = console.log, wait: Wait = (_, work) => work): Promise<string> {
  if (!existsSync(venvPython(dir))) {
    const python = (await findPython()).path;
    const venv = await runProgram(python, ['-m', 'venv', dir], { timeoutSeconds: VENV_SECONDS });
    if (venv.exitCode !== 0) {
      const why = noAnswer(venv, VENV_SECONDS) ?? `failed${saying(venv)}`;
      throw new MissingToolError(`cannot create a virtual environment in ${dir}: ${python} -m venv ${why}; install python3-venv (apt-get install -y python3-venv)`);
    }
    log(`created ${dir}`);
  }
  log(`installing ${requirements.file} into ${dir} (${requirements.what})`);
  const pip = await wait(
    `installing ${requirements.forWhom}'s requirements:`,
    runProgram(venvPython(dir), ['-m', 'pip', 'install', '--disable-pip-version-check', '-q', '-r', requirements.file], { timeoutSeconds: PIP_SECONDS }),
  );
  if (pip.exitCode !== 0) throw new MissingToolError(`pip could not install ${requirements.forWhom}'s requirements: pip ${noAnswer(pip, PIP_SECONDS) ?? 'failed'}${saying(pip)}`);
  log(`ready: ${venvPython(dir)} (eformer finds it there when run from this folder)`);
  return venvPython(dir);
}

/** `eformer setup coreml`: a project-local virtual environment with the pinned bridge requirements. */
export function setupCoreml(dir = LOCAL_VENV, log: (line: string) => void = console.log, wait: Wait = (_, work) => work): Promise<string> {
  return installRequirements(COREML_REQUIREMENTS, dir, log, wait);
}
