/** A one-line progress bar on stderr, only when stderr is a terminal. */
import type { Progress } from '../profile/timing.js';

export function progressBar(ids: string[], quiet: boolean): Progress | undefined {
  if (quiet || !process.stderr.isTTY) return undefined;
  const state = new Map(ids.map((id) => [id, 0]));
  return ({ phase, id, done }) => {
    state.set(id, phase === 'warmup' ? 0 : done);
    const fraction = [...state.values()].reduce((a, b) => a + b, 0) / ids.length;
    const width = 30;
    const filled = Math.round(fraction * width);
    const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0)}% ${phase} ${id}`;
    process.stderr.write(`\r${line.padEnd(80)}`);
    if (fraction >= 1) process.stderr.write('\r'.padEnd(81) + '\r');
  };
}
