/** Phones, tablets and Macs that device backends run on, and how one is chosen. */
import { MissingToolError, UsageError } from '../core/errors.js';

export interface Device {
  platform: 'android' | 'apple';
  /** adb serial or Apple UDID. */
  id: string;
  name: string;
  /** 'device' (usable), or why not: 'offline', 'unauthorized', 'unavailable', ... */
  state: string;
  kind: 'phone' | 'tablet' | 'watch' | 'tv' | 'vision' | 'mac' | 'emulator' | 'simulator' | 'unknown';
  os?: string;
  /** The hardware model as the device reports it (adb's own listing sanitises it: SM_S901B for SM-S901B). */
  model?: string;
  /** The CPU ABI the device reports (Android's ro.product.cpu.abi, e.g. arm64-v8a), when known. */
  abi?: string;
  /** A simulator's paired device (Xcode pairs watch simulators with phone simulators). */
  paired?: string;
}

export const isReady = (d: Device) => d.state === 'device';

export function label(d: Device): string {
  return d.name && d.name !== d.id ? `${d.name} (${d.id})` : d.id;
}

/**
 * The device to run on: the one --device names (serial, UDID or name), or the only usable one.
 * Several usable devices and no --device is a usage error (exit 2); no usable device is an
 * environment problem (exit 3).
 */
export function chooseDevice(devices: Device[], wanted: string | undefined, what: string): Device {
  if (wanted) {
    const found = devices.find((d) => d.id === wanted) ?? devices.find((d) => d.name === wanted);
    if (!found) {
      const seen = devices.length ? devices.map(label).join(', ') : 'none';
      throw new MissingToolError(`device '${wanted}' is not connected (${what} connected: ${seen})`);
    }
    if (!isReady(found)) throw new MissingToolError(`${label(found)} is ${found.state}: ${advice(found)}`);
    return found;
  }
  const ready = devices.filter(isReady);
  if (ready.length === 1) return ready[0];
  if (ready.length > 1) throw new UsageError(`${ready.length} ${what} are connected (${ready.map(label).join(', ')}): choose one with --device`);
  const notReady = devices.map((d) => `${label(d)} is ${d.state}: ${advice(d)}`).join('; ');
  throw new MissingToolError(`no ${what} connected${notReady ? ` (${notReady})` : ''}`);
}

function advice(d: Device): string {
  if (d.platform === 'apple') return 'connect it, unlock it and trust this Mac';
  switch (d.state) {
    case 'unauthorized':
      return 'unlock it and accept the USB debugging prompt';
    case 'offline':
      return 'reconnect it (adb reconnect)';
    case 'no permissions':
      return 'fix the udev rules for this device';
    default:
      return 'connect it and unlock it';
  }
}
