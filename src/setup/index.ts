/** `eformer setup FEATURE`: install what an optional feature needs. */
import { UsageError } from '../core/errors.js';
import { installRequirements, setupCoreml, type Wait } from '../coreml/setup.js';
import { LITERT_REQUIREMENTS } from '../tflite/litert.js';

export type { Wait };

/** Features that have a set-up step, with what it does. */
export const features: Record<string, { description: string; run: (log: (line: string) => void, wait?: Wait) => Promise<unknown> }> = {
  coreml: { description: "makes .eformer/venv with the Core ML bridge's pinned coremltools", run: (log, wait) => setupCoreml(undefined, log, wait) },
  litert: {
    description: "adds LiteRT's interpreter (the pinned ai-edge-litert) to .eformer/venv, for `eformer export --tflite --verify` and `eformer profile -b litert`",
    run: (log, wait) => installRequirements({ file: LITERT_REQUIREMENTS, what: 'ai-edge-litert and its dependencies: under a minute', forWhom: "LiteRT's interpreter" }, undefined, log, wait),
  },
};

export async function setup(feature: string, log: (line: string) => void, wait?: Wait): Promise<void> {
  const f = features[feature];
  if (!f) throw new UsageError(`unknown feature '${feature}'; available: ${Object.keys(features).join(', ')}`);
  await f.run(log, wait);
}

export { doctor, type Probe } from './doctor.js';
