import type { Command } from 'commander';
import { features, setup } from '../../setup/index.js';
import { withTicker } from '../progress.js';

export function register(program: Command): void {
  program
    .command('setup')
    .description(`install what an optional feature needs: ${Object.entries(features).map(([name, f]) => `\`setup ${name}\` ${f.description}`).join('; ')}`)
    .argument('<feature>', Object.keys(features).join(', '))
    .action(async (feature: string) => {
      await setup(feature, console.log, (label, work) => withTicker(label, work));
    });
}
