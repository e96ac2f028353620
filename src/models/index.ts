/** The model registry: one line per family. Every named model is looked up here. */
import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { UsageError } from '../core/errors.js';
import { efficientFormer, efficientFormerZoo } from './efficientformer/index.js';
import { efficientFormerV2, efficientFormerV2Zoo } from './efficientformerv2/index.js';
import { efficientMod, efficientModZoo } from './efficientmod/index.js';
import { entry, type ModelEntry, type ModelFamily } from './family.js';
import { mobileNetV2, mobileNetV2Zoo } from './mobilenetv2/index.js';

/**
 * One line per family. `papers` marks the EfficientFormer papers' own comparison (V1, V2 and
 * their MobileNetV2 baselines): the models `eformer profile` measures when none are named.
 */
const registry: { family: ModelFamily<any>; zoo: readonly ModelEntry[]; papers?: true }[] = [
  { family: efficientFormer, zoo: efficientFormerZoo, papers: true },
  { family: efficientFormerV2, zoo: efficientFormerV2Zoo, papers: true },
  { family: mobileNetV2, zoo: mobileNetV2Zoo, papers: true },
  { family: efficientMod, zoo: efficientModZoo },
];

export const families: readonly ModelFamily<unknown>[] = registry.map((r) => r.family);

export const zoo: readonly ModelEntry[] = registry.flatMap((r) => r.zoo);

/** Every model of every family. */
export function modelNames(): string[] {
  return zoo.map((m) => m.name);
}

/** The EfficientFormer papers' zoo: the default of `eformer profile` and `eformer export`. */
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
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read Hugging Face config '${path}': ${(err as NodeJS.ErrnoException).code ?? 'not valid JSON'}`);
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
  return entry({ name, family, config, labels: labelsOf(raw.id2label) });
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
export { efficientMod, efficientModConfig, type EfficientModConfig } from './efficientmod/index.js';
