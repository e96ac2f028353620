/**
 * The Swift benchmark harness eformer ships in harness/apple/ and how it is run:
 * - on the Mac itself, built once per run with `xcrun swiftc -O` and run directly;
 * - on an iPhone or iPad, as a Swift package whose XCTest carries the compiled model, run
 *   with `xcodebuild test` and read back from the .xcresult bundle with `xcrun xcresulttool`.
 * Both write the same JSON (BenchmarkResult in Benchmark.swift).
 */
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DeviceError } from '../../core/errors.js';
import { type Device, label } from '../../devices/device.js';
import { runTool } from '../../devices/tool.js';
import { XCODE_INSTALL } from './devices.js';

export const HARNESS_SOURCES = fileURLToPath(new URL('../../../harness/apple/', import.meta.url));

export interface HarnessConfig {
  model: string;
  input_name: string;
  input_shape: number[];
  compute_units: string;
  warmup: number;
  runs: number;
}

/** The harness process's phys_footprint (task_vm_info), bytes; MemoryReport in Benchmark.swift. */
export interface HarnessMemory {
  before_load_bytes: number;
  after_load_bytes: number;
  peak_bytes: number;
  /** 'ledger_phys_footprint_peak' (the kernel's high-water mark) or 'sampled' (after loading and after each prediction). */
  method: string;
}

export interface HarnessResult {
  load_ms: number;
  first_run_ms: number;
  samples_ms: number[];
  compute_units: string;
  os: string;
  hardware: string;
  /** Absent from harnesses older than the memory readings, and when the kernel would not report them. */
  memory?: HarnessMemory | null;
}

interface Run {
  device: Device;
  timeoutSeconds: number;
}

/**
 * Known xcodebuild / harness failures, as one line the user can act on. xcodebuild prints a lot,
 * including lines about other attached devices (any locked device is reported "passcode
 * protected"), so causes that concern the build or this device are checked first, and a lock is
 * blamed only when nothing else explains the failure. `device` is the UDID the run targeted.
 */
export function explainXcodeFailure(output: string, device?: { id: string; name?: string }): string | undefined {
  if (/requires a development team|no account for team|no profiles for|provisioning profile|code signing error/i.test(output)) {
    return 'code signing failed: pass --team with your Apple development team ID (and sign in to Xcode)';
  }
  const busy = device && ineligibleReason(output, device.id);
  const busyText = busy ?? /Device is busy \(([^)]*)\)?/.exec(output)?.[0];
  if (busyText && /busy/i.test(busyText)) {
    const what = /busy \(([^)]*)/.exec(busyText)?.[1]?.replace(/[.…]+$/, '');
    return `the device is busy${what ? ` (${what})` : ''}: wait until Xcode has finished preparing it, then run again`;
  }
  if (/Timed out waiting for all destinations/i.test(output)) {
    return "Xcode could not reach the device in time (timed out waiting for the destination): unlock it, keep it connected, and check it in Xcode's Devices and Simulators window";
  }
  if (/Unable to find a destination matching/i.test(output)) {
    if (busy) return `Xcode cannot use the device: ${busy}`;
    return 'Xcode cannot see the device (no destination matches its id): connect it, unlock it, trust this Mac, and check `eformer devices`';
  }
  if (/lost connection|(?:device|destination) (?:was|has been) disconnected|not connected/i.test(output)) return 'the device disconnected (or Xcode cannot see it)';
  if (/test crashed|crash|unexpected exit|signal (?:segv|abrt|kill|bus|trap)|terminated due to signal/i.test(output)) return 'the harness crashed on the device';
  if (/device (?:is|was) locked|could not be,? unlocked|passcode protected|unlock .{0,40}to continue/i.test(output)) return 'the device is locked: unlock it and keep the screen on during the run';
  const error = output.split('\n').find((l) => /\berror:/.test(l));
  return error ? `the harness failed: ${error.trim().replace(/^.*?\berror:\s*/, '')}` : undefined;
}

/** Why `xcrun coremlcompiler compile` failed, from what it printed. */
export function explainCompilerFailure(output: string): string | undefined {
  if (/unable to find utility "coremlcompiler"/.test(output)) {
    return 'coremlcompiler is not there: select a full Xcode (sudo xcode-select -s /Applications/Xcode.app); the Command Line Tools alone lack it';
  }
  if (/intended for a newer version of Xcode|model version \d+ or earlier/i.test(output)) return `this Xcode is too old for the package: ${lineMatching(output, /newer version of Xcode/)}`;
  const error = lineMatching(output, /(?:coremlc|coremlcompiler): [Ee]rror:/);
  return error ? `the compiler refused the model: ${error.replace(/^.*?[Ee]rror:\s*/, '')}` : undefined;
}

/** Why `xcrun xcresulttool` failed: its `Error:` line. */
export function explainXcresulttoolFailure(output: string): string | undefined {
  if (/--legacy flag is required/.test(output)) return 'this Xcode retired the xcresulttool command eformer used (it asks for --legacy): please report it with your Xcode version';
  const error = lineMatching(output, /^\s*Error:/);
  return error ? `xcresulttool: ${error.replace(/^\s*Error:\s*/, '')}` : undefined;
}

const lineMatching = (output: string, re: RegExp) => output.split('\n').find((l) => re.test(l))?.trim() ?? '';

interface TestNode {
  name?: string;
  nodeType?: string;
  result?: string;
  children?: TestNode[];
}

/**
 * A test's result in `xcrun xcresulttool get test-results tests` JSON (Xcode 16 and later): its
 * outcome and failure messages, when the bundle holds a test case of that name.
 */
export function testOutcome(json: string, testName: string): { result: string; failures: string[] } | undefined {
  const data = JSON.parse(json) as { testNodes?: TestNode[] };
  const walk = (nodes: TestNode[] | undefined): TestNode | undefined => {
    for (const n of nodes ?? []) {
      if (n.nodeType === 'Test Case' && n.name?.replace(/\(\)$/, '') === testName) return n;
      const found = walk(n.children);
      if (found) return found;
    }
    return undefined;
  };
  const test = walk(data.testNodes);
  if (!test) return undefined;
  const failures: string[] = [];
  const collect = (nodes: TestNode[] | undefined) => {
    for (const n of nodes ?? []) {
      if (n.nodeType === 'Failure Message' && n.name && !failures.includes(n.name)) failures.push(n.name);
      collect(n.children);
    }
  };
  collect(test.children);
  return { result: test.result ?? 'unknown', failures };
}

/** The `error:` xcodebuild gives for this device among its ineligible destinations, if it lists it. */
function ineligibleReason(output: string, id: string): string | undefined {
  for (const m of output.matchAll(/\{([^{}]*)\}/g)) {
    const fields = m[1];
    if (!fields.includes(`id:${id}`)) continue;
    const error = /error:\s*(.*?)\s*$/.exec(fields)?.[1];
    if (error) return error;
  }
  return undefined;
}

/** Build the Mac harness once per run folder; returns the binary. */
export async function buildMacHarness(workDir: string, run: Run): Promise<string> {
  const binary = join(workDir, 'harness', 'eformer-bench');
  if (existsSync(binary)) return binary;
  mkdirSync(join(workDir, 'harness'), { recursive: true });
  const sources = [join(HARNESS_SOURCES, 'Sources/EformerBench/Benchmark.swift'), join(HARNESS_SOURCES, 'cli/main.swift')];
  await runTool('xcrun', ['swiftc', '-O', '-o', binary, ...sources], { ...steps(run, 'build the Mac harness (xcrun swiftc)'), explain: (output) => explainXcodeFailure(output) });
  return binary;
}

/** Run the benchmark on this Mac; `modelDir` holds config.json and the compiled model. */
export async function runMacHarness(binary: string, modelDir: string, run: Run): Promise<HarnessResult> {
  const out = join(modelDir, 'result.json');
  await runTool(binary, ['--config', join(modelDir, 'config.json'), '--out', out], { ...steps(run, 'run the Mac harness'), explain: (output) => explainXcodeFailure(output) });
  return readResult(out, run, 'read the Mac harness result');
}

/** Copy the harness package, put the compiled model and config into its test resources, test it on the device. */
export async function runDeviceHarness(compiledModel: string, config: HarnessConfig, workDir: string, run: Run & { team?: string; name: string }): Promise<HarnessResult> {
  const pkg = join(workDir, `package-${run.name}`);
  cpSync(HARNESS_SOURCES, pkg, { recursive: true, filter: (src) => !src.includes('/cli') });
  const resources = join(pkg, 'Tests/EformerBenchTests/Resources');
  cpSync(compiledModel, join(resources, 'Model.mlmodelc'), { recursive: true });
  writeFileSync(join(resources, 'config.json'), JSON.stringify({ ...config, model: 'Model.mlmodelc' }));
  const bundle = join(workDir, `${run.name}.xcresult`);
  const args = ['test', '-scheme', 'EformerBench', '-destination', `platform=iOS,id=${run.device.id}`, '-resultBundlePath', bundle, '-only-testing:EformerBenchTests/BenchmarkTests/testBenchmark'];
  if (run.team) args.push('-allowProvisioningUpdates', `DEVELOPMENT_TEAM=${run.team}`);
  await runTool('xcodebuild', args, { ...steps(run, 'build and run the XCTest harness (xcodebuild test)'), cwd: pkg, explain: (output) => explainXcodeFailure(output, run.device) });
  const exported = join(workDir, `${run.name}-attachments`);
  await runTool('xcrun', ['xcresulttool', 'export', 'attachments', '--path', bundle, '--output-path', exported], { ...steps(run, 'export the results (xcrun xcresulttool)'), explain: explainXcresulttoolFailure });
  const file = attachmentFile(exported, run);
  if (!file) throw new DeviceError(label(run.device), 'read the XCTest result', await whyNoResult(bundle, run));
  return readResult(join(exported, file), run, 'read the XCTest result');
}

/** The exported file of the "eformer-result" attachment, from xcresulttool's manifest.json (undefined when there is none). */
function attachmentFile(dir: string, run: Run): string | undefined {
  let manifest: { attachments?: { suggestedHumanReadableName?: string; exportedFileName?: string }[] }[];
  try {
    manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  } catch {
    throw new DeviceError(label(run.device), 'read the XCTest result', 'xcresulttool exported no readable manifest.json');
  }
  return (Array.isArray(manifest) ? manifest : []).flatMap((t) => t.attachments ?? []).find((a) => a.suggestedHumanReadableName?.startsWith('eformer-result'))?.exportedFileName;
}

/** No result attachment: ask the bundle what happened to the harness test. */
async function whyNoResult(bundle: string, run: Run): Promise<string> {
  const fallback = 'the result bundle has no eformer-result attachment (did the test run?)';
  try {
    const { stdout } = await runTool('xcrun', ['xcresulttool', 'get', 'test-results', 'tests', '--path', bundle], steps(run, 'read the test results (xcrun xcresulttool)'));
    const outcome = testOutcome(stdout, 'testBenchmark');
    if (!outcome) return `${fallback}; the bundle holds no testBenchmark result`;
    return `the harness test ${outcome.result.toLowerCase()}${outcome.failures.length ? `: ${outcome.failures[0]}` : ''}, and attached no result`;
  } catch {
    return fallback;
  }
}

function readResult(path: string, run: Run, step: string): HarnessResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new DeviceError(label(run.device), step, `the harness wrote no result (${path})`);
  }
  let r: HarnessResult;
  try {
    r = JSON.parse(text);
  } catch {
    throw new DeviceError(label(run.device), step, `cannot read the harness result: "${text.trim().split('\n')[0].slice(0, 80)}"`);
  }
  const ok = Number.isFinite(r?.load_ms) && Number.isFinite(r?.first_run_ms) && Array.isArray(r?.samples_ms) && r.samples_ms.length > 0 && r.samples_ms.every((x) => Number.isFinite(x) && x > 0) && typeof r.compute_units === 'string';
  if (!ok) throw new DeviceError(label(run.device), step, 'the harness result lacks load_ms, first_run_ms, compute_units or positive samples_ms');
  const bad = r.memory == null ? undefined : memoryProblem(r.memory);
  if (bad) throw new DeviceError(label(run.device), step, `the harness result's memory ${bad}`);
  return r;
}

const BYTE_FIELDS = ['before_load_bytes', 'after_load_bytes', 'peak_bytes'] as const;

/** What is wrong with the harness's memory object, or undefined when it is whole and consistent. */
export function memoryProblem(memory: unknown): string | undefined {
  if (typeof memory !== 'object' || memory === null || Array.isArray(memory)) return 'is not an object';
  const m = memory as Record<string, unknown>;
  const notBytes = BYTE_FIELDS.filter((f) => !(typeof m[f] === 'number' && Number.isSafeInteger(m[f]) && (m[f] as number) >= 0));
  if (notBytes.length) return `lacks ${notBytes.join(', ')} as whole non-negative numbers of bytes`;
  if (typeof m.method !== 'string') return 'lacks the method its peak was read by';
  const { before_load_bytes: before, after_load_bytes: after, peak_bytes: peak } = m as unknown as HarnessMemory;
  if (peak < before || peak < after) return `has a peak (${peak} bytes) below its footprint before (${before}) or after loading (${after})`;
  return undefined;
}

function steps(run: Run, step: string) {
  return { device: label(run.device), step, timeoutSeconds: run.timeoutSeconds, install: XCODE_INSTALL };
}
