/**
 * HTML built so that escaping cannot be forgotten: the `html` tag escapes every string it
 * interpolates (control characters shown as `\x1b`), writes numbers only when they are finite numbers (a string where a file should
 * have held a number is escaped text, never markup or an attribute's end), and inserts raw
 * only what is already `Html`, i.e. made by this tag. Every HTML view eformer writes (the
 * results report, the latency-table and search pages) is built with it.
 */
import { escapeMarkup, terminalSafe } from './text.js';

/** Markup made by `html` (or a constant declared `trustedHtml`): safe to insert as it is. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export type HtmlValue = Html | string | number | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value instanceof Html) return value.text;
  // Control characters have no place in HTML, and a page printed to a terminal must not command it.
  if (typeof value === 'string') return escapeMarkup(terminalSafe(value));
  if (typeof value === 'number') {
    // NaN or Infinity in a chart coordinate means a file slipped past its validator: a bug, said loudly.
    if (!Number.isFinite(value)) throw new Error(`HTML view: ${value} where a finite number belongs`);
    return String(value);
  }
  if (Array.isArray(value)) return value.map(render).join('');
  // undefined, null, objects and booleans are never meant to be shown as they are.
  throw new Error(`HTML view: cannot show a ${value === null ? 'null' : typeof value} value`);
}

/** A tagged template: `html\`<td>${name}</td>\`` escapes `name`. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0];
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1];
  });
  return new Html(out);
}

/** A constant of eformer's own (a style sheet) taken as markup. Never for text from a file. */
export function trustedHtml(constant: string): Html {
  return new Html(constant);
}

/** Join markup fragments with a separator. */
export function joinHtml(parts: readonly Html[], separator = ''): Html {
  return new Html(parts.map((p) => p.text).join(separator));
}
