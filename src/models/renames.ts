/** Rule tables for renaming checkpoint keys: what each family's namings are written in. */

/** A pattern and its replacement (a `$1` string, or a function of the captured groups). */
export type Rule = [RegExp, string | ((...groups: string[]) => string)];

/** The first rule that matches renames the key; a key no rule matches stays as it is. */
export function applyRules(key: string, rules: readonly Rule[]): string {
  for (const [pattern, to] of rules) {
    const m = pattern.exec(key);
    if (m) return typeof to === 'string' ? key.replace(pattern, to) : to(...m.slice(1));
  }
  return key;
}

/** Whether any key starts with one of the prefixes: how a naming is told from the keys. */
export function anyKeyStartsWith(keys: readonly string[], ...prefixes: string[]): boolean {
  return keys.some((k) => prefixes.some((p) => k.startsWith(p)));
}
