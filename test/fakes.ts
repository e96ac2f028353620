/**
 * Fake adb / xcrun / xcodebuild on PATH, replaying a transcript from fixtures/transcripts/.
 * See test/fakes/fake-tool.mjs for the transcript format.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { execa } from 'execa';
import { root, tempDir } from './helpers.js';

export const FAKE_TOOL = join(root, 'test/fakes/fake-tool.mjs');

export interface Fakes {
  env: Record<string, string>;
  /** Every call the fakes received, as [tool, ...args]. */
  calls(): string[][];
  /** Calls that did not match the transcript (empty when the driver behaved). */
  mismatches(): string[];
  /** How many of the transcript's calls were made. */
  used(): number;
  total: number;
}

/** Put fakes for `tools` first on PATH, replaying fixtures/transcripts/<name>.json (or a transcript at an absolute path). */
export function fakeTools(name: string, tools: string[]): Fakes {
  const dir = tempDir('eformer-fakes-');
  const bin = join(dir, 'bin');
  const state = join(dir, 'state');
  mkdirSync(bin);
  mkdirSync(state);
  for (const tool of tools) {
    const link = join(bin, tool);
    writeFileSync(link, `#!/bin/sh\nexec "${process.execPath}" "${FAKE_TOOL}" ${tool} "$@"\n`);
    chmodSync(link, 0o755);
  }
  const transcript = isAbsolute(name) ? name : join(root, 'fixtures/transcripts', `${name}.json`);
  const total = JSON.parse(readFileSync(transcript, 'utf8')).calls.length;
  const lines = (f: string) => (existsSync(join(state, f)) ? readFileSync(join(state, f), 'utf8').split('\n').filter(Boolean) : []);
  return {
    env: { PATH: `${bin}:${process.env.PATH}`, EFORMER_FAKE_TRANSCRIPT: transcript, EFORMER_FAKE_STATE: state },
    calls: () => lines('calls.log').map((l) => JSON.parse(l)),
    mismatches: () => lines('mismatch.log'),
    used: () => (existsSync(join(state, 'next')) ? Number(readFileSync(join(state, 'next'), 'utf8')) : 0),
    total,
  };
}

/** Run the built CLI with extra environment; never throws. */
export async function cliWith(env: Record<string, string>, ...args: string[]) {
  const r = await execa(process.execPath, [join(root, 'bin/eformer.js'), ...args], { reject: false, cwd: root, env });
  return { code: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
}
