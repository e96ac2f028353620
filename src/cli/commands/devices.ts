import type { Command } from 'commander';
import { listDevices } from '../../backends/index.js';
import { MissingToolError } from '../../core/errors.js';
import { renderTable, wrapText } from '../../core/table.js';

export function register(program: Command): void {
  program
    .command('devices')
    .description('list connected iPhones, iPads and Macs (xcrun xctrace) and Android devices (adb) to profile on with `eformer profile --device`')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const listings = await listDevices();
      if (opts.json) console.log(JSON.stringify(listings, null, 2));
      else {
        const rows = listings.flatMap((l) => l.devices.map((d) => [l.platform, d.id, d.name, d.kind, d.os ?? '-', d.state]));
        // The id is what --device takes, so it never wraps; a long name or state does.
        console.log(rows.length ? `${renderTable(['platform', 'id', 'name', 'kind', 'os', 'state'], rows, { wrap: [2, 5] })}\n${wrapText('give the id (or the name) to `eformer profile --device`')}` : 'no devices connected');
        for (const l of listings) if (l.problem) console.log(wrapText(`${l.platform}: ${l.problem}`));
      }
      // Exit 3 only when no platform's tool could even be asked.
      if (listings.every((l) => l.problem)) throw new MissingToolError('neither xcrun nor adb is available, so no device can be listed');
    });
}
