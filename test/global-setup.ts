/**
 * The CLI tests run the built CLI (dist/): build it first, so `npx vitest` never tests stale code.
 * One tsc run before any test file; a type error fails the run here.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export default function setup(): void {
  const root = new URL('..', import.meta.url).pathname;
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
}
