/**
 * Plain text tables for the terminal and logs: no colours, no boxes, two spaces between columns
 * and a rule under the head, so that default views fit 100 columns. cli-table3 loads on first use.
 * Every cell and note is passed through terminalSafe: what a file or a tool wrote is shown, never
 * acted on by the terminal.
 */
import { lazyRequire } from './lazy.js';
import { terminalSafe } from './text.js';

type TableConstructor = typeof import('cli-table3');
const cliTable = lazyRequire<TableConstructor>('cli-table3');

export interface TableOptions {
  colAligns?: ('left' | 'right' | 'center')[];
  /** Fixed column widths; cells longer than theirs wrap onto further lines. */
  colWidths?: (number | null)[];
  /**
   * Columns whose text may wrap onto further lines (free text: notes, descriptions, paths) when
   * the table would otherwise be wider than TERMINAL_WIDTH; the widest of them narrows first.
   */
  wrap?: number[];
  /** The width to fit (TERMINAL_WIDTH; less for a table printed indented). */
  width?: number;
}

const NONE = { top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '' };

/** The width every default view keeps to. */
export const TERMINAL_WIDTH = 100;

/** Between columns. */
const GAP = 2;

/** A wrapping column is not made narrower than this. */
const MIN_WRAP_WIDTH = 12;

/** A number as tables print it (1,234.5 or ±1.2% or 3.4x), or a placeholder: such columns align right. */
const NUMERIC = /^(?:[-+±]?[\d,]+(?:\.\d+)?(?:e[-+]?\d+)?[%x]?|-|)$/;

/** Render `rows` under `head`; columns of numbers align right. */
export function renderTable(head: string[], rows: (string | number)[][], options: TableOptions = {}): string {
  const Table = cliTable();
  const titles = head.map((h) => terminalSafe(h));
  const cells = rows.map((r) => head.map((_, i) => terminalSafe(String(r[i] ?? ''))));
  const natural = titles.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const widths = natural.map((w, i) => options.colWidths?.[i] ?? w);
  narrowToFit(widths, options.wrap ?? [], options.width ?? TERMINAL_WIDTH);
  const aligns = options.colAligns ?? head.map((_, i) => (cells.length && cells.every((r) => NUMERIC.test(r[i])) ? 'right' : 'left'));
  const table = new Table({
    chars: { ...NONE, middle: ' '.repeat(GAP) },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
    colAligns: aligns,
  });
  const wrapped = (row: string[]) => row.map((cell, i) => wrapLines(cell, widths[i]).join('\n'));
  table.push(wrapped(titles), widths.map((w) => '─'.repeat(w)), ...cells.map(wrapped));
  return table
    .toString()
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n');
}

/** Narrow the wrapping columns, widest first, until the table fits the terminal (or they cannot narrow further). */
function narrowToFit(widths: number[], wrap: number[], width: number): void {
  const total = () => widths.reduce((a, b) => a + b, 0) + GAP * (widths.length - 1);
  while (total() > width) {
    const candidates = wrap.filter((i) => widths[i] > MIN_WRAP_WIDTH);
    if (!candidates.length) return;
    const widest = candidates.reduce((a, b) => (widths[b] > widths[a] ? b : a));
    widths[widest] -= 1;
  }
}

/** Where a word longer than a line breaks: after the last `.`, `/`, `_` or `-` that fits, else at the width. */
function breakAt(word: string, width: number): number {
  const last = Math.max(...['.', '/', '_', '-'].map((c) => word.lastIndexOf(c, width - 1)));
  return last > 0 ? last + 1 : width;
}

/** `text` broken at spaces into lines of at most `width` characters; a longer word (a path) is split. */
function wrapLines(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (let word of text.split(' ')) {
    while (word.length > width) {
      if (line) lines.push(line);
      const at = breakAt(word, width);
      lines.push(word.slice(0, at));
      word = word.slice(at);
      line = '';
    }
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line || lines.length === 0) lines.push(line);
  return lines;
}

/** The widest line of printed text, in characters: what must stay within TERMINAL_WIDTH. */
export function widthOf(text: string): number {
  return Math.max(0, ...text.split('\n').map((l) => [...l].length));
}

/** Notes under a table, wrapped at word boundaries to the terminal width; an indented note stays indented. */
export function wrapText(text: string, width = TERMINAL_WIDTH): string {
  const indent = /^ */.exec(text)![0];
  return wrapLines(terminalSafe(text.slice(indent.length)), width - indent.length)
    .map((line) => `${indent}${line}`)
    .join('\n');
}
