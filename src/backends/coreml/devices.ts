/** iPhones, iPads and Macs as Xcode sees them (`xcrun xctrace list devices`). */
import type { Device } from '../../devices/device.js';
import { runTool } from '../../devices/tool.js';

export const XCODE_INSTALL = 'the coreml backend needs a Mac with Xcode (xcode-select --install, and Xcode from the App Store)';

/**
 * Parses `xcrun xctrace list devices`:
 *   == Devices ==
 *   Jane's MacBook Pro (9A1B2C3D-...)              <- the Mac itself: no OS version
 *   Jane's iPhone (17.5.1) (00008101-001E30D43C38001E)
 *   == Devices Offline ==
 *   Jane's iPad (16.7) (00008027-000A2D8E0C8A801E)
 *   == Simulators ==
 *   iPhone 15 Simulator (17.5) (6B3E2E40-...)
 */
export function parseXctraceDevices(text: string): Device[] {
  const devices: Device[] = [];
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const header = /^== (.+) ==$/.exec(line);
    if (header) {
      section = header[1].toLowerCase();
      continue;
    }
    const m = /^(.*?)(?: \(([\d.]+)\))? \(([0-9A-Fa-f-]{8,})\)$/.exec(line);
    if (!m || !section) continue;
    const [, name, os, id] = m;
    const simulator = section.startsWith('simulator');
    devices.push({
      platform: 'apple',
      id,
      name,
      os,
      state: section === 'devices' || simulator ? 'device' : 'offline',
      kind: simulator ? 'simulator' : os ? 'phone' : 'mac',
    });
  }
  return devices;
}

export async function listAppleDevices(timeoutSeconds = 60): Promise<Device[]> {
  const { stdout, stderr } = await runTool('xcrun', ['xctrace', 'list', 'devices'], { device: 'Xcode', step: 'list devices', timeoutSeconds, install: XCODE_INSTALL });
  // Older Xcodes print the list on stderr.
  return parseXctraceDevices(stdout.trim() ? stdout : stderr);
}
