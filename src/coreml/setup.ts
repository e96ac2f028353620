import { MissingToolError } from '../core/errors.js';
import { findPython, LOCAL_VENV, REQUIREMENTS, venvPython } from './python.js';

/** `eformer setup coreml`: a project-local virtual environment with the pinned bridge requirements. */
/** Shows a long wait (the pip install takes about a minute); by default nothing is shown. */
export type Wait = <T>(label: string, work: Promise<T>) => Promise<T>;

export async function setupCoreml(dir = LOCAL_VENV, log: (line: string) => void = console.log, wait: Wait = (_, work) => work): Promise<string> {
  const python = (await findPython()).path;
  const { execa } = await import('execa');
  const venv = await execa(python, ['-m', 'venv', dir], { reject: false });
  if (venv.exitCode !== 0) {
    throw new MissingToolError(`cannot create a virtual environment in ${dir}: ${venv.stderr.trim().split('\n').at(-1)}; install python3-venv (apt-get install -y python3-venv)`);
  }
  log(`created ${dir}; installing ${REQUIREMENTS} (coremltools, onnx, numpy, scikit-learn: about a minute)`);
  const pip = await wait('installing the Core ML bridge\'s requirements:', execa(venvPython(dir), ['-m', 'pip', 'install', '--disable-pip-version-check', '-q', '-r', REQUIREMENTS], { reject: false }));
  if (pip.exitCode !== 0) throw new MissingToolError(`pip could not install the Core ML requirements: ${pip.stderr.trim().split('\n').at(-1)}`);
  log(`ready: ${venvPython(dir)} (eformer finds it there when run from this folder)`);
  return venvPython(dir);
}
