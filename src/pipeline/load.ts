/**
 * Strictly match a checkpoint to a built graph: every parameter present with its exact shape,
 * nothing left over. All problems are gathered and reported together, by name and shape.
 */
import { type Graph, numel, shapeString } from '../graph/ir.js';
import type { ModelEntry } from '../models/family.js';
import { zoo } from '../models/index.js';
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
    const other = otherFamilyOf([...raw.keys()], entry);
    if (other) {
      throw new CheckpointError(`checkpoint holds ${other.family} weights (${other.matched} of its ${other.of} parameter names are ${other.family}'s), not ${entry.family.id} ones: use one of ${other.models}`);
    }
    throw new CheckpointError(`checkpoint (${naming} naming) does not match ${modelName}: ${parts.join('; ')}`);
  }
  return { naming, tensors: used.size };
}

/** A parameter name with its block indices blanked, so variants of one family share names. */
const pattern = (key: string) => key.replace(/(^|\.)\d+(?=\.|$)/g, '$1#');

/**
 * The family a checkpoint that failed to load really belongs to, when another family's models
 * (in any naming that family accepts) account for all its parameter names and the requested
 * family's do not: a MobileViG checkpoint given to an EfficientFormer is then named as such,
 * rather than listed as hundreds of missing keys.
 */
function otherFamilyOf(keys: string[], requested: ModelEntry): { family: string; matched: number; of: number; models: string } | undefined {
  const coverage = (familyId: string) => {
    const entries = zoo.filter((m) => m.family.id === familyId);
    if (!entries.length) return 0;
    const family = entries[0].family;
    const naming = family.namings.find((n) => n.detect(keys));
    const renamed = naming ? keys.map(naming.renamer(keys)) : keys;
    const known = new Set(entries.flatMap((m) => [...m.family.build(m.config, { resolution: m.family.defaultResolution, name: m.name }).params.keys()].map(pattern)));
    return renamed.filter((k) => known.has(pattern(k))).length;
  };
  const own = requested.family.id;
  const ownCoverage = zoo.some((m) => m.family.id === own) ? coverage(own) : 0;
  let best: { family: string; matched: number } | undefined;
  for (const id of new Set(zoo.map((m) => m.family.id))) {
    if (id === own) continue;
    const matched = coverage(id);
    if (matched > ownCoverage && matched >= 0.98 * keys.length && (!best || matched > best.matched)) best = { family: id, matched };
  }
  if (!best) return undefined;
  const models = zoo.filter((m) => m.family.id === best!.family).map((m) => m.name);
  return { ...best, of: keys.length, models: models.length > 4 ? `${models.slice(0, 4).join(', ')}, ...` : models.join(', ') };
}
