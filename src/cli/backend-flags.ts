/** Flags of the commands that run backends: where a device backend runs, and every backend's own options. */
import { type Command, Option } from 'commander';
import { backendOptions } from '../backends/index.js';
import { positiveSeconds } from './flags.js';

/** Flags of the device backends (where to run, how long a step may take) and every backend's own options. */
export function addBackendFlags(cmd: Command): Command {
  cmd
    .option('--device <id>', 'device backends: the adb serial, or the UDID or name of the iPhone, iPad or Mac (see `eformer devices`)')
    .option('--timeout <s>', 'seconds any one step may take: on the device (device backends, default 600), or in Chromium (ort-web: 60 to start it, 30 for a page, 300 to load a model, 120 an inference)', positiveSeconds('--timeout'));
  for (const { option, owners } of backendOptions()) {
    const o = new Option(option.flags, `${owners.join(', ')}: ${option.description}`);
    cmd.addOption(option.choices ? o.choices(option.choices) : o);
  }
  return cmd;
}

/** The values of every backend's own options that were given, by key. */
export function backendOptionValues(opts: Record<string, unknown>): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const { option } of backendOptions()) if (opts[option.key] !== undefined) values[option.key] = opts[option.key];
  return values;
}
