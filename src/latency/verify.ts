/**
 * `search --verify`: the chosen configurations measured on the table's backend, interleaved
 * with the table's reference, so predicted and measured are compared at the same moment's speed.
 */
import type { ModelFamily } from '../models/family.js';
import { measurePoints, type MeasureSettings } from './build.js';
import type { Lut } from './lut.js';
import type { Candidate } from './search.js';

export interface Verified {
  predictedMs: number;
  measuredMs: number;
  referenceMs: number;
}

export async function verifyCandidates(lut: Lut, family: ModelFamily<unknown>, chosen: Candidate[], settings: Omit<MeasureSettings, 'backend'> = {}): Promise<Verified[]> {
  const threads = typeof lut.settings.threads === 'number' && lut.settings.threads > 0 ? lut.settings.threads : undefined;
  const measured = await measurePoints(family, chosen.map((c) => c.point), lut.resolution, lut.reference.model, { threads, device: lut.device?.id, sessions: lut.sessions, ...settings, backend: lut.backend }, 'candidate');
  return measured.map((m, i) => ({ predictedMs: chosen[i].ratio * m.referenceMs, measuredMs: m.ratio * m.referenceMs, referenceMs: m.referenceMs }));
}
