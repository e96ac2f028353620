/** `eformer setup FEATURE`: install what an optional feature needs. */
import { UsageError } from '../core/errors.js';
import { setupCoreml } from '../coreml/setup.js';

/** Features that have a set-up step, with what it does. */
export const features: Record<string, { description: string; run: (log: (line: string) => void) => Promise<unknown> }> = {
  coreml: { description: "makes .eformer/venv with the Core ML bridge's pinned coremltools", run: (log) => setupCoreml(undefined, log) },
};

export async function setup(feature: string, log: (line: string) => void): Promise<void> {
  const f = features[feature];
  if (!f) throw new UsageError(`unknown feature '${feature}'; available: ${Object.keys(features).join(', ')}`);
  await f.run(log);
}

export { doctor, type Probe } from './doctor.js';
