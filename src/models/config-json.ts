/**
 * A family config written as JSON (a `--config` file, a test fixture's `config`): every field
 * checked against the family's own config before anything is built, so a typo or a wrong type
 * is one clear line naming the field rather than a NaN deep inside a graph.
 */
import { UsageError } from '../core/errors.js';

type Kind = 'number' | 'boolean' | 'string' | 'number[]' | 'number[][]' | 'other';

function kindOf(v: unknown): Kind {
  if (typeof v === 'number') return 'number';
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'string') return 'string';
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return 'number[]';
  if (Array.isArray(v) && v.every((x) => Array.isArray(x) && x.every((y) => typeof y === 'number'))) return 'number[][]';
  return 'other';
}

/**
 * `raw`'s fields, each of the kind the same field has in `example` (a complete config of the
 * family); `required` must be present. Numbers must be finite. Returns the fields as a partial
 * config for the family's own defaults to complete.
 */
export function checkConfigFields<Config extends object>(raw: Record<string, unknown>, example: Config, required: readonly (keyof Config & string)[], where: string): Partial<Config> {
  const known = Object.keys(example);
  for (const [key, value] of Object.entries(raw)) {
    if (!known.includes(key)) throw new UsageError(`${where}: unknown field '${key}' (fields: ${known.join(', ')})`);
    const want = kindOf((example as Record<string, unknown>)[key]);
    const got = kindOf(value);
    // An empty list fits either list kind.
    const emptyList = Array.isArray(value) && value.length === 0 && want.endsWith('[]');
    if (got !== want && !(emptyList || (want === 'number[][]' && got === 'number[]' && (value as unknown[]).length === 0))) {
      throw new UsageError(`${where}: field '${key}' must be ${want === 'number[]' ? 'a list of numbers' : want === 'number[][]' ? 'a list of lists of numbers' : `a ${want}`}, got ${JSON.stringify(value)}`);
    }
    const numbers = [value].flat(2).filter((x) => typeof x === 'number') as number[];
    if (numbers.some((n) => !Number.isFinite(n))) throw new UsageError(`${where}: field '${key}' has a number that is not finite`);
  }
  const missing = required.filter((k) => raw[k] === undefined);
  if (missing.length) throw new UsageError(`${where}: missing field${missing.length > 1 ? 's' : ''} ${missing.map((k) => `'${k}'`).join(', ')}`);
  return raw as Partial<Config>;
}
