/**
 * Errors that the CLI turns into one line and an exit code. Each code means one thing:
 *   0 success · 1 a gate failed (and nothing else) · 2 bad input or usage · 3 a missing tool or
 *   device · 70 an internal error (a bug: anything not one of these classes, sysexits' EX_SOFTWARE)
 *   · 130 / 143 interrupted by SIGINT / SIGTERM.
 */

export const EXIT = { ok: 0, gateFailed: 1, usage: 2, missingTool: 3, internal: 70, interrupted: 130, terminated: 143 } as const;
export class EformerError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad flags, bad input files, a model or size that does not exist: exit 2. */
export class UsageError extends EformerError {
  constructor(message: string) {
    super(message, 2);
  }
}

/** A program, package or device eformer needs is not there: exit 3. */
export class MissingToolError extends EformerError {
  constructor(message: string) {
    super(message, 3);
  }
}

/** A check the user asked for failed: the latency gate, or --verify's numerics. Exit 1, and nothing else is. */
export class CheckFailed extends EformerError {
  constructor(message: string) {
    super(message, 1);
  }
}

/** The regression gate failed: exit 1. */
export class GateFailure extends CheckFailed {}

/**
 * Something eformer itself got wrong, found by one of its own checks (a converter that cannot
 * map an op it emitted, say): exit 70 with a line that names it, like any other bug.
 */
export class InternalError extends EformerError {
  constructor(message: string) {
    super(`${message} (this is a bug in eformer: please report it with the output of the same command run with --verbose)`, 70);
  }
}

/**
 * A step on a device failed (not connected, locked, timed out, crashed, printed something we
 * cannot read): exit 3, one line naming the device and the step.
 */
export class DeviceError extends MissingToolError {
  constructor(readonly device: string, readonly step: string, detail: string) {
    super(`${device}: ${step}: ${detail}`);
  }
}
