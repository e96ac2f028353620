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

export interface HarnessResult {
  load_ms: number;
  first_run_ms: number;
  samples_ms: number[];
  compute_units: string;
  os: string;
  hardware: string;
}

interface Run {
  device: Device;
  timeoutSeconds: number;
}

/** Known xcodebuild / harness failures, as one line the user can act on. */
export function explainXcodeFailure(output: string): string | undefined {
  const rules: [RegExp, string][] = [
    [/device (?:is|was) locked|could not be,? unlocked|passcode protected|unlock .{0,40}to continue/i, 'the device is locked: unlock it and keep the screen on during the run'],
    [/requires a development team|no account for team|no profiles for|provisioning profile/i, 'code signing failed: pass --team with your Apple development team ID (and sign in to Xcode)'],
    [/lost connection|(?:device|destination) (?:was|has been) disconnected|not connected|unable to find a destination matching/i, 'the device disconnected (or Xcode cannot see it)'],
    [/crash|unexpected exit|signal (?:segv|abrt|kill|bus)|terminated due to signal/i, 'the harness crashed on the device'],
  ];
  for (const [pattern, reason] of rules) if (pattern.test(output)) return reason;
  const error = output.split('\n').find((l) => /\berror:/.test(l));
  return error ? `the harness failed: ${error.trim().replace(/^.*?\berror:\s*/, '')}` : undefined;
}

/** Build the Mac harness once per run folder; returns the binary. */
export async function buildMacHarness(workDir: string, run: Run): Promise<string> {
  const binary = join(workDir, 'harness', 'eformer-bench');
  if (existsSync(binary)) return binary;
  mkdirSync(join(workDir, 'harness'), { recursive: true });
  const sources = [join(HARNESS_SOURCES, 'Sources/EformerBench/Benchmark.swift'), join(HARNESS_SOURCES, 'cli/main.swift')];
  await runTool('xcrun', ['swiftc', '-O', '-o', binary, ...sources], { ...steps(run, 'build the Mac harness (xcrun swiftc)'), explain: explainXcodeFailure });
  return binary;
}

/** Run the benchmark on this Mac; `modelDir` holds config.json and the compiled model. */
export async function runMacHarness(binary: string, modelDir: string, run: Run): Promise<HarnessResult> {
  const out = join(modelDir, 'result.json');
  await runTool(binary, ['--config', join(modelDir, 'config.json'), '--out', out], { ...steps(run, 'run the Mac harness'), explain: explainXcodeFailure });
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
  await runTool('xcodebuild', args, { ...steps(run, 'build and run the XCTest harness (xcodebuild test)'), cwd: pkg, explain: explainXcodeFailure });
  const exported = join(workDir, `${run.name}-attachments`);
  await runTool('xcrun', ['xcresulttool', 'export', 'attachments', '--path', bundle, '--output-path', exported], steps(run, 'export the results (xcrun xcresulttool)'));
  return readResult(join(exported, attachmentFile(exported, run)), run, 'read the XCTest result');
}

/** The exported file of the "eformer-result" attachment, from xcresulttool's manifest.json. */
function attachmentFile(dir: string, run: Run): string {
  const step = 'read the XCTest result';
  let manifest: { attachments?: { suggestedHumanReadableName?: string; exportedFileName?: string }[] }[];
  try {
    manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  } catch {
    throw new DeviceError(label(run.device), step, 'xcresulttool exported no readable manifest.json');
  }
  const found = (Array.isArray(manifest) ? manifest : []).flatMap((t) => t.attachments ?? []).find((a) => a.suggestedHumanReadableName?.startsWith('eformer-result'));
  if (!found?.exportedFileName) throw new DeviceError(label(run.device), step, 'the result bundle has no eformer-result attachment (did the test run?)');
  return found.exportedFileName;
}

function readResult(path: string, run: Run, step: string): HarnessResult {
  let r: HarnessResult;
  try {
    r = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new DeviceError(label(run.device), step, `the harness wrote no readable result (${path})`);
  }
  const ok = Number.isFinite(r?.load_ms) && Number.isFinite(r?.first_run_ms) && Array.isArray(r?.samples_ms) && r.samples_ms.length > 0 && r.samples_ms.every(Number.isFinite);
  if (!ok) throw new DeviceError(label(run.device), step, 'the harness result lacks load_ms, first_run_ms or samples_ms');
  return r;
}

function steps(run: Run, step: string) {
  return { device: label(run.device), step, timeoutSeconds: run.timeoutSeconds, install: XCODE_INSTALL };
}
