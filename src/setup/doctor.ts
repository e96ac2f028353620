/** `eformer doctor`: every external piece eformer can use, found or missing, with how to install it. */
import { backends } from '../backends/index.js';
import type { Probe } from '../core/probe.js';
import { probeBridge, pythonCandidates } from '../coreml/python.js';
import { probeLitert } from '../tflite/litert.js';

export type { Probe };

export async function doctor(): Promise<Probe[]> {
  const probes = await probeBridge();
  probes.push(await probeLitert(pythonCandidates()));
  for (const backend of backends) probes.push(...(await backend.probe()));
  // Backends that share a tool (adb for both Android backends) list it once.
  return probes.filter((p, i) => probes.findIndex((q) => q.name === p.name) === i);
}
