/** Warnings about a request that will run but probably not as the user meant: one line each, on stderr. */
import { availableParallelism } from 'node:os';
import { terminalSafe } from '../core/text.js';

/** One warning line; what it quotes from files and tools is shown, never obeyed by the terminal. */
export function warn(message: string): void {
  console.error(`eformer: warning: ${terminalSafe(message)}`);
}

/** More intra-op threads than cores: onnxruntime's threads then fight over them (measured: 50 times slower). */
export function warnAboutThreads(threads: number | undefined): void {
  const cores = availableParallelism();
  if (threads !== undefined && threads > cores) warn(`--threads ${threads} is more than this machine's ${cores} cores: the threads will fight over them and the latency will say little`);
}
