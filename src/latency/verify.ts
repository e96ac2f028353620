/**
 * `search --verify`: the chosen configurations measured on the table's backend, interleaved
 * with the table's reference, so predicted and measured are compared at the same moment's speed.
 */
import type { ModelFamily } from '../models/family.js';
import { measurePoints, type MeasureSettings } from './build.js';
import type { Lut } from './lut.js';
import type { Candidate, Verification } from './search.js';

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

/** What `search --verify` keeps in search.json: the measurements, the reference's median and where they were made. */
export function verification(lut: Lut, rows: Verified[]): Verification {
  return {
    backend: lut.backend,
    ...(lut.device ? { device: lut.device.name } : {}),
    reference: { model: lut.reference.model, median_ms: rows[0]?.referenceMs ?? lut.reference.median_ms },
    candidates: rows.map((r) => ({ predicted_ms: r.predictedMs, measured_ms: r.measuredMs })),
  };
}
