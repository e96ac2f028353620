import type { Command } from 'commander';
import { listDevices } from '../../backends/index.js';
import { MissingToolError } from '../../core/errors.js';
import { renderTable, wrapText } from '../../core/table.js';
import { positiveSeconds } from '../flags.js';

export function register(program: Command): void {
  program
    .command('devices')
    .description('list connected iPhones, iPads and Macs (xcrun xctrace) and Android devices (adb) to profile on with `eformer profile --device`')
    .option('--json', 'print JSON')
    .option('--timeout <s>', 'seconds each listing tool may take (default 60)', positiveSeconds('--timeout'))
    .action(async (opts: { json?: boolean; timeout?: number }) => {
      const listings = await listDevices(opts.timeout);
      if (opts.json) console.log(JSON.stringify(listings, null, 2));
      else {
        const rows = listings.flatMap((l) => l.devices.map((d) => [l.platform, d.id, d.name, d.kind, d.os ?? '-', d.state]));
        // The id is what --device takes, so it never wraps; a long name or state does.
        console.log(rows.length ? `${renderTable(['platform', 'id', 'name', 'kind', 'os', 'state'], rows, { wrap: [2, 5] })}\n${wrapText('give the id (or the name) to `eformer profile --device`')}` : 'no devices connected');
        for (const l of listings) if (l.problem && !l.failed) console.log(wrapText(`${l.platform}: ${l.problem}`));
      }
      // A tool that is there but crashed, hung or printed what eformer cannot read fails the
      // command (exit 3), whatever the other platform said; a missing tool only when both are.
      const failed = listings.find((l) => l.failed);
      if (failed) throw new MissingToolError(`cannot list ${failed.platform} devices: ${failed.problem}`);
      if (listings.every((l) => l.problem)) throw new MissingToolError(`no device can be listed: ${listings.map((l) => l.problem).join('; ')}`);
    });
}
