/**
 * Running a host tool (adb, xcrun, xcodebuild) for one step on one device. Every failure
 * becomes one line naming the device and the step: a missing tool is MissingToolError, a
 * failed, hung or killed step is DeviceError, both exit 3.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { DeviceError, MissingToolError } from '../core/errors.js';
import { lastLine } from '../core/text.js';

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
  const { execa } = await import('execa');
  const r = await execa(cmd, args, { reject: false, timeout: s.timeoutSeconds * 1000, cwd: s.cwd });
  if ((r as { code?: string }).code === 'ENOENT') throw new MissingToolError(`${cmd} not found: ${s.install}`);
  const output = `${r.stdout}\n${r.stderr}`;
  if (r.timedOut) throw new DeviceError(s.device, s.step, `timed out after ${s.timeoutSeconds} s (raise --timeout if the device is just slow)`);
  if (r.exitCode !== 0 || r.signal) {
    const known = s.explain?.(output, r.exitCode ?? undefined);
    throw new DeviceError(s.device, s.step, known ?? `${cmd} ${r.signal ? `was killed by ${r.signal}` : `exited with ${r.exitCode}`}${lastLine(output) ? `: ${lastLine(output)}` : ''}`);
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

/** The first line a tool prints for its version, or undefined when it does not run. */
export async function toolVersion(cmd: string, args: string[]): Promise<string | undefined> {
  const { execa } = await import('execa');
  const r = await execa(cmd, args, { reject: false, timeout: 20_000 });
  return r.exitCode === 0 ? `${r.stdout || r.stderr}`.trim().split('\n')[0] : undefined;
}
