// Start-up cost of the CLI against a bare `node -e 0`, measured side by side in one run:
// each round runs the three commands once, in rotating order, so drift hits them alike.
//   npm run bench:startup [-- --rounds 30]
// Goals (issue 11): `eformer --version` within 2x and `eformer count -m efficientformerv2_s0
// --json` within 3x of `node -e 0`.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from '../dist/index.js';

const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '30' } } });
const rounds = Number(args.rounds);
const cli = fileURLToPath(new URL('../bin/eformer.js', import.meta.url));
const commands = {
  'node -e 0': ['-e', '0'],
  'eformer --version': [cli, '--version'],
  'eformer count -m efficientformerv2_s0 --json': [cli, 'count', '-m', 'efficientformerv2_s0', '--json'],
};
const names = Object.keys(commands);
const times = Object.fromEntries(names.map((n) => [n, []]));
for (let round = 0; round < rounds; round++) {
  for (let k = 0; k < names.length; k++) {
    const name = names[(round + k) % names.length];
    const start = performance.now();
    execFileSync(process.execPath, commands[name], { stdio: ['ignore', 'pipe', 'inherit'] });
    times[name].push(performance.now() - start);
  }
}
const base = median(times['node -e 0']);
for (const name of names) {
  const m = median(times[name]);
  console.log(`${name.padEnd(46)} median ${m.toFixed(1).padStart(6)} ms  ${(m / base).toFixed(2)}x node -e 0`);
}
