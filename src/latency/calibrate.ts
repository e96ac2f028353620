/**
 * The table's reference model timed now, on the table's backend: the factor that turns a
 * prediction's ratio into milliseconds at this moment's speed of the machine.
 */
import { profile } from '../profile/profile.js';
import { medianOf } from './build.js';
import type { Lut } from './lut.js';

export async function calibrate(lut: Lut, options: { device?: string; threads?: number } = {}): Promise<number> {
  const threads = options.threads ?? (typeof lut.settings.threads === 'number' && lut.settings.threads > 0 ? lut.settings.threads : undefined);
  const results = await profile({
    models: [lut.reference.model],
    resolution: lut.resolution,
    backend: lut.backend,
    threads,
    device: options.device ?? lut.device?.id,
    singleSession: false,
    // A table needs latencies only: no cold process per block.
    coldStart: false,
    plan: { runs: 30 },
  });
  return medianOf(results.results[0]);
}
