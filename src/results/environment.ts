/** The environment recorded with every result: enough to tell two machines apart. */
import { execFileSync } from 'node:child_process';
import { arch, cpus, release, type as osType } from 'node:os';
import { VERSION } from '../core/version.js';
import type { Environment } from './results.js';

function gitCommit(): string | undefined {
  if (process.env.GITHUB_SHA) return process.env.GITHUB_SHA;
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || undefined;
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
