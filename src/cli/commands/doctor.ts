import type { Command } from 'commander';
import Table from 'cli-table3';
import { existsSync } from 'node:fs';
import { execa } from 'execa';
import ort from 'onnxruntime-node';
import { BRIDGE, pythonCandidates } from '../../export/python.js';
import { plain } from '../../report/format.js';

interface Piece {
  name: string;
  found: string | undefined;
  install: string;
}

async function run(cmd: string, args: string[]): Promise<string | undefined> {
  const r = await execa(cmd, args, { reject: false, timeout: 20_000 });
  return r.exitCode === 0 ? `${r.stdout || r.stderr}`.trim().split('\n')[0] : undefined;
}

/** Every external piece eformer can use, found or not, with the command that installs it. */
export async function doctor(): Promise<Piece[]> {
  const pythons = pythonCandidates();
  let python: { path: string; source: string } | undefined;
  let version: string | undefined;
  for (const p of pythons) {
    version = await run(p.path, ['--version']);
    if (version) {
      python = p;
      break;
    }
  }
  const coremltools = python ? await run(python.path, ['-c', 'import coremltools, onnx; print(coremltools.__version__)']) : undefined;
  return [
    { name: 'python', found: python && `${version} (${python.source})`, install: 'apt-get install -y python3 python3-venv' },
    { name: 'coremltools (+ onnx)', found: coremltools && `${coremltools.split('\n').at(-1)} via ${python!.path}`, install: 'eformer setup coreml' },
    { name: 'Core ML bridge', found: BRIDGE, install: '(ships with eformer)' },
    { name: 'onnxruntime-node', found: `${ort.env.versions.node} (${ort.listSupportedBackends().filter((b) => b.bundled).map((b) => b.name).join(', ')})`, install: 'npm ci' },
    { name: 'xcrun', found: await run('xcrun', ['--version']), install: 'macOS only: xcode-select --install' },
    { name: 'xcodebuild', found: await run('xcodebuild', ['-version']), install: 'macOS only: install Xcode from the App Store' },
    { name: 'adb', found: await run('adb', ['version']), install: 'apt-get install -y adb' },
    {
      name: 'onnxruntime_perf_test (Android)',
      found: process.env.EFORMER_PERF_TEST && existsSync(process.env.EFORMER_PERF_TEST) ? process.env.EFORMER_PERF_TEST : undefined,
      install: "build it for the phone with onnxruntime's build.sh --android, then set EFORMER_PERF_TEST or pass --perf-test",
    },
    { name: 'chromium', found: await run(process.env.CHROMIUM_PATH ?? 'chromium', ['--version']), install: 'apt-get install -y chromium' },
  ];
}

export function register(program: Command): void {
  program
    .command('doctor')
    .description('list every external piece eformer can use: found or missing, and how to install it')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const pieces = await doctor();
      if (opts.json) return console.log(JSON.stringify(pieces, null, 2));
      const table = new Table({ ...plain, head: ['piece', 'status', 'to install'] });
      for (const p of pieces) table.push([p.name, p.found ? `found: ${p.found}` : 'MISSING', p.found ? '' : p.install]);
      console.log(table.toString());
    });
}
