import type { Command } from 'commander';
import Table from 'cli-table3';
import { listDevices } from '../../devices/index.js';
import { MissingToolError } from '../../errors.js';
import { plain } from '../../report/format.js';

export function register(program: Command): void {
  program
    .command('devices')
    .description('list connected iPhones, iPads and Macs (xcrun xctrace) and Android devices (adb) to profile on with --device')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const listings = await listDevices();
      if (opts.json) console.log(JSON.stringify(listings, null, 2));
      else {
        const table = new Table({ ...plain, head: ['platform', 'id (--device)', 'name', 'kind', 'os', 'state'] });
        for (const l of listings) for (const d of l.devices) table.push([l.platform, d.id, d.name, d.kind, d.os ?? '-', d.state]);
        if (listings.some((l) => l.devices.length)) console.log(table.toString());
        else console.log('no devices connected');
        for (const l of listings) if (l.problem) console.log(`${l.platform}: ${l.problem}`);
      }
      // Exit 3 only when no platform's tool could even be asked.
      if (listings.every((l) => l.problem)) throw new MissingToolError('neither xcrun nor adb is available, so no device can be listed');
    });
}
