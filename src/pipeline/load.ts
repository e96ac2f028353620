/**
 * Strictly match a checkpoint to a built graph: every parameter present with its exact shape,
 * nothing left over. All problems are gathered and reported together, by name and shape.
 */
import { type Graph, numel, shapeString } from '../graph/ir.js';
import type { ModelEntry } from '../models/family.js';
import { CheckpointError } from '../weights/errors.js';
import { type StateDict, toFloat32 } from '../weights/tensor.js';

export interface LoadReport {
  /** `original` (the family's own parameter names) or the id of the naming that was detected. */
  naming: string;
  tensors: number;
}

/** The state_dict renamed to the family's own names, and which naming it came in. */
function toFamilyNames(sd: StateDict, entry: ModelEntry): { naming: string; stateDict: StateDict } {
  const keys = [...sd.keys()];
  const naming = entry.family.namings.find((n) => n.detect(keys));
  if (!naming) return { naming: 'original', stateDict: sd };
  const rename = naming.renamer(keys);
  return { naming: naming.id, stateDict: new Map([...sd].map(([k, v]) => [rename(k), v])) };
}

function list(items: string[], limit = 6): string {
  return items.length <= limit ? items.join(', ') : `${items.slice(0, limit).join(', ')} and ${items.length - limit} more`;
}

export function loadStateDict(graph: Graph, raw: StateDict, entry: ModelEntry): LoadReport {
  const modelName = entry.name;
  const { naming, stateDict } = toFamilyNames(raw, entry);
  const missing: string[] = [];
  const mismatched: string[] = [];
  const used = new Set<string>();
  for (const p of graph.params.values()) {
    const t = stateDict.get(p.name);
    // Buffers that follow from the architecture; a checkpoint may omit them (timm does).
    const derived = p.role === 'attention_bias_idxs' || p.role === 'bn_num_batches_tracked' || p.role === 'constant';
    if (!t) {
      if (!derived) missing.push(`${p.name} ${shapeString(p.shape)}`);
      continue;
    }
    used.add(p.name);
    // timm stores V2 layer scales as [C] where the original has [C, 1, 1]: same numbers.
    const sameShape = shapeString(t.shape) === shapeString(p.shape) || (p.role === 'layer_scale' && numel(t.shape) === numel(p.shape));
    if (!sameShape) {
      mismatched.push(`${p.name}: checkpoint ${shapeString(t.shape)}, model ${shapeString(p.shape)}`);
      continue;
    }
    if (p.dtype === 'int64') {
      if (p.role === 'attention_bias_idxs' && p.data && t.data instanceof BigInt64Array && !t.data.every((v, i) => v === (p.data as BigInt64Array)[i])) {
        mismatched.push(`${p.name}: bias indices differ from this architecture's`);
      }
      continue; // the derived values stay
    }
    p.data = toFloat32(t);
  }
  const unexpected = [...stateDict.keys()].filter((k) => !used.has(k)).map((k) => `${k} ${shapeString(stateDict.get(k)!.shape)}`);
  if (missing.length || unexpected.length || mismatched.length) {
    const parts = [
      missing.length ? `${missing.length} missing (${list(missing)})` : '',
      unexpected.length ? `${unexpected.length} unexpected (${list(unexpected)})` : '',
      mismatched.length ? `${mismatched.length} with the wrong shape (${list(mismatched)})` : '',
    ].filter(Boolean);
    throw new CheckpointError(`checkpoint (${naming} naming) does not match ${modelName}: ${parts.join('; ')}`);
  }
  return { naming, tensors: used.size };
}
