/** The backends eformer knows. A new backend is one file here and one line in this list. */
import { UsageError } from '../../errors.js';
import type { Backend } from '../backend.js';
import { coreml } from './coreml.js';
import { ortAndroid } from './ort-android.js';
import { ortCpu } from './ort-cpu.js';
import { ortWeb } from './ort-web.js';

export const backends: readonly Backend[] = [ortCpu, ortWeb, coreml, ortAndroid];

export function findBackend(id: string): Backend {
  const found = backends.find((b) => b.id === id);
  if (!found) throw new UsageError(`unknown backend '${id}'; available: ${backends.map((b) => b.id).join(', ')}`);
  return found;
}
