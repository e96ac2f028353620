#!/usr/bin/env node
// The eformer command. It runs the compiled CLI in dist/; a checkout installed with `npm ci`
// (where .npmrc's ignore-scripts keeps npm from running any package's install scripts, so that
// onnxruntime-node never tries to download GPU binaries) builds dist/ here on first use.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('..', import.meta.url);
const entry = new URL('dist/cli/main.js', root);
if (!existsSync(entry)) {
  const tsc = fileURLToPath(new URL('node_modules/typescript/bin/tsc', root));
  if (!existsSync(tsc)) {
    process.stderr.write('eformer: dist/ is missing and TypeScript is not installed to build it: run `npm ci` in the eformer folder\n');
    process.exit(70);
  }
  execFileSync(process.execPath, [tsc, '-p', fileURLToPath(new URL('tsconfig.json', root))], { stdio: 'inherit' });
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv);
