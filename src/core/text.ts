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
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
