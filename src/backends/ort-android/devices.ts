/** Android devices as adb sees them (`adb devices -l`). */
import type { Device } from '../../devices/device.js';
import { runTool } from '../../devices/tool.js';

export const ADB_INSTALL = 'install the Android platform tools (apt-get install -y adb) or put adb on PATH';

/**
 * Parses `adb devices -l`:
 *   List of devices attached
 *   2B0C1FDH2000AB  device usb:1-1 product:panther model:Pixel_7 device:panther transport_id:3
 *   emulator-5554   offline transport_id:1
 */
export function parseAdbDevices(text: string): Device[] {
  const devices: Device[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+(device|offline|unauthorized|bootloader|recovery|sideload|no permissions|authorizing|connecting|host)\b(.*)$/.exec(line.trim());
    if (!m || line.startsWith('List of devices') || line.startsWith('*')) continue;
    const props = Object.fromEntries([...m[3].matchAll(/(\w+):(\S+)/g)].map((p) => [p[1], p[2]]));
    const model = props.model?.replace(/_/g, ' ');
    devices.push({
      platform: 'android',
      id: m[1],
      name: model ?? m[1],
      state: m[2],
      kind: m[1].startsWith('emulator-') ? 'emulator' : 'phone',
      model,
    });
  }
  return devices;
}

export async function listAndroidDevices(timeoutSeconds = 30): Promise<Device[]> {
  const { stdout } = await runTool('adb', ['devices', '-l'], { device: 'adb', step: 'list devices', timeoutSeconds, install: ADB_INSTALL });
  return parseAdbDevices(stdout);
}
