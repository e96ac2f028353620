/** The model registry: one line per family. Every named model is looked up here. */
import { basename, dirname, resolve } from 'node:path';
import { UsageError } from '../core/errors.js';
import { readInputText } from '../core/fs.js';
import { efficientFormer, efficientFormerZoo } from './efficientformer/index.js';
import { efficientFormerV2, efficientFormerV2Zoo } from './efficientformerv2/index.js';
import { efficientMod, efficientModZoo } from './efficientmod/index.js';
import { entry, type ModelEntry, type ModelFamily } from './family.js';
import { fcaFormer, fcaFormerZoo } from './fcaformer/index.js';
import { mobileNetV2, mobileNetV2Zoo } from './mobilenetv2/index.js';
import { mobileViG, mobileViGZoo } from './mobilevig/index.js';
import { nextVit, nextVitZoo } from './nextvit/index.js';
import { vcmamba, vcmambaZoo } from './vcmamba/index.js';

/**
 * One line per family. `papers` marks the EfficientFormer papers' own comparison (V1, V2 and
 * their MobileNetV2 baselines): the models `eformer profile` measures when none are named.
 */
const registry: { family: ModelFamily<any>; zoo: readonly ModelEntry[]; papers?: true }[] = [
  { family: efficientFormer, zoo: efficientFormerZoo, papers: true },
  { family: efficientFormerV2, zoo: efficientFormerV2Zoo, papers: true },
  { family: mobileNetV2, zoo: mobileNetV2Zoo, papers: true },
  // The successors, in the order their papers appeared.
  { family: mobileViG, zoo: mobileViGZoo },
  { family: nextVit, zoo: nextVitZoo },
  { family: efficientMod, zoo: efficientModZoo },
  { family: fcaFormer, zoo: fcaFormerZoo },
  { family: vcmamba, zoo: vcmambaZoo },
];

export const families: readonly ModelFamily<unknown>[] = registry.map((r) => r.family);

export const zoo: readonly ModelEntry[] = registry.flatMap((r) => r.zoo);

/** Every model of every family. */
export function modelNames(): string[] {
  return zoo.map((m) => m.name);
}

/** The EfficientFormer papers' zoo: the default of `eformer profile` and `eformer count`. */
export function papersZooNames(): string[] {
  return registry.filter((r) => r.papers).flatMap((r) => r.zoo.map((m) => m.name));
}

/** `all`, a family id (all its variants) or a model name, as the model names they stand for. */
export function expandModelName(name: string): string[] {
  if (name === 'all') return modelNames();
  const family = registry.find((r) => r.family.id === name);
  return family ? family.zoo.map((m) => m.name) : [name];
}

export function findModel(name: string): ModelEntry {
  const found = zoo.find((m) => m.name === name);
  if (found) return found;
  // Point at the family the name was probably meant for rather than listing thirty names.
  const near = registry.filter((r) => name.toLowerCase().startsWith(r.family.id)).sort((a, b) => b.family.id.length - a.family.id.length)[0];
  const hint = near
    ? `${near.family.id} has ${near.zoo.map((m) => m.name).join(', ')}`
    : `families: ${families.map((f) => f.id).join(', ')} (a family name picks all its models)`;
  throw new UsageError(`unknown model '${name}'; ${hint}; \`eformer models\` lists them all`);
}

/** A Hugging Face `config.json` as a model entry, built by the family that reads its `model_type`. */
export function entryFromHfConfig(path: string): ModelEntry {
  const text = readInputText(path, '--hf-config Hugging Face config');
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new UsageError(`cannot read Hugging Face config '${path}': not valid JSON`);
  }
  const family = families.find((f) => f.hfConfig?.modelTypes.includes(String(raw.model_type)));
  if (!family?.hfConfig) {
    const readable = families.flatMap((f) => f.hfConfig?.modelTypes ?? []).map((t) => `'${t}'`);
    throw new UsageError(`${path}: model_type is '${raw.model_type}', eformer reads ${readable.join(', ')} configs`);
  }
  const config = family.hfConfig.read(raw, path);
  // Named after the folder that holds the config (a Hugging Face checkpoint folder), never '.' or '..'.
  const folder = basename(dirname(resolve(path))).replace(/[^A-Za-z0-9_.-]/g, '_');
  const name = folder && !/^\.+$/.test(folder) ? folder : `${family.id}_hf`;
  checkNameFree(name, family, config, path, 'rename its folder');
  return entry({ name, family, config, labels: labelsOf(raw.id2label) });
}

/** The schema of a model config file (`--config`), as `eformer search` writes them. */
export const CONFIG_SCHEMA = 'eformer.config/1';

/**
 * A model config file (`--config FILE`): `{"schema": "eformer.config/1", "family": ..., "name"?: ...,
 * "resolution"?: ..., "config": {the family's config fields}}`, every field checked by the family.
 */
export function entryFromConfigFile(path: string): ModelEntry {
  const text = readInputText(path, '--config model config');
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new UsageError(`cannot read model config '${path}': not valid JSON`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new UsageError(`${path}: a model config is a JSON object`);
  if (raw.schema !== undefined && raw.schema !== CONFIG_SCHEMA) throw new UsageError(`${path}: schema is '${raw.schema}', eformer reads ${CONFIG_SCHEMA}`);
  const family = families.find((f) => f.id === raw.family);
  if (!family) throw new UsageError(`${path}: family must be one of ${families.map((f) => f.id).join(', ')}, got ${JSON.stringify(raw.family)}`);
  const extra = Object.keys(raw).filter((k) => !['schema', 'family', 'name', 'resolution', 'config'].includes(k));
  if (extra.length) throw new UsageError(`${path}: unknown field '${extra[0]}' (fields: schema, family, name, resolution, config)`);
  if (!raw.config || typeof raw.config !== 'object' || Array.isArray(raw.config)) throw new UsageError(`${path}: 'config' must be an object of ${family.id} config fields`);
  if (raw.resolution !== undefined && !Number.isInteger(raw.resolution)) throw new UsageError(`${path}: resolution must be an integer`);
  if (raw.name !== undefined && (typeof raw.name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(raw.name))) throw new UsageError(`${path}: name must be letters, digits, '_', '.' or '-'`);
  const name = (raw.name as string | undefined) ?? basename(path).replace(/\.json$/, '').replace(/[^A-Za-z0-9_.-]/g, '_');
  let config: unknown;
  try {
    config = family.config(raw.config as Record<string, unknown>, path);
  } catch (err) {
    // The family's cross-field checks do not know the file: name it.
    if (err instanceof UsageError && !err.message.startsWith(path)) throw new UsageError(`${path}: ${err.message}`);
    throw err;
  }
  checkNameFree(name, family, config, path, raw.name !== undefined ? "change its 'name'" : "give it a 'name'");
  return entry({ name, family, config, resolution: raw.resolution as number | undefined });
}

/** JSON with keys sorted, so two configs compare by content whatever order their fields came in. */
const canonical = (v: unknown): string =>
  JSON.stringify(v, (_, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x));

/**
 * A model from a file may not take a zoo model's name unless it is that model: reports would print
 * the zoo model's paper figures beside it, and results files, merges and the gate, which key every
 * measurement by name, would take one network for the other.
 */
function checkNameFree(name: string, family: ModelFamily<unknown>, config: unknown, path: string, fix: string): void {
  const same = zoo.find((m) => m.name === name);
  if (!same || (same.family === family && canonical(same.config) === canonical(config))) return;
  throw new UsageError(`${path}: the name '${name}' belongs to a zoo model with another ${same.family === family ? 'configuration' : 'family'}; ${fix}`);
}

/** `id2label` ({"0": "tench", ...}) as names by index, when it names every index from 0. */
function labelsOf(id2label: unknown): string[] | undefined {
  if (!id2label || typeof id2label !== 'object') return undefined;
  const entries = Object.entries(id2label as Record<string, unknown>);
  const labels: string[] = [];
  for (const [key, value] of entries) {
    const i = Number(key);
    if (!Number.isInteger(i) || i < 0 || i >= entries.length || typeof value !== 'string') return undefined;
    labels[i] = value;
  }
  return labels.length === entries.length ? labels : undefined;
}

export * from './family.js';
export { efficientFormer, efficientFormerConfig, type EfficientFormerConfig } from './efficientformer/index.js';
export { efficientFormerV2, efficientFormerV2Config, type EfficientFormerV2Config } from './efficientformerv2/index.js';
export { mobileNetV2, mobileNetV2Config, type MobileNetV2Config } from './mobilenetv2/index.js';
export { fcaFormer, fcaFormerConfig, type FcaFormerConfig } from './fcaformer/index.js';
export { nextVit, nextVitConfig, type NextVitConfig } from './nextvit/index.js';
export { mobileViG, mobileViGConfig, type MobileViGConfig } from './mobilevig/index.js';
export { vcmamba, vcmambaConfig, type VCMambaConfig, type ScanLowering } from './vcmamba/index.js';
export { efficientMod, efficientModConfig, type EfficientModConfig } from './efficientmod/index.js';
