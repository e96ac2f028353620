/**
 * Tool output that people have reported but that no public sample could be found for in full
 * (see fixtures/real/ for the real ones). Each input here is WRITTEN BY HAND after the reports
 * quoted in the comments; each of these failed on the drivers before they were fixed.
 */
import { describe, expect, it } from 'vitest';
import { mergeAppleListings, parseDevicectlJson, parseXctraceDevices } from '../src/backends/coreml/devices.js';
import { parseAdbDevices, withProperties } from '../src/devices/android.js';
import { parsePerfTest } from '../src/backends/ort-android/perf-test.js';
import { chooseDevice } from '../src/devices/device.js';

describe('xctrace (hand-written after reports)', () => {
  it('a user-set name ending in a space is trimmed, so --device finds it', () => {
    const devices = parseXctraceDevices('== Devices ==\nJane’s iPhone  (17.5) (00008101-001E30D43C38001E)\n');
    expect(devices[0]).toMatchObject({ name: 'Jane’s iPhone', os: '17.5', kind: 'phone', state: 'device' });
    expect(chooseDevice(devices, 'Jane’s iPhone', 'Apple devices').id).toBe('00008101-001E30D43C38001E');
  });

  it('watches and Apple TVs are not typed as phones', () => {
    const devices = parseXctraceDevices("== Devices ==\nJane’s Apple Watch (10.5) (00008301-000A1B2C3D4E5F60)\nLiving Room Apple TV (17.5) (00008110-0012345678901234)\nJane's iPad (17.5) (00008027-000A2D8E0C8A801E)\n");
    expect(devices.map((d) => d.kind)).toEqual(['watch', 'tv', 'tablet']);
  });

  it('Xcode 15+: a phone xctrace calls offline but devicectl calls connected is usable', () => {
    const xctrace = parseXctraceDevices('== Devices ==\nJane’s MacBook Pro (2F2B5B3C-5C3E-5E0B-8E5B-9C3D0A1B2C3D)\n== Devices Offline ==\nJane’s iPhone (17.5) (00008101-001E30D43C38001E)\n');
    const devicectl = parseDevicectlJson(
      JSON.stringify({
        result: {
          devices: [
            {
              identifier: '1E2D3C4B-0000-4000-8000-000000000001',
              connectionProperties: { pairingState: 'paired', tunnelState: 'connected' },
              deviceProperties: { name: 'Jane’s iPhone', osVersionNumber: '17.5' },
              hardwareProperties: { deviceType: 'iPhone', marketingName: 'iPhone 12', udid: '00008101-001E30D43C38001E', reality: 'physical' },
            },
          ],
        },
      }),
    );
    const merged = mergeAppleListings(xctrace, devicectl);
    expect(merged.find((d) => d.id === '00008101-001E30D43C38001E')).toMatchObject({ state: 'device', kind: 'phone', model: 'iPhone 12' });
    expect(merged.find((d) => d.kind === 'mac')).toBeDefined();
  });
});

describe('adb devices (hand-written after reports)', () => {
  it('a wireless-debugging serial with a collision suffix (spaces in the serial) is a device', () => {
    const text = 'List of devices attached\nadb-R5CT21ABCDE-3xk9Qp (2)._adb-tls-connect._tcp device product:r0qxxx model:SM_S901B device:r0q transport_id:7\n';
    expect(parseAdbDevices(text)).toMatchObject([{ id: 'adb-R5CT21ABCDE-3xk9Qp (2)._adb-tls-connect._tcp', state: 'device', model: 'SM_S901B' }]);
    // The short form separates with a tab.
    expect(parseAdbDevices('List of devices attached\nadb-R5CT21ABCDE-3xk9Qp (2)._adb-tls-connect._tcp\tdevice\n')[0].id).toBe('adb-R5CT21ABCDE-3xk9Qp (2)._adb-tls-connect._tcp');
  });

  it('every state adb prints is kept, none dropped', () => {
    const states = ['rescue', 'unknown', 'detached', 'sideload', 'recovery', 'bootloader', 'authorizing', 'connecting', 'host'];
    const text = `List of devices attached\n${states.map((s, i) => `SERIAL${i}\t${s}`).join('\n')}\n`;
    expect(parseAdbDevices(text).map((d) => d.state)).toEqual(states);
  });

  it('the model is shown as the device reports it (getprop), not as adb sanitises it', () => {
    const [listed] = parseAdbDevices('List of devices attached\nR5CT21ABCDE  device usb:1-1 product:r0qxxx model:SM_S901B device:r0q\n');
    expect(listed.model).toBe('SM_S901B');
    const device = withProperties(listed, { 'ro.product.model': 'SM-S901B', 'ro.build.version.release': '14', 'ro.build.characteristics': 'phone' });
    expect(device).toMatchObject({ model: 'SM-S901B', name: 'SM-S901B', os: 'Android 14', kind: 'phone' });
    expect(withProperties(listed, { 'ro.build.characteristics': 'tablet' }).kind).toBe('tablet');
  });
});

describe('onnxruntime_perf_test (hand-written after reports)', () => {
  const RUN = `Session creation time cost: 0.21 s
First inference time cost: 196 ms
Total inference requests: 50
Average inference time cost total: 98.9 ms
Runs:50
Min Latency: 0.0958 s
Max Latency: 0.1015 s
P50 Latency: 0.0995 s
P90 Latency: 0.1010 s
P95 Latency: 0.1012 s
P99 Latency: 0.1015 s
P999 Latency: 0.1015 s
`;

  it('vendor labels: warm-up and the average excluding warm-up, with a provider banner', () => {
    const vendor = `using QNNExecutionProvider\n${RUN.replace('First inference time cost', 'Warm-up inference time cost').replace('Average inference time cost total', 'Average inference time cost (excluding warm-up)')}`;
    const r = parsePerfTest(vendor);
    expect(r.firstRunMs).toBe(196);
    expect(r.summary.mean).toBeCloseTo(98.9, 9);
  });

  it('only the run\'s own summary: an indented per-shape block after it is not read', () => {
    const withShapes = `${RUN}  shape 1x3x224x224:\n    Min Latency: 0.5 s\n    Max Latency: 0.9 s\n    P50 Latency: 0.7 s\n    P90 Latency: 0.8 s\n    P99 Latency: 0.9 s\n`;
    const r = parsePerfTest(withShapes);
    expect(r.summary.min).toBeCloseTo(95.8, 9);
    expect(r.summary.median).toBeCloseTo(99.5, 9);
    expect(r.summary.max).toBeCloseTo(101.5, 9);
  });
});
