/**
 * Errors that the CLI turns into one line and an exit code. Anything else is a bug and
 * gets a stack trace with --verbose.
 */
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

/** A regression gate failed: exit 1. */
export class GateFailure extends EformerError {
  constructor(message: string) {
    super(message, 1);
  }
}

/**
 * A step on a device failed (not connected, locked, timed out, crashed, printed something we
 * cannot read): exit 3, one line naming the device and the step. Results measured before the
 * failure ride along so the caller can still write them.
 */
export class DeviceError extends MissingToolError {
  partial?: unknown;
  constructor(readonly device: string, readonly step: string, detail: string) {
    super(`${device}: ${step}: ${detail}`);
  }
}
