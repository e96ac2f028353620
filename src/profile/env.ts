/** The environment recorded with every result: enough to tell two machines apart. */
import { cpus, release, type as osType, arch } from 'node:os';
import { execaSync } from 'execa';
import type { Environment } from '../report/results.js';
import { VERSION } from '../version.js';

function gitCommit(): string | undefined {
  if (process.env.GITHUB_SHA) return process.env.GITHUB_SHA;
  try {
    return execaSync('git', ['rev-parse', 'HEAD'], { reject: true, stderr: 'ignore' }).stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

export function captureEnvironment(extra: Record<string, string> = {}): Environment {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    os: `${osType()} ${release()} ${arch()}`,
    node: process.version,
    eformer: VERSION,
    git_commit: gitCommit(),
    created: new Date().toISOString(),
    ...extra,
  };
}
