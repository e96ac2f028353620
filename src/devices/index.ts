/** Every kind of device eformer can profile on. A new platform is one file and one line here. */
import { MissingToolError } from '../errors.js';
import { listAndroidDevices } from './android.js';
import { listAppleDevices } from './apple.js';
import type { Device } from './device.js';

export const platforms = [
  { id: 'apple', tool: 'xcrun', list: listAppleDevices },
  { id: 'android', tool: 'adb', list: listAndroidDevices },
] as const;

export interface PlatformListing {
  platform: string;
  devices: Device[];
  /** Why this platform could not be listed (its tool is missing or failed). */
  problem?: string;
}

/** Lists every platform; a missing tool is reported per platform, not thrown. */
export async function listDevices(): Promise<PlatformListing[]> {
  const out: PlatformListing[] = [];
  for (const p of platforms) {
    try {
      out.push({ platform: p.id, devices: await p.list() });
    } catch (err) {
      if (!(err instanceof MissingToolError)) throw err;
      out.push({ platform: p.id, devices: [], problem: err.message });
    }
  }
  return out;
}
