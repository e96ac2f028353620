import type { Command } from 'commander';
import { execa } from 'execa';
import { MissingToolError, UsageError } from '../../errors.js';
import { findPython, LOCAL_VENV, REQUIREMENTS, venvPython } from '../../export/python.js';

/** `eformer setup coreml`: a project-local virtual environment with the pinned bridge requirements. */
export async function setupCoreml(dir = LOCAL_VENV, log: (line: string) => void = console.log): Promise<string> {
  const python = (await findPython()).path;
  const venv = await execa(python, ['-m', 'venv', dir], { reject: false });
  if (venv.exitCode !== 0) {
    throw new MissingToolError(`cannot create a virtual environment in ${dir}: ${venv.stderr.trim().split('\n').at(-1)}; install python3-venv (apt-get install -y python3-venv)`);
  }
  log(`created ${dir}; installing ${REQUIREMENTS}`);
  const pip = await execa(venvPython(dir), ['-m', 'pip', 'install', '--disable-pip-version-check', '-q', '-r', REQUIREMENTS], { reject: false });
  if (pip.exitCode !== 0) throw new MissingToolError(`pip could not install the Core ML requirements: ${pip.stderr.trim().split('\n').at(-1)}`);
  log(`ready: ${venvPython(dir)} (eformer finds it there when run from this folder)`);
  return venvPython(dir);
}

export function register(program: Command): void {
  program
    .command('setup')
    .description('install what an optional feature needs; `setup coreml` makes .eformer/venv with coremltools')
    .argument('<feature>', 'coreml')
    .action(async (feature: string) => {
      if (feature !== 'coreml') throw new UsageError(`unknown feature '${feature}'; available: coreml`);
      await setupCoreml();
    });
}
