/** The environment recorded with every result: enough to tell two machines apart. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { arch, cpus, release, type as osType } from 'node:os';
import { VERSION } from '../core/version.js';
import type { Environment } from './results.js';

function gitCommit(): string | undefined {
  if (process.env.GITHUB_SHA) return process.env.GITHUB_SHA;
  try {
    // Bounded: a git that hangs (a hook, a network file system) must not hold the results back.
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000, killSignal: 'SIGKILL' }).trim();
    return /^[0-9a-f]{7,64}$/.test(commit) ? commit : undefined;
  } catch {
    return undefined;
  }
}

/** The integer dot-product instructions int8 kernels run on, by their /proc/cpuinfo flag. */
const INT8_FLAGS: [flag: string, name: string][] = [
  ['avx512_vnni', 'AVX-512 VNNI'],
  ['avx_vnni', 'AVX-VNNI'],
  ['amx_int8', 'AMX-INT8'],
  ['asimddp', 'Arm dot product'],
  ['i8mm', 'Arm I8MM'],
];

/**
 * Which of those the CPU has ([] for none), from the text of /proc/cpuinfo; undefined where there is
 * no such file (macOS, Windows). Whether int8 beats float on a CPU depends on them first of all.
 */
export function cpuInt8Instructions(cpuinfo?: string): string[] | undefined {
  let text = cpuinfo;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      return undefined;
    }
  }
  // x86 lists "flags", ARM "Features"; the first CPU's line speaks for all.
  const flags = new Set((text.match(/^(?:flags|Features)\s*:(.*)$/m)?.[1] ?? '').trim().split(/\s+/));
  return INT8_FLAGS.filter(([flag]) => flags.has(flag)).map(([, name]) => name);
}

export function captureEnvironment(extra: Record<string, string> = {}): Environment {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    cpu_int8: cpuInt8Instructions(),
    os: `${osType()} ${release()} ${arch()}`,
    node: process.version,
    eformer: VERSION,
    git_commit: gitCommit(),
    created: new Date().toISOString(),
    ...extra,
  };
}
