/**
 * Android devices as adb sees them: `adb devices -l`, then `getprop` on each reachable device for
 * what adb's own listing cannot say (the real model name, the Android version, phone or tablet).
 */
import { DeviceError } from '../core/errors.js';
import { lastLine } from '../core/text.js';
import { type Device, label } from './device.js';
import { runTool, type Step, type ToolOutput } from './tool.js';

export const ADB_INSTALL = 'install the Android platform tools (apt-get install -y adb) or put adb on PATH';

// What adb prints when the device went away between (or during) steps.
const GONE = [/device '[^']*' not found/, /device not found/, /device offline/, /error: closed/, /no devices\/emulators found/];

/**
 * Why an adb step failed, from everything it printed: adb writes its own errors to stderr but some
 * push failures to stdout, and its server preamble (`* daemon not running; starting now`,
 * `adb server version (40) doesn't match this client (41); killing...`) to stderr, which is never the reason.
 */
export function adbFailure(output: string): string | undefined {
  if (/device unauthorized/.test(output)) return 'the device is not authorized: unlock it and accept the USB debugging prompt';
  if (GONE.some((re) => re.test(output))) return 'the device disconnected (reconnect it, check `adb devices`, then run again)';
  const push = /(?:adb: error: |^error: )(failed to copy .*|stat failed .*|failed to read copy response.*)$/m.exec(output)?.[1];
  if (push) return `the copy failed: ${push.trim()}`;
  const error =
    /^\s*(?:adb: )?error: (.*)$/m.exec(output)?.[1] ?? /^\s*adb: (.*)$/m.exec(output)?.[1] ?? /((?:failed to|cannot) connect to .*)$/m.exec(output)?.[1];
  return error ? `adb: ${error.trim()}` : undefined;
}

/** Every state adb prints (adb's ConnectionStateToString); `no permissions` carries adb's advice after it. */
const STATES = ['device', 'offline', 'unauthorized', 'bootloader', 'recovery', 'sideload', 'rescue', 'unknown', 'detached', 'host', 'authorizing', 'connecting', 'no permissions'];
const STATE = new RegExp(`^(.+?)\\s+(${STATES.join('|')})(?=\\s|$)(.*)$`);

/**
 * Parses `adb devices [-l]`:
 *   List of devices attached
 *   2B0C1FDH2000AB         device usb:1-1 product:panther model:Pixel_7 device:panther transport_id:3
 *   802KPAE1577008         device 1-1.3 product:taimen model:Pixel_2_XL ...   <- macOS (libusb): a bare devpath
 *   adb-R5CT-3xk (2)._adb-tls-connect._tcp	device          <- mDNS serials hold spaces
 *   (no serial number)     no permissions (missing udev rules? ...); see [http://...]
 * Lines adb's server mixes in (`* daemon started successfully`, `adb server version (39) doesn't
 * match ...`) are not devices. The short form separates serial and state with a tab, the long
 * form with spaces, so a serial runs up to the first known state word. In the long form adb
 * prints, after the state, the device path as the platform names it (`usb:1-4.3` on Linux,
 * `usb:437387264X` from macOS's own USB stack, a bare bus-port path `231-1` or `1-1.3` from
 * adb's libusb backend, the default on macOS in recent platform tools; nothing on Windows), then
 * `key:value` properties.
 *
 * `unreadable` holds every other line after the header: what a listing eformer cannot read
 * contains (the caller refuses it rather than report "no devices"). `header` says whether adb's
 * header was there at all (a pasted line without it is still read).
 */
export function parseAdbListing(text: string): { devices: Device[]; unreadable: string[]; header: boolean } {
  const lines = text.split(/\r?\n/);
  // Real adb always prints the header first; what comes before it (a command echo, a server
  // restart) is not a device.
  const header = lines.findIndex((l) => l.startsWith('List of devices'));
  const devices: Device[] = [];
  const unreadable: string[] = [];
  for (const raw of lines.slice(header + 1)) {
    const line = raw.trimEnd();
    if (!line.trim() || line.startsWith('*') || line.startsWith('adb ')) continue;
    const device = adbDeviceLine(line);
    if (device) devices.push(device);
    else unreadable.push(line);
  }
  return { devices, unreadable, header: header >= 0 };
}

export function parseAdbDevices(text: string): Device[] {
  return parseAdbListing(text).devices;
}

/** One listing line as a device, or undefined when it is not one. */
function adbDeviceLine(line: string): Device | undefined {
  const tab = line.indexOf('\t');
  const m = tab >= 0 ? /^(.+?)\t+(\S+(?: permissions)?)(.*)$/.exec(line) : STATE.exec(line);
  if (!m || !STATES.includes(m[2])) return undefined;
  const [, serial, state, rest] = m;
  // After the state come only the device path and `key:value` properties (-l), or adb's advice
  // for `no permissions`: anything else is a sentence that happens to contain a state word
  // ("error: device unauthorized.").
  if (state !== 'no permissions' && !/^(?:\s+\d+-\d+(?:\.\d+)*)?(?:\s+[\w.]+:\S+)*\s*$/.test(rest)) return undefined;
  if (/[:'"]\s|:$/.test(serial.trim())) return undefined;
  const props = Object.fromEntries([...rest.matchAll(/(\w+):(\S+)/g)].map((p) => [p[1], p[2]]));
  const id = serial.trim();
  return {
    platform: 'android',
    id,
    name: id,
    state: state === 'no permissions' ? `no permissions${rest.split(/\s+(?:usb|product|model|device|transport_id):/)[0]}`.trim() : state,
    kind: id.startsWith('emulator-') ? 'emulator' : 'unknown',
    model: props.model,
  };
}

/** `getprop` prints `[ro.product.model]: [Pixel 7]` lines. */
export function parseGetprop(text: string): Record<string, string> {
  return Object.fromEntries([...text.matchAll(/^\[([^\]]+)\]:\s*\[(.*)\]\s*$/gm)].map((m) => [m[1], m[2]]));
}

/** A listed device with what its properties say: the model as it calls itself, its Android version, its kind. */
export function withProperties(device: Device, props: Record<string, string>): Device {
  const model = props['ro.product.model'] || device.model;
  const release = props['ro.build.version.release'];
  const characteristics = props['ro.build.characteristics'] ?? '';
  const kind = device.kind === 'emulator' ? 'emulator' : /\btablet\b/.test(characteristics) ? 'tablet' : /\bwatch\b/.test(characteristics) ? 'watch' : /\btv\b/.test(characteristics) ? 'tv' : 'phone';
  const abi = props['ro.product.cpu.abi'] || undefined;
  return { ...device, model, name: model ?? device.name, os: release ? `Android ${release}` : device.os, kind, ...(abi ? { abi } : {}) };
}

export async function listAndroidDevices(timeoutSeconds = 30): Promise<Device[]> {
  const step = { device: 'adb', step: 'list devices', timeoutSeconds, install: ADB_INSTALL };
  const { stdout } = await runTool('adb', ['devices', '-l'], step);
  const { devices, unreadable, header } = parseAdbListing(stdout);
  // A listing eformer cannot read is not "no devices": say what it could not read.
  if (!header) throw new DeviceError(step.device, step.step, `adb printed no device list${stdout.trim() ? `: '${lastLine(stdout)}'` : ' (no output)'}`);
  if (unreadable.length) throw new DeviceError(step.device, step.step, `cannot read this line of adb's device list: '${unreadable[0].trim()}'`);
  // Only a device in the `device` state answers; the others keep what the listing said.
  const out: Device[] = [];
  for (const d of devices) {
    if (d.state !== 'device') {
      out.push(d);
      continue;
    }
    const props = await runTool('adb', ['-s', d.id, 'shell', 'getprop'], { device: d.id, step: 'read device properties', timeoutSeconds, install: ADB_INSTALL })
      .then((r) => parseGetprop(r.stdout))
      .catch(() => ({}));
    out.push(withProperties(d, props));
  }
  return out;
}

/** `adb -s SERIAL ...` for one step on one device, failing as one line that names both. */
export function adbOn(device: Device, timeoutSeconds: number) {
  return (step: string, args: string[], explain: Step['explain'] = adbFailure): Promise<ToolOutput> =>
    runTool('adb', ['-s', device.id, ...args], { device: label(device), step, timeoutSeconds, install: ADB_INSTALL, explain });
}

/** A work folder of its own under /data/local/tmp (the one place adb's shell may run binaries) for one run. */
export function deviceWorkDir(suffix: string): string {
  return `/data/local/tmp/eformer-${process.pid}-${suffix}`;
}

// A process killed by signal N exits with 128 + N in the device's shell (Linux numbering).
const SIGNALS: Record<number, { name: string; text: RegExp }> = {
  132: { name: 'SIGILL', text: /Illegal instruction/ },
  134: { name: 'SIGABRT', text: /Aborted/ },
  135: { name: 'SIGBUS', text: /Bus error/ },
  136: { name: 'SIGFPE', text: /Floating point exception/ },
  137: { name: 'SIGKILL', text: /^Killed\b/m },
  139: { name: 'SIGSEGV', text: /Segmentation fault/ },
};

/**
 * Why a program run in the device's shell died, when a signal killed it: `TOOL crashed (SIGSEGV)`,
 * with the tool's last line for an abort (usually an uncaught exception's message) and a hint for
 * SIGKILL (the low-memory killer). Undefined when no signal shows in the exit code or the output.
 */
export function deviceCrash(tool: string, output: string, exitCode: number | undefined): string | undefined {
  const signal = (exitCode !== undefined ? SIGNALS[exitCode] : undefined) ?? Object.values(SIGNALS).find((s) => s.text.test(output));
  if (!signal) return undefined;
  const reason = signal.name === 'SIGABRT' ? lastLine(output.split('\n').filter((l) => !signal.text.test(l)).join('\n')) : '';
  const hint = signal.name === 'SIGKILL' ? ' (the phone may have run out of memory)' : '';
  return `${tool} crashed (${signal.name})${hint}${reason ? `: ${reason}` : ''}`;
}
