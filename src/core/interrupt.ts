/**
 * Ending the process on Ctrl-C or SIGTERM even while a runtime works in another thread.
 *
 * process.exit() waits for every worker thread to stop, and a thread inside a native call (an
 * onnxruntime run, which a hostile Loop can keep going for ever) never does: the exit hung. Work
 * that cannot be interrupted is therefore counted while it runs; if any is under way when a signal
 * arrives, the process ends by the signal itself (its default action, which waits for nothing), so
 * the shell still sees 128 + the signal number: 130 for Ctrl-C, 143 for SIGTERM.
 */

let running = 0;

/** Count `work` as native work no signal handler can stop, for as long as it runs. */
export async function uninterruptible<T>(work: Promise<T>): Promise<T> {
  running++;
  try {
    return await work;
  } finally {
    running--;
  }
}

/** End the process after an interrupt (clean-up done): exit `code`, or die by `signal` when native work would hold the exit. */
export function exitInterrupted(signal: NodeJS.Signals, code: number): never {
  if (running > 0) {
    // With no listener left, the signal's default action applies: the process ends at once.
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  }
  process.exit(code);
}
