/**
 * Fake adb / xcrun / xcodebuild on PATH, replaying a transcript from fixtures/transcripts/.
 * See test/fakes/fake-tool.mjs for the transcript format.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { execa } from 'execa';
import { expect } from 'vitest';
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

/** One `eformer: ` line with every part in it, and no stack trace. */
export function expectOneLine(stderr: string, ...parts: string[]) {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^eformer: /);
  expect(stderr).not.toMatch(/internal error|^\s+at /m);
  for (const part of parts) expect(lines[0]).toContain(part);
}

export function expectTranscriptPlayed(fakes: Fakes) {
  expect(fakes.mismatches()).toEqual([]);
  expect(fakes.used()).toBe(fakes.total);
}

/**
 * Every work folder made on an Android device is used only until it is removed, and is removed:
 * returns how many there were.
 */
export function expectWorkFoldersRemoved(calls: string[][]): number {
  let current: string | undefined;
  let folders = 0;
  for (const call of calls) {
    const command = call.at(-1) ?? '';
    const made = /^mkdir -p (\S+)$/.exec(command)?.[1];
    if (made) {
      expect(current, 'a folder made before the last was removed').toBeUndefined();
      current = made;
      folders++;
      continue;
    }
    for (const arg of call) for (const used of arg.match(/\/data\/local\/tmp\/eformer-[^/\s]+/g) ?? []) expect(used).toBe(current);
    if (/^rm -rf /.test(command)) current = undefined;
  }
  expect(current, 'the last work folder was not removed').toBeUndefined();
  return folders;
}
