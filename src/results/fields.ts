/**
 * Field rules for the files eformer reads back (results, latency tables, search results): each
 * file kind declares every field a renderer, the gate or a predictor reads, and a value that
 * breaks its rule is refused with one line naming the field, what it holds and what was expected
 * (`results[0].device is "phone", expected an object`). Fields no reader uses may be anything, so
 * newer files still read.
 */
import { UsageError } from '../core/errors.js';
import { readInputText } from '../core/fs.js';

/** Thrown by a rule; `checkFields` turns it into the file's one-line usage error. */
class FieldProblem extends Error {
  constructor(
    readonly at: string,
    readonly value: unknown,
    readonly expected: string,
  ) {
    super(`${at}: expected ${expected}`);
  }
}

/** A JSON file's content; what cannot be read or parsed is one line naming `what` the file should be. */
export function readJsonFile(path: string, what: string): unknown {
  const text = readInputText(path, what);
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`cannot read ${what} '${path}': not valid JSON`);
  }
}

export type Rule = (value: unknown, at: string) => void;

function fail(at: string, value: unknown, expected: string): never {
  throw new FieldProblem(at, value, expected);
}

/** A value as the error line shows it: JSON, cut short. */
function shown(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  return json.length > 40 ? `${json.slice(0, 37)}...` : json;
}

/** Check `value` against `rule`; a broken rule is a UsageError naming `file` and the field. */
export function checkFields(value: unknown, rule: Rule, file: string): void {
  try {
    rule(value, '');
  } catch (err) {
    if (!(err instanceof FieldProblem)) throw err;
    const at = err.at.replace(/^\./, '') || 'the file';
    throw new UsageError(`'${file}': ${at} ${err.value === undefined ? 'is missing' : `is ${shown(err.value)}`}, expected ${err.expected}`);
  }
}

export const text: Rule = (v, at) => {
  if (typeof v !== 'string') fail(at, v, 'a string');
};

export const name: Rule = (v, at) => {
  if (typeof v !== 'string' || v.length === 0) fail(at, v, 'a non-empty string');
};

export const flag: Rule = (v, at) => {
  if (typeof v !== 'boolean') fail(at, v, 'true or false');
};

/** A finite number that `ok` accepts, described as `expected`. */
export function number(expected: string, ok: (n: number) => boolean = () => true): Rule {
  return (v, at) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) fail(at, v, expected);
  };
}

/** A whole number from `min` to `max`. */
export function integer(min = 0, max = Number.MAX_SAFE_INTEGER): Rule {
  const expected = max === Number.MAX_SAFE_INTEGER ? `a whole number of at least ${min}` : `a whole number from ${min} to ${max}`;
  return number(expected, (n) => Number.isSafeInteger(n) && n >= min && n <= max);
}

export const count = integer(0);

/**
 * Milliseconds as a measurement can give them: from a nanosecond to a day. Beyond those a chart's
 * axis or a ratio of two of them stops being a number.
 */
export const MIN_MS = 1e-6;
export const MAX_MS = 86_400_000;
export const milliseconds = number('a positive number of milliseconds (1 ns to a day)', (n) => n >= MIN_MS && n <= MAX_MS);
export const nonNegativeMs = number('a number of milliseconds from 0 to a day', (n) => n >= 0 && n <= MAX_MS);

/** A ratio of two latencies (x ref, a speed-up): positive, within a factor of a million. */
export const ratio = number('a positive ratio (1e-6 to 1e6)', (n) => n >= 1e-6 && n <= 1e6);

export const nonNegative = number('a number of at least 0', (n) => n >= 0);

/** `undefined` passes; anything else must pass `rule`. */
export function optional(rule: Rule): Rule {
  return (v, at) => {
    if (v !== undefined) rule(v, at);
  };
}

/** `null` passes; anything else must pass `rule`. */
export function nullable(rule: Rule): Rule {
  return (v, at) => {
    if (v !== null) rule(v, at);
  };
}

export function oneOf(...values: readonly (string | number)[]): Rule {
  return (v, at) => {
    if (!values.includes(v as string | number)) fail(at, v, values.map((x) => JSON.stringify(x)).join(' or '));
  };
}

/** A list whose every item passes `item`, with at least `min` items. */
export function list(item: Rule, min = 0): Rule {
  return (v, at) => {
    if (!Array.isArray(v)) fail(at, v, 'a list');
    if (v.length < min) fail(at, v, `a list of at least ${min}`);
    v.forEach((x, i) => item(x, `${at}[${i}]`));
  };
}

/** `[low, high]`, both passing `item`, low <= high. */
export function interval(item: Rule): Rule {
  return (v, at) => {
    if (!Array.isArray(v) || v.length !== 2) fail(at, v, 'a [low, high] pair');
    v.forEach((x, i) => item(x, `${at}[${i}]`));
    if (v[0] > v[1]) fail(at, v, 'low <= high');
  };
}

/**
 * An object whose listed fields pass their rules (wrap a field in `optional` when it may be
 * absent); other fields pass `rest` when given, else anything.
 */
export function record(fields: Record<string, Rule>, rest?: Rule): Rule {
  return (v, at) => {
    if (!v || typeof v !== 'object' || Array.isArray(v)) fail(at, v, 'an object');
    const o = v as Record<string, unknown>;
    for (const [key, rule] of Object.entries(fields)) rule(o[key], `${at}.${key}`);
    if (rest) for (const key of Object.keys(o)) if (!(key in fields)) rest(o[key], `${at}.${key}`);
  };
}

/** A plain value (a setting): a string, a finite number or a boolean. */
export const scalar: Rule = (v, at) => {
  if (typeof v !== 'string' && typeof v !== 'boolean' && !(typeof v === 'number' && Number.isFinite(v))) fail(at, v, 'a string, number or boolean');
};

/** A fixed-length list whose items pass their rules in order. */
export function tuple(...items: Rule[]): Rule {
  return (v, at) => {
    if (!Array.isArray(v) || v.length !== items.length) fail(at, v, `a list of ${items.length}`);
    items.forEach((item, i) => item(v[i], `${at}[${i}]`));
  };
}
