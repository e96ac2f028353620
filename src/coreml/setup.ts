import { MissingToolError } from '../core/errors.js';
import { noAnswer, runProgram, saying } from '../core/process.js';
import { findPython, LOCAL_VENV, REQUIREMENTS, venvPython } from './python.js';

/** `eformer setup coreml`: a project-local virtual environment with the pinned bridge requirements. */
/** Shows a long wait (the pip install takes about a minute); by default nothing is shown. */
export type Wait = <T>(label: string, work: Promise<T>) => Promise<T>;

// A venv takes seconds; pip downloads about 100 MB, which a slow network may take many minutes for.
const VENV_SECONDS = 300;
const PIP_SECONDS = 3600;

export async function setupCoreml(dir = LOCAL_VENV, log: (line: string) => void = console.log, wait: Wait = (_, work) => work): Promise<string> {
  const python = (await findPython()).path;
  const venv = await runProgram(python, ['-m', 'venv', dir], { timeoutSeconds: VENV_SECONDS });
  if (venv.exitCode !== 0) {
    const why = noAnswer(venv, VENV_SECONDS) ?? `failed${saying(venv)}`;
    throw new MissingToolError(`cannot create a virtual environment in ${dir}: ${python} -m venv ${why}; install python3-venv (apt-get install -y python3-venv)`);
  }
  log(`created ${dir}; installing ${REQUIREMENTS} (coremltools, onnx, numpy, scikit-learn: about a minute)`);
  const pip = await wait(
    "installing the Core ML bridge's requirements:",
    runProgram(venvPython(dir), ['-m', 'pip', 'install', '--disable-pip-version-check', '-q', '-r', REQUIREMENTS], { timeoutSeconds: PIP_SECONDS }),
  );
  if (pip.exitCode !== 0) throw new MissingToolError(`pip could not install the Core ML requirements: pip ${noAnswer(pip, PIP_SECONDS) ?? 'failed'}${saying(pip)}`);
  log(`ready: ${venvPython(dir)} (eformer finds it there when run from this folder)`);
  return venvPython(dir);
}
