/** Warnings about a request that will run but probably not as the user meant: one line each, on stderr. */
import { availableParallelism } from 'node:os';
import { UsageError } from '../core/errors.js';
import { terminalSafe } from '../core/text.js';

/** One warning line; what it quotes from files and tools is shown, never obeyed by the terminal. */
export function warn(message: string): void {
  console.error(`eformer: warning: ${terminalSafe(message)}`);
}

/** Thread counts beyond these are refused: a phone has at most a dozen cores, and this machine's runtimes make one thread each. */
export const MAX_DEVICE_THREADS = 64;
const THREADS_PER_CORE = 4;

/**
 * --threads for a backend that runs here (`session`) or on a device: more threads than cores
 * warns (onnxruntime's threads then fight over them, measured 50 times slower); more than 4 a
 * core here, or 64 on a device, is refused (99999 threads grew to 16.7 GB before measuring).
 */
export function checkThreads(threads: number | undefined, where: 'session' | 'device'): void {
  if (threads === undefined) return;
  if (where === 'device') {
    if (threads > MAX_DEVICE_THREADS) throw new UsageError(`--threads ${threads} is more than any phone's cores; eformer runs 1 to ${MAX_DEVICE_THREADS} threads on a device`);
    return;
  }
  const cores = availableParallelism();
  const max = THREADS_PER_CORE * cores;
  if (threads > max) throw new UsageError(`--threads ${threads} is out of range: eformer runs 1 to ${max} threads here (${THREADS_PER_CORE} per core, ${cores} cores)`);
  if (threads > cores) warn(`--threads ${threads} is more than this machine's ${cores} cores: the threads will fight over them and the latency will say little`);
}
