/**
 * iPhones, iPads and Macs as Xcode sees them. Two listings, merged by UDID:
 * - `xcrun devicectl list devices --json-output FILE` (Xcode 15 and later): the physical devices
 *   and whether they are usable now. Since Xcode 15, xctrace has been seen to list connected,
 *   usable phones under `== Devices Offline ==`; devicectl's state wins where both speak.
 * - `xcrun xctrace list devices` (every Xcode): the Mac itself, the simulators, and the devices
 *   when devicectl is not there.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeviceError } from '../../core/errors.js';
import { lastLine } from '../../core/text.js';
import type { Device } from '../../devices/device.js';
import { runTool } from '../../devices/tool.js';
import { makeWorkDir, removeWorkDir } from '../../core/fs.js';

export const XCODE_INSTALL = 'the coreml backend needs a Mac with Xcode (xcode-select --install, and Xcode from the App Store)';

/** What kind of Apple device a name or a model describes. */
export function appleKind(text: string): Device['kind'] {
  if (/apple watch|\bwatch\b/i.test(text)) return 'watch';
  if (/apple tv|appletv/i.test(text)) return 'tv';
  if (/vision|reality/i.test(text)) return 'vision';
  if (/ipad/i.test(text)) return 'tablet';
  if (/iphone|ipod/i.test(text)) return 'phone';
  if (/\bmac/i.test(text)) return 'mac';
  return 'unknown';
}

// `NAME (OS) + PAIRED (UDID)`: the OS and the paired watch are optional; the last parenthesis is the id.
const XCTRACE_LINE = /^(.*?)(?: \(([\d.]+)\))?(?: \+ (.+?))? \(([^()\s]+)\)$/;

/**
 * Parses `xcrun xctrace list devices`:
 *   == Devices ==
 *   Jane’s MacBook Pro (9A1B2C3D-...)                        <- the Mac itself: no OS version
 *   Jane’s iPhone  (17.5) (00008101-001E30D43C38001E)        <- user-set names may end in a space
 *   == Devices Offline ==
 *   Jane’s iPad (16.7) (00008027-000A2D8E0C8A801E)
 *   == Simulators ==
 *   iPhone 12 Pro Simulator (15.5) + Apple Watch Series 5 - 40mm (8.5) (UDID)   <- a paired watch
 * `xctrace record` prints the same list with `[n] ` in front of each line.
 *
 * `unreadable` holds the lines inside a section that are not a device, and `header` whether any
 * section was there: a listing eformer cannot read is refused, not taken for "no devices".
 */
export function parseXctraceListing(text: string): { devices: Device[]; unreadable: string[]; header: boolean } {
  const devices: Device[] = [];
  const unreadable: string[] = [];
  let section = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim().replace(/^\[\d+\]\s+/, '');
    const header = /^== (.+) ==$/.exec(line);
    if (header) {
      section = header[1].toLowerCase();
      continue;
    }
    if (!line || !section) continue;
    const m = XCTRACE_LINE.exec(line);
    if (!m) {
      unreadable.push(line);
      continue;
    }
    const [, rawName, os, paired, id] = m;
    const name = rawName.trim();
    const simulator = section.startsWith('simulator');
    devices.push({
      platform: 'apple',
      id,
      name,
      os,
      state: section === 'devices' || simulator ? 'device' : 'offline',
      kind: simulator ? 'simulator' : os ? appleKind(name) : 'mac',
      ...(paired ? { paired: paired.trim() } : {}),
    });
  }
  return { devices, unreadable, header: section !== '' };
}

export function parseXctraceDevices(text: string): Device[] {
  return parseXctraceListing(text).devices;
}

interface DevicectlDevice {
  identifier?: string;
  deviceProperties?: { name?: string; osVersionNumber?: string };
  hardwareProperties?: { udid?: string; deviceType?: string; marketingName?: string; productType?: string; reality?: string };
  connectionProperties?: { pairingState?: string; tunnelState?: string };
}

/** devicectl's state, in eformer's words: `device` when Xcode can run on it now or on demand. */
function devicectlState(c: DevicectlDevice['connectionProperties']): string {
  if (c?.tunnelState === 'connected') return 'device';
  // "available (paired)": no tunnel yet, but xcodebuild opens one when it runs.
  if (c?.pairingState === 'paired' && c.tunnelState === 'disconnected') return 'device';
  if (c?.pairingState && c.pairingState !== 'paired') return 'not paired';
  return 'unavailable';
}

/** Parses the JSON `xcrun devicectl list devices --json-output FILE` writes. */
export function parseDevicectlJson(text: string): Device[] {
  const data = JSON.parse(text) as { result?: { devices?: DevicectlDevice[] } };
  return (data.result?.devices ?? []).map((d) => {
    const hw = d.hardwareProperties ?? {};
    const simulated = hw.reality === 'simulated';
    const model = hw.marketingName ?? hw.productType;
    return {
      platform: 'apple' as const,
      id: hw.udid ?? d.identifier ?? '',
      name: (d.deviceProperties?.name ?? '').trim() || model || hw.udid || d.identifier || '',
      os: d.deviceProperties?.osVersionNumber,
      state: simulated ? 'device' : devicectlState(d.connectionProperties),
      kind: simulated ? 'simulator' : appleKind(`${hw.deviceType ?? ''} ${model ?? ''}`),
      model,
    };
  });
}

/**
 * Parses devicectl's table (what it prints without --json-output), by the columns its dashes mark:
 *   Name              Hostname        Identifier                             State                Model
 *   ---------------   -------------   ------------------------------------   ------------------   ------------------
 *   Jane’s iPhone     Janes-iPhone…   00008140-001104C01498801C (UDID)       available (paired)   iPhone 16 (iPhone17,3)
 */
export function parseDevicectlTable(text: string): Device[] {
  const lines = text.split(/\r?\n/);
  const rule = lines.findIndex((l) => /^-+(\s+-+)+\s*$/.test(l));
  if (rule < 1) return [];
  const columns = [...lines[rule].matchAll(/-+/g)].map((m) => ({ start: m.index!, end: m.index! + m[0].length }));
  const titles = columns.map((c) => lines[rule - 1].slice(c.start, c.end).trim().toLowerCase());
  const devices: Device[] = [];
  for (const line of lines.slice(rule + 1)) {
    if (!line.trim()) continue;
    // A cell runs from its column's start to the next column's start (values may overrun the dashes).
    const cell = (title: string) => {
      const i = titles.indexOf(title);
      if (i < 0) return '';
      return line.slice(columns[i].start, i + 1 < columns.length ? columns[i + 1].start : undefined).trim();
    };
    const id = cell('identifier').replace(/\s*\(UDID\)$/, '');
    const stateText = cell('state');
    const model = cell('model');
    const simulated = cell('reality') === 'simulated';
    devices.push({
      platform: 'apple',
      id,
      name: cell('name') || model || id,
      state: simulated ? (stateText === 'booted' ? 'device' : stateText) : stateText === 'connected' || stateText === 'available (paired)' ? 'device' : stateText || 'unavailable',
      kind: simulated ? 'simulator' : appleKind(`${cell('name')} ${model}`),
      ...(model ? { model } : {}),
    });
  }
  return devices;
}

/** xctrace's list, with devicectl's devices and states laid over it (matched by UDID). */
export function mergeAppleListings(xctrace: Device[], devicectl: Device[]): Device[] {
  const byId = new Map(xctrace.map((d) => [d.id, d]));
  for (const d of devicectl) {
    const seen = byId.get(d.id);
    byId.set(d.id, seen ? { ...seen, state: d.state, kind: d.kind === 'unknown' ? seen.kind : d.kind, model: d.model ?? seen.model, os: seen.os ?? d.os } : d);
  }
  return [...byId.values()];
}

/** devicectl's devices, or undefined where there is no devicectl (before Xcode 15) or it fails. */
async function devicectlDevices(timeoutSeconds: number): Promise<Device[] | undefined> {
  const dir = makeWorkDir('eformer-devicectl-');
  const out = join(dir, 'devices.json');
  try {
    await runTool('xcrun', ['devicectl', 'list', 'devices', '--quiet', '--json-output', out], { device: 'Xcode', step: 'list devices (devicectl)', timeoutSeconds, install: XCODE_INSTALL });
    return parseDevicectlJson(readFileSync(out, 'utf8'));
  } catch (err) {
    // An old Xcode has no devicectl; xctrace alone then says what is there.
    if (err instanceof DeviceError || err instanceof SyntaxError || (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  } finally {
    removeWorkDir(dir);
  }
}

export async function listAppleDevices(timeoutSeconds = 60): Promise<Device[]> {
  const step = { device: 'Xcode', step: 'list devices', timeoutSeconds, install: XCODE_INSTALL };
  const { stdout, stderr } = await runTool('xcrun', ['xctrace', 'list', 'devices'], step);
  // Older Xcodes print the list on stderr.
  const text = stdout.trim() ? stdout : stderr;
  const { devices: xctrace, unreadable, header } = parseXctraceListing(text);
  if (!header) throw new DeviceError(step.device, step.step, `xctrace printed no device list${text.trim() ? `: '${lastLine(text)}'` : ' (no output)'}`);
  if (unreadable.length) throw new DeviceError(step.device, step.step, `cannot read this line of xctrace's device list: '${unreadable[0]}'`);
  return mergeAppleListings(xctrace, (await devicectlDevices(timeoutSeconds)) ?? []);
}
