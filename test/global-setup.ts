/**
 * The CLI tests run the built CLI (dist/): build it first when any source is newer than the
 * build, so `npx vitest` never tests stale code. A type error fails the run here.
 * Tests' scratch folders (helpers.ts, tempDir) go under one folder made here and removed when the
 * run ends, so a run leaves nothing in the system's temporary folder.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function newest(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((t, e) => Math.max(t, e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs), 0);
}

export default function setup(): () => void {
  const scratch = mkdtempSync(join(tmpdir(), 'eformer-tests-'));
  // Test workers are started after this and inherit the environment.
  process.env.EFORMER_TEST_SCRATCH = scratch;
  // Tests that load onnxruntime-node themselves: its telemetry would leave /tmp/mat-debug-<pid>.log (eformer turns it off itself).
  process.env.ORT_DISABLE_TELEMETRY ??= '1';
  const teardown = () => rmSync(scratch, { recursive: true, force: true });
  const root = new URL('..', import.meta.url).pathname;
  const built = join(root, 'dist/cli/main.js');
  if (!existsSync(built) || statSync(built).mtimeMs < newest(join(root, 'src'))) {
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
  }
  return teardown;
}
