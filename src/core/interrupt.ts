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

/**
 * A turn of the event loop: a signal that came during the synchronous step before is handled now.
 * Long work that cannot move to a thread (building a model, quantising its weights, the gate's
 * resampling) gives way between its steps, so Ctrl-C is answered within about a second.
 */
export async function giveWay(): Promise<void> {
  // Signals are read in the loop's poll phase. One setImmediate made in the poll phase runs in the check
  // phase right after it, with no poll between; a second one always has a poll before it.
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
}

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
