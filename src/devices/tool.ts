/**
 * Running a host tool (adb, xcrun, xcodebuild) for one step on one device, through the one program
 * runner (core/process.ts: a process group of its own, stopped on timeout and on exit). Every
 * failure becomes one line naming the device and the step: a missing tool is MissingToolError, a
 * failed, hung or crashed step is DeviceError, both exit 3.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { DeviceError, MissingToolError } from '../core/errors.js';
import { noAnswer, runProgram, saying } from '../core/process.js';

export interface Step {
  /** How the device is named in messages. */
  device: string;
  /** What was being done, e.g. 'push the model'. */
  step: string;
  timeoutSeconds: number;
  /** How to install the tool when it is missing. */
  install: string;
  /** Turns a failed step's output into the reason, when the driver recognises it. */
  explain?: (output: string, exitCode: number | undefined) => string | undefined;
  cwd?: string;
}

export interface ToolOutput {
  stdout: string;
  stderr: string;
}

export async function runTool(cmd: string, args: string[], s: Step): Promise<ToolOutput> {
  const r = await runProgram(cmd, args, { timeoutSeconds: s.timeoutSeconds, cwd: s.cwd });
  if (r.notStarted) throw new MissingToolError(`${cmd} ${r.notStarted}: ${s.install}`);
  if (r.timedOut) throw new DeviceError(s.device, s.step, `timed out after ${s.timeoutSeconds} s (raise --timeout if the device is just slow)`);
  if (r.exitCode !== 0) {
    // A driver may know what a code means (adb shell passes on the phone's exit code, 139 included).
    const known = r.exitCode === undefined ? undefined : s.explain?.(`${r.stdout}\n${r.stderr}`, r.exitCode);
    throw new DeviceError(s.device, s.step, known ?? `${cmd} ${noAnswer(r, s.timeoutSeconds) ?? `exited with ${r.exitCode}`}${saying(r)}`);
  }
  return { stdout: r.stdout, stderr: r.stderr };
}

/** Whether `cmd` is an executable on PATH (without running it). */
export function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The first line a tool prints for its version, or undefined when it does not run (or hangs 20 s). */
export async function toolVersion(cmd: string, args: string[]): Promise<string | undefined> {
  const r = await runProgram(cmd, args, { timeoutSeconds: 20 });
  return r.exitCode === 0 && !noAnswer(r, 20) ? `${r.stdout || r.stderr}`.trim().split('\n')[0] : undefined;
}
