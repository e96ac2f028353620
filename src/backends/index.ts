/** The backends eformer knows: one line per backend. A new backend is one folder and one line here. */
import { DeviceError, MissingToolError, UsageError } from '../core/errors.js';
import type { Device } from '../devices/device.js';
import type { Backend, BackendOption, DeviceBackend } from './backend.js';
import { coreml } from './coreml/index.js';
import { litert } from './litert/index.js';
import { litertAndroid } from './litert-android/index.js';
import { ortAndroid } from './ort-android/index.js';
import { ortCpu } from './ort-cpu/index.js';
import { ortWeb } from './ort-web/index.js';

export const backends: readonly Backend[] = [ortCpu, ortWeb, litert, coreml, ortAndroid, litertAndroid];

export function findBackend(id: string): Backend {
  const found = backends.find((b) => b.id === id);
  if (!found) throw new UsageError(`unknown backend '${id}'; available: ${backends.map((b) => b.id).join(', ')}`);
  return found;
}

/** Every backend's own options, each once, with the backends that take it. */
export function backendOptions(): { option: BackendOption; owners: string[] }[] {
  const byFlags = new Map<string, { option: BackendOption; owners: string[] }>();
  for (const b of backends) {
    for (const option of b.options ?? []) {
      const seen = byFlags.get(option.flags);
      if (seen) seen.owners.push(b.id);
      else byFlags.set(option.flags, { option, owners: [b.id] });
    }
  }
  return [...byFlags.values()];
}

/** An option given for another backend than the chosen one is a usage error, not silently ignored. */
export function checkBackendOptions(backend: Backend, given: Readonly<Record<string, unknown>>): void {
  for (const { option, owners } of backendOptions()) {
    if (given[option.key] === undefined || owners.includes(backend.id)) continue;
    const flag = option.flags.split(/[ ,]/)[0];
    throw new UsageError(`${flag} belongs to --backend ${owners.join(' or ')}, not ${backend.id}`);
  }
}

export interface PlatformListing {
  platform: string;
  devices: Device[];
  /** Why this platform could not be listed (its tool is missing or failed). */
  problem?: string;
  /** The tool is there but failed (crashed, hung, printed what eformer cannot read), rather than missing. */
  failed?: boolean;
}

/**
 * Every platform's devices; a missing or failing tool is reported per platform, not thrown. Two
 * backends on one platform (ort-android and litert-android both ask adb) list it once.
 */
export async function listDevices(timeoutSeconds = 60): Promise<PlatformListing[]> {
  const out: PlatformListing[] = [];
  const devicesBackends = backends.filter((x): x is DeviceBackend => x.kind === 'device');
  for (const b of devicesBackends.filter((x, i) => devicesBackends.findIndex((y) => y.platform === x.platform) === i)) {
    try {
      out.push({ platform: b.platform, devices: await b.listDevices(timeoutSeconds) });
    } catch (err) {
      if (!(err instanceof MissingToolError)) throw err;
      out.push({ platform: b.platform, devices: [], problem: err.message, ...(err instanceof DeviceError ? { failed: true } : {}) });
    }
  }
  return out;
}
