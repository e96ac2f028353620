/**
 * The README's library examples, run as written against the public face (src/index.ts): every name
 * they import exists, every value they show in a comment is what the call returns, and nothing they
 * use as a plain value is a Promise the example does not await.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as lib from '../src/index.js';
import { root, tempDir } from './helpers.js';

const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** The code block that follows `lead` in the README. */
function blockAfter(lead: string): string {
  const at = readme.indexOf(lead);
  expect(at, `README has "${lead}"`).toBeGreaterThan(-1);
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  expect(block, `a ts block after "${lead}"`).not.toBeNull();
  return block![1];
}

describe("the README's library examples run as written", () => {
  it('the thin-shell example: its imports exist, its comments are the values, nothing is an unawaited Promise', async () => {
    const code = blockAfter('The CLI is a thin shell over the library:');
    const imports = /^import \{([^}]*)\} from 'eformer';$/m.exec(code);
    expect(imports).not.toBeNull();
    const names = imports![1].split(',').map((n) => n.trim()).filter(Boolean);
    for (const name of names) expect(lib, `src/index.ts exports ${name}`).toHaveProperty(name);
    const out = tempDir();
    const statements = code.split('\n').filter((line) => line.trim() && !line.startsWith('import '));
    expect(statements.length).toBeGreaterThan(0);
    for (const line of statements) {
      const [, expression, shown] = /^(.*?);\s*\/\/\s*(.*)$/.exec(line) ?? [];
      expect(expression, `"${line}" is a statement with its value in a comment`).toBeDefined();
      // The example writes under ./out; here under a scratch folder.
      const run = new Function(...names, `return (${expression.replace(/'out'/g, JSON.stringify(out))});`);
      const value = run(...names.map((n) => (lib as Record<string, unknown>)[n]));
      expect(typeof (value as { then?: unknown } | undefined)?.then, `${expression} returns a Promise, which the README does not await`).not.toBe('function');
      if (/^\d+$/.test(shown)) expect(value).toBe(Number(shown));
      else expect(existsSync(join(out, shown.replace(/^out\//, ''))), `${expression} wrote ${shown}`).toBe(true);
    }
  });

  it('the custom variant: a V2 config built at 256', () => {
    const sentence = /A custom variant is a config: `([^`]*)`/.exec(readme);
    expect(sentence).not.toBeNull();
    const s0 = lib.findModel('efficientformerv2_s0').config as lib.EfficientFormerV2Config;
    const { widths, depths, vitNum, expansionRatios } = s0;
    const build = new Function('efficientFormerV2', 'efficientFormerV2Config', 'widths', 'depths', 'vitNum', 'expansionRatios', `return ${sentence![1]};`);
    const graph = build(lib.efficientFormerV2, lib.efficientFormerV2Config, widths, depths, vitNum, expansionRatios);
    expect(graph.inputs[0].shape).toEqual([1, 3, 256, 256]);
  });
});
