/** Option parsers that turn bad values into usage errors (exit 2) with one clear line. */
import { InvalidArgumentError } from 'commander';
import { modelNames } from '../models/index.js';

export function integer(what: string, min = 1) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`${what} must be an integer of at least ${min}, got '${value}'`);
    }
    return n;
  };
}

/** `--model a,b` or repeated `--model`; `all` (or nothing) means the whole zoo. */
export function modelList(value: string, previous: string[] = []): string[] {
  const names = value.split(',').map((s) => s.trim()).filter(Boolean);
  return [...previous, ...names.flatMap((n) => (n === 'all' ? modelNames() : [n]))];
}
