/** Small text helpers shared by error messages and report formats. */

/** The first line of an error's message (runtimes put detail on later lines). */
export function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0];
}

/** The last non-empty line of a tool's output: usually what went wrong. */
export function lastLine(text: string): string {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).at(-1) ?? '';
}

/** Escape text for HTML and XML content and attribute values alike. */
export function escapeMarkup(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** What XML 1.0 cannot hold even as a character reference: C0 controls but tab and line breaks, U+FFFE/FFFF and lone surrogates. */
const NOT_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/**
 * Escape text for XML (a JUnit report): as escapeMarkup, and a character XML cannot hold shown as
 * an escape (`\x01`), since one such character makes the whole file unreadable to a CI's parser.
 */
export function escapeXml(s: string): string {
  return escapeMarkup(s.replace(NOT_XML, shownAsEscape));
}

/**
 * What a terminal would act on instead of showing: C0 and C1 controls (ESC starts ANSI and OSC
 * sequences; a lone C1 CSI does too in some terminals), DEL, the line and paragraph separators
 * and the bidirectional overrides that reorder what is shown.
 */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text from a file or a tool made safe to print: every control character shown as an escape
 * (`\x1b`, `\u202e`) instead of reaching the terminal. A line break is kept only where the text
 * may span lines (a stack trace); in a table cell or a one-line message it is shown as `\x0a`.
 */
export function terminalSafe(text: string, keepLineBreaks = false): string {
  return text.replace(CONTROLS, (c) => (keepLineBreaks && c === '\n' ? c : shownAsEscape(c)));
}

/** A character written as the escape a programmer would type for it: `\x1b`, `\u202e`. */
function shownAsEscape(c: string): string {
  const code = c.codePointAt(0)!;
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`;
}

/**
 * Text from a file made inert in Markdown (a report, a CI step summary), as a table cell or inside
 * a line: one line (controls shown as escapes), `|` and the characters that start emphasis, code
 * and links backslash-escaped, `&`, `<` and `>` as entities (no raw HTML, no `<!--` hiding the
 * rest). Text that starts a line (`atLineStart`) also has a leading block marker (`## `, `- `,
 * `1. `, a line of `=` or `-`) escaped, so that it starts no heading or list.
 */
export function markdownText(text: string, atLineStart = false): string {
  const inline = terminalSafe(text)
    .replace(/[\\`*[\]|~]/g, (c) => `\\${c}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
  if (!atLineStart) return inline;
  return inline
    .replace(/^(\s*)(#{1,6}|[-+]|\d{1,9}[.)])(?=\s|$)/, (_, space: string, marker: string) => `${space}${marker.slice(0, -1)}\\${marker.slice(-1)}`)
    .replace(/^(\s*)([=-])(?=\2*\s*$)/, (_, space: string, c: string) => `${space}\\${c}`);
}
